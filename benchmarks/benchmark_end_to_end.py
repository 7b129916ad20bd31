# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
One video-hour at all three levels against this machine's FLOP floor and the original's way, all in one run.

Full-size architecture (`VideoReCapConfig()`), random weights, this machine's CPU threads. In the same run it measures:

1. the matmul ceiling of each dtype: GFLOP/s of a vision block's GEMM mix at a 4-clip batch (3,140 rows), the better
   of `F.linear` and oneDNN's linear primitive, after a 1.5-s warm-up, read before all stages and again after that
   dtype's stages (the faster reading counts: the ceilings of a shared CPU drift);
2. the FLOP floor of one video-hour per dtype, the work at that ceiling: 900 clips x (encoder 184.6 + clip Q-Former
   64.3 GFLOP), plus 0.389 GFLOP per decoder position (900 clips x 20, 20 segment windows x 76, the summary's 119);
   the segment and video Q-Formers (under 1% of the work) are left out, so the floor is a lower bound;
3. our time: `--clips` clips of a synthetic 640x360 30-fps video captioned by `HierarchicalCaptioner` (frames decoded
   in its background thread, each clip encoded once, batches of `--batch-size`), then the 20 segment windows of a
   video-hour (46 CLS rows and 45 clip captions each, recycled from the measured clips) and the summary (900 CLS rows,
   20 descriptions), in each dtype; with `--compile`, with the encoder compiled (`compile_encoder=True`), its
   compilation in the warm-up on two clips, whose time is printed and left out of the video-hour;
4. the original's way (float32, torch's default matmuls, on the same inputs): the encoder run twice per clip
   (captions, then CLS features), the step-by-step greedy loop re-running the decoder on the whole prefix without a
   cache, for the measured clips, one segment window and the summary; its greedy tokens must equal ours in float32.

Extrapolation rule: clip-level stages (frame decoding, encoder, clip Q-Former, clip decoding) scale by 900 / `--clips`;
the segment level is measured on all 20 windows (the original's way on one window, x 20); the summary in full. With
fewer clips than `--batch-size`, our clip decoding is timed once more on a full batch (the measured clips' dense
tokens repeated), the batch a video-hour decodes in; the original's way decodes the measured clips in one batch.
Random weights almost never emit EOS, so caption lengths are fixed as the original's measured parts assume (clip 20,
segment 76, summary 119 tokens, `min_new_tokens = max_new_tokens`).

    python benchmarks/benchmark_end_to_end.py [--clips 8] [--dtypes float32,bfloat16] [--threads 1] [--no-baseline]
        [--memory] [--compile]

