"""Checkpoints marked complete, resume after a kill during a save, and refusing unsafe pickles under --resume."""

import json
import os
import shutil

import pytest
import torch
from transformers.testing_utils import CaptureLogger

from tests.training.helpers import make_model_and_processor, make_segment_examples, make_trainer
from transformers_recap.training import checkpoints
from transformers_recap.training.checkpoints import (
    CHECKPOINT_COMPLETE_FILE,
    CheckpointError,
    check_checkpoint_files,
    find_resume_checkpoint,
)


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return make_segment_examples(tmp_path_factory.mktemp("features"), count=8)


@pytest.fixture(scope="module")
def trained(examples, tmp_path_factory):
    """A run that saved a checkpoint at every step of 4 and kept the last two."""
    output = tmp_path_factory.mktemp("run")
    model, processor = make_model_and_processor()
    arguments = {"max_steps": 4, "save_strategy": "steps", "save_steps": 1, "save_total_limit": 2}
    make_trainer(model, processor, examples, output, **arguments).train()
    return output


def test_checkpoints_are_marked_complete_and_rotated_after_the_marker(trained):
    assert sorted(path.name for path in trained.iterdir()) == ["checkpoint-3", "checkpoint-4"]
    for step in (3, 4):
        checkpoint = trained / f"checkpoint-{step}"
        record = json.loads((checkpoint / CHECKPOINT_COMPLETE_FILE).read_text())
        on_disk = {
            path.name: path.stat().st_size for path in checkpoint.iterdir() if path.name != CHECKPOINT_COMPLETE_FILE
        }
        assert record == {"global_step": step, "files": on_disk}
        assert {"trainer_state.json", "optimizer.pt", "rng_state.pth", "model.safetensors"} <= set(on_disk)


def copy_run(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def test_resume_falls_back_to_the_last_complete_checkpoint(trained, examples, tmp_path):
    run = copy_run(trained, tmp_path)
    # A kill during the save of step 5 left an empty folder; one during step 6 a folder without trainer_state.json
    # and marker; one during step 7 a truncated optimizer.pt in an otherwise complete-looking folder.
    (run / "checkpoint-5").mkdir()
    shutil.copytree(run / "checkpoint-4", run / "checkpoint-6")
    (run / "checkpoint-6" / "trainer_state.json").unlink()
    (run / "checkpoint-6" / CHECKPOINT_COMPLETE_FILE).unlink()
    shutil.copytree(run / "checkpoint-4", run / "checkpoint-7")
    optimizer = run / "checkpoint-7" / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:100])

    with CaptureLogger(checkpoints.logger) as captured:
        chosen = find_resume_checkpoint(run)
    assert chosen == os.fspath(run / "checkpoint-4")
    assert "checkpoint-7 is incomplete (optimizer.pt has 100 bytes" in captured.out
    assert "checkpoint-6 is incomplete (no checkpoint_complete.json" in captured.out
    assert f"Resuming from {run / 'checkpoint-4'}" in captured.out
    assert sorted(path.name for path in run.iterdir()) == [
        "checkpoint-3",
        "checkpoint-4",
        "incomplete-checkpoint-5",
        "incomplete-checkpoint-6",
        "incomplete-checkpoint-7",
    ]

    # The resumed run continues from step 4 and saves step 5 and 6 again, complete.
    model, processor = make_model_and_processor(seed=5)
    arguments = {"max_steps": 6, "save_strategy": "steps", "save_steps": 1, "save_total_limit": 2}
    trainer = make_trainer(model, processor, examples, run, **arguments)
    trainer.train(resume_from_checkpoint=chosen)
    assert trainer.state.global_step == 6
    # The history of steps 1-4 comes from checkpoint-4's trainer state; 5 and 6 were trained now.
    assert [entry["step"] for entry in trainer.state.log_history if "loss" in entry] == [1, 2, 3, 4, 5, 6]
    assert find_resume_checkpoint(run) == os.fspath(run / "checkpoint-6")


def test_no_complete_checkpoint_means_training_from_the_start(tmp_path):
    (tmp_path / "checkpoint-2").mkdir()
    assert find_resume_checkpoint(tmp_path) is None
    assert find_resume_checkpoint(tmp_path / "missing") is None


class Payload:
    """Unpickling this creates `path`: proof that the file's code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (os.fspath(self.path), "w"))


@pytest.mark.parametrize("name", ["rng_state.pth", "optimizer.pt", "scheduler.pt"])
def test_unsafe_or_corrupt_pickles_are_refused_before_the_trainer_loads_them(trained, tmp_path, name):
    run = copy_run(trained, tmp_path)
    checkpoint = run / "checkpoint-4"
    witness = tmp_path / "code-ran"
    torch.save({"state": Payload(witness)}, checkpoint / name)
    checkpoints.mark_checkpoint_complete(checkpoint, 4)  # complete, so the files are what is checked
    with pytest.raises(CheckpointError) as error:
        find_resume_checkpoint(run)
    message = str(error.value)
    assert "\n" not in message and message.startswith(os.fspath(checkpoint / name))
    assert "Unsupported global: GLOBAL io.open" in message
    assert not witness.exists()

    (checkpoint / name).write_bytes(b"\x80\x04 truncated")
    with pytest.raises(CheckpointError, match=rf"{name}: refusing to resume from it: it is not a torch.save archive"):
        check_checkpoint_files(checkpoint)
