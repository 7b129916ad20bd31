# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Caption metrics of Video ReCap: the COCO caption scorers (as the paper's nlg-eval ran them) and rouge_score."""

from pathlib import Path

from .bleu import coco_bleu
from .caption_metrics import CAPTION_METRIC_NAMES, MODES, compute_caption_metrics
from .cider import cider_d
from .inputs import normalize_caption_inputs
from .java import JavaNotFoundError, find_java
from .meteor import MeteorScorer
from .rouge import coco_rouge_l, rouge_score_lcs
from .tokenization import ptb_tokenize


EVALUATE_MODULES = ("video_recap_captions",)


def evaluate_module_path(name: str = "video_recap_captions") -> str:
    """Local path of a metric module bundled with the package, for `evaluate.load(path)` (works offline)."""
    if name not in EVALUATE_MODULES:
        raise ValueError(f"Unknown evaluate module {name!r}; available: {', '.join(EVALUATE_MODULES)}.")
    return str(Path(__file__).parent / name)


__all__ = [
    "CAPTION_METRIC_NAMES",
    "EVALUATE_MODULES",
    "MODES",
    "JavaNotFoundError",
    "MeteorScorer",
    "cider_d",
    "coco_bleu",
    "coco_rouge_l",
    "compute_caption_metrics",
    "evaluate_module_path",
    "find_java",
    "normalize_caption_inputs",
    "ptb_tokenize",
    "rouge_score_lcs",
]
