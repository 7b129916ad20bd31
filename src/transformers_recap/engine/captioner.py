# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Recursive captioning of a whole video: clip captions, segment descriptions and a video summary in one call.

This replaces the original's chain of scripts (`extract_captions.py`, `extract_features_videos.py`,
`extract_segment_descriptions.py`, `infer.py`) with one pass that:

1. decodes each 4-s clip once (in a background thread) and encodes it once, in batches: the dense tokens feed the clip
   captions and are then dropped, the CLS feature of each clip is kept (`(num_clips, hidden_size)`, 3 KB per clip);
2. cuts the video into segment windows `[s, min(s + 180, T)]` and gives each the CLS rows `int(s / 4)` ..
   `int(e // 4)` (inclusive, as the original slices its feature file) and the clip captions with `start >= s` and
   `end <= e`, sampled and packed by [`VideoReCapProcessor`] exactly as the level was trained;
3. gives the video level all CLS rows and the segment descriptions.

[`HierarchicalCaptioner`] also runs the higher levels on precomputed CLS features and captions
([`HierarchicalCaptioner.caption_features`], [`HierarchicalCaptioner.describe_windows`]), e.g. to extract predicted
captions for training, and streams the same captions while a video plays or is recorded
([`HierarchicalCaptioner.stream`], see [`transformers_recap.engine.streaming`]).
"""

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers.generation.utils import GenerateOutput
from transformers.utils import logging

from ..models.video_recap.configuration_video_recap import LEVELS, validate_level
from ..models.video_recap.processing_video_recap import check_window_lengths, clip_windows
from .cpu_matmul import onednn_linear_layers, onednn_routing_helps
from .outputs import HierarchicalCaptions, TimedCaption
from .streaming import (
    DEFAULT_IDLE_SECONDS,
    CaptionEvent,
    CaptionStream,
    closable_windows,
    micro_batches,
    open_stream_source,
)
from .video_io import (
    DEFAULT_SHORT_SIDE,
    MIN_FINAL_CLIP_FRACTION,
    BackgroundIterator,
    VideoClip,
    VideoDecodingError,
    open_video,
    plan_windows,
)


logger = logging.get_logger(__name__)

_TIME_EPSILON = 1e-6
# The decoding thread yields the CPU to the model's threads and decodes in the time they leave idle.
_DECODING_NICENESS = 10
DECODING_STEP_MIN_ROWS = 32
"""
Rows a decoding step costs at least, in the progress bar's estimate: a step reads all decoder weights whatever its
batch, so on the CPU a step of one row (a video summary) takes about as long as a step of a few tens of rows.
"""
_PROGRESS_FORMAT = "{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"


def _chunks(items: Sequence[Any] | Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _report_gaps(path: str, gaps: Sequence[tuple[float, float]]) -> None:
    spans = ", ".join(f"{start:.2f}-{end:.2f} s" for start, end in gaps[:3]) + (", ..." if len(gaps) > 3 else "")
    seconds = sum(end - start for start, end in gaps)
    logger.warning(
        f"{path}: no frames in {spans} ({len(gaps)} gap(s), {seconds:.1f} s in all); their clip windows are not "
        "captioned and no segment is described from them alone."
    )


class HierarchicalCaptioner:
    r"""
    Captions a video at every level with one Video ReCap (or Video ReCap-U) model.

    Args:
        model ([`VideoReCapForConditionalGeneration`]): on any device, in float32, bfloat16 or float16.
        processor ([`VideoReCapProcessor`]): its level settings must be the model's.
        levels (`Sequence[str]`, *optional*, defaults to all): levels to produce. A level that reads the captions of
            the level below also gets that level computed (and returned).
        clip_seconds (`float`, *optional*): clip window; defaults to the processor's [`VideoReCapProcessor.clip_seconds`]
            (4 s).
        segment_seconds (`float`, *optional*): segment window; defaults to the processor's
            [`VideoReCapProcessor.segment_seconds`] (180 s). Must be a whole multiple of `clip_seconds`, so that each
            clip caption lies inside exactly one segment.
        batch_size (`int`, *optional*, defaults to 32): clips encoded and captioned together (also the batch of
            segment windows). On the CPU, decoding steps read all decoder weights whatever the batch, so larger
            batches caption faster (about 35% less time per clip caption at 32 than at 8).
        encoder_batch_size (`int`, *optional*): clips per video-encoder call within a batch. Defaults to 1 on the
            CPU, where one clip's activations stay under glibc's 32-MB `mmap` threshold and are reused instead of
            page-faulting fresh memory in every layer (0.51 s instead of 0.80 s per clip at 16 in float32), and to
            `batch_size` elsewhere.
        generate_kwargs (`dict`, *optional*): passed to `generate` at every level (`max_new_tokens`, `num_beams`, ...;
            each level's `max_new_tokens` defaults to its setting).
        level_generate_kwargs (`dict[str, dict]`, *optional*): per-level additions to `generate_kwargs`, e.g.
            `{"clip": {"max_new_tokens": 20}}`.
        use_onednn (`bool`, *optional*): on the CPU, compute the float32 linear layers through oneDNN (see
            [`onednn_linear_layers`]: up to 1.6x faster on CPUs where MKL takes a slow path, same greedy captions, no
            extra memory). Defaults to [`onednn_routing_helps`]: on, except on Intel CPUs, where MKL is the faster.
            Ignored on other devices.
        compile_encoder (`bool`, *optional*, defaults to `False`): compile the video encoder
            (`model.model.vision_model`, in place, with `nn.Module.compile`) with inductor, its weights frozen into
            the compiled graph as constants. The first clip then takes the compilation (20-60 s on one CPU thread;
            on the GPU a batch of a new size compiles again), every later clip runs fused kernels: measured on a Xeon
            with AMX, one thread, 1.7x faster per clip in bfloat16 and 1.6x in float32, which pays back after about
            100 clips (7 video-minutes). Compile only a model whose weights no longer change.
        progress (`bool`, *optional*, defaults to `True`): show a tqdm progress bar over clips, segments and summary
            (also silenced by `transformers.utils.logging.disable_progress_bar()`).
        short_side (`int`, *optional*, defaults to 288): short side frames are scaled down to while decoding.
        decode_threads (`int`, *optional*, defaults to 0): decoder threads (0: FFmpeg's choice).
    """

    def __init__(
        self,
        model,
        processor,
        levels: Sequence[str] = LEVELS,
        clip_seconds: float | None = None,
        segment_seconds: float | None = None,
        batch_size: int = 32,
        encoder_batch_size: int | None = None,
        generate_kwargs: Mapping[str, Any] | None = None,
        level_generate_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        use_onednn: bool | None = None,
        compile_encoder: bool = False,
        progress: bool = True,
        short_side: int | None = DEFAULT_SHORT_SIDE,
        decode_threads: int = 0,
    ):
        self.model = model
        self.processor = processor
        self.config = model.config
        if isinstance(levels, str):
            levels = (levels,)
        if not levels:
            raise ValueError(f"levels must name at least one of {LEVELS}.")
        self.levels = tuple(level for level in LEVELS if level in {validate_level(level) for level in levels})
        self.levels_to_run = self._resolve_dependencies(self.levels)
        processor.check_model_config(self.config)
        self.clip_seconds = float(clip_seconds or processor.clip_seconds)
        self.segment_seconds = float(segment_seconds or processor.segment_seconds)
        check_window_lengths(self.clip_seconds, self.segment_seconds)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.batch_size = batch_size
        if encoder_batch_size is not None and encoder_batch_size < 1:
            raise ValueError(f"encoder_batch_size must be >= 1, got {encoder_batch_size}.")
        self.encoder_batch_size = encoder_batch_size
        self.generate_kwargs = dict(generate_kwargs or {})
        self.level_generate_kwargs = {
            validate_level(level): dict(kw) for level, kw in (level_generate_kwargs or {}).items()
        }
        self.use_onednn = onednn_routing_helps() if use_onednn is None else use_onednn
        self.compile_encoder = compile_encoder
        vision_model = model.model.vision_model
        # Once per model (`nn.Module.compile` keeps its compiled call in `_compiled_call_impl`), so that a pipeline
        # building a captioner per call compiles on the first one only. Shapes are static (one clip per call on the
        # CPU); `freezing` folds the weights into the graph, so inductor prepacks them for its GEMMs once.
        if compile_encoder and getattr(vision_model, "_compiled_call_impl", None) is None:
            vision_model.compile(dynamic=False, options={"freezing": True})
        self.progress = progress
        self.short_side = short_side
        self.decode_threads = decode_threads

    def _resolve_dependencies(self, levels: tuple[str, ...]) -> tuple[str, ...]:
        needed = set(levels)
        for index in range(len(LEVELS) - 1, 0, -1):
            level = LEVELS[index]
            if level in needed and self.config.get_level_settings(level).num_text_queries:
                needed.add(LEVELS[index - 1])
        return tuple(level for level in LEVELS if level in needed)

    # ----------------------------------------------------------------------------------------------------------------
    # Whole videos
    # ----------------------------------------------------------------------------------------------------------------

    def caption_video(self, video, fps: float | None = None) -> HierarchicalCaptions:
        """
        Captions one video.

        Args:
            video: a file path, decoded RGB frames `(num_video_frames, height, width, 3)` with `fps`, a dict
                `{"frames": ..., "fps": ...}`, or an open [`VideoClipReader`] / [`FramesClipReader`].
            fps (`float`, *optional*): frame rate of decoded frames.
        Returns:
            [`HierarchicalCaptions`] with the levels in `self.levels_to_run`. Clip windows in which no frame is shown
            (the reader's `gaps`, logged as a warning) get no caption, and segment windows without a captioned clip no
            description; the summary reads the rest.
        Raises:
            [`VideoDecodingError`]: the video cannot be read.
        """
        owns_reader = not hasattr(video, "windows")
        num_frames = self.config.vision_config.num_frames
        if owns_reader:
            video = open_video(video, self.clip_seconds, num_frames, fps, self.short_side, self.decode_threads)
        elif abs(video.clip_seconds - self.clip_seconds) > _TIME_EPSILON:
            raise ValueError(
                f"The reader cuts {video.clip_seconds}-s clips but the captioner expects {self.clip_seconds}-s clips."
            )
        try:
            duration = video.metadata.duration
            if video.gaps:
                _report_gaps(video.path, video.gaps)
            # The clip windows the CLS rows belong to, and the segment windows holding at least one of them.
            clip_index = np.asarray([round(start / self.clip_seconds) for start, _ in video.windows], dtype=np.int64)
            segments = []
            if "segment" in self.levels_to_run:
                segments = self._segment_windows([start for start, _ in video.windows], duration)
            total = self.estimated_cost(len(video.windows), len(segments))
            with self._progress_bar(total) as bar, self._inference_context():
                bar.set_description("clips")
                cls_features, clips = self.caption_clips(video, progress_bar=bar)
                result = self._higher_levels(cls_features, clips, duration, bar, clip_index, segments)
        finally:
            if owns_reader:
                video.close()
        return result

    def caption_features(
        self,
        cls_features: np.ndarray | torch.Tensor,
        clip_captions: Sequence[TimedCaption] | None,
        duration: float,
        clip_index: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    ) -> HierarchicalCaptions:
        """
        Segment descriptions and summary from precomputed inputs (the levels in `self.levels_to_run` above the clip).

        Args:
            cls_features (`np.ndarray` or `torch.Tensor` of shape `(num_clips, hidden_size)`): one CLS feature per
                `clip_seconds` window from 0 ([`VideoReCapModel.get_video_features`]' `pooler_output`).
            clip_captions (`list[TimedCaption]`, *optional*): the clip captions (needed when a level reads them).
            duration (`float`): video length in seconds.
            clip_index (*optional*, `(num_clips,)`): the grid position of each row's window when rows are missing
                (a video with gaps in its frames); defaults to `0, 1, ..., num_clips - 1`.
        """
        cls_features = torch.as_tensor(cls_features).float().cpu()
        clips = list(clip_captions or [])
        higher = [level for level in self.levels_to_run if level != "clip"]
        if clip_index is None:
            clip_index = np.arange(len(cls_features))
            segments = clip_windows(duration, self.segment_seconds) if "segment" in higher else []
        else:
            clip_index = np.asarray(clip_index, dtype=np.int64)
            if len(clip_index) != len(cls_features):
                raise ValueError(f"clip_index has {len(clip_index)} positions for {len(cls_features)} CLS rows.")
            starts = [int(index) * self.clip_seconds for index in clip_index]
            segments = self._segment_windows(starts, duration) if "segment" in higher else []
        total = self.estimated_cost(0, len(segments))
        with self._progress_bar(total) as bar, self._inference_context():
            return self._higher_levels(cls_features, clips, duration, bar, clip_index, segments)

    def _segment_windows(self, clip_starts: Sequence[float], duration: float) -> list[tuple[float, float]]:
        """The segment windows that hold at least one of the clips starting at `clip_starts`."""
        minimum = self.clip_seconds * MIN_FINAL_CLIP_FRACTION
        return plan_windows(clip_starts, duration, self.segment_seconds, minimum)[0]

    def caption_videos(
        self,
        videos: Iterable[Any],
        fps: float | None = None,
        max_waiting_videos: int | None = None,
        durations: Sequence[float | None] | None = None,
    ) -> Iterator[tuple[int, "HierarchicalCaptions | VideoDecodingError"]]:
        """
        Captions many videos, batching across them: clip batches span video boundaries, and the segment windows and
        summaries of different videos share `generate` calls, so short videos do not leave the model idle. The inputs
        of every window are those of [`caption_video`], so greedy captions equal captioning the videos one at a time.

        Args:
            videos (`Iterable`): video inputs as for [`caption_video`] (file paths, decoded frames with `fps`, dicts).
                Opened and decoded in input order, in a background thread.
            fps (`float`, *optional*): frame rate of decoded frames.
            max_waiting_videos (`int`, *optional*): videos whose clips are captioned may wait for others to fill the
                segment and summary batches; once this many wait (default: `batch_size`), the partial batches run, so
                that finished videos are handed out (and can be written) without waiting for the whole library.
            durations (`Sequence[float | None]`, *optional*): the videos' lengths in seconds as their headers state them
                (e.g. from [`probe_duration`]), so that the progress bar counts the whole library from the start;
                without them it grows as videos are opened.
        Yields:
            `(index, result)` for each video as it is finished: its position in `videos` and its
            [`HierarchicalCaptions`], or the [`VideoDecodingError`] that stopped it (the others go on). Videos come
            out roughly in input order; the order depends on the batching.
        """
        if max_waiting_videos is not None and max_waiting_videos < 1:
            raise ValueError(f"max_waiting_videos must be >= 1, got {max_waiting_videos}.")
        items = BackgroundIterator(
            self._library_items(videos, fps), buffer_size=2 * self.batch_size, niceness=_DECODING_NICENESS
        )
        with self._progress_bar(0.0) as bar, items:
            library = _Library(self, max_waiting_videos or self.batch_size, bar, durations or [])
            for index, item in items:
                if isinstance(item, _OpenedVideo):
                    library.open(index, item)
                elif isinstance(item, VideoClip):
                    library.add_clip(index, item)
                elif isinstance(item, VideoDecodingError):
                    library.fail(index, item)
                else:
                    library.decoded(index)
                yield from library.finished()
            library.flush()
            yield from library.finished()

    def _library_items(self, videos: Iterable[Any], fps: float | None) -> Iterator[tuple[int, Any]]:
        """
        Runs in the decoding thread: `(index, _OpenedVideo)`, then `(index, VideoClip)` per clip and `(index, None)`
        at the end of each video, or `(index, VideoDecodingError)` when it cannot be read.
        """
        num_frames = self.config.vision_config.num_frames
        for index, video in enumerate(videos):
            try:
                reader = open_video(video, self.clip_seconds, num_frames, fps, self.short_side, self.decode_threads)
            except VideoDecodingError as error:
                yield index, error
                continue
            with reader:
                yield index, _OpenedVideo(reader.path, reader.metadata.duration, list(reader.windows), reader.gaps)
                try:
                    for clip in reader:
                        yield index, clip
                except VideoDecodingError as error:
                    yield index, error
                    continue
            yield index, None

    def _higher_levels(
        self,
        cls_features: torch.Tensor,
        clips: list[TimedCaption],
        duration: float,
        bar,
        clip_index: np.ndarray,
        segments: list[tuple[float, float]],
    ) -> HierarchicalCaptions:
        """
        The levels above the clip. `clip_index` (`(num_clips,)`) is the position of each CLS row's window on the
        `clip_seconds` grid; `segments` are the segment windows to describe.
        """
        result = HierarchicalCaptions(clips=clips if "clip" in self.levels_to_run else [], duration=duration)
        if "segment" in self.levels_to_run:
            bar.set_description("segments")
            texts = self._describe("segment", segments, cls_features, clip_index, clips, bar)
            result.segments = [
                TimedCaption(start, end, text) for (start, end), text in zip(segments, texts, strict=True)
            ]
        if "video" in self.levels_to_run:
            bar.set_description("summary")
            result.summary = self._describe(
                "video", [(0.0, duration)], cls_features, clip_index, result.segments, bar
            )[0]
        return result

    # ----------------------------------------------------------------------------------------------------------------
    # Clip level
    # ----------------------------------------------------------------------------------------------------------------

    def caption_clips(
        self,
        clips,
        progress_bar=None,
        dense_features: list[torch.Tensor] | None = None,
        caption: bool | None = None,
    ) -> tuple[torch.Tensor, list[TimedCaption]]:
        """
        Encodes every clip once, in batches, and captions it (when the clip level is run).

        Args:
            clips: an iterable of [`VideoClip`] (e.g. a [`VideoClipReader`]); decoded in a background thread.
            progress_bar (*optional*): a tqdm bar advanced by the estimated cost of each batch (see
                [`estimated_cost`]).
            dense_features (`list`, *optional*): when given, the dense tokens of each batch are appended to it
                (float16, CPU, `(batch_size, 1 + num_frames * num_patches, hidden_size)`), e.g. to store them.
            caption (`bool`, *optional*): whether to caption the clips; defaults to whether the clip level is run.
        Returns:
            The CLS features `(num_clips, hidden_size)` (float32, CPU) and the clip captions (empty when the clips
            are not captioned).
        """
        if caption is None:
            caption = "clip" in self.levels_to_run
        cls_rows, captions = [], []
        # Only decoding runs in the background: it leaves the CPU cores to torch between frames, whereas torch ops on a
        # second thread would start a second OpenMP team and stall both.
        batches = BackgroundIterator(_chunks(clips, self.batch_size), buffer_size=2, niceness=_DECODING_NICENESS)
        with batches, self._inference_context():
            for batch in batches:
                dense, cls, batch_captions = self._caption_batch(batch, caption)
                cls_rows.append(cls)
                captions += batch_captions
                if dense_features is not None:
                    dense_features.append(dense.to(device="cpu", dtype=torch.float16))
                del dense
                if progress_bar is not None:
                    progress_bar.update(self._batch_cost("clip", len(batch), caption))
        return self._stack_rows(cls_rows), captions

    def _caption_batch(
        self, batch: Sequence[VideoClip], caption: bool
    ) -> tuple[torch.Tensor, torch.Tensor, list[TimedCaption]]:
        """
        Dense tokens `(batch_size, 1 + num_frames * num_patches, hidden_size)` (on the model's device), CLS features
        `(batch_size, hidden_size)` (float32, CPU) and, when `caption`, the captions of a batch of clips.
        """
        pixel_values = self.processor(videos=[clip.frames for clip in batch], return_tensors="pt")
        pixel_values = pixel_values["pixel_values_videos"].to(device=self.model.device, dtype=self.model.dtype)
        dense, cls = self._encode(pixel_values)
        captions = []
        if caption:
            texts = self._generate("clip", video_features=dense)
            captions = [TimedCaption(clip.start, clip.end, text) for clip, text in zip(batch, texts, strict=True)]
        return dense, cls.float().cpu(), captions

    def _stack_rows(self, cls_rows: list[torch.Tensor]) -> torch.Tensor:
        """The CLS features of consecutive batches as one `(num_clips, hidden_size)` tensor."""
        return torch.cat(cls_rows) if cls_rows else torch.zeros(0, self.config.vision_config.hidden_size)

    def _encode(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Dense tokens `(batch_size, 1 + num_frames * num_patches, hidden_size)` and CLS features `(batch_size,
        hidden_size)` of a batch of clips, encoded `encoder_batch_size` clips at a time.
        """
        step = self.encoder_batch_size or (1 if self.model.device.type == "cpu" else len(pixel_values))
        outputs = [
            self.model.get_video_features(pixel_values[i : i + step]) for i in range(0, len(pixel_values), step)
        ]
        if len(outputs) == 1:
            return outputs[0].last_hidden_state, outputs[0].pooler_output
        dense = torch.cat([output.last_hidden_state for output in outputs])
        return dense, torch.cat([output.pooler_output for output in outputs])

    # ----------------------------------------------------------------------------------------------------------------
    # Segment and video levels
    # ----------------------------------------------------------------------------------------------------------------

    def _describe(
        self,
        level: str,
        windows: Sequence[tuple[float, float]],
        cls_features: torch.Tensor,
        clip_index: np.ndarray,
        lower: Sequence[TimedCaption],
        bar,
    ) -> list[str]:
        features, contexts = self._window_inputs(level, windows, cls_features, clip_index, lower)
        return self.describe_windows(level, features, contexts, progress_bar=bar)

    def _window_inputs(
        self,
        level: str,
        windows: Sequence[tuple[float, float]],
        cls_features: torch.Tensor,
        clip_index: np.ndarray,
        lower: Sequence[TimedCaption],
    ) -> tuple[list[torch.Tensor] | None, list[list[str]] | None]:
        """
        The inputs of `level` for the `windows` of one video: per window its CLS rows `(num_rows, hidden_size)` and
        its lower-level captions (each `None` when the level does not read it).
        """
        settings = self.config.get_level_settings(level)
        features = contexts = None
        if settings.num_video_queries:
            if len(cls_features) == 0:
                raise ValueError(f"The {level} level needs CLS features, but there are none.")
            # The original's rows of each window on the full clip grid, of those that have a CLS row.
            features = [self.processor.window_video_features(cls_features, s, e, clip_index) for s, e in windows]
        if settings.num_text_queries:
            contexts = [self.processor.window_context(lower, s, e) for s, e in windows]
        return features, contexts

    def describe_windows(
        self,
        level: str,
        video_features: Sequence[np.ndarray | torch.Tensor] | None = None,
        contexts: Sequence[Sequence[str]] | None = None,
        progress_bar=None,
    ) -> list[str]:
        """
        Generates `level` captions for any windows, batched (`batch_size` windows per `generate`); the windows may
        come from different videos.

        Args:
            level (`str`): `"segment"` or `"video"`.
            video_features (`list`, *optional*): per window, its CLS features `(num_clips, hidden_size)` (all rows of
                the window; the processor samples them to the level's feature count).
            contexts (`list[list[str]]`, *optional*): per window, the lower level's captions in time order (joined as
                the level was trained).
            progress_bar (*optional*): a tqdm bar advanced by the estimated cost of each batch (see
                [`estimated_cost`]).
        Returns:
            One caption per window.
        """
        if validate_level(level) == "clip":
            raise ValueError("describe_windows runs the segment or video level; clips are captioned from frames.")
        settings = self.config.get_level_settings(level)
        if settings.num_video_queries and video_features is None:
            raise ValueError(f"The {level} level needs video_features (CLS features of each window).")
        if settings.num_text_queries and contexts is None:
            raise ValueError(f"The {level} level needs contexts (the lower level's captions of each window).")
        count = len(video_features) if video_features is not None else len(contexts)
        if video_features is not None and contexts is not None and len(contexts) != count:
            raise ValueError(f"Got {count} windows of video_features but {len(contexts)} contexts.")
        texts = []
        with self._inference_context():
            for rows in _chunks(range(count), self.batch_size):
                inputs = {}
                if settings.num_video_queries:
                    inputs.update(self.processor.prepare_video_features([video_features[i] for i in rows], level))
                if settings.num_text_queries:
                    inputs.update(
                        self.processor.prepare_context([self._pack(contexts[i], level) for i in rows], level)
                    )
                inputs = {
                    name: value.to(self.model.device, self.model.dtype if value.is_floating_point() else None)
                    for name, value in inputs.items()
                }
                texts += self._generate(level, **inputs)
                if progress_bar is not None:
                    progress_bar.update(self._batch_cost(level, len(rows)))
        return texts

    def _pack(self, captions: Sequence[str], level: str) -> str:
        text = self.processor.pack_context(list(captions), level)
        if text.strip():
            return text
        # Every lower-level caption of the window is empty; the text Q-Former needs at least one token.
        logger.warning_once(f"A {level} window has only empty lower-level captions; its text input is EOS alone.")
        return self.processor.tokenizer.eos_token

    # ----------------------------------------------------------------------------------------------------------------
    # Shared helpers
    # ----------------------------------------------------------------------------------------------------------------

    def _generate(self, level: str, **inputs) -> list[str]:
        kwargs = {**self.generate_kwargs, **self.level_generate_kwargs.get(level, {})}
        outputs = self.model.generate(level=level, **inputs, **kwargs)
        sequences = outputs.sequences if isinstance(outputs, GenerateOutput) else outputs
        generation_config = kwargs.get("generation_config") or self.model.generation_config
        per_input = kwargs.get("num_return_sequences") or generation_config.num_return_sequences or 1
        # With several returned sequences per input, keep the first (the best beam, or the first sample).
        return self.processor.batch_decode(sequences[::per_input])

    @contextmanager
    def _inference_context(self) -> Iterator[None]:
        """`torch.no_grad()` plus, on the CPU, the oneDNN linear layers (nesting is harmless)."""
        with (
            torch.no_grad(),
            onednn_linear_layers(self.model, enabled=self.use_onednn and self.model.device.type == "cpu"),
        ):
            yield

    def _progress_bar(self, total: float):
        return logging.tqdm(total=total, bar_format=_PROGRESS_FORMAT, disable=not self.progress, leave=False)

    # ----------------------------------------------------------------------------------------------------------------
    # Cost estimate (the progress bar's)
    # ----------------------------------------------------------------------------------------------------------------

    def clip_encoding_flops(self) -> float:
        """
        Multiply-add FLOPs of encoding one clip: the patch embedding, and the vision encoder's projections and MLP
        over its `1 + num_frames * num_patches` tokens (temporal and spatial attention each `4 * hidden_size**2` per
        token; the attention scores are left out).
        """
        vision = self.config.vision_config
        patches = vision.num_frames * vision.num_patches_per_frame
        per_token = 8 * vision.hidden_size**2 + 2 * vision.hidden_size * vision.intermediate_size
        embedding = patches * vision.num_channels * vision.patch_size**2 * vision.hidden_size
        return 2.0 * (embedding + (1 + patches) * vision.num_hidden_layers * per_token)

    def decoding_step_flops(self) -> float:
        """
        Multiply-add FLOPs of one decoding step of one row: every GPT-2 block (self-attention and MLP), the gated
        cross-attention blocks (query and output projections and MLP; the memory's keys and values are cached) and the
        LM head.
        """
        text = self.config.text_config
        hidden, layers = text.hidden_size, text.num_hidden_layers
        inner = text.n_inner or 4 * hidden
        cross_blocks = math.ceil(layers / self.config.decoder_cross_attention_frequency)
        per_row = layers * (4 * hidden**2 + 2 * hidden * inner) + cross_blocks * (2 * hidden**2 + 2 * hidden * inner)
        return 2.0 * (per_row + text.vocab_size * hidden)

    def _max_new_tokens(self, level: str) -> tuple[int, int]:
        """The decoding steps of a `level` caption (its budget) and the rows each window decodes (beams)."""
        kwargs = {**self.generate_kwargs, **self.level_generate_kwargs.get(level, {})}
        generation_config = kwargs.get("generation_config") or self.model.generation_config
        steps = kwargs.get("max_new_tokens") or self.model.level_max_new_tokens(level)
        beams = kwargs.get("num_beams") or generation_config.num_beams or 1
        return int(steps), int(beams)

    def _batch_cost(self, level: str, rows: int, caption: bool = True) -> float:
        """
        Estimated cost (FLOPs, with each decoding step counted as at least [`DECODING_STEP_MIN_ROWS`] rows) of one
        batch of `rows` windows of `level`: the clips' encoding and, when `caption`, a `generate` run to its budget.
        """
        cost = rows * self.clip_encoding_flops() if level == "clip" else 0.0
        if caption:
            steps, beams = self._max_new_tokens(level)
            cost += steps * max(rows * beams, DECODING_STEP_MIN_ROWS) * self.decoding_step_flops()
        return cost

    def estimated_cost(self, num_clips: int, num_segments: int, batch_size: int | None = None) -> float:
        """
        The progress bar's estimate of the work of one video with `num_clips` clips and `num_segments` segment
        windows, at the levels this captioner runs, in batches of `batch_size` (default: `self.batch_size`): clips
        weighted by their encoding, every `generate` by its decoding steps (the summary's included), so that the bar
        moves with time rather than with the number of captions (a short video's summary can take as long as its clips).
        """
        batch_size = batch_size or self.batch_size
        # Clips are encoded (for their CLS features) even when the clip level is not run.
        counts = {"clip": num_clips, "segment": num_segments if "segment" in self.levels_to_run else 0}
        counts["video"] = int("video" in self.levels_to_run)
        total = 0.0
        for level, count in counts.items():
            caption = level != "clip" or "clip" in self.levels_to_run
            full, rest = divmod(count, batch_size)
            total += full * self._batch_cost(level, batch_size, caption)
            total += self._batch_cost(level, rest, caption) if rest else 0.0
        return total

    # ----------------------------------------------------------------------------------------------------------------
    # Streaming
    # ----------------------------------------------------------------------------------------------------------------

    def stream(
        self,
        source,
        fps: float | None = None,
        follow: bool = False,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_latency: float | None = None,
        summary_every: int | None = None,
    ) -> CaptionStream:
        """
        Captions a video while it is played or recorded: yields each [`CaptionEvent`] as soon as it is ready. A clip
        caption comes once its clip is encoded and captioned, a segment description once the clip after the segment is
        encoded (the segment level reads the CLS feature one clip past its window, as the original slices it) or the
        video ends, and the summary at the end. The windows, inputs and batches are those of [`caption_video`]: on a
        finished file the stream's `captions` equal `caption_video`'s result.

        Args:
            source: a file path (with `follow=True`, a file still being written, see [`GrowingVideoReader`]), decoded
                frames or a reader as for [`caption_video`], or an iterable of `(timestamp_seconds, frame)` pairs at
                the nominal frame rate `fps` (e.g. a camera, see [`TimedFramesReader`]).
            fps (`float`, *optional*): frame rate of decoded frames, nominal rate of timed frames.
            follow (`bool`, *optional*, defaults to `False`): follow a growing file until its writer closes it or it
                has not grown for `idle_seconds`.
            idle_seconds (`float`, *optional*, defaults to 10): see `follow`.
            max_latency (`float`, *optional*): micro-batching. Clips are captioned in batches of up to `batch_size`:
                each batch starts with the next clip as soon as it is decoded and takes the clips decoded within
                `max_latency` seconds after it. Defaults to 0 for live sources (a growing file, timed frames: each batch
                takes the clips waiting, one when the model keeps up with the video) and to no limit otherwise (full
                batches, as [`caption_video`] cuts them).
            summary_every (`int`, *optional*): also emit a running summary (a non-final `"video"` event) of the video
                so far after every `summary_every` segments. This goes beyond the paper, whose video level reads the
                whole video once; the final summary is unchanged.
        Returns:
            A [`CaptionStream`] of [`CaptionEvent`]s for the levels in `self.levels_to_run`, with the finished
            [`HierarchicalCaptions`] in its `captions` once iterated.
        Raises:
            [`VideoDecodingError`]: the source cannot be read (for a growing file, while iterating).
        """
        if max_latency is not None and not max_latency >= 0:
            raise ValueError(f"max_latency must be >= 0, got {max_latency}.")
        if summary_every is not None and summary_every < 1:
            raise ValueError(f"summary_every must be >= 1, got {summary_every}.")
        if not idle_seconds > 0:
            raise ValueError(f"idle_seconds must be positive, got {idle_seconds}.")
        captions = HierarchicalCaptions()
        options = {"fps": fps, "follow": follow, "idle_seconds": idle_seconds}
        return CaptionStream(self._stream_events(source, options, captions, max_latency, summary_every), captions)

    def _stream_events(
        self,
        source,
        options: dict[str, Any],
        captions: HierarchicalCaptions,
        max_latency: float | None,
        summary_every: int | None,
    ) -> Iterator[CaptionEvent]:
        num_frames = self.config.vision_config.num_frames
        reader, owns_reader = open_stream_source(
            source,
            self.clip_seconds,
            num_frames,
            **options,
            short_side=self.short_side,
            decode_threads=self.decode_threads,
        )
        live = reader.metadata is None
        if max_latency is None:
            max_latency = 0.0 if live else math.inf
        cls_rows: list[torch.Tensor] = []
        num_rows = summaries = 0
        with ExitStack() as stack:
            if owns_reader:
                stack.callback(reader.close)
            items = stack.enter_context(
                BackgroundIterator(reader, buffer_size=2 * self.batch_size, niceness=_DECODING_NICENESS)
            )
            if live:
                # Runs first: stops a reader that waits for more data before the decoding thread is joined.
                stack.callback(reader.close)
            for batch in micro_batches(items, self.batch_size, max_latency):
                with self._inference_context():
                    # The dense tokens (first) are dropped here, not kept while the generator waits at a `yield`.
                    cls, clips = self._caption_batch(batch, "clip" in self.levels_to_run)[1:]
                cls_rows.append(cls)
                num_rows += len(cls)
                for clip in clips:
                    captions.clips.append(clip)
                    yield CaptionEvent("clip", len(captions.clips) - 1, clip.start, clip.end, clip.text)
                if "segment" not in self.levels_to_run:
                    continue
                windows = closable_windows(len(captions.segments), num_rows, self.segment_seconds, self.clip_seconds)
                if windows:
                    yield from self._stream_segments(windows, self._stack_rows(cls_rows), captions)
                    if summary_every and "video" in self.levels_to_run:
                        if len(captions.segments) // summary_every > summaries:
                            end = captions.segments[-1].end
                            text = self._stream_describe("video", [(0.0, end)], self._stack_rows(cls_rows), captions)
                            yield CaptionEvent("video", summaries, 0.0, end, text[0], final=False)
                            summaries += 1
        duration = reader.metadata.duration
        cls_features = self._stack_rows(cls_rows)
        if "segment" in self.levels_to_run:
            windows = clip_windows(duration, self.segment_seconds)[len(captions.segments) :]
            yield from self._stream_segments(windows, cls_features, captions)
        captions.duration = duration
        if "video" in self.levels_to_run:
            captions.summary = self._stream_describe("video", [(0.0, duration)], cls_features, captions)[0]
            yield CaptionEvent("video", summaries, 0.0, duration, captions.summary)

    def _stream_segments(
        self, windows: list[tuple[float, float]], cls_features: torch.Tensor, captions: HierarchicalCaptions
    ) -> Iterator[CaptionEvent]:
        for (start, end), text in zip(
            windows, self._stream_describe("segment", windows, cls_features, captions), strict=True
        ):
            captions.segments.append(TimedCaption(start, end, text))
            yield CaptionEvent("segment", len(captions.segments) - 1, start, end, text)

    def _stream_describe(
        self,
        level: str,
        windows: list[tuple[float, float]],
        cls_features: torch.Tensor,
        captions: HierarchicalCaptions,
    ) -> list[str]:
        lower = captions.clips if level == "segment" else captions.segments
        with self._inference_context():
            # Streamed clips come from consecutive windows (no gaps): each CLS row is its window's.
            return self._describe(level, windows, cls_features, np.arange(len(cls_features)), lower, None)


@dataclass
class _OpenedVideo:
    """What the decoding thread reports of a video it opened."""

    path: str
    duration: float
    windows: list[tuple[float, float]]
    gaps: list[tuple[float, float]]


@dataclass(eq=False)
class _LibraryVideo:
    """A video of [`HierarchicalCaptioner.caption_videos`] in flight."""

    index: int
    duration: float
    clip_index: np.ndarray
    segments: list[tuple[float, float]]
    cost: float
    done: float = 0.0
    cls_rows: list[torch.Tensor] = field(default_factory=list)
    clips: list[TimedCaption] = field(default_factory=list)
    queued_clips: int = 0
    decoded: bool = False
    segment_texts: dict[int, str] = field(default_factory=dict)
    summary: str | None = None


class _Library:
    """
    The scheduler of [`HierarchicalCaptioner.caption_videos`]: queues of clips, segment windows and summaries of
    several videos, each run in batches of `batch_size` as they fill (or when `max_waiting` videos wait, or at the end).
    """

    def __init__(self, captioner: HierarchicalCaptioner, max_waiting: int, bar, durations: Sequence[float | None]):
        self.captioner = captioner
        self.max_waiting = max_waiting
        self.bar = bar
        self.total = 0.0
        self.videos: dict[int, _LibraryVideo] = {}
        self.clip_queue: list[tuple[_LibraryVideo, VideoClip]] = []
        self.segment_queue: list[tuple[_LibraryVideo, int, torch.Tensor | None, list[str] | None]] = []
        self.summary_queue: list[_LibraryVideo] = []
        self.waiting = 0
        self.done: list[tuple[int, HierarchicalCaptions | VideoDecodingError]] = []
        levels = captioner.levels_to_run
        batch_size = captioner.batch_size
        # Each window's share of a full batch (see `HierarchicalCaptioner.estimated_cost`).
        self.item_cost = {
            "clip": captioner._batch_cost("clip", batch_size, "clip" in levels) / batch_size,
            "segment": captioner._batch_cost("segment", batch_size) / batch_size,
            "video": captioner._batch_cost("video", batch_size) / batch_size,
        }
        # Until a video is opened, its cost is estimated from its stated duration.
        self.planned = [self._cost(*self._window_counts(duration or 0.0)) for duration in durations]
        self._grow_total(sum(self.planned))

    def open(self, index: int, opened: _OpenedVideo) -> None:
        captioner = self.captioner
        if opened.gaps:
            _report_gaps(opened.path, opened.gaps)
        starts = [start for start, _ in opened.windows]
        segments = []
        if "segment" in captioner.levels_to_run:
            segments = captioner._segment_windows(starts, opened.duration)
        cost = self._cost(len(opened.windows), len(segments))
        clip_index = np.asarray([round(start / captioner.clip_seconds) for start in starts], dtype=np.int64)
        self.videos[index] = _LibraryVideo(index, opened.duration, clip_index, segments, cost)
        self._grow_total(cost - self._planned(index))

    def _window_counts(self, duration: float) -> tuple[int, int]:
        captioner = self.captioner
        segments = (
            math.ceil(duration / captioner.segment_seconds - 1e-9) if "segment" in captioner.levels_to_run else 0
        )
        return max(math.ceil(duration / captioner.clip_seconds - 1e-9), 1), max(segments, 0)

    def _cost(self, num_clips: int, num_segments: int) -> float:
        cost = num_clips * self.item_cost["clip"] + num_segments * self.item_cost["segment"]
        return cost + (self.item_cost["video"] if "video" in self.captioner.levels_to_run else 0.0)

    def _planned(self, index: int) -> float:
        return self.planned[index] if index < len(self.planned) else 0.0

    def add_clip(self, index: int, clip: VideoClip) -> None:
        video = self.videos[index]
        video.queued_clips += 1
        self.clip_queue.append((video, clip))
        if len(self.clip_queue) == self.captioner.batch_size:
            self._run_clips()

    def decoded(self, index: int) -> None:
        video = self.videos[index]
        video.decoded = True
        if not video.queued_clips:
            self._clips_done(video)
            self._run_higher(final=False)

    def fail(self, index: int, error: VideoDecodingError) -> None:
        video = self.videos.pop(index, None)
        if video is not None:
            self.clip_queue = [(other, clip) for other, clip in self.clip_queue if other is not video]
            self._grow_total(video.done - video.cost)
        else:
            self._grow_total(-self._planned(index))
        self.done.append((index, error))

    def flush(self) -> None:
        """Runs everything queued (the end of the input)."""
        if self.clip_queue:
            self._run_clips()
        self._run_higher(final=True)

    def finished(self) -> Iterator[tuple[int, HierarchicalCaptions | VideoDecodingError]]:
        done, self.done = self.done, []
        yield from done

    # ----------------------------------------------------------------------------------------------------------------

    def _grow_total(self, amount: float) -> None:
        self.total += amount
        self.bar.total = self.total
        self.bar.refresh()

    def _advance(self, video: _LibraryVideo, level: str) -> None:
        video.done += self.item_cost[level]
        self.bar.update(self.item_cost[level])

    def _run_clips(self) -> None:
        captioner = self.captioner
        batch, self.clip_queue = self.clip_queue, []
        self.bar.set_description("clips")
        caption = "clip" in captioner.levels_to_run
        with captioner._inference_context():
            # The dense tokens (first) are dropped at once.
            cls, captions = captioner._caption_batch([clip for _, clip in batch], caption)[1:]
        for row, (video, _) in enumerate(batch):
            video.cls_rows.append(cls[row : row + 1])
            if captions:
                video.clips.append(captions[row])
            video.queued_clips -= 1
            self._advance(video, "clip")
        for video in {video.index: video for video, _ in batch}.values():
            if video.decoded and not video.queued_clips:
                self._clips_done(video)
        self._run_higher(final=False)

    def _clips_done(self, video: _LibraryVideo) -> None:
        captioner = self.captioner
        self.waiting += 1
        if "segment" in captioner.levels_to_run and video.segments:
            features, contexts = captioner._window_inputs(
                "segment", video.segments, self._features(video), video.clip_index, video.clips
            )
            for position in range(len(video.segments)):
                feature = features[position] if features is not None else None
                context = contexts[position] if contexts is not None else None
                self.segment_queue.append((video, position, feature, context))
        else:
            self._segments_done(video)

    def _segments_done(self, video: _LibraryVideo) -> None:
        if "video" in self.captioner.levels_to_run:
            self.summary_queue.append(video)
        else:
            self._finish(video)

    def _run_higher(self, final: bool) -> None:
        batch_size = self.captioner.batch_size
        flush = final or self.waiting >= self.max_waiting
        while self.segment_queue and (flush or len(self.segment_queue) >= batch_size):
            batch, self.segment_queue = self.segment_queue[:batch_size], self.segment_queue[batch_size:]
            self._run_segments(batch)
        while self.summary_queue and (flush or len(self.summary_queue) >= batch_size):
            batch, self.summary_queue = self.summary_queue[:batch_size], self.summary_queue[batch_size:]
            self._run_summaries(batch)

    def _run_segments(self, batch: list[tuple[_LibraryVideo, int, torch.Tensor | None, list[str] | None]]) -> None:
        settings = self.captioner.config.get_level_settings("segment")
        features = [feature for _, _, feature, _ in batch] if settings.num_video_queries else None
        contexts = [context for _, _, _, context in batch] if settings.num_text_queries else None
        self.bar.set_description("segments")
        texts = self.captioner.describe_windows("segment", features, contexts)
        for (video, position, _, _), text in zip(batch, texts, strict=True):
            video.segment_texts[position] = text
            self._advance(video, "segment")
            if len(video.segment_texts) == len(video.segments):
                self._segments_done(video)

    def _run_summaries(self, batch: list[_LibraryVideo]) -> None:
        captioner = self.captioner
        settings = captioner.config.get_level_settings("video")
        features, contexts = [], []
        for video in batch:
            feature, context = captioner._window_inputs(
                "video", [(0.0, video.duration)], self._features(video), video.clip_index, self._segments(video)
            )
            features += feature or []
            contexts += context or []
        self.bar.set_description("summary")
        texts = captioner.describe_windows(
            "video",
            features if settings.num_video_queries else None,
            contexts if settings.num_text_queries else None,
        )
        for video, text in zip(batch, texts, strict=True):
            video.summary = text
            self._advance(video, "video")
            self._finish(video)

    def _features(self, video: _LibraryVideo) -> torch.Tensor:
        return self.captioner._stack_rows(video.cls_rows)

    def _segments(self, video: _LibraryVideo) -> list[TimedCaption]:
        return [
            TimedCaption(start, end, video.segment_texts[position])
            for position, (start, end) in enumerate(video.segments)
        ]

    def _finish(self, video: _LibraryVideo) -> None:
        levels = self.captioner.levels_to_run
        result = HierarchicalCaptions(clips=video.clips if "clip" in levels else [], duration=video.duration)
        if "segment" in levels:
            result.segments = self._segments(video)
        if "video" in levels:
            result.summary = video.summary
        del self.videos[video.index]
        self.waiting -= 1
        self.done.append((video.index, result))


__all__ = ["HierarchicalCaptioner"]
