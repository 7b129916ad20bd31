# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Fine-tuning and evaluating the LLM teacher (Islam et al., CVPR 2024, Sec. 3.4, Figure 4, Table 6a).

Outputs under the configuration's `output_dir`:

```
tokenizer/                   the tokenizer trained on the training pairs (when model.tokenizer is {train: ...})
teacher/                     the teacher doing every task (model.shared: true), or
teacher-segment/, teacher-video/   one teacher per task (model.shared: false); each with teacher.json
checkpoints/<teacher>/       Trainer checkpoints (--resume continues from the last one)
pretrained/<teacher>/        the teacher after its denoising pretraining (with a `pretraining` section), reused
                             by a rerun
predictions_<task>.json      the evaluation split's prompts, references and generated texts
metrics.json                 CIDEr / ROUGE-L / METEOR x 100 per task, and the teacher's description
```
"""

import json
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import torch
from accelerate import PartialState
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    Seq2SeqTrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from transformers_recap.metrics import MeteorScorer

from .modeling import (
    TeacherDataCollator,
    TeacherTrainer,
    add_lora,
    build_teacher_model,
    check_task_lengths,
    config_is_causal,
    count_parameters,
    decode,
    encode_prompt,
    encode_target,
    is_teacher_dir,
    load_teacher,
    make_teacher_dataset,
    save_teacher,
    train_teacher_tokenizer,
)
from .options import TASKS, TaskOptions, TeacherConfig, TeacherConfigError
from .pairs import (
    AnnotationSplit,
    TeacherPair,
    build_pairs,
    format_prompt,
    prompt_parts,
    read_annotation_split,
    require_pairs,
)
from .pretraining import MASK_TOKEN, pretrained_dir, pretraining_dataset


logger = logging.get_logger(__name__)

TASK_TITLES = {"segment": "segment description", "video": "video summary"}
METRIC_NAMES = ("CIDEr", "ROUGE_L", "METEOR")
DEFAULT_TRAINING_ARGUMENTS = {
    # The original text-only baseline (train_text_only.py): AdamW, lr 2e-5, linear warm-up and decay, 10 epochs,
    # batch 8 per GPU.
    "learning_rate": 2e-5,
    "weight_decay": 0.0,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.05,
    "num_train_epochs": 10,
    "per_device_train_batch_size": 8,
    "logging_steps": 50,
    "save_strategy": "steps",
    "save_steps": 1000,
    "save_total_limit": 2,
    "eval_strategy": "no",
    "report_to": [],
    "dataloader_num_workers": 0,
    # Batches of similar lengths: video summaries are several times longer than segment descriptions.
    "train_sampling_strategy": "group_by_length",
}


@dataclass
class TeacherRun:
    """What [`train_teacher`] did: the teacher's description, its folders and its metrics per task."""

    label: str
    teacher_dirs: dict[str, Path]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    num_pairs: dict[str, int] = field(default_factory=dict)


def prepare_data(config: TeacherConfig) -> None:
    """Generates Synthetic-HCap into `data.data_dir` when configured and it holds no annotations yet."""
    from .pairs import find_annotation_file

    synthetic = config.data.synthetic
    state = PartialState()
    if synthetic is not None:
        with state.main_process_first():
            if state.is_main_process and find_annotation_file(config.data_path, "clips_train.pkl") is None:
                synthetic.generate(config.data_path)
    if not config.data_path.is_dir():
        raise TeacherConfigError(f"{config.source}: data.data_dir {config.data_path} does not exist.")


def teacher_is_causal(config: TeacherConfig) -> bool:
    """Decoder-only teacher (from the configured model type or the pretrained model's config)."""
    model = config.model
    if model.name_or_path is not None:
        return config_is_causal(AutoConfig.from_pretrained(model.name_or_path))
    fields = {key: value for key, value in model.config.items() if key != "model_type"}
    try:
        return config_is_causal(AutoConfig.for_model(model.config["model_type"], **fields))
    except ValueError as error:
        raise TeacherConfigError(f"{config.source}: model.config cannot be built: {error}") from None


def teacher_groups(config: TeacherConfig) -> dict[str, dict[str, TaskOptions]]:
    """Teacher folder name -> the tasks it learns: one shared teacher, or one per task."""
    tasks = {name: config.tasks[name] for name in TASKS if name in config.tasks}
    if config.model.shared:
        return {"teacher": tasks}
    return {f"teacher-{name}": {name: task} for name, task in tasks.items()}


def teacher_dirs(config: TeacherConfig) -> dict[str, Path]:
    """Task -> the folder of the teacher that does it."""
    dirs = {}
    for group, tasks in teacher_groups(config).items():
        for name in tasks:
            dirs[name] = config.output_path / group
    return dirs


