"""`pipeline("video-recap")`: inputs, call options, saving, errors."""

import numpy as np
import pytest
from transformers import pipeline

from tests.video_fixtures import save_tiny_model, write_video
from transformers_recap import HierarchicalCaptions, VideoDecodingError, VideoReCapPipeline
from transformers_recap.engine.streaming import CaptionStream


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    directory = tmp_path_factory.mktemp("videos")
    return [write_video(directory / "a.mp4", 24 * 10, 24), write_video(directory / "b.mp4", 30 * 5, 30, 80, 96)]


@pytest.fixture(scope="module")
def recap(model_dir):
    return pipeline("video-recap", model=str(model_dir), progress=False)


def test_task_is_registered_and_captions_a_path(recap, videos):
    assert isinstance(recap, VideoReCapPipeline)
    result = recap(str(videos[0]), segment_seconds=8)
    assert isinstance(result, HierarchicalCaptions)
    assert [(c.start, c.end) for c in result.clips] == [(0.0, 4.0), (4.0, 8.0), (8.0, 10.0)]
    assert [(s.start, s.end) for s in result.segments] == [(0.0, 8.0), (8.0, 10.0)]
    assert result.summary and all(c.text for c in result.clips)


def test_list_of_paths_and_decoded_frames(recap, videos):
    results = recap([str(path) for path in videos], levels=("clip",))
    assert [len(result.clips) for result in results] == [3, 2]
    frames = np.random.default_rng(0).integers(0, 255, (45, 40, 50, 3), dtype=np.uint8)
    from_dict = recap({"frames": frames, "fps": 15}, levels=("clip",))
    from_array = recap(frames, fps=15, levels=("clip",))
    assert from_dict == from_array and [(c.start, c.end) for c in from_dict.clips] == [(0.0, 3.0)]


def test_call_options_reach_the_engine(recap, videos, monkeypatch):
    calls = []
    generate = recap.model.generate
    monkeypatch.setattr(recap.model, "generate", lambda **kw: calls.append(kw) or generate(**kw))
    result = recap(
        str(videos[0]),
        clip_seconds=2,
        segment_seconds=6,
        batch_size=2,
        max_new_tokens=3,
        level_generate_kwargs={"video": {"max_new_tokens": 4}},
    )
    assert len(result.clips) == 5 and len(result.segments) == 2
    clip_calls = [call for call in calls if call["level"] == "clip"]
    assert [call["video_features"].shape[0] for call in clip_calls] == [2, 2, 1]
    assert {call["max_new_tokens"] for call in calls if call["level"] != "video"} == {3}
    assert [call["max_new_tokens"] for call in calls if call["level"] == "video"] == [4]


def test_options_given_when_building_the_pipeline(model_dir, videos):
    recap = pipeline("video-recap", model=str(model_dir), levels=("clip", "segment"), batch_size=1, progress=False)
    result = recap(str(videos[1]))
    assert len(result.clips) == 2 and len(result.segments) == 1 and result.summary is None
    with pytest.raises(TypeError, match="unexpected options"):
        recap(str(videos[1]), frames_per_clip=8)


def test_save_pretrained_keeps_the_processor(recap, tmp_path):
    recap.save_pretrained(tmp_path)
    assert (tmp_path / "processor_config.json").exists() and (tmp_path / "modeling_video_recap.py").exists()
    reloaded = pipeline("video-recap", model=str(tmp_path), progress=False)
    frames = {"frames": np.zeros((10, 32, 32, 3), np.uint8), "fps": 10}
    assert reloaded(frames).to_dict() == recap(frames, progress=False).to_dict()


def test_unreadable_video_raises(recap, tmp_path):
    with pytest.raises(VideoDecodingError, match="missing.mp4: no such file"):
        recap(str(tmp_path / "missing.mp4"))


def test_a_list_with_bad_videos_returns_every_good_result(recap, videos, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    inputs = [str(videos[0]), str(tmp_path / "missing.mp4"), str(bad), str(videos[1])]
    results = recap(inputs, levels=("clip",), errors="return")
    assert [type(result).__name__ for result in results] == [
        "HierarchicalCaptions",
        "VideoDecodingError",
        "VideoDecodingError",
        "HierarchicalCaptions",
    ]
    assert str(results[1]) == f"{tmp_path / 'missing.mp4'}: no such file"
    assert str(results[2]).startswith(f"{bad}: not a readable video file")
    assert results[0] == recap(str(videos[0]), levels=("clip",)) and len(results[3].clips) == 2
    # Decoding errors found while captioning (a truncated file) are returned too.
    truncated = tmp_path / "truncated.mp4"
    data = write_video(tmp_path / "whole.mp4", 30 * 12, 30, faststart=True).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    (result,) = recap([str(truncated)], levels=("clip",), errors="return")
    assert isinstance(result, VideoDecodingError) and "truncated" in str(result)
    # By default the first bad video raises.
    with pytest.raises(VideoDecodingError, match="missing.mp4: no such file"):
        recap(inputs, levels=("clip",))
    with pytest.raises(ValueError, match="errors must be one of"):
        recap(inputs, errors="skip")


# ---------------------------------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------------------------------


def test_stream_yields_events_and_the_captions_of_a_plain_call(recap, videos):
    stream = recap(str(videos[0]), stream=True, segment_seconds=8, batch_size=2)
    assert isinstance(stream, CaptionStream)
    events = list(stream)
    # Clips [0, 4], [4, 8] in the first batch, [8, 10] in the second; [0, 8] closes with row int(8 // 4) = 2.
    assert [(event.level, event.index) for event in events] == [
        ("clip", 0),
        ("clip", 1),
        ("clip", 2),
        ("segment", 0),
        ("segment", 1),
        ("video", 0),
    ]
    assert stream.captions == recap(str(videos[0]), segment_seconds=8, batch_size=2)


def test_stream_of_timed_frames_and_options_given_when_building(model_dir):
    frames = np.random.default_rng(0).integers(0, 255, (45, 40, 50, 3), dtype=np.uint8)
    recap = pipeline("video-recap", model=str(model_dir), stream=True, levels=("clip",), progress=False)
    stream = recap(((10 + i / 15, frame) for i, frame in enumerate(frames)), fps=15)
    assert [(event.level, event.start, event.end) for event in stream] == [("clip", 0.0, 3.0)]
    assert stream.captions == recap(frames, fps=15, stream=False)


def test_stream_option_errors(recap, videos):
    with pytest.raises(TypeError, match=r"\['follow'\] need stream=True"):
        recap(str(videos[0]), follow=True)
    with pytest.raises(TypeError, match="takes one video"):
        recap([str(path) for path in videos], stream=True)
    with pytest.raises(VideoDecodingError, match="missing.mp4: no such file"):
        list(recap("missing.mp4", stream=True))
