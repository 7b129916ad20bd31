"""The recursive engine: encode once, windows and their inputs, levels, dtypes, oneDNN, and the export formats."""

import json

import pytest
import torch

from tests.video_fixtures import load_tiny, save_tiny_model, write_video
from transformers_recap import HierarchicalCaptioner, HierarchicalCaptions, TimedCaption
from transformers_recap.engine.cpu_matmul import onednn_linear_layers
from transformers_recap.engine.video_io import VideoClipReader
from transformers_recap.models.video_recap.processing_video_recap import (
    captions_in_window,
    clip_windows,
    window_feature_rows,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_tiny(save_tiny_model(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def tiny_unified(tmp_path_factory):
    return load_tiny(save_tiny_model(tmp_path_factory.mktemp("tiny_u"), unified=True))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    # 21.5 s at 24 fps: 6 clips, the last one 1.5 s long.
    return write_video(tmp_path_factory.mktemp("videos") / "video.mp4", int(21.5 * 24), 24, 96, 64)


def reference_greedy(model, level: str, steps: int, min_new_tokens: int, **inputs) -> list[list[int]]:
    """The original's decoding: the whole prefix re-run every step, no cache, argmax (EOS banned for the first steps)."""
    memory, _ = model.get_query_embeddings(level, **inputs)
    eos = model.config.text_config.eos_token_id
    ids = torch.full((memory.shape[0], 1), model.config.text_config.bos_token_id)
    for step in range(steps):
        logits = model(input_ids=ids, encoder_hidden_states=memory, level=level, use_cache=False).logits[:, -1]
        if step < min_new_tokens:
            logits[:, eos] = -float("inf")
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
    return ids.tolist()


# ---------------------------------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------------------------------


def test_window_rows_are_the_original_slices():
    assert window_feature_rows(0, 180, 4, 900) == slice(0, 46)  # int(0/4) .. int(180//4) inclusive
    assert window_feature_rows(180, 360, 4, 900) == slice(45, 91)
    assert window_feature_rows(360, 400, 4, 100) == slice(90, 100)  # cut to the rows that exist
    assert window_feature_rows(0, 21.5, 4, 6) == slice(0, 6)
    assert window_feature_rows(8, 10, 4, 3) == slice(2, 3)


def test_captions_in_window_use_the_original_rule():
    captions = [TimedCaption(4.0 * i, min(4.0 * i + 4, 10.0), f"c{i}") for i in range(3)]
    assert captions_in_window(captions, 0, 8) == ["c0", "c1"]
    assert captions_in_window(captions, 8, 10) == ["c2"]
    assert captions_in_window(captions, 2, 6) == ["c0", "c1"]  # nothing entirely inside: the overlapping ones


# ---------------------------------------------------------------------------------------------------------------------
# Whole videos
# ---------------------------------------------------------------------------------------------------------------------


def test_each_clip_is_encoded_once_and_captioned_from_its_dense_tokens(tiny, video, monkeypatch):
    model, processor = tiny
    encoded, clip_inputs = [], []
    get_video_features, generate = model.get_video_features, model.generate

    def spy_features(pixel_values_videos):
        encoded.append(pixel_values_videos.shape[0])
        return get_video_features(pixel_values_videos)

    def spy_generate(**kwargs):
        if kwargs["level"] == "clip":
            clip_inputs.append(kwargs["video_features"])
        return generate(**kwargs)

    monkeypatch.setattr(model, "get_video_features", spy_features)
    monkeypatch.setattr(model, "generate", spy_generate)
    result = HierarchicalCaptioner(model, processor, batch_size=4, segment_seconds=8, progress=False).caption_video(
        str(video)
    )
    monkeypatch.undo()

    assert encoded == [1] * 6  # one clip per encoder call on the CPU, each clip once
    assert [(c.start, c.end) for c in result.clips] == clip_windows(21.5, 4.0)
    assert [(s.start, s.end) for s in result.segments] == [(0.0, 8.0), (8.0, 16.0), (16.0, 21.5)]
    assert result.summary and all(c.text for c in result.clips) and result.duration == pytest.approx(21.5)
    # The clip level reads the dense tokens; the captions are the step-by-step reference's.
    assert clip_inputs[0].shape[1] == 1 + 4 * model.config.vision_config.num_patches_per_frame
    with VideoClipReader(video) as reader:
        frames = [clip.frames for clip in reader]
    pixel_values = processor(videos=frames)["pixel_values_videos"]
    with torch.no_grad():
        expected = reference_greedy(model, "clip", 12, 2, pixel_values_videos=pixel_values)
    assert [c.text for c in result.clips] == processor.batch_decode(expected)


def test_higher_levels_get_the_original_inputs(tiny, monkeypatch):
    model, processor = tiny
    generator = torch.Generator().manual_seed(0)
    cls_features = torch.randn(100, model.config.vision_config.hidden_size, generator=generator)
    words = ["#C C picks", "#C C opens", "#C C puts"]
    clips = [TimedCaption(s, e, words[i % 3]) for i, (s, e) in enumerate(clip_windows(400.0, 4.0))]
    calls = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda **kwargs: calls.append(kwargs) or generate(**kwargs))
    captioner = HierarchicalCaptioner(model, processor, batch_size=2, progress=False)
    result = captioner.caption_features(cls_features, clips, duration=400.0)

    windows = [(0.0, 180.0), (180.0, 360.0), (360.0, 400.0)]
    assert [(s.start, s.end) for s in result.segments] == windows
    segment_calls = [call for call in calls if call["level"] == "segment"]
    assert [call["video_features"].shape[0] for call in segment_calls] == [2, 1]
    rows = [cls_features[0:46], cls_features[45:91], cls_features[90:100]]
    contexts = [[c.text for c in clips if c.start >= s and c.end <= e] for s, e in windows]
    expected = processor(video_features=rows, context=contexts, level="segment")
    torch.testing.assert_close(torch.cat([c["video_features"] for c in segment_calls]), expected["video_features"])
    torch.testing.assert_close(
        torch.cat([c["video_features_mask"] for c in segment_calls]), expected["video_features_mask"]
    )
    assert [
        processor.tokenizer.decode(ids[mask.bool()])
        for c in segment_calls
        for ids, mask in zip(c["context_input_ids"], c["context_attention_mask"], strict=True)
    ] == [
        processor.tokenizer.decode(ids[mask.bool()])
        for ids, mask in zip(expected["context_input_ids"], expected["context_attention_mask"], strict=True)
    ]
    (video_call,) = [call for call in calls if call["level"] == "video"]
    expected = processor(video_features=[cls_features], context=[[s.text for s in result.segments]], level="video")
    torch.testing.assert_close(video_call["video_features"], expected["video_features"])
    torch.testing.assert_close(video_call["context_input_ids"], expected["context_input_ids"])


def test_a_video_with_a_ten_hour_gap_captions_its_frames_only(tiny, tmp_path, monkeypatch, caplog):
    model, processor = tiny
    pts_ms = [40 * i for i in range(20)] + [36_000_000 + 40 * i for i in range(20)]
    path = write_video(tmp_path / "gap.mp4", 40, 25, pts_ms=pts_ms)
    calls = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda **kwargs: calls.append(kwargs) or generate(**kwargs))
    result = HierarchicalCaptioner(model, processor, segment_seconds=8, progress=False).caption_video(str(path))
    monkeypatch.undo()

    assert [(c.start, c.end) for c in result.clips] == [(0.0, 4.0), (36000.0, pytest.approx(36000.8))]
    assert [(s.start, s.end) for s in result.segments] == [(0.0, 8.0), (36000.0, pytest.approx(36000.8))]
    assert result.summary and result.duration == pytest.approx(36000.8)
    assert f"{path}: no frames in 4.00-36000.00 s (1 gap(s)" in caplog.text
    # Each segment reads the CLS feature and the caption of its own clip; the summary reads both.
    with VideoClipReader(path) as reader:
        pixel_values = processor(videos=[clip.frames for clip in reader])["pixel_values_videos"]
    with torch.no_grad():
        cls = model.get_video_features(pixel_values).pooler_output
    (segment_call,) = [call for call in calls if call["level"] == "segment"]
    texts = [[clip.text] for clip in result.clips]
    expected = processor(video_features=[cls[0:1], cls[1:2]], context=texts, level="segment")
    torch.testing.assert_close(segment_call["video_features"], expected["video_features"])
    (video_call,) = [call for call in calls if call["level"] == "video"]
    expected = processor(video_features=[cls], context=[[s.text for s in result.segments]], level="video")
    torch.testing.assert_close(video_call["video_features"], expected["video_features"])


def test_levels_can_be_limited_and_pull_in_what_they_read(tiny, video):
    model, processor = tiny
    clips_only = HierarchicalCaptioner(model, processor, levels=("clip",), progress=False).caption_video(str(video))
    assert len(clips_only.clips) == 6 and clips_only.segments == [] and clips_only.summary is None
    summary_only = HierarchicalCaptioner(model, processor, levels=("video",), progress=False)
    assert summary_only.levels_to_run == ("clip", "segment", "video")
    with pytest.raises(ValueError, match="Unknown level"):
        HierarchicalCaptioner(model, processor, levels=("scene",))
    with pytest.raises(ValueError, match="whole multiple of clip_seconds"):
        HierarchicalCaptioner(model, processor, segment_seconds=2)


def test_batch_size_and_generation_options(tiny, video, monkeypatch):
    model, processor = tiny
    options = {"levels": ("clip",), "progress": False}
    one = HierarchicalCaptioner(model, processor, batch_size=1, **options).caption_video(str(video))
    four = HierarchicalCaptioner(model, processor, batch_size=4, **options).caption_video(str(video))
    assert [c.text for c in one.clips] == [c.text for c in four.clips]

    lengths = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: lengths.append(generate(**kw).shape[1]) or generate(**kw))
    short = HierarchicalCaptioner(
        model, processor, level_generate_kwargs={"clip": {"max_new_tokens": 2}}, **options
    ).caption_video(str(video))
    assert lengths == [3] and len(short.clips) == 6
    monkeypatch.undo()
    beams = HierarchicalCaptioner(
        model,
        processor,
        segment_seconds=8,
        generate_kwargs={"num_beams": 2, "num_return_sequences": 2},
        progress=False,
    ).caption_video(str(video))
    assert len(beams.clips) == 6 and len(beams.segments) == 3 and beams.summary


