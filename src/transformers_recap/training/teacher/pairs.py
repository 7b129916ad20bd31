# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Training pairs of the LLM teacher from the Ego4D-HCap annotation files, and the prompt format.

Sampling of the pairs (what "ground-truth short-term captions concatenated over varying time spans" means here):
every manual annotation gives one pair over its own time span, so the spans are those of the annotations (Ego4D-HCap
segments last about 1 to 5 minutes, videos minutes to hours).

- **segment** task: the ground-truth clip captions of the segment (`captions_gt`, or, when a record has none, the
  clip captions of `clips_<split>.pkl` whose midpoint lies in `[start_sec, end_sec)`) -> `segment_description`.
- **video** task, `input: segment_descriptions`: the record's ground-truth `segment_descriptions` (or, when empty,
  the descriptions of that video's manual segments inside its span, in time order) -> `video_summary`;
  `input: clip_captions`: every clip caption of the video's span (a much longer span) -> `video_summary`.

A prompt is `prefix + captions + suffix`. The captions are formatted as the original text-only baseline did
(md-mohaiminul/VideoRecap `src/data/datasets_text_only.py`): at most `max_captions` of them, evenly spaced
(`np.linspace`), the speaker tags `#C`, `#O`, `#Unsure` removed, each stripped of `. , ' ` and whitespace, joined as
sentences (`"C picks up the cup. C washes it."`). The pseudo-annotation windows use the same format, so the teacher
sees at generation time exactly the kind of text it was trained on.
"""

import bisect
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers.utils import logging

from transformers_recap.data import load_ego4d_hcap, read_annotation_file

from .options import TaskOptions, TeacherConfigError, task_prefix, task_suffix


logger = logging.get_logger(__name__)

SPEAKER_TAGS = ("#C", "#c", "#O", "#o", "#Unsure", "#unsure")
STRIPPED_CHARACTERS = ".,\n\r\t' "
SPLIT_SUFFIXES = {"train": "train", "validation": "val"}
_MAX_REPORTED = 5


@dataclass(frozen=True)
class ClipCaption:
    """One clip caption (narration) of a video."""

    start_sec: float
    end_sec: float
    text: str

    @property
    def midpoint(self) -> float:
        return (self.start_sec + self.end_sec) / 2


@dataclass(frozen=True)
class TeacherPair:
    """One (input texts, target) pair of a task.

    Attributes:
        task: `"segment"` or `"video"`.
        key: unique name of the pair (task, video, span, record index).
        video_uid, start_sec, end_sec: the annotation's span (`end_sec` `None` when the record has none).
        inputs: the lower-level texts (clip captions or segment descriptions), in time order, unformatted.
        target: the manual annotation.
    """

    task: str
    key: str
    video_uid: str
    start_sec: float
    end_sec: float | None
    inputs: tuple[str, ...]
    target: str


class VideoClips:
    """The clip captions of one video, sorted by midpoint, with window look-ups."""

    def __init__(self, clips: Sequence[ClipCaption]):
        self.clips = sorted(clips, key=lambda clip: (clip.midpoint, clip.start_sec))
        self._midpoints = [clip.midpoint for clip in self.clips]

    def __len__(self) -> int:
        return len(self.clips)

    def within(self, start: float, end: float | None) -> list[ClipCaption]:
        """Clips whose midpoint lies in `[start, end)` (`end` `None`: to the end of the video)."""
        low = bisect.bisect_left(self._midpoints, start)
        high = len(self.clips) if end is None else bisect.bisect_left(self._midpoints, end)
        return self.clips[low:high]

    @property
    def extent(self) -> tuple[float, float]:
        """From the first clip's start to the last clip's end."""
        return min(clip.start_sec for clip in self.clips), max(clip.end_sec for clip in self.clips)


def find_annotation_file(data_dir: str | os.PathLike, name: str) -> Path | None:
    """`data_dir/annotations/<name>` or `data_dir/<name>`, as the Ego4D-HCap loader looks them up."""
    for folder in (Path(data_dir) / "annotations", Path(data_dir)):
        if (folder / name).is_file():
            return folder / name
    return None


def _clip_record(record) -> ClipCaption:
    if not isinstance(record, (list, tuple)) or len(record) != 4:
        raise ValueError("expected a (vid, start_sec, end_sec, caption) tuple")
    vid, start, end, caption = record
    if not isinstance(vid, str) or not vid:
        raise ValueError(f"vid must be a non-empty string, got {vid!r}")
    for name, value in (("start_sec", start), ("end_sec", end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")
    if end < start:
        raise ValueError(f"end_sec ({end}) < start_sec ({start})")
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError("caption must be a non-empty string")
    return ClipCaption(float(start), float(end), caption)


def read_clip_captions(path: str | os.PathLike) -> dict[str, VideoClips]:
    """
    `clips_*.pkl` grouped by video. Malformed records are skipped and counted in a warning that names the file and
    the first records.
    """
    records = read_annotation_file(path)
    grouped: dict[str, list[ClipCaption]] = defaultdict(list)
    skipped = []
    for index, record in enumerate(records):
        try:
            clip = _clip_record(record)
        except ValueError as error:
            skipped.append((index, str(error)))
            continue
        grouped[record[0]].append(clip)
    if skipped:
        listed = "; ".join(f"record {index}: {reason}" for index, reason in skipped[:_MAX_REPORTED])
        logger.warning(f"Skipped {len(skipped)} malformed record(s) of {len(records)} in {path}: {listed}")
    return {vid: VideoClips(clips) for vid, clips in grouped.items()}


@dataclass
class AnnotationSplit:
    """The annotations of one split: clip captions per video and the segment and video records (loader rows)."""

    split: str
    clips: dict[str, VideoClips]
    segments: list[dict]
    videos: list[dict]
    files: dict[str, Path]


def read_annotation_split(
    data_dir: str | os.PathLike, split: str, cache_dir: str | os.PathLike | None = None, levels=("segment", "video")
) -> AnnotationSplit:
    """
    Reads one split (`"train"` or `"validation"`): `clips_<split>.pkl` directly, the segment and video records
    through the Ego4D-HCap loader (so every record is checked as Video ReCap training reads it). Missing files give
    empty parts.
    """
    suffix = SPLIT_SUFFIXES[split]
    files: dict[str, Path] = {}
    clips_path = find_annotation_file(data_dir, f"clips_{suffix}.pkl")
    clips = {}
    if clips_path is not None:
        files["clip"] = clips_path
        clips = read_clip_captions(clips_path)
    rows = {}
    names = {"segment": (f"segments_{suffix}.pkl",), "video": (f"videos_{suffix}.json", f"videos_{suffix}.pkl")}
    for level in levels:
        path = next((p for p in map(lambda n: find_annotation_file(data_dir, n), names[level]) if p), None)
        if path is None:
            rows[level] = []
            continue
        files[level] = path
        dataset = load_ego4d_hcap(level, data_dir, split=split, cache_dir=cache_dir)
        rows[level] = dataset.to_list()
    return AnnotationSplit(split, clips, rows.get("segment", []), rows.get("video", []), files)


def clean_caption(text: str) -> str:
    """A caption as the original text-only baseline fed it: speaker tags removed, `. , '` and spaces stripped."""
    for tag in SPEAKER_TAGS:
        text = text.replace(tag, "")
    return text.strip(STRIPPED_CHARACTERS)


def evenly_spaced(items: Sequence, max_count: int | None) -> list:
    """At most `max_count` items at `np.linspace(0, n - 1, max_count)` (all of them when there are few enough)."""
    if max_count is None or len(items) <= max_count:
        return list(items)
    return [items[index] for index in np.linspace(0, len(items) - 1, max_count).astype(int)]


def prompt_parts(task_name: str, task: TaskOptions, inputs: Sequence[str], causal: bool) -> tuple[str, str]:
    """`(prefix + "c1. c2. c3.", suffix)`: a long prompt is truncated in the first part, the suffix is kept."""
    parts = [clean_caption(text) for text in evenly_spaced(inputs, task.max_captions)]
    body = ". ".join(part for part in parts if part)
    if body:
        body += "."
    return task_prefix(task_name, task) + body, task_suffix(task, causal)


def format_prompt(task_name: str, task: TaskOptions, inputs: Sequence[str], causal: bool) -> str:
    """`prefix + "c1. c2. c3." + suffix` (see the module docstring)."""
    return "".join(prompt_parts(task_name, task, inputs, causal))


def _span(start: float, end: float | None) -> str:
    return f"{start:.3f}-{'end' if end is None else f'{end:.3f}'}"


def build_pairs(tasks: dict[str, TaskOptions], data: AnnotationSplit) -> dict[str, list[TeacherPair]]:
    """
    The pairs of every task in `tasks` from one split (see the module docstring). Records without any input text
    are skipped and counted in a warning.
    """
    pairs: dict[str, list[TeacherPair]] = {}
    if "segment" in tasks:
        pairs["segment"], skipped = [], []
        for index, row in enumerate(data.segments):
            vid, start, end = row["video_uid"], row["start_sec"], row["end_sec"]
            inputs = list(row["clip_captions_gt"])
            if not inputs and vid in data.clips:
                inputs = [clip.text for clip in data.clips[vid].within(start, end)]
            if not inputs:
                skipped.append(index)
                continue
            key = f"segment:{vid}:{_span(start, end)}:{index}"
            pairs["segment"].append(TeacherPair("segment", key, vid, start, end, tuple(inputs), row["text"].strip()))
        _report_skipped(skipped, len(data.segments), data.files.get("segment"), "no clip captions")
    if "video" in tasks:
        by_video: dict[str, list[dict]] = defaultdict(list)
        for row in data.segments:
            by_video[row["video_uid"]].append(row)
        pairs["video"], skipped = [], []
        source = tasks["video"].input
        for index, row in enumerate(data.videos):
            vid, start, end = row["video_uid"], row["start_sec"], row["end_sec"]
            if source == "segment_descriptions":
                inputs = list(row["segment_descriptions_gt"])
                if not inputs:
                    inside = [
                        segment
                        for segment in by_video.get(vid, [])
                        if start
                        <= (segment["start_sec"] + segment["end_sec"]) / 2
                        < (end if end is not None else math.inf)
                    ]
                    inputs = [segment["text"] for segment in sorted(inside, key=lambda segment: segment["start_sec"])]
            else:
                inputs = [clip.text for clip in data.clips[vid].within(start, end)] if vid in data.clips else []
            if not inputs:
                skipped.append(index)
                continue
            key = f"video:{vid}:{_span(start, end)}:{index}"
            pairs["video"].append(TeacherPair("video", key, vid, start, end, tuple(inputs), row["text"].strip()))
        _report_skipped(skipped, len(data.videos), data.files.get("video"), f"no {source.replace('_', ' ')}")
    return pairs


def _report_skipped(skipped: list[int], total: int, path: Path | None, reason: str) -> None:
    if skipped:
        first = ", ".join(str(index) for index in skipped[:_MAX_REPORTED])
        logger.warning(f"Skipped {len(skipped)} of {total} records of {path} with {reason} (first: {first}).")


def require_pairs(pairs: dict[str, list[TeacherPair]], data_dir: str | os.PathLike, split: str) -> None:
    """Fails with a message naming the data folder when a task has no pair at all."""
    for task, items in pairs.items():
        if not items:
            raise TeacherConfigError(
                f"{data_dir}: the {task} task has no {split} pair (no usable {'segments' if task == 'segment' else 'videos'}_"
                f"{SPLIT_SUFFIXES[split]} annotation file or records with input text)."
            )


__all__ = [
    "AnnotationSplit",
    "ClipCaption",
    "TeacherPair",
    "VideoClips",
    "build_pairs",
    "clean_caption",
    "evenly_spaced",
    "find_annotation_file",
    "format_prompt",
    "prompt_parts",
    "read_annotation_split",
    "read_clip_captions",
]
