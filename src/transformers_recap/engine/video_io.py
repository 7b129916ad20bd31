# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Video decoding for Video ReCap: the frames of every clip window of a video, decoded with PyAV.

Frame positions follow the original evaluation loader (`video_loader_moviepy` + `get_frame_ids`): a window
`[start, end]` is turned into frame indices with the video's frame rate, cut into `num_frames` equal parts and the
middle index of each part is taken; each index `i` is then read as the frame shown at time `i / fps`. The original
always assumed 30 fps; here the file's real average frame rate is used, which for a 30-fps video gives the original's
positions (o+15, o+45, o+74, o+104 for a 4-s clip starting at frame o). Frames are looked up by presentation
timestamp, so variable-frame-rate videos get the frame actually on screen at each time.

The reader decodes forward and seeks over gaps that contain a keyframe, converts only the selected frames to RGB,
scales them down during that conversion so that the short side is at most `short_side` pixels (288 by default, the
size of the original's training chunks made with ffmpeg's default bicubic scaler; the processor then resizes to 224),
and applies the display-matrix rotation. Only the current clip is held in memory.

The clip windows follow the stream's real frame timestamps, read before decoding from the container's sample index
(MP4, MOV) or by demuxing the packets (other containers; no decoding): a window of the `clip_seconds` grid in which no
frame is shown (a gap in the recording, e.g. 10 hours without frames) is not captioned but reported in
[`VideoClipReader.gaps`], and the frame rate used for the positions above is measured between frames, leaving gaps out,
instead of averaged over them. So the clips planned for a file are at most as many as its frames, whatever duration it
declares. The minimum final clip is a quarter of a clip ([`MIN_FINAL_CLIP_FRACTION`]: 1 s of a 4-s clip, the spacing
of its 4 sampled frames): a shorter final window is merged into the clip before it (a video of 8.004 s has the clips
0-4 s and 4-8.004 s, not a 4-ms clip of one repeated frame), unless no frame is shown in that clip (after a gap the
final window stands alone).

PyAV does the demuxing, decoding and scaling; what is written here is the frame selection, the seek policy and the
error reporting, which no library provides in this form.
"""

import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter
from transformers.utils import logging


logger = logging.get_logger(__name__)

VIDEO_EXTENSIONS = frozenset(
    {
        ".3gp",
        ".avi",
        ".flv",
        ".m2ts",
        ".m4v",
        ".mkv",
        ".mov",
        ".mp4",
        ".mpeg",
        ".mpg",
        ".mts",
        ".ogv",
        ".ts",
        ".webm",
        ".wmv",
    }
)
"""File extensions treated as videos when a directory is scanned."""

DEFAULT_SHORT_SIDE = 288
"""Short side (pixels) frames are scaled down to while decoding, as in the original's training chunks."""

MIN_FINAL_CLIP_FRACTION = 0.25
"""A video's final clip window shorter than this fraction of `clip_seconds` is merged into the clip before it."""

_TRUNCATION_TOLERANCE_SECONDS = 1.0
# Consecutive frames further apart than this are a gap in the recording: left out of the measured frame rate.
_GAP_SECONDS = 1.0
_MIN_SEEK_GAIN_SECONDS = 0.5

T = TypeVar("T")


class VideoDecodingError(Exception):
    """
    A video that cannot be decoded. `str(error)` is one line naming the file and the problem.

    Args:
        path (`str`): the file (or a description of the in-memory input).
        reason (`str`): what is wrong, e.g. `"has no video stream (audio only)"`.
    """

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoMetadata:
    r"""
    What the reader knows about a video before decoding it.

    Args:
        duration (`float`): seconds from the first frame to the end of the video stream.
        fps (`float`): average frame rate (frames / duration for a variable frame rate); for a video with gaps
            (consecutive frames more than 1 s apart), the average over the intervals between frames outside them.
        num_frames (`int`): `int(duration * fps)`, the frame count the original loader assumes (at least 1).
        width (`int`), height (`int`): displayed frame size (after rotation and sample aspect ratio).
        rotation (`int`): counter-clockwise rotation (degrees, a multiple of 90) applied to decoded frames.
        path (`str`, *optional*): the file.
    """

    duration: float
    fps: float
    num_frames: int
    width: int
    height: int
    rotation: int = 0
    path: str | None = None


