"""Conversion of the original release files, checked against forward passes written here from the ORIGINAL tensors.

The original-format files are built in the tests from the key table of the original `VideoRecap` module (every key of
`videorecap_{clip,segment,video}.pt` and of ReCap-U, at tiny sizes, with the DDP prefix, the constant buffers, the tied
aliases, the pickled `argparse.Namespace`, optimizer and scaler states), so no original code is needed.
"""

import argparse
import json
import math
import os
import re

import pytest
import torch
from torch.nn import functional as F
from transformers import Blip2QFormerModel, GenerationConfig

from tests.utils import make_tiny_config
from transformers_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor, VideoReCapVisionModel
from transformers_recap.conversion.convert_original_checkpoint import (
    CheckpointConversionError,
    UnsafeCheckpointError,
    convert_lavila_checkpoint,
    convert_video_recap_checkpoints,
    convert_video_recap_u_checkpoint,
    input_settings_from_checkpoints,
    lavila_vision_state_dict,
    load_original_checkpoint,
    main,
)


MAPPER_VOCAB, MAPPER_POSITIONS = 30, 16
LEVEL_ARGS = {
    "clip": {
        "dataset": "clip_caption",
        "video_feature_type": "pixel",
        "num_video_feat": 4,
        "num_video_queries": 6,
        "video_mapper_type": "qformer",
        "max_gen_tokens": 13,
    },
    # As `run_videorecap_segment.sh` stores them: --video_sampling_type is never passed (parser default "masking").
    "segment": {
        "dataset": "segment_description",
        "video_feature_type": "cls",
        "num_video_feat": 8,
        "num_video_queries": 3,
        "video_mapper_type": "qformer",
        "text_feature_type": "token",
        "num_text_queries": 5,
        "text_mapper_type": "qformer",
        "max_gen_tokens": 13,
    },
    "video": {
        "dataset": "video_summary",
        "video_feature_type": "cls",
        "num_video_feat": 10,
        "video_sampling_type": "uniform",
        "num_video_queries": 4,
        "video_mapper_type": "qformer",
        "text_feature_type": "token",
        "num_text_queries": 5,
        "text_mapper_type": "qformer",
        "max_gen_tokens": 17,
    },
}


def original_args(**overrides) -> argparse.Namespace:
    """The training options the original `train.py` pickles (parser defaults of `src/configs/defaults.py`)."""
    defaults = {
        "dataset": "segment_description",
        "metadata": "datasets/summaries_train.pkl",
        "video_feature_type": None,
        "num_video_feat": 40,
        "video_sampling_type": "masking",
        "text_feature_type": None,
        "num_text_feat": 1024,
        "hier_type": "recur",
        "vision_model_type": "timesformer",
        "decoder_name": "gpt2",
        "cross_attn_freq": 1,
        "text_width": 768,
        "query_width": 768,
        "max_gen_tokens": 77,
        "num_video_queries": 256,
        "video_mapper_type": None,
        "num_text_queries": 256,
        "text_mapper_type": None,
        "share_mapper": False,
        "betas": (0.9, 0.999),
        "lr": 3e-5,
        "distributed": True,
    }
    return argparse.Namespace(**{**defaults, **overrides})