def load_tokenizer(config: TeacherConfig, train_pairs: dict[str, list[TeacherPair]], causal: bool):
    """The configured tokenizer; `{train: {vocab_size}}` trains one on the training prompts and targets (once)."""
    options = config.model
    if isinstance(options.tokenizer, dict):
        directory = config.output_path / "tokenizer"
        state = PartialState()
        with state.main_process_first():
            if state.is_main_process and not (directory / "tokenizer_config.json").is_file():
                texts = []
                for name, pairs in train_pairs.items():
                    task = config.tasks[name]
                    texts.extend(format_prompt(name, task, pair.inputs, causal) for pair in pairs)
                    texts.extend(pair.target for pair in pairs)
                vocab_size = int(options.tokenizer["train"].get("vocab_size", 512))
                mask_token = MASK_TOKEN if config.pretraining is not None else None
                train_teacher_tokenizer(texts, vocab_size, causal, mask_token).save_pretrained(directory)
        return AutoTokenizer.from_pretrained(directory)
    return AutoTokenizer.from_pretrained(options.tokenizer or options.name_or_path)


def tokenize_pairs(
    pairs: dict[str, list[TeacherPair]],
    tasks: dict[str, TaskOptions],
    tokenizer,
    causal: bool,
    oversample: bool = False,
) -> datasets.Dataset:
    """The pairs of `tasks` tokenised, in order (each repeated `oversample` times when `oversample` is set)."""
    prompts, targets = [], []
    for name, task in tasks.items():
        for pair in pairs.get(name, []):
            parts = prompt_parts(name, task, pair.inputs, causal)
            prompt = encode_prompt(tokenizer, parts, task.max_input_tokens, causal)
            target = encode_target(tokenizer, pair.target, task.max_target_tokens, causal)
            for _ in range(task.oversample if oversample else 1):
                prompts.append(prompt)
                targets.append(target)
    return make_teacher_dataset(prompts, targets)


def training_arguments(
    config: TeacherConfig, group: str, max_steps: int | None = None, **overrides
) -> Seq2SeqTrainingArguments:
    """The configured `Seq2SeqTrainingArguments` over the original text-only baseline's defaults."""
    arguments = {**DEFAULT_TRAINING_ARGUMENTS, **config.training, **overrides}
    if max_steps is not None:
        arguments["max_steps"] = max_steps
    arguments.setdefault("seed", config.seed)
    try:
        return Seq2SeqTrainingArguments(
            output_dir=os.fspath(config.output_path / "checkpoints" / group),
            remove_unused_columns=False,
            predict_with_generate=True,
            **arguments,
        )
    except (ValueError, TypeError) as error:
        raise TeacherConfigError(f"{config.source}: invalid training settings: {error}") from None


def teacher_label(config: TeacherConfig, model=None) -> str:
    """How the teacher is named in the Table 6a row."""
    options = config.model
    if options.name_or_path is not None:
        label = options.name_or_path
    else:
        label = f"{options.config['model_type']} from config"
        if model is not None:
            label += f" ({count_parameters(model)[0] / 1e6:.2f}M parameters)"
    if options.lora:
        label += f" + LoRA r={options.lora.get('r', 8)}"
    if not options.shared:
        label += " (one model per task)"
    return label


def teacher_trainer(model: PreTrainedModel, arguments, dataset, tokenizer, causal: bool) -> TeacherTrainer:
    """A [`TeacherTrainer`] of `model` on `dataset` (pretraining or fine-tuning), padding with the tokenizer's pad id."""
    return TeacherTrainer(
        model=model,
        args=arguments,
        train_dataset=dataset,
        data_collator=TeacherDataCollator(tokenizer.pad_token_id, causal),
        processing_class=tokenizer,
        causal=causal,
    )


