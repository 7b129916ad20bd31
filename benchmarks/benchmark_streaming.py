# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Latency of streamed captions: for each clip, the wall time from the end of the clip in video time to its caption
coming out of `HierarchicalCaptioner.stream`, on a source paced in real time.

The video is a Synthetic-HCap video (seed 2026, which the bundled demo model never saw) captioned with the demo model
(`transformers_recap.demo_model_path()`, 4-s clips, 24-s segments), given to the stream in one of two ways:

- `frames`: an iterator of `(timestamp_seconds, frame)` pairs that yields frame `i` at `start + i / fps / speed`
  (a camera);
- `file`: a writer thread that encodes the same frames to a growing MPEG-TS file at that pace (a recording), which
  the stream follows (`follow=True`); this adds encoding, demuxing and decoder delays.

A clip's latency is `time its event came out - (start + clip.end / speed)`; a segment's likewise with the segment's
end (a segment also waits for the clip after it, whose CLS feature it reads, as the original slices them); the
summary's with the video's end. Each configuration is `batch_size:max_latency`: `1:0` captions each clip alone as
soon as it is decoded; `8:0` takes up to 8 clips that are waiting (one while the model keeps up, more when it lags);
`4:8` micro-batches (a batch waits up to 8 s for up to 4 clips). `--speed` plays the video faster than real time,
e.g. to see how batches grow when the model cannot keep up. The model time per clip (decoded clips, no pacing) is
printed first, at each batch size.

    python benchmarks/benchmark_streaming.py [--sources frames,file] [--configs 1:0,8:0,4:8] [--speed 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from transformers_recap import HierarchicalCaptioner, VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.data.synthetic import SYNTHETIC_SETTINGS_FILE, iter_synthetic_frames, plan_synthetic_video
from transformers_recap.demo import demo_model_path
from transformers_recap.engine.video_io import FramesClipReader


def paced_frames(frames: list[np.ndarray], fps: int, speed: float, start: float):
    """Yields `(timestamp, frame)` with frame `i` at wall time `start + i / fps / speed`."""
    for index, frame in enumerate(frames):
        delay = start + index / fps / speed - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield index / fps, frame


def write_paced(path: Path, frames: list[np.ndarray], fps: int, speed: float, start: float) -> None:
    """Encodes the frames to an MPEG-TS file (H.264, zero-latency, flushed packet by packet) at the same pace."""
    with av.open(str(path), "w", format="mpegts", options={"flush_packets": "1"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18", "tune": "zerolatency", "g": str(4 * fps)}
        for _, frame in paced_frames(frames, fps, speed, start):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def run(captioner, source: str, frames, fps: int, speed: float, max_latency: float, directory: Path) -> dict:
    clip_batches = []
    generate = captioner.model.generate

    def counting_generate(**kwargs):
        if kwargs["level"] == "clip":
            clip_batches.append(len(kwargs["video_features"]))
        return generate(**kwargs)

    captioner.model.generate = counting_generate
    latencies = {"clip": [], "segment": [], "video": []}
    start = time.perf_counter() + 0.5
    writer = None
    try:
        if source == "frames":
            stream = captioner.stream(paced_frames(frames, fps, speed, start), fps=fps, max_latency=max_latency)
        else:
            path = directory / f"recording-{time.monotonic_ns()}.ts"
            writer = threading.Thread(target=write_paced, args=(path, frames, fps, speed, start))
            writer.start()
            stream = captioner.stream(str(path), follow=True, idle_seconds=5.0, max_latency=max_latency)
        for event in stream:
            if event.final:
                latencies[event.level].append(time.perf_counter() - (start + event.end / speed))
    finally:
        del captioner.model.generate
        if writer is not None:
            writer.join()
    clips = latencies["clip"]
    return {
        "source": source,
        "batch_size": captioner.batch_size,
        "max_latency_s": max_latency,
        "clips": len(clips),
        "clip_latency_s": {
            "mean": round(statistics.mean(clips), 3),
            "median": round(statistics.median(clips), 3),
            "p90": round(float(np.percentile(clips, 90)), 3),
            "max": round(max(clips), 3),
        },
        "segment_latency_s": {
            "mean": round(statistics.mean(latencies["segment"]), 3),
            "max": round(max(latencies["segment"]), 3),
        },
        "summary_latency_s": round(latencies["video"][0], 3),
        "clip_batches": {size: clip_batches.count(size) for size in sorted(set(clip_batches))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a Synthetic-HCap model directory (default: the demo model)")
    parser.add_argument("--sources", default="frames,file", help="comma-separated: frames, file")
    parser.add_argument("--configs", default="1:0,8:0,4:8", help="comma-separated batch_size:max_latency pairs")
    parser.add_argument("--speed", type=float, default=1.0, help="video seconds per wall second (default: 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    model_dir = Path(args.model or demo_model_path())
    settings = json.loads((model_dir / SYNTHETIC_SETTINGS_FILE).read_text())
    plan = plan_synthetic_video(
        f"synthetic-{args.seed}-00000",
        (args.seed, 0),
        clip_seconds=settings["clip_seconds"],
        clips_per_segment=settings["clips_per_segment"],
        segments_per_video=settings["segments_per_video"],
    )
    fps = settings["fps"]
    frames = list(iter_synthetic_frames(plan, size=settings["size"], fps=fps))
    model = VideoReCapForConditionalGeneration.from_pretrained(model_dir).to(args.device).eval()
    processor = VideoReCapProcessor.from_pretrained(model_dir)
    print(
        f"# {len(frames) / fps:.0f}-s video at {fps} fps, {settings['size']} px, speed {args.speed:g}x, "
        f"{args.device}, {torch.get_num_threads()} torch threads"
    )
    configs = [(int(size), float(latency)) for size, latency in (item.split(":") for item in args.configs.split(","))]
    # Compute alone (clips already decoded), after a warm-up: seconds of model time per clip at each batch size.
    sample = FramesClipReader(np.stack(frames[: 8 * settings["clip_seconds"] * fps]), fps)
    for batch_size in sorted({size for size, _ in configs}):
        captioner = HierarchicalCaptioner(model, processor, batch_size=batch_size, progress=False)
        captioner.caption_clips(sample)
        began = time.perf_counter()
        captioner.caption_clips(sample)
        per_clip = (time.perf_counter() - began) / len(sample)
        print(json.dumps({"compute_per_clip_s": round(per_clip, 4), "batch_size": batch_size}), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        for source in args.sources.split(","):
            for batch_size, max_latency in configs:
                captioner = HierarchicalCaptioner(model, processor, batch_size=batch_size, progress=False)
                result = run(captioner, source, frames, fps, args.speed, max_latency, Path(directory))
                print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
