# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""The caption metric set of Video ReCap: CIDEr-D, METEOR, ROUGE-L and BLEU as the COCO caption code, plus rouge_score."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import numpy as np

from .bleu import bleu_from_table
from .cider import cider_from_table
from .inputs import normalize_caption_inputs
from .meteor import MeteorScorer
from .ngrams import NGramTable
from .rouge import coco_rouge_l, rouge_score_lcs
from .tokenization import ptb_tokenize


logger = logging.getLogger(__name__)

MODES = ("videorecap", "coco")
CAPTION_METRIC_NAMES = ("CIDEr", "METEOR", "ROUGE_L", "BLEU_1", "BLEU_2", "BLEU_3", "BLEU_4", "rougeL", "rougeLsum")


def compute_caption_metrics(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    mode: str = "videorecap",
    return_per_sample: bool = False,
    meteor_scorer: MeteorScorer | None = None,
) -> dict[str, float | dict[str, list[float]]]:
    """Scores captions with CIDEr-D, METEOR, ROUGE_L, BLEU_1..4 (COCO caption code) and rougeL / rougeLsum.

    Args:
        predictions: One generated caption per sample.
        references: Per sample, a reference string or a non-empty list of reference strings.
        mode: `"videorecap"` reproduces the paper's evaluation: captions are `.strip().lower()`-ed and split on
            whitespace (nlg-eval, no PTB tokenizer, punctuation stays attached). `"coco"` runs the COCO caption
            pipeline: Stanford PTB tokenisation (lower-cased, punctuation removed) before the same scorers.
        return_per_sample: Also return `"per_sample"`: each metric's per-sample scores (BLEU as the COCO code's
            per-sample BLEU, METEOR as its per-segment scores).
        meteor_scorer: A running `MeteorScorer` to reuse (e.g. across levels); by default one is started and closed.

    Returns:
        `{"CIDEr", "METEOR", "ROUGE_L", "BLEU_1", ..., "BLEU_4", "rougeL", "rougeLsum"}` as floats on the 0-1 scale
        of the COCO code (CIDEr can exceed 1). `rougeL` / `rougeLsum` are the means of rouge_score's per-sample F1
        (`evaluate`'s rouge with `use_aggregator=False`), computed on the untokenised captions in either mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    predictions, references = normalize_caption_inputs(predictions, references)
    logger.info(
        "Scoring %d captions against %d references (%s mode).", len(predictions), sum(map(len, references)), mode
    )
    with ExitStack() as stack:
        if meteor_scorer is None:
            meteor_scorer = stack.enter_context(MeteorScorer())
        if mode == "videorecap":
            predictions = [prediction.strip().lower() for prediction in predictions]
            references = [[reference.strip().lower() for reference in refs] for refs in references]
            scored_predictions, scored_references = predictions, references
        else:
            scored_predictions, scored_references = _ptb_tokenize_corpus(predictions, references)
        executor = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="meteor"))
        meteor = executor.submit(meteor_scorer.score, scored_predictions, scored_references)

        table = NGramTable.from_tokens(
            [prediction.split() for prediction in scored_predictions],
            [[reference.split() for reference in refs] for refs in scored_references],
        )
        per_sample = {}
        scores: dict[str, float] = {}
        scores["CIDEr"], per_sample["CIDEr"] = cider_from_table(table)
        bleu, bleu_per_sample = bleu_from_table(table)
        scores["ROUGE_L"], per_sample["ROUGE_L"] = coco_rouge_l(scored_predictions, scored_references)
        for order in range(table.max_order):
            scores[f"BLEU_{order + 1}"] = bleu[order]
            per_sample[f"BLEU_{order + 1}"] = bleu_per_sample[:, order]
        per_sample.update(rouge_score_lcs(predictions, references))
        scores["rougeL"] = float(np.mean(per_sample["rougeL"]))
        scores["rougeLsum"] = float(np.mean(per_sample["rougeLsum"]))
        scores["METEOR"], per_sample["METEOR"] = meteor.result()

    result: dict[str, float | dict[str, list[float]]] = {name: float(scores[name]) for name in CAPTION_METRIC_NAMES}
    if return_per_sample:
        result["per_sample"] = {name: [float(value) for value in per_sample[name]] for name in CAPTION_METRIC_NAMES}
    return result


def _ptb_tokenize_corpus(predictions: list[str], references: list[list[str]]) -> tuple[list[str], list[list[str]]]:
    """PTB-tokenises references then predictions in one tokenizer call (the COCO code's order and line grouping)."""
    flat_references = [reference for refs in references for reference in refs]
    tokenized = ptb_tokenize(flat_references + predictions)
    tokenized_references, position = [], 0
    for refs in references:
        tokenized_references.append(tokenized[position : position + len(refs)])
        position += len(refs)
    return tokenized[position:], tokenized_references


__all__ = ["CAPTION_METRIC_NAMES", "MODES", "compute_caption_metrics"]
