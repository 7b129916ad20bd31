"""The LLM teacher: configuration errors, pair building, and the training script end to end on tiny T5 / GPT-2."""

import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from pycocoevalcap.cider.cider import Cider
from rouge_score import rouge_scorer
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from transformers_recap.data import generate_synthetic_hcap
from transformers_recap.training.teacher import (
    TeacherConfigError,
    build_pairs,
    format_prompt,
    load_teacher_config,
    read_annotation_split,
    teacher_config_from_dict,
)
from transformers_recap.training.teacher.options import DEFAULT_PREFIXES


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LAYOUT = {"size": 16, "clips_per_segment": 4, "segments_per_video": 3}
NUM_TRAIN, NUM_NARRATION_ONLY, NUM_VALIDATION = 6, 4, 2
TINY_T5 = {"model_type": "t5", "d_model": 32, "d_ff": 64, "d_kv": 16, "num_layers": 2, "num_heads": 2,
           "dropout_rate": 0.0}  # fmt: skip
TINY_GPT2 = {"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 256, "resid_pdrop": 0.0,
             "embd_pdrop": 0.0, "attn_pdrop": 0.0}  # fmt: skip


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tiny_hcap(directory: Path) -> dict:
    """6 annotated + 4 narration-only training videos and 2 validation videos (3 segments of 4 clips of 4 s)."""
    train = generate_synthetic_hcap(directory, NUM_TRAIN, 0, num_narration_only_videos=NUM_NARRATION_ONLY, **LAYOUT)
    validation = generate_synthetic_hcap(directory, NUM_VALIDATION, 100, split="validation", **LAYOUT)
    return {"train": train, "validation": validation}


def tiny_teacher_config(root: Path, data_dir: Path, model: dict, **sections) -> dict:
    config = {
        "output_dir": str(root),
        "seed": 0,
        "data": {"data_dir": str(data_dir)},
        "model": {"config": model, "tokenizer": {"train": {"vocab_size": 300}}},
        "tasks": {
            "segment": {"max_input_tokens": 200, "max_target_tokens": 24},
            "video": {"input": "segment_descriptions", "max_input_tokens": 200, "max_target_tokens": 48},
        },
        "training": {
            "max_steps": 24,
            "learning_rate": 0.003,
            "lr_scheduler_type": "constant",
            "warmup_steps": 0,
            "per_device_train_batch_size": 4,
            "logging_steps": 1,
            "save_strategy": "no",
            "use_cpu": True,
            "disable_tqdm": True,
        },
        "evaluation": {"batch_size": 3},
        "pseudo": {"batch_size": 2},
    }
    for name, section in sections.items():
        config[name] = {**config.get(name, {}), **section} if isinstance(section, dict) else section
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_hcap(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny_hcap")
    return directory, make_tiny_hcap(directory)


def read_pickle(path: Path):
    with open(path, "rb") as file:
        return pickle.load(file)


# --------------------------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"modle": {}}, "unknown key 'modle'"),
        ({"tasks": {"segment": {"max_caption": 3}}}, "unknown key 'tasks.segment.max_caption'"),
        ({"tasks": {"summary": {}}}, "unknown key 'tasks.summary'"),
        ({"evaluation": {"batch_size": "many"}}, "evaluation.batch_size must be an integer, got 'many'"),
        ({"training": {"learning_rat": 0.1}}, "unknown key 'training.learning_rat'"),
        ({"training": {"output_dir": "x"}}, "'training.output_dir' is set by the teacher"),
        ({"data": {}}, "data.data_dir is required"),
        ({"model": {"name_or_path": "t5-small", "config": {"model_type": "t5"}}}, "exactly one of"),
        ({"pseudo": {"segment_seconds": "often"}}, "pseudo.segment_seconds"),
        ({"pseudo": {"tasks": ["video"]}}, "need the segment task"),
        (
            {
                "data": {
                    "data_dir": "d",
                    "synthetic": {"train": {"num_videos": 2}, "validation": {"num_videos": 1, "seed": 1}},
                }
            },
            "data.synthetic.train.seed is required",
        ),
        ({"tasks": {"video": {"input": "pixels"}}}, "tasks.video.input must be one of"),
    ],
)
def test_config_errors_name_the_key_and_the_file(tmp_path, change, message):
    base = tiny_teacher_config(tmp_path / "run", tmp_path / "data", TINY_T5)
    base.update(change)
    path = write_config(tmp_path / "teacher.yaml", base)
    with pytest.raises(TeacherConfigError, match=message) as error:
        load_teacher_config(path)
    assert str(path) in str(error.value)


