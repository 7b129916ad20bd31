# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Shared pieces of the Video ReCap speed benchmarks: the full-size model with random weights, a GPT-2-sized tokenizer
trained on the fly (no Hub here), synthetic test videos, the original's decoding loop, and small timing helpers.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2TokenizerFast

from transformers_recap import (
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
)


GPT2_VOCAB_SIZE = 50257

# (in_features, out_features) of the four GEMMs of a vision block: fused qkv, output projection, MLP up and down.
# Each block runs the attention pair twice (temporal and spatial), so the qkv and projection shapes count twice.
ENCODER_GEMMS = ((768, 2304, 2), (768, 768, 2), (768, 3072, 1), (3072, 768, 1))


def full_size_model(seed: int = 0) -> VideoReCapForConditionalGeneration:
    """`VideoReCapConfig()` (the released architecture) with random weights; gates at 0.5 so the video matters."""
    torch.manual_seed(seed)
    return VideoReCapForConditionalGeneration(VideoReCapConfig(gate_init_value=0.5)).eval()


def gpt2_sized_tokenizer(cache_dir: Path) -> GPT2TokenizerFast:
    """
    A byte-level BPE with GPT-2's vocabulary size (50,256 merges + `<|endoftext|>` = 50256), trained on random words,
    so that generated ids decode to text and re-tokenise to about as many tokens as with GPT-2.
    """
    path = cache_dir / "gpt2_sized_tokenizer.json"
    if not path.exists():
        rng = random.Random(0)
        letters = "abcdefghijklmnopqrstuvwxyz"
        lines = [
            " ".join("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(20))
            for _ in range(40_000)
        ]
        bpe = ByteLevelBPETokenizer()
        bpe.train_from_iterator(lines, vocab_size=GPT2_VOCAB_SIZE - 1, min_frequency=1)
        bpe.add_special_tokens(["<|endoftext|>"])
        path.parent.mkdir(parents=True, exist_ok=True)
        bpe.save(str(path))
    tokenizer = GPT2TokenizerFast(tokenizer_file=str(path), bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    assert len(tokenizer) == GPT2_VOCAB_SIZE and tokenizer.eos_token_id == GPT2_VOCAB_SIZE - 1
    return tokenizer


def full_size_processor(cache_dir: Path) -> VideoReCapProcessor:
    return VideoReCapProcessor(video_processor=VideoReCapVideoProcessor(), tokenizer=gpt2_sized_tokenizer(cache_dir))


def synthetic_video(path: Path, seconds: float, fps: int = 30, width: int = 640, height: int = 360) -> Path:
    """An H.264 video (x264 `veryfast`, keyframe every 250 frames) of moving coloured shapes over a textured floor."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    floor = rng.integers(40, 90, (height // 8, width // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    shapes = [(rng.integers(20, 80), rng.integers(0, 255, 3), rng.uniform(-4, 4, 2)) for _ in range(6)]
    temporary = path.with_suffix(".partial.mp4")
    with av.open(str(temporary), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast"}
        for index in range(int(seconds * fps)):
            frame = floor.copy()
            for number, (size, colour, (dx, dy)) in enumerate(shapes):
                x = int(abs((number * 97 + index * dx) % (2 * (width - size)) - (width - size)))
                y = int(abs((number * 53 + index * dy) % (2 * (height - size)) - (height - size)))
                frame[y : y + size, x : x + size] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    temporary.rename(path)
    return path


def unseen_synthetic_videos(model_dir: Path, count: int, first_seed: int, directory: Path) -> tuple[list, list[Path]]:
    """
    `count` Synthetic-HCap videos rendered with the layout of the model in `model_dir`, from seeds (from `first_seed`
    on) that its training did not use: their plans (ground truth) and paths in `directory`.
    """
    from transformers_recap.data.synthetic import SYNTHETIC_SETTINGS_FILE, render_in_layout

    layout = json.loads((model_dir / SYNTHETIC_SETTINGS_FILE).read_text())
    seeds = [seed for seed in range(first_seed, first_seed + 10 * count) if seed not in layout["seeds"]]
    rendered = [render_in_layout(layout, seed, directory) for seed in seeds[:count]]
    return [truth for truth, _ in rendered], [path for _, path in rendered]


def reference_greedy(model, level: str, steps: int, **inputs) -> torch.Tensor:
    """
    The original's decoding loop (`VideoRecap.generate`): the memory computed once, then every step re-runs the decoder
    on the whole prefix with no cache and takes the argmax. EOS is banned so that all `steps` tokens are produced, as
    `min_new_tokens` does on our side.
    """
    memory, _ = model.get_query_embeddings(level, **inputs)
    bos, eos = model.config.text_config.bos_token_id, model.config.text_config.eos_token_id
    ids = torch.full((memory.shape[0], 1), bos, dtype=torch.long)
    for _ in range(steps):
        logits = model(input_ids=ids, encoder_hidden_states=memory, level=level, use_cache=False).logits[:, -1]
        logits[:, eos] = -float("inf")
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
    return ids


def timed(
    function: Callable, repeats: int = 1, synchronize: Callable[[], None] = lambda: None
) -> tuple[float, object]:
    """
    Median wall time of `repeats` calls (after none: the first call is measured) and the last result; `synchronize`
    (see [`synchronizer`]) runs before each clock reading, so that a GPU's queued work is counted.
    """
    times, result = [], None
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        result = function()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def interleaved(functions: dict[str, Callable], rounds: int = 3) -> dict[str, tuple[float, object]]:
    """
    Calls each function once per round, in turn, and returns per name the fastest time and the last result. On a shared
    machine, alternating the variants spreads other processes' load over all of them, and the minimum is the time least
    disturbed by it.
    """
    times: dict[str, list[float]] = {name: [] for name in functions}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            results[name] = function()
            times[name].append(time.perf_counter() - start)
    return {name: (min(times[name]), results[name]) for name in functions}


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * resource.getpagesize() / 2**20


def machine_line() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, torch {torch.__version__}, {torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}"


def load_line() -> str:
    """This machine's load average (other processes share the CPU; ratios from one run are what to compare)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def _seconds_per_call(function: Callable, seconds: float, synchronize: Callable[[], None]) -> float:
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        function()
        calls += 1
    synchronize()
    return (time.perf_counter() - start) / calls


def synchronizer(device: str | torch.device) -> Callable[[], None]:
    """A function that waits for `device`'s queued work (a no-op on the CPU), for wall-clock timing."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def gemm_ceiling(
    dtype: torch.dtype, tokens: int, device: str = "cpu", warmup_seconds: float = 1.5, seconds: float = 0.4
) -> dict:
    """
    GFLOP/s of a vision block's GEMM mix (`ENCODER_GEMMS`, `tokens` rows) in `dtype` on `device`: through `F.linear`
    ("default", torch's choice: MKL in float32 on the CPU, cuBLAS on CUDA) and, on the CPU, through oneDNN's linear
    primitive ("onednn", the kernel inductor emits), and the better of the two ("best"). Warmed up for
    `warmup_seconds` first (shorter warm-ups read 30-60% low).
    """
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    operands = [
        (
            torch.randn(tokens, k, generator=generator).to(device, dtype),
            torch.randn(n, k, generator=generator).to(device, dtype),
            torch.randn(n, generator=generator).to(device, dtype),
            count,
        )
        for k, n, count in ENCODER_GEMMS
    ]
    flops = sum(2 * tokens * w.shape[0] * w.shape[1] * count for _, w, _, count in operands)
    paths = {"default": F.linear}
    if torch.device(device).type == "cpu":
        paths["onednn"] = lambda x, w, b: torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
    synchronize = synchronizer(device)
    result = {}
    with torch.no_grad():
        for name, linear in paths.items():
            start = time.perf_counter()
            while time.perf_counter() - start < warmup_seconds:
                for x, w, b, _ in operands:
                    linear(x, w, b)
            synchronize()
            total = sum(
                _seconds_per_call(lambda x=x, w=w, b=b, linear=linear: linear(x, w, b), seconds, synchronize) * count
                for x, w, b, count in operands
            )
            result[name] = flops / total / 1e9
    result["best"] = max(result.values())
    return result
