"""Feature extraction: per-video files, resume after a kill, bad videos skipped, sharding over two processes."""

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from tests.video_fixtures import load_tiny, save_tiny_model, write_video
from transformers_recap import HierarchicalCaptioner
from transformers_recap.engine.video_io import open_video
from transformers_recap.training.extraction import extract_videos


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


def test_files_resume_and_bad_videos(model_dir, videos, tmp_path):
    model, processor = load_tiny(model_dir)
    captioner = HierarchicalCaptioner(model, processor, levels=("clip",), batch_size=2, progress=False)
    output = tmp_path / "features"

    # A run killed while captioning the second video keeps the first one whole and leaves no partial file.
    calls = []
    original = captioner.caption_clips

    def caption_then_die(*args, **kwargs):
        if calls:
            raise Killed
        calls.append(1)
        return original(*args, **kwargs)

    captioner.caption_clips = caption_then_die
    with pytest.raises(Killed):
        extract_videos(captioner, videos, output, save_dense=True, progress=False)
    finished = sorted(path.name for path in output.iterdir())
    assert len(finished) == 2 and {name.rsplit(".", 1)[1] for name in finished} == {"json", "safetensors"}

    captioner.caption_clips = original
    failures = extract_videos(captioner, videos, output, save_dense=True, progress=False)
    assert [uid for uid, _ in failures] == ["broken"]
    assert "not a readable video file" in failures[0][1]
    assert sorted(path.stem for path in output.glob("*.json")) == ["video-0", "video-1", "video-2"]
    for uid in ("video-0", "video-1", "video-2"):
        tensors = load_file(os.fspath(output / f"{uid}.safetensors"))
        record = json.loads((output / f"{uid}.json").read_text())
        expected = reference_cls(model, processor, videos[uid])
        torch.testing.assert_close(tensors["cls"], expected, atol=1e-5, rtol=1e-5)
        assert tensors["dense"].shape[:2] == (len(expected), 1 + 4 * 4) and tensors["dense"].dtype == torch.float16
        assert [clip[:2] for clip in record["clips"]] == [[s, e] for s, e in open_video(videos[uid], 4.0, 4).windows]
        assert all(isinstance(clip[2], str) and clip[2] for clip in record["clips"])

    # A rerun finds everything done and touches nothing.
    stamps = {path.name: path.stat().st_mtime_ns for path in output.iterdir()}
    assert extract_videos(captioner, videos, output, progress=False) == [("broken", failures[0][1])]
    assert {path.name: path.stat().st_mtime_ns for path in output.iterdir()} == stamps


def test_two_processes_shard_the_videos(model_dir, videos, tmp_path):
    listing = tmp_path / "videos.txt"
    listing.write_text("\n".join(videos.values()) + "\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "extract_features.py")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29523", script,
        "--model", os.fspath(model_dir), "--videos", os.fspath(listing), "--output", os.fspath(tmp_path / "out"),
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
