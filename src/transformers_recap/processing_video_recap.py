# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Processor of Video ReCap: clip frames, CLS features, previous-level captions and target captions to model inputs."""

from collections.abc import Sequence

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .configuration_video_recap import VideoReCapConfig, VideoReCapLevelSettings, validate_level


def pack_context(captions: Sequence[str], separator: str) -> str:
    """
    Joins the previous level's captions into the text the next level was trained on (original `datasets.py`):

    - `separator == ""` (segment level): the clip captions concatenated as they are, e.g. `"#C C picks a cup#C C ..."`;
    - otherwise (video level, `". "`): each description stripped of surrounding periods, then spaces, followed by the
      separator; the result stripped: `"desc one. desc two."`.
    """
    if not separator:
        return "".join(captions)
    return "".join(caption.strip(".").strip() + separator for caption in captions).strip()


def sample_features(features: np.ndarray, num_features: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """
    Samples `(num_rows, width)` per-clip CLS features to exactly `num_features` rows, as the original
    `sample_features` does.

    - `"uniform"`: rows at the integer parts of `arange(0, n, n / (num_features + 1))[1:]` (evenly spaced, the first
      dropped; rows repeat when there are fewer than `num_features`); the mask is all ones.
    - `"masking"`: with more rows than `num_features`, the `"uniform"` rows; otherwise all rows followed by zero rows,
      with a mask marking the real ones.

    The original keeps every index `arange` produces for `"uniform"`; we cut to `num_features` so that a rounding
    edge case (an `arange` one element longer) cannot change the shape.

    Returns:
        The sampled features `(num_features, width)` (float32) and the mask `(num_features,)` (int64).
    """
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"CLS features must have shape (num_clips >= 1, width); got {features.shape}.")
    num_rows = features.shape[0]
    mask = np.ones(num_features, dtype=np.int64)
    if method == "uniform" or (method == "masking" and num_rows > num_features):
        step = num_rows / (num_features + 1)
        indices = np.arange(0, num_rows, step).astype(int)[1:][:num_features]
        return features[indices], mask
    if method == "masking":
        padding = np.zeros((num_features - num_rows, features.shape[1]), dtype=np.float32)
        mask[num_rows:] = 0
        return np.concatenate([features, padding], axis=0), mask
    raise ValueError(f"Unknown feature sampling method {method!r}; expected 'masking' or 'uniform'.")


