# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The models of the curriculum's stages: the initial model from public parts (or a caption LM trained first), the
model each later stage starts from (the level below's weights copied over), what trains, and the training
arguments.
"""

import json
import os
import random
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, HfArgumentParser, Seq2SeqTrainingArguments, TrainerCallback
from transformers.utils import logging

from ...conversion.pretrained_parts import from_pretrained_parts
from ...levels import LEVELS
from ...models.video_recap import (
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
)
from ...models.video_recap.processing_video_recap import merge_input_settings, pack_context
from ..files import write_atomically
from .config import LORA_TARGET_MODULES, CurriculumConfig, CurriculumConfigError, StageOptions, TextOptions


logger = logging.get_logger(__name__)

STAGES = LEVELS
"""Curriculum stages, named after the level they add."""

PAPER_TRAINING_ARGUMENTS = {
    "learning_rate": 3e-5,
    "weight_decay": 0.01,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "max_grad_norm": 1.0,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 0.05,
    "logging_steps": 10,
    "save_strategy": "steps",
    "save_steps": 500,
    "save_total_limit": 2,
    "eval_strategy": "no",
    "activation_checkpointing_kwargs": {"use_reentrant": False},
    "dataloader_num_workers": 0,
}
"""Training arguments of every stage before the configuration's `training` and `stages` (the paper's AdamW)."""

RUN_RECORD_FILE = "curriculum_run.json"
"""Written next to a finished model: the `--max-steps` it was trained with (`null`: the configured length)."""


def is_finished(directory: Path, max_steps: int | None) -> bool:
    """
    Whether `directory` holds a model this run can reuse: one trained to its configured length, or, for a run
    bounded by `--max-steps` (a smoke run), any model; a smoke run's model is trained again by a full run. The
    record is written last (see [`record_finished`]), so a save that was interrupted does not count.
    """
    record_path = directory / RUN_RECORD_FILE
    if not record_path.is_file():
        return False
    bounded = json.loads(record_path.read_text())["max_steps"]
    if bounded is not None and max_steps is None:
        logger.warning(f"{directory} was trained with --max-steps {bounded} (a smoke run); training it again.")
        return False
    return True


def record_finished(directory: Path, max_steps: int | None) -> None:
    """Marks the model saved in `directory` finished, with the `--max-steps` bound it was trained with."""
    write_atomically(directory / RUN_RECORD_FILE, json.dumps({"max_steps": max_steps}) + "\n")


def resize_query_tokens(tokens: torch.Tensor, num_queries: int) -> torch.Tensor:
    """
    Resizes `(1, n, width)` query tokens to `num_queries` rows as the original does when a stage starts from the
    previous level's checkpoint: rows at the integer parts of `arange(0, n, n / (num_queries + 1))[1:]` (sub-sampling
    256 -> 32, repetition 32 -> 256).
    """
    count = tokens.shape[1]
    indices = np.arange(0, count, count / (num_queries + 1)).astype(int)[1:][:num_queries]
    return tokens[:, torch.as_tensor(indices)].clone()


@torch.no_grad()
def copy_level_weights(model: VideoReCapForConditionalGeneration, source: str, target: str) -> None:
    """
    Starts `target`'s level-specific modules from `source`'s (Video ReCap): gated cross-attention blocks, GPT-2
    `ln_1`/`ln_2`, the video Q-Former and its queries (resized, see [`resize_query_tokens`]), and the text Q-Former
    when both levels have one (the segment level's fresh text Q-Former is kept when the source is the clip level).
    """
    config = model.config
    if config.unified:
        return
    inner = model.model
    for layer in inner.language_model.layers:
        for name in ("ln_1", "ln_2", "cross_attention_block"):
            modules = getattr(layer, name)
            if modules is not None:
                modules[target].load_state_dict(modules[source].state_dict())
    source_alignment, target_alignment = inner.alignment[source], inner.alignment[target]
    for branch in ("video", "text"):
        source_qformer = getattr(source_alignment, f"{branch}_qformer")
        target_qformer = getattr(target_alignment, f"{branch}_qformer")
        if source_qformer is None or target_qformer is None:
            continue
        target_qformer.load_state_dict(source_qformer.state_dict())
        target_tokens = getattr(target_alignment, f"{branch}_query_tokens")
        source_tokens = getattr(source_alignment, f"{branch}_query_tokens")
        target_tokens.copy_(resize_query_tokens(source_tokens, target_tokens.shape[1]))


def pretrain_text_model(config: CurriculumConfig, options: TextOptions, max_steps: int | None = None) -> Path:
    """Trains the caption tokenizer and GPT-2 on the training captions of every level (demo models)."""
    from ...data import load_ego4d_hcap
    from ..text_pretraining import pretrain_caption_language_model, train_caption_tokenizer

    directory = config.output_dir / "text_model"
    if is_finished(directory, max_steps):
        return directory
    texts = []
    for level in LEVELS:
        dataset = load_ego4d_hcap(level, config.data.data_dir, split="train", cache_dir=config.output_dir / "cache")
        texts.extend(dataset["text"])
    settings = options.pretrain
    tokenizer = train_caption_tokenizer(texts, vocab_size=settings.vocab_size)
    pretrain_caption_language_model(
        texts,
        tokenizer,
        dict(config.model.config.get("text_config") or {}),
        directory,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        seed=config.seed,
        max_steps=max_steps,
    )
    record_finished(directory, max_steps)
    return directory


def configure_generation(config: CurriculumConfig, model: VideoReCapForConditionalGeneration) -> None:
    """Applies `model.level_max_new_tokens` (the caption budget per level) to the model's generation config."""
    budgets = {**model.generation_config.level_max_new_tokens, **config.model.level_max_new_tokens}
    model.generation_config.level_max_new_tokens = budgets


def build_initial_model(
    config: CurriculumConfig, max_steps: int | None = None
) -> tuple[VideoReCapForConditionalGeneration, VideoReCapProcessor]:
    """The model before the clip stage, from public parts (GPT-2, LaViLa / CLIP, random Q-Formers)."""
    options = config.model
    text = options.text
    if isinstance(text, TextOptions):
        text = os.fspath(pretrain_text_model(config, text, max_steps=max_steps))
    tokenizer = AutoTokenizer.from_pretrained(text)
    config_kwargs = dict(options.config)
    config_kwargs["text_config"] = AutoConfig.from_pretrained(text).to_dict()
    model_config = VideoReCapConfig(**config_kwargs, unified=options.unified)
    torch.manual_seed(config.seed)
    model = from_pretrained_parts(text=text, vision=options.vision, qformer=options.qformer, config=model_config)
    video_processor = VideoReCapVideoProcessor(**options.video_processor)
    processor = VideoReCapProcessor(
        video_processor=video_processor,
        tokenizer=tokenizer,
        input_settings=merge_input_settings(options.input_settings),
    )
    _check_processor(processor, model.config)
    configure_generation(config, model)
    return model, processor


def _check_processor(processor: VideoReCapProcessor, model_config: VideoReCapConfig) -> None:
    try:
        processor.check_model_config(model_config)
    except ValueError as error:
        raise CurriculumConfigError(f"model.input_settings / model.config disagree: {error}") from None


def model_for_stage(
    config: CurriculumConfig, stage: str, max_steps: int | None = None
) -> tuple[VideoReCapForConditionalGeneration, VideoReCapProcessor]:
    """The model a stage starts from: the initial model, or the previous stage's with its level copied over."""
    index = STAGES.index(stage)
    if index == 0:
        return build_initial_model(config, max_steps=max_steps)
    previous = STAGES[index - 1]
    previous_dir = config.stage_model_dir(previous)
    if not is_finished(previous_dir, max_steps):
        raise CurriculumConfigError(
            f"The {stage} stage starts from the {previous} stage's model, which is missing at {previous_dir}; run "
            f"--stage {previous} first."
        )
    model = VideoReCapForConditionalGeneration.from_pretrained(previous_dir)
    processor = VideoReCapProcessor.from_pretrained(previous_dir)
    configured = VideoReCapConfig._merge_level_settings(config.model.config.get("level_settings"))
    inputs = merge_input_settings(config.model.input_settings)
    changed = [
        level
        for level in LEVELS[index:]
        if configured[level] != model.config.level_settings[level] or inputs[level] != processor.input_settings[level]
    ]
    if changed:
        # The configuration sets other inputs for this stage's levels than the previous model was built with
        # (e.g. the video-only / text-only ablations, or more text queries): rebuild those levels' modules, keep
        # every other weight. Only the changed levels' query tensors can differ in shape; they are initialised
        # afresh, then resized from the previous level's below (as the original's resume does) with init: previous.
        # A unified model's shared queries are not copied between levels, so there a new shape stays an error.
        logger.info(f"Rebuilding the {changed} level modules with the configured level_settings.")
        config_dict = model.config.to_dict()
        config_dict["level_settings"].update({level: configured[level] for level in changed})
        model_config = VideoReCapConfig.from_dict(config_dict)
        model = VideoReCapForConditionalGeneration.from_pretrained(
            previous_dir, config=model_config, ignore_mismatched_sizes=not model_config.unified
        )
        processor = VideoReCapProcessor(
            video_processor=processor.video_processor, tokenizer=processor.tokenizer, input_settings=inputs
        )
        _check_processor(processor, model_config)
    if config.stage_options(stage).init == "previous":
        copy_level_weights(model, previous, stage)
    # With init: scratch the level keeps the fresh initialisation it got with the initial model (the Table 5
    # ablation of the paper: no hierarchical curriculum).
    return model, processor


def make_trainable(model: VideoReCapForConditionalGeneration, levels, options: StageOptions):
    """Freezes all but the recipe's trainable parts of `levels`; optional LoRA and encoder training."""
    count = model.set_trainable_levels(levels)
    if options.train_vision:
        # Synthetic data has no pretrained video encoder (the release uses LaViLa's, frozen): train it here.
        model.model.vision_model.requires_grad_(True)
    if options.lora:
        from peft import LoraConfig, get_peft_model

        lora = dict(options.lora)
        target = lora.pop("target", "self_attention")
        trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
        lora_config = LoraConfig(target_modules=LORA_TARGET_MODULES[target], fan_in_fan_out=True, **lora)
        model = get_peft_model(model, lora_config)
        # peft freezes everything but the LoRA matrices; the recipe's parts keep training.
        for name, parameter in model.get_base_model().named_parameters():
            if name in trainable:
                parameter.requires_grad_(True)
    total = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    logger.info(f"Training levels {list(levels)}: {total:,} trainable parameters ({count:,} in the level parts).")
    return model


class FreezeForSteps(TrainerCallback):
    """
    Keeps `module` frozen for the first `steps` optimizer steps of a training run, then lets it train (the
    `freeze_vision_steps` stage option). Trainer builds the optimizer before `on_train_begin`, so the module's
    parameters are in it from the start; while frozen they get no gradient, hence no update and no optimizer state,
    and the backward pass stops at the module's output. A resumed run past `steps` trains the module from its first
    step. Hand-written: Trainer and accelerate have no scheduled freezing.

    Why a from-scratch video encoder needs it: at its initialisation the decoder memory varies between clips by a
    few millionths of its energy, so the encoder's first gradients are noise, and Adam's normalised steps on that
    noise can keep the clip level at the caption LM's prior for a whole stage (README, "The demo recipe, measured").
    """

    def __init__(self, module: torch.nn.Module, steps: int):
        self.module = module
        self.steps = steps
        # Only the parameters that train: the rest of the module stays frozen after the steps too.
        self.parameters = [parameter for parameter in module.parameters() if parameter.requires_grad]

    def _set_trainable(self, trainable: bool) -> None:
        for parameter in self.parameters:
            parameter.requires_grad_(trainable)

    def on_train_begin(self, args, state, control, **kwargs):
        self._set_trainable(state.global_step >= self.steps)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.steps:
            logger.info(f"Step {self.steps}: {type(self.module).__name__} trains from now on.")
            self._set_trainable(True)


def context_copy_examples(
    dataset,
    level: str,
    use_ground_truth_inputs: bool,
    separator: str,
    max_run: int = 8,
    shuffled_runs: int = 0,
    seed: int = 0,
):
    """
    The examples of the `context_copy_steps` warm-up of a segment or video level: for every training example, each
    run of at most `max_run` consecutive captions of its lower-level input (`segment_descriptions_pred` of a video
    example, or `_gt` with ground-truth inputs), as the input text and, packed as the level reads it, as the target.
    The video features stay those of the example's window.

    With `shuffled_runs` > 0 (`context_copy_shuffled`), that many runs instead: the training examples in turn, each
    giving its video features and a run of 1 to `max_run` (at most as many as it has) captions drawn at random,
    without replacement, from the inputs of all training examples (`random.Random(seed)`); single captions recur,
    longer runs hardly ever. Consecutive runs of a few hundred examples are few (2,400 for the demo's 160 videos), so
    8,000 steps of 16 see each one 53 times and the level can learn them by heart rather than learn to copy.

    Why: the video level reads the descriptions through its text Q-Former's queries and must write them back in
    order, objects and all; a few hundred summaries do not teach that (README, "The demo model, and evidence that the
    recipe learns"), while the descriptions themselves, copied, give as many examples as there are runs. Hand-written:
    a task of this model.

    Returns:
        `datasets.Dataset` of the copy examples, in the order of `dataset` and, per example, by run start and length
        (shuffled: in the order they were drawn).
    """
    from datasets import Dataset

    source = "clip_captions" if level == "segment" else "segment_descriptions"
    field = f"{source}_{'gt' if use_ground_truth_inputs else 'pred'}"
    rows = []
    if shuffled_runs:
        rng = random.Random(seed)
        pool = [caption for captions in dataset[field] for caption in captions]
        examples = [example for example in dataset if example[field]]
        for index in range(shuffled_runs):
            example = examples[index % len(examples)]
            run = rng.sample(pool, rng.randint(1, min(len(example[field]), max_run, len(pool))))
            rows.append({**example, field: run, "text": pack_context(run, separator)})
        return Dataset.from_list(rows)
    for example in dataset:
        captions = list(example[field])
        for start in range(len(captions)):
            for end in range(start + 1, min(len(captions), start + max_run) + 1):
                run = captions[start:end]
                rows.append({**example, field: run, "text": pack_context(run, separator)})
    return Dataset.from_list(rows)


def _tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def training_arguments(
    config: CurriculumConfig,
    stage: str,
    overrides: Mapping | None = None,
    max_steps: int | None = None,
    output_dir: str | os.PathLike | None = None,
) -> Seq2SeqTrainingArguments:
    """
    The stage's `Seq2SeqTrainingArguments`: [`PAPER_TRAINING_ARGUMENTS`], then `training`, then the stage, then
    `overrides`; `max_steps` (`--max-steps`) bounds the stage; checkpoints go to `output_dir` (default: the stage's
    `checkpoints/`).
    """
    arguments = {
        **PAPER_TRAINING_ARGUMENTS,
        "report_to": ["tensorboard"] if _tensorboard_available() else [],
        **config.stage_training_arguments(stage),
        **(overrides or {}),
        "output_dir": os.fspath(output_dir or config.checkpoints_dir(stage)),
        "remove_unused_columns": False,
        "predict_with_generate": True,
        "seed": config.seed,
    }
    if max_steps is not None:
        arguments["max_steps"] = max_steps
    try:
        (parsed,) = HfArgumentParser(Seq2SeqTrainingArguments).parse_dict(arguments)
    except (ValueError, TypeError) as error:
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        raise CurriculumConfigError(f"The {stage} stage's training arguments are invalid: {message}") from None
    return parsed


def clip_reader(config: CurriculumConfig, model_config: VideoReCapConfig) -> Callable[[str, float, float], np.ndarray]:
    """
    `(video_path, start, end)` -> the sampled frames of that clip, as many as the model's encoder takes. With
    `data.clip_frame_cache: N`, the frames of the last N clips read stay in memory (for small datasets trained
    for many epochs, where decoding would otherwise cost as much as the training step).
    """
    from ...engine.video_io import read_clip_frames

    reader = partial(read_clip_frames, num_frames=model_config.vision_config.num_frames)
    cache_size = config.data.clip_frame_cache
    return lru_cache(maxsize=cache_size)(reader) if cache_size else reader


__all__ = [
    "FreezeForSteps",
    "PAPER_TRAINING_ARGUMENTS",
    "STAGES",
    "build_initial_model",
    "clip_reader",
    "context_copy_examples",
    "copy_level_weights",
    "make_trainable",
    "model_for_stage",
    "pretrain_text_model",
    "resize_query_tokens",
    "training_arguments",
]
