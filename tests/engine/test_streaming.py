"""Streaming: event order and timing, equality with `caption_video`, growing files, timed frames, micro-batches."""

import logging
import math
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from tests.video_fixtures import code_frame, load_tiny, read_code, save_tiny_model, write_video
from transformers_recap import HierarchicalCaptioner, VideoDecodingError
from transformers_recap.engine.streaming import (
    CaptionEvent,
    GrowingVideoReader,
    TimedFramesReader,
    closable_windows,
)
from transformers_recap.engine.video_io import FramesClipReader, VideoClipReader


CLIP, SEGMENT = 4.0, 8.0
GATE_TIMEOUT = 60.0  # only guards against a hang; a gate that times out fails the test
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_tiny(save_tiny_model(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 21.5 s at 24 fps: 6 clips (the last 1.5 s long), 3 segments of 8 s (the last 5.5 s long).
    return write_video(tmp_path_factory.mktemp("videos") / "video.ts", int(21.5 * 24), 24, container_format="mpegts")


def captioner(tiny, **options) -> HierarchicalCaptioner:
    model, processor = tiny
    # Short captions keep the tests fast; the windows and the order do not depend on them.
    generate_kwargs = {"max_new_tokens": 4}
    return HierarchicalCaptioner(
        model, processor, segment_seconds=SEGMENT, generate_kwargs=generate_kwargs, progress=False, **options
    )


def expected_order(duration: float, batch_size: int) -> list[tuple[str, int]]:
    """
    The event order the window rule gives: the clips of each batch, then every segment whose feature rows
    `int(s / 4) .. int(e // 4)` (the original's slice, one row past the segment) are all encoded; at the end the
    rest of the segments and the summary.
    """
    num_clips = math.ceil(duration / CLIP)
    num_segments = math.ceil(duration / SEGMENT)
    order, closed = [], 0
    for first in range(0, num_clips, batch_size):
        encoded = min(first + batch_size, num_clips)
        order += [("clip", index) for index in range(first, encoded)]
        while closed < num_segments and (closed + 1) * SEGMENT // CLIP < encoded:
            order.append(("segment", closed))
            closed += 1
    return order + [("segment", index) for index in range(closed, num_segments)] + [("video", 0)]


def write_growing(path, num_frames: int, fps: int, container_format: str, options=None, gate=None) -> None:
    """
    Writes an H.264 video (frame i shows code i) packet by packet; a [`ClipGate`] `gate` holds the writer back until
    the reader has caught up.
    """
    with av.open(str(path), "w", format=container_format, options={**(options or {}), "flush_packets": "1"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "12", "g": str(fps), "tune": "zerolatency"}
        for index in range(num_frames):
            if gate is not None:
                gate(index)
            frame = av.VideoFrame.from_ndarray(code_frame(index, 96, 64, index), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        if gate is not None:
            gate.finish(num_frames / fps)
        for packet in stream.encode():
            out.mux(packet)


class ClipGate:
    """
    Holds a source back until the reader has caught up: the frame that completes clip window `k + lead` is produced
    only once the caption event of clip `k` has been received. Records whether any wait ran out.
    """

    def __init__(self, fps: float, lead: int):
        self.fps, self.lead = fps, lead
        self.received = threading.Condition()
        self.clips_received = 0
        self.timed_out = False
        self.produced = 0

    def __call__(self, index: int) -> None:
        completes = math.floor(index / self.fps / CLIP + 1e-9) - 1  # the window this frame's time completes
        needed = completes - self.lead + 1
        with self.received:
            if not self.received.wait_for(lambda: self.clips_received >= needed, timeout=GATE_TIMEOUT):
                self.timed_out = True
        self.produced = index + 1

    def finish(self, duration: float) -> None:
        """Waits until every clip but the last is received, so that the last clip comes alone."""
        with self.received:
            if not self.received.wait_for(
                lambda: self.clips_received >= math.ceil(duration / CLIP) - 1, timeout=GATE_TIMEOUT
            ):
                self.timed_out = True

    def receive(self, event: CaptionEvent) -> None:
        if event.level == "clip":
            with self.received:
                self.clips_received = event.index + 1
                self.received.notify_all()


# ---------------------------------------------------------------------------------------------------------------------
# Windows and order
# ---------------------------------------------------------------------------------------------------------------------


def test_a_segment_closes_once_the_clip_after_it_is_encoded():
    # The original gives [0, 180] the rows int(0 / 4) .. int(180 // 4) = 0 .. 45: 46 rows.
    assert closable_windows(0, 45, 180.0, 4.0) == []
    assert closable_windows(0, 46, 180.0, 4.0) == [(0.0, 180.0)]
    assert closable_windows(1, 91, 180.0, 4.0) == [(180.0, 360.0)]
    assert closable_windows(0, 5, 8.0, 4.0) == [(0.0, 8.0), (8.0, 16.0)]


@pytest.mark.parametrize("batch_size", [1, 4])
def test_event_order_and_equality_with_caption_video_on_a_file(tiny, video, batch_size):
    recap = captioner(tiny, batch_size=batch_size)
    stream = recap.stream(str(video))
    events = list(stream)
    assert [(event.level, event.index) for event in events] == expected_order(21.5, batch_size)
    reference = recap.caption_video(str(video))
    assert stream.captions == reference
    assert [(e.start, e.end, e.text) for e in events if e.level == "clip"] == [
        (c.start, c.end, c.text) for c in reference.clips
    ]
    assert events[-1] == CaptionEvent("video", 0, 0.0, 21.5, reference.summary, final=True)


def test_levels_and_a_reader_passed_in(tiny, video):
    recap = captioner(tiny, levels=("clip",))
    with VideoClipReader(video) as reader:
        stream = recap.stream(reader)
        assert {event.level for event in stream} == {"clip"}
    assert stream.captions == recap.caption_video(str(video))
    with pytest.raises(ValueError, match="2.0-s clips"):
        list(recap.stream(VideoClipReader(video, clip_seconds=2)))


def test_running_summaries_summarise_the_video_so_far(tiny, video):
    recap = captioner(tiny, batch_size=1)
    stream = recap.stream(str(video), summary_every=1)
    events = list(stream)
    summaries = [event for event in events if event.level == "video"]
    assert [(s.index, s.start, s.end, s.final) for s in summaries] == [
        (0, 0.0, 8.0, False),
        (1, 0.0, 16.0, False),
        (2, 0.0, 21.5, True),
    ]
    # Each running summary comes right after the segment it is the first to cover.
    assert [events[events.index(s) - 1].end for s in summaries[:2]] == [8.0, 16.0]
    assert summaries[-1].text == stream.captions.summary
    # Independently: the non-streaming levels on the video cut at the summary's end (plus the clip feature after it).
    cls_features, clips = recap.caption_clips(VideoClipReader(video))
    for summary in summaries[:2]:
        rows = int(summary.end // CLIP) + 1
        inside = [clip for clip in clips if clip.end <= summary.end]
        assert summary.text == recap.caption_features(cls_features[:rows], inside, summary.end).summary


# ---------------------------------------------------------------------------------------------------------------------
# Timed frames (a camera)
# ---------------------------------------------------------------------------------------------------------------------


def test_timed_frames_give_the_clips_of_the_decoded_array():
    fps = 15
    frames = np.random.default_rng(0).integers(0, 255, (int(9.4 * fps), 20, 24, 3), dtype=np.uint8)
    expected = list(FramesClipReader(frames, fps))
    reader = TimedFramesReader(((1000.0 + i / fps, frame) for i, frame in enumerate(frames)), fps)
    clips = list(reader)
    assert [(c.start, c.end) for c in clips] == [(e.start, e.end) for e in expected] == [(0, 4), (4, 8), (8, 9.4)]
    for clip, reference in zip(clips, expected, strict=True):
        np.testing.assert_array_equal(clip.frames, reference.frames)
    assert reader.metadata.duration == len(frames) / fps


def test_timed_frames_pick_the_frame_on_screen_with_drops_and_jitter():
    fps = 10
    rng = np.random.default_rng(1)
    kept = [i for i in range(95) if i % 7 != 3]  # dropped frames
    times = [i / fps + rng.uniform(-0.02, 0.02) for i in kept]
    frames = [np.full((4, 4, 3), i, np.uint8) for i in kept]
    clips = list(TimedFramesReader(zip(times, frames, strict=True), fps))
    # Reference: for each original frame index, the last frame shown at or before index / fps (from the first frame).
    num_video_frames = round((times[-1] - times[0]) * fps) + 1
    for clip in clips:
        offset = int(np.round(clip.start * fps))
        stop = min(offset + max(int((clip.end - clip.start) * fps), 4), num_video_frames)
        part = (stop - offset - 1) / 4
        bounds = [offset + int(np.round(part * j)) for j in range(5)]
        indices = [(bounds[j] + min(bounds[j + 1], stop)) // 2 for j in range(4)]
        shown = [max(k for k, t in zip(kept, times, strict=True) if t - times[0] <= i / fps + 1e-6) for i in indices]
        assert clip.frames[:, 0, 0, 0].tolist() == shown


def test_timed_frames_stream_equals_caption_video_and_comes_while_frames_arrive(tiny):
    fps = 12
    frames = np.random.default_rng(2).integers(0, 255, (int(21.5 * fps), 32, 40, 3), dtype=np.uint8)
    gate = ClipGate(fps, lead=1)

    def camera():
        for index, frame in enumerate(frames):
            gate(index)
            yield 5.0 + index / fps, frame

    recap = captioner(tiny, batch_size=8)
    stream = recap.stream(camera(), fps=fps)
    produced = {}
    for event in stream:
        produced[event.level, event.index] = gate.produced
        gate.receive(event)
    assert not gate.timed_out
    # Clip k's caption came before the camera gave the frame that completes window k + 2.
    for index in range(5):
        assert produced["clip", index] <= round((index + 2) * CLIP * fps)
    assert stream.captions == recap.caption_video(frames, fps=fps)


def test_live_sources_are_captioned_as_they_come_and_micro_batched_on_request(tiny, monkeypatch):
    fps = 6
    frames = np.random.default_rng(3).integers(0, 255, (int(21.5 * fps), 24, 24, 3), dtype=np.uint8)
    model = tiny[0]
    batches = []
    generate = model.generate

    def spy_generate(**kwargs):
        if kwargs["level"] == "clip":
            batches.append(len(kwargs["video_features"]))
        return generate(**kwargs)

    monkeypatch.setattr(model, "generate", spy_generate)
    gate = ClipGate(fps, lead=1)  # the next clip is complete only once the last one's caption is out

    def camera():
        for index, frame in enumerate(frames):
            gate(index)
            yield index / fps, frame
        gate.finish(len(frames) / fps)

    recap = captioner(tiny, batch_size=8, levels=("clip",))
    for event in recap.stream(camera(), fps=fps):
        gate.receive(event)
    assert not gate.timed_out and batches == [1] * 6
    batches.clear()
    list(recap.stream(((index / fps, frame) for index, frame in enumerate(frames)), fps=fps, max_latency=math.inf))
    assert batches == [6]  # waits for full batches (here: the whole video)


def test_timed_frames_errors():
    with pytest.raises(VideoDecodingError, match="positive nominal frame rate"):
        TimedFramesReader(iter([]), fps=None)
    with pytest.raises(VideoDecodingError, match="no video frames"):
        list(TimedFramesReader(iter([]), fps=10))
    with pytest.raises(VideoDecodingError, match="frame 1 has timestamp 0.500 s, before the previous frame's 1.000"):
        list(TimedFramesReader([(1.0, np.zeros((4, 4, 3))), (0.5, np.zeros((4, 4, 3)))], fps=10))
    with pytest.raises(VideoDecodingError, match=r"frame 0 must have shape \(height, width, 3\)"):
        list(TimedFramesReader([(0.0, np.zeros((4, 4)))], fps=10))
    with pytest.raises(VideoDecodingError, match="item 0 is not a"):
        list(TimedFramesReader([np.zeros((4, 4, 3))], fps=10))


# ---------------------------------------------------------------------------------------------------------------------
# A file that grows while it is read
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "container_format, extension, options", [("mpegts", "ts", None), ("mp4", "mp4", FRAGMENTED_MP4)]
)
def test_growing_file_written_by_a_thread(tiny, tmp_path, caplog, container_format, extension, options):
    path, fps, num_frames = tmp_path / f"recording.{extension}", 24, int(21.5 * 24)
    gate = ClipGate(fps, lead=1)
    writer = threading.Thread(target=write_growing, args=(path, num_frames, fps, container_format, options, gate))
    recap = captioner(tiny, batch_size=4)
    caplog.set_level(logging.INFO, logger="transformers_recap.engine.streaming")
    writer.start()
    try:
        stream = recap.stream(str(path), follow=True, idle_seconds=GATE_TIMEOUT)
        events, written = [], {}
        for event in stream:
            events.append((event.level, event.index))
            written[event.level, event.index] = gate.produced
            gate.receive(event)
    finally:
        writer.join()
    assert not gate.timed_out
    # The writer was held until each clip's caption was out: every clip came while the file was growing.
    for index in range(4):
        assert written["clip", index] <= round((index + 2) * CLIP * fps) < num_frames
    assert events == expected_order(21.5, 1)  # the clips came one at a time, as written
    assert "the writer closed it" in caplog.text
    assert stream.captions == recap.caption_video(str(path))


def test_growing_reader_picks_the_frames_of_the_finished_file(tmp_path):
    path = write_video(tmp_path / "done.ts", int(10.3 * 25), 25, container_format="mpegts")
    clips = list(GrowingVideoReader(path, idle_seconds=0.3))
    with VideoClipReader(path) as reader:
        expected = list(reader)
    assert [(c.start, c.end) for c in clips] == [(e.start, e.end) for e in expected] == [(0, 4), (4, 8), (8, 10.28)]
    for clip, reference in zip(clips, expected, strict=True):
        np.testing.assert_array_equal(clip.frames, reference.frames)
        assert clip.timestamps == pytest.approx(reference.timestamps)
    # The original's frame ids at 25 fps for [0, 4] (`get_frame_ids(0, 100, 4)`), read off the pixels.
    assert [read_code(frame) for frame in clips[0].frames] == [12, 37, 62, 86]


def test_idle_timeout_stops_following_a_file_its_writer_keeps_open(tmp_path, caplog):
    path = write_video(tmp_path / "stalled.ts", int(6.5 * 24), 24, container_format="mpegts")
    caplog.set_level(logging.INFO, logger="transformers_recap.engine.streaming")
    with open(path, "ab"):  # a writer that stalls without closing the file
        clips = list(GrowingVideoReader(path, idle_seconds=0.5))
    assert "no new data for 0.5 s" in caplog.text
    assert [(clip.start, clip.end) for clip in clips] == [(0.0, 4.0), (4.0, 6.5)]


def test_growing_file_errors(tmp_path):
    with pytest.raises(VideoDecodingError, match="missing.ts: does not exist after waiting 0.2 s"):
        list(GrowingVideoReader(tmp_path / "missing.ts", idle_seconds=0.2))
    (tmp_path / "junk.ts").write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoDecodingError, match="junk.ts: "):
        list(GrowingVideoReader(tmp_path / "junk.ts", idle_seconds=0.2))
    with pytest.raises(VideoDecodingError, match="is a directory"):
        list(GrowingVideoReader(tmp_path, idle_seconds=GATE_TIMEOUT))


def test_closing_the_stream_stops_a_waiting_reader(tiny, tmp_path, caplog):
    path = write_video(tmp_path / "open.ts", int(9 * 24), 24, container_format="mpegts")
    recap = captioner(tiny, levels=("clip",))
    caplog.set_level(logging.INFO, logger="transformers_recap.engine.streaming")
    with open(path, "ab"):
        stream = recap.stream(str(path), follow=True, idle_seconds=600)
        first = next(stream)
        stream.close()  # stops the reader, which waits for the writer (else: after 600 s without data)
    assert (first.level, first.index) == ("clip", 0)
    assert "Stopped following" not in caplog.text
    assert list(stream) == []