def test_onednn_path_gives_the_same_captions_and_is_undone(tiny, video):
    model, processor = tiny
    options = {"segment_seconds": 8, "progress": False}
    default = HierarchicalCaptioner(model, processor, use_onednn=False, **options).caption_video(str(video))
    fast = HierarchicalCaptioner(model, processor, use_onednn=True, **options).caption_video(str(video))
    assert fast == default
    with onednn_linear_layers(model) as routed:
        assert routed > 0
        with onednn_linear_layers(model) as nested:
            assert nested == 0
        # Routed through a per-thread torch function mode: no module is patched.
        assert not any("forward" in vars(module) for module in model.modules())


def test_compiled_encoder_gives_the_eager_captions_and_compiles_once(tmp_path, video):
    model, processor = load_tiny(save_tiny_model(tmp_path / "tiny"))
    options = {"segment_seconds": 8, "progress": False}
    eager = HierarchicalCaptioner(model, processor, **options)
    expected = eager.caption_video(str(video))
    with VideoClipReader(video) as reader:
        pixels = processor(videos=[next(iter(reader)).frames])["pixel_values_videos"]
    with torch.no_grad():
        eager_features = model.get_video_features(pixels).last_hidden_state
    vision_model = model.model.vision_model
    assert getattr(vision_model, "_compiled_call_impl", None) is None

    compiled = HierarchicalCaptioner(model, processor, compile_encoder=True, **options)
    compiled_call = vision_model._compiled_call_impl
    assert compiled.caption_video(str(video)) == expected
    with torch.no_grad():
        torch.testing.assert_close(model.get_video_features(pixels).last_hidden_state, eager_features)
    # A second captioner (a pipeline builds one per call) reuses the compiled encoder.
    HierarchicalCaptioner(model, processor, compile_encoder=True, **options)
    assert vision_model._compiled_call_impl is compiled_call