class OriginalWeights:
    """Random tensors with the original key names and (tiny) shapes."""

    def __init__(self, config, seed: int = 0):
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)

    def rand(self, *shape, scale: float = 0.2) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator) * scale

    def norm(self, state: dict, name: str, width: int) -> None:
        state[name + ".weight"] = 1.0 + self.rand(width, scale=0.1)
        state[name + ".bias"] = self.rand(width, scale=0.1)

    def linear(self, state: dict, name: str, out_features: int, in_features: int) -> None:
        state[name + ".weight"] = self.rand(out_features, in_features)
        state[name + ".bias"] = self.rand(out_features, scale=0.05)

    def conv1d(self, state: dict, name: str, in_features: int, out_features: int) -> None:
        state[name + ".weight"] = self.rand(in_features, out_features)
        state[name + ".bias"] = self.rand(out_features, scale=0.05)

    def vision(self, num_frames: int) -> dict:
        vision = self.config.vision_config
        width, patches = vision.hidden_size, vision.num_patches_per_frame
        state = {
            "cls_token": self.rand(1, 1, width),
            "pos_embed": self.rand(1, 1 + patches, width),
            "temporal_embed": self.rand(1, num_frames, width),
            "patch_embed.proj.weight": self.rand(width, 3, vision.patch_size, vision.patch_size, scale=0.05),
        }
        self.norm(state, "ln_pre", width)
        for layer in range(vision.num_hidden_layers):
            block = f"blocks.{layer}"
            self.norm(state, f"{block}.norm1", width)
            for attention in ("attn", "timeattn"):
                self.linear(state, f"{block}.{attention}.qkv", 3 * width, width)
                self.linear(state, f"{block}.{attention}.proj", width, width)
            self.norm(state, f"{block}.norm2", width)
            self.linear(state, f"{block}.mlp.fc1", vision.intermediate_size, width)
            self.linear(state, f"{block}.mlp.fc2", width, vision.intermediate_size)
            self.norm(state, f"{block}.norm3", width)
        self.norm(state, "norm", width)
        return state

    def mapper(self, context_width: int) -> dict:
        qformer = self.config.qformer_config
        width, inner = qformer.hidden_size, qformer.intermediate_size
        state = {
            "bert.embeddings.position_ids": torch.arange(MAPPER_POSITIONS).unsqueeze(0),
            "bert.embeddings.word_embeddings.weight": self.rand(MAPPER_VOCAB, width),
            "bert.embeddings.position_embeddings.weight": self.rand(MAPPER_POSITIONS, width),
        }
        self.norm(state, "bert.embeddings.LayerNorm", width)
        for layer in range(qformer.num_hidden_layers):
            prefix = f"bert.encoder.layer.{layer}"
            sublayers = ["attention"] + (["crossattention"] if layer % qformer.cross_attention_frequency == 0 else [])
            for sublayer in sublayers:
                key_width = width if sublayer == "attention" else context_width
                self.linear(state, f"{prefix}.{sublayer}.self.query", width, width)
                self.linear(state, f"{prefix}.{sublayer}.self.key", width, key_width)
                self.linear(state, f"{prefix}.{sublayer}.self.value", width, key_width)
                self.linear(state, f"{prefix}.{sublayer}.output.dense", width, width)
                self.norm(state, f"{prefix}.{sublayer}.output.LayerNorm", width)
            for suffix in ("", "_query"):
                self.linear(state, f"{prefix}.intermediate{suffix}.dense", inner, width)
                self.linear(state, f"{prefix}.output{suffix}.dense", width, inner)
                self.norm(state, f"{prefix}.output{suffix}.LayerNorm", width)
        state["cls.predictions.bias"] = self.rand(MAPPER_VOCAB)
        self.linear(state, "cls.predictions.transform.dense", width, width)
        self.norm(state, "cls.predictions.transform.LayerNorm", width)
        # Tied aliases: the same tensors under a second name, as in the released state dicts.
        state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
        state["cls.predictions.decoder.bias"] = state["cls.predictions.bias"]
        return state

    def gpt2_frozen(self) -> dict:
        text = self.config.text_config
        width = text.hidden_size
        state = {
            "transformer.wte.weight": self.rand(text.vocab_size, width),
            "transformer.wpe.weight": self.rand(text.n_positions, width, scale=0.05),
        }
        for layer in range(text.num_hidden_layers):
            block = f"transformer.h.{layer}"
            self.conv1d(state, f"{block}.attn.c_attn", width, 3 * width)
            self.conv1d(state, f"{block}.attn.c_proj", width, width)
            self.conv1d(state, f"{block}.mlp.c_fc", width, 4 * width)
            self.conv1d(state, f"{block}.mlp.c_proj", 4 * width, width)
        self.norm(state, "transformer.ln_f", width)
        return state

    def gpt2_level(self) -> dict:
        text, query_width = self.config.text_config, self.config.qformer_config.hidden_size
        width, positions = text.hidden_size, text.n_positions
        causal = torch.tril(torch.ones(positions, positions, dtype=torch.uint8)).view(1, 1, positions, positions)
        state = {}
        for layer in range(text.num_hidden_layers):
            block = f"transformer.h.{layer}"
            state[f"{block}.alpha_cattn"] = torch.tensor(0.5 + 0.1 * layer)
            state[f"{block}.alpha_dense"] = torch.tensor(-0.4 - 0.1 * layer)
            self.norm(state, f"{block}.ln_1", width)
            self.norm(state, f"{block}.ln_2", width)
            self.norm(state, f"{block}.ln_cross_attn", width)
            self.norm(state, f"{block}.ln_2_crossattention", width)
            for attention in ("attn", "crossattention"):
                state[f"{block}.{attention}.bias"] = causal
                state[f"{block}.{attention}.masked_bias"] = torch.tensor(-1e4)
            self.conv1d(state, f"{block}.crossattention.c_attn", query_width, 2 * width)
            self.conv1d(state, f"{block}.crossattention.q_attn", width, width)
            self.conv1d(state, f"{block}.crossattention.c_proj", width, width)
            self.conv1d(state, f"{block}.mlp_crossattention.c_fc", width, 4 * width)
            self.conv1d(state, f"{block}.mlp_crossattention.c_proj", 4 * width, width)
        return state


