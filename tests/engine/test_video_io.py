"""Decoding: windows, frame positions (checked on the decoded pixels), rates, rotation, seeking and bad inputs."""

import random
import threading
from fractions import Fraction

import numpy as np
import pytest

from tests.video_fixtures import (
    read_code,
    write_audio_only,
    write_frameless_video,
    write_video,
)
from transformers_recap.engine.video_io import (
    BackgroundIterator,
    FramesClipReader,
    VideoClipReader,
    VideoDecodingError,
    clip_frame_indices,
    open_video,
    plan_windows,
    read_clip_frames,
    scaled_size,
)
from transformers_recap.models.video_recap.processing_video_recap import clip_windows


def reference_get_frame_ids(start_frame: int, end_frame: int, num_segments: int) -> list[int]:
    """The original `get_frame_ids(..., jitter=False)`, restated loop by loop."""
    size = float(end_frame - start_frame - 1) / num_segments
    ids = []
    for index in range(num_segments):
        first = int(np.round(size * index) + start_frame)
        last = min(int(np.round(size * (index + 1)) + start_frame), end_frame)
        ids.append((first + last) // 2)
    return ids


def test_frame_positions_at_30_fps_are_the_originals():
    assert clip_frame_indices(0, 4, 30, 10_000) == [15, 45, 74, 104]
    offset = 30 * 36
    assert clip_frame_indices(36, 40, 30, 10_000) == [offset + 15, offset + 45, offset + 74, offset + 104]


@pytest.mark.parametrize("fps", [24, 25, 29.97, 12.5, 60])
def test_frame_positions_follow_the_original_arithmetic_at_the_real_rate(fps):
    num_video_frames = int(70.5 * fps)
    for start, end in clip_windows(70.5, 4.0):
        offset = int(np.round(start * fps))
        stop = min(offset + max(int((end - start) * fps), 4), num_video_frames)
        expected = reference_get_frame_ids(offset, stop, 4)
        indices = clip_frame_indices(start, end, fps, num_video_frames)
        assert indices == expected
        assert all(0 <= index < num_video_frames for index in indices)


def test_clip_windows_cover_the_video_with_a_short_last_window():
    assert clip_windows(1.0, 4.0) == [(0.0, 1.0)]
    assert clip_windows(8.0, 4.0) == [(0.0, 4.0), (4.0, 8.0)]
    assert clip_windows(10.5, 4.0) == [(0.0, 4.0), (4.0, 8.0), (8.0, 10.5)]
    assert len(clip_windows(3600.0, 4.0)) == 900
    assert clip_windows(0.0, 4.0) == []
    assert clip_windows(400, 180) == [(0, 180), (180, 360), (360, 400)]


def test_scaled_size_only_scales_down():
    assert scaled_size(640, 360, 288) == (512, 288)
    assert scaled_size(1080, 1920, 288) == (288, 512)
    assert scaled_size(320, 240, 288) == (320, 240)
    assert scaled_size(640, 360, None) == (640, 360)


@pytest.mark.parametrize(
    ("fps", "num_frames", "width", "height"),
    [
        (24, 24 * 9 + 5, 96, 64),
        (30, 30 * 5, 128, 72),
        (Fraction(25, 2), 50, 80, 96),
        (Fraction(30000, 1001), 200, 96, 64),
    ],
)
def test_decoded_frames_are_the_expected_ones(tmp_path, fps, num_frames, width, height):
    path = write_video(tmp_path / "video.mp4", num_frames, fps, width, height)
    with VideoClipReader(path) as reader:
        meta = reader.metadata
        assert meta.fps == pytest.approx(float(fps))
        assert meta.duration == pytest.approx(num_frames / float(fps), abs=1e-3)
        assert (meta.width, meta.height) == (width, height)
        assert len(reader) == len(clip_windows(meta.duration, 4.0))
        clips = list(reader)
    assert [(clip.start, clip.end) for clip in clips] == clip_windows(meta.duration, 4.0)
    assert clips[-1].end == pytest.approx(meta.duration)
    for clip in clips:
        expected = clip_frame_indices(clip.start, clip.end, meta.fps, meta.num_frames)
        assert clip.frames.shape == (4, height, width, 3) and clip.frames.dtype == np.uint8
        assert [read_code(frame) for frame in clip.frames] == expected
        assert clip.timestamps == pytest.approx([index / float(fps) for index in expected], abs=1e-3)


def test_frames_are_scaled_down_while_decoding(tmp_path):
    path = write_video(tmp_path / "large.mp4", 45, 30, 640, 360)
    with VideoClipReader(path, short_side=48) as reader:
        clip = next(iter(reader))
    assert clip.frames.shape == (4, 48, 85, 3)
    assert [read_code(frame, written_height=360) for frame in clip.frames] == clip_frame_indices(0, 1.5, 30, 45)
    with VideoClipReader(path) as reader:
        assert next(iter(reader)).frames.shape == (4, 288, 512, 3)


def test_one_second_video_gives_one_clip_of_distinct_frames(tmp_path):
    path = write_video(tmp_path / "short.mp4", 30, 30)
    with VideoClipReader(path) as reader:
        clips = list(reader)
    assert [(clip.start, clip.end) for clip in clips] == [(0.0, pytest.approx(1.0))]
    assert [read_code(frame) for frame in clips[0].frames] == [3, 10, 18, 25]


def test_rotation_metadata_is_applied(tmp_path):
    path = write_video(tmp_path / "rotated.mp4", 30, 30, width=96, height=64, rotation=90)
    with VideoClipReader(path) as reader:
        assert reader.metadata.rotation == 90
        assert (reader.metadata.width, reader.metadata.height) == (64, 96)
        frame = next(iter(reader)).frames[0]
    # Rotated 90 degrees counter-clockwise for display: the code band (top rows) becomes the left columns.
    assert frame.shape == (96, 64, 3)
    upright = np.rot90(frame, k=-1)
    assert read_code(upright) == 3


def test_variable_frame_rate_uses_timestamps(tmp_path):
    rng = random.Random(0)
    pts = [0]
    for _ in range(119):
        pts.append(pts[-1] + rng.choice([20, 40, 100]))
    path = write_video(tmp_path / "vfr.mp4", len(pts), 25, pts_ms=pts)
    with VideoClipReader(path) as reader:
        meta = reader.metadata
        clips = list(reader)
    assert meta.fps == pytest.approx(len(pts) / meta.duration, rel=0.02)
    for clip in clips:
        targets = [i / meta.fps for i in clip_frame_indices(clip.start, clip.end, meta.fps, meta.num_frames)]
        on_screen = [max(k for k, t in enumerate(pts) if t / 1000 <= target + 1e-6) for target in targets]
        assert [read_code(frame) for frame in clip.frames] == on_screen


def test_far_targets_are_reached_by_seeking(tmp_path, monkeypatch):
    path = write_video(tmp_path / "gop.mp4", 10 * 60, 10, gop=10)
    with VideoClipReader(path, clip_seconds=20.0) as reader:
        seeks = []
        original_seek = reader._seek
        monkeypatch.setattr(reader, "_seek", lambda target: seeks.append(target) or original_seek(target))
        clips = list(reader)
        meta = reader.metadata
    assert len(clips) == 3 and seeks
    for clip in clips:
        assert [read_code(f) for f in clip.frames] == clip_frame_indices(
            clip.start, clip.end, meta.fps, meta.num_frames
        )


def test_annotated_windows_are_read_in_any_order(tmp_path):
    path = write_video(tmp_path / "gop.mp4", 10 * 60, 10, gop=10)
    windows = [(41.5, 42.5), (3.0, 7.0), (55.0, 60.0), (12.25, 13.0), (0.0, 0.5)]
    with VideoClipReader(path) as reader:
        meta = reader.metadata
        codes = [[read_code(frame) for frame in reader.read_window(start, end).frames] for start, end in windows]
    assert codes == [clip_frame_indices(start, end, meta.fps, meta.num_frames) for start, end in windows]
    frames = read_clip_frames(path, 41.5, 42.5, num_frames=2)
    assert frames.shape == (2, 64, 96, 3)
    assert [read_code(frame) for frame in frames] == clip_frame_indices(41.5, 42.5, 10, meta.num_frames, 2)


def test_raw_stream_without_duration_or_timestamps(tmp_path):
    path = write_video(tmp_path / "raw.h264", 60, 25, container_format="h264")
    with VideoClipReader(path, clip_seconds=1.0) as reader:
        meta = reader.metadata
        codes = [[read_code(frame) for frame in clip.frames] for clip in reader]
    assert meta.duration == pytest.approx(2.4) and meta.fps == 25
    assert codes == [clip_frame_indices(s, e, 25, 60) for s, e in clip_windows(2.4, 1.0)]


def test_frames_reader_matches_the_file_reader(tmp_path):
    path = write_video(tmp_path / "video.mp4", 24 * 9, 24)
    with VideoClipReader(path) as reader:
        from_file = [[read_code(frame) for frame in clip.frames] for clip in reader]
    frames = np.stack([np.full((8, 8, 3), index % 256, np.uint8) for index in range(24 * 9)])
    from_array = [clip.frames[:, 0, 0, 0].tolist() for clip in open_video({"frames": frames, "fps": 24})]
    assert from_array == from_file
    assert len(FramesClipReader(frames, fps=24, clip_seconds=2.0)) == 5


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "notes.mp4").write_text("not a video") and d / "notes.mp4", "not a readable video file"),
        (lambda d: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4", "0 bytes"),
        (lambda d: write_frameless_video(d / "frameless.mp4"), "zero-length video"),
        (lambda d: write_frameless_video(d / "frameless.mkv"), "zero-length video"),
        (lambda d: write_audio_only(d / "audio.m4a"), "no video stream (audio only)"),
        (lambda d: d, "is a directory"),
    ],
)
def test_bad_inputs_raise_one_line_errors_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(VideoDecodingError) as caught:
        with VideoClipReader(path) as reader:
            list(reader)
    text = str(caught.value)
    assert message in text and str(path) in text and "\n" not in text


