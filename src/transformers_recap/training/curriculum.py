# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Hierarchical curriculum training of Video ReCap (Islam et al., CVPR 2024, Sec. 3.3; original `train.py`,
`train_unified.py` and `scripts/*.sh` for the settings).

1. **clip**: train clip captions on video frames.
2. the clip model captions every clip of the training and validation videos and keeps their CLS features
   (through the recursive engine); the segment examples get these predicted clip captions as input.
3. **segment**: train segment descriptions on CLS features + predicted clip captions, starting from the clip weights.
4. the segment model describes every segment window; the video examples get these predicted descriptions.
5. **video**: train video summaries, starting from the segment weights.

Only the level-specific parts train (gated cross-attention blocks, GPT-2 `ln_1`/`ln_2`, the Q-Formers'
cross-attention and the query tokens); the encoder, GPT-2 and the rest of the Q-Formers stay frozen. Video ReCap-U
shares one set of those parts across levels and alternates batches between levels: stage 2 trains clip + segment,
stage 3 all three, the lower levels subsampled to the higher level's size.

Stage outputs under `output_dir`:

```
<stage>/checkpoints/     Trainer checkpoints (optimizer, scheduler, sampler position and RNG: exact resume)
<stage>/model/           the model and processor after the stage (what the next stage starts from)
<stage>/metrics.json     CIDEr / ROUGE-L / METEOR per trained level on the validation split
extraction/clip/         per-video CLS features (<vid>.safetensors) and predicted clip captions (<vid>.json)
extraction/segment/      per-video predicted segment descriptions (<vid>.json)
annotations/<stage>/     Ego4D-HCap annotation files whose *_pred inputs are the extracted predictions
```
"""

import dataclasses
import json
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
import yaml
from accelerate import PartialState
from transformers import AutoConfig, AutoTokenizer, Seq2SeqTrainingArguments
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from ..conversion.pretrained_parts import from_pretrained_parts
from ..models.video_recap import (
    LEVELS,
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
)
from ..models.video_recap.configuration_video_recap import validate_level
from ..models.video_recap.processing_video_recap import merge_input_settings
from .collator import VideoReCapDataCollator
from .sampler import MultiLevelDataset
from .trainer import VideoReCapTrainer, caption_metrics_fn


logger = logging.get_logger(__name__)

STAGES = LEVELS
"""Curriculum stages, named after the level they add."""

TOP_LEVEL_KEYS = {
    "output_dir",
    "seed",
    "data",
    "model",
    "training",
    "stages",
    "extraction",
    "evaluation",
    "export_dir",
}
DATA_KEYS = {
    "data_dir",
    "video_dir",
    "features_dir",
    "pseudo",
    "synthetic",
    "use_ground_truth_inputs",
    "max_eval_samples",
    "clip_frame_cache",
}
MODEL_KEYS = {
    "config",
    "input_settings",
    "level_max_new_tokens",
    "text",
    "vision",
    "qformer",
    "video_processor",
    "unified",
}
STAGE_KEYS = {"train_vision", "samples_per_epoch", "lora", "use_ground_truth_inputs", "init"}
STAGE_INITS = ("previous", "scratch")
EXTRACTION_KEYS = {"batch_size", "captions", "segment_seconds", "generation"}
EVALUATION_KEYS = {"generation", "batch_size"}
TRAINING_ARGUMENT_NAMES = {field.name for field in dataclasses.fields(Seq2SeqTrainingArguments)}


class CurriculumConfigError(ValueError):
    """A curriculum configuration that cannot run; the message names the field."""


def _check_keys(section: Mapping, allowed: set[str], where: str) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise CurriculumConfigError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}.")


def stage_levels(stage: str, unified: bool) -> tuple[str, ...]:
    """Levels trained in `stage`: only the stage's level for Video ReCap, all levels up to it for Video ReCap-U."""
    validate_level(stage)
    return LEVELS[: LEVELS.index(stage) + 1] if unified else (stage,)


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