@dataclass
class VideoClip:
    r"""
    The sampled frames of one clip window.

    Args:
        index (`int`): position of the window in the video (0-based).
        start (`float`), end (`float`): the window in seconds.
        frames (`np.ndarray` of shape `(num_frames, height, width, 3)`): RGB uint8 frames.
        timestamps (`list[float]`): presentation time (seconds from the first frame) of each returned frame.
    """

    index: int
    start: float
    end: float
    frames: np.ndarray
    timestamps: list[float]


def segment_middle_indices(start_frame: int, end_frame: int, num_segments: int) -> list[int]:
    """
    Cuts the frame range `[start_frame, end_frame)` into `num_segments` equal parts (boundaries rounded half to even,
    as numpy rounds) and returns the middle frame of each: the deterministic frame choice of the original
    `get_frame_ids(..., jitter=False)`.
    """
    part = (end_frame - start_frame - 1) / num_segments
    bounds = [start_frame + int(np.round(part * index)) for index in range(num_segments + 1)]
    return [(bounds[index] + min(bounds[index + 1], end_frame)) // 2 for index in range(num_segments)]


def clip_frame_indices(start: float, end: float, fps: float, num_video_frames: int, num_frames: int = 4) -> list[int]:
    """
    Frame indices the original evaluation loader reads for the window `[start, end]` (seconds), with the video's real
    frame rate instead of its fixed 30 fps: offset `round(start * fps)`, length `max(int((end - start) * fps),
    num_frames)` cut at the end of the video, `num_frames` middle indices. Always within `[0, num_video_frames)`.
    """
    num_video_frames = max(num_video_frames, 1)
    offset = int(np.round(start * fps))
    length = max(int((end - start) * fps), num_frames)
    stop = min(offset + length, num_video_frames)
    offset = min(offset, stop - 1)
    return segment_middle_indices(offset, stop, num_frames)


def plan_windows(
    times: np.ndarray | Sequence[float], duration: float, window_seconds: float, min_final_seconds: float = 0.0
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """
    The windows of `clip_windows(duration, window_seconds)` that contain at least one of `times` (seconds, e.g. the
    frame timestamps of a video), and the spans of the others, merged (the gaps). A final window shorter than
    `min_final_seconds` that follows a kept window is merged into it (`(4, 8.004)` instead of `(4, 8)` and
    `(8, 8.004)`). Computed from `times` alone, so the work is bounded by their number whatever `duration` says.
    """
    count = math.ceil(duration / window_seconds - 1e-9) if duration > 0 else 0
    if count == 0:
        return [], []
    times = np.asarray(times, dtype=np.float64)
    times = times[(times >= 0) & (times < duration)]
    occupied = np.unique(np.minimum(np.floor(times / window_seconds + 1e-9), count - 1)).astype(np.int64).tolist()
    end = count
    merge_final = count > 1 and duration - (count - 1) * window_seconds < min_final_seconds and count - 2 in occupied
    if merge_final:
        end = count - 1
        occupied = [index for index in occupied if index < end]
    windows = [(index * window_seconds, min((index + 1) * window_seconds, duration)) for index in occupied]
    if merge_final:
        windows[-1] = (windows[-1][0], duration)
    gaps, previous = [], -1
    for index in [*occupied, end]:
        if index > previous + 1:
            gaps.append(((previous + 1) * window_seconds, min(index * window_seconds, duration)))
        previous = index
    return windows, gaps


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) with the short side scaled down to `short_side` (never up), keeping the aspect ratio."""
    if short_side is None or min(width, height) <= short_side:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


class VideoClipReader:
    r"""
    Streams the sampled frames of each clip window of a video file.

    Args:
        path (`str` or `os.PathLike`): the video file.
        clip_seconds (`float`, *optional*, defaults to 4.0): window length.
        num_frames (`int`, *optional*, defaults to 4): frames per window.
        short_side (`int`, *optional*, defaults to 288): frames whose short side is longer are scaled down to it while
            decoding (`None`: keep the decoded size).
        decode_threads (`int`, *optional*, defaults to 0): decoder threads (0: FFmpeg's choice, 1: no threading).

    Raises:
        [`VideoDecodingError`]: the file is missing, not a video, has no video stream or no frames.

    Iterating yields one [`VideoClip`] per window of `windows`: the windows of [`clip_windows`] in which a frame is
    shown, a final one shorter than [`MIN_FINAL_CLIP_FRACTION`] of a clip merged into the one before it (see
    [`plan_windows`]); `gaps` lists the spans `(start, end)` of the windows left out because no frame is shown in them. A
    [`VideoDecodingError`] is raised while iterating when the data turns out to be corrupt or truncated.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        clip_seconds: float = 4.0,
        num_frames: int = 4,
        short_side: int | None = DEFAULT_SHORT_SIDE,
        decode_threads: int = 0,
    ):
        self.path = os.fspath(path)
        self.clip_seconds = float(clip_seconds)
        self.num_frames = num_frames
        self.short_side = short_side
        self._decode_threads = decode_threads
        self._container = _open_container(self.path)
        try:
            self._stream = self._select_video_stream()
            self._time_base = self._stream.time_base
            self._seconds_per_tick = float(self._time_base)
            self._start_time = float(self._stream.start_time * self._time_base) if self._stream.start_time else 0.0
            self._keyframe_times, self._frame_times = self._read_index()
            frames_end = None
            if self._frame_times is None:
                self._frame_times, frames_end = self._scan_frame_times()
            self.metadata = self._read_metadata(frames_end)
        except BaseException:
            self._container.close()
            raise
        self.windows, self.gaps = plan_windows(
            self._frame_times, self.metadata.duration, self.clip_seconds, self.clip_seconds * MIN_FINAL_CLIP_FRACTION
        )
        self._frames = None
        self._previous = None
        self._upcoming = None
        self._position = -math.inf
        self._seek_landing = None
        self._seek_threshold = 5.0
        self._seekable = True
        self._converted = (None, None)
        self._reformatter = VideoReformatter()

    def __len__(self) -> int:
        return len(self.windows)

    def __enter__(self) -> "VideoClipReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Releases the file."""
        self._frames = self._previous = self._upcoming = None
        self._converted = (None, None)
        self._container.close()

    # ----------------------------------------------------------------------------------------------------------------
    # Opening
    # ----------------------------------------------------------------------------------------------------------------

    def _select_video_stream(self) -> "av.video.stream.VideoStream":
        return select_video_stream(self._container, self.path, self._decode_threads)

    def _header_rate(self) -> Fraction | None:
        stream = self._stream
        return stream.average_rate or stream.guessed_rate or stream.base_rate

    def _read_metadata(self, frames_end: float | None) -> VideoMetadata:
        stream = self._stream
        duration = None
        if stream.duration:
            duration = float(stream.duration * self._time_base)
        elif self._container.duration:
            container_start = (self._container.start_time or 0) / av.time_base
            duration = self._container.duration / av.time_base - max(self._start_time - container_start, 0.0)
        rate = self._header_rate()
        if not duration or duration <= 0:
            duration = frames_end if frames_end is not None else self._scan_frame_times()[1]
        if not rate:
            rate = Fraction(len(self._frame_times)) / Fraction(duration).limit_denominator(1_000_000)
        fps = _footage_rate(self._frame_times, float(rate))
        first = self._peek_first_frame()
        rotation = _rotation_of(first)
        width, height = first.width, first.height
        aspect = stream.sample_aspect_ratio
        if aspect and aspect > 0 and aspect != 1:
            width = max(1, round(width * float(aspect)))
        if rotation % 180:
            width, height = height, width
        return VideoMetadata(
            duration=duration,
            fps=fps,
            num_frames=max(1, int(duration * fps)),
            width=width,
            height=height,
            rotation=rotation,
            path=self.path,
        )

    def _read_index(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """
        Keyframe times (seconds, decode order timestamps) from the container index, when it has one, and the times of
        every frame when the index lists them all (MP4, MOV). Index timestamps are decode times; the sorted ones,
        shifted to start at 0, are the presentation times of a constant-rate stream (a variable rate with B-frames
        puts a time off by up to a frame).
        """
        entries = self._stream.index_entries
        if entries is None or len(entries) == 0:
            return None, None
        listed = [entry for entry in entries if not entry.is_discard and entry.size > 0]
        keyframes = [entry.timestamp for entry in listed if entry.is_keyframe]
        tick = float(self._time_base)
        keyframe_times = np.asarray(keyframes, dtype=np.float64) * tick - self._start_time if keyframes else None
        frame_times = None
        if self._stream.frames and len(listed) == self._stream.frames:
            ticks = np.sort(np.asarray([entry.timestamp for entry in listed], dtype=np.int64))
            frame_times = (ticks - ticks[0]).astype(np.float64) * tick
        return keyframe_times, frame_times

    def _scan_frame_times(self) -> tuple[np.ndarray, float]:
        """
        Presentation times of every frame (seconds from the first, sorted) and the end of the last one, from the
        packets, for containers whose index does not list every frame: demuxed from a second opening of the file (raw
        streams often cannot seek back), not decoded. Packets without timestamps (raw elementary streams) are counted
        at the header's frame rate.
        """
        ticks, ends, count = [], [], 0
        try:
            with av.open(self.path, mode="r") as container:
                stream = container.streams.video[0]
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue  # the demuxer's final flush packet
                    count += 1
                    if packet.pts is not None:
                        ticks.append(packet.pts)
                        ends.append(packet.pts + (packet.duration or 0))
        except av.FFmpegError as error:
            raise VideoDecodingError(self.path, f"corrupt video data ({_describe(error)})") from None
        if not count:
            raise VideoDecodingError(self.path, "contains no video frames (zero-length video)")
        end = max(ends) * self._seconds_per_tick - self._start_time if ends else 0.0
        if len(ticks) < count or end <= 0:
            rate = self._header_rate()
            if not rate:
                raise VideoDecodingError(self.path, "has neither timestamps nor a frame rate")
            return np.arange(count, dtype=np.float64) / float(rate), count / float(rate)
        times = np.sort(np.asarray(ticks, dtype=np.int64)).astype(np.float64) * self._seconds_per_tick
        return times - self._start_time, end

    def _peek_first_frame(self) -> "av.VideoFrame":
        # A second, single-threaded opening of the file: the decoder of the main one is only opened by the thread that
        # iterates, whose scheduling priority its worker threads then inherit.
        try:
            with av.open(self.path, mode="r") as container:
                stream = container.streams.video[0]
                stream.codec_context.thread_count = 1
                for frame in container.decode(stream):
                    return frame
        except av.FFmpegError as error:
            raise VideoDecodingError(self.path, f"corrupt video data ({_describe(error)})") from None
        raise VideoDecodingError(self.path, "contains no video frames (zero-length video)")

    # ----------------------------------------------------------------------------------------------------------------
    # Decoding
    # ----------------------------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[VideoClip]:
        for start, end in self.windows:
            yield self.read_window(start, end, index=round(start / self.clip_seconds))

    def read_window(self, start: float, end: float, index: int = 0) -> VideoClip:
        """
        The sampled frames of any window `[start, end]` (seconds), e.g. an annotated clip. Windows are read fastest
        in time order; an earlier window than the last one read reopens the decoder at the nearest keyframe. A
        position in a gap that started before the window (no frame for more than 1 s) reads the window's first frame,
        not the last frame before the gap.
        """
        meta = self.metadata
        indices = clip_frame_indices(start, end, meta.fps, meta.num_frames, self.num_frames)
        if self._frames is not None and indices[0] / meta.fps < self._position:
            self._restart()
        frames, timestamps = [], []
        for frame_index in indices:
            target = frame_index / meta.fps
            frame, timestamp = self._frame_at(target)
            upcoming = self._upcoming
            if upcoming is not None and upcoming[1] <= end and timestamp < start and target - timestamp > _GAP_SECONDS:
                # In a gap that began before the window: the window's first frame instead.
                frame, timestamp = upcoming
            frames.append(self._to_rgb(frame))
            timestamps.append(timestamp)
        return VideoClip(index=index, start=start, end=end, frames=np.stack(frames), timestamps=timestamps)

    def _restart(self) -> None:
        """Reopens the file, so that the next frame is found from the start or by a seek (for going back in time)."""
        self._container.close()
        self._container = _open_container(self.path)
        self._stream = self._select_video_stream()
        self._frames = self._previous = self._upcoming = self._seek_landing = None
        self._position = -math.inf

    def _frame_time(self, frame: "av.VideoFrame") -> float:
        if frame.pts is None:
            # No timestamps (e.g. a raw elementary stream): count frames from the start, which rules out seeking.
            self._seekable = False
            return self._position + 1.0 / self.metadata.fps if self._position > -math.inf else 0.0
        return frame.pts * self._seconds_per_tick - self._start_time

    def _should_seek(self, target: float) -> bool:
        if not self._seekable or target - self._position < _MIN_SEEK_GAIN_SECONDS:
            return False
        if self._keyframe_times is not None:
            # Seek only when a keyframe lies between the decoder's position and the target: decoding from there skips
            # everything before it.
            index = np.searchsorted(self._keyframe_times, target, side="right") - 1
            return index >= 0 and self._keyframe_times[index] > self._position + _MIN_SEEK_GAIN_SECONDS
        return target - self._position > self._seek_threshold

    def _seek(self, target: float) -> bool:
        """Seeks to the keyframe at or before `target`; `False` (and no more seeking) where the input cannot seek."""
        offset = int(math.floor((max(target, 0.0) + self._start_time) / self._time_base))
        try:
            self._container.seek(offset, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError:
            self._seekable = False
            return False
        self._frames = self._container.decode(self._stream)
        self._previous = self._upcoming = self._seek_landing = None
        return True

    def _next_frame(self) -> "av.VideoFrame | None":
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except av.FFmpegError as error:
            raise VideoDecodingError(
                self.path, f"corrupt video data after {max(self._position, 0.0):.2f} s ({_describe(error)})"
            ) from None

    def _frame_at(self, target: float) -> tuple["av.VideoFrame", float]:
        """The frame on screen at `target` seconds: the last frame whose timestamp is not after it."""
        # A frame stamped up to half a time-base unit after `target` is the frame of `target` (timestamp rounding).
        limit = target + self._seconds_per_tick / 2 + 1e-9
        if self._frames is not None:
            seek = self._should_seek(target)
        else:
            # A fresh decoder starts at the beginning of the file; seek only past a keyframe the index names.
            seek = self._keyframe_times is not None and target > 0 and self._should_seek(target)
        if seek and self._seek(target):
            position_before = self._position
            self._advance_to(limit)
            seek_time, backoff = target, 1.0
            while self._previous is None and seek_time > 0:
                # The seek overshot (index timestamps are decode times): start from an earlier keyframe.
                seek_time = max(target - backoff, 0.0)
                if not self._seek(seek_time):
                    break
                self._advance_to(limit)
                backoff *= 2
            if self._seek_landing is not None and self._seek_landing <= position_before:
                # The seek went back to where decoding already was (no keyframe in between): seek less eagerly.
                self._seek_threshold *= 2
        else:
            if self._frames is None:
                self._frames = self._container.decode(self._stream)
            self._advance_to(limit)
        if self._previous is not None:
            frame, timestamp = self._previous
            if self._upcoming is None and self._listed_time(target) - timestamp > _TRUNCATION_TOLERANCE_SECONDS:
                raise VideoDecodingError(
                    self.path,
                    f"truncated or corrupt: no frames after {timestamp:.2f} s of the {self.metadata.duration:.2f} s "
                    "the container declares",
                )
            return frame, timestamp
        if self._upcoming is not None:
            # The first frame is shown after `target` (e.g. target 0 and a first timestamp of 0.033 s): use it.
            return self._upcoming
        raise VideoDecodingError(self.path, "contains no decodable video frames")

    def _listed_time(self, target: float) -> float:
        """The time of the frame the index or the packets put on screen at `target` (the decoder should reach it)."""
        index = np.searchsorted(self._frame_times, target + self._seconds_per_tick / 2 + 1e-9, side="right") - 1
        return float(self._frame_times[max(index, 0)])

    def _advance_to(self, limit: float) -> None:
        """Decodes until the next frame would be shown after `limit`; keeps the last one shown at or before it."""
        if self._upcoming is not None:
            if self._upcoming[1] > limit:
                return
            self._previous, self._upcoming = self._upcoming, None
        while (frame := self._next_frame()) is not None:
            timestamp = self._frame_time(frame)
            self._position = timestamp
            if self._seek_landing is None:
                self._seek_landing = timestamp
            if timestamp > limit:
                self._upcoming = (frame, timestamp)
                return
            self._previous = (frame, timestamp)

    def _to_rgb(self, frame: "av.VideoFrame") -> np.ndarray:
        cached_frame, cached_array = self._converted
        if cached_frame is frame:
            return cached_array
        array = frame_to_rgb(frame, self._reformatter, self._stream.sample_aspect_ratio, self.short_side, self.path)
        self._converted = (frame, array)
        return array


def select_video_stream(
    container: "av.container.InputContainer", path: str, decode_threads: int = 0
) -> "av.video.stream.VideoStream":
    """
    The first video stream of an open container, set to decode with `decode_threads` threads (0: FFmpeg's choice).

    Raises:
        [`VideoDecodingError`]: the container has no video stream.
    """
    streams = container.streams
    if not streams.video:
        if streams.audio:
            raise VideoDecodingError(path, "has no video stream (audio only)")
        if not len(streams):
            raise VideoDecodingError(path, "contains no streams (zero-length video)")
        raise VideoDecodingError(path, "has no video stream")
    stream = streams.video[0]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = decode_threads
    return stream


def frame_to_rgb(
    frame: "av.VideoFrame",
    reformatter: VideoReformatter,
    sample_aspect_ratio: Fraction | None,
    short_side: int | None,
    path: str,
) -> np.ndarray:
    """
    A decoded frame as RGB uint8 `(height, width, 3)`: stretched to square pixels, scaled down so that the short side
    is at most `short_side` (bicubic) and turned by its display rotation.

    Args:
        frame (`av.VideoFrame`): the decoded frame.
        reformatter (`VideoReformatter`): reused between the frames of a video (it keeps FFmpeg's scaler context;
            `to_ndarray` builds a new one per frame: 30x slower on small frames, 2x on 640x360).
        sample_aspect_ratio (`Fraction`, *optional*): the stream's pixel aspect ratio.
        short_side (`int`, *optional*): see [`scaled_size`].
        path (`str`): how errors name the video.
    """
    width, height = frame.width, frame.height
    if sample_aspect_ratio and sample_aspect_ratio > 0 and sample_aspect_ratio != 1:
        width = max(1, round(width * float(sample_aspect_ratio)))
    out_width, out_height = scaled_size(width, height, short_side)
    try:
        rgb = reformatter.reformat(frame, width=out_width, height=out_height, format="rgb24", interpolation="BICUBIC")
        array = rgb.to_ndarray()
    except av.FFmpegError as error:
        raise VideoDecodingError(path, f"cannot convert a frame to RGB ({_describe(error)})") from None
    rotation = _rotation_of(frame)
    if rotation:
        array = np.ascontiguousarray(np.rot90(array, k=rotation // 90))
    return array


class FramesClipReader:
    r"""
    The clip windows of a video that is already decoded: the same windows (`gaps` is always empty) and frame positions
    as [`VideoClipReader`], on an array of frames at a constant frame rate.

    Args:
        frames (`np.ndarray` or `torch.Tensor` of shape `(num_video_frames, height, width, 3)`): RGB uint8 frames.
        fps (`float`): their frame rate.
        clip_seconds (`float`, *optional*, defaults to 4.0), num_frames (`int`, *optional*, defaults to 4)
        name (`str`, *optional*): how errors refer to the input.
    """

    def __init__(
        self,
        frames: np.ndarray | torch.Tensor | Sequence[np.ndarray],
        fps: float,
        clip_seconds: float = 4.0,
        num_frames: int = 4,
        name: str = "<frames>",
    ):
        if isinstance(frames, torch.Tensor):
            frames = frames.cpu().numpy()
        elif not isinstance(frames, np.ndarray):
            frames = np.stack([np.asarray(frame) for frame in frames]) if len(frames) else np.zeros((0, 1, 1, 3))
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise VideoDecodingError(
                name, f"frames must have shape (num_frames, height, width, 3), got {tuple(frames.shape)}"
            )
        if len(frames) == 0:
            raise VideoDecodingError(name, "contains no video frames (zero-length video)")
        if fps is None or not fps > 0:
            raise VideoDecodingError(name, f"needs a positive frame rate (fps), got {fps!r}")
        self.path = name
        self.frames = frames
        self.clip_seconds = float(clip_seconds)
        self.num_frames = num_frames
        height, width = frames.shape[1:3]
        duration = len(frames) / fps
        self.metadata = VideoMetadata(
            duration=duration, fps=float(fps), num_frames=len(frames), width=width, height=height, path=name
        )
        self.windows, self.gaps = plan_windows(
            np.arange(len(frames)) / float(fps),
            duration,
            self.clip_seconds,
            self.clip_seconds * MIN_FINAL_CLIP_FRACTION,
        )

    def __len__(self) -> int:
        return len(self.windows)

    def __enter__(self) -> "FramesClipReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present for symmetry with [`VideoClipReader`]."""

    def __iter__(self) -> Iterator[VideoClip]:
        meta = self.metadata
        for start, end in self.windows:
            indices = clip_frame_indices(start, end, meta.fps, meta.num_frames, self.num_frames)
            frames = np.ascontiguousarray(self.frames[indices]).astype(np.uint8, copy=False)
            index = round(start / self.clip_seconds)
            yield VideoClip(index, start, end, frames, [frame_index / meta.fps for frame_index in indices])


class BackgroundIterator(Iterator[T]):
    r"""
    Runs an iterable in a background thread and keeps up to `buffer_size` of its items ready, so that decoding (which
    PyAV does without holding the GIL) overlaps with model compute. Exceptions are re-raised where the items are
    consumed. The standard library has no bounded background iterator, hence this small class.

    Args:
        iterable (`Iterable`): what to run.
        buffer_size (`int`): items produced ahead of the consumer.
        niceness (`int`, *optional*, defaults to 0): added to the thread's scheduling niceness (Linux; ignored
            elsewhere), so that it uses CPU time the consumer leaves idle rather than preempting its compute threads.
    """

    _DONE = object()

    def __init__(self, iterable: Iterable[T], buffer_size: int = 2, niceness: int = 0):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, buffer_size))
        self._stop = threading.Event()
        self._niceness = niceness
        self._thread = threading.Thread(target=self._produce, args=(iter(iterable),), daemon=True)
        self._thread.start()

    def _produce(self, iterator: Iterator[T]) -> None:
        if self._niceness and hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
            try:
                # On Linux, PRIO_PROCESS with a thread id sets that thread's priority (and its future children's).
                thread_id = threading.get_native_id()
                os.setpriority(os.PRIO_PROCESS, thread_id, os.getpriority(os.PRIO_PROCESS, thread_id) + self._niceness)
            except OSError:
                pass
        try:
            for item in iterator:
                if not self._put((item, None)):
                    return
            self._put((self._DONE, None))
        except BaseException as error:  # handed to the consumer
            self._put((self._DONE, error))

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __next__(self) -> T:
        if self._stop.is_set():
            raise StopIteration
        return self._unpack(*self._queue.get())

    def poll(self, timeout: float | None = 0.0) -> T | None:
        """
        The next item if one is produced within `timeout` seconds (0: only one already waiting; `None`: wait as long as
        it takes), else `None`. Raises `StopIteration` at the end, like `next`.
        """
        if self._stop.is_set():
            raise StopIteration
        try:
            entry = self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        except queue.Empty:
            return None
        return self._unpack(*entry)

    def _unpack(self, item, error: BaseException | None) -> T:
        if item is self._DONE:
            self._stop.set()
            if error is not None:
                raise error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stops the producer thread and waits for it."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> "BackgroundIterator[T]":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_video(
    video: "str | os.PathLike | dict | np.ndarray | torch.Tensor",
    clip_seconds: float = 4.0,
    num_frames: int = 4,
    fps: float | None = None,
    short_side: int | None = DEFAULT_SHORT_SIDE,
    decode_threads: int = 0,
) -> VideoClipReader | FramesClipReader:
    """
    A clip reader for `video`: a file path, decoded frames `(num_video_frames, height, width, 3)` with `fps`, or a
    dict `{"frames": ..., "fps": ...}`.
    """
    if isinstance(video, dict):
        if "frames" not in video:
            raise ValueError("A dict video input needs 'frames' (num_frames, height, width, 3) and 'fps'.")
        return FramesClipReader(video["frames"], video.get("fps", fps), clip_seconds, num_frames)
    if isinstance(video, (np.ndarray, torch.Tensor)):
        return FramesClipReader(video, fps, clip_seconds, num_frames)
    return VideoClipReader(video, clip_seconds, num_frames, short_side=short_side, decode_threads=decode_threads)


def read_clip_frames(
    path: str | os.PathLike,
    start: float,
    end: float,
    num_frames: int = 4,
    short_side: int | None = DEFAULT_SHORT_SIDE,
) -> np.ndarray:
    """
    The `num_frames` sampled RGB frames `(num_frames, height, width, 3)` of the window `[start, end]` of a video file
    (the frames [`VideoClipReader`] gives that window), for training and evaluating on annotated clips.

    Raises:
        [`VideoDecodingError`]: the video cannot be read.
    """
    with VideoClipReader(
        path, clip_seconds=max(end - start, 1e-3), num_frames=num_frames, short_side=short_side
    ) as reader:
        return reader.read_window(start, end).frames


def _footage_rate(times: np.ndarray, header_rate: float) -> float:
    """
    The header's average frame rate or, when consecutive frames lie more than 1 s apart (gaps in the recording, over
    which an average says nothing: 40 frames in 10 hours are 0.001 fps), the frames per second between frames outside
    the gaps.
    """
    intervals = np.diff(times)
    steady = intervals[intervals <= _GAP_SECONDS]
    if len(steady) == len(intervals) or not len(steady) or steady.sum() <= 0:
        return header_rate
    # Frame rates are ratios of small integers (25, 30000/1001): undo the rounding of the summed float intervals.
    return float(Fraction(len(steady) / float(steady.sum())).limit_denominator(1001))


def _open_container(path: str) -> "av.container.InputContainer":
    if not os.path.exists(path):
        raise VideoDecodingError(path, "no such file")
    if os.path.isdir(path):
        raise VideoDecodingError(path, "is a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoDecodingError(path, "is empty (0 bytes; zero-length video)")
    try:
        return av.open(path, mode="r")
    except av.error.EOFError:
        raise VideoDecodingError(path, "ends before any video data (zero-length video)") from None
    except av.FFmpegError as error:
        raise VideoDecodingError(path, f"not a readable video file ({_describe(error)})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise VideoDecodingError(path, f"cannot be opened ({error})") from None


def _rotation_of(frame: "av.VideoFrame") -> int:
    """Counter-clockwise display rotation of a decoded frame, rounded to a multiple of 90 degrees, in [0, 360)."""
    try:
        rotation = frame.rotation
    except (AttributeError, ValueError):
        return 0
    return (round((rotation or 0) / 90) * 90) % 360


def _describe(error: Exception) -> str:
    """A one-line description of an FFmpeg error (its message without the file name PyAV appends)."""
    message = getattr(error, "strerror", None) or str(error)
    return " ".join(str(message).split())


__all__ = [
    "DEFAULT_SHORT_SIDE",
    "VIDEO_EXTENSIONS",
    "MIN_FINAL_CLIP_FRACTION",
    "BackgroundIterator",
    "FramesClipReader",
    "VideoClip",
    "VideoClipReader",
    "VideoDecodingError",
    "VideoMetadata",
    "clip_frame_indices",
    "frame_to_rgb",
    "open_video",
    "plan_windows",
    "read_clip_frames",
    "scaled_size",
    "segment_middle_indices",
    "select_video_stream",
]
