# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Shared pieces of the Video ReCap speed benchmarks: the full-size model with random weights, a GPT-2-sized tokenizer
trained on the fly (no Hub here), synthetic test videos, the original's decoding loop, and small timing helpers.
"""

from __future__ import annotations

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


def timed(function: Callable, repeats: int = 1) -> tuple[float, object]:
    """Median wall time of `repeats` calls (after none: the first call is measured) and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


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
