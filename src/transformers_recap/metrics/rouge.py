# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""LCS-based ROUGE: the COCO caption ROUGE_L and rouge_score's rougeL / rougeLsum F-measures.

LCS lengths use the bit-parallel algorithm of Allison-Dix / Hyyrö on Python integers (one word operation per token
instead of one table cell per token pair); rougeLsum's union LCS reads its table rows back from the same bit vectors.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .inputs import normalize_caption_inputs


COCO_ROUGE_BETA = 1.2

# rouge_score's default tokenizer (no stemmer): lower-case, keep the maximal runs of [a-z0-9].
_ROUGE_SCORE_TOKEN = re.compile(r"[a-z0-9]+")


def _position_masks(tokens: list[str]) -> dict[str, int]:
    """Bit mask of the positions of each distinct token."""
    masks: dict[str, int] = {}
    for position, token in enumerate(tokens):
        masks[token] = masks.get(token, 0) | (1 << position)
    return masks


def _lcs_rows(masks: dict[str, int], length: int, tokens: list[str]) -> list[int]:
    """Bit-parallel LCS rows: a zero at bit j of row i means table[i][j + 1] == table[i][j] + 1."""
    full = (1 << length) - 1
    row = full
    rows = [row]
    for token in tokens:
        match = masks.get(token, 0) & row
        if match:
            row = ((row + match) | (row - match)) & full
        rows.append(row)
    return rows


def _lcs_from_masks(masks: dict[str, int], length: int, tokens: list[str]) -> int:
    """LCS length of `tokens` and the `length` tokens whose `_position_masks` are given (the last row only)."""
    full = (1 << length) - 1
    row = full
    for token in tokens:
        match = masks.get(token, 0) & row
        if match:
            row = ((row + match) | (row - match)) & full
    return length - row.bit_count()


def lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    return _lcs_from_masks(_position_masks(second), len(second), first)


def coco_rouge_l(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], beta: float = COCO_ROUGE_BETA
) -> tuple[float, np.ndarray]:
    """Corpus and per-sample ROUGE_L of the COCO caption code (tokens split on single spaces, best P and R over refs)."""
    predictions, references = normalize_caption_inputs(predictions, references)
    scores = np.zeros(len(predictions), dtype=np.float64)
    for sample, (prediction, sample_references) in enumerate(zip(predictions, references, strict=True)):
        candidate = prediction.split(" ")
        masks = _position_masks(candidate)
        best_precision = best_recall = 0.0
        for reference in sample_references:
            tokens = reference.split(" ")
            common = _lcs_from_masks(masks, len(candidate), tokens)
            best_precision = max(best_precision, common / float(len(candidate)))
            best_recall = max(best_recall, common / float(len(tokens)))
        if best_precision != 0 and best_recall != 0:
            scores[sample] = ((1 + beta**2) * best_precision * best_recall) / float(
                best_recall + beta**2 * best_precision
            )
    return float(np.mean(scores)), scores


def rouge_score_tokenize(text: str) -> list[str]:
    """rouge_score's default tokenisation (lower-case; non-alphanumerics separate tokens; no stemming)."""
    return _ROUGE_SCORE_TOKEN.findall(text.lower())


def _f_measure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _rouge_l_f(reference: list[str], prediction: list[str], prediction_masks: dict[str, int]) -> float:
    if not reference or not prediction:
        return 0.0
    common = _lcs_from_masks(prediction_masks, len(prediction), reference)
    return _f_measure(common / len(prediction), common / len(reference))


def _lcs_positions(reference: list[str], candidate: list[str]) -> list[int]:
    """Positions in `reference` of one LCS with `candidate`, chosen by rouge_score's backtracking rule."""
    rows = _lcs_rows(_position_masks(candidate), len(candidate), reference)

    def table(i: int, j: int) -> int:
        return j - (rows[i] & ((1 << j) - 1)).bit_count()

    positions = []
    i, j = len(reference), len(candidate)
    while i > 0 and j > 0:
        if reference[i - 1] == candidate[j - 1]:
            positions.append(i - 1)
            i -= 1
            j -= 1
        elif table(i, j - 1) > table(i - 1, j):
            j -= 1
        else:
            i -= 1
    return positions


def _rouge_lsum_f(reference_text: str, prediction_text: str) -> float:
    """Summary-level LCS F-measure over newline-separated sentences (ROUGE 1.5.5's union LCS, clipped hits)."""
    references = [rouge_score_tokenize(line) for line in reference_text.split("\n") if line]
    predictions = [rouge_score_tokenize(line) for line in prediction_text.split("\n") if line]
    reference_total = sum(map(len, references))
    prediction_total = sum(map(len, predictions))
    if not reference_total or not prediction_total:
        return 0.0
    reference_counts = Counter(token for sentence in references for token in sentence)
    prediction_counts = Counter(token for sentence in predictions for token in sentence)
    hits = 0
    for reference in references:
        union = set()
        for prediction in predictions:
            union.update(_lcs_positions(reference, prediction))
        for position in sorted(union):
            token = reference[position]
            if prediction_counts[token] > 0 and reference_counts[token] > 0:
                hits += 1
                prediction_counts[token] -= 1
                reference_counts[token] -= 1
    return _f_measure(hits / prediction_total, hits / reference_total)


def rouge_score_lcs(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> dict[str, np.ndarray]:
    """Per-sample rougeL and rougeLsum F-measures as rouge_score gives them (best F over a sample's references).

    Equal to `evaluate`'s rouge with `use_aggregator=False` (default tokenizer, no stemmer). rougeLsum splits texts
    on newlines; without a newline on either side it equals rougeL.
    """
    predictions, references = normalize_caption_inputs(predictions, references)
    rouge_l = np.zeros(len(predictions), dtype=np.float64)
    rouge_lsum = np.zeros(len(predictions), dtype=np.float64)
    for sample, (prediction, sample_references) in enumerate(zip(predictions, references, strict=True)):
        prediction_tokens = rouge_score_tokenize(prediction)
        prediction_masks = _position_masks(prediction_tokens)
        best_l = best_lsum = 0.0
        for reference in sample_references:
            score = _rouge_l_f(rouge_score_tokenize(reference), prediction_tokens, prediction_masks)
            best_l = max(best_l, score)
            if "\n" in prediction or "\n" in reference:
                score = _rouge_lsum_f(reference, prediction)
            best_lsum = max(best_lsum, score)
        rouge_l[sample], rouge_lsum[sample] = best_l, best_lsum
    return {"rougeL": rouge_l, "rougeLsum": rouge_lsum}


__all__ = ["coco_rouge_l", "lcs_length", "rouge_score_lcs", "rouge_score_tokenize"]