def build_original_state_dict(weights: OriginalWeights, gpt2_frozen: dict, video: bool, text: bool, vision=None):
    """One level's state dict in the original key layout (without `module.`)."""
    config = weights.config
    state, query_width = {}, config.qformer_config.hidden_size
    if video:
        state["video_queries"] = weights.rand(video, query_width, scale=query_width**-0.5)
    if text:
        state["text_queries"] = weights.rand(text, query_width, scale=query_width**-0.5)
    for key, tensor in (vision or {}).items():
        state["vision_model." + key] = tensor
    if video:
        for key, tensor in weights.mapper(config.vision_config.hidden_size).items():
            state["video_mapper.mapper." + key] = tensor
    if text:
        for key, tensor in weights.mapper(config.text_config.hidden_size).items():
            state["text_mapper.mapper." + key] = tensor
    decoder = {**gpt2_frozen, **weights.gpt2_level()}
    decoder["lm_head.weight"] = decoder["transformer.wte.weight"]
    for key, tensor in decoder.items():
        state["text_decoder." + key] = tensor
    return state


def save_release_file(path, state_dict: dict, args: argparse.Namespace, epoch: int = 5) -> str:
    """Writes a checkpoint the way the original `train.py` does (DDP keys, optimizer, scaler, args)."""
    first_key = next(iter(state_dict))
    torch.save(
        {
            "epoch": epoch,
            "state_dict": {"module." + key: value for key, value in state_dict.items()},
            "optimizer": {
                "state": {0: {"step": torch.tensor(10.0), "exp_avg": torch.zeros_like(state_dict[first_key])}},
                "param_groups": [{"lr": 3e-5, "betas": (0.9, 0.999), "weight_decay": 0.01, "params": [0]}],
            },
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000},
            "args": args,
        },
        path,
    )
    return str(path)


@pytest.fixture(scope="module")
def base_config(tiny_tokenizer):
    return make_tiny_config(tiny_tokenizer)


@pytest.fixture(scope="module")
def release(tmp_path_factory, base_config):
    """The three Video ReCap level files (and their state dicts) at tiny sizes, sharing GPT-2's frozen weights."""
    directory = tmp_path_factory.mktemp("release")
    weights = OriginalWeights(base_config)
    gpt2 = weights.gpt2_frozen()
    vision = weights.vision(num_frames=4)
    states = {
        "clip": build_original_state_dict(weights, gpt2, video=6, text=0, vision=vision),
        "segment": build_original_state_dict(weights, gpt2, video=3, text=5),
        "video": build_original_state_dict(weights, gpt2, video=4, text=5),
    }
    paths = {
        level: save_release_file(directory / f"videorecap_{level}.pt", state, original_args(**LEVEL_ARGS[level]))
        for level, state in states.items()
    }
    return {"paths": paths, "states": states, "directory": directory}


@pytest.fixture(scope="module")
def converted(release, base_config, tmp_path_factory):
    """The release converted with the CLI and reloaded with `from_pretrained`."""
    output = tmp_path_factory.mktemp("converted")
    config_file = output / "base_config.json"
    base_config.to_json_file(config_file)
    paths = release["paths"]
    main(
        ["--clip", paths["clip"], "--segment", paths["segment"], "--video", paths["video"]]
        + ["--output", str(output), "--config", str(config_file)]
    )
    model, info = VideoReCapForConditionalGeneration.from_pretrained(output, output_loading_info=True)
    return model.eval(), info, output


# ---------------------------------------------------------------------------------------------------------------------
# Forward passes written from the original tensors.
# ---------------------------------------------------------------------------------------------------------------------


def layer_norm(x, state, name, eps):
    return F.layer_norm(x, x.shape[-1:], state[name + ".weight"], state[name + ".bias"], eps)


