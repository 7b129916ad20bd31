"""The curriculum end to end on the shipped smoke configuration, its command line, and its start-up checks."""

import importlib.util
import json
import pickle
from pathlib import Path

import pytest
import torch

from transformers_recap import VideoReCapConfig, VideoReCapForConditionalGeneration
from transformers_recap.data.ego4d_hcap import read_annotation_file
from transformers_recap.engine import TimedCaption
from transformers_recap.training.curriculum import (
    Curriculum,
    CurriculumConfig,
    CurriculumConfigError,
    copy_level_weights,
    read_curriculum_config,
    resize_query_tokens,
    stage_levels,
)
from transformers_recap.training.curriculum.config import read_config_mapping
from transformers_recap.training.curriculum.extraction import entries_in_window, extract_before
from transformers_recap.training.curriculum.stages import is_finished, pretrain_text_model


ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "configs"
SMOKE = CONFIGS / "smoke_synthetic.yaml"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def losses(curriculum: Curriculum, stage: str) -> list[float]:
    return [entry["loss"] for entry in json.loads((curriculum.stage_dir(stage) / "train_log.json").read_text())]


def test_smoke_configuration_end_to_end(tmp_path, capsys):
    script = load_example("train_curriculum")
    run_dir, export = tmp_path / "run", tmp_path / "export"
    arguments = ["--config", str(SMOKE), "--output-dir", str(run_dir), f"export_dir={export}"]
    assert script.main([*arguments, "--stage", "clip", "--no-eval"]) == 0
    curriculum = Curriculum(read_curriculum_config(SMOKE, overrides=[f"export_dir={export}"], output_dir=run_dir))
    assert (run_dir / "data" / "annotations" / "clips_train.pkl").is_file()  # the data followed --output-dir
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

    # A video-only ablation without the curriculum, from the same clip stage (overrides on the command line's
    # syntax): the segment level is rebuilt without its text branch and keeps its initial weights.
    ablation_overrides = [
        "model.config.level_settings.segment.num_text_queries=0",
        "model.input_settings.segment.context_separator=null",
        "stages.segment.init=scratch",
    ]
    ablation_config = read_curriculum_config(SMOKE, overrides=ablation_overrides, output_dir=run_dir)
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

    capsys.readouterr()
    assert script.main(arguments) == 0  # the clip stage is done: segment and video, with evaluation and export
    printed = capsys.readouterr().out  # the Trainer's logs, then the results
    results = json.loads(printed[printed.rindex("\n{\n") + 1 :])
    assert set(results) == {"segment", "video"} and set(results["video"]["video"]) == {"CIDEr", "ROUGE_L", "METEOR"}

    # Extraction wrote per-video CLS features and captions; each segment annotation carries the clip captions that
    # lie inside its window (the segments are whole multiples of the clips here).
    extraction = curriculum.output_dir / "extraction" / "clip"
    records = {path.stem: json.loads(path.read_text()) for path in extraction.glob("*.json")}
    annotations = curriculum.output_dir / "annotations" / "segment"
    segments = [s for split in ("train", "val") for s in read_annotation_file(annotations / f"segments_{split}.pkl")]
    assert {segment["vid"] for segment in segments} == set(records)
    for segment in segments:
        clips = records[segment["vid"]]["clips"]
        expected = [c for c in clips if c[0] >= segment["start_sec"] and c[1] <= segment["end_sec"]]
        assert [entry[1:] for entry in segment["captions_pred"]] == expected and len(expected) == 4
    videos = json.loads((curriculum.output_dir / "annotations" / "video" / "videos_train.json").read_text())
    assert all(len(video["segment_descriptions_pred"]) == 2 for video in videos)

    for stage in ("clip", "segment", "video"):
        stage_losses = losses(curriculum, stage)
        assert sum(stage_losses[-3:]) < sum(stage_losses[:3]), (stage, stage_losses)
    assert [(curriculum.stage_dir(stage) / "metrics.json").is_file() for stage in ("clip", "segment", "video")] == [
        False,  # --no-eval
        True,
        True,
    ]

    # Frozen parts never moved; the video stage started from the segment stage's level modules.
    final = VideoReCapForConditionalGeneration.from_pretrained(curriculum.stage_model_dir("video"))
    for name, value in clip_model.model.vision_model.state_dict().items():
        torch.testing.assert_close(final.model.vision_model.state_dict()[name], value)
    torch.testing.assert_close(final.model.language_model.wte.weight, clip_model.model.language_model.wte.weight)
    assert final.generation_config.use_cache  # Trainer switched it off for training

    # The final model was exported with the data layout and the model code for remote-code loading (which
    # tests/models/video_recap/test_serialization.py runs in a Python without this package), and loads as saved.
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

    # A video stage configured with more text queries than the segment stage's model was built with (the original
    # uses 256 at both levels) rebuilds the video level: its text queries are the segment level's, repeated.
    wider = read_curriculum_config(
        SMOKE, overrides=["model.config.level_settings.video.num_text_queries=10"], output_dir=run_dir
    )
    widened, _ = Curriculum(wider).model_for_stage("video")
    segment_model = VideoReCapForConditionalGeneration.from_pretrained(curriculum.stage_model_dir("segment"))
    segment_tokens = segment_model.model.alignment["segment"].text_query_tokens
    # rows int(arange(0, 4, 4 / 11))[1:] of the segment level's 4 (section 2.5 of the reference)
    rows = [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]
    torch.testing.assert_close(widened.model.alignment["video"].text_query_tokens, segment_tokens[:, rows])
    for name, value in segment_model.model.alignment["segment"].text_qformer.state_dict().items():
        torch.testing.assert_close(widened.model.alignment["video"].text_qformer.state_dict()[name], value)


