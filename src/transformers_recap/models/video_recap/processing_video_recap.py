# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Processor of Video ReCap: clip frames, CLS features, previous-level captions and target captions to model inputs.

This module is the one home of the window rules: how a video is cut into windows ([`clip_windows`]), which CLS rows
([`window_feature_rows`]) and which lower-level captions ([`captions_in_window`]) a window gets, and how they are
sampled ([`sample_features`]) and packed ([`pack_context`]). The captioning engine, the training collator, the
curriculum's extraction and the evaluation all go through [`VideoReCapProcessor`].
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, Unpack

from .configuration_video_recap import LEVELS, VideoReCapConfig, merge_per_level, validate_level
from .video_processing_video_recap import VideoReCapVideoProcessorKwargs


FEATURE_SAMPLING_METHODS = ("masking", "uniform")

_TIME_EPSILON = 1e-6


@dataclass(frozen=True)
class VideoReCapInputSettings:
    r"""
    Preprocessing of one caption level.

    Args:
        num_video_features (`int`, *optional*):
            Number of per-clip CLS features the video input is sampled to (segment and video levels). `None` at the
            clip level, whose video input is the dense space-time token sequence of one clip, and at a level that
            reads no video features.
        feature_sampling (`str`, *optional*):
            How CLS features are sampled to `num_video_features`: `"masking"` (first rows, zero-padded with a mask,
            or evenly spaced rows when there are more) or `"uniform"` (evenly spaced rows, repeated when too few).
        max_context_tokens (`int`):
            Maximum GPT-2 tokens of previous-level text given to the text Q-Former (the original caps at 512).
        context_separator (`str`, *optional*):
            How previous-level captions are joined: `""` concatenates them as they are (segment level), a non-empty
            separator first strips surrounding periods and spaces of each caption (video level: `"d1. d2."`).
            `None`: the level reads no previous-level text.
        window_seconds (`float`, *optional*):
            Window length of the level when captioning a whole video (4 s clips, 180 s segments; the video level
            covers the whole video). The segment length must be a multiple of the clip length.
    """

    num_video_features: int | None
    feature_sampling: str | None
    max_context_tokens: int
    context_separator: str | None
    window_seconds: float | None

    @property
    def takes_video_features(self) -> bool:
        return self.num_video_features is not None

    @property
    def takes_context(self) -> bool:
        return self.context_separator is not None


DEFAULT_INPUT_SETTINGS = {
    # `scripts/run_videorecap_clip.sh`: the 785 dense tokens of one 4-frame, 4-s clip.
    "clip": {
        "num_video_features": None,
        "feature_sampling": None,
        "max_context_tokens": 0,
        "context_separator": None,
        "window_seconds": 4.0,
    },
    # `scripts/run_videorecap_segment.sh`: 80 CLS features ("masking", the parser default the script actually
    # stores), the concatenated clip captions.
    "segment": {
        "num_video_features": 80,
        "feature_sampling": "masking",
        "max_context_tokens": 512,
        "context_separator": "",
        "window_seconds": 180.0,
    },
    # `scripts/run_videorecap_video.sh`: 256 CLS features, the segment descriptions joined as sentences.
    "video": {
        "num_video_features": 256,
        "feature_sampling": "masking",
        "max_context_tokens": 512,
        "context_separator": ". ",
        "window_seconds": None,
    },
}


def merge_input_settings(input_settings: dict | None) -> dict:
    """Completes per-level overrides with the released model's values and validates them (errors name the field)."""
    merged = merge_per_level(input_settings, DEFAULT_INPUT_SETTINGS, VideoReCapInputSettings, "input_settings")
    for level, settings in merged.items():
        if settings["num_video_features"] is not None:
            if level == "clip":
                raise ValueError("input_settings['clip'] takes frames, so its num_video_features must be None.")
            if not isinstance(settings["num_video_features"], int) or settings["num_video_features"] < 1:
                raise ValueError(f"input_settings[{level!r}]['num_video_features'] must be a positive integer.")
            if settings["feature_sampling"] not in FEATURE_SAMPLING_METHODS:
                raise ValueError(
                    f"input_settings[{level!r}]['feature_sampling'] must be one of {FEATURE_SAMPLING_METHODS}, "
                    f"got {settings['feature_sampling']!r}."
                )
        if settings["context_separator"] is not None and level == "clip":
            raise ValueError("The clip level has no previous level, so input_settings['clip'] takes no context.")
        if settings["context_separator"] is not None and settings["max_context_tokens"] < 1:
            raise ValueError(f"input_settings[{level!r}]['max_context_tokens'] must be >= 1.")
        if level != "video" and not (settings["window_seconds"] or 0) > 0:
            raise ValueError(f"input_settings[{level!r}]['window_seconds'] must be a positive number.")
    clip_seconds, segment_seconds = merged["clip"]["window_seconds"], merged["segment"]["window_seconds"]
    check_window_lengths(clip_seconds, segment_seconds)
    return merged


