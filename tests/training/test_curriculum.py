"""The curriculum end to end on a tiny Synthetic-HCap set, and its configuration errors."""

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml

from transformers_recap import VideoReCapConfig, VideoReCapForConditionalGeneration
from transformers_recap.data.ego4d_hcap import read_annotation_file
from transformers_recap.training.curriculum import (
    Curriculum,
    CurriculumConfigError,
    copy_level_weights,
    load_curriculum_config,
    resize_query_tokens,
    stage_levels,
)


TINY_MODEL = {
    "vision_config": {
        "hidden_size": 32,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "image_size": 32,
        "patch_size": 16,
        "num_frames": 4,
    },
    "qformer_config": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    "text_config": {"n_embd": 48, "n_layer": 2, "n_head": 2, "n_positions": 192},
    "level_settings": {
        "clip": {"num_video_queries": 4},
        "segment": {"num_video_queries": 2, "num_text_queries": 4},
        "video": {"num_video_queries": 4, "num_text_queries": 4},
    },
}
TINY_INPUTS = {
    "segment": {"num_video_features": 6, "max_context_tokens": 96, "window_seconds": 16},
    "video": {"num_video_features": 8, "max_context_tokens": 96},
}
TINY_BUDGETS = {"clip": 14, "segment": 20, "video": 40}


def tiny_curriculum_config(root: Path) -> dict:
    return {
        "output_dir": str(root / "run"),
        "export_dir": str(root / "export"),
        "seed": 0,
        "data": {
            "data_dir": str(root / "data"),
            "video_dir": str(root / "data" / "videos"),
            "synthetic": {
                "train": {"num_videos": 6, "seed": 0},
                "validation": {"num_videos": 2, "seed": 1000},
                "size": 32,
                "fps": 4,
                "clips_per_segment": 4,
                "segments_per_video": 2,
            },
        },
        "model": {
            "text": {"pretrain": {"vocab_size": 300, "epochs": 2, "batch_size": 32, "learning_rate": 0.003}},
            "vision": None,
            "video_processor": {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}},
            "config": copy.deepcopy(TINY_MODEL),
            "input_settings": copy.deepcopy(TINY_INPUTS),
            "level_max_new_tokens": dict(TINY_BUDGETS),
        },
        "training": {
            "learning_rate": 0.003,
            "per_device_train_batch_size": 8,
            "logging_steps": 1,
            "save_steps": 100,
            "report_to": [],
            "disable_tqdm": True,
        },
        "stages": {
            "clip": {"max_steps": 12, "train_vision": True},
            "segment": {"max_steps": 10},
            "video": {"max_steps": 10, "per_device_train_batch_size": 4},
        },
        "extraction": {"batch_size": 16},
        "evaluation": {"batch_size": 16},
    }


def losses(curriculum: Curriculum, stage: str) -> list[float]:
    return [entry["loss"] for entry in json.loads((curriculum.stage_dir(stage) / "train_log.json").read_text())]


def test_tiny_curriculum_end_to_end(tmp_path):
    curriculum = Curriculum(tiny_curriculum_config(tmp_path))
    curriculum.run(stages=["clip"])
    clip_model = VideoReCapForConditionalGeneration.from_pretrained(curriculum.stage_model_dir("clip"))

    # The segment stage starts from the clip stage's weights (its level modules copied, queries resized).
    start, _ = curriculum.model_for_stage("segment")
    inner, clip_inner = start.model, clip_model.model
    torch.testing.assert_close(
        inner.alignment["segment"].video_query_tokens,
        resize_query_tokens(clip_inner.alignment["clip"].video_query_tokens, 2),
    )
    for layer, clip_layer in zip(inner.language_model.layers, clip_inner.language_model.layers, strict=True):
        torch.testing.assert_close(layer.ln_1["segment"].weight, clip_layer.ln_1["clip"].weight)
        torch.testing.assert_close(
            layer.cross_attention_block["segment"].mlp_gate, clip_layer.cross_attention_block["clip"].mlp_gate
        )
    for name, value in clip_model.model.vision_model.state_dict().items():
        torch.testing.assert_close(start.model.vision_model.state_dict()[name], value)

    # A video-only ablation without the curriculum, from the same clip stage: the segment level is rebuilt without
    # its text branch and keeps its initial weights; everything else is the clip stage's.
    ablation_config = tiny_curriculum_config(tmp_path)
    ablation_config["model"]["config"]["level_settings"]["segment"]["num_text_queries"] = 0
    ablation_config["model"]["input_settings"]["segment"]["context_separator"] = None
    ablation_config["stages"]["segment"]["init"] = "scratch"
    ablation, processor = Curriculum(ablation_config).model_for_stage("segment")
    assert ablation.model.alignment["segment"].text_qformer is None
    assert ablation.config.get_level_settings("segment").num_text_queries == 0
    assert not processor.get_input_settings("segment").takes_context
    torch.testing.assert_close(
        ablation.model.alignment["segment"].video_query_tokens, clip_inner.alignment["segment"].video_query_tokens
    )
    for name, value in clip_model.state_dict().items():
        if "text_q" not in name or ".segment." not in name:
            torch.testing.assert_close(ablation.state_dict()[name], value, msg=name)

    results = curriculum.run(stages=["segment", "video"])

    # Extraction wrote per-video CLS features and captions, and the segment annotations carry those predictions.
    extraction = curriculum.output_dir / "extraction" / "clip"
    record = json.loads(next(extraction.glob("*.json")).read_text())
    annotations = curriculum.output_dir / "annotations" / "segment"
    segments = [s for split in ("train", "val") for s in read_annotation_file(annotations / f"segments_{split}.pkl")]
    first = next(s for s in segments if s["vid"] == record["video_uid"])
    expected = [clip[2] for clip in record["clips"] if clip[0] >= first["start_sec"] and clip[1] <= first["end_sec"]]
    assert [caption[3] for caption in first["captions_pred"]] == expected
    videos = json.loads((curriculum.output_dir / "annotations" / "video" / "videos_train.json").read_text())
    assert all(len(video["segment_descriptions_pred"]) == 2 for video in videos)

    for stage in ("clip", "segment", "video"):
        stage_losses = losses(curriculum, stage)
        assert sum(stage_losses[-3:]) < sum(stage_losses[:3]), (stage, stage_losses)
        assert (curriculum.stage_dir(stage) / "metrics.json").is_file()
    assert set(results["video"]["video"]) == {"CIDEr", "ROUGE_L", "METEOR"}

    # Frozen parts never moved; the video stage started from the segment stage's level modules.
    final = VideoReCapForConditionalGeneration.from_pretrained(curriculum.stage_model_dir("video"))
    for name, value in clip_model.model.vision_model.state_dict().items():
        torch.testing.assert_close(final.model.vision_model.state_dict()[name], value)
    torch.testing.assert_close(final.model.language_model.wte.weight, clip_model.model.language_model.wte.weight)

    # The final model was exported with the data layout and the model code for remote-code loading (which
    # tests/models/video_recap/test_serialization.py runs in a Python without this package), and loads as saved.
    export = tmp_path / "export"
    assert {path.name for path in export.glob("*.py")} >= {"configuration_video_recap.py", "modeling_video_recap.py"}
    config = json.loads((export / "config.json").read_text())
    assert (
        config["auto_map"]["AutoModelForImageTextToText"] == "modeling_video_recap.VideoReCapForConditionalGeneration"
    )
    layout = json.loads((export / "synthetic_hcap.json").read_text())
    assert layout["seeds"] == [0, 1000] and layout["clips_per_segment"] == 4 and layout["clip_seconds"] == 4.0
    exported = VideoReCapForConditionalGeneration.from_pretrained(export)
    for name, value in final.state_dict().items():
        torch.testing.assert_close(exported.state_dict()[name], value)


