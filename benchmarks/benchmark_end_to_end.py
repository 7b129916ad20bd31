# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
One video to three levels, extrapolated to a video-hour: seconds of compute per video-minute by stage, float32 and
bfloat16, and peak memory for a 2-minute vs a 10-minute video.

Full-size architecture (`VideoReCapConfig()`), random weights, this machine's CPU threads. Random weights almost never
emit EOS, so caption lengths are fixed as the original's measured parts assume: clip captions 20 tokens, segment
descriptions 76 and the summary 119 (its `max_gen_tokens` of 77 and 120), with `min_new_tokens = max_new_tokens`.

- clip level: a synthetic 640x360 30-fps video of `--minutes` minutes is captioned by `HierarchicalCaptioner`
  (decoding in a background thread, each clip encoded once, batches of `--batch-size`); a video-hour has 900 clips;
- segment level: the 20 windows of a video-hour (46 CLS rows and 45 clip captions each, recycled from the clips above);
- video level: one window over 900 CLS rows and 20 segment descriptions.

With `--baseline`, the same inputs also go through the original's way of working, for 8 clips, one segment and the
summary: the encoder run twice per clip (captions, then CLS features), the step-by-step greedy loop without a cache,
float32 through torch's default matmuls; its greedy tokens must equal ours in float32.

    python benchmarks/benchmark_end_to_end.py [--minutes 4] [--dtypes float32,bfloat16] [--baseline] [--memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from recap_benchmark_utils import (
    current_rss_mib,
    full_size_model,
    full_size_processor,
    machine_line,
    peak_rss_mib,
    reference_greedy,
    synthetic_video,
    timed,
)

from transformers_recap import HierarchicalCaptioner, TimedCaption
from transformers_recap.engine.video_io import VideoClipReader


CLIPS_PER_HOUR = 900
SEGMENTS_PER_HOUR = 20
LENGTHS = {"clip": 20, "segment": 76, "video": 119}
ORIGINAL_MINUTES_PER_HOUR = 57.0


def fixed_lengths() -> dict[str, dict[str, int]]:
    return {level: {"min_new_tokens": n, "max_new_tokens": n} for level, n in LENGTHS.items()}


class StageTimer:
    """Wraps the model's encoder and `generate` to add up their wall time per level."""

    def __init__(self, model):
        self.seconds = {"encoder": 0.0, "clip": 0.0, "segment": 0.0, "video": 0.0}
        self.outputs = {"clip": [], "segment": [], "video": []}
        encode, generate = model.get_video_features, model.generate

        def timed_encode(pixel_values_videos):
            start = time.perf_counter()
            output = encode(pixel_values_videos)
            self.seconds["encoder"] += time.perf_counter() - start
            return output

        def timed_generate(**kwargs):
            start = time.perf_counter()
            output = generate(**kwargs)
            self.seconds[kwargs["level"]] += time.perf_counter() - start
            self.outputs[kwargs["level"]].append(output)
            return output

        model.get_video_features, model.generate = timed_encode, timed_generate
        self._model = model

    def remove(self) -> None:
        del self._model.get_video_features, self._model.generate


def hour_inputs(cls_features: torch.Tensor, clips: list[TimedCaption]):
    """Segment windows of a video-hour (46 CLS rows, 45 captions each) and the video window, from recycled clips."""
    rows = cls_features.repeat(CLIPS_PER_HOUR // len(cls_features) + 1, 1)[:CLIPS_PER_HOUR]
    texts = [clips[index % len(clips)].text for index in range(CLIPS_PER_HOUR)]
    segment_features = [rows[45 * s : 45 * s + 46] for s in range(SEGMENTS_PER_HOUR)]
    segment_contexts = [texts[45 * s : 45 * s + 45] for s in range(SEGMENTS_PER_HOUR)]
    return rows, segment_features, segment_contexts


def run_dtype(model, processor, video: Path, dtype: torch.dtype, batch_size: int) -> dict:
    model.to(dtype)
    captioner = HierarchicalCaptioner(
        model, processor, batch_size=batch_size, level_generate_kwargs=fixed_lengths(), progress=False
    )
    # Warm-up on a few clips (first-call allocations, oneDNN primitive creation).
    with VideoClipReader(video) as reader:
        captioner.caption_clips(clip for clip, _ in zip(reader, range(4), strict=False))
    timer = StageTimer(model)
    try:
        with VideoClipReader(video) as reader:
            num_clips = len(reader)
            clip_wall, (cls_features, clips) = timed(lambda: captioner.caption_clips(reader))
        cls_rows, segment_features, segment_contexts = hour_inputs(cls_features, clips)
        segment_wall, segments = timed(
            lambda: captioner.describe_windows("segment", segment_features, segment_contexts)
        )
        video_wall, _ = timed(lambda: captioner.describe_windows("video", [cls_rows], [segments]))
    finally:
        timer.remove()
    per_clip = clip_wall / num_clips
    stages = {
        "decoding wait + preprocessing": max(clip_wall - timer.seconds["encoder"] - timer.seconds["clip"], 0.0)
        / num_clips
        * CLIPS_PER_HOUR,
        "encoder (once per clip)": timer.seconds["encoder"] / num_clips * CLIPS_PER_HOUR,
        "clip captions (Q-Former + decoding)": timer.seconds["clip"] / num_clips * CLIPS_PER_HOUR,
        "segment descriptions (20 windows)": segment_wall,
        "video summary": video_wall,
    }
    return {
        "per_clip": per_clip,
        "stages": stages,
        "hour": sum(stages.values()),
        "clip_ids": timer.outputs["clip"][0],
        "segment_ids": timer.outputs["segment"][0][:1],
        "video_ids": timer.outputs["video"][0],
        "inputs": (cls_rows, segment_features, segment_contexts, segments),
    }


def run_baseline(model, processor, video: Path, inputs) -> dict:
    """The original's way for 8 clips, one segment window and the summary (float32, default matmuls, no cache)."""
    cls_rows, segment_features, segment_contexts, segments = inputs
    with VideoClipReader(video) as reader:
        frames = [clip.frames for clip, _ in zip(reader, range(8), strict=False)]
    pixel_values = processor(videos=frames)["pixel_values_videos"]
    with torch.no_grad():
        encode_time, _ = timed(
            lambda: (model.get_video_features(pixel_values), model.get_video_features(pixel_values))
        )
        dense = model.get_video_features(pixel_values).last_hidden_state
        clip_time, clip_ids = timed(lambda: reference_greedy(model, "clip", LENGTHS["clip"], video_features=dense))
        segment_inputs = processor(video_features=segment_features[:1], context=segment_contexts[:1], level="segment")
        segment_time, segment_ids = timed(
            lambda: reference_greedy(model, "segment", LENGTHS["segment"], **segment_inputs)
        )
        video_inputs = processor(video_features=[cls_rows], context=[segments], level="video")
        video_time, video_ids = timed(lambda: reference_greedy(model, "video", LENGTHS["video"], **video_inputs))
    stages = {
        "encoder (twice per clip)": encode_time / 8 * CLIPS_PER_HOUR,
        "clip captions (Q-Former + no-cache loop)": clip_time / 8 * CLIPS_PER_HOUR,
        "segment descriptions (20 windows)": segment_time * SEGMENTS_PER_HOUR,
        "video summary": video_time,
    }
    return {"stages": stages, "hour": sum(stages.values()), "ids": (clip_ids, segment_ids, video_ids)}


def memory_child(video: str, dtype: str, batch_size: int) -> None:
    """Runs all three levels on `video` in this (child) process and prints its memory as JSON."""
    model = full_size_model().to(getattr(torch, dtype))
    processor = full_size_processor(Path(tempfile.gettempdir()) / "recap_benchmarks")
    after_load = current_rss_mib()
    captioner = HierarchicalCaptioner(
        model, processor, batch_size=batch_size, level_generate_kwargs=fixed_lengths(), progress=False
    )
    start = time.perf_counter()
    result = captioner.caption_video(video)
    print(
        json.dumps(
            {
                "after_load": after_load,
                "peak": peak_rss_mib(),
                "seconds": time.perf_counter() - start,
                "clips": len(result.clips),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the measured video")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--baseline", action="store_true", help="also time the original's way (about 2 minutes)")
    parser.add_argument("--memory", action="store_true", help="peak RSS for a 2- and a 10-minute video (bfloat16)")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "recap_benchmarks")
    parser.add_argument("--memory-child", nargs=3, metavar=("VIDEO", "DTYPE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return

    print(f"# End to end, full-size Video ReCap, random weights ({machine_line()})")
    video = synthetic_video(args.work_dir / f"synthetic_{args.minutes:g}min.mp4", args.minutes * 60)
    model = full_size_model()
    processor = full_size_processor(args.work_dir)
    results, baseline = {}, None
    for name in args.dtypes.split(","):
        results[name] = run_dtype(model, processor, video, getattr(torch, name), args.batch_size)
        if name == "float32" and args.baseline:
            baseline = run_baseline(model, processor, video, results[name]["inputs"])

    names = list(results)
    print(
        f"\n{args.minutes:g}-minute video measured, extrapolated to a video-hour (seconds; batch {args.batch_size}):"
    )
    print(f"{'stage':<40}" + "".join(f"{name:>12}" for name in names))
    for stage in results[names[0]]["stages"]:
        print(f"{stage:<40}" + "".join(f"{results[name]['stages'][stage]:12.1f}" for name in names))
    print(f"{'total per video-hour (s)':<40}" + "".join(f"{results[n]['hour']:12.1f}" for n in names))
    print(f"{'  = minutes per video-hour':<40}" + "".join(f"{results[n]['hour'] / 60:12.2f}" for n in names))
    print(f"{'  = seconds per video-minute':<40}" + "".join(f"{results[n]['hour'] / 60:12.2f}" for n in names))
    print(
        f"{'  vs the original (57 min per hour)':<40}"
        + "".join(f"{ORIGINAL_MINUTES_PER_HOUR * 60 / results[n]['hour']:11.1f}x" for n in names)
    )

    if baseline is not None:
        ours = results["float32"]
        print("\nThe original's way on the same inputs, now, extrapolated to a video-hour (seconds):")
        for stage, seconds in baseline["stages"].items():
            print(f"{stage:<44}{seconds:10.1f}")
        print(f"{'total (s)':<44}{baseline['hour']:10.1f}  = {baseline['hour'] / 60:.1f} min")
        for name in names:
            print(f"speed-up of ours in {name}, same run: {baseline['hour'] / results[name]['hour']:.1f}x")
        clip_ids, segment_ids, video_ids = baseline["ids"]
        same = (
            torch.equal(ours["clip_ids"][:8], clip_ids)
            and torch.equal(ours["segment_ids"], segment_ids)
            and torch.equal(ours["video_ids"], video_ids)
        )
        print(f"float32 greedy tokens identical to the step-by-step loop (8 clips, 1 segment, summary): {same}")
        if "bfloat16" in results:
            agreement = (results["bfloat16"]["clip_ids"][:8] == clip_ids).all(dim=1).float().mean().item()
            print(f"bfloat16 clip captions equal to float32's (random weights): {agreement:.0%}")

    if args.memory:
        print("\nPeak RSS, all three levels, bfloat16 (separate processes):")
        for minutes in (2, 10):
            path = synthetic_video(args.work_dir / f"synthetic_{minutes}min.mp4", minutes * 60)
            command = [sys.executable, __file__, "--memory-child", str(path), "bfloat16", str(args.batch_size)]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()
            memory = json.loads(output[-1])
            print(
                f"{minutes:3d}-minute video: peak {memory['peak']:8.0f} MiB, after loading the model "
                f"{memory['after_load']:8.0f} MiB, growth {memory['peak'] - memory['after_load']:6.0f} MiB, "
                f"{memory['clips']} clips in {memory['seconds']:.0f} s"
            )


if __name__ == "__main__":
    main()
