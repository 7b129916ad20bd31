# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Seq2Seq-style trainer for Video ReCap: level-homogeneous batches and evaluation with generation per level."""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader
from transformers import EvalPrediction, Seq2SeqTrainer, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints, seed_worker

from .checkpoints import mark_checkpoint_complete, sync_checkpoint
from .sampler import LevelAlternatingBatchSampler, MultiLevelDataset


# Batch keys that only teacher forcing uses; generation starts from BOS.
TARGET_KEYS = ("input_ids", "attention_mask", "labels")


def level_batch_sampler(
    dataset: MultiLevelDataset, args: TrainingArguments, samples_per_epoch: Mapping[str, int] | None = None
) -> LevelAlternatingBatchSampler:
    """The batches [`VideoReCapTrainer`] trains on with `args` (global batches, the last incomplete one dropped)."""
    return LevelAlternatingBatchSampler(
        dataset,
        global_batch_size=args.per_device_train_batch_size * args.world_size,
        num_processes=args.world_size,
        samples_per_epoch=samples_per_epoch,
        seed=args.data_seed if args.data_seed is not None else args.seed,
        drop_last=True,
    )


@dataclass(frozen=True)
class ModuleWarmup:
    """
    A learning-rate warm-up of its own for one module: the module's parameters get learning rate 0 for optimizer
    steps `0..start-1`, then a fraction of the schedule's rising linearly to all of it over `steps` steps (the
    `vision_lr_warmup_steps` stage option, after `freeze_vision_steps`). Hand-written: Trainer warms up every
    parameter at once.
    """

    module: torch.nn.Module
    start: int
    steps: int

    def __post_init__(self):
        if self.start < 0 or self.steps < 1:
            raise ValueError(
                f"ModuleWarmup needs start >= 0 and steps >= 1, got start={self.start}, steps={self.steps}."
            )

    def factor(self, step: int) -> float:
        """The fraction of the schedule's learning rate that the module's parameters get at scheduler step `step`."""
        return min(1.0, max(0.0, (step - self.start + 1) / self.steps))


