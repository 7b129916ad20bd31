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
from typing import Any

import numpy as np
import torch
from transformers.generation.utils import GenerateOutput
from transformers.utils import logging

from ..models.video_recap.configuration_video_recap import LEVELS, validate_level
from ..models.video_recap.processing_video_recap import check_window_lengths, clip_windows
from .cpu_matmul import onednn_linear_layers
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
    open_video,
    plan_windows,
)


logger = logging.get_logger(__name__)

_TIME_EPSILON = 1e-6
# The decoding thread yields the CPU to the model's threads and decodes in the time they leave idle.
_DECODING_NICENESS = 10


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
        use_onednn (`bool`, *optional*, defaults to `True`): on the CPU, compute the linear layers through oneDNN (see
            [`onednn_linear_layers`]: about 2x faster in float32 on CPUs where MKL takes a slow path, same greedy
            captions, no extra memory). Ignored on other devices.
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
        use_onednn: bool = True,
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
        self.use_onednn = use_onednn
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
            total = len(video.windows) + len(segments) + int("video" in self.levels_to_run)
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
        total = len(segments) + int("video" in higher)
        with self._progress_bar(total) as bar, self._inference_context():
            return self._higher_levels(cls_features, clips, duration, bar, clip_index, segments)

    def _segment_windows(self, clip_starts: Sequence[float], duration: float) -> list[tuple[float, float]]:
        """The segment windows that hold at least one of the clips starting at `clip_starts`."""
        minimum = self.clip_seconds * MIN_FINAL_CLIP_FRACTION
        return plan_windows(clip_starts, duration, self.segment_seconds, minimum)[0]

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
            progress_bar (*optional*): a tqdm bar advanced by one per clip.
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
                    progress_bar.update(len(batch))
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
        settings = self.config.get_level_settings(level)
        features = contexts = None
        if settings.num_video_queries:
            if len(cls_features) == 0:
                raise ValueError(f"The {level} level needs CLS features, but there are none.")
            # The original's rows of each window on the full clip grid, of those that have a CLS row.
            features = [self.processor.window_video_features(cls_features, s, e, clip_index) for s, e in windows]
        if settings.num_text_queries:
            contexts = [self.processor.window_context(lower, s, e) for s, e in windows]
        return self.describe_windows(level, features, contexts, progress_bar=bar)

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
            progress_bar (*optional*): a tqdm bar advanced by one per window.
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
                    progress_bar.update(len(rows))
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

    def _progress_bar(self, total: int):
        return logging.tqdm(total=total, unit="caption", disable=not self.progress, leave=False)

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


__all__ = ["HierarchicalCaptioner"]