`--clips 8` (the default) takes about 5 minutes on 2 cores; `--clips 900` measures a whole video-hour of clips.
"""

from __future__ import annotations

import argparse
import copy
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
    gemm_ceiling,
    load_line,
    machine_line,
    peak_rss_mib,
    reference_greedy,
    synthetic_video,
)

from transformers_recap import HierarchicalCaptioner, TimedCaption, onednn_linear_layers
from transformers_recap.engine.video_io import VideoClipReader


CLIPS_PER_HOUR = 900
SEGMENTS_PER_HOUR = 20
CLIP_SECONDS = 4
LENGTHS = {"clip": 20, "segment": 76, "video": 119}
# Work per item (performance-facts.md, from the reference shapes), GFLOP.
ENCODER_GFLOP = 184.6
CLIP_QFORMER_GFLOP = 64.3
DECODER_GFLOP_PER_POSITION = 0.389
CEILING_ROWS = 4 * 785
STAGES = ("encoder", "clip Q-Former", "clip decoding", "segment level", "video level")
# Decoder positions per video-hour: with a KV cache each new token is one position; the original's loop re-runs the
# whole prefix, 1 + 2 + ... + n positions for n tokens.
DECODER_POSITIONS = {
    "clip decoding": CLIPS_PER_HOUR * LENGTHS["clip"],
    "segment level": SEGMENTS_PER_HOUR * LENGTHS["segment"],
    "video level": LENGTHS["video"],
}


def floor_gflop() -> dict[str, float]:
    """The work of one video-hour per stage, GFLOP."""
    work = {
        "encoder": CLIPS_PER_HOUR * ENCODER_GFLOP,
        "clip Q-Former": CLIPS_PER_HOUR * CLIP_QFORMER_GFLOP,
    }
    work.update({stage: positions * DECODER_GFLOP_PER_POSITION for stage, positions in DECODER_POSITIONS.items()})
    return work


def fixed_lengths() -> dict[str, dict[str, int]]:
    return {level: {"min_new_tokens": n, "max_new_tokens": n} for level, n in LENGTHS.items()}


class StageTimer:
    """Wraps the model's encoder, Q-Former and `generate` to add up their wall time (and keep `generate`'s outputs)."""

    def __init__(self, model):
        self.seconds = {"encoder": 0.0, "clip": 0.0, "segment": 0.0, "video": 0.0, "clip Q-Former": 0.0}
        self.outputs = {"clip": [], "segment": [], "video": []}
        encode, generate = model.get_video_features, model.generate
        query_embeddings = model.model.get_query_embeddings

        def timed_encode(pixel_values_videos):
            start = time.perf_counter()
            output = encode(pixel_values_videos)
            self.seconds["encoder"] += time.perf_counter() - start
            return output

        def timed_query_embeddings(level, **inputs):
            start = time.perf_counter()
            output = query_embeddings(level, **inputs)
            if level == "clip":
                self.seconds["clip Q-Former"] += time.perf_counter() - start
            return output

        def timed_generate(**kwargs):
            start = time.perf_counter()
            output = generate(**kwargs)
            self.seconds[kwargs["level"]] += time.perf_counter() - start
            self.outputs[kwargs["level"]].append(output)
            return output

        model.get_video_features, model.generate = timed_encode, timed_generate
        model.model.get_query_embeddings = timed_query_embeddings
        self._model = model

    def remove(self) -> None:
        del self._model.get_video_features, self._model.generate, self._model.model.get_query_embeddings


def hour_inputs(cls_features: torch.Tensor, clips: list[TimedCaption]):
    """Segment windows of a video-hour (46 CLS rows, 45 captions each) and the video window, from recycled clips."""
    rows = cls_features.repeat(CLIPS_PER_HOUR // len(cls_features) + 1, 1)[:CLIPS_PER_HOUR]
    texts = [clips[index % len(clips)].text for index in range(CLIPS_PER_HOUR)]
    segment_features = [rows[45 * s : 45 * s + 46] for s in range(SEGMENTS_PER_HOUR)]
    segment_contexts = [texts[45 * s : 45 * s + 45] for s in range(SEGMENTS_PER_HOUR)]
    return rows, segment_features, segment_contexts


def run_ours(model, processor, video: Path, dtype: torch.dtype, batch_size: int, compile_encoder: bool) -> dict:
    """
    Seconds per stage of one video-hour in `dtype` (clip stages extrapolated from the clips of `video`), on a copy of
    the float32 `model` in that dtype (converting `model` itself would leave it with rounded weights for the
    original's way; compiling it, a compiled encoder).
    """
    if dtype != torch.float32 or compile_encoder:
        model = copy.deepcopy(model).to(dtype)
    captioner = HierarchicalCaptioner(
        model,
        processor,
        batch_size=batch_size,
        level_generate_kwargs=fixed_lengths(),
        compile_encoder=compile_encoder,
        progress=False,
    )
    # Warm-up on two clips (first-call allocations, oneDNN primitive creation, the compilation).
    start = time.perf_counter()
    with VideoClipReader(video) as reader:
        captioner.caption_clips(clip for clip, _ in zip(reader, range(2), strict=False))
    warm_up = time.perf_counter() - start
    timer = StageTimer(model)
    try:
        with VideoClipReader(video) as reader:
            num_clips = len(reader)
            start = time.perf_counter()
            dense = []
            cls_features, clips = captioner.caption_clips(reader, dense_features=dense)
            clip_wall = time.perf_counter() - start
        cls_rows, segment_features, segment_contexts = hour_inputs(cls_features, clips)
        start = time.perf_counter()
        segments = captioner.describe_windows("segment", segment_features, segment_contexts)
        segment_wall = time.perf_counter() - start
        start = time.perf_counter()
        captioner.describe_windows("video", [cls_rows], [segments])
        video_wall = time.perf_counter() - start
        scale = CLIPS_PER_HOUR / num_clips
        seconds = dict(timer.seconds)
        clip_decoding = (seconds["clip"] - seconds["clip Q-Former"]) * scale
        if num_clips < batch_size:
            # A video-hour decodes full batches: time one, on the measured clips' dense tokens repeated.
            tokens = torch.cat(dense).to(dtype)
            tokens = tokens.repeat(batch_size // num_clips + 1, 1, 1)[:batch_size]
            with torch.no_grad(), onednn_linear_layers(model, enabled=captioner.use_onednn):
                model.generate(video_features=tokens, level="clip", **fixed_lengths()["clip"])
            full_batch = (
                timer.seconds["clip"] - seconds["clip"] - (timer.seconds["clip Q-Former"] - seconds["clip Q-Former"])
            )
            clip_decoding = full_batch * CLIPS_PER_HOUR / batch_size
    finally:
        timer.remove()
    stages = {
        "encoder": seconds["encoder"] * scale,
        "clip Q-Former": seconds["clip Q-Former"] * scale,
        "clip decoding": clip_decoding,
        "segment level": segment_wall,
        "video level": video_wall,
    }
    return {
        "stages": stages,
        "warm_up": warm_up,
        "frames": max(clip_wall - seconds["encoder"] - seconds["clip"], 0.0) * scale,
        "clip_ids": torch.cat(timer.outputs["clip"])[:num_clips],
        "segment_ids": timer.outputs["segment"][0][:1],
        "video_ids": timer.outputs["video"][0],
        "inputs": (cls_rows, segment_features, segment_contexts, segments),
    }


def run_original_way(model, processor, video: Path, num_clips: int, inputs) -> dict:
    """The original's way on `num_clips` clips, one segment window and the summary (float32, default matmuls)."""
    cls_rows, segment_features, segment_contexts, segments = inputs
    with VideoClipReader(video) as reader:
        frames = [clip.frames for clip, _ in zip(reader, range(num_clips), strict=False)]
    pixel_values = processor(videos=frames)["pixel_values_videos"]
    scale = CLIPS_PER_HOUR / num_clips
    stages = {}
    with torch.no_grad():
        start = time.perf_counter()
        dense = torch.cat([model.get_video_features(clip[None]).last_hidden_state for clip in pixel_values])
        for clip in pixel_values:
            model.get_video_features(clip[None])  # the second pass, for the CLS features
        stages["encoder"] = (time.perf_counter() - start) * scale
        start = time.perf_counter()
        memory, _ = model.get_query_embeddings("clip", video_features=dense)
        stages["clip Q-Former"] = (time.perf_counter() - start) * scale
        start = time.perf_counter()
        clip_ids = reference_greedy(model, "clip", LENGTHS["clip"], video_features=dense)
        stages["clip decoding"] = (time.perf_counter() - start) * scale - stages["clip Q-Former"]
        segment_inputs = processor(video_features=segment_features[:1], context=segment_contexts[:1], level="segment")
        start = time.perf_counter()
        segment_ids = reference_greedy(model, "segment", LENGTHS["segment"], **segment_inputs)
        stages["segment level"] = (time.perf_counter() - start) * SEGMENTS_PER_HOUR
        video_inputs = processor(video_features=[cls_rows], context=[segments], level="video")
        start = time.perf_counter()
        video_ids = reference_greedy(model, "video", LENGTHS["video"], **video_inputs)
        stages["video level"] = time.perf_counter() - start
    return {"stages": stages, "ids": (clip_ids, segment_ids, video_ids)}


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


def print_table(names, ceilings, results, original) -> None:
    work = floor_gflop()
    floors = {name: {stage: work[stage] / ceilings[name]["best"] for stage in STAGES} for name in names}
    header = f"{'one video-hour (s)':<22}"
    for name in names:
        header += f"{'floor ' + name:>16}{'ours':>9}{'x floor':>8}"
    if original:
        header += f"{'original (fp32)':>17}{'x fp32 floor':>13}"
    print(header)
    for stage in (*STAGES, "model compute"):
        line = f"{stage:<22}"
        for name in names:
            if stage == "model compute":
                ours, floor = sum(results[name]["stages"].values()), sum(floors[name].values())
            else:
                ours, floor = results[name]["stages"][stage], floors[name][stage]
            line += f"{floor:16.1f}{ours:9.1f}{ours / floor:7.2f}x"
        if original:
            fp32_floor = {**floors.get("float32", {}), "model compute": sum(floors.get("float32", {}).values())}
            theirs = sum(original["stages"].values()) if stage == "model compute" else original["stages"][stage]
            line += f"{theirs:17.1f}"
            line += f"{theirs / fp32_floor[stage]:12.2f}x" if fp32_floor else f"{'':13}"
        print(line)
    line = f"{'  = minutes':<22}"
    for name in names:
        line += f"{sum(floors[name].values()) / 60:16.2f}{sum(results[name]['stages'].values()) / 60:9.2f}{'':8}"
    if original:
        line += f"{sum(original['stages'].values()) / 60:17.2f}"
    print(line)
    print(
        f"{'frame decoding wait':<22}"
        + "".join(f"{'':16}{results[name]['frames']:9.1f}{'':8}" for name in names)
        + "  (not model compute: PyAV in a background thread, plus preprocessing)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8, help="clips measured (900 = a whole video-hour)")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-baseline", action="store_true", help="skip the original's way (about 2 minutes)")
    parser.add_argument("--memory", action="store_true", help="peak RSS for a 2- and a 10-minute video (bfloat16)")
    parser.add_argument("--threads", type=int, help="torch threads, ceilings and stages alike")
    parser.add_argument(
        "--compile", action="store_true", help="ours with the compiled encoder (compile_encoder=True; minutes)"
    )
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "recap_benchmarks")
    parser.add_argument("--memory-child", nargs=3, metavar=("VIDEO", "DTYPE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return

    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.dtypes.split(",")
    print(f"# One video-hour, full-size Video ReCap, random weights ({machine_line()})")
    print(f"# start: {load_line()}")
    ceilings = {name: gemm_ceiling(getattr(torch, name), tokens=CEILING_ROWS) for name in names}
    for name, ceiling in ceilings.items():
        print(
            f"{name} GEMM ceiling (vision block mix, {CEILING_ROWS} rows): {ceiling['best']:.0f} GFLOP/s "
            f"(F.linear {ceiling['default']:.0f}, oneDNN linear {ceiling['onednn']:.0f})"
        )
    video = synthetic_video(args.work_dir / f"synthetic_{args.clips}clips.mp4", args.clips * CLIP_SECONDS)
    model = full_size_model()
    processor = full_size_processor(args.work_dir)
    results, original = {}, None
    for name in names:
        results[name] = run_ours(model, processor, video, getattr(torch, name), args.batch_size, args.compile)
        print(f"# {name} done, warm-up on 2 clips {results[name]['warm_up']:.0f} s: {load_line()}")
        # A shared or throttled CPU drifts: read the ceiling again and take the faster reading for the floor.
        after = gemm_ceiling(getattr(torch, name), tokens=CEILING_ROWS)
        print(
            f"{name} GEMM ceiling after its stages: {after['best']:.0f} GFLOP/s "
            f"({after['best'] / ceilings[name]['best'] - 1:+.0%} on the first reading)"
        )
        ceilings[name]["best"] = max(ceilings[name]["best"], after["best"])
    if not args.no_baseline:
        reference = results.get("float32") or run_ours(
            model, processor, video, torch.float32, args.batch_size, args.compile
        )
        original = run_original_way(model, processor, video, args.clips, reference["inputs"])
        print(f"# original's way done: {load_line()}")

    print(
        f"\n{args.clips} clips measured (x {CLIPS_PER_HOUR / args.clips:g} for a video-hour), 20 segment windows, the "
        f"summary; batch {args.batch_size}; floors at each dtype's ceiling:"
    )
    print_table(names, ceilings, results, original)
    if original is not None:
        total = sum(original["stages"].values())
        for name in names:
            print(
                f"speed-up of ours in {name} over the original's way, same run: "
                f"{total / sum(results[name]['stages'].values()):.1f}x"
            )
        if "float32" in results:
            ours = results["float32"]
            clip_ids, segment_ids, video_ids = original["ids"]
            same = {
                f"{args.clips} clips": torch.equal(ours["clip_ids"], clip_ids),
                "1 segment": torch.equal(ours["segment_ids"], segment_ids),
                "summary": torch.equal(ours["video_ids"], video_ids),
            }
            print(
                "float32 greedy tokens identical to the step-by-step loop: "
                + ", ".join(f"{part} {equal}" for part, equal in same.items())
            )
            if "bfloat16" in results:
                bf16 = results["bfloat16"]["clip_ids"]
                agreement = (bf16 == clip_ids).all(dim=1).float().mean().item()
                print(
                    f"bfloat16 clip captions equal to float32's: {agreement:.0%} (random weights; for a trained "
                    "model see benchmark_dtype_agreement.py)"
                )
    print(f"# end: {load_line()}")

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