def test_output_dir_and_overrides_apply_over_the_file(tmp_path):
    path = write_config(tmp_path / "teacher.yaml", tiny_teacher_config(tmp_path / "run", tmp_path / "data", TINY_T5))
    config = load_teacher_config(
        path, overrides=["training.learning_rate=1e-4", "evaluation.batch_size=5"], output_dir=tmp_path / "other"
    )
    assert Path(config.output_dir) == tmp_path / "other"
    assert config.training["learning_rate"] == 1e-4 and config.evaluation.batch_size == 5
    with pytest.raises(TeacherConfigError, match=r"teacher.yaml: unknown key 'training.learning_rat'"):
        load_teacher_config(path, overrides=["training.learning_rat=1"])
    with pytest.raises(TeacherConfigError, match=r"teacher.yaml: Unrecognised argument 'learning_rate'"):
        load_teacher_config(path, overrides=["learning_rate"])


def test_config_sections_are_typed(tmp_path):
    config = teacher_config_from_dict(
        tiny_teacher_config(tmp_path, tmp_path, TINY_T5, pseudo={"segment_seconds": [60, 120.5]}), source="x.yaml"
    )
    assert config.tasks["video"].input == "segment_descriptions" and config.tasks["segment"].input == "clip_captions"
    assert config.pseudo.segment_seconds == [60, 120.5] and config.pseudo.max_segments == 100_000
    assert config.evaluation.batch_size == 3 and config.training["max_steps"] == 24
    assert config.tasks["video"].oversample == 1 and config.model.shared is True


def test_oversampling_repeats_a_task_in_training_only(tiny_hcap, tmp_path):
    from transformers_recap.training.teacher.modeling import train_teacher_tokenizer
    from transformers_recap.training.teacher.training import tokenize_pairs

    data_dir, _ = tiny_hcap
    config = teacher_config_from_dict(tiny_teacher_config(tmp_path, data_dir, TINY_T5))
    config.tasks["video"].oversample = 3
    pairs = build_pairs(config.tasks, read_annotation_split(data_dir, "train", cache_dir=tmp_path / "cache"))
    tokenizer = train_teacher_tokenizer([p.target for task in pairs.values() for p in task], 300, causal=False)
    training = tokenize_pairs(pairs, config.tasks, tokenizer, causal=False, oversample=True)
    evaluation = tokenize_pairs(pairs, config.tasks, tokenizer, causal=False)
    assert len(pairs["segment"]) == NUM_TRAIN * 3 and len(pairs["video"]) == NUM_TRAIN
    assert len(training) == NUM_TRAIN * 3 + 3 * NUM_TRAIN and len(evaluation) == NUM_TRAIN * 4
    video_rows = training["target_ids"][NUM_TRAIN * 3 :]
    assert video_rows[0] == video_rows[1] == video_rows[2] != video_rows[3]
    lengths = [len(p) + len(t) for p, t in zip(training["prompt_ids"], training["target_ids"], strict=True)]
    assert training["length"] == lengths


