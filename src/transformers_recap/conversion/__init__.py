# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Conversion of the original releases: reading original checkpoints safely ([`load_original_checkpoint`], a leaf
module), converting Video ReCap, Video ReCap-U and LaViLa checkpoints, and building a model for training from public
pretrained parts ([`from_pretrained_parts`]). Names are imported on first use, so that the command line's parser can
read [`arguments`] without importing torch.
"""

import importlib
from typing import Any


_PUBLIC_NAMES = {
    "convert_original_checkpoint": (
        "convert_lavila_checkpoint",
        "convert_video_recap_checkpoints",
        "convert_video_recap_u_checkpoint",
        "save_converted",
    ),
    "original_checkpoint": (
        "CheckpointConversionError",
        "OriginalCheckpoint",
        "UnsafeCheckpointError",
        "load_original_checkpoint",
    ),
    "pretrained_parts": ("from_pretrained_parts",),
}
_MODULE_OF = {name: module for module, names in _PUBLIC_NAMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_MODULE_OF)
