# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Validation of caption metric inputs."""

from __future__ import annotations

from collections.abc import Sequence


def normalize_caption_inputs(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]]
) -> tuple[list[str], list[list[str]]]:
    """Checks the inputs and returns them as `list[str]` and `list[list[str]]` (a lone reference becomes a list)."""
    for name, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list, got {type(value).__name__}.")
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have the same length, got {len(predictions)} and {len(references)}."
        )
    if not predictions:
        raise ValueError("predictions and references are empty: there is nothing to score.")
    for index, prediction in enumerate(predictions):
        if not isinstance(prediction, str):
            raise TypeError(f"predictions[{index}] must be a str, got {type(prediction).__name__}.")
    normalized = []
    for index, item in enumerate(references):
        if isinstance(item, str):
            normalized.append([item])
            continue
        if not isinstance(item, Sequence) or isinstance(item, bytes):
            raise TypeError(f"references[{index}] must be a str or a list of str, got {type(item).__name__}.")
        if not item:
            raise ValueError(f"references[{index}] is an empty list: give at least one reference per prediction.")
        for position, reference in enumerate(item):
            if not isinstance(reference, str):
                raise TypeError(f"references[{index}][{position}] must be a str, got {type(reference).__name__}.")
        normalized.append(list(item))
    return list(predictions), normalized


__all__ = ["normalize_caption_inputs"]