def check_window_lengths(clip_seconds: float, segment_seconds: float) -> None:
    """
    Refuses a segment length that is not a whole number of clips: a clip straddling a segment boundary would belong
    to neither segment under the original's rule (a caption belongs to the windows it lies inside).
    """
    if clip_seconds <= 0 or segment_seconds <= 0:
        raise ValueError(
            f"Window lengths must be positive; got clip {clip_seconds} s and segment {segment_seconds} s."
        )
    clips_per_segment = segment_seconds / clip_seconds
    if clips_per_segment < 1 - _TIME_EPSILON or abs(clips_per_segment - round(clips_per_segment)) > 1e-6:
        raise ValueError(
            f"segment_seconds ({segment_seconds}) must be a whole multiple of clip_seconds ({clip_seconds}), so that "
            f"every clip lies inside one segment; e.g. {max(1, round(clips_per_segment)) * clip_seconds:g}."
        )


def clip_windows(duration: float, window_seconds: float) -> list[tuple[float, float]]:
    """
    Consecutive windows `[t, min(t + window_seconds, duration)]` for `t = 0, window_seconds, ... < duration`, as the
    original's recursive inference cuts a video; the last window is shorter when `duration` is not a multiple.
    """
    if window_seconds <= 0:
        raise ValueError(f"Window length must be positive, got {window_seconds}.")
    if duration <= 0:
        return []
    count = math.ceil(duration / window_seconds - 1e-9)
    return [(index * window_seconds, min((index + 1) * window_seconds, duration)) for index in range(count)]


