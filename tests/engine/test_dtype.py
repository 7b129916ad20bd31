"""`resolve_dtype` / `auto_dtype`: bfloat16 only where the device has fast bfloat16, detected from the hardware."""

import argparse
from contextlib import nullcontext
from types import MappingProxyType

import pytest
import torch
from transformers import pipeline

from tests.video_fixtures import save_tiny_model
from transformers_recap import cli
from transformers_recap.engine import dtype as dtype_module
from transformers_recap.engine.dtype import auto_dtype, cpu_features, cpuinfo_flags, cpuinfo_value, resolve_dtype


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu sse2
"""


@pytest.fixture
def fake_cpu(monkeypatch):
    """Sets the capabilities torch reports (`torch.cpu.get_capabilities`), or removes that function (`None`)."""

    def apply(capabilities):
        cpu_features.cache_clear()
        if capabilities is None:
            monkeypatch.delattr(torch.cpu, "get_capabilities", raising=False)
        else:
            monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: MappingProxyType(capabilities), raising=False)

    yield apply
    cpu_features.cache_clear()


def test_cpuinfo_flags_reads_the_first_processor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert cpuinfo_flags(path) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    assert cpuinfo_flags(tmp_path / "missing") == frozenset()
    assert cpuinfo_value("vendor_id", path) == "GenuineIntel"
    assert cpuinfo_value("model name", path) is None
    assert cpuinfo_value("vendor_id", tmp_path / "missing") is None


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        ({"avx2": True, "amx_bf16": True, "amx_tile": True, "avx512_bf16": False}, torch.bfloat16),
        ({"avx2": True, "avx512_f": True, "avx512_bf16": True}, torch.bfloat16),
        # AVX-512 without its bfloat16 extension, AVX2 only, AMX tiles without bfloat16, an ARM CPU.
        ({"avx2": True, "avx512_f": True, "avx512_bw": True, "avx512_bf16": False}, torch.float32),
        ({"avx2": True, "fma3": True}, torch.float32),
        ({"amx_tile": True, "amx_int8": True, "amx_bf16": False}, torch.float32),
        ({"architecture": "arm64", "neon": True, "bf16": True}, torch.float32),
    ],
)
def test_auto_picks_bfloat16_only_with_amx_or_avx512_bf16(fake_cpu, capabilities, expected):
    fake_cpu(capabilities)
    chosen, reason = auto_dtype("cpu")
    assert chosen == expected
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    if expected == torch.bfloat16:
        assert "bf16" in reason


def test_without_torch_capabilities_the_cpuinfo_flags_decide(fake_cpu, monkeypatch, tmp_path):
    fake_cpu(None)
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    monkeypatch.setattr(dtype_module, "_CPUINFO", path)
    assert cpu_features() == {"amx_bf16", "avx512_bf16"}
    assert auto_dtype("cpu")[0] == torch.bfloat16
    path.write_text(CPUINFO.replace(" avx512_bf16 amx_tile amx_bf16", ""))
    cpu_features.cache_clear()
    assert auto_dtype("cpu")[0] == torch.float32


def test_this_machine_agrees_with_its_cpuinfo():
    """On Linux, the detected features are the bfloat16 flags the kernel lists for this CPU."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    listed = {"amx_bf16", "avx512_bf16"} & set(flags)
    cpu_features.cache_clear()
    assert cpu_features() == listed
    assert auto_dtype("cpu")[0] == (torch.bfloat16 if listed else torch.float32)


def test_cuda_follows_native_bfloat16_support(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert auto_dtype("cuda") == (torch.float32, "CUDA is not available")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device", lambda device: nullcontext())
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda: "Some GPU")
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True, n=native: n)
        assert auto_dtype("cuda:0")[0] == expected
    assert auto_dtype("mps")[0] == torch.float32


def test_explicit_dtypes_pass_through_and_bad_names_fail():
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    assert resolve_dtype("float16", "cuda") == torch.float16
    assert resolve_dtype(torch.float16, "cpu") == torch.float16
    assert resolve_dtype(None, "cpu") == torch.float32
    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16, float16"):
        resolve_dtype("fp8", "cpu")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("fast", [torch.bfloat16, torch.float32])
def test_pipeline_auto_casts_a_float32_model_to_the_fast_dtype(model_dir, monkeypatch, fast):
    monkeypatch.setattr(dtype_module, "auto_dtype", lambda device: (fast, "test"))
    assert pipeline("video-recap", model=str(model_dir), progress=False).model.dtype == fast
    # An explicit dtype is kept, and "auto" never casts a model that is not float32.
    explicit = pipeline("video-recap", model=str(model_dir), dtype=torch.float32, progress=False)
    assert explicit.model.dtype == torch.float32
    half = pipeline("video-recap", model=str(model_dir), dtype=torch.float16, progress=False)
    assert pipeline("video-recap", model=half.model, processor=half.processor).model.dtype == torch.float16


def test_cli_auto_says_what_it_chose(model_dir, monkeypatch, capsys):
    monkeypatch.setattr(dtype_module, "auto_dtype", lambda device: (torch.bfloat16, "the CPU has amx_bf16"))
    arguments = argparse.Namespace(model=str(model_dir), device="cpu", dtype="auto", no_progress=False)
    assert cli._build_pipeline(arguments).model.dtype == torch.bfloat16
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("transformers-recap")]
    assert said == ["transformers-recap: --dtype auto: bfloat16 on cpu (the CPU has amx_bf16)"]
    arguments.dtype = "float32"
    assert cli._build_pipeline(arguments).model.dtype == torch.float32
    assert "transformers-recap" not in capsys.readouterr().err
