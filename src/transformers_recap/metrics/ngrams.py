# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Vectorised n-gram counts of a scored corpus, shared by BLEU and CIDEr-D."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np


@dataclass(frozen=True)
class NGramTable:
    """Whitespace n-gram counts (orders 1..`max_order`) of predictions and their references, with shared n-gram ids.

    Entries are one row per (document, n-gram) with its count. Prediction entries are sorted by their key
    `sample * num_ngrams + ngram` (`prediction_keys`), so `match_prediction` finds, for each reference entry, the same
    n-gram in its sample's prediction with `np.searchsorted`.
    """

    max_order: int
    num_ngrams: int
    prediction_lengths: np.ndarray  # [num_samples] token counts
    reference_lengths: np.ndarray  # [num_references] token counts
    reference_sample: np.ndarray  # [num_references] sample index of each reference (non-decreasing)
    prediction_sample: np.ndarray  # [num_prediction_entries]
    prediction_ngram: np.ndarray
    prediction_order: np.ndarray  # 1..max_order
    prediction_count: np.ndarray
    reference_index: np.ndarray  # [num_reference_entries] index into the flat list of references
    reference_ngram: np.ndarray
    reference_order: np.ndarray
    reference_count: np.ndarray

    @property
    def num_samples(self) -> int:
        return len(self.prediction_lengths)

    @property
    def num_references(self) -> int:
        return len(self.reference_lengths)

    @property
    def references_per_sample(self) -> np.ndarray:
        return np.bincount(self.reference_sample, minlength=self.num_samples)

    def prediction_keys(self) -> np.ndarray:
        return self.prediction_sample * self.num_ngrams + self.prediction_ngram

    def reference_keys(self) -> np.ndarray:
        return self.reference_sample[self.reference_index] * self.num_ngrams + self.reference_ngram

    def match_prediction(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For sample keys, returns (found mask, index of the matching prediction entry, valid where found)."""
        prediction_keys = self.prediction_keys()
        if len(prediction_keys) == 0:
            return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
        index = np.minimum(np.searchsorted(prediction_keys, keys), len(prediction_keys) - 1)
        return prediction_keys[index] == keys, index

    @classmethod
    def from_tokens(
        cls, predictions: list[list[str]], references: list[list[list[str]]], max_order: int = 4
    ) -> NGramTable:
        """Builds the table from tokenised predictions and, per sample, a non-empty list of tokenised references."""
        documents = list(predictions)
        reference_sample = []
        for sample, sample_references in enumerate(references):
            documents.extend(sample_references)
            reference_sample.extend([sample] * len(sample_references))
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        tokens = list(chain.from_iterable(documents))
        vocabulary = {word: index for index, word in enumerate(dict.fromkeys(tokens))}
        words = np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        document_of_token = np.repeat(np.arange(len(documents), dtype=np.int64), lengths)
        starts = np.cumsum(lengths) - lengths
        remaining = lengths[document_of_token] - (np.arange(len(words), dtype=np.int64) - starts[document_of_token])

        # The n-gram of order k starting at token t gets an id from (id of its (k-1)-gram at t, word t+k-1).
        num_words = len(vocabulary)
        gram_ids = words
        sizes = []
        entry_documents, entry_ngrams = [], []
        for order in range(1, max_order + 1):
            valid = remaining >= order
            if order == 1:
                sizes.append(num_words)
            else:
                positions = np.flatnonzero(valid)
                keys = gram_ids[positions] * max(num_words, 1) + words[positions + order - 1]
                gram_ids = np.full(len(words), -1, dtype=np.int64)
                unique_keys, gram_ids[positions] = np.unique(keys, return_inverse=True)
                sizes.append(len(unique_keys))
            entry_documents.append(document_of_token[valid])
            entry_ngrams.append(gram_ids[valid] + sum(sizes[:-1]))
        order_of_ngram = np.repeat(np.arange(1, max_order + 1, dtype=np.int64), sizes)
        num_ngrams = max(len(order_of_ngram), 1)

        keys, counts = np.unique(
            np.concatenate(entry_documents) * num_ngrams + np.concatenate(entry_ngrams), return_counts=True
        )
        entry_document, entry_ngram = np.divmod(keys, num_ngrams)
        entry_order = order_of_ngram[entry_ngram]
        is_prediction = entry_document < len(predictions)
        is_reference = ~is_prediction
        return cls(
            max_order=max_order,
            num_ngrams=num_ngrams,
            prediction_lengths=lengths[: len(predictions)],
            reference_lengths=lengths[len(predictions) :],
            reference_sample=np.asarray(reference_sample, dtype=np.int64),
            prediction_sample=entry_document[is_prediction],
            prediction_ngram=entry_ngram[is_prediction],
            prediction_order=entry_order[is_prediction],
            prediction_count=counts[is_prediction],
            reference_index=entry_document[is_reference] - len(predictions),
            reference_ngram=entry_ngram[is_reference],
            reference_order=entry_order[is_reference],
            reference_count=counts[is_reference],
        )


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (by sorting: numpy 2.4's default `np.unique` path is many times slower here)."""
    values = np.sort(values)
    if len(values) == 0:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


__all__ = ["NGramTable", "sorted_unique"]
