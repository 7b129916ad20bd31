# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""CIDEr-D as the COCO caption code computes it, vectorised with numpy.

Document frequencies come from the references of the scored corpus itself; each n-gram order gets a clipped tf-idf
cosine similarity with a Gaussian penalty on the length gap, averaged over orders and references, times 10.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .inputs import normalize_caption_inputs
from .ngrams import NGramTable, sorted_unique


def cider_d(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    max_order: int = 4,
    sigma: float = 6.0,
) -> tuple[float, np.ndarray]:
    """Corpus CIDEr-D and the per-sample scores (`[num_samples]`), on whitespace tokens."""
    predictions, references = normalize_caption_inputs(predictions, references)
    table = NGramTable.from_tokens(
        [prediction.split() for prediction in predictions],
        [[reference.split() for reference in sample_references] for sample_references in references],
        max_order,
    )
    return cider_from_table(table, sigma=sigma)


def cider_from_table(table: NGramTable, sigma: float = 6.0) -> tuple[float, np.ndarray]:
    """CIDEr-D from an `NGramTable`."""
    num_samples, max_order = table.num_samples, table.max_order

    # Document frequency: the number of samples whose references contain the n-gram (at least 1 in the idf).
    sample_ngrams = sorted_unique(table.reference_keys()) % table.num_ngrams
    document_frequency = np.bincount(sample_ngrams, minlength=table.num_ngrams).astype(np.float64)
    idf = np.log(float(num_samples)) - np.log(np.maximum(document_frequency, 1.0))
    prediction_weights = table.prediction_count * idf[table.prediction_ngram]
    reference_weights = table.reference_count * idf[table.reference_ngram]

    prediction_norms = _norms(
        table.prediction_sample, table.prediction_order, prediction_weights, num_samples, max_order
    )
    reference_norms = _norms(
        table.reference_index, table.reference_order, reference_weights, table.num_references, max_order
    )

    # Clipped dot product, summed over the n-grams a reference shares with its sample's prediction.
    found, index = table.match_prediction(table.reference_keys())
    shared = np.minimum(prediction_weights[index[found]], reference_weights[found]) * reference_weights[found]
    similarity = np.bincount(
        table.reference_index[found] * max_order + table.reference_order[found] - 1,
        weights=shared,
        minlength=table.num_references * max_order,
    )
    # bincount of nothing is an integer array.
    similarity = similarity.astype(np.float64).reshape(table.num_references, max_order)
    norm_products = prediction_norms[table.reference_sample] * reference_norms
    nonzero = (prediction_norms[table.reference_sample] != 0) & (reference_norms != 0)
    similarity[nonzero] /= norm_products[nonzero]

    # The length gap counts bigram positions, as the COCO code does.
    prediction_bigrams = np.maximum(table.prediction_lengths - 1, 0)
    reference_bigrams = np.maximum(table.reference_lengths - 1, 0)
    delta = (prediction_bigrams[table.reference_sample] - reference_bigrams).astype(np.float64)
    similarity *= np.power(np.e, -(delta**2) / (2 * sigma**2))[:, None]

    per_order = np.zeros((num_samples, max_order), dtype=np.float64)
    np.add.at(per_order, table.reference_sample, similarity)
    per_sample = per_order.mean(axis=1) / table.references_per_sample * 10.0
    return float(np.mean(per_sample)), per_sample


def _norms(
    documents: np.ndarray, orders: np.ndarray, weights: np.ndarray, num_documents: int, max_order: int
) -> np.ndarray:
    squares = np.bincount(documents * max_order + orders - 1, weights=weights**2, minlength=num_documents * max_order)
    return np.sqrt(squares).reshape(num_documents, max_order)


__all__ = ["cider_d", "cider_from_table"]