class VideoReCapProcessor(ProcessorMixin):
    r"""
    Builds Video ReCap inputs for each level from a [`VideoReCapVideoProcessor`] and a GPT-2 tokenizer.

    - clip level: `videos` (clips of sampled RGB frames) -> `pixel_values_videos`;
    - segment/video level: `video_features` (the per-clip CLS features of each window) -> `video_features` and
      `video_features_mask` sampled as the level was trained; `context` (the previous level's captions) ->
      `context_input_ids` / `context_attention_mask`, joined as the level was trained (see [`pack_context`]);
    - training targets: `text` -> `input_ids` = `<|endoftext|>` caption `<|endoftext|>`, `attention_mask` and `labels`
      (-100 on padding).

    Args:
        video_processor ([`VideoReCapVideoProcessor`]): frames to pixel values.
        tokenizer (GPT-2 tokenizer): its `<|endoftext|>` is BOS, EOS and (if none is set) the padding token.
        level_settings (`dict`, *optional*): per-level settings as in [`VideoReCapConfig`] (feature counts and
            sampling, context separator and length, caption length); defaults to the released model's.
    """

    def __init__(self, video_processor=None, tokenizer=None, level_settings: dict | None = None, **kwargs):
        if tokenizer is not None and tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.level_settings = VideoReCapConfig._merge_level_settings(level_settings)
        super().__init__(video_processor, tokenizer, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        return [
            "pixel_values_videos",
            "video_features",
            "video_features_mask",
            "context_input_ids",
            "context_attention_mask",
            "input_ids",
            "attention_mask",
        ]

    def get_level_settings(self, level: str) -> VideoReCapLevelSettings:
        return VideoReCapLevelSettings(**self.level_settings[validate_level(level)])

    def __call__(
        self,
        videos=None,
        text: str | list[str] | None = None,
        context: Sequence[str | Sequence[str]] | None = None,
        video_features: Sequence[np.ndarray | torch.Tensor] | np.ndarray | torch.Tensor | None = None,
        level: str = "clip",
        return_tensors: str | None = "pt",
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            videos: a clip `(num_frames, height, width, 3)` or a list of clips (uint8 RGB frames; numpy or torch).
            text (`str` or `list[str]`, *optional*): target captions, for training.
            context (`list`, *optional*): per sample, the previous level's captions (a list of strings, joined as the
                level expects) or an already joined string.
            video_features (*optional*): per sample, the CLS features `(num_clips, width)` of the window.
            level (`str`): `"clip"`, `"segment"` or `"video"`.
            return_tensors (`str`, *optional*, defaults to `"pt"`)
            kwargs: passed to the video processor.
        Returns:
            `BatchFeature` with the keys the inputs call for (see the class docstring).
        """
        self.get_level_settings(level)
        if videos is None and text is None and context is None and video_features is None:
            raise ValueError("Nothing to process: give videos, video_features, context and/or text.")
        data = {}
        if videos is not None:
            if level != "clip":
                raise ValueError(
                    f"videos (frames) are the clip-level input; the {level} level takes video_features (CLS features "
                    "of its clips) and context (the previous level's captions)."
                )
            data.update(self.video_processor(videos, return_tensors="pt", **kwargs))
        if video_features is not None:
            data.update(self.prepare_video_features(video_features, level))
        if context is not None:
            data.update(self.prepare_context(context, level))
        if text is not None:
            data.update(self.prepare_targets(text, level))
        return BatchFeature(data=data, tensor_type=return_tensors)

    def prepare_video_features(self, video_features, level: str) -> dict[str, torch.Tensor]:
        """Samples each window's CLS features `(num_clips, width)` to the level's feature count."""
        settings = self.get_level_settings(level)
        if settings.num_video_features is None:
            raise ValueError(f"The {level} level takes frames, not CLS features.")
        if isinstance(video_features, (np.ndarray, torch.Tensor)) and video_features.ndim == 2:
            video_features = [video_features]
        sampled, masks = [], []
        for index, features in enumerate(video_features):
            if isinstance(features, torch.Tensor):
                features = features.detach().float().cpu().numpy()
            try:
                rows, mask = sample_features(features, settings.num_video_features, settings.feature_sampling)
            except ValueError as error:
                raise ValueError(f"video_features[{index}]: {error}") from None
            sampled.append(rows)
            masks.append(mask)
        return {
            "video_features": torch.from_numpy(np.stack(sampled)),
            "video_features_mask": torch.from_numpy(np.stack(masks)),
        }

    def pack_context(self, captions: Sequence[str], level: str) -> str:
        """Joins one window's previous-level captions as `level` was trained (see [`pack_context`])."""
        settings = self.get_level_settings(level)
        if settings.context_separator is None:
            raise ValueError(f"The {level} level takes no previous-level text.")
        return pack_context(captions, settings.context_separator)

    def prepare_context(self, context: Sequence[str | Sequence[str]], level: str) -> dict[str, torch.Tensor]:
        """Tokenises each sample's previous-level text (no special tokens, right padding, max_context_tokens)."""
        settings = self.get_level_settings(level)
        if isinstance(context, str):
            raise TypeError("context must be a list with one entry per sample (a list of captions or a string).")
        texts = []
        for index, item in enumerate(context):
            if not isinstance(item, str):
                if not all(isinstance(caption, str) for caption in item):
                    raise TypeError(f"context[{index}] must be a string or a list of strings.")
                item = self.pack_context(item, level)
            if not item.strip():
                raise ValueError(
                    f"context[{index}] is empty: the {level} level needs at least one previous-level caption."
                )
            texts.append(item)
        encoding = self.tokenizer(
            texts,
            add_special_tokens=False,
            padding="longest",
            truncation=True,
            max_length=settings.max_context_tokens,
            return_tensors="pt",
        )
        return {"context_input_ids": encoding["input_ids"], "context_attention_mask": encoding["attention_mask"]}

    def prepare_targets(self, text: str | Sequence[str], level: str) -> dict[str, torch.Tensor]:
        """
        Target captions as `<|endoftext|> caption <|endoftext|>` (captions used as stored, at most
        `max_new_tokens - 1` tokens so that the caption and its EOS fit the generation budget), right-padded.
        Returns `input_ids`, `attention_mask` and `labels` (-100 on padding).
        """
        settings = self.get_level_settings(level)
        if isinstance(text, str):
            text = [text]
        if not all(isinstance(caption, str) for caption in text):
            raise TypeError("text must be a string or a list of strings.")
        bos, eos, pad = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        tokenized = self.tokenizer(list(text), add_special_tokens=False)["input_ids"]
        sequences = [[bos] + tokens[: settings.max_new_tokens - 1] + [eos] for tokens in tokenized]
        length = max(len(sequence) for sequence in sequences)
        input_ids = torch.full((len(sequences), length), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), length), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, : len(sequence)] = torch.tensor(sequence)
            attention_mask[row, : len(sequence)] = 1
        labels = input_ids.masked_fill(attention_mask == 0, -100)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        """
        Decodes generated sequences into clean captions: leading BOS tokens are dropped, each row is cut at its first
        EOS, and the text is stripped (tokenisation spaces cleaned, as the original's transformers did by default).
        """
        if isinstance(sequences, torch.Tensor):
            sequences = sequences.tolist()
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        # The original's transformers (4.x) cleaned tokenisation spaces (" ." -> ".") by default, and its captions
        # were scored after that; transformers 5 ignores the flag for BPE tokenizers, so the cleanup is applied here.
        clean_up = kwargs.pop("clean_up_tokenization_spaces", True)
        kwargs["clean_up_tokenization_spaces"] = False
        captions = []
        for ids in sequences:
            ids = list(ids)
            start = 0
            while start < len(ids) and ids[start] == bos:
                start += 1
            end = ids.index(eos, start) if eos in ids[start:] else len(ids)
            text = self.tokenizer.decode(ids[start:end], skip_special_tokens=skip_special_tokens, **kwargs)
            if clean_up:
                text = self.tokenizer.clean_up_tokenization(text)
            captions.append(text.strip())
        return captions

    def decode(self, sequence, **kwargs) -> str:
        """Decodes one generated sequence (see [`batch_decode`])."""
        return self.batch_decode([sequence], **kwargs)[0]


__all__ = ["VideoReCapProcessor", "pack_context", "sample_features"]
