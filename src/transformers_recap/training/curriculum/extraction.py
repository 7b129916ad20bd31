# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The predicted lower-level inputs between stages (the original recipe). Before the segment stage the clip model
captions every clip of the training and validation videos (keeping their CLS features) and each segment annotation
gets the captions of its window as `captions_pred`; before the video stage the segment model describes every
segment window and each video annotation gets the descriptions of its window as `segment_descriptions_pred`.

Which captions a window gets is the processor's rule (`VideoReCapProcessor.window_context`: those inside the
window, else those overlapping it), the rule the engine applies at inference. The annotation records are read raw,
so every video uid goes through `data.ids.validate_uid` before it becomes a path.
"""

import json
import math
import os
import pickle
from pathlib import Path

import torch
from accelerate import PartialState
from transformers.utils import logging

from ...data.ego4d_hcap import read_annotation_file
from ...data.ids import validate_uid
from ...engine import HierarchicalCaptioner, TimedCaption
from ...models.video_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor
from ..extraction import describe_segments, extract_videos, read_extraction
from ..files import write_atomically
from .config import CurriculumConfig, CurriculumConfigError


logger = logging.get_logger(__name__)

_STEMS = {"segment": "segments", "video": "videos"}


def annotation_files(config: CurriculumConfig, level: str) -> dict[str, Path]:
    """Existing annotation files of `level` in `data.data_dir`: split name (train, val, train_pseudo) -> path."""
    data_dir, stem = config.data.data_dir, _STEMS[level]
    files = {}
    for split in ("train", "val", "train_pseudo"):
        for folder in (data_dir / "annotations", data_dir):
            for suffix in (".pkl", ".json"):
                path = folder / f"{stem}_{split}{suffix}"
                if path.is_file() and split not in files:
                    files[split] = path
    if "train" not in files:
        raise CurriculumConfigError(f"No {stem}_train annotation file in {data_dir} or its annotations/.")
    return files


def _check_seconds(record: dict, key: str, where: str, required: bool = True) -> None:
    value = record.get(key)
    if value is None:
        if required:
            raise CurriculumConfigError(f"{where}: missing field {key!r}.")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise CurriculumConfigError(f"{where}: {key} must be a finite non-negative number, got {value!r}.")


def read_records(config: CurriculumConfig, level: str) -> dict[str, list[dict]]:
    """The raw annotation records of `level` per split, each with a validated `vid` (a plain file name)."""
    records = {}
    for split, path in annotation_files(config, level).items():
        try:
            group = read_annotation_file(path)
        except ValueError as error:
            raise CurriculumConfigError(str(error)) from None
        for index, record in enumerate(group):
            where = f"{path} record {index}"
            if not isinstance(record, dict):
                raise CurriculumConfigError(f"{where}: expected a dict, got {type(record).__name__}.")
            try:
                validate_uid(record.get("vid"), "vid", where)
            except ValueError as error:
                raise CurriculumConfigError(str(error)) from None
            for key in ("start_sec", "end_sec"):
                _check_seconds(record, key, where, required=level == "segment")
        records[split] = group
    return records


def entries_in_window(processor: VideoReCapProcessor, entries: list, start: float, end: float) -> list:
    """
    The timed `entries` (`(start, end, ...)` sequences, in time order) that `processor.window_context` gives the
    window `[start, end]`: the rule is applied to the entries' positions, so that whole entries come back.
    """
    timed = [TimedCaption(entry[0], entry[1], str(position)) for position, entry in enumerate(entries)]
    return [entries[int(position)] for position in processor.window_context(timed, start, end)]


def _captioner(config: CurriculumConfig, stage: str, levels: tuple[str, ...]) -> HierarchicalCaptioner:
    model = VideoReCapForConditionalGeneration.from_pretrained(config.stage_model_dir(stage)).eval()
    if torch.cuda.is_available():
        model = model.to(PartialState().device)
    processor = VideoReCapProcessor.from_pretrained(config.stage_model_dir(stage))
    extraction = config.extraction
    return HierarchicalCaptioner(
        model,
        processor,
        levels=levels,
        segment_seconds=extraction.segment_seconds,
        batch_size=extraction.batch_size,
        generate_kwargs=extraction.generation,
        progress=False,
    )


def extract_clip_predictions(config: CurriculumConfig) -> None:
    """Clip model -> CLS features and clip captions of every segment/video video -> segment annotations."""
    records = read_records(config, "segment")
    video_records = read_records(config, "video")
    uids = sorted({record["vid"] for group in (*records.values(), *video_records.values()) for record in group})
    if config.data.video_dir is None:
        raise CurriculumConfigError("Extracting predictions needs data.video_dir (the training videos).")
    videos = {uid: os.fspath(config.data.video_dir / f"{uid}.mp4") for uid in uids}
    extraction_dir = config.extraction_dir("clip")
    captioner = _captioner(config, "clip", ("clip",))
    failures = extract_videos(captioner, videos, extraction_dir, progress=False)
    if failures:
        raise CurriculumConfigError(
            f"{len(failures)} training videos could not be read (first: {failures[0][0]}: {failures[0][1]})."
        )
    state = PartialState()
    if state.is_main_process:
        folder = config.output_dir / "annotations" / "segment"
        folder.mkdir(parents=True, exist_ok=True)
        for split, group in records.items():
            for record in group:
                clips = read_extraction(extraction_dir, record["vid"])["clips"]
                window = entries_in_window(captioner.processor, clips, record["start_sec"], record["end_sec"])
                record["captions_pred"] = [[record["vid"], start, end, text] for start, end, text in window]
            write_atomically(folder / f"segments_{split}.pkl", pickle.dumps(group, protocol=4))
    state.wait_for_everyone()


def extract_segment_predictions(config: CurriculumConfig) -> None:
    """Segment model -> segment descriptions of every video -> video annotations."""
    records = read_records(config, "video")
    uids = sorted({record["vid"] for group in records.values() for record in group})
    clip_dir = config.extraction_dir("clip")
    missing = [uid for uid in uids if not (clip_dir / f"{uid}.json").is_file()]
    if missing:
        raise CurriculumConfigError(
            f"{len(missing)} videos have no extracted clip captions (first: {missing[0]}); run the segment stage "
            "(which extracts them) first."
        )
    segment_dir = config.extraction_dir("segment")
    captioner = _captioner(config, "segment", ("segment",))
    describe_segments(captioner, clip_dir, uids, segment_dir, progress=False)
    state = PartialState()
    if state.is_main_process:
        folder = config.output_dir / "annotations" / "video"
        folder.mkdir(parents=True, exist_ok=True)
        for split, group in records.items():
            for record in group:
                segments = read_extraction(segment_dir, record["vid"])["segments"]
                start = float(record.get("start_sec") or 0.0)
                end = record.get("end_sec")
                end = read_extraction(clip_dir, record["vid"])["duration"] if end is None else float(end)
                window = entries_in_window(captioner.processor, segments, start, end)
                record["segment_descriptions_pred"] = [text for _, _, text in window]
                record.pop("version", None)
            write_atomically(folder / f"videos_{split}.json", json.dumps(group))
    state.wait_for_everyone()


def extract_before(config: CurriculumConfig, stage: str) -> None:
    """Writes the predicted lower-level inputs `stage` trains on (nothing when they come from the annotations)."""
    if config.extraction.captions == "annotations":
        return
    if stage == "segment":
        extract_clip_predictions(config)
    elif stage == "video":
        extract_segment_predictions(config)


__all__ = [
    "annotation_files",
    "entries_in_window",
    "extract_before",
    "extract_clip_predictions",
    "extract_segment_predictions",
    "read_records",
]
