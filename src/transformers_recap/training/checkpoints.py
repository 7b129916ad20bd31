# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Checkpoints that a kill cannot leave looking finished, and the choice of the one to resume from.

`Trainer` writes `checkpoint-<step>/` file by file, so a kill during a save leaves an empty or partial folder, which
`transformers.trainer_utils.get_last_checkpoint` would pick. [`VideoReCapTrainer`] therefore marks a checkpoint
complete once every file of it (of every process) is on disk: `checkpoint_complete.json`, written atomically last,
lists the files and their sizes. [`find_resume_checkpoint`] resumes from the newest marked checkpoint, moves newer
unmarked ones aside (`incomplete-checkpoint-<step>`, kept for inspection) and checks, before `Trainer` loads them,
that the pickled files (`optimizer.pt`, `scheduler.pt`, `rng_state*.pth`, ...) load with the restricted loader
`Trainer` uses (`torch.load(weights_only=True)` with its numpy allow-list), so that a bad file is a one-line error
naming it instead of a traceback.
"""

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import torch
from accelerate import PartialState
from transformers.trainer import OPTIMIZER_NAME, SCALER_NAME, SCHEDULER_NAME
from transformers.trainer_pt_utils import safe_globals
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.utils import WEIGHTS_NAME, logging

from .files import fsync_directory, write_atomically


logger = logging.get_logger(__name__)

CHECKPOINT_COMPLETE_FILE = "checkpoint_complete.json"
INCOMPLETE_PREFIX = "incomplete-"
_CHECKPOINT_NAME = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from; the one-line message names the file."""


def _files(checkpoint: Path) -> list[Path]:
    return sorted(path for path in checkpoint.rglob("*") if path.is_file() and path.name != CHECKPOINT_COMPLETE_FILE)


def sync_checkpoint(checkpoint: str | os.PathLike) -> None:
    """Flushes every file of `checkpoint` and its folders to disk."""
    checkpoint = Path(checkpoint)
    for path in _files(checkpoint):
        with open(path, "rb") as file:
            os.fsync(file.fileno())
    for folder in sorted({path.parent for path in _files(checkpoint)} | {checkpoint}):
        fsync_directory(folder)


def mark_checkpoint_complete(checkpoint: str | os.PathLike, global_step: int) -> None:
    """Writes `checkpoint_complete.json` (the files and their sizes) once all of `checkpoint` is on disk."""
    checkpoint = Path(checkpoint)
    sync_checkpoint(checkpoint)
    files = {path.relative_to(checkpoint).as_posix(): path.stat().st_size for path in _files(checkpoint)}
    record = {"global_step": global_step, "files": files}
    write_atomically(checkpoint / CHECKPOINT_COMPLETE_FILE, json.dumps(record, indent=1) + "\n")


def checkpoint_problem(checkpoint: str | os.PathLike) -> str | None:
    """Why `checkpoint` is not a complete checkpoint (`None` when it is)."""
    checkpoint = Path(checkpoint)
    marker = checkpoint / CHECKPOINT_COMPLETE_FILE
    if not marker.is_file():
        return f"no {CHECKPOINT_COMPLETE_FILE}: its save was interrupted"
    try:
        files = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        return f"{CHECKPOINT_COMPLETE_FILE} is unreadable"
    for name, size in files.items():
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} has {path.stat().st_size} bytes, {size} when it was saved"
    return None


def _loader_problem(error: Exception) -> str:
    match = re.search(r"WeightsUnpickler error: (.*?)(?: Please use|\n|$)", str(error))
    if match:
        return match.group(1).rstrip(".")
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else 'no message'}"


def check_checkpoint_files(checkpoint: str | os.PathLike) -> None:
    """
    Loads every pickled file `Trainer` reads on resume with the restricted loader it uses and raises a
    [`CheckpointError`] naming the first file that fails (nothing in it is executed).
    """
    checkpoint = Path(checkpoint)
    names = [OPTIMIZER_NAME, SCHEDULER_NAME, SCALER_NAME, WEIGHTS_NAME]
    paths = [checkpoint / name for name in names] + sorted(checkpoint.glob("rng_state*.pth"))
    for path in paths:
        if not path.is_file():
            continue
        if not zipfile.is_zipfile(path):
            problem = "it is not a torch.save archive (truncated or corrupt)"
        else:
            try:
                with safe_globals():
                    torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                continue
            except Exception as error:  # any failure of the restricted loader means: do not resume from this file
                problem = _loader_problem(error)
        raise CheckpointError(
            f"{path}: refusing to resume from it: {problem}; torch.load(weights_only=True) cannot load it safely, so "
            "it was not loaded. Move the checkpoint away to resume from an earlier one."
        )


def list_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """The `checkpoint-<step>` folders in `folder`, oldest (lowest step) first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(match.group(1)), path) for path in folder.iterdir() if (match := _CHECKPOINT_NAME.match(path.name))]
    return [path for _, path in sorted(found) if path.is_dir()]


def find_resume_checkpoint(folder: str | os.PathLike, state: PartialState | None = None) -> str | None:
    """
    The newest complete checkpoint in `folder` to resume from (`None`: none, train from the start). Newer
    incomplete checkpoints are moved aside to `incomplete-checkpoint-<step>` with a warning, so that the run
    saves its own again; the chosen checkpoint's pickled files are checked (see [`check_checkpoint_files`]).

    Raises:
        [`CheckpointError`]: a pickled file of the chosen checkpoint does not load with the restricted loader.
    """
    state = state or PartialState()
    folder = Path(folder)
    if state.is_main_process:
        for checkpoint in reversed(list_checkpoints(folder)):
            problem = checkpoint_problem(checkpoint)
            if problem is None:
                break
            aside = checkpoint.with_name(INCOMPLETE_PREFIX + checkpoint.name)
            if aside.exists():
                shutil.rmtree(aside)
            checkpoint.rename(aside)
            logger.warning(f"{checkpoint} is incomplete ({problem}); moved it to {aside.name}.")
    state.wait_for_everyone()
    complete = [checkpoint for checkpoint in list_checkpoints(folder) if checkpoint_problem(checkpoint) is None]
    if not complete:
        if state.is_main_process:
            logger.warning(f"No complete checkpoint in {folder}; training from the start.")
        return None
    chosen = complete[-1]
    check_checkpoint_files(chosen)
    if state.is_main_process:
        logger.warning(f"Resuming from {chosen}.")
    return os.fspath(chosen)


__all__ = [
    "CHECKPOINT_COMPLETE_FILE",
    "CheckpointError",
    "check_checkpoint_files",
    "checkpoint_problem",
    "find_resume_checkpoint",
    "list_checkpoints",
    "mark_checkpoint_complete",
    "sync_checkpoint",
]