def test_a_stage_without_its_starting_model_is_a_one_line_error(tmp_path, capsys):
    script = load_example("train_curriculum")
    code = script.main(
        ["--config", str(SMOKE), "--output-dir", str(tmp_path), "--stage", "segment", "--max-steps", "20"]
    )
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith(("error", "Traceback"))]
    assert code == 2 and len(errors) == 1
    assert "starts from the clip stage's model" in errors[0] and "--stage clip" in errors[0]
    assert list(tmp_path.iterdir()) == []  # it failed before generating data or loading anything


def tiny_data_config(root: Path, **overrides) -> CurriculumConfig:
    """The smoke configuration on 2 training videos and 1 validation video."""
    items = ["data.synthetic.train.num_videos=2", "data.synthetic.validation.num_videos=1"]
    items += [f"{key}={value}" for key, value in overrides.items()]
    return read_curriculum_config(SMOKE, overrides=items, output_dir=root)


def test_a_stage_smaller_than_its_batch_is_refused(tmp_path):
    # 2 videos x 8 clips = 16 clip examples, fewer than one batch of 32: drop_last would train 0 steps.
    config = tiny_data_config(tmp_path, **{"stages.clip.per_device_train_batch_size": 32})
    with pytest.raises(CurriculumConfigError, match=r"would train 0 steps: it has 16 clip examples.*batch of 32"):
        Curriculum(config).run(stages=["clip"])
    assert not (tmp_path / "clip" / "model").exists() and not (tmp_path / "text_model").exists()


