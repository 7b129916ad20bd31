"""Processor and configuration tests, with expected values written out by hand."""

import numpy as np
import pytest
import torch

from tests.utils import TINY_LEVEL_SETTINGS, make_tiny_config, make_tiny_processor
from transformers_recap import VideoReCapConfig, VideoReCapProcessor, VideoReCapVideoProcessor
from transformers_recap.models.video_recap.processing_video_recap import (
    captions_in_window,
    clip_windows,
    pack_context,
    sample_features,
)


def test_normalisation_uses_lavila_constants_on_0_255_scale():
    processor = VideoReCapVideoProcessor()
    frames = np.zeros((4, 224, 224, 3), dtype=np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 200, 100, 50
    pixels = processor(frames, return_tensors="pt")["pixel_values_videos"]
    assert pixels.shape == (1, 4, 3, 224, 224)
    expected = [
        (200 - 108.3272985) / 68.5005327,  # red mean is CLIP's 0.48145466 x 225, as the encoder was trained
        (100 - 116.7460125) / 66.6321579,
        (50 - 104.09373615) / 70.32316305,
    ]
    for channel in range(3):
        torch.testing.assert_close(pixels[0, :, channel], torch.full((4, 224, 224), expected[channel]))


def test_short_side_resize_then_centre_crop():
    processor = VideoReCapVideoProcessor(size={"shortest_edge": 8}, crop_size={"height": 8, "width": 8})
    # 8x16 frame: left quarter 0, middle half 255, right quarter 0 -> after centre crop (8 of 16 columns) all 255.
    frame = np.zeros((8, 16, 3), dtype=np.uint8)
    frame[:, 4:12] = 255
    pixels = processor(np.stack([frame] * 2), return_tensors="pt")["pixel_values_videos"]
    assert pixels.shape == (1, 2, 3, 8, 8)
    torch.testing.assert_close(pixels[0, 0, 0], torch.full((8, 8), (255 - 108.3272985) / 68.5005327))
    # Resize of float frames, no antialias: a 2x downscale of a two-value checkerboard averages neighbours exactly.
    processor = VideoReCapVideoProcessor(size={"shortest_edge": 4}, crop_size={"height": 4, "width": 4})
    board = np.zeros((8, 8, 3), dtype=np.uint8)
    board[::2, ::2] = board[1::2, 1::2] = 255
    pixels = processor(board[None], return_tensors="pt", do_normalize=False)["pixel_values_videos"]
    torch.testing.assert_close(pixels, torch.full((1, 1, 3, 4, 4), 127.5))


def test_clip_batch_of_videos(tiny_processor):
    clips = [np.random.randint(0, 255, (4, 48, 64, 3), dtype=np.uint8) for _ in range(3)]
    batch = tiny_processor(videos=clips, level="clip")
    assert batch["pixel_values_videos"].shape == (3, 4, 3, 32, 32)


def test_pack_context_follows_each_level_convention():
    captions = ["#C C picks the cabbage", "#C C puts the cabbage in the nylon"]
    assert pack_context(captions, "") == "#C C picks the cabbage#C C puts the cabbage in the nylon"
    # each description: strip periods, then spaces (in that order, as the original), then ". "
    descriptions = ["C washes dishes.", "C dries the plates..", " C leaves ", ".C eats. "]
    assert pack_context(descriptions, ". ") == "C washes dishes. C dries the plates. C leaves. C eats.."


def test_sample_features_masking_and_uniform():
    features = np.arange(10, dtype=np.float32)[:, None].repeat(3, axis=1)
    rows, mask = sample_features(features, 4, "uniform")  # step 2: rows 2, 4, 6, 8
    assert rows[:, 0].tolist() == [2, 4, 6, 8] and mask.tolist() == [1, 1, 1, 1]
    rows, mask = sample_features(features, 4, "masking")  # more rows than wanted: the uniform rows, all real
    assert rows[:, 0].tolist() == [2, 4, 6, 8] and mask.tolist() == [1, 1, 1, 1]
    rows, mask = sample_features(features[:3], 5, "masking")
    assert rows[:, 0].tolist() == [0, 1, 2, 0, 0] and mask.tolist() == [1, 1, 1, 0, 0]
    assert not rows[3:].any()
    # 46 features (one 180-s window plus one row) to 80 uniform rows: every row kept, some repeated, in order.
    rows, mask = sample_features(np.arange(46, dtype=np.float32)[:, None], 80, "uniform")
    assert rows.shape == (80, 1) and set(rows[:, 0].tolist()) == set(range(46))
    assert np.all(np.diff(rows[:, 0]) >= 0)
    with pytest.raises(ValueError, match="Unknown feature sampling"):
        sample_features(features, 4, "mean")
    with pytest.raises(ValueError, match="shape"):
        sample_features(np.zeros((0, 3)), 4, "masking")


def test_processor_segment_inputs(tiny_processor):
    batch = tiny_processor(
        video_features=[np.random.randn(5, 32), np.random.randn(20, 32)],
        context=[["#C C picks up the red cup", "#C C opens the yellow box"], "C tidies the table."],
        level="segment",
    )
    assert batch["video_features"].shape == (2, 8, 32)
    assert batch["video_features_mask"].tolist() == [[1] * 5 + [0] * 3, [1] * 8]
    tokenizer = tiny_processor.tokenizer
    first = tokenizer("#C C picks up the red cup#C C opens the yellow box", add_special_tokens=False)["input_ids"]
    assert batch["context_input_ids"][0, : len(first)].tolist() == first
    assert batch["context_attention_mask"][0].sum() == len(first)


def test_processor_truncates_context(tiny_processor, tiny_config):
    long_context = [["#C C picks up the red cup"] * 200]
    batch = tiny_processor(context=long_context, level="video")
    assert batch["context_input_ids"].shape[1] == 512  # the released max_context_tokens


def test_targets_have_bos_eos_and_masked_padding(tiny_processor):
    tokenizer = tiny_processor.tokenizer
    eos = tokenizer.eos_token_id
    batch = tiny_processor(text=["#C C opens the yellow box", "C sorts"], level="clip")
    first = tokenizer("#C C opens the yellow box", add_special_tokens=False)["input_ids"]
    second = tokenizer("C sorts", add_special_tokens=False)["input_ids"]
    assert batch["input_ids"][0].tolist() == [eos] + first + [eos]
    assert batch["input_ids"][1, : len(second) + 2].tolist() == [eos] + second + [eos]
    assert batch["labels"][1].tolist() == [eos] + second + [eos] + [-100] * (len(first) - len(second))
    assert batch["attention_mask"][1].sum() == len(second) + 2
    long_caption = " ".join(["red cup"] * 50)
    truncated = tiny_processor(text=[long_caption], level="clip", max_new_tokens=12)["input_ids"][0]
    assert len(truncated) == 12 + 1  # BOS + (max_new_tokens - 1) tokens + EOS
    assert truncated[-1] == eos


def test_batch_decode_cleans_captions(tiny_processor):
    tokenizer = tiny_processor.tokenizer
    eos = tokenizer.eos_token_id
    ids = tokenizer(" C picks up the red cup", add_special_tokens=False)["input_ids"]
    sequences = torch.tensor([[eos] + ids + [eos, eos, eos], [eos] + ids[:3] + [eos] * (len(ids) - 3 + 3)])
    decoded = tiny_processor.batch_decode(sequences)
    assert decoded[0] == "C picks up the red cup"
    assert decoded[1] == tokenizer.decode(ids[:3]).strip()
    assert tiny_processor.batch_decode([ids + [eos] + ids]) == ["C picks up the red cup"]  # no BOS, cut at EOS
    # Tokenisation spaces are cleaned as the original's transformers 4.x did by default, unless turned off.
    spaced = tokenizer("C tidies the table . C sorts it , and the box 's lid", add_special_tokens=False)["input_ids"]
    assert tiny_processor.batch_decode([spaced]) == ["C tidies the table. C sorts it, and the box's lid"]
    assert tiny_processor.batch_decode([spaced], clean_up_tokenization_spaces=False) == [
        "C tidies the table . C sorts it , and the box 's lid"
    ]


def test_processor_errors(tiny_processor):
    with pytest.raises(ValueError, match="Unknown level 'scene'"):
        tiny_processor(text=["a"], level="scene")
    with pytest.raises(ValueError, match="clip-level input"):
        tiny_processor(videos=[np.zeros((4, 32, 32, 3), np.uint8)], level="segment")
    with pytest.raises(ValueError, match=r"context\[1\] is empty"):
        tiny_processor(context=[["a"], []], level="segment")
    with pytest.raises(ValueError, match=r"video_features\[0\]"):
        tiny_processor(video_features=[np.zeros((0, 32))], level="video")
    with pytest.raises(ValueError, match="takes no CLS features"):
        tiny_processor(video_features=[np.zeros((3, 32))], level="clip")
    with pytest.raises(TypeError, match="list of strings"):
        tiny_processor(text=[1, 2], level="clip")
    with pytest.raises(ValueError, match="Nothing to process"):
        tiny_processor(level="clip")


def test_config_defaults_and_validation():
    config = VideoReCapConfig()
    assert config.vision_config.hidden_size == 768 and config.vision_config.num_frames == 4
    assert config.vision_config.layer_norm_eps == 1e-6 and config.vision_config.pre_layer_norm_eps == 1e-5
    assert config.qformer_config.num_hidden_layers == 12 and config.qformer_config.cross_attention_frequency == 2
    assert config.qformer_config.layer_norm_eps == 1e-12 and config.qformer_config.encoder_hidden_size == 768
    assert config.text_config.n_layer == 12 and config.text_config.vocab_size == 50257
    segment = config.get_level_settings("segment")
    assert (segment.num_video_queries, segment.num_text_queries) == (32, 256)
    with pytest.raises(ValueError, match="Unknown level"):
        config.get_level_settings("scene")
    with pytest.raises(ValueError, match="unknown levels"):
        VideoReCapConfig(level_settings={"scene": {}})
    with pytest.raises(ValueError, match="unknown fields"):
        VideoReCapConfig(level_settings={"clip": {"num_queries": 3}})
    with pytest.raises(ValueError, match="unknown fields"):
        VideoReCapConfig(level_settings={"video": {"num_video_features": 8}})  # a processor setting
    with pytest.raises(ValueError, match="clip level has no previous level"):
        VideoReCapConfig(level_settings={"clip": {"num_text_queries": 4}})
    with pytest.raises(ValueError, match="divisible"):
        VideoReCapConfig(vision_config={"hidden_size": 30, "num_attention_heads": 4})
    # A text-only ablation: no video queries at the segment level.
    ablation = VideoReCapConfig(level_settings={"segment": {"num_video_queries": 0}})
    assert ablation.get_level_settings("segment").num_video_queries == 0


def test_input_settings_defaults_and_validation(tiny_tokenizer):
    processor = VideoReCapProcessor(VideoReCapVideoProcessor(), tiny_tokenizer)
    segment = processor.get_input_settings("segment")
    assert (segment.num_video_features, segment.feature_sampling, segment.max_context_tokens) == (80, "masking", 512)
    assert processor.get_input_settings("video").context_separator == ". "
    assert (processor.clip_seconds, processor.segment_seconds) == (4.0, 180.0)
    with pytest.raises(ValueError, match="feature_sampling"):
        VideoReCapProcessor(
            VideoReCapVideoProcessor(), tiny_tokenizer, input_settings={"video": {"feature_sampling": "mean"}}
        )
    with pytest.raises(ValueError, match="unknown fields"):
        VideoReCapProcessor(
            VideoReCapVideoProcessor(), tiny_tokenizer, input_settings={"clip": {"num_video_queries": 3}}
        )
    with pytest.raises(ValueError, match=r"whole multiple of clip_seconds \(4.0\).*e\.g\. 8"):
        VideoReCapProcessor(
            VideoReCapVideoProcessor(), tiny_tokenizer, input_settings={"segment": {"window_seconds": 10}}
        )


def test_processor_that_disagrees_with_the_model_names_both_values(tiny_tokenizer, tiny_config):
    text_only = make_tiny_config(
        tiny_tokenizer,
        level_settings={**TINY_LEVEL_SETTINGS[False], "segment": {"num_video_queries": 0, "num_text_queries": 5}},
    )
    processor = make_tiny_processor(tiny_tokenizer, tiny_config)
    with pytest.raises(
        ValueError,
        match=r"input_settings\['segment'\]\['num_video_features'\] is 8, but the model's level_settings\['segment'\]\['num_video_queries'\] is 0",
    ):
        processor.check_model_config(text_only)
    make_tiny_processor(tiny_tokenizer, text_only, segment={"num_video_features": None}).check_model_config(text_only)
    with pytest.raises(ValueError, match="crops to 32 px, but the model's vision_config.image_size is 224"):
        processor.check_model_config(VideoReCapConfig())


def test_each_clip_caption_lies_in_exactly_one_segment():
    """Segments that are whole multiples of the clip length: the original's rule assigns every clip exactly once."""
    from transformers_recap import TimedCaption

    duration, clip_seconds, segment_seconds = 70.5, 4.0, 12.0
    clips = [TimedCaption(s, e, f"c{i}") for i, (s, e) in enumerate(clip_windows(duration, clip_seconds))]
    assigned = [text for s, e in clip_windows(duration, segment_seconds) for text in captions_in_window(clips, s, e)]
    assert assigned == [clip.text for clip in clips]