class VideoReCapTrainer(Seq2SeqTrainer):
    """
    `Seq2SeqTrainer` for Video ReCap. The training set is a [`MultiLevelDataset`]; its batches come from a
    [`LevelAlternatingBatchSampler`] (one level per batch, levels alternating for Video ReCap-U, lower levels
    subsampled per epoch). Evaluation datasets are passed per level (`eval_dataset={"clip": ..., "segment": ...}`),
    and with `predict_with_generate` each is captioned with `model.generate(level=...)` and scored by
    `compute_metrics` (see [`caption_metrics_fn`]). Each checkpoint is marked complete once all of it is on disk,
    and old checkpoints are deleted only after that (see `training.checkpoints`).

    Args:
        samples_per_epoch (`Mapping[str, int]`, *optional*): examples per level per epoch (default: as many as the
            smallest level has).
        module_warmup ([`ModuleWarmup`], *optional*): a module whose parameters warm up later than the rest; they
            get optimizer param groups of their own (one per group Trainer makes), which need a `LambdaLR` schedule
            (every `lr_scheduler_type` but `reduce_lr_on_plateau`).
        All other arguments are `Seq2SeqTrainer`'s; set `remove_unused_columns=False` (the collator builds inputs).
    """

    def __init__(
        self,
        *args,
        samples_per_epoch: Mapping[str, int] | None = None,
        module_warmup: ModuleWarmup | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.samples_per_epoch = samples_per_epoch
        self.module_warmup = module_warmup

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.module_warmup is None or any(group.get("module_warmup") for group in optimizer.param_groups):
            return optimizer
        # Before any step (no optimizer state yet): move the module's parameters into groups of their own.
        warmed = {id(parameter) for parameter in self.module_warmup.module.parameters()}
        for group in list(optimizer.param_groups):
            inside = [parameter for parameter in group["params"] if id(parameter) in warmed]
            if inside:
                group["params"] = [parameter for parameter in group["params"] if id(parameter) not in warmed]
                optimizer.add_param_group({**group, "params": inside, "module_warmup": True})
        optimizer.param_groups[:] = [group for group in optimizer.param_groups if group["params"]]
        return optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        had_scheduler = self.lr_scheduler is not None
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        if self.module_warmup is None or had_scheduler:
            return scheduler
        if not isinstance(scheduler, LambdaLR):
            raise ValueError(
                f"A module warm-up needs a LambdaLR schedule; lr_scheduler_type {self.args.lr_scheduler_type!r} "
                f"gives {type(scheduler).__name__}."
            )
        warmup = self.module_warmup
        for index, group in enumerate(scheduler.optimizer.param_groups):
            if group.get("module_warmup"):
                schedule = scheduler.lr_lambdas[index]
                # A plain function: LambdaLR leaves functions out of its state dict, so checkpoints stay tensors.
                scheduler.lr_lambdas[index] = lambda step, schedule=schedule: schedule(step) * warmup.factor(step)
                group["lr"] = scheduler.base_lrs[index] * scheduler.lr_lambdas[index](scheduler.last_epoch)
        return scheduler

    def _save_checkpoint(self, model, trial) -> None:
        # Trainer deletes old checkpoints (save_total_limit) at the end of its own save, before anything could mark
        # the new one complete: here the rotation runs after the marker, so a kill never leaves only unmarked ones.
        limit = self.args.save_total_limit
        self.args.save_total_limit = None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        run_dir = self._get_output_dir(trial=trial)
        checkpoint = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        sync_checkpoint(checkpoint)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            mark_checkpoint_complete(checkpoint, self.state.global_step)
            rotate_checkpoints(run_dir, limit, best_model_checkpoint=self.state.best_model_checkpoint)

    def get_train_dataloader(self) -> DataLoader:
        if not isinstance(self.train_dataset, MultiLevelDataset):
            raise TypeError("VideoReCapTrainer trains on a MultiLevelDataset (one dataset per level).")
        dataloader = DataLoader(
            self.train_dataset,
            batch_sampler=level_batch_sampler(self.train_dataset, self.args, self.samples_per_epoch),
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=self.args.dataloader_persistent_workers and self.args.dataloader_num_workers > 0,
            worker_init_fn=partial(
                seed_worker, num_workers=self.args.dataloader_num_workers, rank=self.args.process_index
            ),
        )
        return self.accelerator.prepare(dataloader)

    def prediction_step(self, model, inputs, prediction_loss_only: bool, ignore_keys=None, **gen_kwargs):
        if not self.args.predict_with_generate or prediction_loss_only:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        inputs = self._prepare_inputs(inputs)
        gen_kwargs = {**getattr(self, "_gen_kwargs", {}), **gen_kwargs}
        gen_kwargs = {key: value for key, value in gen_kwargs.items() if value is not None}
        generation_inputs = {key: value for key, value in inputs.items() if key not in TARGET_KEYS}
        with torch.no_grad():
            generated = self.accelerator.unwrap_model(self.model).generate(**generation_inputs, **gen_kwargs)
            loss = None
            if "labels" in inputs:
                with self.compute_loss_context_manager():
                    loss = self.compute_loss(model, inputs).detach()
        return loss, generated, inputs.get("labels")


def caption_metrics_fn(
    processor, mode: str = "videorecap", meteor_scorer=None
) -> Callable[[EvalPrediction], dict[str, float]]:
    """
    Builds a `compute_metrics` for [`VideoReCapTrainer`]: decodes generated captions and label captions with
    `processor.batch_decode` and scores them with [`compute_caption_metrics`] (x100, as the paper reports):
    `CIDEr`, `ROUGE_L` (rouge_score's rougeLsum, the paper's R) and `METEOR`. A running `meteor_scorer`
    ([`MeteorScorer`]) is reused by every evaluation instead of starting Java (and its paraphrase table) each time.
    """
    from ..metrics import compute_caption_metrics

    eos = processor.tokenizer.eos_token_id

    def compute_metrics(prediction: EvalPrediction) -> dict[str, float]:
        predictions = np.where(prediction.predictions == -100, eos, prediction.predictions)
        labels = np.where(prediction.label_ids == -100, eos, prediction.label_ids)
        scores = compute_caption_metrics(
            processor.batch_decode(predictions), processor.batch_decode(labels), mode=mode, meteor_scorer=meteor_scorer
        )
        return {"CIDEr": 100 * scores["CIDEr"], "ROUGE_L": 100 * scores["rougeLsum"], "METEOR": 100 * scores["METEOR"]}

    return compute_metrics


__all__ = ["VideoReCapTrainer", "caption_metrics_fn", "level_batch_sampler"]