def test_copy_level_weights_resizes_queries_as_the_original(tiny_config):
    model = VideoReCapForConditionalGeneration(tiny_config)
    tokens = torch.arange(6.0).reshape(1, 6, 1).expand(1, 6, 24)
    assert resize_query_tokens(tokens, 3)[0, :, 0].tolist() == [1.0, 3.0, 4.0]  # arange(0, 6, 1.5)[1:] -> 1, 3, 4
    assert resize_query_tokens(tokens[:, :2], 5)[0, :, 0].tolist() == [
        0.0,
        0.0,
        1.0,
        1.0,
        1.0,
    ]  # 0,.33,.67,1,1.33,1.67
    copy_level_weights(model, "segment", "video")
    video, segment = model.model.alignment["video"], model.model.alignment["segment"]
    for name, value in segment.text_qformer.state_dict().items():
        torch.testing.assert_close(video.text_qformer.state_dict()[name], value)
    torch.testing.assert_close(video.video_query_tokens, resize_query_tokens(segment.video_query_tokens, 4))


def test_bad_configs_fail_at_start(tmp_path):
    config = tiny_curriculum_config(tmp_path)
    with pytest.raises(CurriculumConfigError, match="unknown level 'scene'"):
        Curriculum({**config, "stages": {"scene": {}}})
    with pytest.raises(CurriculumConfigError, match="unknown keys"):
        Curriculum({**config, "stages": {"clip": {"num_epochs": 3}}})
    missing = {**config, "data": {"data_dir": str(tmp_path / "nowhere")}}
    with pytest.raises(CurriculumConfigError, match="does not exist"):
        Curriculum(missing).run()
    with pytest.raises(CurriculumConfigError, match="Configuration file"):
        load_curriculum_config(tmp_path / "missing.yaml")
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(["not", "a", "mapping"]))
    with pytest.raises(CurriculumConfigError, match="mapping"):
        load_curriculum_config(path)
    # features missing for a video: the run stops before training anything
    (tmp_path / "features").mkdir()
    features_config = {
        **config,
        "data": {**config["data"], "features_dir": str(tmp_path / "features")},
        "extraction": {"captions": "annotations"},
    }
    with pytest.raises(CurriculumConfigError, match="no CLS feature file"):
        Curriculum(features_config).run(stages=["segment"])
    assert not (tmp_path / "run" / "segment").exists()
    no_videos = {**config, "data": {key: value for key, value in config["data"].items() if key != "video_dir"}}
    with pytest.raises(CurriculumConfigError, match="needs data.video_dir"):
        Curriculum(no_videos).run(stages=["clip"])


@pytest.mark.parametrize("name", ["demo_synthetic", "video_recap_ego4d", "video_recap_u_ego4d"])
def test_example_configs_are_valid(name):
    path = Path(__file__).resolve().parents[2] / "examples" / "configs" / f"{name}.yaml"
    curriculum = load_curriculum_config(path)
    config = VideoReCapConfig(**curriculum.model_section.get("config", {}), unified=curriculum.unified)
    for stage in ("clip", "segment", "video"):
        options, _ = curriculum.stage_settings(stage)
        for level in options.get("samples_per_epoch", {}):
            assert level in stage_levels(stage, curriculum.unified)
    if curriculum.unified:
        assert {config.get_level_settings(level).num_video_queries for level in ("clip", "segment", "video")} == {256}
