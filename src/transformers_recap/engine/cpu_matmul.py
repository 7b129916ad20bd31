# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
oneDNN matrix multiplications for CPU inference.

On CPUs where MKL does not pick its best kernels (e.g. AMD EPYC, where it takes its AVX2 path), torch's default
float32 `nn.Linear` runs at about half the speed oneDNN reaches on the same machine (bfloat16 goes through oneDNN
already, and oneDNN's linear primitive has no bfloat16 kernel on CPUs without AVX512-BF16 or AMX, so bfloat16 layers
keep their own forward). [`onednn_linear_layers`] routes every float32 `nn.Linear` and
transformers `Conv1D` (GPT-2's projections) of a model through oneDNN's linear primitive for the duration of a
`with` block, without touching the parameters: the state dict, the tied weights and the module tree stay as they are,
and the original forwards come back on exit.

In float32 oneDNN sums in a different order than MKL, so results differ in the last bits (relative 1e-6); greedy
captions are unaffected in our measurements (see `benchmarks/`). Layers fall back to their own forward whenever the
fast path does not apply: inputs not on the CPU, gradients required, or dtypes other than float32.

Only the dispatch is written here; the kernels are oneDNN's, reached through the operator torch's own compiler
(inductor) uses for CPU linear layers.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D
from transformers.utils import logging


logger = logging.get_logger(__name__)

_FAST_DTYPES = (torch.float32,)


def onednn_matmul_available() -> bool:
    """Whether this torch build has oneDNN and its linear operator."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _onednn_forward(module: nn.Module, transposed: bool):
    """A forward for `module` computing `input @ weight.T + bias` (`input @ weight + bias` for `Conv1D`) in oneDNN."""
    default_forward = type(module).forward

    def forward(hidden_states: torch.Tensor) -> torch.Tensor:
        weight = module.weight
        if (
            hidden_states.device.type != "cpu"
            or weight.device.type != "cpu"
            or hidden_states.dtype not in _FAST_DTYPES
            or hidden_states.dtype != weight.dtype
            or (torch.is_grad_enabled() and (weight.requires_grad or hidden_states.requires_grad))
        ):
            return default_forward(module, hidden_states)
        # (out_features, in_features) view; oneDNN reads the strides, no copy.
        weight = weight.t() if transposed else weight
        return torch.ops.mkldnn._linear_pointwise(hidden_states, weight, module.bias, "none", [], "")

    return forward


@contextmanager
def onednn_linear_layers(model: nn.Module, enabled: bool = True) -> Iterator[int]:
    """
    Within the block, the `nn.Linear` and `Conv1D` layers of `model` compute through oneDNN when their input is a
    float32 CPU tensor and no gradient is needed. Yields the number of layers routed (0 when `enabled` is
    false or this torch build has no oneDNN). Not re-entrant for the same layers from several threads.

    Example:

    ```python
    >>> with torch.inference_mode(), onednn_linear_layers(model):
    ...     ids = model.generate(**inputs)
    ```
    """
    if not enabled or not onednn_matmul_available():
        yield 0
        return
    patched = []
    try:
        for module in model.modules():
            if "forward" in vars(module):
                continue  # already routed by an enclosing block, or patched by someone else
            if isinstance(module, nn.Linear):
                module.forward = _onednn_forward(module, transposed=False)
            elif isinstance(module, Conv1D):
                module.forward = _onednn_forward(module, transposed=True)
            else:
                continue
            patched.append(module)
        logger.debug(f"Routing {len(patched)} linear layers through oneDNN.")
        yield len(patched)
    finally:
        for module in patched:
            del module.forward


__all__ = ["onednn_linear_layers", "onednn_matmul_available"]
