# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Captioning an Ego4D-HCap split with a Video ReCap model and scoring it as the paper does (Table 2)."""

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..models.video_recap.configuration_video_recap import LEVELS, validate_level
from .collator import VideoReCapDataCollator
from .sampler import MultiLevelDataset


PAPER_TABLE_2 = {
    "Video ReCap": {"clip": (98.35, 48.77, 28.28), "segment": (46.88, 39.73, 18.55), "video": (29.34, 32.64, 14.45)},
    "Video ReCap-U": {"clip": (92.67, 47.90, 28.08), "segment": (45.60, 39.33, 18.17), "video": (31.06, 33.32, 14.16)},
}
"""CIDEr / ROUGE-L / METEOR x 100 reported by the authors on Ego4D-HCap validation."""


@dataclass
class LevelEvaluation:
    """Predictions, references and scores (x100: CIDEr, ROUGE_L = rougeLsum, METEOR) of one level."""

    level: str
    predictions: list[str]
    references: list[str]
    scores: dict[str, float]
    examples: list[dict] = field(default_factory=list)


@torch.no_grad()
def caption_examples(
    model,
    processor,
    examples: Sequence[Mapping],
    level: str,
    batch_size: int = 16,
    clip_reader: Callable | None = None,
    generation_kwargs: Mapping | None = None,
    progress: bool = True,
) -> list[str]:
    """
    Generates captions for Ego4D-HCap examples of one level (clip: frames of `video_path`; segment/video: CLS features
    of `features_path` and the predicted lower-level captions, as the paper evaluates).
    """
    validate_level(level)
    collator = VideoReCapDataCollator(
        processor, clip_reader=clip_reader, level_max_new_tokens=model.generation_config.level_max_new_tokens
    )
    loader = DataLoader(MultiLevelDataset({level: examples}), batch_size=batch_size, collate_fn=collator)
    device = model.device
    predictions = []
    for batch in tqdm(loader, desc=f"{level} captions", disable=not progress):
        inputs = {
            key: value.to(device) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()
            if key not in ("input_ids", "attention_mask", "labels")
        }
        if "pixel_values_videos" in inputs:
            inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(model.dtype)
        generated = model.generate(**inputs, **(generation_kwargs or {}))
        predictions.extend(processor.batch_decode(generated))
    return predictions


def evaluate_level(
    model,
    processor,
    examples: Sequence[Mapping],
    level: str,
    mode: str = "videorecap",
    meteor_scorer=None,
    **caption_kwargs,
) -> LevelEvaluation:
    """Captions `examples` and scores them against their `text` with [`compute_caption_metrics`]."""
    from ..metrics import compute_caption_metrics

    predictions = caption_examples(model, processor, examples, level, **caption_kwargs)
    references = [example["text"] for example in examples]
    metrics = compute_caption_metrics(predictions, references, mode=mode, meteor_scorer=meteor_scorer)
    scores = {
        "CIDEr": 100 * metrics["CIDEr"],
        "ROUGE_L": 100 * metrics["rougeLsum"],
        "METEOR": 100 * metrics["METEOR"],
    }
    return LevelEvaluation(level, predictions, references, scores, examples=[dict(example) for example in examples])


def format_table(results: Mapping[str, Mapping[str, Mapping[str, float]]], with_paper: bool = True) -> str:
    """
    A Markdown table in the layout of the paper's Table 2: one row per model, CIDEr / ROUGE-L / METEOR per level.

    Args:
        results: model name -> level -> {"CIDEr", "ROUGE_L", "METEOR"} (x100).
        with_paper: add the authors' reported rows.
    """
    rows = dict(PAPER_TABLE_2) if with_paper else {}
    header = "| model | " + " | ".join(f"{level} C | {level} R | {level} M" for level in LEVELS) + " |"
    lines = [header, "|---|" + "---:|" * (3 * len(LEVELS))]

    def cells(scores: Mapping | tuple | None) -> list[str]:
        if scores is None:
            return ["-"] * 3
        values = scores if isinstance(scores, tuple) else (scores["CIDEr"], scores["ROUGE_L"], scores["METEOR"])
        return [f"{value:.2f}" for value in values]

    for name, per_level in {**{f"{name} (paper)": value for name, value in rows.items()}, **results}.items():
        row = [cell for level in LEVELS for cell in cells(per_level.get(level))]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def most_frequent_caption(texts: Sequence[str]) -> str:
    """The trivial baseline: the most frequent training caption (ties broken by first occurrence)."""
    if not texts:
        raise ValueError("No training captions to pick the most frequent one from.")
    return Counter(texts).most_common(1)[0][0]


__all__ = [
    "LevelEvaluation",
    "PAPER_TABLE_2",
    "caption_examples",
    "evaluate_level",
    "format_table",
    "most_frequent_caption",
]
