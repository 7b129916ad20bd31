# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Initialising Video ReCap from public pretrained parts, to train it from scratch.

The original training (md-mohaiminul/VideoRecap @7dce249, `VideoRecap.__init__`) starts from:

- GPT-2 for the decoder: its weights fill the frozen decoder, and its `ln_1`/`ln_2` start every level's copy of them
  (the original fine-tunes them); the gated cross-attention blocks are new, with gates at 0, so an untrained model
  generates exactly like GPT-2;
- LaViLa's dual-encoder checkpoint for the video encoder (`module.visual.*`), itself initialised from OpenAI's CLIP
  ViT-B/16. With CLIP weights alone (`vision="timm:vit_base_patch16_clip_224.openai"`) the spatial attention, MLPs
  and norms come from CLIP as LaViLa's `remap_keys` maps them (`ln_pre`, `ln_post` -> final norm, no projection), and
  the temporal parts start as LaViLa's `time_init="zeros"`: temporal attention qkv weight and bias 0, output
  projection weight 1 and bias 0 (so the temporal attention outputs 0 and the encoder is CLIP applied per frame, with
  one CLS token per clip), temporal LayerNorm 1/0 and temporal embedding 0;
- Q-Formers that the paper describes as a frozen 6-layer DistilBERT with cross-attention in every layer, but that the
  code builds as 12-layer BERT-shaped encoders with cross-attention every second layer and initialises RANDOMLY (no
  DistilBERT tensor matches its names). `qformer="random"` (the default) reproduces the code;
  `qformer="distilbert-base-uncased"` gives the paper's version: `Blip2QFormerConfig(hidden_size=768,
  num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072, hidden_act="gelu", layer_norm_eps=1e-12,
  cross_attention_frequency=1)`, with DistilBERT's embedding LayerNorm, self-attention and feed-forward weights in
  every Q-Former (video and text, every level) and randomly initialised cross-attention layers.
"""

import os
import re
from collections.abc import Mapping

import torch
from transformers import Blip2QFormerConfig, DistilBertModel, GPT2Model
from transformers.utils import logging

from ..models.video_recap import (
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapPreTrainedModel,
    VideoReCapVisionConfig,
    VideoReCapVisionModel,
)
from .convert_original_checkpoint import lavila_vision_state_dict, vision_config_from_state_dict
from .original_checkpoint import CheckpointConversionError, load_original_checkpoint


logger = logging.get_logger(__name__)

TIMM_PREFIX = "timm:"

TIMM_CLIP_RULES = [
    (r"cls_token", "embeddings.cls_token"),
    (r"pos_embed", "embeddings.position_embeddings"),
    (r"patch_embed\.proj\.weight", "embeddings.patch_embeddings.proj.weight"),
    (r"norm_pre\.(weight|bias)", r"pre_layernorm.\1"),
    (r"blocks\.(\d+)\.norm1\.(weight|bias)", r"layers.\1.layernorm_before.\2"),
    (r"blocks\.(\d+)\.attn\.(qkv|proj)\.(weight|bias)", r"layers.\1.attention.\2.\3"),
    (r"blocks\.(\d+)\.norm2\.(weight|bias)", r"layers.\1.layernorm_after.\2"),
    (r"blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", r"layers.\1.mlp.\2.\3"),
    (r"norm\.(weight|bias)", r"post_layernorm.\1"),
]
"""timm's CLIP ViT (`vit_base_patch16_clip_224.openai`) -> [`VideoReCapVisionModel`]; the projection `head.*` is unused."""

DISTILBERT_RULES = [
    (r"embeddings\.LayerNorm\.(weight|bias)", r"layernorm.\1"),
    (r"transformer\.layer\.(\d+)\.attention\.q_lin\.(weight|bias)", r"encoder.layer.\1.attention.attention.query.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.k_lin\.(weight|bias)", r"encoder.layer.\1.attention.attention.key.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.v_lin\.(weight|bias)", r"encoder.layer.\1.attention.attention.value.\2"),
    (r"transformer\.layer\.(\d+)\.attention\.out_lin\.(weight|bias)", r"encoder.layer.\1.attention.output.dense.\2"),
    (r"transformer\.layer\.(\d+)\.sa_layer_norm\.(weight|bias)", r"encoder.layer.\1.attention.output.LayerNorm.\2"),
    (r"transformer\.layer\.(\d+)\.ffn\.lin1\.(weight|bias)", r"encoder.layer.\1.intermediate_query.dense.\2"),
    (r"transformer\.layer\.(\d+)\.ffn\.lin2\.(weight|bias)", r"encoder.layer.\1.output_query.dense.\2"),
    (r"transformer\.layer\.(\d+)\.output_layer_norm\.(weight|bias)", r"encoder.layer.\1.output_query.LayerNorm.\2"),
]
"""DistilBERT (post-LN BERT layers) -> `Blip2QFormerModel`; the token/position embeddings are unused by queries."""
DISTILBERT_UNUSED = r"embeddings\.(word_embeddings|position_embeddings)\.weight|embeddings\.position_ids"

GPT2_SHARED = (
    r"(wte|wpe)\.weight|ln_f\.(weight|bias)|h\.\d+\.(attn\.(c_attn|c_proj)|mlp\.(c_fc|c_proj))\.(weight|bias)"
)
GPT2_PER_LEVEL = r"h\.(\d+)\.(ln_1|ln_2)\.(weight|bias)"
GPT2_CONSTANTS = r"h\.\d+\.attn\.(bias|masked_bias)"


def _rename(state_dict: Mapping[str, torch.Tensor], rules, source: str, unused: str | None = None) -> dict:
    renamed = {}
    for key, tensor in state_dict.items():
        for pattern, template in rules:
            match = re.fullmatch(pattern, key)
            if match is not None:
                renamed[match.expand(template)] = tensor
                break
        else:
            if unused is None or re.fullmatch(unused, key) is None:
                raise CheckpointConversionError(f"{source}: `{key}` has no counterpart in Video ReCap.")
    return renamed


def vision_state_dict_from_timm_clip(
    state_dict: Mapping[str, torch.Tensor], num_frames: int, source: str = "timm CLIP ViT"
) -> dict[str, torch.Tensor]:
    """
    A timm CLIP ViT state dict (`vit_base_patch16_clip_224.openai` layout) as [`VideoReCapVisionModel`] weights, with
    the temporal parts initialised as LaViLa's `time_init="zeros"` (see the module docstring).

    Args:
        state_dict: the timm model's weights (`head.*`, the CLIP projection, is ignored).
        num_frames (`int`): frames per clip of the encoder (rows of the zero temporal embedding).
    """
    if state_dict.get("patch_embed.proj.bias") is not None:
        raise CheckpointConversionError(
            f"{source}: `patch_embed.proj.bias` exists, but a CLIP-style encoder has no patch bias (it has `ln_pre`)."
        )
    weights = _rename(state_dict, TIMM_CLIP_RULES, source, unused=r"head\.(weight|bias)")
    hidden_size = weights["embeddings.cls_token"].shape[-1]
    dtype = weights["embeddings.cls_token"].dtype
    layers = sorted({int(match.group(1)) for key in weights if (match := re.match(r"layers\.(\d+)\.", key))})
    weights["embeddings.temporal_embeddings"] = torch.zeros(1, num_frames, hidden_size, dtype=dtype)
    for layer in layers:
        prefix = f"layers.{layer}."
        weights[prefix + "temporal_layernorm.weight"] = torch.ones(hidden_size, dtype=dtype)
        weights[prefix + "temporal_layernorm.bias"] = torch.zeros(hidden_size, dtype=dtype)
        weights[prefix + "temporal_attention.qkv.weight"] = torch.zeros(3 * hidden_size, hidden_size, dtype=dtype)
        weights[prefix + "temporal_attention.qkv.bias"] = torch.zeros(3 * hidden_size, dtype=dtype)
        weights[prefix + "temporal_attention.proj.weight"] = torch.ones(hidden_size, hidden_size, dtype=dtype)
        weights[prefix + "temporal_attention.proj.bias"] = torch.zeros(hidden_size, dtype=dtype)
    return weights


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return load_original_checkpoint(path).state_dict


def load_vision_weights(
    vision: str | os.PathLike, num_frames: int
) -> tuple[dict[str, torch.Tensor], VideoReCapVisionConfig | None, int | None]:
    """
    Reads video encoder weights for [`VideoReCapVisionModel`] from:

    - `"timm:<name>"`: a timm CLIP ViT, downloaded by timm (e.g. `"timm:vit_base_patch16_clip_224.openai"`);
    - a [`VideoReCapVisionModel`] directory (e.g. written by the converter's `--lavila`);
    - a file: LaViLa's dual-encoder checkpoint (`module.visual.*`), a Video ReCap clip or ReCap-U checkpoint, a
      SpaceTimeTransformer state dict, or a timm CLIP ViT state dict (`.safetensors` or a PyTorch file), told apart by
      their keys.

    Returns:
        The weights, the saved config (for a directory, else `None`) and the number of attention heads when the
        source knows it (timm models), else `None`.
    """
    vision = os.fspath(vision)
    if vision.startswith(TIMM_PREFIX):
        import timm

        timm_model = timm.create_model(vision[len(TIMM_PREFIX) :], pretrained=True, num_classes=0)
        weights = vision_state_dict_from_timm_clip(timm_model.state_dict(), num_frames, source=vision)
        return weights, None, timm_model.blocks[0].attn.num_heads
    if os.path.isdir(vision):
        model = VideoReCapVisionModel.from_pretrained(vision)
        return dict(model.state_dict()), model.config, None
    state_dict = _read_state_dict(vision)
    stripped = {key.removeprefix("module."): value for key, value in state_dict.items()}
    if "norm_pre.weight" in stripped:
        return vision_state_dict_from_timm_clip(stripped, num_frames, source=vision), None, None
    return lavila_vision_state_dict(stripped), None, None


def load_distilbert_qformer_weights(
    qformer: str | os.PathLike, **kwargs
) -> tuple[dict[str, torch.Tensor], Blip2QFormerConfig]:
    """
    DistilBERT weights for a Q-Former as the paper describes it (see the module docstring), and that Q-Former's config.

    Args:
        qformer: a DistilBERT directory or Hub id (e.g. `"distilbert-base-uncased"`).
        kwargs: passed to `DistilBertModel.from_pretrained`.
    """
    distilbert = DistilBertModel.from_pretrained(qformer, **kwargs)
    config = distilbert.config
    qformer_config = Blip2QFormerConfig(
        hidden_size=config.dim,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        intermediate_size=config.hidden_dim,
        hidden_act=config.activation,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.attention_dropout,
        layer_norm_eps=1e-12,
        initializer_range=config.initializer_range,
        cross_attention_frequency=1,
    )
    weights = _rename(distilbert.state_dict(), DISTILBERT_RULES, f"DistilBERT {qformer}", unused=DISTILBERT_UNUSED)
    return weights, qformer_config


def _load_into(model: torch.nn.Module, weights: dict[str, torch.Tensor], origins: dict[str, str]) -> None:
    expected = model.state_dict()
    for key, tensor in weights.items():
        if key not in expected:
            raise CheckpointConversionError(
                f"{origins[key]} has no place in the model as configured (it would be `{key}`); does `config` match "
                "the pretrained parts (number of layers)?"
            )
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointConversionError(
                f"{origins[key]} has shape {tuple(tensor.shape)}, but the model expects {tuple(expected[key].shape)} "
                f"for `{key}`; does `config` match the pretrained parts?"
            )
    model.load_state_dict(weights, strict=False)


def _require_filled(model: torch.nn.Module, weights: dict, prefix: str, source: str, skip: str | None = None) -> None:
    """Raises if a parameter under `prefix` (other than those matching `skip`) got no weights from `source`."""
    unfilled = [
        key
        for key in model.state_dict()
        if key.startswith(prefix) and key not in weights and not (skip and re.search(skip, key))
    ]
    if unfilled:
        raise CheckpointConversionError(
            f"{source} provides no weights for {unfilled[:3]}{' ...' if len(unfilled) > 3 else ''}; does `config` "
            "match it (number of layers)?"
        )


def from_pretrained_parts(
    text: str | os.PathLike = "gpt2",
    vision: str | os.PathLike | None = "timm:vit_base_patch16_clip_224.openai",
    qformer: str | os.PathLike = "random",
    config: VideoReCapConfig | None = None,
    model_class: type[VideoReCapPreTrainedModel] = VideoReCapForConditionalGeneration,
    **kwargs,
) -> VideoReCapPreTrainedModel:
    r"""
    Initialises Video ReCap for training from scratch from public pretrained parts, as the original training does.

    Args:
        text (`str`, *optional*, defaults to `"gpt2"`):
            GPT-2 directory or Hub id: the decoder, and the starting point of every level's `ln_1`/`ln_2`. The gated
            cross-attention blocks are new, with zero gates, so the untrained model generates exactly like GPT-2.
        vision (`str`, *optional*, defaults to `"timm:vit_base_patch16_clip_224.openai"`):
            The video encoder: LaViLa's dual-encoder checkpoint (what the original trains with), a converted encoder
            directory, or `"timm:<name>"` / a timm state dict of CLIP ViT-B/16 (spatial weights from CLIP, temporal
            attention starting as a no-op, as in LaViLa). `None` leaves it random.
        qformer (`str`, *optional*, defaults to `"random"`):
            `"random"`: 12-layer randomly initialised Q-Formers, as the original code builds them (the default); or a
            DistilBERT directory or Hub id: the paper's 6-layer Q-Formers with cross-attention in every layer.
        config ([`VideoReCapConfig`], *optional*):
            The architecture; by default built from the parts (GPT-2's config, the encoder's shapes).
        model_class (`type`, *optional*, defaults to [`VideoReCapForConditionalGeneration`]):
            The Video ReCap class to build.
        kwargs: passed to `from_pretrained` of GPT-2 and DistilBERT (e.g. `revision`, `cache_dir`).
    Returns:
        The model, in eval mode.
    """
    gpt2 = GPT2Model.from_pretrained(text, **kwargs)
    qformer_weights, qformer_config = None, None
    if os.fspath(qformer) != "random":
        qformer_weights, qformer_config = load_distilbert_qformer_weights(qformer, **kwargs)
    num_frames = config.vision_config.num_frames if config is not None else VideoReCapVisionConfig().num_frames
    vision_weights, vision_config, vision_heads = None, None, None
    if vision is not None:
        vision_weights, vision_config, vision_heads = load_vision_weights(vision, num_frames)

    if config is None:
        if vision_config is None and vision_weights is not None:
            overrides = {"num_attention_heads": vision_heads} if vision_heads else {}
            vision_config = vision_config_from_state_dict(vision_weights, **overrides)
        config = VideoReCapConfig(
            text_config=gpt2.config.to_dict(),
            vision_config=vision_config.to_dict() if vision_config is not None else None,
            qformer_config=qformer_config.to_dict() if qformer_config is not None else None,
        )
    elif qformer_config is not None:
        wanted = {
            name: getattr(qformer_config, name)
            for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
        }
        actual = {name: getattr(config.qformer_config, name) for name in wanted}
        if wanted != actual:
            raise CheckpointConversionError(
                f"config.qformer_config has {actual}, but DistilBERT {qformer} gives {wanted}; build the config with "
                "the DistilBERT-shaped Q-Former (or pass config=None)."
            )
    model = model_class(config)

    weights, origins = {}, {}

    def add(key: str, tensor: torch.Tensor, origin: str) -> None:
        weights[key] = tensor
        origins[key] = origin

    for key, tensor in gpt2.state_dict().items():
        origin = f"GPT-2 {text}: `{key}`"
        if re.fullmatch(GPT2_SHARED, key):
            add("model.language_model." + re.sub(r"^h\.", "layers.", key), tensor, origin)
        elif match := re.fullmatch(GPT2_PER_LEVEL, key):
            layer, norm, name = match.groups()
            for adapter_key in config.adapter_keys:
                add(f"model.language_model.layers.{layer}.{norm}.{adapter_key}.{name}", tensor, origin)
        elif not re.fullmatch(GPT2_CONSTANTS, key):
            raise CheckpointConversionError(f"{origin} has no counterpart in the Video ReCap decoder.")
    if vision_weights is not None:
        for key, tensor in vision_weights.items():
            add("model.vision_model." + key, tensor, f"video encoder {vision}: `{key}`")
    if qformer_weights is not None:
        for adapter_key, alignment in model.model.alignment.items():
            for name in ("video_qformer", "text_qformer"):
                if getattr(alignment, name) is not None:
                    for key, tensor in qformer_weights.items():
                        add(f"model.alignment.{adapter_key}.{name}.{key}", tensor, f"DistilBERT {qformer}: `{key}`")

    _load_into(model, weights, origins)
    _require_filled(model, weights, "model.language_model.", f"GPT-2 {text}", skip=r"cross_attention_block")
    if vision_weights is not None:
        _require_filled(model, weights, "model.vision_model.", f"video encoder {vision}")
    else:
        logger.warning("No pretrained video encoder given (vision=None): the encoder is randomly initialised.")
    if qformer_weights is not None:
        _require_filled(
            model, weights, "model.alignment.", f"DistilBERT {qformer}", skip=r"query_tokens$|\.crossattention\."
        )
    return model.eval()


__all__ = [
    "from_pretrained_parts",
    "load_distilbert_qformer_weights",
    "load_vision_weights",
    "vision_state_dict_from_timm_clip",
]
