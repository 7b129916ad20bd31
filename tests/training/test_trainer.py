"""VideoReCapTrainer: training from CLS features, exact resume, LoRA, multi-process equivalence."""

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback, TrainerState

from tests.training.helpers import (
    make_model_and_processor,
    make_segment_examples,
    make_trainer,
    trainable_state,
)
from tests.utils import free_port
from transformers_recap.training.curriculum.config import StageOptions
from transformers_recap.training.curriculum.stages import FreezeForSteps, make_trainable
from transformers_recap.training.trainer import ModuleWarmup


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return make_segment_examples(tmp_path_factory.mktemp("features"))


def test_training_reduces_the_loss_and_only_moves_the_level_parts(examples, tmp_path):
    model, processor = make_model_and_processor()
    frozen_before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = make_trainer(model, processor, examples, tmp_path, max_steps=30)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert sum(losses[-5:]) / 5 < 0.95 * sum(losses[:5]) / 5
    for name, parameter in model.named_parameters():
        moved = not torch.equal(parameter, frozen_before[name])
        level_part = parameter.requires_grad
        assert moved == level_part or (level_part and "gate" in name), name
        if moved:
            assert ".segment." in name


class StopAt(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True


def test_exact_resume(examples, tmp_path):
    arguments = {"max_steps": 8, "save_strategy": "steps", "save_steps": 4}
    model, processor = make_model_and_processor(seed=1, dropout=0.1)
    full = make_trainer(model, processor, examples, tmp_path / "full", **arguments)
    full.train()
    expected = trainable_state(model)
    expected_losses = [entry["loss"] for entry in full.state.log_history if "loss" in entry]

    model, processor = make_model_and_processor(seed=1, dropout=0.1)
    interrupted = make_trainer(model, processor, examples, tmp_path / "resumed", callbacks=[StopAt(3)], **arguments)
    interrupted.train()
    checkpoint = tmp_path / "resumed" / "checkpoint-3"
    assert checkpoint.is_dir()
    model, processor = make_model_and_processor(seed=99, dropout=0.1)  # a different init: everything comes from disk
    resumed = make_trainer(model, processor, examples, tmp_path / "resumed", **arguments)
    resumed.train(resume_from_checkpoint=os.fspath(checkpoint))
    losses = [entry["loss"] for entry in resumed.state.log_history if "loss" in entry]
    assert losses[-5:] == pytest.approx(expected_losses[-5:], abs=1e-6)
    for name, value in trainable_state(model).items():
        torch.testing.assert_close(value, expected[name], atol=1e-6, rtol=0)


class RecordModule(TrainerCallback):
    """The module's weights after every optimizer step."""

    def __init__(self, module):
        self.module = module
        self.after_step = []

    def on_step_end(self, args, state, control, **kwargs):
        self.after_step.append({name: p.detach().clone() for name, p in self.module.named_parameters()})


def test_freeze_for_steps_holds_a_module_then_trains_it(examples, tmp_path):
    model, processor = make_model_and_processor()
    model.set_trainable_levels(["segment"])
    module = model.model.alignment["segment"].video_qformer
    initial = {name: p.detach().clone() for name, p in module.named_parameters()}
    trainable = {name for name, p in module.named_parameters() if p.requires_grad}
    record = RecordModule(module)
    freeze = FreezeForSteps(module, 3)
    trainer = make_trainer(model, processor, examples, tmp_path / "a", callbacks=[freeze, record])
    trainer.train()
    for step, weights in enumerate(record.after_step[:3], start=1):
        assert all(torch.equal(weights[name], initial[name]) for name in initial), f"step {step} moved it"
    assert trainable != set(initial)  # the level trains part of it; the rest stays frozen after the steps
    assert {name for name, p in module.named_parameters() if p.requires_grad} == trainable
    assert any(not torch.equal(record.after_step[3][name], initial[name]) for name in initial)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    # Reference: the same run with the module frozen from the start (Trainer leaves it out of the optimizer).
    model, processor = make_model_and_processor()
    model.set_trainable_levels(["segment"])
    model.model.alignment["segment"].video_qformer.requires_grad_(False)
    frozen = make_trainer(model, processor, examples, tmp_path / "b", levels=None)
    frozen.train()
    reference = [entry["loss"] for entry in frozen.state.log_history if "loss" in entry]
    assert losses[:4] == pytest.approx(reference[:4], abs=1e-6)  # the 4th loss is computed before the 4th step
    assert losses[4:] != pytest.approx(reference[4:], abs=1e-6)
    # A run resumed past the frozen steps trains the module from its first step.
    freeze.on_train_begin(None, TrainerState(global_step=0), None)
    assert not any(p.requires_grad for p in module.parameters())
    freeze.on_train_begin(None, TrainerState(global_step=4), None)
    assert {name for name, p in module.named_parameters() if p.requires_grad} == trainable


class RecordLearningRates(TrainerCallback):
    """Per optimizer step, the learning rate of each parameter (by name) that the step is about to use."""

    def __init__(self, model):
        self.names = {id(parameter): name for name, parameter in model.named_parameters()}
        self.rates = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.rates.append(
            {self.names[id(p)]: group["lr"] for group in optimizer.param_groups for p in group["params"]}
        )


def test_module_warmup_gives_a_module_its_own_delayed_ramp_and_resumes(examples, tmp_path):
    def run(output_dir, callbacks=(), resume=None, seed=0):
        model, processor = make_model_and_processor(seed=seed)
        model.set_trainable_levels(["segment"])
        module = model.model.alignment["segment"].video_qformer
        record = RecordLearningRates(model)
        trainer = make_trainer(
            model,
            processor,
            examples,
            output_dir,
            callbacks=[FreezeForSteps(module, 2), record, *callbacks],
            module_warmup=ModuleWarmup(module, start=2, steps=3),
            max_steps=8,
            save_strategy="steps",
            save_steps=4,
        )
        trainer.train(resume_from_checkpoint=resume)
        prefix = "model.alignment.segment.video_qformer."
        trainable = {name for name, p in model.named_parameters() if p.requires_grad}
        return record.rates, {name for name in trainable if name.startswith(prefix)}, trainable

    rates, inside, trainable = run(tmp_path / "full")
    assert inside and inside < trainable and set(rates[0]) == trainable  # each trainable parameter in one group
    # Reference: the cosine schedule with 1 warm-up step of 8, by its formula; the module's ramp starts at step 2.
    for step, step_rates in enumerate(rates):
        schedule = 5e-3 * (step / 1 if step < 1 else 0.5 * (1 + math.cos(math.pi * (step - 1) / 7)))
        ramp = min(1.0, max(0.0, (step - 1) / 3))
        for name, rate in step_rates.items():
            assert rate == pytest.approx(schedule * (ramp if name in inside else 1.0), abs=1e-12), (step, name)
    # Resumed from the checkpoint after step 3, the groups and the module's ramp continue where they were.
    run(tmp_path / "resumed", callbacks=[StopAt(3)])
    resumed, _, _ = run(tmp_path / "resumed", resume=os.fspath(tmp_path / "resumed" / "checkpoint-3"), seed=5)
    assert resumed == [pytest.approx(step_rates, abs=1e-12) for step_rates in rates[3:]]


def test_lora_trains_only_adapter_weights(examples, tmp_path):
    model, processor = make_model_and_processor()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    peft_model = make_trainable(model, ["segment"], StageOptions(lora={"r": 4, "lora_alpha": 8}))
    lora = {name for name, p in peft_model.named_parameters() if p.requires_grad and "lora_" in name}
    assert lora and all(".attn.c_attn." in name for name in lora)  # self-attention only by default
    trainer = make_trainer(peft_model, processor, examples, tmp_path / "lora", levels=None, max_steps=4)
    lora_before = {name: p.detach().clone() for name, p in peft_model.named_parameters() if "lora_B" in name}
    trainer.train()
    assert any(not torch.equal(p, lora_before[n]) for n, p in peft_model.named_parameters() if n in lora_before)
    merged_source = peft_model.get_base_model()
    for name, parameter in merged_source.named_parameters():
        if "lora_" in name:
            continue
        original = before[name.replace(".base_layer", "")]
        if ".segment." in name and parameter.requires_grad:
            continue
        assert torch.equal(parameter, original), f"{name} changed"
    merged = peft_model.merge_and_unload()
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_two_processes_match_one_with_the_same_global_batch(examples, tmp_path):
    data_dir = Path(examples[0]["features_path"]).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": os.getcwd()}
    helper = "tests.training.helpers"
    single = tmp_path / "single"
    double = tmp_path / "double"
    commands = [
        ([sys.executable, "-m", helper, os.fspath(data_dir), os.fspath(single), "8"], single),
        (
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc_per_node",
                "2",
                "--master_port",
                free_port(),
                "-m",
                helper,
                os.fspath(data_dir),
                os.fspath(double),
                "4",
            ],
            double,
        ),
    ]
    for command, output in commands:
        output.mkdir()
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
    one = torch.load(single / "weights.pt", weights_only=True)
    two = torch.load(double / "weights.pt", weights_only=True)
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=2e-6, rtol=1e-5)
    assert torch.load(double / "losses.pt", weights_only=True) == pytest.approx(
        torch.load(single / "losses.pt", weights_only=True), abs=1e-5
    )
