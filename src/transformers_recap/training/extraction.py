# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Per-video extraction with the recursive engine, sharded over processes and resumable: CLS features (and optionally
the dense clip tokens) of every clip, predicted clip captions, predicted segment descriptions. Each video's results
are written atomically as `<video_uid>.safetensors` (tensors) and `<video_uid>.json` (captions, written last: the
video is done once it exists), so a killed run loses nothing already written and a restart skips finished videos.
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

from ..engine import HierarchicalCaptioner, TimedCaption, VideoDecodingError, open_video
from .collator import CLS_FEATURES_KEY


logger = logging.get_logger(__name__)

DENSE_FEATURES_KEY = "dense"


def _atomic_write(path: Path, data: bytes) -> None:
    """Writes `data` to a temporary file next to `path`, then renames it: readers never see a partial file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def is_extracted(output_dir: str | os.PathLike, video_uid: str) -> bool:
    return (Path(output_dir) / f"{video_uid}.json").is_file()


def read_extraction(output_dir: str | os.PathLike, video_uid: str) -> dict:
    """The JSON record of one extracted video (`duration`, `clips`, `segments`, ...)."""
    with open(Path(output_dir) / f"{video_uid}.json", encoding="utf-8") as file:
        return json.load(file)


def extract_videos(
    captioner: HierarchicalCaptioner,
    videos: Mapping[str, str],
    output_dir: str | os.PathLike,
    caption_clips: bool = True,
    save_dense: bool = False,
    state: PartialState | None = None,
    progress: bool = True,
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
    Returns:
        `(video_uid, error message)` of the videos that could not be read (skipped, reported, not retried).
    """
    state = state or PartialState()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pending = sorted(uid for uid in videos if not is_extracted(output_dir, uid))
    failures = []
    num_frames = captioner.model.config.vision_config.num_frames
    with state.split_between_processes(pending) as mine:
        for uid in tqdm(mine, desc=f"extracting (process {state.process_index})", disable=not progress):
            dense = [] if save_dense else None
            try:
                with open_video(
                    videos[uid], captioner.clip_seconds, num_frames, short_side=captioner.short_side
                ) as reader:
                    duration = reader.metadata.duration
                    cls_features, clips = captioner.caption_clips(reader, dense_features=dense, caption=caption_clips)
            except VideoDecodingError as error:
                logger.warning(f"Skipping video {uid}: {error}")
                failures.append((uid, str(error)))
                continue
            tensors = {CLS_FEATURES_KEY: cls_features.float().contiguous()}
            if dense:
                tensors[DENSE_FEATURES_KEY] = torch.cat(dense).contiguous()
            _atomic_write(output_dir / f"{uid}.safetensors", save(tensors))
            record = {
                "video_uid": uid,
                "duration": duration,
                "clip_seconds": captioner.clip_seconds,
                "clips": [[clip.start, clip.end, clip.text] for clip in clips],
            }
            _atomic_write(output_dir / f"{uid}.json", json.dumps(record).encode())
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
    output_dir.mkdir(parents=True, exist_ok=True)
    pending = sorted(uid for uid in video_uids if not is_extracted(output_dir, uid))
    with state.split_between_processes(pending) as mine:
        for uid in tqdm(mine, desc=f"segment descriptions (process {state.process_index})", disable=not progress):
            record = read_extraction(extraction_dir, uid)
            cls_features = load_file(os.fspath(Path(extraction_dir) / f"{uid}.safetensors"))[CLS_FEATURES_KEY]
            clips = [TimedCaption(start, end, text) for start, end, text in record["clips"]]
            result = captioner.caption_features(cls_features, clips, record["duration"])
            segments = [[segment.start, segment.end, segment.text] for segment in result.segments]
            _atomic_write(output_dir / f"{uid}.json", json.dumps({"segments": segments}).encode())


__all__ = ["DENSE_FEATURES_KEY", "describe_segments", "extract_videos", "is_extracted", "read_extraction"]