class Curriculum:
    """
    Runs the curriculum described by a YAML/dict configuration (see `examples/configs/*.yaml`).

    Args:
        config (`Mapping`): the parsed configuration.
        base_dir (`str`, *optional*): directory relative paths in `config` are resolved against.
    """

    def __init__(self, config: Mapping, base_dir: str | os.PathLike | None = None):
        self.raw = dict(config)
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        _check_keys(self.raw, TOP_LEVEL_KEYS, "The configuration")
        if "output_dir" not in self.raw:
            raise CurriculumConfigError("The configuration needs output_dir.")
        self.output_dir = self._path(self.raw["output_dir"])
        self.seed = int(self.raw.get("seed", 0))
        self.data = dict(self.raw.get("data") or {})
        _check_keys(self.data, DATA_KEYS, "data")
        self.model_section = dict(self.raw.get("model") or {})
        _check_keys(self.model_section, MODEL_KEYS, "model")
        self.unified = bool(self.model_section.get("unified", False))
        self.training = dict(self.raw.get("training") or {})
        self.stages = dict(self.raw.get("stages") or {})
        for stage, settings in self.stages.items():
            if stage not in STAGES:
                raise CurriculumConfigError(f"stages has unknown level {stage!r}; expected some of {list(STAGES)}.")
            own, _ = self._split_stage_settings(stage, settings or {})
            if own.get("init", "previous") not in STAGE_INITS:
                raise CurriculumConfigError(f"stages.{stage}.init must be one of {list(STAGE_INITS)}.")
        self._split_stage_settings("training", self.training)
        self.extraction = dict(self.raw.get("extraction") or {})
        _check_keys(self.extraction, EXTRACTION_KEYS, "extraction")
        if self.extraction.get("captions", "extract") not in ("extract", "annotations"):
            raise CurriculumConfigError("extraction.captions must be 'extract' or 'annotations'.")
        self.evaluation = dict(self.raw.get("evaluation") or {})
        _check_keys(self.evaluation, EVALUATION_KEYS, "evaluation")
        if "data_dir" not in self.data:
            raise CurriculumConfigError("data.data_dir is required (the Ego4D-HCap annotation directory).")
        self.data_dir = self._path(self.data["data_dir"])
        self.video_dir = self._path(self.data["video_dir"]) if self.data.get("video_dir") else None
        self.features_dir = self._path(self.data["features_dir"]) if self.data.get("features_dir") else None
        self.export_dir = self._path(self.raw["export_dir"]) if self.raw.get("export_dir") else None

    # ----------------------------------------------------------------------------------------------------------------
    # configuration helpers
    # ----------------------------------------------------------------------------------------------------------------

    def _path(self, value: str | os.PathLike) -> Path:
        path = Path(os.path.expanduser(os.fspath(value)))
        return path if path.is_absolute() else self.base_dir / path

    @staticmethod
    def _split_stage_settings(where: str, settings: Mapping) -> tuple[dict, dict]:
        own = {key: value for key, value in settings.items() if key in STAGE_KEYS}
        arguments = {key: value for key, value in settings.items() if key not in STAGE_KEYS}
        unknown = set(arguments) - TRAINING_ARGUMENT_NAMES
        if unknown:
            raise CurriculumConfigError(
                f"{where} has unknown keys {sorted(unknown)}: neither curriculum options {sorted(STAGE_KEYS)} nor "
                "Seq2SeqTrainingArguments fields."
            )
        return own, arguments

    def stage_settings(self, stage: str) -> tuple[dict, dict]:
        """(curriculum options, TrainingArguments overrides) of `stage`, stage values over `training` defaults."""
        base_own, base_arguments = self._split_stage_settings("training", self.training)
        own, arguments = self._split_stage_settings(stage, self.stages.get(stage) or {})
        return {**base_own, **own}, {**base_arguments, **arguments}

    def stage_dir(self, stage: str) -> Path:
        return self.output_dir / stage

    def stage_model_dir(self, stage: str) -> Path:
        return self.stage_dir(stage) / "model"

    def is_stage_done(self, stage: str) -> bool:
        return (self.stage_model_dir(stage) / "config.json").is_file()

    # ----------------------------------------------------------------------------------------------------------------
    # data
    # ----------------------------------------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        """Generates Synthetic-HCap into `data.data_dir` when configured and absent; checks the data exists."""
        synthetic = self.data.get("synthetic")
        if synthetic and not (self.data_dir / "annotations" / "clips_train.pkl").is_file():
            from ..data.synthetic import generate_synthetic_hcap

            options = {key: value for key, value in synthetic.items() if key not in ("train", "validation")}
            for split in ("train", "validation"):
                if split not in synthetic:
                    raise CurriculumConfigError(f"data.synthetic.{split} (num_videos, seed) is required.")
                spec = synthetic[split]
                generate_synthetic_hcap(
                    self.data_dir, num_videos=spec["num_videos"], seed=spec["seed"], split=split, **options
                )
        if not self.data_dir.is_dir():
            raise CurriculumConfigError(f"data.data_dir {self.data_dir} does not exist.")
        if self.video_dir is not None and not self.video_dir.is_dir():
            raise CurriculumConfigError(f"data.video_dir {self.video_dir} does not exist.")
        if self.features_dir is not None and not self.features_dir.is_dir():
            raise CurriculumConfigError(f"data.features_dir {self.features_dir} does not exist.")

    def annotations_dir(self, level: str) -> Path:
        """Where the annotations of `level` are read: the extracted-prediction copies above the clip level."""
        if level == "clip" or self.extraction.get("captions", "extract") == "annotations":
            return self.data_dir
        return self.output_dir / "annotations" / level

    def features_location(self) -> tuple[Path | None, str | None]:
        """Directory and layout of the CLS features the segment and video levels train from."""
        if self.features_dir is not None:
            return self.features_dir, None
        return self.output_dir / "extraction" / "clip", "safetensors"

    def load_split(self, level: str, split: str):
        """The Ego4D-HCap examples of `level` (with pseudo annotations mixed in for training when configured)."""
        from datasets import concatenate_datasets

        from ..data import load_ego4d_hcap

        kwargs = {"cache_dir": self.output_dir / "cache", "video_dir": self.video_dir}
        if level != "clip":
            features_dir, layout = self.features_location()
            kwargs.update(features_dir=features_dir, features_layout=layout)
        dataset = load_ego4d_hcap(level, self.annotations_dir(level), split=split, **kwargs)
        if split == "train" and level != "clip" and self.data.get("pseudo"):
            pseudo = load_ego4d_hcap(level, self.annotations_dir(level), split="train", pseudo=True, **kwargs)
            dataset = concatenate_datasets([pseudo, dataset])
        limit = (self.data.get("max_eval_samples") or {}).get(level)
        if split != "train" and limit:
            dataset = dataset.select(range(min(limit, len(dataset))))
        return dataset

    def configured_level_settings(self) -> dict:
        """The query counts of `model.config.level_settings`, completed with the released model's values."""
        return VideoReCapConfig._merge_level_settings((self.model_section.get("config") or {}).get("level_settings"))

    def configured_input_settings(self) -> dict:
        """The processor's `model.input_settings`, completed with the released model's values."""
        return merge_input_settings(self.model_section.get("input_settings"))

    def configure_generation(self, model: VideoReCapForConditionalGeneration) -> None:
        """Applies `model.level_max_new_tokens` (the caption budget per level) to the model's generation config."""
        budgets = self.model_section.get("level_max_new_tokens") or {}
        for level in budgets:
            validate_level(level)
        model.generation_config.level_max_new_tokens = {**model.generation_config.level_max_new_tokens, **budgets}

    def check_ready(self, stages: Sequence[str]) -> None:
        """Fails before any training when the data a stage will need is missing (videos, features, annotations)."""
        for stage in stages:
            levels = stage_levels(stage, self.unified)
            needs_videos = "clip" in levels or (
                stage != "clip" and self.extraction.get("captions", "extract") == "extract"
            )
            if needs_videos and self.video_dir is None:
                raise CurriculumConfigError(
                    f"The {stage} stage needs data.video_dir: it decodes clips for the clip level or extracts the "
                    "lower level's predictions from the training videos."
                )
            level_settings = self.configured_level_settings()
            for level in levels:
                if level == "clip":
                    self.load_split(level, "train")  # names a missing or malformed annotation file
                elif self.annotations_dir(level) == self.data_dir and level_settings[level]["num_video_queries"]:
                    # Inputs come from the annotations and features_dir, not from an extraction: check every file.
                    self.check_features(self.load_split(level, "train"), level)

    def check_features(self, dataset, level: str) -> None:
        """Fails before training when an example's CLS feature file is missing."""
        missing = [
            row["video_uid"]
            for row in dataset
            if not row.get("features_path") or not os.path.isfile(row["features_path"])
        ]
        if missing:
            raise CurriculumConfigError(
                f"{len(missing)} {level} examples have no CLS feature file (first: video {missing[0]!r}); run the "
                "clip stage's extraction or examples/extract_features.py, or fix data.features_dir."
            )

    def clip_reader(self, config: VideoReCapConfig) -> Callable[[str, float, float], np.ndarray]:
        """
        `(video_path, start, end)` -> the sampled frames of that clip, as many as the model's encoder takes. With
        `data.clip_frame_cache: N`, the frames of the last N clips read stay in memory (for small datasets trained
        for many epochs, where decoding would otherwise cost as much as the training step).
        """
        from ..engine.video_io import read_clip_frames

        reader = partial(read_clip_frames, num_frames=config.vision_config.num_frames)
        cache_size = int(self.data.get("clip_frame_cache") or 0)
        return lru_cache(maxsize=cache_size)(reader) if cache_size else reader

    # ----------------------------------------------------------------------------------------------------------------
    # models
    # ----------------------------------------------------------------------------------------------------------------

    def _pretrain_text(self, settings: Mapping) -> Path:
        """Trains the caption tokenizer and GPT-2 on the training captions of every level (demo models)."""
        from ..data import load_ego4d_hcap
        from .text_pretraining import pretrain_caption_language_model, train_caption_tokenizer

        directory = self.output_dir / "text_model"
        if (directory / "config.json").is_file():
            return directory
        texts = []
        for level in LEVELS:
            texts.extend(
                load_ego4d_hcap(level, self.data_dir, split="train", cache_dir=self.output_dir / "cache")["text"]
            )
        settings = dict(settings)
        tokenizer = train_caption_tokenizer(texts, vocab_size=settings.pop("vocab_size", 512))
        text_config = dict((self.model_section.get("config") or {}).get("text_config") or {})
        pretrain_caption_language_model(texts, tokenizer, text_config, directory, seed=self.seed, **settings)
        return directory

    def build_initial_model(self) -> tuple[VideoReCapForConditionalGeneration, VideoReCapProcessor]:
        """The model before the clip stage, from public parts (GPT-2, LaViLa / CLIP, random Q-Formers)."""
        text = self.model_section.get("text", "gpt2")
        if isinstance(text, Mapping):
            if set(text) != {"pretrain"}:
                raise CurriculumConfigError("model.text is a GPT-2 directory/Hub id or {pretrain: {...}}.")
            text = self._pretrain_text(text["pretrain"] or {})
        tokenizer = AutoTokenizer.from_pretrained(text)
        config_kwargs = dict(self.model_section.get("config") or {})
        text_config = AutoConfig.from_pretrained(text)
        config_kwargs["text_config"] = text_config.to_dict()
        config = VideoReCapConfig(**config_kwargs, unified=self.unified)
        torch.manual_seed(self.seed)
        vision = self.model_section.get("vision")
        if isinstance(vision, str) and not vision.startswith("timm:"):
            vision = os.fspath(self._path(vision))
        model = from_pretrained_parts(
            text=text, vision=vision, qformer=self.model_section.get("qformer", "random"), config=config
        )
        video_processor = VideoReCapVideoProcessor(**(self.model_section.get("video_processor") or {}))
        processor = VideoReCapProcessor(
            video_processor=video_processor, tokenizer=tokenizer, input_settings=self.configured_input_settings()
        )
        processor.check_model_config(model.config)
        self.configure_generation(model)
        return model, processor

    def model_for_stage(self, stage: str) -> tuple[VideoReCapForConditionalGeneration, VideoReCapProcessor]:
        """The model a stage starts from: the initial model, or the previous stage's with its level copied over."""
        index = STAGES.index(stage)
        if index == 0:
            return self.build_initial_model()
        previous = STAGES[index - 1]
        if not self.is_stage_done(previous):
            raise CurriculumConfigError(
                f"The {stage} stage starts from the {previous} stage's model, which is missing at "
                f"{self.stage_model_dir(previous)}; run --stage {previous} first."
            )
        previous_dir = self.stage_model_dir(previous)
        model = VideoReCapForConditionalGeneration.from_pretrained(previous_dir)
        processor = VideoReCapProcessor.from_pretrained(previous_dir)
        configured, inputs = self.configured_level_settings(), self.configured_input_settings()
        changed = [
            level
            for level in LEVELS[index:]
            if configured[level] != model.config.level_settings[level]
            or inputs[level] != processor.input_settings[level]
        ]
        if changed:
            # The configuration sets other inputs for this stage's levels than the previous model was built with
            # (e.g. the video-only / text-only ablations): rebuild those levels' modules, keep every other weight.
            logger.info(f"Rebuilding the {changed} level modules with the configured level_settings.")
            config_dict = model.config.to_dict()
            config_dict["level_settings"].update({level: configured[level] for level in changed})
            config = VideoReCapConfig.from_dict(config_dict)
            model = VideoReCapForConditionalGeneration.from_pretrained(previous_dir, config=config)
            processor = VideoReCapProcessor(
                video_processor=processor.video_processor, tokenizer=processor.tokenizer, input_settings=inputs
            )
            processor.check_model_config(config)
        options, _ = self.stage_settings(stage)
        if options.get("init", "previous") == "previous":
            copy_level_weights(model, previous, stage)
        # With init: scratch the level keeps the fresh initialisation it got with the initial model (the Table 5
        # ablation of the paper: no hierarchical curriculum).
        return model, processor

    # ----------------------------------------------------------------------------------------------------------------
    # training
    # ----------------------------------------------------------------------------------------------------------------

    def training_arguments(
        self, stage: str, overrides: Mapping, max_steps: int | None = None
    ) -> Seq2SeqTrainingArguments:
        """The stage's `Seq2SeqTrainingArguments`: the paper's optimiser settings, then `training`, then the stage."""
        defaults = {
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
            "report_to": ["tensorboard"] if _tensorboard_available() else [],
            "gradient_checkpointing_kwargs": {"use_reentrant": False},
            "dataloader_num_workers": 0,
        }
        arguments = {**defaults, **overrides}
        if max_steps is not None:
            arguments["max_steps"] = max_steps
        return Seq2SeqTrainingArguments(
            output_dir=os.fspath(self.stage_dir(stage) / "checkpoints"),
            remove_unused_columns=False,
            predict_with_generate=True,
            seed=self.seed,
            **arguments,
        )

    def make_trainable(self, model, levels: Sequence[str], options: Mapping):
        """Freezes all but the recipe's trainable parts of `levels`; optional LoRA and encoder training."""
        count = model.set_trainable_levels(levels)
        if options.get("train_vision"):
            # Synthetic data has no pretrained video encoder (the release uses LaViLa's, frozen): train it here.
            model.model.vision_model.requires_grad_(True)
        lora = options.get("lora")
        if lora:
            from peft import LoraConfig, get_peft_model

            lora = dict(lora)
            target = lora.pop("target", "self_attention")
            patterns = {
                "self_attention": r".*language_model\.layers\.\d+\.attn\.c_attn",
                "attention": r".*language_model\.layers\.\d+\.(attn|cross_attention_block\.\w+\.cross_attention)\.(c_attn|q_attn)",
            }
            if target not in patterns:
                raise CurriculumConfigError(f"lora.target must be one of {sorted(patterns)}, got {target!r}.")
            trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
            model = get_peft_model(model, LoraConfig(target_modules=patterns[target], fan_in_fan_out=True, **lora))
            # peft freezes everything but the LoRA matrices; the recipe's parts keep training.
            for name, parameter in model.get_base_model().named_parameters():
                if name in trainable:
                    parameter.requires_grad_(True)
        total = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
        logger.info(f"Training levels {list(levels)}: {total:,} trainable parameters ({count:,} in the level parts).")
        return model

    def train_stage(self, stage: str, max_steps: int | None = None, resume: bool = False) -> Path:
        """Trains one stage and saves its model; returns the model directory."""
        options, overrides = self.stage_settings(stage)
        levels = stage_levels(stage, self.unified)
        model, processor = self.model_for_stage(stage)
        train_sets = {level: self.load_split(level, "train") for level in levels}
        for level, dataset in train_sets.items():
            if level != "clip" and model.config.get_level_settings(level).num_video_queries:
                self.check_features(dataset, level)
        collator = VideoReCapDataCollator(
            processor,
            clip_reader=self.clip_reader(model.config) if "clip" in levels else None,
            level_max_new_tokens=model.generation_config.level_max_new_tokens,
            use_ground_truth_inputs=bool(
                options.get("use_ground_truth_inputs", self.data.get("use_ground_truth_inputs"))
            ),
        )
        trainable_model = self.make_trainable(model, levels, options)
        arguments = self.training_arguments(stage, overrides, max_steps=max_steps)
        trainer = VideoReCapTrainer(
            model=trainable_model,
            args=arguments,
            train_dataset=MultiLevelDataset(train_sets),
            data_collator=collator,
            processing_class=processor,
            compute_metrics=caption_metrics_fn(processor),
            samples_per_epoch=options.get("samples_per_epoch"),
        )
        checkpoint = (
            get_last_checkpoint(arguments.output_dir) if resume and os.path.isdir(arguments.output_dir) else None
        )
        trainer.train(resume_from_checkpoint=checkpoint)
        if options.get("lora"):
            model = trainable_model.merge_and_unload()
        model_dir = self.stage_model_dir(stage)
        if trainer.is_world_process_zero():
            model.save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
            history = [entry for entry in trainer.state.log_history if "loss" in entry]
            (self.stage_dir(stage) / "train_log.json").write_text(json.dumps(history, indent=1))
        trainer.accelerator.wait_for_everyone()
        return model_dir

    # ----------------------------------------------------------------------------------------------------------------
    # extraction between stages
    # ----------------------------------------------------------------------------------------------------------------

    def _annotation_files(self, level: str) -> dict[str, Path]:
        """Existing annotation files of `level` in data_dir: split name (train, val, train_pseudo) -> path."""
        stem = {"segment": "segments", "video": "videos"}[level]
        files = {}
        for split in ("train", "val", "train_pseudo"):
            for folder in (self.data_dir / "annotations", self.data_dir):
                for suffix in (".pkl", ".json"):
                    path = folder / f"{stem}_{split}{suffix}"
                    if path.is_file() and split not in files:
                        files[split] = path
        if "train" not in files:
            raise CurriculumConfigError(f"No {stem}_train annotation file in {self.data_dir} or its annotations/.")
        return files

    def _video_path(self, video_uid: str) -> str:
        if self.video_dir is None:
            raise CurriculumConfigError("Extracting predictions needs data.video_dir (the training videos).")
        return os.fspath(self.video_dir / f"{video_uid}.mp4")

    def _captioner(self, stage: str, levels: tuple[str, ...]):
        from ..engine import HierarchicalCaptioner

        model = VideoReCapForConditionalGeneration.from_pretrained(self.stage_model_dir(stage)).eval()
        if torch.cuda.is_available():
            model = model.to(PartialState().device)
        processor = VideoReCapProcessor.from_pretrained(self.stage_model_dir(stage))
        return HierarchicalCaptioner(
            model,
            processor,
            levels=levels,
            segment_seconds=self.extraction.get("segment_seconds"),
            batch_size=self.extraction.get("batch_size", 8),
            generate_kwargs=self.extraction.get("generation"),
            progress=False,
        )

    def extract_before(self, stage: str) -> None:
        """Writes the predicted lower-level inputs `stage` trains on (skipped when they come from the annotations)."""
        if self.extraction.get("captions", "extract") == "annotations":
            if self.features_dir is None:
                raise CurriculumConfigError(
                    "extraction.captions: annotations uses the predictions stored in the annotation files, and then "
                    "the CLS features must come from data.features_dir."
                )
            return
        if stage == "segment":
            self.extract_clip_predictions()
        elif stage == "video":
            self.extract_segment_predictions()

    def extract_clip_predictions(self) -> None:
        """Clip model -> CLS features and clip captions of every segment/video video -> segment annotations."""
        from ..data.ego4d_hcap import read_annotation_file
        from .extraction import extract_videos, read_extraction

        records = {split: read_annotation_file(path) for split, path in self._annotation_files("segment").items()}
        video_records = {split: read_annotation_file(path) for split, path in self._annotation_files("video").items()}
        uids = {record["vid"] for group in (*records.values(), *video_records.values()) for record in group}
        extraction_dir = self.output_dir / "extraction" / "clip"
        failures = extract_videos(
            self._captioner("clip", ("clip",)), {uid: self._video_path(uid) for uid in uids}, extraction_dir
        )
        if failures:
            raise CurriculumConfigError(
                f"{len(failures)} training videos could not be read (first: {failures[0][0]}: {failures[0][1]})."
            )
        state = PartialState()
        if state.is_main_process:
            folder = self.output_dir / "annotations" / "segment"
            folder.mkdir(parents=True, exist_ok=True)
            for split, group in records.items():
                for record in group:
                    clips = read_extraction(extraction_dir, record["vid"])["clips"]
                    start, end = float(record["start_sec"]), float(record["end_sec"])
                    record["captions_pred"] = [
                        [record["vid"], clip_start, clip_end, text]
                        for clip_start, clip_end, text in clips
                        if clip_start >= start - 1e-6 and clip_end <= end + 1e-6
                    ]
                with open(folder / f"segments_{split}.pkl", "wb") as file:
                    pickle.dump(group, file, protocol=4)
        state.wait_for_everyone()

    def extract_segment_predictions(self) -> None:
        """Segment model -> segment descriptions of every video -> video annotations."""
        from ..data.ego4d_hcap import read_annotation_file
        from .extraction import describe_segments, read_extraction

        records = {split: read_annotation_file(path) for split, path in self._annotation_files("video").items()}
        uids = sorted({record["vid"] for group in records.values() for record in group})
        clip_dir = self.output_dir / "extraction" / "clip"
        missing = [uid for uid in uids if not (clip_dir / f"{uid}.json").is_file()]
        if missing:
            raise CurriculumConfigError(
                f"{len(missing)} videos have no extracted clip captions (first: {missing[0]}); run the segment stage "
                "(which extracts them) first."
            )
        segment_dir = self.output_dir / "extraction" / "segment"
        describe_segments(self._captioner("segment", ("segment",)), clip_dir, uids, segment_dir)
        state = PartialState()
        if state.is_main_process:
            folder = self.output_dir / "annotations" / "video"
            folder.mkdir(parents=True, exist_ok=True)
            for split, group in records.items():
                for record in group:
                    segments = read_extraction(segment_dir, record["vid"])["segments"]
                    start = float(record.get("start_sec") or 0.0)
                    end = float(record["end_sec"]) if record.get("end_sec") is not None else float("inf")
                    record["segment_descriptions_pred"] = [
                        text for seg_start, seg_end, text in segments if seg_start >= start - 1e-6 and seg_start < end
                    ]
                    record.pop("version", None)
                (folder / f"videos_{split}.json").write_text(json.dumps(group))
        state.wait_for_everyone()

    # ----------------------------------------------------------------------------------------------------------------
    # evaluation and the whole run
    # ----------------------------------------------------------------------------------------------------------------

    def evaluate_stage(self, stage: str) -> dict[str, dict[str, float]]:
        """Captions the validation split of every level the stage trained and scores it; writes metrics.json."""
        model_dir = self.stage_model_dir(stage)
        model = VideoReCapForConditionalGeneration.from_pretrained(model_dir).eval()
        processor = VideoReCapProcessor.from_pretrained(model_dir)
        levels = stage_levels(stage, self.unified)
        overrides = {"per_device_eval_batch_size": self.evaluation.get("batch_size", 16), "report_to": []}
        trainer = VideoReCapTrainer(
            model=model,
            args=self.training_arguments(stage, overrides),
            data_collator=VideoReCapDataCollator(
                processor,
                clip_reader=self.clip_reader(model.config) if "clip" in levels else None,
                level_max_new_tokens=model.generation_config.level_max_new_tokens,
            ),
            processing_class=processor,
            compute_metrics=caption_metrics_fn(processor),
        )
        generation = dict(self.evaluation.get("generation") or {})
        results = {}
        for level in levels:
            dataset = MultiLevelDataset({level: self.load_split(level, "validation")})
            metrics = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=level, **generation)
            results[level] = {name: metrics[f"{level}_{name}"] for name in ("CIDEr", "ROUGE_L", "METEOR")}
            logger.info(
                f"{stage} stage, {level} level: " + ", ".join(f"{k} {v:.2f}" for k, v in results[level].items())
            )
        if trainer.is_world_process_zero():
            (self.stage_dir(stage) / "metrics.json").write_text(json.dumps(results, indent=2))
        return results

    def run(
        self,
        stages: Sequence[str] | None = None,
        max_steps: int | None = None,
        resume: bool = False,
        evaluate: bool = True,
    ) -> dict[str, dict]:
        """
        Runs `stages` (default: all three, skipping those already finished unless `resume` is False and they are
        named explicitly), with the extraction each needs. Returns the validation metrics per stage.
        """
        explicit = stages is not None
        stages = list(stages or STAGES)
        for stage in stages:
            validate_level(stage)
        self.prepare_data()
        self.check_ready(stages)
        results, trained = {}, False
        for stage in stages:
            if self.is_stage_done(stage) and not explicit:
                logger.info(f"The {stage} stage is done ({self.stage_model_dir(stage)}); skipping it.")
                continue
            if stage != "clip":
                self.extract_before(stage)
            self.train_stage(stage, max_steps=max_steps, resume=resume)
            trained = True
            if evaluate:
                results[stage] = self.evaluate_stage(stage)
        exported = self.export_dir is not None and (self.export_dir / "config.json").is_file()
        if self.export_dir is not None and self.is_stage_done(STAGES[-1]) and (trained or not exported):
            self.export(self.export_dir)
        return results

    def export(self, directory: str | os.PathLike) -> Path:
        """
        Copies the final model (all levels) and its processor to `directory`, with the copies of the model code that
        remote-code loading needs, and the Synthetic-HCap layout and seeds (`synthetic_hcap.json`) when the data is
        synthetic, so that a demo can render unseen videos like them.
        """
        from ..data.synthetic import SYNTHETIC_SETTINGS_FILE

        directory = Path(directory)
        state = PartialState()
        if state.is_main_process:
            final = self.stage_model_dir(STAGES[-1])
            model = VideoReCapForConditionalGeneration.from_pretrained(final)
            model.save_pretrained(directory)
            # save_pretrained copies the model's configuration/modeling/processing files next to the weights and
            # names them in `auto_map`: the export loads with trust_remote_code=True where this package is not installed.
            VideoReCapProcessor.from_pretrained(final).save_pretrained(directory)
            synthetic = self.data.get("synthetic")
            if synthetic:
                layout = {key: value for key, value in synthetic.items() if key not in ("train", "validation")}
                layout = {**self._synthetic_defaults(), **layout}
                layout["seeds"] = [synthetic[split]["seed"] for split in ("train", "validation")]
                (directory / SYNTHETIC_SETTINGS_FILE).write_text(json.dumps(layout, indent=2) + "\n")
            logger.info(f"Exported the final model to {directory}.")
        state.wait_for_everyone()
        return directory

    @staticmethod
    def _synthetic_defaults() -> dict:
        """The layout options of `generate_synthetic_hcap` and their defaults."""
        import inspect

        from ..data.synthetic import generate_synthetic_hcap

        parameters = inspect.signature(generate_synthetic_hcap).parameters
        names = ("size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video")
        return {name: parameters[name].default for name in names}


def _tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def load_curriculum_config(path: str | os.PathLike) -> Curriculum:
    """Reads a curriculum YAML file; relative paths in it are relative to the current directory."""
    path = Path(path)
    if not path.is_file():
        raise CurriculumConfigError(f"Configuration file {path} does not exist.")
    with open(path, encoding="utf-8") as file:
        try:
            config = yaml.safe_load(file)
        except yaml.YAMLError as error:
            raise CurriculumConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(config, dict):
        raise CurriculumConfigError(f"{path} must hold a mapping of settings.")
    return Curriculum(config)


__all__ = [
    "Curriculum",
    "CurriculumConfigError",
    "STAGES",
    "copy_level_weights",
    "load_curriculum_config",
    "resize_query_tokens",
    "stage_levels",
]