def divided_attention(x, state, name, heads, num_frames, over):
    """LaViLa's VarAttention as one masked attention: CLS sees all; a patch sees CLS and its frame / its position."""
    batch_size, seq_len, width = x.shape
    num_patches = (seq_len - 1) // num_frames
    qkv = x @ state[name + ".qkv.weight"].T + state[name + ".qkv.bias"]
    query, key, value = (t.reshape(batch_size, seq_len, heads, -1).transpose(1, 2) for t in qkv.chunk(3, dim=-1))
    index = torch.arange(seq_len - 1)
    group = torch.cat([torch.tensor([-1]), index // num_patches if over == "space" else index % num_patches])
    allowed = (group[:, None] == group[None, :]) | (group[:, None] == -1) | (group[None, :] == -1)
    scores = (query * query.shape[-1] ** -0.5) @ key.transpose(-1, -2)
    out = scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ value
    out = out.transpose(1, 2).reshape(batch_size, seq_len, width)
    return out @ state[name + ".proj.weight"].T + state[name + ".proj.bias"]


def original_encoder(state, pixels, config):
    """SpaceTimeTransformer.forward_features(cls_at_last=False) from the original `vision_model.*` tensors."""
    vision = config.vision_config
    batch_size, num_frames = pixels.shape[:2]
    patches = F.conv2d(pixels.flatten(0, 1), state["patch_embed.proj.weight"], stride=vision.patch_size)
    num_patches = patches.shape[-1] * patches.shape[-2]
    patches = patches.flatten(2).transpose(1, 2).reshape(batch_size, num_frames * num_patches, -1)
    pos, temporal = state["pos_embed"], state["temporal_embed"]
    patches = (
        patches + pos[:, 1:].repeat(1, num_frames, 1) + temporal[:, :num_frames].repeat_interleave(num_patches, 1)
    )
    cls = (state["cls_token"] + pos[:, :1]).expand(batch_size, -1, -1)
    x = layer_norm(torch.cat([cls, patches], dim=1), state, "ln_pre", 1e-5)
    heads = vision.num_attention_heads
    for layer in range(vision.num_hidden_layers):
        block = f"blocks.{layer}"
        time = divided_attention(
            layer_norm(x, state, f"{block}.norm3", 1e-6), state, f"{block}.timeattn", heads, num_frames, "time"
        )
        x = x + divided_attention(
            layer_norm(x + time, state, f"{block}.norm1", 1e-6), state, f"{block}.attn", heads, num_frames, "space"
        )
        hidden = layer_norm(x, state, f"{block}.norm2", 1e-6) @ state[f"{block}.mlp.fc1.weight"].T
        hidden = hidden + state[f"{block}.mlp.fc1.bias"]
        hidden = hidden * torch.sigmoid(1.702 * hidden)
        x = x + hidden @ state[f"{block}.mlp.fc2.weight"].T + state[f"{block}.mlp.fc2.bias"]
    return layer_norm(x, state, "norm", 1e-6)


def original_mapper(state, prefix, config, context_width, queries, context, mask):
    """The original mapper, run as transformers' Blip2QFormerModel with the original tensors renamed by hand."""
    renamed = {}
    for key, tensor in state.items():
        if not key.startswith(prefix + "mapper.bert."):
            continue
        key = key[len(prefix + "mapper.bert.") :]
        if key.startswith("embeddings."):
            if key.startswith("embeddings.LayerNorm."):
                renamed[key.replace("embeddings.LayerNorm.", "layernorm.")] = tensor
            continue
        if key.split(".")[3] in ("intermediate", "output"):  # encoder.layer.{i}.output.dense: text-token FFN
            continue
        renamed[key.replace(".self.", ".attention.")] = tensor
    qformer_config = config.qformer_config.__class__(**{**config.qformer_config.to_dict()})
    qformer_config.encoder_hidden_size = context_width
    reference = Blip2QFormerModel(qformer_config).eval()
    reference.load_state_dict(renamed, strict=True)
    with torch.no_grad():
        return reference(
            query_embeds=queries.expand(context.shape[0], -1, -1),
            encoder_hidden_states=context,
            encoder_attention_mask=mask,
        ).last_hidden_state


def attend(query, key, value, heads, causal):
    batch_size, query_len, width = query.shape
    query, key, value = (t.reshape(batch_size, -1, heads, width // heads).transpose(1, 2) for t in (query, key, value))
    scores = query @ key.transpose(-1, -2) / math.sqrt(width // heads)
    if causal:
        scores = scores.masked_fill(torch.ones(query_len, query_len).triu(1).bool(), float("-inf"))
    return (scores.softmax(-1) @ value).transpose(1, 2).reshape(batch_size, query_len, width)


def original_decoder_logits(state, input_ids, memory, config):
    """The original gated GPT-2 (`text_decoder.*`): gated cross-attention and FFN before each GPT-2 block."""
    text = config.text_config
    heads, width = text.num_attention_heads, text.hidden_size
    s = {key[len("text_decoder.transformer.") :]: value for key, value in state.items() if ".transformer." in key}

    def conv1d(x, name):
        return x @ s[name + ".weight"] + s[name + ".bias"]

    h = s["wte.weight"][input_ids] + s["wpe.weight"][torch.arange(input_ids.shape[1])]
    for layer in range(text.num_hidden_layers):
        b = f"h.{layer}"
        x = layer_norm(h, s, f"{b}.ln_cross_attn", 1e-5)
        key, value = conv1d(memory, f"{b}.crossattention.c_attn").split(width, dim=-1)
        cross = attend(conv1d(x, f"{b}.crossattention.q_attn"), key, value, heads, causal=False)
        h = h + torch.tanh(s[f"{b}.alpha_cattn"]) * conv1d(cross, f"{b}.crossattention.c_proj")
        x = F.relu(conv1d(layer_norm(h, s, f"{b}.ln_2_crossattention", 1e-5), f"{b}.mlp_crossattention.c_fc")) ** 2
        h = h + torch.tanh(s[f"{b}.alpha_dense"]) * conv1d(x, f"{b}.mlp_crossattention.c_proj")
        query, key, value = conv1d(layer_norm(h, s, f"{b}.ln_1", 1e-5), f"{b}.attn.c_attn").split(width, dim=-1)
        h = h + conv1d(attend(query, key, value, heads, causal=True), f"{b}.attn.c_proj")
        x = conv1d(layer_norm(h, s, f"{b}.ln_2", 1e-5), f"{b}.mlp.c_fc")
        x = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))  # gelu_new
        h = h + conv1d(x, f"{b}.mlp.c_proj")
    return layer_norm(h, s, "ln_f", 1e-5) @ state["text_decoder.lm_head.weight"].T


def level_inputs(config, level, num_video_features, seed=0):
    generator = torch.Generator().manual_seed(seed)
    vision = config.vision_config
    if level == "clip":
        return {"pixel_values_videos": torch.randn(2, 4, 3, vision.image_size, vision.image_size, generator=generator)}
    mask = torch.ones(2, num_video_features, dtype=torch.long)
    mask[0, num_video_features // 2 :] = 0
    context = torch.randint(1, config.text_config.vocab_size, (2, 9), generator=generator)
    context_mask = torch.ones_like(context)
    context_mask[1, 6:] = 0
    return {
        "video_features": torch.randn(2, num_video_features, vision.hidden_size, generator=generator),
        "video_features_mask": mask,
        "context_input_ids": context,
        "context_attention_mask": context_mask,
    }


def original_memory(state, config, level, inputs, vision_state):
    queries = state["video_queries"][None]
    if level == "clip":
        features = original_encoder(vision_state, inputs["pixel_values_videos"], config)
        return original_mapper(
            state, "video_mapper.", config, config.vision_config.hidden_size, queries, features, None
        )
    video = original_mapper(
        state,
        "video_mapper.",
        config,
        config.vision_config.hidden_size,
        queries,
        inputs["video_features"],
        inputs["video_features_mask"],
    )
    ids = inputs["context_input_ids"]
    decoder = "text_decoder.transformer."
    context = state[decoder + "wte.weight"][ids] + state[decoder + "wpe.weight"][torch.arange(ids.shape[1])]
    text = original_mapper(
        state,
        "text_mapper.",
        config,
        config.text_config.hidden_size,
        state["text_queries"][None],
        context,
        inputs["context_attention_mask"],
    )
    return torch.cat([video, text], dim=1)


# ---------------------------------------------------------------------------------------------------------------------
# Tests.
# ---------------------------------------------------------------------------------------------------------------------


def test_converted_directory_loads_strictly_with_settings_from_args(converted, release):
    model, info, output = converted
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert (output / "model.safetensors").exists() and not list(output.glob("*.bin"))
    settings = model.config.level_settings
    assert {level: settings[level]["num_video_queries"] for level in settings} == {"clip": 6, "segment": 3, "video": 4}
    assert settings["segment"]["num_text_queries"] == settings["video"]["num_text_queries"] == 5
    inputs = input_settings_from_checkpoints(*(release["paths"][level] for level in ("clip", "segment", "video")))
    assert inputs["segment"]["num_video_features"] == 8 and inputs["video"]["num_video_features"] == 10
    # The segment file stores the parser default "masking"; the video file asked for "uniform".
    assert inputs["segment"]["feature_sampling"] == "masking" and inputs["video"]["feature_sampling"] == "uniform"
    assert not model.config.unified and model.config.vision_config.num_frames == 4
    generation = GenerationConfig.from_pretrained(output)
    assert generation.level_max_new_tokens == {"clip": 12, "segment": 12, "video": 16}
    assert generation.bos_token_id == generation.eos_token_id == generation.pad_token_id
    assert generation.bos_token_id == model.config.text_config.eos_token_id
    assert not generation.do_sample and generation.num_beams == 1


def test_shared_weights_are_stored_once_and_dead_weights_dropped(converted):
    from safetensors import safe_open

    _, _, output = converted
    with safe_open(output / "model.safetensors", "pt") as file:
        keys = list(file.keys())
    assert sum(key.endswith("language_model.wte.weight") for key in keys) == 1
    assert "lm_head.weight" not in keys
    assert sum(".layers.0.attn.c_attn.weight" in key for key in keys) == 1
    assert sum(".vision_model.embeddings.cls_token" in key for key in keys) == 1
    assert sum(".layers.0.ln_1." in key and key.endswith("weight") for key in keys) == 3  # one per level
    assert not [key for key in keys if re.search(r"word_embeddings|position_embeddings\.weight|\.cls\.", key)]
    assert not [key for key in keys if re.search(r"encoder\.layer\.\d+\.(intermediate|output)\.", key)]


def test_converted_encoder_matches_original_forward(converted, release):
    model, _, _ = converted
    vision_state = {
        key[len("vision_model.") :]: value
        for key, value in release["states"]["clip"].items()
        if key.startswith("vision_model.")
    }
    pixels = level_inputs(model.config, "clip", 0)["pixel_values_videos"]
    with torch.no_grad():
        ours = model.get_video_features(pixels).last_hidden_state
        two_frames = model.get_video_features(pixels[:, :2]).last_hidden_state
    torch.testing.assert_close(ours, original_encoder(vision_state, pixels, model.config), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        two_frames, original_encoder(vision_state, pixels[:, :2], model.config), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("level", ["clip", "segment", "video"])
def test_converted_level_matches_original_forward(converted, release, level):
    """Video Q-Former, text Q-Former and gated decoder of each level, end to end, against the original tensors."""
    model, _, _ = converted
    state = release["states"][level]
    vision_state = {
        key[len("vision_model.") :]: value
        for key, value in release["states"]["clip"].items()
        if key.startswith("vision_model.")
    }
    num_features = {"segment": 8, "video": 10}.get(level)
    inputs = level_inputs(model.config, level, num_features)
    input_ids = torch.tensor([[0, 5, 17, 3, 9], [0, 8, 2, 2, 30]])
    with torch.no_grad():
        memory, _ = model.get_query_embeddings(level, **inputs)
        logits = model(input_ids=input_ids, level=level, **inputs).logits
    expected_memory = original_memory(state, model.config, level, inputs, vision_state)
    torch.testing.assert_close(memory, expected_memory, atol=1e-5, rtol=1e-5)
    expected_logits = original_decoder_logits(state, input_ids, expected_memory, model.config)
    torch.testing.assert_close(logits, expected_logits, atol=1e-4, rtol=1e-4)


def test_levels_keep_their_own_layernorms_and_gates(converted, release):
    model, _, _ = converted
    layer = model.model.language_model.layers[1]
    for level in ("clip", "segment", "video"):
        state = release["states"][level]
        torch.testing.assert_close(layer.ln_1[level].weight, state["text_decoder.transformer.h.1.ln_1.weight"])
        torch.testing.assert_close(
            layer.cross_attention_block[level].mlp_gate, state["text_decoder.transformer.h.1.alpha_dense"]
        )
        torch.testing.assert_close(
            model.model.alignment[level].video_query_tokens[0], state["video_queries"], atol=0, rtol=0
        )


def test_processor_written_with_tokenizer(release, base_config, tiny_tokenizer, tmp_path):
    tokenizer_dir = tmp_path / "tokenizer"
    tiny_tokenizer.save_pretrained(tokenizer_dir)
    config_file = tmp_path / "config.json"
    base_config.to_json_file(config_file)
    output = tmp_path / "out"
    paths = release["paths"]
    main(
        ["--clip", paths["clip"], "--segment", paths["segment"], "--video", paths["video"], "--output", str(output)]
        + ["--tokenizer", str(tokenizer_dir), "--config", str(config_file)]
    )
    processor = VideoReCapProcessor.from_pretrained(output)
    config = json.loads((output / "config.json").read_text())
    assert processor.get_input_settings("video").feature_sampling == "uniform"
    assert processor.get_input_settings("video").num_video_features == 10
    processor.check_model_config(VideoReCapForConditionalGeneration.config_class.from_dict(config))
    assert processor.video_processor.crop_size["height"] == base_config.vision_config.image_size
    assert processor.tokenizer.eos_token_id == base_config.text_config.eos_token_id


def test_video_recap_u_conversion(tmp_path, base_config):
    weights = OriginalWeights(base_config, seed=3)
    vision = weights.vision(num_frames=3)
    state = build_original_state_dict(weights, weights.gpt2_frozen(), video=6, text=5, vision=vision)
    # train_unified.py pickles the options of its last level branch (512 CLS features, the video dataset).
    args = original_args(
        dataset="video_summary",
        video_feature_type="cls",
        num_video_feat=512,
        num_video_queries=6,
        num_text_queries=5,
        video_mapper_type="qformer",
        text_mapper_type="qformer",
        unify_type="clip+segment+video",
    )
    path = save_release_file(tmp_path / "videorecap_unified.pt", state, args, epoch=15)
    model = convert_video_recap_u_checkpoint(path, config=base_config)
    config = model.config
    assert config.unified and config.adapter_keys == ("shared",)
    assert config.vision_config.num_frames == 3  # from vision_model.temporal_embed, not from args
    assert model.generation_config.level_max_new_tokens == {"clip": 76, "segment": 76, "video": 99}
    assert input_settings_from_checkpoints(unified=path)["segment"]["num_video_features"] == 512
    assert {config.level_settings[level]["num_video_queries"] for level in ("clip", "segment", "video")} == {6}
    inputs = level_inputs(config, "video", 12)
    input_ids = torch.tensor([[0, 5, 17, 3], [0, 8, 2, 2]])
    with torch.no_grad():
        memory, _ = model.get_query_embeddings("video", **inputs)
        logits = model(input_ids=input_ids, level="video", **inputs).logits
    expected_memory = original_memory(state, config, "video", inputs, None)
    torch.testing.assert_close(memory, expected_memory, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        logits, original_decoder_logits(state, input_ids, expected_memory, config), atol=1e-4, rtol=1e-4
    )


def test_lavila_encoder_extraction(tmp_path, base_config):
    weights = OriginalWeights(base_config, seed=5)
    visual = weights.vision(num_frames=4)
    lavila = {"module.visual." + key: value for key, value in visual.items()}
    lavila.update(
        {
            "module.image_projection": weights.rand(32, 16),
            "module.logit_scale": torch.tensor(4.6),
            "module.token_embedding.weight": weights.rand(50, 16),
            "module.transformer.resblocks.0.attn.in_proj_weight": weights.rand(48, 16),
        }
    )
    path = tmp_path / "clip_openai_timesformer_base.baseline.ep_0003.pth"
    torch.save(
        {"epoch": 3, "state_dict": lavila, "args": argparse.Namespace(model="CLIP_OPENAI_TIMESFORMER_BASE")}, path
    )
    assert set(lavila_vision_state_dict(path)) == set(VideoReCapVisionModel(base_config.vision_config).state_dict())
    model = convert_lavila_checkpoint(path, config=base_config.vision_config)
    pixels = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        ours = model(pixels).last_hidden_state
    torch.testing.assert_close(ours, original_encoder(visual, pixels, base_config), atol=1e-5, rtol=1e-5)
    config_file = tmp_path / "config.json"
    base_config.to_json_file(config_file)
    main(["--lavila", str(path), "--output", str(tmp_path / "encoder"), "--config", str(config_file)])
    reloaded, info = VideoReCapVisionModel.from_pretrained(tmp_path / "encoder", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(pixels).last_hidden_state, ours)


# ---------------------------------------------------------------------------------------------------------------------
# Refusals.
# ---------------------------------------------------------------------------------------------------------------------


class Payload:
    """Pickles as a call to os.system: loading it unsafely would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_without_running(tmp_path, capsys):
    marker = tmp_path / "payload_ran"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"module.video_queries": torch.zeros(2, 2)}, "args": Payload(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pt.*(posix|os)\.system"):
        load_original_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["--unified", str(path), "--output", str(tmp_path / "out")])
    assert "not allowed" in str(exit_info.value.code) and "system" in str(exit_info.value.code)
    assert not marker.exists()


def test_unreadable_file_gives_clear_error(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointConversionError, match="broken.pt is not a readable PyTorch checkpoint"):
        load_original_checkpoint(path)


def rewrite(release, tmp_path, level, change_state=None, **arg_overrides) -> dict:
    """A copy of the release with one level file modified."""
    state = dict(release["states"][level])
    if change_state is not None:
        change_state(state)
    args = original_args(**{**LEVEL_ARGS[level], **arg_overrides})
    paths = dict(release["paths"])
    paths[level] = save_release_file(tmp_path / f"modified_{level}.pt", state, args)
    return paths


def convert_paths(paths, config):
    return convert_video_recap_checkpoints(paths["clip"], paths["segment"], paths["video"], config=config)


def test_wrong_constant_buffer_is_refused(release, base_config, tmp_path):
    def corrupt(state):
        mask = state["text_decoder.transformer.h.1.attn.bias"].clone()
        mask[0, 0, 0, 5] = 1
        state["text_decoder.transformer.h.1.attn.bias"] = mask

    paths = rewrite(release, tmp_path, "segment", corrupt)
    with pytest.raises(CheckpointConversionError, match=r"`text_decoder\.transformer\.h\.1\.attn\.bias`.*causal"):
        convert_paths(paths, base_config)


def test_broken_tied_alias_is_refused(release, base_config, tmp_path):
    def untie(state):
        state["text_decoder.lm_head.weight"] = state["text_decoder.lm_head.weight"] + 1

    paths = rewrite(release, tmp_path, "video", untie)
    with pytest.raises(CheckpointConversionError, match=r"`text_decoder\.lm_head\.weight`.*same tensor"):
        convert_paths(paths, base_config)


def test_shape_mismatch_is_refused(release, base_config, tmp_path):
    def widen(state):
        state["text_decoder.transformer.h.0.ln_cross_attn.weight"] = torch.ones(41)

    paths = rewrite(release, tmp_path, "clip", widen)
    with pytest.raises(
        CheckpointConversionError, match=r"`text_decoder\.transformer\.h\.0\.ln_cross_attn\.weight`.*\(41,\)"
    ):
        convert_paths(paths, base_config)


def test_unknown_key_is_refused(release, base_config, tmp_path):
    def add_perceiver(state):
        state["video_mapper.attn_pool.to_q.weight"] = torch.zeros(4, 4)

    paths = rewrite(release, tmp_path, "video", add_perceiver)
    with pytest.raises(CheckpointConversionError, match=r"`video_mapper\.attn_pool\.to_q\.weight`"):
        convert_paths(paths, base_config)


def test_gpt2_weights_differing_across_levels_are_refused(release, base_config, tmp_path):
    def retrain(state):
        state["text_decoder.transformer.h.1.mlp.c_fc.weight"] = (
            state["text_decoder.transformer.h.1.mlp.c_fc.weight"] * 2
        )

    paths = rewrite(release, tmp_path, "video", retrain)
    with pytest.raises(
        CheckpointConversionError, match=r"`text_decoder\.transformer\.h\.1\.mlp\.c_fc\.weight`.*identical"
    ):
        convert_paths(paths, base_config)


def test_files_swapped_between_levels_are_refused(release, base_config):
    paths = release["paths"]
    with pytest.raises(CheckpointConversionError, match="segment level.*given as the video level"):
        convert_video_recap_checkpoints(paths["clip"], paths["segment"], paths["segment"], config=base_config)


def test_args_disagreeing_with_tensors_are_refused(release, base_config, tmp_path):
    paths = rewrite(release, tmp_path, "segment", num_text_queries=256)
    with pytest.raises(CheckpointConversionError, match=r"num_text_queries=256 disagrees with `text_queries`"):
        convert_paths(paths, base_config)
    paths = rewrite(release, tmp_path, "clip", num_video_feat=8)
    with pytest.raises(CheckpointConversionError, match=r"num_video_feat=8.*temporal_embed"):
        convert_paths(paths, base_config)


def test_cli_reports_errors_without_traceback(release, tmp_path):
    paths = release["paths"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--clip", paths["clip"], "--video", paths["video"], "--output", str(tmp_path / "out")])
    assert exit_info.value.code == "error: Video ReCap needs all three level checkpoints; missing --segment."


def test_console_script_convert_subcommand(release, base_config, converted, tmp_path, capsys):
    from safetensors.torch import load_file

    from transformers_recap.cli import main as cli_main

    config_file = tmp_path / "base_config.json"
    base_config.to_json_file(config_file)
    paths = release["paths"]
    arguments = ["convert", "--clip", paths["clip"], "--segment", paths["segment"], "--video", paths["video"]]
    assert cli_main([*arguments, "--output", str(tmp_path / "out"), "--config", str(config_file)]) == 0
    assert "Saved the converted Video ReCap model" in capsys.readouterr().out
    ours, reference = load_file(tmp_path / "out" / "model.safetensors"), load_file(converted[2] / "model.safetensors")
    assert ours.keys() == reference.keys() and all(torch.equal(ours[key], reference[key]) for key in ours)
    assert cli_main(["convert", "--clip", paths["clip"], "--output", str(tmp_path / "bad")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("transformers-recap: error: Video ReCap needs all three") and "Traceback" not in error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"empty\.pt is empty \(0 bytes\), not a PyTorch checkpoint\."),
        (b"\x80\x02", r"empty\.pt is not a readable PyTorch checkpoint \(it ends early\)\."),
    ],
)
def test_empty_or_cut_file_says_what_is_wrong(tmp_path, capsys, content, message):
    from transformers_recap.cli import main as cli_main

    path = tmp_path / "empty.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointConversionError, match=message):
        load_original_checkpoint(path)
    assert cli_main(["convert", "--unified", str(path), "--output", str(tmp_path / "out")]) == 1
    (error,) = capsys.readouterr().err.splitlines()
    assert re.search(message, error) and "()" not in error
