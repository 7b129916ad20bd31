# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
bfloat16 against float32 on a trained model: the bundled demo model captions unseen Synthetic-HCap videos at the
three levels in both dtypes, in one run; prints how many clip captions (and segment descriptions, summaries) are
equal, how many float32 clip captions say what the ground truth says (same action, object and direction, in any
paraphrase), and the wall time of each dtype. With `--compile`, the bfloat16 run compiles its encoder
(`compile_encoder=True`; its wall time then includes the compilation) and float32 stays eager, the reference.

    python benchmarks/benchmark_dtype_agreement.py [--videos 4] [--first-seed 5000] [--compile]
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import torch
from recap_benchmark_utils import machine_line, timed, unseen_synthetic_videos

from transformers_recap import HierarchicalCaptioner, VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.data.synthetic import parse_clip_caption
from transformers_recap.demo import demo_model_path


def caption_all(captioner: HierarchicalCaptioner, paths: list[Path]) -> list:
    return [captioner.caption_video(str(path)) for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--first-seed", type=int, default=5000)
    parser.add_argument("--model", default=None, help="a Synthetic-HCap model (default: the bundled demo model)")
    parser.add_argument("--compile", action="store_true", help="compile the bfloat16 run's encoder")
    args = parser.parse_args()

    model_dir = Path(args.model or demo_model_path())
    processor = VideoReCapProcessor.from_pretrained(model_dir)
    with tempfile.TemporaryDirectory() as directory:
        truths, paths = unseen_synthetic_videos(model_dir, args.videos, args.first_seed, Path(directory))
        results, times = {}, {}
        for dtype in (torch.float32, torch.bfloat16):
            model = VideoReCapForConditionalGeneration.from_pretrained(model_dir, dtype=dtype).eval()
            compile_encoder = args.compile and dtype == torch.bfloat16
            captioner = HierarchicalCaptioner(model, processor, compile_encoder=compile_encoder, progress=False)
            times[dtype], results[dtype] = timed(partial(caption_all, captioner, paths))

    pairs = {"clip captions": [], "segment descriptions": [], "summaries": []}
    for fp32, bf16 in zip(results[torch.float32], results[torch.bfloat16], strict=True):
        pairs["clip captions"] += [(a.text, b.text) for a, b in zip(fp32.clips, bf16.clips, strict=True)]
        pairs["segment descriptions"] += [(a.text, b.text) for a, b in zip(fp32.segments, bf16.segments, strict=True)]
        pairs["summaries"].append((fp32.summary, bf16.summary))
    truth_clips = [clip.caption for truth in truths for clip in truth.clips]
    correct = sum(
        parse_clip_caption(fp32) == parse_clip_caption(truth)
        for (fp32, _), truth in zip(pairs["clip captions"], truth_clips, strict=True)
    )
    print(machine_line())
    print(f"{args.videos} unseen synthetic videos, demo model {model_dir}")
    for name, items in pairs.items():
        equal = sum(a == b for a, b in items)
        print(
            f"bfloat16{' (compiled encoder)' if args.compile else ''} {name} equal to float32's: {equal}/{len(items)} ({equal / len(items):.0%})"
        )
    print(
        f"float32 clip captions saying what the ground truth says (action, object, direction): {correct}/{len(truth_clips)}"
    )
    print(f"wall time float32 {times[torch.float32]:.2f} s, bfloat16 {times[torch.bfloat16]:.2f} s")


if __name__ == "__main__":
    main()
