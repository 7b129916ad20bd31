# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Per-video extraction with the recursive engine, sharded over processes and resumable: CLS features (and optionally
the dense clip tokens) of every clip, predicted clip captions, predicted segment descriptions.

Each video's results are written atomically (temporary file, fsync, rename) as `<video_uid>.safetensors` (tensors)
and `<video_uid>.json` (captions, written last: the video is done once it exists), so a killed run loses nothing
already written and a restart skips finished videos and deletes the temporary files the kill left. A video that
cannot be read is recorded in `failed/<video_uid>.json` (the error and the file's size and modification time) and
is not retried by later runs while the file is unchanged (`retry_failed=True` retries it). Video uids become file
names, so each goes through `data.ids.validate_uid`.
"""

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from accelerate import PartialState
from safetensors.torch import load_file, save
from tqdm.auto import tqdm
from transformers.utils import logging

from ..data.ids import validate_uid
from ..engine import HierarchicalCaptioner, TimedCaption, VideoDecodingError, open_video
from .collator import CLIP_INDEX_KEY, CLS_FEATURES_KEY
from .files import remove_leftovers, write_atomically


logger = logging.get_logger(__name__)

DENSE_FEATURES_KEY = "dense"
FAILURES_DIR = "failed"


def _path(output_dir: str | os.PathLike, video_uid: str, suffix: str) -> Path:
    return Path(output_dir) / f"{validate_uid(video_uid, 'video uid', os.fspath(output_dir))}{suffix}"


def is_extracted(output_dir: str | os.PathLike, video_uid: str) -> bool:
    return _path(output_dir, video_uid, ".json").is_file()


def read_extraction(output_dir: str | os.PathLike, video_uid: str) -> dict:
    """The JSON record of one extracted video (`duration`, `clips`, `segments`, ...)."""
    with open(_path(output_dir, video_uid, ".json"), encoding="utf-8") as file:
        return json.load(file)


def _fingerprint(path: str) -> list[int] | None:
    """(size, modification time) of a video file; `None` when it does not exist."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return [status.st_size, status.st_mtime_ns]


def recorded_failure(output_dir: str | os.PathLike, video_uid: str, video_path: str) -> str | None:
    """The error recorded for `video_uid` by an earlier run, if `video_path` is still the file that failed."""
    path = _path(Path(output_dir) / FAILURES_DIR, video_uid, ".json")
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # unreadable record: retry the video
    if record.get("video_path") != video_path or record.get("fingerprint") != _fingerprint(video_path):
        return None
    return record.get("error")


def _record_failure(output_dir: Path, video_uid: str, video_path: str, message: str) -> None:
    folder = output_dir / FAILURES_DIR
    folder.mkdir(exist_ok=True)
    record = {
        "video_uid": video_uid,
        "video_path": video_path,
        "fingerprint": _fingerprint(video_path),
        "error": message,
    }
    write_atomically(_path(folder, video_uid, ".json"), json.dumps(record))


def _start(output_dir: Path, state: PartialState) -> None:
    """Creates `output_dir` and deletes a killed run's temporary files, before any process writes."""
    if state.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
        leftovers = remove_leftovers(output_dir) + remove_leftovers(output_dir / FAILURES_DIR)
        if leftovers:
            logger.info(f"Deleted {len(leftovers)} temporary files an interrupted run left in {output_dir}.")
    state.wait_for_everyone()


def extract_videos(
    captioner: HierarchicalCaptioner,
    videos: Mapping[str, str],
    output_dir: str | os.PathLike,
    caption_clips: bool = True,
    save_dense: bool = False,
    state: PartialState | None = None,
    progress: bool = True,
    retry_failed: bool = False,
) -> list[tuple[str, str]]:
    """
    Encodes every clip of each video once and writes its CLS features (`"cls"`, `(num_clips, hidden_size)` float32),
    optionally its dense tokens (`"dense"`, float16) and its predicted clip captions.

    Args:
        captioner ([`HierarchicalCaptioner`]): the model that encodes (and captions) the clips.
        videos (`Mapping[str, str]`): video uid -> video path.
        output_dir (`str`): where `<video_uid>.safetensors` / `<video_uid>.json` go.
        caption_clips (`bool`): also write the predicted clip captions.
        save_dense (`bool`): also store the dense encoder tokens of every clip.
        state (`PartialState`, *optional*): the process group to shard the videos over (default: the current one).
        retry_failed (`bool`): also retry videos an earlier run could not read although their file is unchanged.
    Returns:
        `(video_uid, error message)` of the videos that could not be read or have an invalid uid (skipped, reported;
        for this process's share of the videos when several processes run).
    """
    state = state or PartialState()
    output_dir = Path(output_dir)
    _start(output_dir, state)
    failures, pending = [], []
    for uid in sorted(videos):
        try:
            if is_extracted(output_dir, uid):
                continue
        except ValueError as error:  # an id that is not a plain file name
            failures.append((uid, str(error)))
            continue
        pending.append(uid)
    num_frames = captioner.model.config.vision_config.num_frames
    with state.split_between_processes(pending) as mine:
        for uid in tqdm(mine, desc=f"extracting (process {state.process_index})", disable=not progress):
            previous = None if retry_failed else recorded_failure(output_dir, uid, videos[uid])
            if previous is not None:
                failures.append((uid, previous))
                continue
            dense = [] if save_dense else None
            try:
                with open_video(
                    videos[uid], captioner.clip_seconds, num_frames, short_side=captioner.short_side
                ) as reader:
                    duration = reader.metadata.duration
                    clip_index = [round(start / captioner.clip_seconds) for start, _ in reader.windows]
                    cls_features, clips = captioner.caption_clips(reader, dense_features=dense, caption=caption_clips)
            except VideoDecodingError as error:
                logger.warning(f"Skipping video {uid}: {error}")
                failures.append((uid, str(error)))
                _record_failure(output_dir, uid, videos[uid], str(error))
                continue
            tensors = {
                CLS_FEATURES_KEY: cls_features.float().contiguous(),
                CLIP_INDEX_KEY: torch.tensor(clip_index, dtype=torch.int64),
            }
            if dense:
                tensors[DENSE_FEATURES_KEY] = torch.cat(dense).contiguous()
            write_atomically(_path(output_dir, uid, ".safetensors"), save(tensors))
            record = {
                "video_uid": uid,
                "duration": duration,
                "clip_seconds": captioner.clip_seconds,
                "clips": [[clip.start, clip.end, clip.text] for clip in clips],
            }
            write_atomically(_path(output_dir, uid, ".json"), json.dumps(record))
            _path(output_dir / FAILURES_DIR, uid, ".json").unlink(missing_ok=True)
    return failures


def describe_segments(
    captioner: HierarchicalCaptioner,
    extraction_dir: str | os.PathLike,
    video_uids: Sequence[str],
    output_dir: str | os.PathLike,
    state: PartialState | None = None,
    progress: bool = True,
) -> None:
    """
    Predicted segment descriptions every `captioner.segment_seconds` for each video, from its extracted CLS features
    and clip captions; writes `<video_uid>.json` (`{"segments": [[start, end, text], ...]}`) atomically, resumably.
    """
    state = state or PartialState()
    output_dir = Path(output_dir)
    _start(output_dir, state)
    pending = sorted(uid for uid in video_uids if not is_extracted(output_dir, uid))
    with state.split_between_processes(pending) as mine:
        for uid in tqdm(mine, desc=f"segment descriptions (process {state.process_index})", disable=not progress):
            record = read_extraction(extraction_dir, uid)
            tensors = load_file(os.fspath(_path(extraction_dir, uid, ".safetensors")))
            clips = [TimedCaption(start, end, text) for start, end, text in record["clips"]]
            result = captioner.caption_features(
                tensors[CLS_FEATURES_KEY], clips, record["duration"], clip_index=tensors.get(CLIP_INDEX_KEY)
            )
            segments = [[segment.start, segment.end, segment.text] for segment in result.segments]
            write_atomically(_path(output_dir, uid, ".json"), json.dumps({"segments": segments}))


__all__ = [
    "DENSE_FEATURES_KEY",
    "FAILURES_DIR",
    "describe_segments",
    "extract_videos",
    "is_extracted",
    "read_extraction",
    "recorded_failure",
]
