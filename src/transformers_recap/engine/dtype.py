# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The model dtype for a device: `"auto"` picks bfloat16 where the device runs it fast and float32 elsewhere.

bfloat16 is fast on CUDA GPUs with native bfloat16 (`torch.cuda.is_bf16_supported(including_emulation=False)`:
compute capability 8.0 and later, and ROCm GPUs), on Intel XPUs, and on CPUs with AMX-BF16 or AVX512-BF16
instructions, whose matrix multiplications oneDNN runs at several times the float32 rate. Other CPUs (e.g. AVX2-only
x86, where torch's bfloat16 matmuls take a path about 5x slower than float32), Apple GPUs and GPUs without native
bfloat16 get float32. The CPU's instruction sets are read from `torch.cpu.get_capabilities()` where torch has it, else
from the `flags` of `/proc/cpuinfo`; a CPU whose features cannot be read gets float32.

bfloat16 captions of a trained model mostly equal float32's (see `benchmarks/benchmark_dtype_agreement.py`); float32
is the dtype whose greedy output equals the original code's token for token.
"""

from functools import lru_cache
from pathlib import Path

import torch
from transformers.utils import logging


logger = logging.get_logger(__name__)

DTYPE_NAMES = ("auto", "float32", "bfloat16", "float16")
# x86 instruction sets with bfloat16 dot products (oneDNN's `avx512_core_bf16` and `avx512_core_amx` paths).
CPU_BFLOAT16_FEATURES = ("amx_bf16", "avx512_bf16")
_CPUINFO = Path("/proc/cpuinfo")


@lru_cache(maxsize=1)
def cpu_features() -> frozenset[str]:
    """
    The CPU's instruction-set features that this module looks at, among [`CPU_BFLOAT16_FEATURES`] (empty when they
    cannot be read).
    """
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is not None:
        capabilities = get_capabilities()
        return frozenset(name for name in CPU_BFLOAT16_FEATURES if capabilities.get(name) is True)
    return frozenset(name for name in CPU_BFLOAT16_FEATURES if name in cpuinfo_flags())


def cpuinfo_value(key: str, path: Path | None = None) -> str | None:
    """The value of `key` for the first processor in `path` (default `/proc/cpuinfo`; `None` where there is none, e.g.
    macOS, or the key is missing)."""
    try:
        text = (path or _CPUINFO).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def cpuinfo_flags(path: Path | None = None) -> frozenset[str]:
    """The `flags` of the first processor in `path` (default `/proc/cpuinfo`; empty where there is none, e.g. macOS)."""
    return frozenset((cpuinfo_value("flags", path) or "").split())


def auto_dtype(device: str | torch.device) -> tuple[torch.dtype, str]:
    """
    The fast dtype for `device` and why.

    Args:
        device (`str` or `torch.device`): `"cpu"`, `"cuda"`, `"cuda:1"`, ...
    Returns:
        `(dtype, reason)`: `torch.bfloat16` or `torch.float32`, and a short phrase naming what decided it.
    """
    device = torch.device(device)
    if device.type == "cpu":
        found = sorted(cpu_features())
        if found and torch.backends.mkldnn.is_available():
            return torch.bfloat16, f"the CPU has {' and '.join(found)}"
        if found:
            return torch.float32, "this torch build has no oneDNN for bfloat16 matmuls"
        return torch.float32, "the CPU has no AMX-BF16 or AVX512-BF16"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return torch.float32, "CUDA is not available"
        with torch.cuda.device(device):
            name = torch.cuda.get_device_name()
            if torch.cuda.is_bf16_supported(including_emulation=False):
                return torch.bfloat16, f"{name} has native bfloat16"
        return torch.float32, f"{name} has no native bfloat16"
    if device.type == "xpu" and torch.xpu.is_available() and torch.xpu.is_bf16_supported():
        return torch.bfloat16, "the XPU supports bfloat16"
    return torch.float32, f"bfloat16 is not known to be fast on {device.type}"


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device) -> torch.dtype:
    """
    The `torch.dtype` to run a model in on `device`.

    Args:
        dtype (`str`, `torch.dtype` or `None`): `"auto"` (see [`auto_dtype`]), a name in [`DTYPE_NAMES`], a
            `torch.dtype`, or `None` (float32).
        device (`str` or `torch.device`): where the model runs.
    Raises:
        `ValueError`: `dtype` names no supported dtype.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None:
        return torch.float32
    if dtype == "auto":
        chosen, reason = auto_dtype(device)
        logger.info(f"dtype='auto' on {torch.device(device)}: {str(chosen).removeprefix('torch.')} ({reason}).")
        return chosen
    if dtype not in DTYPE_NAMES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)} or a torch.dtype, got {dtype!r}.")
    return getattr(torch, dtype)


__all__ = [
    "CPU_BFLOAT16_FEATURES",
    "DTYPE_NAMES",
    "auto_dtype",
    "cpu_features",
    "cpuinfo_flags",
    "cpuinfo_value",
    "resolve_dtype",
]
