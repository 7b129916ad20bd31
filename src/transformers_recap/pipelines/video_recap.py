# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""`pipeline("video-recap")`: a video file (or decoded frames) to clip captions, segment descriptions and a summary."""

import os
from typing import Any

import torch
from transformers import Pipeline
from transformers.utils import logging

from ..engine.captioner import HierarchicalCaptioner
from ..engine.dtype import resolve_dtype
from ..engine.outputs import HierarchicalCaptions
from ..engine.streaming import CaptionStream
from ..engine.video_io import DEFAULT_SHORT_SIDE, VideoDecodingError, open_video
from ..models.video_recap.configuration_video_recap import LEVELS


logger = logging.get_logger(__name__)

_STREAM_OPTIONS = ("stream", "follow", "idle_seconds", "max_latency", "summary_every")
ERROR_MODES = ("raise", "return")
"""The values of the `errors` option: raise a video's [`VideoDecodingError`], or return it as that video's result."""


class VideoReCapPipeline(Pipeline):
    r"""
    Recursive captioning of a whole video with a Video ReCap or Video ReCap-U model: a caption every 4 s, a
    description of every 3-minute segment and a summary of the video, returned as a [`HierarchicalCaptions`].

    Example:

    ```python
    >>> import transformers_recap  # registers the task
    >>> from transformers import pipeline

    >>> recap = pipeline("video-recap", model="path/to/video-recap")
    >>> captions = recap("kitchen.mp4")
    >>> print(captions.summary)
    >>> open("kitchen.srt", "w").write(captions.to_srt())
    ```

    dtype: `pipeline("video-recap", ..., dtype="auto")`, transformers' default, loads the checkpoint's dtype; a float32
    model is then cast to bfloat16 where the device runs bfloat16 fast (CUDA, CPUs with AMX or AVX512-BF16; see
    [`auto_dtype`]). Pass `dtype=torch.float32` to keep float32 (the dtype whose greedy captions equal the original
    code's), or any other dtype to load in it.

    Inputs (one, or a list for several videos): a video file path, a dict `{"frames": array, "fps": float}` of decoded
    RGB frames `(num_frames, height, width, 3)`, or such an array with the `fps` call option.

    Clips are cut every `clip_seconds` where the video shows frames: windows without a frame (gaps in the recording)
    are not captioned (a warning names them), and a final window shorter than a quarter of a clip (1 s of a 4-s clip)
    is merged into the clip before it.

    Streaming: with `stream=True` the call takes one video and returns a [`CaptionStream`] of [`CaptionEvent`]s, each
    caption as soon as it is ready (see [`HierarchicalCaptioner.stream`]); the input may also be a file still being
    recorded (`follow=True`) or an iterable of `(timestamp_seconds, frame)` pairs at the nominal rate `fps`:

    ```python
    >>> for event in recap("recording.ts", stream=True, follow=True):
    ...     print(event.level, event.start, event.end, event.text)
    ```

    Call options (also accepted when building the pipeline):
        levels (`Sequence[str]`, *optional*): levels to produce (default all); lower levels a level reads are
            computed too.
        clip_seconds (`float`, *optional*), segment_seconds (`float`, *optional*): window lengths (defaults: the
            model's, 4 s and 180 s).
        batch_size (`int`, *optional*, defaults to 32): clips (and segment windows) per model call. Videos are always
            processed one at a time.
        fps (`float`, *optional*): frame rate of decoded-frame inputs.
        level_generate_kwargs (`dict[str, dict]`, *optional*): generation options for one level only, e.g.
            `{"clip": {"max_new_tokens": 20}}`.
        use_onednn (`bool`, *optional*), compile_encoder (`bool`, *optional*, defaults to `False`), progress (`bool`, *optional*, defaults to `True`),
        short_side (`int`, *optional*, defaults to 288), decode_threads (`int`, *optional*, defaults to 0): see
            [`HierarchicalCaptioner`].
        errors (`str`, *optional*, defaults to `"raise"`): what a video that cannot be read does: `"raise"` its
            [`VideoDecodingError`], or `"return"` it in place of that video's result (a list of videos then returns
            the results of all the others, each bad one as its error).
        generation options (`max_new_tokens`, `num_beams`, ..., or `generate_kwargs`): passed to `generate` at every
            level.
        stream (`bool`, *optional*, defaults to `False`), follow (`bool`, *optional*), idle_seconds (`float`,
        *optional*), max_latency (`float`, *optional*), summary_every (`int`, *optional*): streaming, see above and
            [`HierarchicalCaptioner.stream`].
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _pipeline_calls_generate = True

    def __init__(self, *args, **kwargs):
        # `batch_size` means clips per model call here; the base class would batch whole inputs with it instead.
        if "batch_size" in kwargs:
            kwargs["model_batch_size"] = kwargs.pop("batch_size")
        self._stream_options = {name: kwargs.pop(name) for name in _STREAM_OPTIONS if name in kwargs}
        dtype = kwargs.get("dtype")
        super().__init__(*args, **kwargs)
        if self.processor is None:
            raise ValueError("The video-recap pipeline needs a VideoReCapProcessor (saved next to the model).")
        if dtype == "auto" and self.model.dtype == torch.float32:
            chosen = resolve_dtype("auto", self.device)
            if chosen != torch.float32:
                self.model.to(chosen)

    def __call__(
        self, inputs, **kwargs
    ) -> HierarchicalCaptions | VideoDecodingError | list[HierarchicalCaptions | VideoDecodingError] | CaptionStream:
        """
        Captions one video (returns a [`HierarchicalCaptions`]) or a list of videos (returns a list), or with
        `stream=True` streams the captions of one video (returns a [`CaptionStream`]); see the class docstring for
        inputs and options. Raises [`VideoDecodingError`] for a video that cannot be read (while iterating, when
        streaming), or returns it in that video's place with `errors="return"`.
        """
        if "batch_size" in kwargs:
            kwargs["model_batch_size"] = kwargs.pop("batch_size")
        stream_options = {
            **self._stream_options,
            **{name: kwargs.pop(name) for name in _STREAM_OPTIONS if name in kwargs},
        }
        if stream_options.pop("stream", False):
            return self._stream(inputs, stream_options, kwargs)
        if stream_options:
            raise TypeError(f"The options {sorted(stream_options)} need stream=True.")
        return super().__call__(inputs, **kwargs)

    def _stream(self, video, stream_options: dict[str, Any], kwargs: dict[str, Any]) -> CaptionStream:
        if isinstance(video, (list, tuple)):
            raise TypeError("stream=True takes one video (a path, decoded frames or an iterable of timed frames).")
        if isinstance(video, os.PathLike):
            video = os.fspath(video)
        preprocess_params, forward_params, _ = self._sanitize_parameters(**kwargs)
        preprocess_params = {**self._preprocess_params, **preprocess_params}
        forward_params = {**self._forward_params, **forward_params}
        forward_params.pop("errors", None)  # a stream raises a bad video's error while it is iterated
        captioner = self._captioner(
            **forward_params,
            short_side=preprocess_params.get("short_side", DEFAULT_SHORT_SIDE),
            decode_threads=preprocess_params.get("decode_threads", 0),
        )
        return captioner.stream(video, fps=preprocess_params.get("fps"), **stream_options)

    def _sanitize_parameters(
        self,
        levels=None,
        clip_seconds=None,
        segment_seconds=None,
        model_batch_size=None,
        fps=None,
        level_generate_kwargs=None,
        use_onednn=None,
        compile_encoder=None,
        progress=None,
        short_side=None,
        decode_threads=None,
        errors=None,
        generate_kwargs=None,
        **generation_parameters,
    ):
        unknown = set(generation_parameters) - set(self.model.generation_config.to_dict()) - {"generation_config"}
        if unknown:
            raise TypeError(f"VideoReCapPipeline got unexpected options {sorted(unknown)}.")
        preprocess_params, forward_params = {}, {}
        if errors is not None:
            if errors not in ERROR_MODES:
                raise ValueError(f"errors must be one of {ERROR_MODES}, got {errors!r}.")
            preprocess_params["errors"] = forward_params["errors"] = errors
        for name, value in (("fps", fps), ("short_side", short_side), ("decode_threads", decode_threads)):
            if value is not None:
                preprocess_params[name] = value
        if clip_seconds is not None:
            preprocess_params["clip_seconds"] = clip_seconds
            forward_params["clip_seconds"] = clip_seconds
        for name, value in (
            ("levels", levels),
            ("segment_seconds", segment_seconds),
            ("batch_size", model_batch_size),
            ("level_generate_kwargs", level_generate_kwargs),
            ("use_onednn", use_onednn),
            ("compile_encoder", compile_encoder),
            ("progress", progress),
        ):
            if value is not None:
                forward_params[name] = value
        if generate_kwargs is not None or generation_parameters:
            forward_params["generate_kwargs"] = {**(generate_kwargs or {}), **generation_parameters}
        return preprocess_params, forward_params, {}

    def preprocess(
        self,
        video,
        fps: float | None = None,
        clip_seconds: float | None = None,
        short_side: int | None = DEFAULT_SHORT_SIDE,
        decode_threads: int = 0,
        errors: str = "raise",
    ) -> dict[str, Any]:
        if isinstance(video, os.PathLike):
            video = os.fspath(video)
        clip_seconds = clip_seconds or self.processor.clip_seconds
        num_frames = self.model.config.vision_config.num_frames
        try:
            return {"reader": open_video(video, clip_seconds, num_frames, fps, short_side, decode_threads)}
        except VideoDecodingError as error:
            if errors == "raise":
                raise
            return {"error": error}

    def _forward(
        self,
        model_inputs: dict[str, Any],
        levels=LEVELS,
        clip_seconds: float | None = None,
        segment_seconds: float | None = None,
        batch_size: int = 32,
        generate_kwargs: dict | None = None,
        level_generate_kwargs: dict | None = None,
        use_onednn: bool | None = None,
        compile_encoder: bool = False,
        progress: bool = True,
        errors: str = "raise",
    ) -> dict[str, HierarchicalCaptions | VideoDecodingError]:
        if "error" in model_inputs:
            return {"captions": model_inputs["error"]}
        captioner = self._captioner(
            levels=levels,
            clip_seconds=clip_seconds,
            segment_seconds=segment_seconds,
            batch_size=batch_size,
            generate_kwargs=generate_kwargs,
            level_generate_kwargs=level_generate_kwargs,
            use_onednn=use_onednn,
            compile_encoder=compile_encoder,
            progress=progress,
        )
        try:
            with model_inputs["reader"] as reader:
                return {"captions": captioner.caption_video(reader)}
        except VideoDecodingError as error:
            if errors == "raise":
                raise
            return {"captions": error}

    def _captioner(self, generate_kwargs: dict | None = None, **options) -> HierarchicalCaptioner:
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs or {})
        return HierarchicalCaptioner(self.model, self.processor, generate_kwargs=generate_kwargs, **options)

    def postprocess(
        self, model_outputs: dict[str, HierarchicalCaptions | VideoDecodingError]
    ) -> HierarchicalCaptions | VideoDecodingError:
        return model_outputs["captions"]

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any):
        """
        Saves the model (with the copies of its code that remote-code loading needs) and the processor, which the base
        class leaves out. The pipeline's own code is not copied: it runs this package's engine (decoding, the
        recursion), so `pipeline("video-recap", model=save_directory)` reloads it where the package is imported.
        """
        self.model.save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory)


__all__ = ["VideoReCapPipeline"]
