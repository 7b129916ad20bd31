# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Collator that turns Ego4D-HCap examples of one level into Video ReCap inputs."""

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from safetensors import safe_open

from ..data.ego4d_hcap import read_feature_file


CLS_FEATURES_KEY = "cls"
"""Tensor name of the per-clip CLS features in the safetensors files written by `examples/extract_features.py`."""

CLIP_INDEX_KEY = "clip_index"
"""Tensor name of the grid position of each CLS row's clip window (`(num_clips,)` int64; rows are missing where the
video has gaps in its frames). Files without it have one row per `clip_seconds` window from 0."""


def read_clip_index(path: str) -> np.ndarray | None:
    """The [`CLIP_INDEX_KEY`] tensor of a `.safetensors` feature file, `None` when it has none (or is `.npy`)."""
    if not path.endswith(".safetensors"):
        return None
    with safe_open(path, framework="np") as file:
        return file.get_tensor(CLIP_INDEX_KEY) if CLIP_INDEX_KEY in file.keys() else None


class VideoReCapDataCollator:
    """
    Batches examples of ONE level (items of a [`MultiLevelDataset`], carrying `"level"`) with a
    [`VideoReCapProcessor`]:

    - clip: reads the clip's frames (`video_path`, `start_sec`, `end_sec`) with `clip_reader` -> `pixel_values_videos`;
    - segment: the CLS rows of the segment from `features_path` + the clip captions inside it;
    - video: the CLS rows of the video + its segment descriptions;

    and the targets (`text`) -> `input_ids`, `attention_mask`, `labels`. Lower-level inputs are the model-predicted
    ones (`clip_captions_pred` / `segment_descriptions_pred`) as in the original recipe, or the ground truth with
    `use_ground_truth_inputs=True`. A level whose processor settings take no video features (or no text) gets no
    video (or text) input, for the text-only (video-only) ablations.

    Args:
        processor ([`VideoReCapProcessor`]): builds the tensors; its window rules and `input_settings` decide which
            CLS rows a window gets and how features are sampled and captions packed.
        clip_reader (`Callable[[str, float, float], np.ndarray]`, *optional*): `(video_path, start, end)` ->
            `(num_frames, height, width, 3)` uint8 frames; needed for the clip level.
        level_max_new_tokens (`Mapping[str, int]`, *optional*): the generation budget of each level
            (`generation_config.level_max_new_tokens`); targets are cut to fit it.
        use_ground_truth_inputs (`bool`): feed ground-truth lower-level captions instead of predicted ones.
    """

    def __init__(
        self,
        processor,
        clip_reader: Callable[[str, float, float], np.ndarray] | None = None,
        level_max_new_tokens: Mapping[str, int] | None = None,
        use_ground_truth_inputs: bool = False,
    ):
        self.processor = processor
        self.clip_reader = clip_reader
        self.level_max_new_tokens = dict(level_max_new_tokens or {})
        self.use_ground_truth_inputs = use_ground_truth_inputs

    def _window_features(self, example: dict) -> np.ndarray:
        path = example.get("features_path")
        if not path:
            raise ValueError(
                f"Example of video {example.get('video_uid')!r} has no features_path: the {example['level']} level "
                "trains from precomputed CLS features (run the extraction first or set features_dir)."
            )
        features = read_feature_file(path, key=CLS_FEATURES_KEY if path.endswith(".safetensors") else None)
        if example.get("features_scope") == "segment" or example.get("end_sec") is None:
            return features  # a per-segment file of the original release, or a whole-video summary record
        clip_index = read_clip_index(path)
        rows = self.processor.window_video_features(features, example["start_sec"], example["end_sec"], clip_index)
        if len(rows) == 0:
            raise ValueError(
                f"{path}: the window [{example['start_sec']:g}, {example['end_sec']:g}] s of video "
                f"{example.get('video_uid')!r} has no CLS features (its frames are missing there)."
            )
        return rows

    def _context(self, example: dict) -> Sequence[str]:
        suffix = "gt" if self.use_ground_truth_inputs else "pred"
        field = f"clip_captions_{suffix}" if example["level"] == "segment" else f"segment_descriptions_{suffix}"
        return example[field]

    def __call__(self, examples: Sequence[dict]) -> dict:
        levels = {example["level"] for example in examples}
        if len(levels) != 1:
            raise ValueError(f"A batch must hold one level; got {sorted(levels)}.")
        level = levels.pop()
        settings = self.processor.get_input_settings(level)
        inputs = {"text": [example["text"] for example in examples]}
        if level == "clip":
            if self.clip_reader is None:
                raise ValueError("The clip level needs a clip_reader to decode frames.")
            inputs["videos"] = [
                self.clip_reader(example["video_path"], example["start_sec"], example["end_sec"])
                for example in examples
            ]
        else:
            if settings.takes_video_features:
                inputs["video_features"] = [self._window_features(example) for example in examples]
            if settings.takes_context:
                inputs["context"] = [self._context(example) for example in examples]
        batch = dict(self.processor(level=level, max_new_tokens=self.level_max_new_tokens.get(level), **inputs))
        batch["level"] = level
        return batch


__all__ = ["CLIP_INDEX_KEY", "CLS_FEATURES_KEY", "VideoReCapDataCollator", "read_clip_index"]