def pretrain_group(
    config: TeacherConfig, group: str, train_split: AnnotationSplit, tokenizer, max_steps: int | None = None
) -> tuple[PreTrainedModel, bool]:
    """
    The teacher of `group` before fine-tuning: built as configured, then, with a `pretraining` section, trained by
    denoising on the training split's text (see `pretraining`), saved to `pretrained/<group>` and reloaded from
    there by a rerun. Returns `(model, causal)`.
    """
    model, causal = build_teacher_model(config.model, tokenizer, seed=config.seed)
    options = config.pretraining
    if options is None:
        return model, causal
    directory = pretrained_dir(config.output_path, group)
    # save_pretrained writes the weights after config.json: their presence marks a finished pretraining.
    if (directory / "model.safetensors").is_file():
        logger.info(f"{directory} holds the pretrained {group}; skipping its pretraining.")
        auto = AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM
        return auto.from_pretrained(directory), causal
    dataset = pretraining_dataset(train_split, options, tokenizer, causal, seed=config.seed)
    # --max-steps (a smoke run) bounds pretraining too.
    stage = {**options.training, **({"max_steps": max_steps} if max_steps is not None else {})}
    arguments = training_arguments(config, f"pretraining-{group}", **stage)
    trainer = teacher_trainer(model, arguments, dataset, tokenizer, causal)
    trainer.train()
    if trainer.is_world_process_zero():
        model.save_pretrained(directory)
        history = [entry for entry in trainer.state.log_history if "loss" in entry]
        (config.output_path / f"pretrain_log_{group}.json").write_text(json.dumps(history, indent=1))
    trainer.accelerator.wait_for_everyone()
    return model, causal


def train_group(
    config: TeacherConfig,
    group: str,
    tasks: dict[str, TaskOptions],
    train_pairs: dict[str, list[TeacherPair]],
    tokenizer,
    max_steps: int | None = None,
    resume: bool = False,
    train_split: AnnotationSplit | None = None,
) -> Path:
    """
    Fine-tunes one teacher on its tasks' pairs (after its pretraining on `train_split`'s text, when configured) and
    saves it (LoRA merged); returns its folder.
    """
    if config.pretraining is not None and train_split is None:
        raise ValueError("A teacher with a pretraining section needs the training split's text (train_split).")
    model, causal = pretrain_group(config, group, train_split, tokenizer, max_steps=max_steps)
    check_task_lengths(model, tasks, causal, config.source)
    if config.model.lora:
        model = add_lora(model, config.model.lora, causal, config.source)
    total, trainable = count_parameters(model)
    dataset = tokenize_pairs(train_pairs, tasks, tokenizer, causal, oversample=True)
    logger.info(f"{group}: {len(dataset)} training pairs, {trainable:,} of {total:,} parameters train.")
    arguments = training_arguments(config, group, max_steps=max_steps)
    trainer = teacher_trainer(model, arguments, dataset, tokenizer, causal)
    checkpoint = None
    if resume and os.path.isdir(arguments.output_dir):
        checkpoint = get_last_checkpoint(arguments.output_dir)
    trainer.train(resume_from_checkpoint=checkpoint)
    directory = config.output_path / group
    if trainer.is_world_process_zero():
        final = model.merge_and_unload() if config.model.lora else model
        save_teacher(final, tokenizer, directory, tasks, causal)
        history = [entry for entry in trainer.state.log_history if "loss" in entry]
        (config.output_path / f"train_log_{group}.json").write_text(json.dumps(history, indent=1))
    trainer.accelerator.wait_for_everyone()
    return directory


def evaluate_teacher(
    config: TeacherConfig, directory: Path, pairs: dict[str, list[TeacherPair]], meteor_scorer=None
) -> dict[str, dict[str, float]]:
    """
    Generates the evaluation pairs' targets with the teacher in `directory` and scores them against the manual
    annotations (CIDEr / ROUGE-L (rougeLsum) / METEOR x 100, the paper's evaluation) on the main process, which
    also writes predictions_<task>.json; other processes return `{}`.

    Args:
        meteor_scorer: a running `transformers_recap.metrics.MeteorScorer` to reuse (else one per task).
    """
    from transformers_recap.metrics import compute_caption_metrics

    teacher = load_teacher(directory)
    evaluation = config.evaluation
    arguments = training_arguments(
        config,
        directory.name,
        per_device_eval_batch_size=evaluation.batch_size,
        report_to=[],
        # In order: the predictions are matched to the pairs by position (group_by_length would reorder them).
        train_sampling_strategy="sequential",
    )
    trainer = TeacherTrainer(
        model=teacher.model,
        args=arguments,
        data_collator=TeacherDataCollator(teacher.tokenizer.pad_token_id, teacher.causal),
        processing_class=teacher.tokenizer,
        causal=teacher.causal,
    )
    results = {}
    for name, task in teacher.tasks.items():
        items = pairs.get(name, [])[: evaluation.max_samples]
        if not items:
            continue
        dataset = tokenize_pairs({name: items}, {name: task}, teacher.tokenizer, teacher.causal)
        generation = {"max_new_tokens": task.max_target_tokens, **evaluation.generation}
        output = trainer.predict(dataset, metric_key_prefix=name, **generation)
        if not trainer.is_world_process_zero():
            continue
        # The gathered predictions end with copies of the first rows when the processes needed even batches.
        predictions = decode(teacher.tokenizer, output.predictions)[: len(items)]
        references = [pair.target for pair in items]
        scores = compute_caption_metrics(predictions, references, mode="videorecap", meteor_scorer=meteor_scorer)
        results[name] = {
            "CIDEr": 100 * scores["CIDEr"],
            "ROUGE_L": 100 * scores["rougeLsum"],
            "METEOR": 100 * scores["METEOR"],
            "loss": float(output.metrics[f"{name}_loss"]),
            "num_samples": len(items),
        }
        records = [
            {
                "key": pair.key,
                "video_uid": pair.video_uid,
                "start_sec": pair.start_sec,
                "end_sec": pair.end_sec,
                "prompt": format_prompt(name, task, pair.inputs, teacher.causal),
                "reference": pair.target,
                "prediction": prediction,
            }
            for pair, prediction in zip(items, predictions, strict=True)
        ]
        (config.output_path / f"predictions_{name}.json").write_text(json.dumps(records, indent=1))
        logger.info(f"Teacher {name}: " + ", ".join(f"{key} {results[name][key]:.2f}" for key in METRIC_NAMES))
    return results


