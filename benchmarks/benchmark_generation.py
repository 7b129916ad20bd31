# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Clip-caption generation: our `generate` against the original's step-by-step greedy loop, in one run.

A batch of 8 clips' dense encoder tokens (full-size model, random weights) is captioned with 20 new tokens each (EOS
banned on both sides, since random weights rarely emit it; the original's clip captions average about 20 tokens):

- original-style: the video Q-Former once, then 20 decoder passes over the whole prefix, no KV cache, float32 through
  torch's default matmuls (MKL);
- ours: `model.generate(video_features=..., level="clip", min_new_tokens=20, max_new_tokens=20)`, KV cache (the
  memory's cross-attention keys/values computed once), with and without the oneDNN linear layers, and in bfloat16.

The greedy tokens of every float32 variant must equal the original-style loop's.

    python benchmarks/benchmark_generation.py [--batch-size 8] [--tokens 20] [--repeats 2]
"""

from __future__ import annotations

import argparse

import torch
from recap_benchmark_utils import full_size_model, machine_line, reference_greedy, timed

from transformers_recap import onednn_linear_layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    model = full_size_model()
    generator = torch.Generator().manual_seed(0)
    dense = torch.randn(args.batch_size, 785, 768, generator=generator)
    length = {"min_new_tokens": args.tokens, "max_new_tokens": args.tokens, "do_sample": False, "num_beams": 1}

    def ours():
        return model.generate(video_features=dense, level="clip", **length)

    rows = []
    with torch.no_grad():
        ours()  # warm-up
        reference_time, reference_ids = timed(
            lambda: reference_greedy(model, "clip", args.tokens, video_features=dense)
        )
        rows.append(("original-style loop (no cache, fp32 MKL)", reference_time, True))
        default_time, default_ids = timed(ours, args.repeats)
        rows.append(("ours: generate + KV cache (fp32 MKL)", default_time, torch.equal(default_ids, reference_ids)))
        with onednn_linear_layers(model):
            ours()
            fast_time, fast_ids = timed(ours, args.repeats)
        rows.append(("ours: generate + KV cache + oneDNN (fp32)", fast_time, torch.equal(fast_ids, reference_ids)))
        model.to(torch.bfloat16)
        dense = dense.bfloat16()
        with onednn_linear_layers(model):
            ours()
            bf16_time, bf16_ids = timed(ours, args.repeats)
        agreement = (bf16_ids == reference_ids).float().mean().item()
        rows.append(("ours: generate + KV cache + oneDNN (bf16)", bf16_time, f"{agreement:.0%} of tokens"))

    print(f"# Clip captions: batch {args.batch_size}, {args.tokens} new tokens each ({machine_line()})")
    print(f"{'variant':<46} {'seconds':>8} {'speed-up':>9}  same greedy tokens as the loop")
    for name, seconds, same in rows:
        print(f"{name:<46} {seconds:8.2f} {reference_time / seconds:8.2f}x  {same}")


if __name__ == "__main__":
    main()
