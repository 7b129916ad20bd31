# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Self-supervised text pretraining of a teacher built from a config, before its fine-tuning: BART-style text infilling
(Lewis et al., 2020) on the caption text the recipe already has.

A teacher trained from scratch on a few hundred video summaries does not learn to copy the objects of ten segment
descriptions in order, which a pretrained FLAN-T5 (the paper's teacher) already does. Denoising teaches exactly that
skill on text that is plentiful even when the high-level annotations are scarce:

- **corpus**: the distinct sentences of the training split's clip captions (of every video, narration-only ones
  included), segment descriptions and video summaries, each cleaned as a prompt caption (`pairs.clean_caption`);
- **example**: `min_sentences` to `max_sentences` sentences drawn at random from the whole corpus (across videos, so
  the number of distinct examples is combinatorially large), joined as a prompt body (`"s1. s2. s3."`);
- **corruption**: spans of words, of Poisson(`mean_span`) lengths (at least 1), are each replaced by one mask token
  until `mask_ratio` of the words are masked; the encoder reads `prefix + corrupted text`, the decoder writes the
  whole original text.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from transformers.utils import logging

from .modeling import encode_prompt, encode_target, make_teacher_dataset
from .options import PretrainingOptions
from .pairs import AnnotationSplit, clean_caption


logger = logging.get_logger(__name__)

MASK_TOKEN = "<mask>"


def pretraining_corpus(data: AnnotationSplit, sources: Sequence[str]) -> list[str]:
    """
    The distinct cleaned, non-empty sentences of `sources` (`clip_captions`, `segment_descriptions`,
    `video_summaries`), in order of first appearance.
    """
    texts = []
    if "clip_captions" in sources:
        texts.extend(clip.text for vid in sorted(data.clips) for clip in data.clips[vid].clips)
    if "segment_descriptions" in sources:
        texts.extend(row["text"] for row in data.segments)
    if "video_summaries" in sources:
        texts.extend(row["text"] for row in data.videos)
    return [text for text in dict.fromkeys(map(clean_caption, texts)) if text]


def sample_mask_spans(
    num_words: int, mask_ratio: float, mean_span: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """
    Non-overlapping, non-adjacent `(start, end)` word spans, sorted, covering `round(mask_ratio * num_words)` words
    (at least one when `mask_ratio > 0`), with lengths drawn from Poisson(`mean_span`) (at least 1) and clipped to
    what is left to mask. A span that would touch an earlier one is redrawn, at most `4 * num_words` draws in all,
    so a dense request may cover a few words less.
    """
    budget = int(round(mask_ratio * num_words))
    if mask_ratio > 0:
        budget = max(budget, 1)
    budget = min(budget, num_words)
    masked = np.zeros(num_words, dtype=bool)
    remaining = budget
    for _ in range(4 * num_words):
        if remaining <= 0:
            break
        length = int(min(max(rng.poisson(mean_span), 1), remaining))
        start = int(rng.integers(0, num_words - length + 1))
        # A span may not touch another (two adjacent spans would read as one mask).
        if masked[max(start - 1, 0) : start + length + 1].any():
            continue
        masked[start : start + length] = True
        remaining -= length
    spans, start = [], None
    for index, value in enumerate(np.append(masked, False)):
        if value and start is None:
            start = index
        elif not value and start is not None:
            spans.append((start, index))
            start = None
    return spans


def mask_spans(words: Sequence[str], spans: Sequence[tuple[int, int]], mask_token: str = MASK_TOKEN) -> str:
    """`words` joined by spaces with every `(start, end)` span replaced by one `mask_token`."""
    output, position = [], 0
    for start, end in sorted(spans):
        output.extend(words[position:start])
        output.append(mask_token)
        position = end
    output.extend(words[position:])
    return " ".join(output)


def denoising_examples(
    corpus: Sequence[str], options: PretrainingOptions, seed: int, mask_token: str = MASK_TOKEN
) -> list[tuple[str, str]]:
    """`options.num_examples` `(corrupted text, original text)` pairs (see the module docstring), seeded."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(options.num_examples):
        count = int(rng.integers(options.min_sentences, options.max_sentences + 1))
        chosen = rng.integers(0, len(corpus), size=count)
        text = ". ".join(corpus[index] for index in chosen) + "."
        words = text.split()
        spans = sample_mask_spans(len(words), options.mask_ratio, options.mean_span, rng)
        examples.append((options.prefix + mask_spans(words, spans, mask_token), text))
    return examples


def pretraining_dataset(data: AnnotationSplit, options: PretrainingOptions, tokenizer, causal: bool, seed: int):
    """The tokenised denoising pairs of `data`'s corpus, a [`make_teacher_dataset`] dataset."""
    corpus = pretraining_corpus(data, options.sources)
    if not corpus:
        raise ValueError(f"The pretraining corpus ({', '.join(options.sources)}) is empty.")
    mask_token = tokenizer.mask_token or MASK_TOKEN
    prompts, targets = [], []
    for corrupted, original in denoising_examples(corpus, options, seed, mask_token):
        prompts.append(encode_prompt(tokenizer, (corrupted, ""), options.max_input_tokens, causal))
        targets.append(encode_target(tokenizer, original, options.max_target_tokens, causal))
    logger.info(f"Pretraining: {len(prompts)} denoising examples from {len(corpus)} sentences.")
    return make_teacher_dataset(prompts, targets)


def pretrained_dir(output_dir: str | os.PathLike, group: str) -> Path:
    """Where the pretrained (not yet fine-tuned) teacher of `group` is kept, so a rerun skips pretraining."""
    return Path(output_dir) / "pretrained" / group


__all__ = [
    "MASK_TOKEN",
    "denoising_examples",
    "mask_spans",
    "pretrained_dir",
    "pretraining_corpus",
    "pretraining_dataset",
    "sample_mask_spans",
]