def train_teacher(
    config: TeacherConfig,
    max_steps: int | None = None,
    resume: bool = False,
    force: bool = False,
    evaluate: bool = True,
) -> TeacherRun:
    """
    The whole teacher step: data, pairs, tokenizer, fine-tuning of each teacher (skipped when already finished
    unless `force`), evaluation by generation on `evaluation.split`; writes metrics.json.
    """
    prepare_data(config)
    cache_dir = config.output_path / "cache"
    train_split = read_annotation_split(config.data_path, "train", cache_dir=cache_dir)
    train_pairs = build_pairs(config.tasks, train_split)
    require_pairs(train_pairs, config.data_path, "train")
    causal = teacher_is_causal(config)
    tokenizer = load_tokenizer(config, train_pairs, causal)
    run = TeacherRun(label=teacher_label(config), teacher_dirs=teacher_dirs(config))
    run.num_pairs = {f"train_{name}": len(pairs) for name, pairs in train_pairs.items()}
    for group, tasks in teacher_groups(config).items():
        directory = config.output_path / group
        if is_teacher_dir(directory) and not force:
            logger.info(f"{directory} holds a trained teacher; skipping its training (force=True retrains it).")
            continue
        train_group(
            config, group, tasks, train_pairs, tokenizer, max_steps=max_steps, resume=resume, train_split=train_split
        )
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    first = next(iter(run.teacher_dirs.values()))
    if config.model.name_or_path is None:
        run.label = teacher_label(config, load_teacher(first).model)
    if evaluate:
        evaluation_split = read_annotation_split(config.data_path, config.evaluation.split, cache_dir=cache_dir)
        evaluation_pairs = build_pairs(config.tasks, evaluation_split)
        run.num_pairs.update({f"{config.evaluation.split}_{name}": len(p) for name, p in evaluation_pairs.items()})
        with ExitStack() as stack:
            scorer = stack.enter_context(MeteorScorer()) if PartialState().is_main_process else None
            for directory in dict.fromkeys(run.teacher_dirs.values()):
                run.metrics.update(evaluate_teacher(config, directory, evaluation_pairs, meteor_scorer=scorer))
        if PartialState().is_main_process:
            summary = {"teacher": run.label, "split": config.evaluation.split, "metrics": run.metrics}
            summary["num_pairs"] = run.num_pairs
            (config.output_path / "metrics.json").write_text(json.dumps(summary, indent=2))
    return run


def format_teacher_table(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> str:
    """
    Table 6a's layout: one row per LLM teacher, CIDEr / ROUGE-L / METEOR (x 100) per task it writes.

    Args:
        rows: `(teacher label, {task: {"CIDEr", "ROUGE_L", "METEOR"}})` per teacher.
    """
    tasks = [name for name in TASKS if any(name in metrics for _, metrics in rows)]
    header = "| LLM teacher | " + " | ".join(f"{TASK_TITLES[name]} C / R / M" for name in tasks) + " |"
    lines = [header, "|---|" + "---:|" * len(tasks)]
    for label, metrics in rows:
        cells = []
        for name in tasks:
            if name in metrics:
                cells.append(" / ".join(f"{metrics[name][key]:.2f}" for key in METRIC_NAMES))
            else:
                cells.append("-")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "TeacherRun",
    "evaluate_teacher",
    "format_teacher_table",
    "prepare_data",
    "teacher_dirs",
    "teacher_groups",
    "train_teacher",
]