def test_script_reports_a_bad_config_in_one_line(tmp_path, capsys):
    config = tiny_teacher_config(tmp_path / "run", tmp_path / "data", TINY_T5)
    config["model"]["lora"] = "yes"
    path = write_config(tmp_path / "bad.yaml", config)
    assert load_example("train_llm_teacher").main(["--config", str(path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"error: {path}: model.lora must be a mapping or null, got 'yes'.")


# --------------------------------------------------------------------------------------------------------------------
# pairs
# --------------------------------------------------------------------------------------------------------------------


def test_pairs_are_the_manual_annotations_with_ground_truth_inputs(tiny_hcap, tmp_path):
    data_dir, _ = tiny_hcap
    config = teacher_config_from_dict(tiny_teacher_config(tmp_path, data_dir, TINY_T5))
    pairs = build_pairs(config.tasks, read_annotation_split(data_dir, "validation", cache_dir=tmp_path / "cache"))
    segments = read_pickle(data_dir / "annotations" / "segments_val.pkl")
    videos = json.loads((data_dir / "annotations" / "videos_val.json").read_text())
    assert len(pairs["segment"]) == len(segments) == NUM_VALIDATION * 3 and len(pairs["video"]) == NUM_VALIDATION

    # Clip captions "#C C lifts the red ball" become sentences "C lifts the red ball." after the task prefix.
    for pair, record in zip(pairs["segment"], segments, strict=True):
        sentences = [entry["narration_text"].replace("#C ", "", 1) + "." for entry in record["captions_gt"]]
        assert format_prompt("segment", config.tasks["segment"], pair.inputs, causal=False) == (
            DEFAULT_PREFIXES["segment"] + " ".join(sentences)
        )
        assert pair.target == record["segment_description"]
        assert (pair.video_uid, pair.start_sec, pair.end_sec) == (
            record["vid"],
            record["start_sec"],
            record["end_sec"],
        )
    for pair, record in zip(pairs["video"], videos, strict=True):
        descriptions = [text.rstrip(".") + "." for text in record["segment_descriptions"]]
        prompt = format_prompt("video", config.tasks["video"], pair.inputs, causal=True)
        assert prompt == DEFAULT_PREFIXES["video"] + " ".join(descriptions) + "\nSummary:"
        assert pair.target == record["video_summary"]


def test_long_inputs_are_evenly_subsampled(tmp_path):
    config = teacher_config_from_dict(tiny_teacher_config(tmp_path, tmp_path, TINY_T5))
    task = config.tasks["segment"]
    task.max_captions, task.prefix = 4, ""
    captions = [f"#C C step {index}" for index in range(10)]
    # np.linspace(0, 9, 4) = 0, 3, 6, 9.
    assert format_prompt("segment", task, captions, causal=False) == "C step 0. C step 3. C step 6. C step 9."


# --------------------------------------------------------------------------------------------------------------------
# the training script end to end
# --------------------------------------------------------------------------------------------------------------------


def reference_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """CIDEr-D (pycocoevalcap) and rougeLsum (rouge_score) x 100 as the paper ran them: stripped, lower-cased."""
    predictions = [text.strip().lower() for text in predictions]
    references = [text.strip().lower() for text in references]
    cider, _ = Cider().compute_score(
        {i: [reference] for i, reference in enumerate(references)},
        {i: [prediction] for i, prediction in enumerate(predictions)},
    )
    scorer = rouge_scorer.RougeScorer(["rougeLsum"])
    rouge = np.mean([scorer.score(r, p)["rougeLsum"].fmeasure for r, p in zip(references, predictions, strict=True)])
    return {"CIDEr": 100 * cider, "ROUGE_L": 100 * rouge}


def check_evaluation(run_dir: Path, data_dir: Path, printed: str) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    segments = read_pickle(data_dir / "annotations" / "segments_val.pkl")
    videos = json.loads((data_dir / "annotations" / "videos_val.json").read_text())
    expected_references = {
        "segment": [r["segment_description"] for r in segments],
        "video": [r["video_summary"] for r in videos],
    }
    predictions = {}
    for task in ("segment", "video"):
        records = json.loads((run_dir / f"predictions_{task}.json").read_text())
        assert [record["reference"] for record in records] == expected_references[task]
        predictions[task] = records
        reference = reference_scores([r["prediction"] for r in records], [r["reference"] for r in records])
        for name, value in reference.items():
            assert metrics[task][name] == pytest.approx(value, abs=1e-6), (task, name)
        assert 0 <= metrics[task]["METEOR"] <= 100 and metrics[task]["num_samples"] == len(records)
        row = " / ".join(f"{metrics[task][key]:.2f}" for key in ("CIDEr", "ROUGE_L", "METEOR"))
        assert row in printed
    assert "| LLM teacher | segment description C / R / M | video summary C / R / M |" in printed
    return predictions


def training_losses(run_dir: Path, group: str) -> list[float]:
    return [entry["loss"] for entry in json.loads((run_dir / f"train_log_{group}.json").read_text())]


def test_t5_teacher_script_end_to_end(tiny_hcap, tmp_path, capsys):
    data_dir, _ = tiny_hcap
    run_dir = tmp_path / "run"
    path = write_config(tmp_path / "teacher.yaml", tiny_teacher_config(run_dir, data_dir, TINY_T5))
    assert load_example("train_llm_teacher").main(["--config", str(path)]) == 0
    printed = capsys.readouterr().out
    predictions = check_evaluation(run_dir, data_dir, printed)
    assert "| t5 from config (" in printed

    losses = training_losses(run_dir, "teacher")
    assert len(losses) == 24 and np.mean(losses[-4:]) < np.mean(losses[:4]) - 0.5

    # The saved teacher is a plain seq2seq model folder; greedy generation of one prompt alone, encoded here as
    # `prompt </s>`, gives what the batched evaluation wrote.
    teacher_dir = run_dir / "teacher"
    assert json.loads((teacher_dir / "teacher.json").read_text())["causal"] is False
    model = AutoModelForSeq2SeqLM.from_pretrained(teacher_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    # Every prediction belongs to its own prompt (evaluation keeps the pairs' order).
    for task, max_new_tokens in (("segment", 24), ("video", 48)):
        for record in predictions[task]:
            ids = tokenizer(record["prompt"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            assert len(ids) < 200  # not truncated
            with torch.no_grad():
                output = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False)
            assert tokenizer.decode(output[0], skip_special_tokens=True).strip() == record["prediction"]

    # A second run finds the trained teacher and only evaluates it again.
    assert load_example("train_llm_teacher").main(["--config", str(path), "--no-eval"]) == 0
    assert training_losses(run_dir, "teacher") == losses


def test_gpt2_teacher_with_lora_one_model_per_task(tiny_hcap, tmp_path, capsys):
    data_dir, _ = tiny_hcap
    run_dir = tmp_path / "run"
    config = tiny_teacher_config(run_dir, data_dir, TINY_GPT2, training={"max_steps": 16, "learning_rate": 0.01})
    config["model"].update(shared=False, lora={"r": 4, "lora_alpha": 8, "lora_dropout": 0.0})
    path = write_config(tmp_path / "teacher.yaml", config)
    assert load_example("train_llm_teacher").main(["--config", str(path)]) == 0
    printed = capsys.readouterr().out
    predictions = check_evaluation(run_dir, data_dir, printed)
    assert "gpt2 from config (" in printed and "+ LoRA r=4 (one model per task)" in printed

    for task in ("segment", "video"):
        teacher_dir = run_dir / f"teacher-{task}"
        description = json.loads((teacher_dir / "teacher.json").read_text())
        assert description["causal"] is True and list(description["tasks"]) == [task]
        assert training_losses(run_dir, f"teacher-{task}")[-1] < training_losses(run_dir, f"teacher-{task}")[0]

        # LoRA trained only the attention projections (peft's GPT-2 target c_attn) and was merged into them: every
        # other weight is still the random initialisation of the configured seed.
        trained = AutoModelForCausalLM.from_pretrained(teacher_dir).eval()
        torch.manual_seed(0)
        initial = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(teacher_dir))
        initial_state = initial.state_dict()
        changed = {n for n, value in trained.state_dict().items() if not torch.equal(value, initial_state[n])}
        assert changed == {f"transformer.h.{layer}.attn.c_attn.weight" for layer in range(2)}

        # Batched evaluation left-pads the prompts; one prompt alone (`<bos> prompt`) generates the same tokens.
        tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
        for record in predictions[task]:
            ids = [tokenizer.bos_token_id] + tokenizer(record["prompt"], add_special_tokens=False)["input_ids"]
            assert len(ids) < 200  # not truncated
            with torch.no_grad():
                output = trained.generate(
                    torch.tensor([ids]),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                    max_new_tokens=24 if task == "segment" else 48,
                    do_sample=False,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new_tokens = output[0, len(ids) :]
            assert tokenizer.decode(new_tokens, skip_special_tokens=True).strip() == record["prediction"]


def test_teacher_and_pseudo_are_subcommands_of_the_cli(tmp_path, capsys):
    from transformers_recap import cli

    config = tiny_teacher_config(tmp_path / "run", tmp_path / "data", TINY_T5)
    config["model"]["lora"] = "yes"
    path = write_config(tmp_path / "bad.yaml", config)
    assert cli.main(["teacher", "--config", str(path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"error: {path}: model.lora must be a mapping or null, got 'yes'."]
    assert cli.main(["pseudo", "--config", str(path), "--batch-size", "0"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[0].startswith("error: ")
    args = cli.build_parser().parse_args(["pseudo", "--config", "t.yaml", "--max-videos", "3", "pseudo.batch_size=8"])
    assert (args.config, args.max_videos, args.overrides) == ("t.yaml", 3, ["pseudo.batch_size=8"])
