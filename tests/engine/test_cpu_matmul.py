"""The oneDNN linear layers: routed only in the entering thread, only the given model's layers, values unchanged."""

import threading

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from transformers.pytorch_utils import Conv1D

from transformers_recap.engine.cpu_matmul import onednn_linear_layers, onednn_matmul_available


pytestmark = pytest.mark.skipif(not onednn_matmul_available(), reason="this torch build has no oneDNN linear operator")

ONEDNN_LINEAR = torch.ops.mkldnn._linear_pointwise


class CallRecorder(TorchFunctionMode):
    """Records the torch functions called under it (entered outside the block, it sees what the block calls)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls.append((func, args))
        return func(*args, **(kwargs or {}))

    def onednn_calls(self, weight: torch.Tensor | None = None) -> int:
        """oneDNN linear calls (with `weight`, those computing that layer: the same storage)."""
        return sum(
            func in (ONEDNN_LINEAR, ONEDNN_LINEAR.default)
            and (weight is None or args[1].untyped_storage().data_ptr() == weight.untyped_storage().data_ptr())
            for func, args in self.calls
        )


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(16, 12)
        self.conv1d = Conv1D(8, 12)  # GPT-2's layout: weight (in_features, out_features)
        nn.init.normal_(self.conv1d.bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.conv1d(torch.relu(self.linear(hidden_states)))


def reference(model: TwoLayers, hidden_states: torch.Tensor) -> torch.Tensor:
    """The same computation in float64 with plain matrix products."""
    hidden_states = hidden_states.double()
    hidden = torch.relu(hidden_states @ model.linear.weight.double().T + model.linear.bias.double())
    return hidden @ model.conv1d.weight.double() + model.conv1d.bias.double()


@pytest.fixture
def model():
    return TwoLayers().eval()


@pytest.fixture
def inputs():
    return torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))


def test_routed_layers_compute_the_linear_maps(model, inputs):
    with torch.no_grad(), CallRecorder() as recorder, onednn_linear_layers(model) as routed:
        output = model(inputs)
    assert routed == 2
    assert recorder.onednn_calls() == 2
    assert output.dtype == torch.float32 and output.shape == (3, 5, 8)
    torch.testing.assert_close(output.double(), reference(model, inputs), rtol=1e-5, atol=1e-5)


def test_module_tree_and_parameters_are_untouched(model, inputs):
    parameters = {name: (id(p), p.data_ptr()) for name, p in model.named_parameters()}
    with torch.no_grad(), onednn_linear_layers(model):
        assert not any("forward" in vars(module) for module in model.modules())
        model(inputs)
    assert {name: (id(p), p.data_ptr()) for name, p in model.named_parameters()} == parameters


def test_nested_block_routes_nothing_new_and_outer_stays_active(model, inputs):
    with torch.no_grad(), CallRecorder() as recorder, onednn_linear_layers(model) as outer:
        with onednn_linear_layers(model) as nested:
            model(inputs)
        model(inputs)
    assert (outer, nested) == (2, 0)
    assert recorder.onednn_calls() == 4
    with torch.no_grad(), CallRecorder() as recorder:
        model(inputs)
    assert recorder.onednn_calls() == 0  # gone after the block


def test_other_threads_and_other_models_keep_the_default_kernels(model, inputs):
    other_model = TwoLayers().eval()
    inside, started, results = threading.Event(), threading.Event(), {}

    def other_thread():
        started.set()
        inside.wait(timeout=30)
        with torch.no_grad(), CallRecorder() as recorder:
            results["output"] = model(inputs)
        results["onednn_calls"] = recorder.onednn_calls()

    thread = threading.Thread(target=other_thread)
    thread.start()
    started.wait(timeout=30)
    with torch.no_grad(), CallRecorder() as recorder, onednn_linear_layers(model):
        inside.set()
        thread.join(timeout=60)
        other_model(inputs)
    assert results["onednn_calls"] == 0
    assert recorder.onednn_calls() == 0  # only other_model ran in this block
    torch.testing.assert_close(results["output"].double(), reference(model, inputs), rtol=1e-5, atol=1e-5)


def test_fallbacks_bfloat16_gradients_disabled(model, inputs):
    with CallRecorder() as recorder, onednn_linear_layers(model):
        output = model(inputs)  # gradients required: torch's kernels, and they flow
        output.sum().backward()
    assert recorder.onednn_calls() == 0
    # d(sum)/d(conv1d.bias) is the number of rows.
    torch.testing.assert_close(model.conv1d.bias.grad, torch.full((8,), 15.0))

    model.to(torch.bfloat16)
    with torch.no_grad(), CallRecorder() as recorder, onednn_linear_layers(model):
        output = model(inputs.bfloat16())
    assert recorder.onednn_calls() == 0 and output.dtype == torch.bfloat16
    torch.testing.assert_close(output.double(), reference(model, inputs.bfloat16()), rtol=2e-2, atol=2e-2)

    with torch.no_grad(), CallRecorder() as recorder, onednn_linear_layers(model, enabled=False) as routed:
        model.float()(inputs)
    assert routed == 0 and recorder.onednn_calls() == 0


def test_tied_output_layer_of_a_generating_model_gives_the_same_tokens(tiny_config):
    from tests.utils import make_tiny_model

    torch.manual_seed(0)
    model = make_tiny_model(tiny_config)
    features = torch.randn(2, 9, tiny_config.vision_config.hidden_size, generator=torch.Generator().manual_seed(2))
    options = {"level": "clip", "min_new_tokens": 6, "max_new_tokens": 6, "do_sample": False}
    with torch.no_grad():
        expected = model.generate(video_features=features, **options)
        with CallRecorder() as recorder, onednn_linear_layers(model) as routed:
            ids = model.generate(video_features=features, **options)
    assert routed == sum(isinstance(m, (nn.Linear, Conv1D)) for m in model.modules())
    assert recorder.onednn_calls(model.lm_head.weight) == 6  # the tied output layer, at every step
    assert torch.equal(ids, expected)


@pytest.mark.parametrize(
    ("machine", "vendor", "expected"),
    [
        ("x86_64", "AuthenticAMD", True),  # MKL takes its AVX2 path
        ("x86_64", "GenuineIntel", False),  # MKL's AVX-512 kernels are the faster
        ("x86_64", None, True),  # vendor unreadable: an x86 CPU MKL may not tune for
        ("aarch64", None, False),  # no MKL on ARM builds
    ],
)
def test_routing_is_on_by_default_except_on_intel_cpus(monkeypatch, tmp_path, machine, vendor, expected):
    from transformers_recap.engine import cpu_matmul, dtype

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        f"processor\t: 0\nvendor_id\t: {vendor}\nflags\t\t: fpu avx2\n" if vendor else "processor\t: 0\n"
    )
    monkeypatch.setattr(dtype, "_CPUINFO", cpuinfo)
    monkeypatch.setattr(cpu_matmul.platform, "machine", lambda: machine)
    cpu_matmul.onednn_routing_helps.cache_clear()
    try:
        assert cpu_matmul.onednn_routing_helps() is expected
    finally:
        cpu_matmul.onednn_routing_helps.cache_clear()
