# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
`onednn_linear_layers` against torch's default kernels, in one run: the encoder's GEMM mix (float32 and bfloat16), one
clip through the full-size video encoder and clip captions (Q-Former + 20 greedy tokens), float32, full-size model,
random weights. The variants alternate, round after round, and the fastest round counts (the CPU is shared). Prints
the times, the speed-ups and whether the greedy tokens are identical.

With `--compare-with FILE`, a second implementation of `onednn_linear_layers` (e.g. an earlier version, from
`git show REV:src/transformers_recap/engine/cpu_matmul.py > FILE`) runs alongside.

    python benchmarks/benchmark_cpu_matmul.py [--tokens 20] [--batch-size 4] [--rounds 3] [--threads 1]
        [--compare-with FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util

import torch
from recap_benchmark_utils import full_size_model, gemm_ceiling, interleaved, load_line, machine_line

from transformers_recap import onednn_linear_layers


def load_implementation(path: str):
    spec = importlib.util.spec_from_file_location("compared_cpu_matmul", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.onednn_linear_layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--compare-with", help="a file defining another onednn_linear_layers")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# oneDNN linear layers vs torch's default ({machine_line()}; {load_line()})")

    for dtype in (torch.float32, torch.bfloat16):
        ceilings = gemm_ceiling(dtype, tokens=785)
        print(
            f"{str(dtype)[6:]} encoder GEMM mix, 785 rows: F.linear {ceilings['default']:.0f} GFLOP/s, oneDNN linear "
            f"{ceilings['onednn']:.0f} GFLOP/s ({ceilings['onednn'] / ceilings['default']:.2f}x)"
        )

    model = full_size_model()
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(1, 4, 3, 224, 224, generator=generator)
    dense = torch.randn(args.batch_size, 785, 768, generator=generator)
    length = {"min_new_tokens": args.tokens, "max_new_tokens": args.tokens, "do_sample": False, "num_beams": 1}
    variants = {"default": lambda: contextlib.nullcontext(), "oneDNN (this tree)": lambda: onednn_linear_layers(model)}
    if args.compare_with:
        compared = load_implementation(args.compare_with)
        variants[f"oneDNN ({args.compare_with})"] = lambda: compared(model)

    def under(context, function):
        def run():
            with context():
                return function()

        return run

    encode = lambda: model.get_video_features(pixels).pooler_output  # noqa: E731
    generate = lambda: model.generate(video_features=dense, level="clip", **length)  # noqa: E731
    with torch.no_grad():
        for context in variants.values():
            under(context, encode)()  # warm-up (first-call allocations, oneDNN primitive creation)
        encoder = interleaved({name: under(context, encode) for name, context in variants.items()}, args.rounds)
        captions = interleaved({name: under(context, generate) for name, context in variants.items()}, args.rounds)

    print(f"\nfloat32, fastest of {args.rounds} alternating rounds (s):")
    print(
        f"{'variant':<44}{'encoder, 1 clip':>16}{'clip captions':>15}  (batch {args.batch_size} x {args.tokens} tokens)"
    )
    reference_ids = captions["default"][1]
    for name in variants:
        print(
            f"{name:<44}{encoder[name][0]:10.2f} {encoder['default'][0] / encoder[name][0]:4.2f}x"
            f"{captions[name][0]:9.2f} {captions['default'][0] / captions[name][0]:4.2f}x"
            f"  greedy tokens as default: {torch.equal(captions[name][1], reference_ids)}"
        )
    print(f"# {load_line()}")


if __name__ == "__main__":
    main()
