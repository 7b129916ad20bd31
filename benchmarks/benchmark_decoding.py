# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Frame decoding for clip captions: our sampler against decoding every frame, for a generated 10-minute video.

The video is 640x360 at 30 fps (x264 `veryfast`, a keyframe every 250 frames). All variants return the 4 frames of
each of its 150 4-s clips, as RGB arrays:

- decode every frame and convert every frame to RGB (what a "load the video, then index it" reader does);
- decode every frame, convert only the sampled ones (the original's PyAV loop);
- ours, `VideoClipReader`: decodes forward, seeks over gaps that contain a keyframe, converts only the sampled frames
  and scales them to a 288-px short side while converting (what the processor's 224-px resize needs);
- ours with sparse windows (a 4-frame clip every 20 s), where seeking skips most of the file.

    python benchmarks/benchmark_decoding.py [--minutes 10] [--repeats 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import av
from recap_benchmark_utils import machine_line, synthetic_video, timed

from transformers_recap.engine.video_io import VideoClipReader, clip_frame_indices
from transformers_recap.models.video_recap.processing_video_recap import clip_windows


def sampled_indices(duration: float, fps: float, num_video_frames: int) -> set[int]:
    return {
        index
        for start, end in clip_windows(duration, 4.0)
        for index in clip_frame_indices(start, end, fps, num_video_frames)
    }


def decode_everything(path: Path, convert_all: bool, wanted: set[int]) -> int:
    kept = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if convert_all or index in wanted:
                frame.to_ndarray(format="rgb24")
                kept += index in wanted
    return kept


def ours(path: Path, clip_seconds: float = 4.0) -> int:
    with VideoClipReader(path, clip_seconds=clip_seconds) as reader:
        return sum(len(clip.frames) for clip in reader)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "recap_benchmarks")
    args = parser.parse_args()

    video = synthetic_video(args.work_dir / f"synthetic_{args.minutes:g}min.mp4", args.minutes * 60)
    with VideoClipReader(video) as reader:
        meta = reader.metadata
    wanted = sampled_indices(meta.duration, meta.fps, meta.num_frames)
    rows = [
        ("decode every frame, convert every frame", lambda: decode_everything(video, True, wanted)),
        ("decode every frame, convert the sampled ones", lambda: decode_everything(video, False, wanted)),
        ("ours: VideoClipReader (4-s clips)", lambda: ours(video)),
        ("ours: sparse windows (4 frames every 20 s)", lambda: ours(video, clip_seconds=20.0)),
    ]
    print(
        f"# Decoding a {args.minutes:g}-minute {meta.width}x{meta.height} {meta.fps:g}-fps video, "
        f"{len(clip_windows(meta.duration, 4.0))} clips of 4 frames ({machine_line()})"
    )
    print(f"{'variant':<48} {'seconds':>8} {'frames':>7} {'speed-up':>9}")
    baseline = None
    for name, function in rows:
        seconds, frames = timed(function, args.repeats)
        baseline = baseline or seconds
        print(f"{name:<48} {seconds:8.2f} {frames:7d} {baseline / seconds:8.1f}x")


if __name__ == "__main__":
    main()
