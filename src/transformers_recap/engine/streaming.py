# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Captioning a video while it plays or is being recorded: the events of [`HierarchicalCaptioner.stream`] and its live
sources.

- [`CaptionEvent`]: one caption as soon as it is ready (a clip caption, a segment description, a summary);
  [`CaptionStream`] iterates over them and collects the finished [`HierarchicalCaptions`].
- [`GrowingVideoReader`]: the clip windows of a video file that is still being written, each as soon as the frames
  of its window are on disk. It follows the file until the writer closes it or until no new data came for
  `idle_seconds`.
- [`TimedFramesReader`]: the clip windows of an iterator of `(timestamp_seconds, frame)` pairs, e.g. from a camera.

Both cut the same windows as [`VideoClipReader`] / [`FramesClipReader`] ([`clip_windows`] of the final duration)
and pick the same frames ([`clip_frame_indices`], then the frame on screen at each index's time), so that a stream
of a finished file gives the captions [`HierarchicalCaptioner.caption_video`] gives. The length of a live video is
known only at its end: a full window `[t, t + clip_seconds]` is cut once a frame at or after `t + clip_seconds`
arrives, and the last, possibly shorter, window when the source ends. Until then the reader keeps the decoded
frames of the window being filled (`clip_seconds` x fps frames).

Which growing files can be followed: formats that are readable while they are written, i.e. whose header comes
first and whose frames are appended: MPEG-TS (`.ts`, `.m2ts`), Matroska/WebM (`.mkv`, `.webm`; the muxer writes a
cluster every few seconds, so frames arrive in steps) and fragmented MP4 (`movflags=frag_keyframe+empty_moov`).
A plain MP4 or MOV cannot be followed: its index (`moov`) is written when the recording ends.
"""

import bisect
import io
import itertools
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter
from transformers.utils import logging

from ..models.video_recap.processing_video_recap import clip_windows, window_feature_rows
from .outputs import HierarchicalCaptions
from .video_io import (
    DEFAULT_SHORT_SIDE,
    BackgroundIterator,
    FramesClipReader,
    VideoClip,
    VideoClipReader,
    VideoDecodingError,
    VideoMetadata,
    _describe,
    clip_frame_indices,
    frame_to_rgb,
    open_video,
    select_video_stream,
)


logger = logging.get_logger(__name__)

DEFAULT_IDLE_SECONDS = 10.0
"""How long a growing file may stay unchanged before following it stops."""

_TIME_EPSILON = 1e-6
# How often (seconds) to ask, while waiting at the end of a growing file, whether its writer still has it open.
_WRITER_CHECK_SECONDS = 0.5


@dataclass
class CaptionEvent:
    r"""
    One caption of a stream, emitted as soon as it is ready.

    Args:
        level (`str`): `"clip"`, `"segment"` or `"video"` (the summary).
        index (`int`): position among the events of its level (0-based).
        start (`float`), end (`float`): the window it describes, in seconds of video time.
        text (`str`): the caption.
        final (`bool`, *optional*, defaults to `True`): `False` for a running summary (a summary of the video so far,
            see `summary_every` in [`HierarchicalCaptioner.stream`]); the last summary is final.
    """

    level: str
    index: int
    start: float
    end: float
    text: str
    final: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain Python: `{"level", "index", "start", "end", "text", "final"}` (e.g. one JSON line)."""
        return asdict(self)


class CaptionStream(Iterator[CaptionEvent]):
    r"""
    The events of [`HierarchicalCaptioner.stream`], in the order they are ready: every clip caption before the
    segment description that reads it, segment descriptions in time order, the final summary last.

    `captions` is the [`HierarchicalCaptions`] built from the events so far (running summaries left out); once the
    iteration has ended it holds what [`HierarchicalCaptioner.caption_video`] returns, the duration included.
    Closing the stream (or leaving a `with` block) stops the source and its decoding thread.
    """

    def __init__(self, events: Iterator[CaptionEvent], captions: HierarchicalCaptions):
        self._events = events
        self.captions = captions

    def __next__(self) -> CaptionEvent:
        return next(self._events)

    def close(self) -> None:
        """Stops the source and releases it."""
        self._events.close()

    def __enter__(self) -> "CaptionStream":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def closable_windows(
    first: int, num_rows: int, window_seconds: float, clip_seconds: float
) -> list[tuple[float, float]]:
    """
    The full windows `[k * window_seconds, (k + 1) * window_seconds]`, `k = first, first + 1, ...`, whose inputs are
    all known once `num_rows` clip features exist: a window reads the feature rows `int(start / clip_seconds)` ..
    `int(end // clip_seconds)` ([`window_feature_rows`]), one past its end, so it closes when the clip after it is
    encoded. A window the video ends in is closed at the end instead, with [`clip_windows`] of the duration.
    """
    windows = []
    for index in itertools.count(first):
        start, end = index * window_seconds, (index + 1) * window_seconds
        if window_feature_rows(start, end, clip_seconds, sys.maxsize).stop > num_rows:
            return windows
        windows.append((start, end))


def micro_batches(items: BackgroundIterator, batch_size: int, max_latency: float) -> Iterator[list]:
    """
    Batches of up to `batch_size` items of a background iterator: each batch starts with the next item as soon as it
    is ready and takes the items that are ready within `max_latency` seconds after it (0: only those already waiting;
    `math.inf`: full batches, as [`HierarchicalCaptioner.caption_clips`] cuts them).
    """
    while True:
        try:
            batch = [next(items)]
        except StopIteration:
            return
        deadline = time.monotonic() + max_latency
        while len(batch) < batch_size:
            timeout = None if math.isinf(max_latency) else max(deadline - time.monotonic(), 0.0)
            try:
                item = items.poll(timeout)
            except StopIteration:
                yield batch
                return
            if item is None:
                break
            batch.append(item)
        yield batch


class _ClipCutter:
    """
    Cuts the clip windows of a stream of timed frames as soon as each is complete, picking the frames
    [`VideoClipReader`] picks: for each of [`clip_frame_indices`], the last frame whose time is not after the index's
    time (up to `tolerance`), or the first frame for times before it. Keeps the frames of the window being filled.
    """

    def __init__(
        self,
        clip_seconds: float,
        num_frames: int,
        fps: float,
        tolerance: float,
        to_rgb: Callable[[Any], np.ndarray],
    ):
        self.clip_seconds = clip_seconds
        self.num_frames = num_frames
        self.fps = fps
        self.tolerance = tolerance
        self.to_rgb = to_rgb
        self.count = 0
        self._times: list[float] = []
        self._frames: list[Any] = []

    @property
    def last_time(self) -> float | None:
        return self._times[-1] if self._times else None

    def add(self, timestamp: float, frame: Any) -> Iterator[VideoClip]:
        """Adds the next frame (in presentation order) and yields the windows it completes."""
        self._times.append(timestamp)
        self._frames.append(frame)
        while True:
            start, end = self.count * self.clip_seconds, (self.count + 1) * self.clip_seconds
            # A frame at or after `end`: the video lasts at least until `end`, and every frame the window reads
            # (times before `end - 0.5 / fps`) has arrived.
            if timestamp + self.tolerance < end:
                return
            # Until the end of the video, `num_video_frames` only caps indices past this window.
            yield self._cut(start, end, self.fps, sys.maxsize)

    def finish(self, metadata: VideoMetadata) -> Iterator[VideoClip]:
        """The windows of [`clip_windows`] of the final duration that are not cut yet."""
        if not self._times:
            raise VideoDecodingError(metadata.path or "<video>", "contains no video frames (zero-length video)")
        for start, end in clip_windows(metadata.duration, self.clip_seconds)[self.count :]:
            yield self._cut(start, end, metadata.fps, metadata.num_frames)

    def _cut(self, start: float, end: float, fps: float, num_video_frames: int) -> VideoClip:
        indices = clip_frame_indices(start, end, fps, num_video_frames, self.num_frames)
        picks = [max(bisect.bisect_right(self._times, index / fps + self.tolerance) - 1, 0) for index in indices]
        arrays = {pick: self.to_rgb(self._frames[pick]) for pick in dict.fromkeys(picks)}
        clip = VideoClip(
            index=self.count,
            start=start,
            end=end,
            frames=np.stack([arrays[pick] for pick in picks]),
            timestamps=[self._times[pick] for pick in picks],
        )
        self.count += 1
        # Keep the frames from the one on screen at the next window's first frame index on (`clip_frame_indices`'
        # offset, which a window at the very end of the video moves back by up to two frames).
        first_time = (int(np.round(self.count * self.clip_seconds * self.fps)) - 2) / self.fps
        keep = max(bisect.bisect_right(self._times, first_time + self.tolerance) - 1, 0)
        del self._times[:keep], self._frames[:keep]
        return clip


# ---------------------------------------------------------------------------------------------------------------------
# A file that is still being written
# ---------------------------------------------------------------------------------------------------------------------


class _WriterWatch:
    """
    Whether some process has a file open for writing, from the open files psutil lists (with their mode on Linux).
    psutil is the library that reads them portably; the search over processes is written here.
    """

    def __init__(self, path: str):
        self.path = os.path.realpath(path)
        self._writer = None
        self._seen_writer = False

    def writing(self) -> bool | None:
        """
        `True` while a process has the file open for writing; `False` once none has; `None` when that cannot be told:
        no writer was seen yet and some processes' files cannot be read (another user's, or a sandbox's init).
        """
        import psutil

        if self._writer is not None:
            try:
                if self._writes(self._writer):
                    return True
            except psutil.Error:
                pass
            self._writer = None
        hidden = False
        for process in psutil.process_iter():
            try:
                if self._writes(process):
                    self._writer = process
                    self._seen_writer = True
                    return True
            except psutil.NoSuchProcess:
                continue
            except (psutil.AccessDenied, AttributeError):
                # Files that cannot be read, or a platform whose open files carry no mode.
                hidden = True
        return None if hidden and not self._seen_writer else False

    def _writes(self, process) -> bool:
        return any(file.path == self.path and file.mode != "r" for file in process.open_files())


class _GrowingFile(io.RawIOBase):
    """
    A read-only, unseekable view of a file that is being written: a read at the current end waits for more data, and
    reports the end of the file only when the writer has closed it or no new data came for `idle_seconds`, so that
    FFmpeg's demuxer reads the whole recording as one stream.
    """

    def __init__(self, path: str, idle_seconds: float, poll_seconds: float, stop: threading.Event):
        super().__init__()
        self._file = open(path, "rb")
        self._watch = _WriterWatch(path)
        self._idle_seconds = idle_seconds
        self._poll_seconds = poll_seconds
        self._stop = stop
        self._last_data = time.monotonic()
        # Look for the writer now, while it surely has the file open: a writer never seen does not count as closed
        # where some processes' files cannot be read.
        self._writer_closed = self._watch.writing() is False
        self._next_check = time.monotonic() + _WRITER_CHECK_SECONDS
        self.end_reason: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while True:
            count = self._file.readinto(buffer)
            if count:
                self._last_data = time.monotonic()
                return count
            if self._stop.is_set():
                self.end_reason = "stopped"
                return 0
            now = time.monotonic()
            if self._writer_closed:
                self.end_reason = "the writer closed it"
                return 0
            if now - self._last_data >= self._idle_seconds:
                self.end_reason = f"no new data for {self._idle_seconds:g} s"
                return 0
            if now >= self._next_check:
                self._next_check = now + _WRITER_CHECK_SECONDS
                # Read once more after the check: the writer may have appended its last data just before closing.
                self._writer_closed = self._watch.writing() is False
                continue
            time.sleep(self._poll_seconds)

    def close(self) -> None:
        self._file.close()
        super().close()


class GrowingVideoReader:
    r"""
    Streams the clip windows of a video file while it is being written (a recording), each as soon as its frames are
    in the file; see the module docstring for the formats that can be followed.

    Following stops when no process has the file open for writing any more (checked with psutil where it can see
    the writer, e.g. processes of the same user) or when the file has not grown for `idle_seconds`. A file that does
    not exist yet is waited for, as long. The last windows are then cut with the metadata [`VideoClipReader`] reads
    from the finished file, so that the clips are those of the finished file.

    Args:
        path (`str` or `os.PathLike`): the file.
        clip_seconds (`float`, *optional*, defaults to 4.0), num_frames (`int`, *optional*, defaults to 4),
        short_side (`int`, *optional*, defaults to 288), decode_threads (`int`, *optional*, defaults to 0): as for
            [`VideoClipReader`].
        idle_seconds (`float`, *optional*, defaults to 10): how long the file may stay unchanged before following
            stops.
        poll_seconds (`float`, *optional*, defaults to 0.05): pause between looks at a file that has not grown.

    Iterating (done once, in any thread) yields [`VideoClip`]s and raises [`VideoDecodingError`] for a file that
    cannot be read; `metadata` is `None` until the iteration has ended. `close()` may be called from any thread: it
    stops the iteration, which releases the file.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        clip_seconds: float = 4.0,
        num_frames: int = 4,
        short_side: int | None = DEFAULT_SHORT_SIDE,
        decode_threads: int = 0,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        poll_seconds: float = 0.05,
    ):
        if not idle_seconds > 0:
            raise ValueError(f"idle_seconds must be positive, got {idle_seconds}.")
        self.path = os.fspath(path)
        self.clip_seconds = float(clip_seconds)
        self.num_frames = num_frames
        self.short_side = short_side
        self.idle_seconds = float(idle_seconds)
        self.poll_seconds = poll_seconds
        self._decode_threads = decode_threads
        self._stop = threading.Event()
        self.metadata: VideoMetadata | None = None

    def close(self) -> None:
        """Stops following the file (the iterating thread releases it)."""
        self._stop.set()

    def __enter__(self) -> "GrowingVideoReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self) -> Iterator[VideoClip]:
        self._wait_for_data()
        if self._stop.is_set():
            return
        with _GrowingFile(self.path, self.idle_seconds, self.poll_seconds, self._stop) as file:
            container = self._open(file)
            with container:
                stream = select_video_stream(container, self.path, self._decode_threads)
                rate = stream.average_rate or stream.guessed_rate or stream.base_rate
                if not rate:
                    raise VideoDecodingError(self.path, "has no frame rate in its header, so it cannot be followed")
                fps = float(rate)
                time_base = float(stream.time_base)
                start_time = stream.start_time * time_base if stream.start_time else 0.0
                reformatter = VideoReformatter()
                sample_aspect_ratio = stream.sample_aspect_ratio
                cutter = _ClipCutter(
                    self.clip_seconds,
                    self.num_frames,
                    fps,
                    # A frame stamped up to half a time-base unit after a time is the frame of that time.
                    tolerance=time_base / 2 + 1e-9,
                    to_rgb=lambda frame: frame_to_rgb(
                        frame, reformatter, sample_aspect_ratio, self.short_side, self.path
                    ),
                )
                size = (stream.width, stream.height)
                for frame in self._decode(container, stream, file):
                    if frame.pts is None:
                        # No timestamps: count frames at the header's rate, as VideoClipReader does.
                        timestamp = 0.0 if cutter.last_time is None else cutter.last_time + 1.0 / fps
                    else:
                        timestamp = frame.pts * time_base - start_time
                    if cutter.last_time is not None and timestamp < cutter.last_time:
                        continue  # out of order (a broken stream): the earlier time's frame was already taken
                    yield from cutter.add(timestamp, frame)
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                logger.info(f"Stopped following {self.path}: {file.end_reason}.")
                metadata = self._final_metadata(fps, cutter.last_time, size)
                # The frames kept for the last windows belong to the container's decoder: cut them before it closes
                # (converting a frame of a closed container crashes FFmpeg).
                yield from cutter.finish(metadata)
                self.metadata = metadata

    def _wait_for_data(self) -> None:
        deadline = time.monotonic() + self.idle_seconds
        while not (os.path.isfile(self.path) and os.path.getsize(self.path) > 0):
            if os.path.isdir(self.path):
                raise VideoDecodingError(self.path, "is a directory, not a video file")
            if time.monotonic() >= deadline:
                state = "is empty" if os.path.exists(self.path) else "does not exist"
                raise VideoDecodingError(self.path, f"{state} after waiting {self.idle_seconds:g} s for a recording")
            if self._stop.wait(self.poll_seconds):
                return

    def _open(self, file: _GrowingFile) -> "av.container.InputContainer":
        try:
            return av.open(file, mode="r")
        except av.error.EOFError:
            raise VideoDecodingError(self.path, f"ends before any video data ({file.end_reason})") from None
        except av.FFmpegError as error:
            raise VideoDecodingError(self.path, f"not a readable video stream ({_describe(error)})") from None

    def _decode(self, container, stream, file: _GrowingFile) -> Iterator["av.VideoFrame"]:
        frames = container.decode(stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.FFmpegError as error:
                if file.end_reason is not None:
                    # The recording stopped in the middle of a packet: what came before it is the video.
                    logger.warning(f"{self.path}: the data after the last whole frame is cut ({_describe(error)}).")
                    return
                raise VideoDecodingError(self.path, f"corrupt video data ({_describe(error)})") from None
            yield frame

    def _final_metadata(self, fps: float, last_time: float | None, size: tuple[int, int]) -> VideoMetadata:
        """The finished file's metadata as [`VideoClipReader`] reads it (else the decoded frames' timing)."""
        try:
            with VideoClipReader(self.path, self.clip_seconds, self.num_frames, self.short_side) as reader:
                metadata = reader.metadata
        except VideoDecodingError as error:
            if last_time is None:
                raise
            duration = last_time + 1.0 / fps
            logger.warning(f"{error}; the last clip windows end with the last decoded frame ({duration:.2f} s).")
            return VideoMetadata(duration, fps, max(1, int(duration * fps)), *size, path=self.path)
        if abs(metadata.fps - fps) > _TIME_EPSILON:
            logger.warning(
                f"{self.path}: the frame rate was {fps:g} while following the file and is {metadata.fps:g} in the "
                "finished file; the clips cut before the end used the first."
            )
        return metadata


# ---------------------------------------------------------------------------------------------------------------------
# Timed frames (a camera)
# ---------------------------------------------------------------------------------------------------------------------


class TimedFramesReader:
    r"""
    Streams the clip windows of an iterable of `(timestamp_seconds, frame)` pairs in time order, e.g. from a camera,
    each as soon as a frame at or after its end arrives.

    Frames are picked as [`FramesClipReader`] picks them from an array: the frame indices of [`clip_frame_indices`]
    at the nominal `fps`, each read as the frame on screen at `index / fps` seconds after the first frame (the last
    one whose timestamp is not after it), so dropped or jittered frames are handled. The video ends with the last
    frame: its duration is `(round(last * fps) + 1) / fps` for the last timestamp `last`, which for timestamps
    `i / fps` is `num_frames / fps`, the duration [`FramesClipReader`] gives the same frames.

    Args:
        frames (`Iterable[tuple[float, np.ndarray]]`): timestamps (seconds, any origin, non-decreasing) and RGB uint8
            frames `(height, width, 3)` (numpy or torch). Frames are kept, not copied, until their window is cut: a
            source that reuses one buffer must give copies.
        fps (`float`): the nominal frame rate.
        clip_seconds (`float`, *optional*, defaults to 4.0), num_frames (`int`, *optional*, defaults to 4)
        name (`str`, *optional*): how errors refer to the source.

    Iterating (done once, in any thread) yields [`VideoClip`]s; `metadata` is `None` until the iteration has ended.
    `close()` may be called from any thread: the iteration stops at the next frame.
    """

    def __init__(
        self,
        frames: Iterable[tuple[float, np.ndarray | torch.Tensor]],
        fps: float,
        clip_seconds: float = 4.0,
        num_frames: int = 4,
        name: str = "<frames>",
    ):
        if fps is None or not fps > 0:
            raise VideoDecodingError(name, f"needs a positive nominal frame rate (fps), got {fps!r}")
        self.path = name
        self.fps = float(fps)
        self.clip_seconds = float(clip_seconds)
        self.num_frames = num_frames
        self._source = frames
        self._stop = threading.Event()
        self.metadata: VideoMetadata | None = None

    def close(self) -> None:
        """Stops the iteration at the next frame."""
        self._stop.set()

    def __enter__(self) -> "TimedFramesReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self) -> Iterator[VideoClip]:
        cutter = _ClipCutter(self.clip_seconds, self.num_frames, self.fps, _TIME_EPSILON, self._as_rgb)
        origin = shape = None
        for number, item in enumerate(self._source):
            if self._stop.is_set():
                return
            timestamp, frame = self._check(number, item, shape)
            if origin is None:
                origin, shape = timestamp, frame.shape
            timestamp -= origin
            if cutter.last_time is not None and timestamp < cutter.last_time:
                raise VideoDecodingError(
                    self.path,
                    f"frame {number} has timestamp {timestamp + origin:.3f} s, before the previous frame's "
                    f"{cutter.last_time + origin:.3f} s",
                )
            yield from cutter.add(timestamp, frame)
        if origin is None:
            raise VideoDecodingError(self.path, "contains no video frames (zero-length video)")
        num_video_frames = round(cutter.last_time * self.fps) + 1
        height, width = shape[:2]
        metadata = VideoMetadata(
            num_video_frames / self.fps, self.fps, num_video_frames, width, height, path=self.path
        )
        yield from cutter.finish(metadata)
        self.metadata = metadata

    def _check(self, number: int, item, shape: tuple[int, ...] | None) -> tuple[float, np.ndarray]:
        try:
            timestamp, frame = item
            timestamp = float(timestamp)
        except (TypeError, ValueError):
            raise VideoDecodingError(
                self.path, f"item {number} is not a (timestamp_seconds, frame) pair: {type(item).__name__}"
            ) from None
        if not math.isfinite(timestamp):
            raise VideoDecodingError(self.path, f"frame {number} has timestamp {timestamp}")
        if isinstance(frame, torch.Tensor):
            frame = frame.cpu().numpy()
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[-1] != 3:
            raise VideoDecodingError(
                self.path, f"frame {number} must have shape (height, width, 3), got {tuple(frame.shape)}"
            )
        if shape is not None and frame.shape != shape:
            raise VideoDecodingError(
                self.path, f"frame {number} has shape {tuple(frame.shape)}, the first frame {tuple(shape)}"
            )
        return timestamp, frame

    @staticmethod
    def _as_rgb(frame: np.ndarray) -> np.ndarray:
        return frame.astype(np.uint8, copy=False)


def open_stream_source(
    source,
    clip_seconds: float = 4.0,
    num_frames: int = 4,
    fps: float | None = None,
    follow: bool = False,
    idle_seconds: float = DEFAULT_IDLE_SECONDS,
    short_side: int | None = DEFAULT_SHORT_SIDE,
    decode_threads: int = 0,
) -> tuple[Any, bool]:
    """
    The clip reader [`HierarchicalCaptioner.stream`] iterates, and whether it was opened here (else it is the
    caller's): for a file path, a [`GrowingVideoReader`] with `follow=True`, else a [`VideoClipReader`]; for decoded
    frames (an array or `{"frames", "fps"}`) a [`FramesClipReader`]; for any other iterable, of `(timestamp_seconds,
    frame)` pairs, a [`TimedFramesReader`] at the nominal `fps`. A reader (any of these) is used as it is.
    """
    if isinstance(source, (VideoClipReader, FramesClipReader, GrowingVideoReader, TimedFramesReader)):
        if abs(source.clip_seconds - clip_seconds) > _TIME_EPSILON:
            raise ValueError(
                f"The reader cuts {source.clip_seconds}-s clips but the captioner expects {clip_seconds}-s clips."
            )
        return source, False
    is_path = isinstance(source, (str, os.PathLike))
    if follow:
        if not is_path:
            raise ValueError(f"follow=True needs a file path, got {type(source).__name__}.")
        return GrowingVideoReader(source, clip_seconds, num_frames, short_side, decode_threads, idle_seconds), True
    if is_path or isinstance(source, (dict, np.ndarray, torch.Tensor)):
        return open_video(source, clip_seconds, num_frames, fps, short_side, decode_threads), True
    if isinstance(source, Iterable):
        return TimedFramesReader(source, fps, clip_seconds, num_frames), True
    raise TypeError(
        "A stream source is a file path, decoded frames, or an iterable of (timestamp_seconds, frame) pairs; got "
        f"{type(source).__name__}."
    )


__all__ = [
    "DEFAULT_IDLE_SECONDS",
    "CaptionEvent",
    "CaptionStream",
    "GrowingVideoReader",
    "TimedFramesReader",
    "closable_windows",
    "micro_batches",
    "open_stream_source",
]
