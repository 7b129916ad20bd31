# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
A video library captioned by many processes on many machines: shards balanced by duration, one resumable results file
per shard, and a merge.

- Every process lists the same videos and reads their durations from the container headers (no frame is decoded),
  then [`assign_shards`] deals them out by duration, longest first, each to the shard with the least video so far. The
  assignment depends on the inputs alone, so a restarted process gets the same videos as the one that was killed.
- Shard `i` of `n` writes `shard-0000i-of-0000n.jsonl` in the output directory through a [`ResultsFile`] (locked, one
  synced append per finished video, a torn last line dropped): a killed process's shard resumes where it stopped, and
  a video finished in any shard file of the directory is not captioned again, also after a change of `n`.
- Every process also makes sure `videos.jsonl` lists the videos in input order with their durations and shards, which
  [`merge_results`] follows: the merged file lists the records of all shards deduplicated by [`VideoKey`], in input
  order, line for line what one process writes to one results file.

Only the sharding rule, the file layout and the merge are written here; the process index and count come from
`accelerate` (`PartialState`), the locking and appends from [`transformers_recap.engine.results`].
"""

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .results import ResultsFileError, VideoKey, read_records, write_atomically


MANIFEST_NAME = "videos.jsonl"
"""The file in the output directory that lists the videos in input order (written by every process, identical)."""

SHARD_NAME = re.compile(r"^shard-(\d{5,})-of-(\d{5,})\.jsonl$")


def shard_file_name(index: int, count: int) -> str:
    """`shard-00001-of-00004.jsonl` for shard 1 of 4."""
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in [0, {count}), got {index}")
    return f"shard-{index:05d}-of-{count:05d}.jsonl"


def shard_files(directory: str | os.PathLike) -> list[Path]:
    """The shard files of a results directory, sorted by name."""
    return sorted(path for path in Path(directory).iterdir() if SHARD_NAME.match(path.name) and path.is_file())


def probe_duration(path: str | os.PathLike) -> float | None:
    """
    The duration in seconds a video's container header states (stream duration, else container duration), without
    decoding; `None` when the file cannot be opened or states none.
    """
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return container.duration / av.time_base
    except (av.FFmpegError, OSError, ValueError):
        return None
    return None


def assign_shards(durations: Sequence[float | None], num_shards: int) -> list[int]:
    """
    The shard of each video: longest first (ties in input order), each to the shard with the least duration so far
    (ties: fewest videos, then lowest index), the greedy rule for balancing the longest shard. A video of unknown
    duration counts as 0 s. Deterministic: the same durations give the same shards in every process.

    Args:
        durations (`Sequence[float | None]`): seconds of each video, in input order.
        num_shards (`int`): how many shards (processes).
    Returns:
        `list[int]`: the shard of each video, in input order.
    """
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    seconds = [max(float(duration or 0.0), 0.0) for duration in durations]
    loads = [(0.0, 0, shard) for shard in range(num_shards)]
    shards = [0] * len(seconds)
    for index in sorted(range(len(seconds)), key=lambda index: (-seconds[index], index)):
        load, count, shard = min(loads)
        shards[index] = shard
        loads[shard] = (load + seconds[index], count + 1, shard)
    return shards


@dataclass
class LibraryVideo:
    """A video of the library: its input path, [`VideoKey`], header duration (`None`: unknown) and shard."""

    path: str
    key: VideoKey
    duration: float | None
    shard: int

    def to_record(self) -> dict[str, Any]:
        return {**self.key.to_record(), "duration": self.duration, "shard": self.shard}


def plan_library(paths: Iterable[str], num_shards: int) -> list[LibraryVideo]:
    """
    The videos of `paths` (each once: by [`VideoKey`], at its first listing) with their durations and shards.
    """
    from .results import video_key

    videos: dict[VideoKey, str] = {}
    for path in paths:
        videos.setdefault(video_key(path), path)
    durations = [probe_duration(key.path) for key in videos]
    shards = assign_shards(durations, num_shards)
    return [
        LibraryVideo(path, key, duration, shard)
        for (key, path), duration, shard in zip(videos.items(), durations, shards, strict=True)
    ]


def write_manifest(directory: str | os.PathLike, videos: Sequence[LibraryVideo]) -> None:
    """
    Writes `videos.jsonl` (the videos in input order) atomically, unless it holds that already: every process of a run
    plans the same library, so whichever writes it first writes what the others would.
    """
    path = Path(directory) / MANIFEST_NAME
    text = "".join(json.dumps(video.to_record(), ensure_ascii=False) + "\n" for video in videos)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_atomically(path, text)


def finished_elsewhere(directory: str | os.PathLike, own: str | os.PathLike) -> set[VideoKey]:
    """The videos with a record in the directory's other shard files (of this or an earlier layout)."""
    own = os.path.realpath(own)
    keys = set()
    for path in shard_files(directory):
        if os.path.realpath(path) != own:
            keys.update(VideoKey.from_record(record) for record in read_records(path)[0])
    return keys


@dataclass
class MergeReport:
    """What [`merge_results`] wrote: records, errors among them, duplicates left out, listed videos without a record."""

    records: int
    errors: int
    duplicates: int
    missing: int
    shards: int


def merge_results(directory: str | os.PathLike, output: str | os.PathLike) -> MergeReport:
    """
    Merges the shard files of a results directory into one results file, written atomically: one record per
    [`VideoKey`] (a captioned record before an error record of the same video, else the first in shard order), in the
    input order `videos.jsonl` gives, then the videos it does not list ordered by key.

    Raises:
        [`ResultsFileError`]: the directory holds no shard file, or one is not a results file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsFileError(f"{directory}: no such directory")
    shards = shard_files(directory)
    if not shards:
        raise ResultsFileError(f"{directory}: no shard files (shard-NNNNN-of-NNNNN.jsonl) to merge")
    merged: dict[VideoKey, dict[str, Any]] = {}
    duplicates = 0
    for path in shards:
        for record in read_records(path)[0]:
            key = VideoKey.from_record(record)
            if key in merged:
                duplicates += 1
                if "error" not in merged[key] or "error" in record:
                    continue
            merged[key] = record
    listed = [VideoKey.from_record(record) for record in read_records(directory / MANIFEST_NAME)[0]]
    order = [key for key in dict.fromkeys(listed) if key in merged]
    rest = set(merged) - set(order)
    order += sorted(rest, key=lambda key: (key.path, key.size or 0, key.mtime_ns or 0))
    write_atomically(output, "".join(json.dumps(merged[key], ensure_ascii=False) + "\n" for key in order))
    return MergeReport(
        records=len(order),
        errors=sum("error" in merged[key] for key in order),
        duplicates=duplicates,
        missing=len(set(listed) - set(merged)),
        shards=len(shards),
    )


__all__ = [
    "LibraryVideo",
    "MANIFEST_NAME",
    "MergeReport",
    "assign_shards",
    "finished_elsewhere",
    "merge_results",
    "plan_library",
    "probe_duration",
    "shard_file_name",
    "shard_files",
    "write_manifest",
]