def test_bfloat16_and_unified_models(tiny, tiny_unified, video):
    model, processor = tiny
    bf16 = HierarchicalCaptioner(model.to(torch.bfloat16), processor, segment_seconds=8, progress=False)
    try:
        result = bf16.caption_video(str(video))
    finally:
        model.to(torch.float32)
    assert len(result.clips) == 6 and len(result.segments) == 3 and isinstance(result.summary, str)
    unified_model, unified_processor = tiny_unified
    assert unified_model.config.unified
    result = HierarchicalCaptioner(unified_model, unified_processor, segment_seconds=8, progress=False).caption_video(
        str(video)
    )
    assert len(result.clips) == 6 and len(result.segments) == 3 and result.summary


def test_empty_lower_captions_still_give_a_description(tiny):
    model, processor = tiny
    clips = [TimedCaption(0.0, 4.0, ""), TimedCaption(4.0, 8.0, "")]
    result = HierarchicalCaptioner(model, processor, progress=False).caption_features(torch.randn(2, 32), clips, 8.0)
    assert len(result.segments) == 1 and result.summary


def test_describe_windows_batches_windows_of_several_videos(tiny):
    model, processor = tiny
    captioner = HierarchicalCaptioner(model, processor, batch_size=2, progress=False)
    features = [torch.randn(n, 32) for n in (46, 10, 3)]
    contexts = [["#C C picks up the red cup"], ["#C C opens the yellow box", "#C C moves the green ball"], ["x"]]
    together = captioner.describe_windows("segment", features, contexts)
    alone = [captioner.describe_windows("segment", [f], [c])[0] for f, c in zip(features, contexts, strict=True)]
    assert together == alone and len(together) == 3
    with pytest.raises(ValueError, match="contexts"):
        captioner.describe_windows("segment", features, None)


