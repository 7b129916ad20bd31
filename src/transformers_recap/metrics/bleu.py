# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""BLEU as the COCO caption code computes it (whitespace tokens, "closest" reference length, its smoothing)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .inputs import normalize_caption_inputs
from .ngrams import NGramTable


# Constants of the COCO caption BLEU: `_TINY` is added to matches, `_SMALL` to guesses and reference lengths.
_TINY = 1e-15
_SMALL = 1e-9


def coco_bleu(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], max_order: int = 4
) -> tuple[list[float], np.ndarray]:
    """Corpus BLEU-1..`max_order` and the per-sample values (`[num_samples, max_order]`), on whitespace tokens."""
    predictions, references = normalize_caption_inputs(predictions, references)
    table = NGramTable.from_tokens(
        [prediction.split() for prediction in predictions],
        [[reference.split() for reference in sample_references] for sample_references in references],
        max_order,
    )
    return bleu_from_table(table)


def bleu_from_table(table: NGramTable) -> tuple[list[float], np.ndarray]:
    """BLEU from an `NGramTable`: clipped n-gram matches against the per-sample maximum reference counts."""
    num_samples, max_order = table.num_samples, table.max_order

    # Largest count of each n-gram over the references of a sample, looked up for the prediction's n-grams.
    reference_keys, inverse = np.unique(table.reference_keys(), return_inverse=True)
    max_counts = np.zeros(len(reference_keys), dtype=np.int64)
    np.maximum.at(max_counts, inverse, table.reference_count)
    prediction_keys = table.prediction_keys()
    clipped = np.zeros(len(prediction_keys), dtype=np.float64)
    if len(reference_keys):
        index = np.minimum(np.searchsorted(reference_keys, prediction_keys), len(reference_keys) - 1)
        found = reference_keys[index] == prediction_keys
        clipped[found] = np.minimum(table.prediction_count[found], max_counts[index[found]])
    correct = np.bincount(
        table.prediction_sample * max_order + table.prediction_order - 1,
        weights=clipped,
        minlength=num_samples * max_order,
    ).reshape(num_samples, max_order)
    orders = np.arange(1, max_order + 1)
    test_lengths = table.prediction_lengths
    guess = np.maximum(test_lengths[:, None] - orders[None, :] + 1, 0)

    # "closest" effective reference length: smallest |ref - test| gap, the shorter reference on ties.
    scale = int(table.reference_lengths.max(initial=0)) + 1
    gaps = np.abs(table.reference_lengths - test_lengths[table.reference_sample]) * scale + table.reference_lengths
    first_reference = np.cumsum(table.references_per_sample) - table.references_per_sample
    reference_lengths = np.minimum.reduceat(gaps, first_reference) % scale

    precisions = (correct + _TINY) / (guess + _SMALL)
    per_sample = np.cumprod(precisions, axis=1) ** (1.0 / orders)
    ratio = (test_lengths + _TINY) / (reference_lengths + _SMALL)
    short = ratio < 1
    per_sample[short] *= np.exp(1 - 1 / ratio[short])[:, None]

    total_test, total_reference = int(test_lengths.sum()), int(reference_lengths.sum())
    corpus, running = [], 1.0
    for order in range(max_order):
        running *= float(correct[:, order].sum() + _TINY) / (int(guess[:, order].sum()) + _SMALL)
        corpus.append(running ** (1.0 / (order + 1)))
    corpus_ratio = (total_test + _TINY) / (total_reference + _SMALL)
    if corpus_ratio < 1:
        corpus = [value * math.exp(1 - 1 / corpus_ratio) for value in corpus]
    return corpus, per_sample


__all__ = ["bleu_from_table", "coco_bleu"]
