# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Throughput of captioning a video library at the three levels, in one run on this machine:

- `per video`: `transformers-recap caption LIB --output FILE.jsonl`, one process, the pipeline called per video;
- `library x1`: `transformers-recap caption LIB --output-dir DIR`, one process, clips, segment windows and summaries
  of several videos batched together;
- `library x2`: the same under `torchrun --nproc-per-node 2` (two processes, shards balanced by duration, one thread
  each where the others use all cores), then `transformers-recap merge`.

Each command runs as a fresh process, so its time includes starting Python, importing, listing the videos and reading
their headers, and loading the model; the same command run again with everything done measures the first part
(`startup`: a run with nothing to do does not load the model), and `steady` is the rest. Printed per configuration: wall time, videos per hour, wall seconds per video-minute, CPU seconds (user + system
of all its processes) per video-minute, and whether the merged results equal the one-process ones line for line (in
float32 they must).

The library is synthetic 640x360 30-fps H.264 videos of varied length (`--seconds`); the model is the bundled demo
model (tiny: decoding frames weighs much), or `--full-size` (the released architecture with random weights; slow on
a few cores: use a short library).

    python benchmarks/benchmark_throughput.py [--seconds 30,45,60,90,20,75,40,120] [--full-size] [--dtype float32]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from recap_benchmark_utils import full_size_model, full_size_processor, machine_line, synthetic_video


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", default="30,45,60,90,20,75,40,120", help="lengths of the library's videos")
    parser.add_argument("--full-size", action="store_true", help="the released architecture (random weights)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "auto"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--work-dir", help="where videos and results go (default: a temporary directory)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the command and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}\n{completed.stdout[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None) -> None:
    args = parse_args(argv)
    seconds = [float(value) for value in args.seconds.split(",")]
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="recap-throughput-"))
    library = work / "videos"
    for index, length in enumerate(seconds):
        synthetic_video(library / f"video-{index:03d}-{length:g}s.mp4", length)
    if args.full_size:
        model = work / "full-size-model"
        if not model.exists():
            full_size_model().save_pretrained(model)
            full_size_processor(work).save_pretrained(model)
        model_name = "full size, random weights"
    else:
        from transformers_recap import demo_model_path

        model, model_name = Path(demo_model_path()), "bundled demo model"
    minutes = sum(seconds) / 60
    cores = os.cpu_count() or 1
    base = [sys.executable, "-m", "transformers_recap.cli", "caption", str(library), "--model", str(model)]
    base += ["--dtype", args.dtype, "--batch-size", str(args.batch_size), "--device", "cpu", "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    one_thread = {**env, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    configurations = {
        "per video": (lambda: base + ["--output", str(work / "per-video.jsonl")], env),
        "library x1": (lambda: base + ["--output-dir", str(work / "one")], env),
        "library x2": (
            lambda: (
                [*torchrun, "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *base[1:]]
                + ["--output-dir", str(work / "two")]
            ),
            one_thread,
        ),
    }
    print(f"# {machine_line()}; {cores} cores; model: {model_name}, {args.dtype}, batch {args.batch_size}")
    print(f"# library: {len(seconds)} videos, {minutes:.1f} video-minutes (640x360, 30 fps); {work}")
    print(
        f"{'configuration':<12} {'wall s':>8} {'startup s':>9} {'steady s':>8} {'videos/h':>9} "
        f"{'wall s/vmin':>11} {'steady s/vmin':>13} {'CPU s/vmin':>10}"
    )
    results = {}
    for name, (command, environment) in configurations.items():
        wall, cpu = run(command(), environment)
        startup, _ = run(command(), environment)
        steady = max(wall - startup, 1e-9)
        results[name] = wall
        print(
            f"{name:<12} {wall:8.1f} {startup:9.1f} {steady:8.1f} {3600 * len(seconds) / wall:9.0f} "
            f"{wall / minutes:11.2f} {steady / minutes:13.2f} {cpu / minutes:10.2f}"
        )
    merged = {}
    for name in ("one", "two"):
        merged[name] = work / f"{name}.jsonl"
        subprocess.run(
            [sys.executable, "-m", "transformers_recap.cli", "merge", str(work / name), "-o", str(merged[name])],
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
    per_video = (work / "per-video.jsonl").read_text()
    print(
        f"library x1 / per video: {results['per video'] / results['library x1']:.2f}x faster; "
        f"library x2 / library x1: {results['library x1'] / results['library x2']:.2f}x faster (wall, same run)"
    )
    print(
        f"merged x2 == x1 line for line: {merged['two'].read_text() == merged['one'].read_text()}; "
        f"x1 == per video: {merged['one'].read_text() == per_video}"
    )


if __name__ == "__main__":
    main()
