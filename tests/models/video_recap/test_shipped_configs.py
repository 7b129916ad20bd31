"""Every configuration we ship keeps the KV cache on: without it each decoding step re-runs the whole prefix."""

import json
from pathlib import Path

import pytest
import torch
from transformers import GenerationConfig

from transformers_recap import VideoReCapConfig, VideoReCapForConditionalGeneration
from transformers_recap.demo import demo_model_path


ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted(path.parent for path in (ROOT / "hub_configs").glob("*/config.json")) + [Path(demo_model_path())]


def _turned_off(node, where: str = "") -> list[str]:
    """The JSON paths of every `"use_cache": false` in a parsed JSON document."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "use_cache" and value is False:
                found.append(f"{where}.{key}".lstrip("."))
            found += _turned_off(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _turned_off(value, f"{where}[{index}]")
    return found


def test_every_shipped_model_directory_is_listed():
    assert {path.name for path in SHIPPED} == {"video-recap", "video-recap-u", "demo_model"}


@pytest.mark.parametrize("directory", SHIPPED, ids=lambda path: path.name)
def test_no_shipped_json_turns_the_cache_off(directory):
    for name in ("config.json", "generation_config.json"):
        document = json.loads((directory / name).read_text())
        assert _turned_off(document) == [], f"{directory.name}/{name} turns the KV cache off"


@pytest.mark.parametrize("directory", SHIPPED, ids=lambda path: path.name)
def test_loaded_configs_use_the_cache(directory):
    assert VideoReCapConfig.from_pretrained(directory).text_config.use_cache is True
    assert GenerationConfig.from_pretrained(directory).use_cache is not False


def test_demo_model_generates_one_new_position_per_step():
    """With the cache, every decoder call after the first reads one new token (without it, the whole prefix)."""
    model = VideoReCapForConditionalGeneration.from_pretrained(demo_model_path()).eval()
    lengths = []
    handle = model.model.language_model.register_forward_pre_hook(
        lambda module, args: lengths.append(args[0].shape[1])
    )
    vision = model.config.vision_config
    features = torch.randn(2, 1 + vision.num_frames * vision.num_patches_per_frame, vision.hidden_size)
    try:
        with torch.no_grad():
            model.generate(video_features=features, level="clip", min_new_tokens=6, max_new_tokens=6)
    finally:
        handle.remove()
    assert lengths == [1] * 6
