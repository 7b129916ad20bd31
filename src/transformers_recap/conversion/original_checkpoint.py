# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Reading the checkpoints released with Video ReCap and LaViLa without running anything in them.

This module is a leaf: it imports only torch and the standard library, so the converter, the pretrained-parts loaders
and the tests can read original files without pulling in the model code.
"""

import argparse
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import torch


ALLOWED_GLOBALS = (argparse.Namespace,)
"""The only non-tensor, non-builtin objects a release file may unpickle (its training options)."""


class CheckpointConversionError(ValueError):
    """A checkpoint that cannot be read or does not match the Video ReCap architecture."""


class UnsafeCheckpointError(CheckpointConversionError):
    """A checkpoint whose pickle asks for an object outside the allow-list; nothing in it was executed."""


@dataclass
class OriginalCheckpoint:
    """
    One original training checkpoint.

    Args:
        path (`str`): where it was read from (used in error messages).
        state_dict (`dict[str, torch.Tensor]`): its weights, with the DDP prefix `module.` removed.
        args (`argparse.Namespace`, *optional*): the training options it was saved with.
        epoch (`int`, *optional*): the epoch it was saved after.
    """

    path: str
    state_dict: dict[str, torch.Tensor]
    args: argparse.Namespace | None = None
    epoch: int | None = None


def load_original_checkpoint(path: str | os.PathLike) -> OriginalCheckpoint:
    """
    Reads an original Video ReCap or LaViLa checkpoint without unpickling arbitrary objects.

    The file is loaded with `torch.load(weights_only=True)` and an allow-list holding only `argparse.Namespace`
    ([`ALLOWED_GLOBALS`]); tensors are memory-mapped when the file is in the zip format, so converting three 2-GB files
    does not hold them all in memory. A file that stores only a state dict is accepted too.

    Raises:
        FileNotFoundError: `path` does not exist.
        UnsafeCheckpointError: the pickle refers to another global (a class or a function); it was not loaded.
        CheckpointConversionError: the file is not a readable PyTorch checkpoint or holds no state dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint {path} does not exist.")
    if os.path.getsize(path) == 0:
        raise CheckpointConversionError(f"{path} is empty (0 bytes), not a PyTorch checkpoint.")
    try:
        with torch.serialization.safe_globals(list(ALLOWED_GLOBALS)):
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as error:
        refused = re.search(r"GLOBAL ([\w.]+)", str(error))
        if refused is None:
            detail = re.search(r"WeightsUnpickler error:\s*(.+?)\s*$", str(error), flags=re.MULTILINE | re.DOTALL)
            detail = detail.group(1).split("\n")[0] if detail else str(error).split("\n")[0]
            raise CheckpointConversionError(
                f"{path} is not a readable PyTorch checkpoint (the safe loader stopped at: {detail}); nothing in it "
                "was run."
            ) from None
        raise UnsafeCheckpointError(
            f"{path} asks to unpickle the global `{refused.group(1)}`, which is not allowed: a checkpoint may only "
            "hold tensors, plain Python data and an argparse.Namespace of training options. The file was not loaded "
            "and nothing in it was run."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        detail = " ".join(str(error).split()) or ("it ends early" if isinstance(error, EOFError) else repr(error))
        raise CheckpointConversionError(f"{path} is not a readable PyTorch checkpoint ({detail}).") from None

    if not isinstance(payload, Mapping):
        raise CheckpointConversionError(f"{path} holds a {type(payload).__name__}, not a checkpoint dictionary.")
    state_dict = payload.get("state_dict", payload)
    args = payload.get("args") if "state_dict" in payload else None
    epoch = payload.get("epoch") if "state_dict" in payload else None
    if not isinstance(state_dict, Mapping) or not state_dict:
        raise CheckpointConversionError(f"{path} has no state dict (expected a 'state_dict' entry of tensors).")
    stripped = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointConversionError(
                f"{path}: state dict entry `{key}` is a {type(value).__name__}, not a tensor."
            )
        stripped[key.removeprefix("module.")] = value
    if args is not None and not isinstance(args, argparse.Namespace):
        raise CheckpointConversionError(f"{path}: 'args' is a {type(args).__name__}, not an argparse.Namespace.")
    return OriginalCheckpoint(path=path, state_dict=stripped, args=args, epoch=epoch)


__all__ = [
    "ALLOWED_GLOBALS",
    "CheckpointConversionError",
    "OriginalCheckpoint",
    "UnsafeCheckpointError",
    "load_original_checkpoint",
]