def window_feature_rows(start: float, end: float, clip_seconds: float, num_rows: int) -> slice:
    """
    The rows of per-clip features (one per `clip_seconds` window from 0) the original gives the window
    `[start, end]`: `int(start / clip_seconds)` to `int(end // clip_seconds)` inclusive (one row past the window when
    `end` is a clip boundary), cut to the `num_rows` that exist. Never empty for `num_rows >= 1`.
    """
    first = min(int(start / clip_seconds), num_rows - 1)
    last = min(int(end // clip_seconds), num_rows - 1)
    return slice(first, max(last, first) + 1)


def window_feature_positions(start: float, end: float, clip_seconds: float, clip_index: Sequence[int]) -> np.ndarray:
    """
    [`window_feature_rows`] for features that lack rows: `clip_index` `(num_rows,)` (increasing) is the position of
    each row's clip window on the `clip_seconds` grid (a video with gaps in its frames has no row for the windows of
    a gap). Returns the indices of the rows whose position the window gets on the full grid (empty when all of them
    fall in a gap).
    """
    clip_index = np.asarray(clip_index, dtype=np.int64)
    if len(clip_index) == 0:
        return np.zeros(0, dtype=np.int64)
    grid = window_feature_rows(start, end, clip_seconds, int(clip_index[-1]) + 1)
    return np.flatnonzero((clip_index >= grid.start) & (clip_index < grid.stop))


def captions_in_window(captions: Sequence, start: float, end: float) -> list[str]:
    """
    Texts of the captions inside `[start, end]` (`caption.start >= start` and `caption.end <= end`, the original's
    rule), in time order. When none lies entirely inside (a window shorter than a clip), those overlapping it.
    """
    inside = [c.text for c in captions if c.start >= start - _TIME_EPSILON and c.end <= end + _TIME_EPSILON]
    if inside:
        return inside
    return [c.text for c in captions if c.start < end and c.end > start]


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


class VideoReCapProcessorKwargs(ProcessingKwargs, total=False):
    """Keywords of [`VideoReCapProcessor.__call__`]: `videos_kwargs` go to the video processor; of `text_kwargs`,
    `padding`, `max_length` and `truncation` shape the target captions."""

    videos_kwargs: VideoReCapVideoProcessorKwargs
    _defaults = {"text_kwargs": {"padding": "longest"}, "common_kwargs": {"return_tensors": "pt"}}


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
        input_settings (`dict`, *optional*): per-level overrides of [`VideoReCapInputSettings`] fields (feature
            counts and sampling, context separator and length, window seconds), keyed by level; missing fields take
            the released model's values.
    """

    valid_processor_kwargs = VideoReCapProcessorKwargs

    def __init__(self, video_processor=None, tokenizer=None, input_settings: dict | None = None, **kwargs):
        if tokenizer is not None and tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.input_settings = merge_input_settings(input_settings)
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

    def get_input_settings(self, level: str) -> VideoReCapInputSettings:
        """Returns the preprocessing of `level` (`"clip"`, `"segment"` or `"video"`)."""
        return VideoReCapInputSettings(**self.input_settings[validate_level(level)])

    @property
    def clip_seconds(self) -> float:
        """Length of a clip window in seconds (one CLS feature row per clip window from 0)."""
        return float(self.input_settings["clip"]["window_seconds"])

    @property
    def segment_seconds(self) -> float:
        """Length of a segment window in seconds."""
        return float(self.input_settings["segment"]["window_seconds"])

    def check_model_config(self, config: VideoReCapConfig) -> None:
        """
        Raises a `ValueError` naming both values when this processor's inputs disagree with the model `config`: a level
        gets video features exactly when it has video queries and previous-level text exactly when it has text
        queries, and clips have the encoder's frame count and size.
        """
        for level in LEVELS:
            architecture, inputs = config.get_level_settings(level), self.get_input_settings(level)
            if level != "clip" and bool(architecture.num_video_queries) != inputs.takes_video_features:
                raise ValueError(
                    f"The processor's input_settings[{level!r}]['num_video_features'] is "
                    f"{inputs.num_video_features}, but the model's level_settings[{level!r}]['num_video_queries'] is "
                    f"{architecture.num_video_queries}: a level reads CLS features exactly when it has video queries."
                )
            if bool(architecture.num_text_queries) != inputs.takes_context:
                raise ValueError(
                    f"The processor's input_settings[{level!r}]['context_separator'] is {inputs.context_separator!r}, "
                    f"but the model's level_settings[{level!r}]['num_text_queries'] is "
                    f"{architecture.num_text_queries}: a level reads previous-level text exactly when it has text "
                    "queries."
                )
        vision = config.vision_config
        if self.video_processor is not None:
            frames = getattr(self.video_processor, "num_frames", None)
            if frames is not None and frames > vision.num_frames:
                raise ValueError(
                    f"The video processor samples num_frames={frames}, but the model's vision_config.num_frames is "
                    f"{vision.num_frames}."
                )
            crop = (getattr(self.video_processor, "crop_size", None) or {}).get("height")
            if crop is not None and crop != vision.image_size:
                raise ValueError(
                    f"The video processor crops to {crop} px, but the model's vision_config.image_size is "
                    f"{vision.image_size}."
                )

    def window_video_features(self, cls_features, start: float, end: float, clip_index: Sequence[int] | None = None):
        """
        The CLS rows of `cls_features` `(num_clips, hidden_size)` that the window `[start, end]` gets: one row per
        `clip_seconds` window from 0, or, with `clip_index` `(num_clips,)`, the rows at those grid positions (see
        [`window_feature_positions`]).
        """
        if clip_index is None:
            return cls_features[window_feature_rows(start, end, self.clip_seconds, len(cls_features))]
        rows = window_feature_positions(start, end, self.clip_seconds, clip_index)
        if isinstance(cls_features, torch.Tensor):
            rows = torch.from_numpy(rows)
        return cls_features[rows]

    def window_context(self, captions: Sequence, start: float, end: float) -> list[str]:
        """The texts of the lower-level `captions` (with `start`, `end`, `text`) that the window gets."""
        return captions_in_window(captions, start, end)

    def __call__(
        self,
        videos=None,
        text: str | list[str] | None = None,
        context: Sequence[str | Sequence[str]] | None = None,
        video_features: Sequence[np.ndarray | torch.Tensor] | np.ndarray | torch.Tensor | None = None,
        level: str | None = None,
        max_new_tokens: int | None = None,
        **kwargs: Unpack[VideoReCapProcessorKwargs],
    ) -> BatchFeature:
        r"""
        Args:
            videos: a clip `(num_frames, height, width, 3)` or a list of clips (uint8 RGB frames; numpy or torch).
            text (`str` or `list[str]`, *optional*): target captions, for training.
            context (`list`, *optional*): per sample, the previous level's captions (a list of strings, joined as the
                level expects) or an already joined string.
            video_features (*optional*): per sample, the CLS features `(num_clips, width)` of the window.
            level (`str`, *optional*, defaults to `"clip"`): `"clip"`, `"segment"` or `"video"`.
            max_new_tokens (`int`, *optional*): the level's generation budget; target captions are cut to fit it.
            kwargs ([`VideoReCapProcessorKwargs`]): `return_tensors` (default `"pt"`), video processor keywords
                (flat or as `videos_kwargs`), and for the targets `padding` (`"longest"` or `"max_length"`),
                `max_length` and `truncation` (flat or as `text_kwargs`).
        Returns:
            `BatchFeature` with the keys the inputs call for (see the class docstring).
        """
        level = "clip" if level is None else level
        self.get_input_settings(level)
        if videos is None and text is None and context is None and video_features is None:
            raise ValueError("Nothing to process: give videos, video_features, context and/or text.")
        output_kwargs = self._merge_kwargs(
            VideoReCapProcessorKwargs, tokenizer_init_kwargs=self.tokenizer.init_kwargs, **kwargs
        )
        text_kwargs, videos_kwargs = output_kwargs["text_kwargs"], output_kwargs["videos_kwargs"]
        return_tensors = text_kwargs.pop("return_tensors", None)
        videos_kwargs["return_tensors"] = "pt"
        data = {}
        if videos is not None:
            if level != "clip":
                raise ValueError(
                    f"videos (frames) are the clip-level input; the {level} level takes video_features (CLS features "
                    "of its clips) and context (the previous level's captions)."
                )
            data.update(self.video_processor(videos, **videos_kwargs))
        if video_features is not None:
            data.update(self.prepare_video_features(video_features, level))
        if context is not None:
            data.update(self.prepare_context(context, level))
        if text is not None:
            data.update(
                self.prepare_targets(
                    text,
                    max_new_tokens,
                    padding=text_kwargs.get("padding"),
                    max_length=text_kwargs.get("max_length"),
                    truncation=text_kwargs.get("truncation"),
                )
            )
        return BatchFeature(data=data, tensor_type=return_tensors)

    def prepare_video_features(self, video_features, level: str) -> dict[str, torch.Tensor]:
        """Samples each window's CLS features `(num_clips, width)` to the level's feature count."""
        settings = self.get_input_settings(level)
        if settings.num_video_features is None:
            raise ValueError(f"The {level} level takes no CLS features.")
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
        settings = self.get_input_settings(level)
        if settings.context_separator is None:
            raise ValueError(f"The {level} level takes no previous-level text.")
        return pack_context(captions, settings.context_separator)

    def prepare_context(self, context: Sequence[str | Sequence[str]], level: str) -> dict[str, torch.Tensor]:
        """Tokenises each sample's previous-level text (no special tokens, right padding, max_context_tokens)."""
        settings = self.get_input_settings(level)
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

    def prepare_targets(
        self,
        text: str | Sequence[str],
        max_new_tokens: int | None = None,
        padding: bool | str | None = "longest",
        max_length: int | None = None,
        truncation: bool | str | None = None,
    ) -> dict[str, torch.Tensor]:
        """
        Target captions as `<|endoftext|> caption <|endoftext|>` (captions used as stored; with `max_new_tokens`, at
        most `max_new_tokens - 1` tokens so that the caption and its EOS fit the generation budget), right-padded to
        the longest (`padding="max_length"`: to `max_length`; with `truncation`, sequences are cut to `max_length`).
        Returns `input_ids`, `attention_mask` and `labels` (-100 on padding).
        """
        if isinstance(text, str):
            text = [text]
        if not all(isinstance(caption, str) for caption in text):
            raise TypeError("text must be a string or a list of strings.")
        bos, eos, pad = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        tokenized = self.tokenizer(list(text), add_special_tokens=False)["input_ids"]
        limit = max_new_tokens - 1 if max_new_tokens is not None else None
        sequences = [[bos] + tokens[:limit] + [eos] for tokens in tokenized]
        if truncation and max_length is not None:
            sequences = [sequence[:max_length] for sequence in sequences]
        length = max(len(sequence) for sequence in sequences)
        if padding == "max_length" and max_length is not None:
            length = max(length, max_length)
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


VideoReCapProcessor.register_for_auto_class("AutoProcessor")


__all__ = [
    "VideoReCapInputSettings",
    "VideoReCapProcessor",
    "captions_in_window",
    "check_window_lengths",
    "clip_windows",
    "pack_context",
    "sample_features",
    "window_feature_positions",
    "window_feature_rows",
]
