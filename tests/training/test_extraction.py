"""Feature extraction: per-video files, resume after a kill, bad videos recorded and skipped, two processes."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.utils import free_port
from tests.video_fixtures import load_tiny, save_tiny_model, write_video
from transformers_recap import HierarchicalCaptioner
from transformers_recap.engine.video_io import open_video
from transformers_recap.training import extraction, files
from transformers_recap.training.collator import CLIP_INDEX_KEY, VideoReCapDataCollator
from transformers_recap.training.extraction import describe_segments, extract_videos
from transformers_recap.training.files import write_atomically


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    directory = tmp_path_factory.mktemp("videos")
    paths = {
        f"video-{index}": write_video(directory / f"video-{index}.mp4", 30 * (3 + 2 * index), 30) for index in range(3)
    }
    (directory / "broken.mp4").write_bytes(b"not a video at all")
    return {**{uid: os.fspath(path) for uid, path in paths.items()}, "broken": os.fspath(directory / "broken.mp4")}


def reference_cls(model, processor, path):
    """CLS features computed clip by clip, straight from the encoder."""
    with open_video(path, 4.0, 4) as reader, torch.no_grad():
        rows = [
            model.get_video_features(
                processor(videos=[clip.frames], return_tensors="pt")["pixel_values_videos"]
            ).pooler_output[0]
            for clip in reader
        ]
    return torch.stack(rows)


class Killed(Exception):
    pass


def test_files_resume_and_bad_videos(model_dir, videos, tmp_path, monkeypatch):
    model, processor = load_tiny(model_dir)
    captioner = HierarchicalCaptioner(model, processor, levels=("clip",), batch_size=2, progress=False)
    output = tmp_path / "features"

    # Killed while writing the second video's features (videos in uid order; "broken" fails first and is recorded):
    # its temporary file stays behind, the first video is whole.
    writes = []

    def write_then_die(path, data):
        writes.append(path.name)
        if path.name == "video-1.safetensors":
            (path.parent / f".{path.name}.{os.getpid()}.tmp").write_bytes(data[:10])
            raise Killed
        write_atomically(path, data)

    monkeypatch.setattr(extraction, "write_atomically", write_then_die)
    with pytest.raises(Killed):
        extract_videos(captioner, videos, output, save_dense=True, progress=False)
    monkeypatch.undo()
    assert writes == ["broken.json", "video-0.safetensors", "video-0.json", "video-1.safetensors"]
    leftover = output / f".video-1.safetensors.{os.getpid()}.tmp"
    assert sorted(path.name for path in output.iterdir()) == sorted(
        ["failed", "video-0.json", "video-0.safetensors", leftover.name]
    )

    # The rerun deletes the leftover, finishes the other videos and does not open the recorded broken video again.
    opened = []

    def recording_open_video(path, *args, **kwargs):
        opened.append(os.path.basename(path))
        return open_video(path, *args, **kwargs)

    monkeypatch.setattr(extraction, "open_video", recording_open_video)
    failures = extract_videos(captioner, videos, output, save_dense=True, progress=False)
    assert opened == ["video-1.mp4", "video-2.mp4"] and not leftover.exists()
    assert [uid for uid, _ in failures] == ["broken"] and "not a readable video file" in failures[0][1]
    assert json.loads((output / "failed" / "broken.json").read_text())["error"] == failures[0][1]
    assert sorted(path.stem for path in output.glob("*.json")) == ["video-0", "video-1", "video-2"]
    for uid in ("video-0", "video-1", "video-2"):
        tensors = load_file(os.fspath(output / f"{uid}.safetensors"))
        record = json.loads((output / f"{uid}.json").read_text())
        expected = reference_cls(model, processor, videos[uid])
        torch.testing.assert_close(tensors["cls"], expected, atol=1e-5, rtol=1e-5)
        assert tensors["dense"].shape[:2] == (len(expected), 1 + 4 * 4) and tensors["dense"].dtype == torch.float16
        assert [clip[:2] for clip in record["clips"]] == [[s, e] for s, e in open_video(videos[uid], 4.0, 4).windows]
        assert all(isinstance(clip[2], str) and clip[2] for clip in record["clips"])

    # A rerun finds everything done (the broken video recorded) and touches nothing.
    stamps = {path: path.stat().st_mtime_ns for path in output.rglob("*")}
    opened.clear()
    assert extract_videos(captioner, videos, output, progress=False) == [("broken", failures[0][1])]
    assert opened == [] and {path: path.stat().st_mtime_ns for path in output.rglob("*")} == stamps
    # A changed file, or retry_failed, is tried again.
    assert extract_videos(captioner, videos, output, progress=False, retry_failed=True)[0][0] == "broken"
    with open(videos["broken"], "ab") as file:
        file.write(b" still not a video")
    assert extract_videos(captioner, videos, output, progress=False)[0][0] == "broken"
    assert opened == ["broken.mp4", "broken.mp4"]

    # A uid that is a path is reported, not written.
    failures = extract_videos(captioner, {"../escaped": videos["video-0"]}, output, progress=False)
    assert failures[0][0] == "../escaped" and "video uid" in failures[0][1]
    assert not (tmp_path / "escaped.json").exists()


def test_writes_are_synced_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.fstat(descriptor).st_ino))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(("replace", os.stat(source).st_ino))
        real_replace(source, target)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    target = tmp_path / "record.json"
    write_atomically(target, "{}")
    monkeypatch.undo()
    temporary = events[1][1]
    assert events == [("fsync", temporary), ("replace", temporary), ("fsync", tmp_path.stat().st_ino)]
    assert target.read_text() == "{}" and target.stat().st_ino == temporary and list(tmp_path.iterdir()) == [target]


def test_two_processes_shard_the_videos(model_dir, videos, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text("\n".join(videos.values()) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "extract_features.py")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(), script,
        "--model", os.fspath(model_dir), "--videos", os.fspath(listing), "--output-dir", os.fspath(tmp_path / "out"),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "skipped broken" in result.stderr
    assert sorted(path.stem for path in (tmp_path / "out").glob("*.json")) == ["video-0", "video-1", "video-2"]
    model, processor = load_tiny(model_dir)
    for uid in ("video-0", "video-1", "video-2"):
        record = json.loads((tmp_path / "out" / f"{uid}.json").read_text())
        assert record["clips"] == []  # no --captions
        cls = load_file(os.fspath(tmp_path / "out" / f"{uid}.safetensors"))["cls"]
        torch.testing.assert_close(cls, reference_cls(model, processor, videos[uid]), atol=1e-5, rtol=1e-5)


def test_a_video_with_a_gap_keeps_the_grid_position_of_each_feature_row(model_dir, tmp_path):
    # Frames for 0-0.8 s and 40-40.8 s: clip windows 0 and 10 of the 4-s grid have frames, the nine between none.
    pts_ms = [40 * i for i in range(20)] + [40_000 + 40 * i for i in range(20)]
    path = write_video(tmp_path / "gap.mp4", 40, 25, pts_ms=pts_ms)
    model, processor = load_tiny(model_dir)
    captioner = HierarchicalCaptioner(model, processor, segment_seconds=8, batch_size=2, progress=False)
    assert extract_videos(captioner, {"gap": os.fspath(path)}, tmp_path / "clips", progress=False) == []

    tensors = load_file(os.fspath(tmp_path / "clips" / "gap.safetensors"))
    assert tensors[CLIP_INDEX_KEY].tolist() == [0, 10]
    torch.testing.assert_close(tensors["cls"], reference_cls(model, processor, path), atol=1e-5, rtol=1e-5)

    # The segment descriptions from the stored rows are those of captioning the video itself.
    describe_segments(captioner, tmp_path / "clips", ["gap"], tmp_path / "segments", progress=False)
    stored = json.loads((tmp_path / "segments" / "gap.json").read_text())["segments"]
    direct = captioner.caption_video(os.fspath(path)).segments
    assert stored == [[segment.start, segment.end, segment.text] for segment in direct]

    # Training windows get the rows at their grid positions; a window inside the gap is a one-line error.
    collator = VideoReCapDataCollator(processor)
    features_path = os.fspath(tmp_path / "clips" / "gap.safetensors")
    example = {"level": "segment", "video_uid": "gap", "features_path": features_path}
    torch.testing.assert_close(
        torch.as_tensor(collator._window_features({**example, "start_sec": 40.0, "end_sec": 48.0})),
        tensors["cls"][1:2],
    )
    torch.testing.assert_close(
        torch.as_tensor(collator._window_features({**example, "start_sec": 0.0, "end_sec": 8.0})),
        tensors["cls"][0:1],
    )
    with pytest.raises(ValueError, match=r"gap.safetensors: the window \[16, 24\] s of video 'gap' has no CLS"):
        collator._window_features({**example, "start_sec": 16.0, "end_sec": 24.0})