def test_truncated_video_is_reported(tmp_path):
    path = write_video(tmp_path / "video.mp4", 30 * 12, 30, faststart=True)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodingError, match="truncated") as caught:
        with VideoClipReader(truncated) as reader:
            list(reader)
    assert str(truncated) in str(caught.value)
    # Without `faststart` the index is at the end of the file, so the cut file does not even open.
    plain = write_video(tmp_path / "plain.mp4", 60, 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(plain.read_bytes()[:2000])
    with pytest.raises(VideoDecodingError, match="cut.mp4: not a readable video file"):
        VideoClipReader(cut)


def test_frames_input_errors():
    with pytest.raises(VideoDecodingError, match="positive frame rate"):
        FramesClipReader(np.zeros((4, 8, 8, 3), np.uint8), fps=None)
    with pytest.raises(VideoDecodingError, match="no video frames"):
        FramesClipReader(np.zeros((0, 8, 8, 3), np.uint8), fps=30)


def test_background_iterator_overlaps_and_forwards_errors():
    produced = []

    def items():
        for index in range(5):
            produced.append((index, threading.current_thread().name))
            yield index
        raise RuntimeError("decoder failed")

    iterator = BackgroundIterator(items(), buffer_size=2)
    assert next(iterator) == 0
    with pytest.raises(RuntimeError, match="decoder failed"):
        list(iterator)
    assert all(name != threading.current_thread().name for _, name in produced)
    with BackgroundIterator(iter(range(10_000)), buffer_size=1) as early:
        assert next(early) == 0


# ---------------------------------------------------------------------------------------------------------------------
# Real timestamps: gaps, the work a small file can cause, the final clip
# ---------------------------------------------------------------------------------------------------------------------

TEN_HOURS_MS = 10 * 3600 * 1000
GAP_PTS_MS = [40 * i for i in range(20)] + [TEN_HOURS_MS + 40 * i for i in range(20)]


def on_screen(pts_ms: list[int], target: float) -> int:
    """Index of the frame shown at `target` seconds: the last one whose timestamp is not after it."""
    return max(index for index, pts in enumerate(pts_ms) if pts / 1000 <= target + 1e-6)


@pytest.mark.parametrize("container_format", ["mp4", "matroska"])  # sample index / packet scan
def test_a_ten_hour_gap_is_reported_not_captioned(tmp_path, container_format):
    path = write_video(tmp_path / "gap.video", 40, 25, 64, 48, pts_ms=GAP_PTS_MS, container_format=container_format)
    assert path.stat().st_size < 8000
    with VideoClipReader(path) as reader:
        meta = reader.metadata
        clips = list(reader)
    # The rate of the real frames (40 ms apart), not 40 frames / 10 hours.
    assert meta.fps == pytest.approx(25.0)
    assert meta.duration == pytest.approx(36000.8, abs=0.05)
    # Two clips, one per burst of frames; the 8,999 windows between them are one gap.
    assert [(clip.start, clip.end) for clip in clips] == [(0.0, 4.0), (36000.0, pytest.approx(meta.duration))]
    assert [clip.index for clip in clips] == [0, 9000]
    assert reader.gaps == [(4.0, 36000.0)]
    for clip in clips:
        targets = [i / 25 for i in clip_frame_indices(clip.start, clip.end, 25, int(meta.duration * 25))]
        assert [read_code(frame) for frame in clip.frames] == [on_screen(GAP_PTS_MS, t) for t in targets]


def test_planned_clips_are_bounded_by_the_frames_whatever_the_duration(tmp_path):
    # Three frames, the last one 100 days after the others (Matroska: MP4 cannot store such a gap): 3 frames cannot
    # plan more than 3 clips.
    pts = [0, 40, 100 * 24 * 3600 * 1000]
    path = write_video(tmp_path / "far.mkv", 3, 25, pts_ms=pts, container_format="matroska")
    with VideoClipReader(path) as reader:
        clips = list(reader)
        assert len(reader) == 2 and reader.gaps == [(4.0, 8_640_000.0)]
    assert [read_code(frame) for frame in clips[1].frames] == [2, 2, 2, 2]


def test_plan_windows():
    assert plan_windows(np.arange(0, 10, 0.5), 10.0, 4.0) == (clip_windows(10.0, 4.0), [])
    # Windows without a time are gaps, merged; the trailing ones too.
    assert plan_windows([0.0, 1.0, 13.0], 30.0, 4.0) == ([(0.0, 4.0), (12.0, 16.0)], [(4.0, 12.0), (16.0, 30.0)])
    # A final window shorter than the minimum joins the window before it, if that one is kept ...
    assert plan_windows(np.arange(201) / 25, 8.04, 4.0, 1.0) == ([(0.0, 4.0), (4.0, 8.04)], [])
    assert plan_windows(np.arange(200) / 25, 8.004, 4.0, 1.0) == ([(0.0, 4.0), (4.0, 8.004)], [])
    assert plan_windows([0.0, 8.5], 9.5, 4.0, 1.0) == ([(0.0, 4.0), (8.0, 9.5)], [(4.0, 8.0)])
    # ... and stands alone after a gap, or when it is the only window.
    assert plan_windows([0.0, 8.1], 8.5, 4.0, 1.0) == ([(0.0, 4.0), (8.0, 8.5)], [(4.0, 8.0)])
    assert plan_windows([0.0], 0.3, 4.0, 1.0) == ([(0.0, 0.3)], [])
    # Times outside [0, duration) are ignored; a billion seconds plan two windows, not 250 million.
    assert plan_windows([0.0, 5.0, 1e9, 2e9], 1e9 + 2, 4.0) == ([(0.0, 4.0), (4.0, 8.0), (1e9, 1e9 + 2)], [(8.0, 1e9)])
    assert plan_windows([], 0.0, 4.0) == ([], [])


def test_a_final_clip_shorter_than_a_quarter_of_a_clip_is_merged(tmp_path):
    path = write_video(tmp_path / "tail.mp4", 201, 25)  # 8.04 s: a 40-ms window after 8 s
    with VideoClipReader(path) as reader:
        clips = list(reader)
    assert [(clip.start, clip.end) for clip in clips] == [(0.0, 4.0), (4.0, pytest.approx(8.04))]
    # The frames from 4 s to the end (frame int(8.04 * 25)), cut in four: the original's arithmetic at 25 fps.
    expected = reference_get_frame_ids(100, int(8.04 * 25), 4)
    assert [read_code(frame) for frame in clips[1].frames] == expected == [112, 137, 162, 186]
    frames = np.zeros((201, 8, 8, 3), np.uint8)
    assert FramesClipReader(frames, fps=25).windows == [(0.0, 4.0), (4.0, 8.04)]


def test_a_clip_starting_in_a_gap_reads_no_frame_from_before_it(tmp_path):
    pts = [40 * i for i in range(20)] + [TEN_HOURS_MS + 1500 + 40 * i for i in range(20)]
    path = write_video(tmp_path / "late.mp4", 40, 25, pts_ms=pts)
    with VideoClipReader(path) as reader:
        clips = list(reader)
        num_video_frames = reader.metadata.num_frames
    assert [(clip.start, clip.end) for clip in clips] == [(0.0, 4.0), (36000.0, pytest.approx(36002.3, abs=0.05))]
    targets = [i / 25 for i in clip_frame_indices(clips[1].start, clips[1].end, 25, num_video_frames)]
    # Before 36001.5 s the frame on screen is frame 19, from 10 hours earlier: the clip's first frame is read instead.
    expected = [on_screen(pts, t) if on_screen(pts, t) >= 20 else 20 for t in targets]
    assert [read_code(frame) for frame in clips[1].frames] == expected and expected[0] == 20