def test_max_steps_bounds_the_caption_lm_pretraining(tmp_path):
    # 2 epochs of 22 captions (16 clips, 4 segments, 2 videos) in batches of 2 would be 22 steps.
    config = tiny_data_config(tmp_path, **{"model.text.pretrain.batch_size": 2})
    Curriculum(config).prepare_data()
    directory = pretrain_text_model(config, config.model.text, max_steps=3)
    state = json.loads((directory / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and state["max_steps"] == 3
    assert is_finished(directory, max_steps=3) and not is_finished(directory, max_steps=None)


def write_annotations(data_dir: Path, segment_vid: str, video_vid: str) -> None:
    folder = data_dir / "annotations"
    folder.mkdir(parents=True)
    segment = {"vid": segment_vid, "start_sec": 0.0, "end_sec": 16.0, "segment_description": "C works."}
    (folder / "segments_train.pkl").write_bytes(pickle.dumps([{**segment, "captions_pred": []}]))
    video = {"vid": video_vid, "start_sec": 0.0, "end_sec": 32.0, "video_summary": "C works.", "sids": []}
    (folder / "videos_train.json").write_text(json.dumps([{**video, "segment_descriptions_pred": []}]))


@pytest.mark.parametrize("stage", ["segment", "video"])
def test_extraction_rejects_ids_that_are_paths(tmp_path, stage):
    data_dir, evil = tmp_path / "data", "../../../x/evil"
    write_annotations(data_dir, evil if stage == "segment" else "video-0", evil)
    (tmp_path / "videos").mkdir()
    config = {
        "output_dir": str(tmp_path / "run"),
        "data": {"data_dir": str(data_dir), "video_dir": str(tmp_path / "videos")},
    }
    with pytest.raises(CurriculumConfigError) as error:
        extract_before(CurriculumConfig.from_dict(config), stage)
    message = str(error.value)
    name = "segments_train.pkl" if stage == "segment" else "videos_train.json"
    assert "\n" not in message and name in message and "vid" in message and evil in message
    assert not (tmp_path / "run").exists() and not (tmp_path / "x").exists()


def test_extraction_uses_the_processors_window_rule(tiny_processor):
    clips = [[0.0, 4.0, "a"], [4.0, 8.0, "b"], [8.0, 12.0, "c"]]
    assert entries_in_window(tiny_processor, clips, 4.0, 12.0) == clips[1:]  # inside
    assert entries_in_window(tiny_processor, clips, 5.0, 6.0) == [clips[1]]  # none inside: the overlapping one
    assert entries_in_window(tiny_processor, clips, 3.0, 9.0) == [clips[1]]
    timed = [TimedCaption(start, end, text) for start, end, text in clips]
    for start, end in [(0.0, 12.0), (5.0, 6.0), (3.5, 8.5), (11.0, 20.0)]:
        expected = tiny_processor.window_context(timed, start, end)
        assert [entry[2] for entry in entries_in_window(tiny_processor, clips, start, end)] == expected


def test_copy_level_weights_resizes_queries_as_the_original(tiny_config):
    model = VideoReCapForConditionalGeneration(tiny_config)
    tokens = torch.arange(6.0).reshape(1, 6, 1).expand(1, 6, 24)
    assert resize_query_tokens(tokens, 3)[0, :, 0].tolist() == [1.0, 3.0, 4.0]  # arange(0, 6, 1.5)[1:] -> 1, 3, 4
    # arange(0, 2, 1/3)[1:] = .33, .67, 1, 1.33, 1.67 -> 0, 0, 1, 1, 1
    assert resize_query_tokens(tokens[:, :2], 5)[0, :, 0].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    copy_level_weights(model, "segment", "video")
    video, segment = model.model.alignment["video"], model.model.alignment["segment"]
    for name, value in segment.text_qformer.state_dict().items():
        torch.testing.assert_close(video.text_qformer.state_dict()[name], value)
    torch.testing.assert_close(video.video_query_tokens, resize_query_tokens(segment.video_query_tokens, 4))


def config_error(tmp_path: Path, text: str, *overrides: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(CurriculumConfigError) as error:
        read_curriculum_config(path, overrides=overrides)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_bad_configs_are_one_line_errors_naming_the_key_and_its_source(tmp_path):
    base = "output_dir: run\ndata: {data_dir: data}\n"
    path = str(tmp_path / "config.yaml")
    message = config_error(tmp_path, base + "stages:\n  clip: {num_epochs: 3}\n")
    assert message.startswith(path) and "'stages.clip.num_epochs'" in message and "num_train_epochs" in message
    message = config_error(tmp_path, base + "data_dir: data\n")
    assert message.startswith(path) and "unknown key 'data_dir'" in message
    assert "unknown key 'stages.scene'; expected one of clip, segment, video" in config_error(
        tmp_path, base + "stages: {scene: {}}\n"
    )
    message = config_error(tmp_path, base + "extraction: {batch_size: many}\n")
    assert "extraction.batch_size must be an integer, got 'many'" in message
    message = config_error(tmp_path, base + "model: {config: {vision_config: {hiden_size: 8}}}\n")
    assert "'vision_config.hiden_size'" in message and "did you mean 'hidden_size'" in message
    message = config_error(tmp_path, base + "model: {input_settings: {segment: {window_secs: 8}}}\n")
    assert "model.input_settings" in message and "window_secs" in message
    assert "set by the curriculum" in config_error(tmp_path, base + "training: {seed: 3}\n")
    assert "data.data_dir" in config_error(tmp_path, "output_dir: run\n")
    message = config_error(tmp_path, base + "stages: {clip: {samples_per_epoch: {video: 10}}}\n")
    assert "does not train" in message
    message = config_error(tmp_path, base + "stages: {clip: {freeze_vision_steps: 10}}\n")
    assert "stages.clip.freeze_vision_steps is 10" in message and "train_vision: true" in message
    message = config_error(tmp_path, base + "stages: {clip: {train_vision: true, vision_lr_warmup_steps: -1}}\n")
    assert "stages.clip.vision_lr_warmup_steps is -1" in message and "0 or more" in message
    plateau = (
        "stages: {clip: {train_vision: true, vision_lr_warmup_steps: 5, lr_scheduler_type: reduce_lr_on_plateau}}"
    )
    assert "choose another lr_scheduler_type" in config_error(tmp_path, base + plateau + "\n")
    # An override is named as the source of its own mistakes.
    message = config_error(tmp_path, base, "training.learning_rte=0.1")
    assert message.startswith("command-line override 'training.learning_rte=0.1'") and "learning_rate" in message
    assert "KEY=VALUE" in config_error(tmp_path, base, "--stage")
    assert "mapping" in config_error(tmp_path, "- not\n- a mapping\n")
    with pytest.raises(CurriculumConfigError, match="Configuration file .* does not exist"):
        read_curriculum_config(tmp_path / "missing.yaml")


def test_exports_into_the_package_only_on_request(tmp_path):
    package = Path(__import__("transformers_recap").__file__).resolve().parent
    base = {"output_dir": str(tmp_path), "data": {"data_dir": str(tmp_path)}}
    with pytest.raises(CurriculumConfigError, match="inside the installed package"):
        CurriculumConfig.from_dict({**base, "export_dir": str(package / "demo_model")})
    config = CurriculumConfig.from_dict(
        {**base, "export_dir": str(package / "demo_model"), "allow_package_export": True}
    )
    assert config.export_dir == package / "demo_model"
    assert (
        read_curriculum_config(CONFIGS / "demo_synthetic.yaml").export_dir.resolve().is_relative_to(ROOT / "outputs")
    )


def test_missing_data_fails_before_training(tmp_path):
    config = tiny_data_config(tmp_path)
    missing = CurriculumConfig.from_dict({"output_dir": str(tmp_path), "data": {"data_dir": str(tmp_path / "no")}})
    with pytest.raises(CurriculumConfigError, match="does not exist"):
        Curriculum(missing).run()
    (tmp_path / "features").mkdir()
    features_config = read_curriculum_config(
        SMOKE,
        overrides=["data.synthetic.train.num_videos=2", "data.synthetic.validation.num_videos=1",
                   f"data.features_dir={tmp_path / 'features'}", "extraction.captions=annotations"],
        output_dir=tmp_path,
    )  # fmt: skip
    Curriculum(config).prepare_data()
    (tmp_path / "clip" / "model").mkdir(parents=True)
    (tmp_path / "clip" / "model" / "curriculum_run.json").write_text('{"max_steps": null}')  # a finished clip stage
    with pytest.raises(CurriculumConfigError, match="no CLS feature file"):
        Curriculum(features_config).run(stages=["segment"])
    assert not (tmp_path / "segment").exists()


@pytest.mark.parametrize("name", ["demo_synthetic", "smoke_synthetic", "video_recap_ego4d", "video_recap_u_ego4d"])
def test_example_configs_are_valid(name):
    config = read_curriculum_config(CONFIGS / f"{name}.yaml")
    model_config = VideoReCapConfig(**config.model.config, unified=config.model.unified)
    for stage in ("clip", "segment", "video"):
        for level in config.stage_options(stage).samples_per_epoch or {}:
            assert level in stage_levels(stage, config.model.unified)
    if config.model.unified:
        assert {
            model_config.get_level_settings(level).num_video_queries for level in ("clip", "segment", "video")
        } == {256}


def test_ablation_variants_are_valid_configs():
    ablations = load_example("ablations_synthetic")
    variants = ablations.variants(read_config_mapping(CONFIGS / "demo_synthetic.yaml"))
    parsed = {name: CurriculumConfig.from_dict(config) for name, config in variants.items()}
    assert parsed["no curriculum (segment/video from initial weights)"].stage_options("video").init == "scratch"
    assert parsed["Video ReCap-U"].model.unified
    assert parsed["text-only inputs"].model.input_settings["segment"]["num_video_features"] is None


@pytest.mark.parametrize("pseudo, mixed", [("false", ()), ("true", ("segment", "video")), ("[segment]", ("segment",))])
def test_pseudo_annotations_join_the_training_data_of_the_chosen_levels(tmp_path, pseudo, mixed):
    (tmp_path / "features").mkdir()
    settings = {
        "extraction.captions": "annotations",
        "data.features_dir": tmp_path / "features",
        "data.pseudo": pseudo,
    }
    config = tiny_data_config(tmp_path, **settings)
    Curriculum(config).prepare_data()
    annotations = config.data.data_dir / "annotations"
    # Pseudo files: the manual records of the first training video under another video id.
    segments = pickle.loads((annotations / "segments_train.pkl").read_bytes())
    pseudo_segments = [{**r, "vid": "pseudo-video"} for r in segments if r["vid"] == segments[0]["vid"]]
    (annotations / "segments_train_pseudo.pkl").write_bytes(pickle.dumps(pseudo_segments))
    videos = json.loads((annotations / "videos_train.json").read_text())
    (annotations / "videos_train_pseudo.json").write_text(json.dumps([{**videos[0], "vid": "pseudo-video"}]))
    runner = Curriculum(config)
    for level, manual in (("segment", segments), ("video", videos)):
        train = runner.load_split(level, "train")
        added = ["pseudo-video"] * (len(pseudo_segments) if level == "segment" else 1) if level in mixed else []
        # Pseudo records first, then the manual ones, each in file order (the trainer's sampler shuffles).
        assert train["video_uid"] == added + [record["vid"] for record in manual]
        assert "pseudo-video" not in runner.load_split(level, "validation")["video_uid"]


def test_context_copy_examples_are_the_runs_of_each_input_packed_as_the_level_reads_them():
    from datasets import Dataset

    from transformers_recap.training.curriculum.stages import context_copy_examples

    dataset = Dataset.from_list(
        [
            {"video_uid": "a", "text": "summary a", "segment_descriptions_pred": ["C x.", "C y.", "C z."]},
            {"video_uid": "b", "text": "summary b", "segment_descriptions_pred": ["C w."]},
        ]
    )
    copies = context_copy_examples(dataset, "video", use_ground_truth_inputs=False, separator=". ", max_run=2)
    assert copies["video_uid"] == ["a", "a", "a", "a", "a", "b"]
    assert copies["segment_descriptions_pred"] == [
        ["C x."],
        ["C x.", "C y."],
        ["C y."],
        ["C y.", "C z."],
        ["C z."],
        ["C w."],
    ]
    assert copies["text"] == ["C x.", "C x. C y.", "C y.", "C y. C z.", "C z.", "C w."]
    segment = Dataset.from_list([{"text": "s", "clip_captions_gt": ["#C C a", "#C C b"]}])
    copies = context_copy_examples(segment, "segment", use_ground_truth_inputs=True, separator="")
    assert copies["text"] == ["#C C a", "#C C a#C C b", "#C C b"]


def test_shuffled_context_copy_runs_draw_captions_from_every_example():
    from collections import Counter

    from datasets import Dataset

    from transformers_recap.training.curriculum.stages import context_copy_examples

    inputs = {"a": ["C x.", "C y.", "C z."], "b": ["C w.", "C v."], "c": []}
    dataset = Dataset.from_list(
        [{"video_uid": uid, "text": f"summary {uid}", "segment_descriptions_gt": runs} for uid, runs in inputs.items()]
    )
    pool = Counter(caption for runs in inputs.values() for caption in runs)
    copies = context_copy_examples(
        dataset, "video", use_ground_truth_inputs=True, separator=". ", max_run=2, shuffled_runs=400, seed=3
    )
    # One run per example trained on; the examples with an input in turn give the other fields.
    assert len(copies) == 400
    assert copies["video_uid"] == ["a", "b"] * 200
    lengths = Counter()
    for uid, run, text in zip(copies["video_uid"], copies["segment_descriptions_gt"], copies["text"], strict=True):
        assert 1 <= len(run) <= min(2, len(inputs[uid]))
        assert not Counter(run) - pool  # drawn from all inputs, without replacement within a run
        assert text == " ".join(run)  # the descriptions end in a period: packed with ". ", they read as written
        lengths[len(run)] += 1
    assert set(lengths) == {1, 2}
    drawn = Counter(caption for run in copies["segment_descriptions_gt"] for caption in run)
    assert set(drawn) == set(pool)  # captions of both examples mix
    assert any(
        set(run) & set(inputs["a"]) and set(run) & set(inputs["b"]) for run in copies["segment_descriptions_gt"]
    )
    again = context_copy_examples(
        dataset, "video", use_ground_truth_inputs=True, separator=". ", max_run=2, shuffled_runs=400, seed=3
    )
    other = context_copy_examples(
        dataset, "video", use_ground_truth_inputs=True, separator=". ", max_run=2, shuffled_runs=400, seed=4
    )
    assert again["text"] == copies["text"] and other["text"] != copies["text"]


def test_the_video_stage_first_learns_to_copy_its_input_and_a_resumed_stage_reuses_it(tmp_path):
    settings = {
        "stages.segment.per_device_train_batch_size": 2,
        "stages.video.per_device_train_batch_size": 2,
        "stages.video.context_copy_steps": 3,
    }
    curriculum = Curriculum(tiny_data_config(tmp_path, **settings))
    curriculum.run(evaluate=False)
    copy_dir = tmp_path / "video" / "context_copy"
    # 2 videos of 2 segments: 3 runs each (first, both, second); 3 steps of batches of 2.
    assert [entry["step"] for entry in json.loads((copy_dir / "train_log.json").read_text())][-1] == 3
    from safetensors.torch import load_file

    copied = load_file(copy_dir / "trainable.safetensors")
    start, _ = curriculum.model_for_stage("video")
    start.set_trainable_levels(["video"])  # the video level's parts, and only them
    assert set(copied) == {name for name, parameter in start.named_parameters() if parameter.requires_grad}
    assert all(".video." in name or "alignment.video" in name for name in copied)
    initial = dict(start.named_parameters())
    assert any(not torch.equal(copied[name], initial[name]) for name in copied)  # the warm-up trained them

    # Resumed (no checkpoint of the stage itself), the stage loads the warm-up's parameters instead of training.
    fresh, _ = curriculum.model_for_stage("video")
    fresh.set_trainable_levels(["video"])
    train_sets = {"video": curriculum.load_split("video", "train")}
    curriculum.train_context_copy("video", fresh, train_sets, collator=None, max_steps=None, resume=True)
    for name, parameter in fresh.named_parameters():
        torch.testing.assert_close(parameter, copied[name] if name in copied else initial[name], msg=name)


def test_a_shuffled_copy_warm_up_sees_each_of_its_runs_once(tmp_path):
    settings = {
        "stages.segment.per_device_train_batch_size": 2,
        "stages.video.per_device_train_batch_size": 2,
        "stages.video.context_copy_steps": 4,
        "stages.video.context_copy_shuffled": True,
    }
    curriculum = Curriculum(tiny_data_config(tmp_path, **settings))
    curriculum.run(evaluate=False)
    log = json.loads((tmp_path / "video" / "context_copy" / "train_log.json").read_text())
    # 4 steps of batches of 2 draw 8 runs, one epoch (the 2 videos' 6 consecutive runs would make it 1.33 epochs).
    assert log[-1]["step"] == 4 and log[-1]["epoch"] == 1.0


def test_context_copy_steps_is_checked(tmp_path):
    base = SMOKE.read_text()
    message = config_error(tmp_path, base, "stages.clip.context_copy_steps=5")
    assert "stages.clip.context_copy_steps is 5" in message and "segment or video" in message
    message = config_error(tmp_path, base, "stages.video.context_copy_steps=-1")
    assert "stages.video.context_copy_steps is -1" in message
    no_text = (
        "model.input_settings.video.context_separator=null",
        "model.config.level_settings.video.num_text_queries=0",
    )
    message = config_error(tmp_path, base, "stages.video.context_copy_steps=5", *no_text)
    assert "stages.video.context_copy_steps is 5" in message and "context_separator" in message