# ---------------------------------------------------------------------------------------------------------------------
# Export formats
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def captions():
    return HierarchicalCaptions(
        clips=[
            TimedCaption(0.0, 4.0, "#C C picks up a cup"),
            TimedCaption(4.0, 8.0, "#C C pours <water> & milk"),
            TimedCaption(8.0, 9.5, "#C C drinks"),
        ],
        segments=[TimedCaption(0.0, 8.0, "C makes a drink."), TimedCaption(8.0, 9.5, "C drinks it.")],
        summary="C prepares a drink\nand drinks it.",
        duration=9.5,
    )


def test_json_round_trip(captions):
    data = json.loads(captions.to_json())
    assert data["clips"][1] == {"start": 4.0, "end": 8.0, "text": "#C C pours <water> & milk"}
    assert data["summary"] == captions.summary and data["duration"] == 9.5
    assert HierarchicalCaptions.from_dict(data) == captions


def test_srt(captions):
    assert captions.to_srt() == (
        "1\n00:00:00,000 --> 00:00:08,000\nC makes a drink.\n\n"
        "2\n00:00:00,000 --> 00:00:04,000\n#C C picks up a cup\n\n"
        "3\n00:00:04,000 --> 00:00:08,000\n#C C pours <water> & milk\n\n"
        "4\n00:00:08,000 --> 00:00:09,500\nC drinks it.\n\n"
        "5\n00:00:08,000 --> 00:00:09,500\n#C C drinks\n"
    )
    assert (
        captions.to_srt(levels=("video",)) == "1\n00:00:00,000 --> 00:00:09,500\nC prepares a drink and drinks it.\n"
    )


def test_vtt(captions):
    vtt = captions.to_vtt(levels=("clip",))
    assert vtt == (
        "WEBVTT\n\n"
        "NOTE\nSummary: C prepares a drink and drinks it.\n\n"
        "clip-1\n00:00:00.000 --> 00:00:04.000\n#C C picks up a cup\n\n"
        "clip-2\n00:00:04.000 --> 00:00:08.000\n#C C pours &lt;water&gt; &amp; milk\n\n"
        "clip-3\n00:00:08.000 --> 00:00:09.500\n#C C drinks\n"
    )
    assert "segment-2\n00:00:08.000 --> 00:00:09.500\nC drinks it." in captions.to_vtt()


def test_markdown(captions):
    assert captions.to_markdown() == (
        "# Video summary\n\nC prepares a drink\nand drinks it.\n\n## Segments\n\n"
        "### 1. 0:00:00 – 0:00:08\n\nC makes a drink.\n\n"
        "- `0:00:00–0:00:04` #C C picks up a cup\n- `0:00:04–0:00:08` #C C pours <water> & milk\n\n"
        "### 2. 0:00:08 – 0:00:10\n\nC drinks it.\n\n- `0:00:08–0:00:10` #C C drinks\n"
    )
    clips_only = HierarchicalCaptions(clips=captions.clips[:1], duration=4.0)
    assert clips_only.to_markdown() == "## Clip captions\n\n- `0:00:00–0:00:04` #C C picks up a cup\n"
