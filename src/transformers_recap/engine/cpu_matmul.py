# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
oneDNN matrix multiplications for CPU inference.

On CPUs where MKL does not pick its best kernels (e.g. AMD EPYC, where it takes its AVX2 path), torch's default
float32 `nn.Linear` runs at a third to a half of the speed oneDNN reaches on the same machine (measure yours with
`benchmarks/benchmark_cpu_matmul.py`). On Intel CPUs MKL runs its AVX-512 kernels and is the faster of the two
(measured on a Xeon with AMX: the float32 encoder 0.91x, clip captions 0.99x with oneDNN), so
[`onednn_routing_helps`] says whether to route on this machine: everywhere but on Intel x86 CPUs. torch has no public switch that sends an exact (IEEE) float32 linear layer to
oneDNN: `torch.backends.mkldnn.matmul.fp32_precision` only does so with reduced-precision (bf16 / tf32) arithmetic,
and `torch.compile` with freezing costs minutes of compilation per input shape. [`onednn_linear_layers`] therefore
routes the float32 `nn.Linear` and transformers `Conv1D` (GPT-2's projections) layers of one model through oneDNN's
linear primitive for the duration of a `with` block.

How, and why it is thread-safe: the block enters a `torch.overrides.TorchFunctionMode` (torch's public interception
mechanism). torch keeps the mode stack per thread, so only the thread that entered the block is affected; no module,
forward, parameter or state-dict entry is touched, and other threads using the same model at the same time run
torch's default kernels. The mode intercepts `F.linear` (what `nn.Linear` calls) and `torch.addmm` (what `Conv1D`
calls) when their weight is one of the model's and falls back to the call itself whenever the fast path does not
apply: inputs not on the CPU, gradients required, dtypes other than float32, or `addmm` with `beta` / `alpha`.

The kernel is reached through `torch.ops.mkldnn._linear_pointwise`, the operator torch's own compiler (inductor) emits
for CPU linear layers. It is not a public API, so it is probed once per process (its result compared with
`F.linear`'s on a small input) and, if it is missing or disagrees, every block runs torch's default kernels.

In float32 oneDNN sums in a different order than MKL, so results differ in the last bits (relative 1e-6); greedy
captions are unaffected in our measurements (`benchmarks/benchmark_cpu_matmul.py` checks the greedy tokens). Only the
dispatch is written here; the kernels are oneDNN's.
"""

import functools
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from transformers.pytorch_utils import Conv1D
from transformers.utils import logging

from .dtype import cpuinfo_value


logger = logging.get_logger(__name__)

_FAST_DTYPES = (torch.float32,)
# Weights (by `id`) routed by the blocks open in each thread, so that a nested block for the same model is a no-op.
_routed = threading.local()


@functools.cache
def onednn_matmul_available() -> bool:
    """
    Whether this torch build has oneDNN and its linear operator, and the operator computes `x @ w.T + b` (checked once
    on a small input against `F.linear`).
    """
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return False
    generator = torch.Generator().manual_seed(0)
    hidden_states, weight, bias = (torch.randn(*shape, generator=generator) for shape in ((3, 5, 16), (8, 16), (8,)))
    try:
        with torch.no_grad():
            output = torch.ops.mkldnn._linear_pointwise(hidden_states, weight, bias, "none", [], "")
    except RuntimeError as error:
        logger.info(f"oneDNN linear operator unusable, using torch's default kernels: {error}")
        return False
    expected = F.linear(hidden_states, weight, bias)
    return output.shape == expected.shape and torch.allclose(output, expected, rtol=1e-4, atol=1e-5)


@functools.cache
def onednn_routing_helps() -> bool:
    """
    Whether [`onednn_linear_layers`] is worth its while on this machine's CPU: on x86 CPUs other than Intel's, where
    MKL (torch's default float32 GEMM) takes its AVX2 path. On Intel CPUs (`vendor_id` `GenuineIntel` in
    `/proc/cpuinfo`) MKL's own AVX-512 kernels are the faster ones; on other architectures (ARM) torch does not use MKL.
    """
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return False
    return cpuinfo_value("vendor_id") != "GenuineIntel"


def _fast_path_applies(hidden_states: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        hidden_states.device.type == "cpu"
        and weight.device.type == "cpu"
        and hidden_states.dtype in _FAST_DTYPES
        and hidden_states.dtype == weight.dtype
        and hidden_states.dim() >= 2
        and not (torch.is_grad_enabled() and (weight.requires_grad or hidden_states.requires_grad))
    )


def _linear_arguments(input, weight, bias=None):  # noqa: A002 (F.linear's parameter names)
    return input, weight, bias


class OneDNNLinearMode(TorchFunctionMode):
    """
    A torch function mode computing `F.linear(x, w, b)` and Conv1D's `torch.addmm(b, x, w)` in oneDNN for the weights
    in `weight_ids` (float32 CPU inputs, no gradient); every other call runs unchanged.

    Args:
        weight_ids (`frozenset[int]`): `id` of the `nn.Linear` weights to route.
        transposed_weight_ids (`frozenset[int]`): `id` of the `Conv1D` weights (stored as `(in_features,
            out_features)`) to route.
    """

    def __init__(self, weight_ids: frozenset[int], transposed_weight_ids: frozenset[int]):
        super().__init__()
        self.weight_ids = weight_ids
        self.transposed_weight_ids = transposed_weight_ids

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            hidden_states, weight, bias = _linear_arguments(*args, **kwargs)
            if id(weight) in self.weight_ids and _fast_path_applies(hidden_states, weight):
                return torch.ops.mkldnn._linear_pointwise(hidden_states, weight, bias, "none", [], "")
        elif func is torch.addmm and len(args) == 3 and not kwargs:
            bias, hidden_states, weight = args
            if id(weight) in self.transposed_weight_ids and _fast_path_applies(hidden_states, weight):
                # (out_features, in_features) view; oneDNN reads the strides, no copy.
                return torch.ops.mkldnn._linear_pointwise(hidden_states, weight.t(), bias, "none", [], "")
        return func(*args, **kwargs)


@contextmanager
def onednn_linear_layers(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """
    Within the block, in the thread that entered it, the `nn.Linear` and `Conv1D` layers of `model` compute through
    oneDNN when their input is a float32 CPU tensor and no gradient is needed. Other threads, other models and the
    module tree are not affected. Yields the number of layers routed: 0 when `enabled` is false, this torch build has
    no usable oneDNN linear operator, or an enclosing block of the same thread already routes them.

    Example:

    ```python
    >>> with torch.inference_mode(), onednn_linear_layers(model):
    ...     ids = model.generate(**inputs)
    ```
    """
    if not enabled or not onednn_matmul_available():
        yield 0
        return
    routed: set[int] = _routed.__dict__.setdefault("weight_ids", set())
    linear, transposed, count = set(), set(), 0
    for module in model.modules():
        if isinstance(module, (nn.Linear, Conv1D)) and id(module.weight) not in routed:
            (transposed if isinstance(module, Conv1D) else linear).add(id(module.weight))
            count += 1
    if not count:
        yield 0
        return
    new_ids = linear | transposed
    routed |= new_ids
    logger.debug(f"Routing {count} linear layers through oneDNN in this thread.")
    try:
        with OneDNNLinearMode(frozenset(linear), frozenset(transposed)):
            yield count
    finally:
        routed -= new_ids


__all__ = ["OneDNNLinearMode", "onednn_linear_layers", "onednn_matmul_available", "onednn_routing_helps"]
