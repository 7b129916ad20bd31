# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""The whole curriculum run: data, the stages in order with the extraction between them, evaluation, export."""

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

import torch
from accelerate import PartialState
from transformers.utils import logging

from ...metrics.meteor import MeteorScorer
from ...models.video_recap import VideoReCapConfig, VideoReCapForConditionalGeneration, VideoReCapProcessor
from ..checkpoints import find_resume_checkpoint
from ..collator import VideoReCapDataCollator
from ..files import write_atomically
from ..sampler import MultiLevelDataset
from ..trainer import ModuleWarmup, VideoReCapTrainer, caption_metrics_fn, level_batch_sampler
from .config import CurriculumConfig, CurriculumConfigError, read_curriculum_config, stage_levels
from .extraction import extract_before
from .stages import (
    STAGES,
    FreezeForSteps,
    clip_reader,
    context_copy_examples,
    is_finished,
    make_trainable,
    model_for_stage,
    record_finished,
    training_arguments,
)


logger = logging.get_logger(__name__)


class Curriculum:
    """
    Runs the curriculum described by a [`CurriculumConfig`] (or a configuration mapping, parsed into one).

    Args:
        config ([`CurriculumConfig`] or `Mapping`): the configuration.
        base_dir (`str`, *optional*): directory relative paths of a mapping are resolved against (default: the
            current one).
    """

    def __init__(self, config: CurriculumConfig | Mapping, base_dir: str | os.PathLike | None = None):
        if not isinstance(config, CurriculumConfig):
            config = CurriculumConfig.from_dict(config, base_dir=base_dir)
        self.config = config

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir

    @property
    def data_dir(self) -> Path:
        return self.config.data.data_dir

    @property
    def video_dir(self) -> Path | None:
        return self.config.data.video_dir

    def stage_dir(self, stage: str) -> Path:
        return self.config.stage_dir(stage)

    def stage_model_dir(self, stage: str) -> Path:
        return self.config.stage_model_dir(stage)

    def is_stage_done(self, stage: str, max_steps: int | None = None) -> bool:
        """Whether `stage` has a finished model this run can start the next stage from (see `stages.is_finished`)."""
        return is_finished(self.stage_model_dir(stage), max_steps)

    # ----------------------------------------------------------------------------------------------------------------
    # data
    # ----------------------------------------------------------------------------------------------------------------

    def prepare_data(self) -> None:
        """Generates Synthetic-HCap into `data.data_dir` when configured and absent; checks the data exists."""
        data = self.config.data
        if data.synthetic is not None and not (data.data_dir / "annotations" / "clips_train.pkl").is_file():
            data.synthetic.generate(data.data_dir)
        for name in ("data_dir", "video_dir", "features_dir"):
            path = getattr(data, name)
            if path is not None and not path.is_dir():
                raise CurriculumConfigError(f"data.{name} {path} does not exist.")

    def load_split(self, level: str, split: str):
        """The Ego4D-HCap examples of `level` (with pseudo annotations mixed in for training when configured)."""
        from datasets import concatenate_datasets

        from ...data import load_ego4d_hcap

        config = self.config
        kwargs = {"cache_dir": config.output_dir / "cache", "video_dir": config.data.video_dir}
        if level != "clip":
            features_dir, layout = config.features_location()
            kwargs.update(features_dir=features_dir, features_layout=layout)
        try:
            dataset = load_ego4d_hcap(level, config.annotations_dir(level), split=split, **kwargs)
            if split == "train" and level in config.data.pseudo_levels:
                pseudo = load_ego4d_hcap(level, config.annotations_dir(level), split="train", pseudo=True, **kwargs)
                dataset = concatenate_datasets([pseudo, dataset])
        except ValueError as error:  # a malformed annotation file: the message names the file and record
            raise CurriculumConfigError(str(error)) from None
        limit = config.data.max_eval_samples.get(level)
        if split != "train" and limit:
            dataset = dataset.select(range(min(limit, len(dataset))))
        return dataset

    def check_order(self, stages: Sequence[str], max_steps: int | None = None) -> None:
        """Fails before any work when a stage's starting model (the previous stage's) will not exist."""
        for stage in stages:
            index = STAGES.index(stage)
            if index == 0:
                continue
            previous = STAGES[index - 1]
            if previous not in stages and not self.is_stage_done(previous, max_steps):
                raise CurriculumConfigError(
                    f"The {stage} stage starts from the {previous} stage's model, which is missing at "
                    f"{self.stage_model_dir(previous)}; run --stage {previous} first (or all stages)."
                )

    def check_ready(self, stages: Sequence[str]) -> None:
        """Fails before any training when the data a stage will need is missing (videos, features, annotations)."""
        config = self.config
        for stage in stages:
            levels = stage_levels(stage, config.model.unified)
            needs_videos = "clip" in levels or (stage != "clip" and config.extraction.captions == "extract")
            if needs_videos and config.data.video_dir is None:
                raise CurriculumConfigError(
                    f"The {stage} stage needs data.video_dir: it decodes clips for the clip level or extracts the "
                    "lower level's predictions from the training videos."
                )
            level_settings = VideoReCapConfig._merge_level_settings(config.model.config.get("level_settings"))
            for level in levels:
                if level == "clip":
                    self.load_split(level, "train")  # names a missing or malformed annotation file
                elif (
                    config.annotations_dir(level) == config.data.data_dir
                    and level_settings[level]["num_video_queries"]
                ):
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

    # ----------------------------------------------------------------------------------------------------------------
    # stages
    # ----------------------------------------------------------------------------------------------------------------

    def model_for_stage(self, stage: str, max_steps: int | None = None):
        """The model and processor `stage` starts from (see `stages.model_for_stage`)."""
        return model_for_stage(self.config, stage, max_steps=max_steps)

    def _check_batches(self, stage: str, train_sets: Mapping, arguments, samples_per_epoch) -> None:
        """Refuses a stage that would train 0 steps (each level's last incomplete global batch is dropped)."""
        try:
            batches = len(level_batch_sampler(MultiLevelDataset(train_sets), arguments, samples_per_epoch))
        except ValueError as error:
            raise CurriculumConfigError(f"The {stage} stage cannot train: {error}") from None
        if batches == 0:
            sizes = ", ".join(f"{len(dataset)} {level} examples" for level, dataset in train_sets.items())
            global_batch = arguments.per_device_train_batch_size * arguments.world_size
            raise CurriculumConfigError(
                f"The {stage} stage would train 0 steps: it has {sizes}, fewer than one global batch of "
                f"{global_batch} (per_device_train_batch_size x processes). Lower "
                f"stages.{stage}.per_device_train_batch_size or add data."
            )

    def train_stage(self, stage: str, max_steps: int | None = None, resume: bool = False) -> Path:
        """Trains one stage and saves its model; returns the model directory."""
        config = self.config
        options = config.stage_options(stage)
        levels = stage_levels(stage, config.model.unified)
        arguments = training_arguments(config, stage, max_steps=max_steps)
        train_sets = {level: self.load_split(level, "train") for level in levels}
        self._check_batches(stage, train_sets, arguments, options.samples_per_epoch)
        model, processor = self.model_for_stage(stage, max_steps=max_steps)
        for level, dataset in train_sets.items():
            if level != "clip" and model.config.get_level_settings(level).num_video_queries:
                self.check_features(dataset, level)
        use_ground_truth = options.use_ground_truth_inputs
        if use_ground_truth is None:
            use_ground_truth = config.data.use_ground_truth_inputs
        collator = VideoReCapDataCollator(
            processor,
            clip_reader=clip_reader(config, model.config) if "clip" in levels else None,
            level_max_new_tokens=model.generation_config.level_max_new_tokens,
            use_ground_truth_inputs=use_ground_truth,
        )
        trainable_model = make_trainable(model, levels, options)
        checkpoint = find_resume_checkpoint(arguments.output_dir) if resume else None
        if options.context_copy_steps and checkpoint is None:  # a checkpoint of the stage holds the warm-up's result
            self.train_context_copy(stage, trainable_model, train_sets, collator, max_steps, resume)
        callbacks = []
        if options.freeze_vision_steps:  # the configuration allows it only with train_vision
            callbacks.append(FreezeForSteps(model.model.vision_model, options.freeze_vision_steps))
        module_warmup = None
        if options.vision_lr_warmup_steps:
            module_warmup = ModuleWarmup(
                model.model.vision_model, start=options.freeze_vision_steps, steps=options.vision_lr_warmup_steps
            )
        trainer = VideoReCapTrainer(
            model=trainable_model,
            args=arguments,
            train_dataset=MultiLevelDataset(train_sets),
            data_collator=collator,
            processing_class=processor,
            compute_metrics=caption_metrics_fn(processor),
            samples_per_epoch=options.samples_per_epoch,
            callbacks=callbacks,
            module_warmup=module_warmup,
        )
        trainer.train(resume_from_checkpoint=checkpoint)
        if trainer.state.global_step == 0:
            raise CurriculumConfigError(f"The {stage} stage trained 0 steps; its model was not saved.")
        if options.lora:
            model = trainable_model.merge_and_unload()
        model_dir = self.stage_model_dir(stage)
        # Trainer switches the KV cache off (`args.use_cache`) for training; the saved model generates with it.
        model.config.use_cache = model.generation_config.use_cache = True
        if trainer.is_world_process_zero():
            model.save_pretrained(model_dir)
            processor.save_pretrained(model_dir)
            history = [entry for entry in trainer.state.log_history if "loss" in entry]
            write_atomically(self.stage_dir(stage) / "train_log.json", json.dumps(history, indent=1))
            record_finished(model_dir, max_steps)
        trainer.accelerator.wait_for_everyone()
        return model_dir

    def train_context_copy(
        self, stage: str, model, train_sets: Mapping, collator: VideoReCapDataCollator, max_steps, resume: bool
    ) -> None:
        """
        The `context_copy_steps` warm-up of a stage (see [`context_copy_examples`]): its levels that read lower-level
        captions train to reproduce them, in `<stage>/context_copy/checkpoints` with the stage's training arguments
        for that many steps; the trained parameters are kept in `<stage>/context_copy/trainable.safetensors`, which a
        resumed stage loads instead of training again.
        """
        from safetensors.torch import load_file, save_file

        options = self.config.stage_options(stage)
        directory = self.stage_dir(stage) / "context_copy"
        weights = directory / "trainable.safetensors"
        trainable = {name: parameter for name, parameter in model.named_parameters() if parameter.requires_grad}
        if resume and weights.is_file():
            state = load_file(weights)
            if set(state) != set(trainable):
                raise CurriculumConfigError(
                    f"{weights} holds other parameters than the {stage} stage trains; delete {directory} to run the "
                    "warm-up again."
                )
            with torch.no_grad():
                for name, parameter in trainable.items():
                    parameter.copy_(state[name])
            logger.info(f"The {stage} stage's context-copy warm-up is done ({weights}); loaded it.")
            return
        if not resume and weights.is_file() and PartialState().is_main_process:
            weights.unlink()  # an earlier run's: this one trains the warm-up again
        processor = collator.processor
        steps = options.context_copy_steps if max_steps is None else min(options.context_copy_steps, max_steps)
        arguments = training_arguments(self.config, stage, {"max_steps": steps}, output_dir=directory / "checkpoints")
        # Shuffled runs: one per example the warm-up trains on.
        examples_seen = (
            steps * arguments.train_batch_size * arguments.gradient_accumulation_steps * arguments.world_size
        )
        copy_sets = {
            level: context_copy_examples(
                dataset,
                level,
                collator.use_ground_truth_inputs,
                processor.get_input_settings(level).context_separator,
                shuffled_runs=examples_seen if options.context_copy_shuffled else 0,
                seed=self.config.seed,
            )
            for level, dataset in train_sets.items()
            if processor.get_input_settings(level).takes_context
        }
        sizes = ", ".join(f"{len(dataset)} {level} runs" for level, dataset in copy_sets.items())
        logger.info(f"The {stage} stage first learns to copy its input text for {steps} steps ({sizes}).")
        trainer = VideoReCapTrainer(
            model=model,
            args=arguments,
            train_dataset=MultiLevelDataset(copy_sets),
            data_collator=collator,
            processing_class=processor,
        )
        trainer.train(resume_from_checkpoint=find_resume_checkpoint(arguments.output_dir) if resume else None)
        if trainer.is_world_process_zero():
            state = {name: parameter.detach().cpu().contiguous() for name, parameter in trainable.items()}
            temporary = directory / f".{weights.name}.tmp"
            save_file(state, temporary)
            os.replace(temporary, weights)
            history = [entry for entry in trainer.state.log_history if "loss" in entry]
            write_atomically(directory / "train_log.json", json.dumps(history, indent=1))
        trainer.accelerator.wait_for_everyone()

    def evaluate_stage(self, stage: str, meteor_scorer=None) -> dict[str, dict[str, float]]:
        """
        Captions the validation split of every level the stage trained and scores it; writes metrics.json.
        `meteor_scorer`: a running [`MeteorScorer`] to reuse (by default each evaluation starts one).
        """
        config = self.config
        model_dir = self.stage_model_dir(stage)
        model = VideoReCapForConditionalGeneration.from_pretrained(model_dir).eval()
        processor = VideoReCapProcessor.from_pretrained(model_dir)
        levels = stage_levels(stage, config.model.unified)
        overrides = {"per_device_eval_batch_size": config.evaluation.batch_size, "report_to": [], "use_cache": True}
        trainer = VideoReCapTrainer(
            model=model,
            args=training_arguments(config, stage, overrides),
            data_collator=VideoReCapDataCollator(
                processor,
                clip_reader=clip_reader(config, model.config) if "clip" in levels else None,
                level_max_new_tokens=model.generation_config.level_max_new_tokens,
            ),
            processing_class=processor,
            compute_metrics=caption_metrics_fn(processor, meteor_scorer=meteor_scorer),
        )
        results = {}
        for level in levels:
            dataset = MultiLevelDataset({level: self.load_split(level, "validation")})
            metrics = trainer.evaluate(eval_dataset=dataset, metric_key_prefix=level, **config.evaluation.generation)
            results[level] = {name: metrics[f"{level}_{name}"] for name in ("CIDEr", "ROUGE_L", "METEOR")}
            logger.info(
                f"{stage} stage, {level} level: " + ", ".join(f"{k} {v:.2f}" for k, v in results[level].items())
            )
        if trainer.is_world_process_zero():
            write_atomically(self.stage_dir(stage) / "metrics.json", json.dumps(results, indent=2))
        return results

    def run(
        self,
        stages: Sequence[str] | None = None,
        max_steps: int | None = None,
        resume: bool = False,
        evaluate: bool = True,
    ) -> dict[str, dict]:
        """
        Runs `stages` in curriculum order (default: all three, skipping those already finished; stages named
        explicitly always train), with the extraction each needs; `max_steps` bounds every training run (the caption
        LM's too). Returns the validation metrics per stage.
        """
        explicit = stages is not None
        for stage in stages or ():
            stage_levels(stage, False)  # names an unknown stage
        stages = [stage for stage in STAGES if stage in (stages or STAGES)]
        if max_steps is not None and max_steps < 1:
            raise CurriculumConfigError(f"max_steps must be at least 1, got {max_steps}.")
        self.check_order(stages, max_steps)
        self.prepare_data()
        self.check_ready(stages)
        results, trained = {}, False
        with ExitStack() as stack:
            meteor = None
            for stage in stages:
                if not explicit and self.is_stage_done(stage, max_steps):
                    logger.info(f"The {stage} stage is done ({self.stage_model_dir(stage)}); skipping it.")
                    continue
                if evaluate and meteor is None:
                    # One Java process scores every evaluation of the run; it loads its paraphrase table while the
                    # stage trains.
                    meteor = stack.enter_context(MeteorScorer())
                if stage != "clip":
                    extract_before(self.config, stage)
                self.train_stage(stage, max_steps=max_steps, resume=resume)
                trained = True
                if evaluate:
                    results[stage] = self.evaluate_stage(stage, meteor_scorer=meteor)
        export_dir = self.config.export_dir
        if export_dir is not None and self.is_stage_done(STAGES[-1], max_steps):
            if trained or not (export_dir / "config.json").is_file():
                self.export(export_dir)
        return results

    def export(self, directory: str | os.PathLike) -> Path:
        """
        Copies the final model (all levels) and its processor to `directory`, with the copies of the model code that
        remote-code loading needs, and the Synthetic-HCap layout and seeds (`synthetic_hcap.json`) when the data is
        synthetic, so that a demo can render unseen videos like them.
        """
        from ...data.synthetic import SYNTHETIC_SETTINGS_FILE

        directory = Path(directory)
        state = PartialState()
        if state.is_main_process:
            final = self.stage_model_dir(STAGES[-1])
            model = VideoReCapForConditionalGeneration.from_pretrained(final)
            model.save_pretrained(directory)
            # save_pretrained copies the model's configuration/modeling/processing files next to the weights and
            # names them in `auto_map`: the export loads with trust_remote_code=True where this package is not installed.
            VideoReCapProcessor.from_pretrained(final).save_pretrained(directory)
            synthetic = self.config.data.synthetic
            if synthetic is not None:
                layout = {**synthetic.layout(), "seeds": [synthetic.train.seed, synthetic.validation.seed]}
                write_atomically(directory / SYNTHETIC_SETTINGS_FILE, json.dumps(layout, indent=2) + "\n")
            logger.info(f"Exported the final model to {directory}.")
        state.wait_for_everyone()
        return directory


def load_curriculum_config(
    path: str | os.PathLike, overrides: Sequence[str] = (), output_dir: str | os.PathLike | None = None
) -> Curriculum:
    """Reads a curriculum YAML file (with `key=value` overrides and `--output-dir`) into a [`Curriculum`]."""
    return Curriculum(read_curriculum_config(path, overrides=overrides, output_dir=output_dir))


__all__ = ["Curriculum", "load_curriculum_config"]
