"""Save/load, Auto classes, remote code and the published hub configs."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoVideoProcessor,
    GenerationConfig,
)

from tests.models.video_recap.test_modeling_video_recap import level_inputs, randomize
from transformers_recap import (
    LEVELS,
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapModel,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
)
from transformers_recap.models.video_recap.processing_video_recap import DEFAULT_INPUT_SETTINGS


HUB_CONFIGS = Path(__file__).resolve().parents[3] / "hub_configs"


@pytest.fixture
def saved(tmp_path, tiny_config, tiny_processor):
    model = randomize(VideoReCapForConditionalGeneration(tiny_config))
    model.save_pretrained(tmp_path)
    tiny_processor.save_pretrained(tmp_path)
    return model, tmp_path


def all_level_logits(model, config):
    input_ids = torch.tensor([[config.text_config.bos_token_id, 5, 9, 11]] * 2)
    return {
        level: model(input_ids=input_ids, level=level, **level_inputs(config, level)).logits.detach()
        for level in LEVELS
    }


def test_save_load_round_trip(saved):
    model, directory = saved
    assert (directory / "model.safetensors").exists()
    assert not list(directory.glob("*.bin"))
    reloaded, info = VideoReCapForConditionalGeneration.from_pretrained(directory, output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"]
    assert not info["unexpected_keys"]
    assert reloaded.lm_head.weight.data_ptr() == reloaded.model.language_model.wte.weight.data_ptr()
    expected = all_level_logits(model, model.config)
    for level, logits in all_level_logits(reloaded.eval(), reloaded.config).items():
        torch.testing.assert_close(logits, expected[level], atol=0, rtol=0)
    # saving the reloaded model gives the same tensors again
    second = directory / "again"
    reloaded.save_pretrained(second)
    again = VideoReCapForConditionalGeneration.from_pretrained(second).eval()
    for level, logits in all_level_logits(again, again.config).items():
        torch.testing.assert_close(logits, expected[level], atol=0, rtol=0)


def test_auto_classes_round_trip(saved):
    model, directory = saved
    config = json.loads((directory / "config.json").read_text())
    assert config["model_type"] == "video_recap"
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForImageTextToText"}
    assert isinstance(AutoConfig.from_pretrained(directory), VideoReCapConfig)
    auto_model = AutoModelForImageTextToText.from_pretrained(directory).eval()
    assert isinstance(auto_model, VideoReCapForConditionalGeneration)
    base = AutoModel.from_pretrained(directory).eval()
    assert isinstance(base, VideoReCapModel)
    inputs = level_inputs(model.config, "video")
    input_ids = torch.tensor([[0, 5, 9]] * 2)
    full = model.model(input_ids=input_ids, level="video", **inputs).last_hidden_state
    torch.testing.assert_close(base(input_ids=input_ids, level="video", **inputs).last_hidden_state, full)
    processor = AutoProcessor.from_pretrained(directory)
    assert isinstance(processor, VideoReCapProcessor)
    assert isinstance(AutoVideoProcessor.from_pretrained(directory), VideoReCapVideoProcessor)
    processor.check_model_config(model.config)


def test_trust_remote_code_without_the_package(saved, tmp_path):
    """A saved directory loads in a process where `transformers_recap` cannot be imported."""
    model, directory = saved
    inputs = level_inputs(model.config, "segment")
    torch.save(inputs, tmp_path / "inputs.pt")
    expected = model(input_ids=torch.tensor([[0, 7, 8]] * 2), level="segment", **inputs).logits
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["transformers_recap"] = None  # import transformers_recap -> ImportError
        import torch
        from transformers import AutoConfig, AutoModel, AutoModelForImageTextToText, AutoProcessor
        directory = {str(directory)!r}
        model = AutoModelForImageTextToText.from_pretrained(directory, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert type(AutoModel.from_pretrained(directory, trust_remote_code=True)).__name__ == "VideoReCapModel"
        processor = AutoProcessor.from_pretrained(directory, trust_remote_code=True)
        assert type(processor).__name__ == "VideoReCapProcessor"
        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        logits = model(input_ids=torch.tensor([[0, 7, 8]] * 2), level="segment", **inputs).logits
        torch.save(logits, {str(tmp_path / "logits.pt")!r})
        """
    )
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    torch.testing.assert_close(torch.load(tmp_path / "logits.pt", weights_only=True), expected)


def test_processor_save_load_keeps_settings(tmp_path, tiny_processor):
    tiny_processor.save_pretrained(tmp_path)
    reloaded = VideoReCapProcessor.from_pretrained(tmp_path)
    assert reloaded.input_settings == tiny_processor.input_settings
    assert reloaded.video_processor.image_mean == tiny_processor.video_processor.image_mean
    assert reloaded.tokenizer.eos_token_id == tiny_processor.tokenizer.eos_token_id


@pytest.mark.parametrize("variant", ["video-recap", "video-recap-u"])
def test_hub_configs(variant, tmp_path, tiny_tokenizer):
    directory = HUB_CONFIGS / variant
    config = VideoReCapConfig.from_pretrained(directory)
    generation_config = GenerationConfig.from_pretrained(directory)
    assert generation_config.bos_token_id == generation_config.eos_token_id == 50256
    assert generation_config.pad_token_id == 50256 and not generation_config.do_sample
    processor_config = json.loads((directory / "processor_config.json").read_text())
    assert set(processor_config["input_settings"]) == set(LEVELS)
    video = processor_config["video_processor"]
    assert video["image_mean"] == [108.3272985, 116.7460125, 104.09373615]
    assert video["crop_size"] == {"height": 224, "width": 224} and video["size"] == {"shortest_edge": 224}
    if variant == "video-recap":
        ignored = ("architectures", "auto_map")
        published = {key: value for key, value in config.to_dict().items() if key not in ignored}
        assert published == {key: value for key, value in VideoReCapConfig().to_dict().items() if key not in ignored}
    else:
        assert config.unified
        assert {config.level_settings[level]["num_video_queries"] for level in LEVELS} == {256}
        assert processor_config["input_settings"]["segment"]["num_video_features"] == 512
        assert generation_config.level_max_new_tokens == {"clip": 76, "segment": 76, "video": 99}
    # The processor directory plus a GPT-2 tokenizer loads with AutoProcessor.
    for name in ("config.json", "processor_config.json"):
        (tmp_path / name).write_text((directory / name).read_text())
    tiny_tokenizer.save_pretrained(tmp_path)
    processor = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, VideoReCapProcessor) and processor.input_settings == {
        level: {**DEFAULT_INPUT_SETTINGS[level], **processor_config["input_settings"][level]} for level in LEVELS
    }
    processor.check_model_config(config)
