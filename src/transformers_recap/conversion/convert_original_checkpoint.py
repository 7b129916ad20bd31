# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Converts the checkpoints released with Video ReCap (and LaViLa's video encoder) to this package's format.

Video ReCap (Islam et al., CVPR 2024) was released as three training checkpoints, one per level
(`videorecap_clip.pt`, `videorecap_segment.pt`, `videorecap_video.pt`), and Video ReCap-U as one. Each file is what the
original `train.py` saves (md-mohaiminul/VideoRecap @7dce249): `{"state_dict", "epoch", "args", "optimizer",
"scaler"}`, with every key prefixed `module.` (DDP) and the training options pickled as an `argparse.Namespace`.

```bash
python -m transformers_recap.convert_original_checkpoint \
    --clip videorecap_clip.pt --segment videorecap_segment.pt --video videorecap_video.pt \
    --tokenizer gpt2 --output video-recap
python -m transformers_recap.convert_original_checkpoint --unified videorecap_unified.pt --output video-recap-u
python -m transformers_recap.convert_original_checkpoint \
    --lavila clip_openai_timesformer_base.baseline.ep_0003.pth --output lavila-encoder
```

The three Video ReCap files become ONE model holding all levels: the video encoder (from the clip file) and GPT-2's
frozen weights once (they must be identical in every file), and per level the Q-Formers (including their frozen,
randomly initialised self-attention and feed-forward weights), the query tensors, the gated cross-attention blocks and
the fine-tuned GPT-2 `ln_1`/`ln_2`. Per-level settings come from each file's `args`: query and feature counts, the
feature sampling (`video_sampling_type`; the published segment script never passes it, so its files store the parser
default `"masking"`), and `max_new_tokens = max_gen_tokens - 1` (the original loop makes at most `max_gen_tokens - 1`
steps). Video ReCap-U takes the evaluation settings of the original `eval_unified.py` (512 CLS features at segment and
video level, at most 76 / 76 / 99 new tokens) and its frame count from `vision_model.temporal_embed`.

Files are read with `torch.load(weights_only=True)` and an allow-list holding only `argparse.Namespace`; a file that
pickles anything else is refused without running it. Constant buffers (`attn.bias`, `masked_bias`, `position_ids`) and
tied aliases (`lm_head.weight`, `cls.predictions.decoder.*`) are checked and not copied; weights that never influence
the outputs (the Q-Formers' word/position embeddings, text-token feed-forward and MLM head) are dropped; anything
else that does not fit the architecture is an error naming the key.

Greedy decoding differs from the original on purpose: the original loop stops BEFORE appending the step's tokens once
every row has produced EOS, and `decode_one` then drops the last token of rows that hold no EOS, so the row(s) that
finish last in each batch (every row at batch size 1) lose their final token, often the closing period. Our `generate`
keeps that token; the tokens before it are the same.
"""

import argparse
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, GenerationConfig
from transformers.utils import logging

from ..models.video_recap import (
    LEVELS,
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
    VideoReCapVisionConfig,
    VideoReCapVisionModel,
)
from ..models.video_recap.configuration_video_recap import UNIFIED_ADAPTER_KEY
from .arguments import add_arguments
from .original_checkpoint import (
    ALLOWED_GLOBALS,
    CheckpointConversionError,
    OriginalCheckpoint,
    UnsafeCheckpointError,
    load_original_checkpoint,
)


logger = logging.get_logger(__name__)

LEVEL_DATASETS = {"clip": "clip_caption", "segment": "segment_description", "video": "video_summary"}
"""`args.dataset` of the training run of each level."""

# Evaluation settings of Video ReCap-U, hard-coded in the original `eval_unified.py` (its file's own `args` hold the
# options of whichever level branch ran last in `train_unified.py`).
UNIFIED_NUM_VIDEO_FEATURES = 512
UNIFIED_MAX_GEN_TOKENS = {"clip": 77, "segment": 77, "video": 100}


# ---------------------------------------------------------------------------------------------------------------------
# Key mapping. Each rule maps an original key (after `module.`) by full regex match to one of:
#   "shared"      a tensor stored once in the model (video encoder, GPT-2's frozen weights);
#   "level"       a tensor of one level's modules (`{key}` is replaced by the level's adapter key);
#   "drop"        a weight that never influences the outputs;
#   "alias"       a second name of another tensor of the file (must hold the same values);
#   a constant    "causal_mask", "masked_bias" or "position_ids" (checked, not stored).
# ---------------------------------------------------------------------------------------------------------------------

VISION_RULES = [
    (r"cls_token", "shared", "embeddings.cls_token"),
    (r"pos_embed", "shared", "embeddings.position_embeddings"),
    (r"temporal_embed", "shared", "embeddings.temporal_embeddings"),
    (r"patch_embed\.proj\.weight", "shared", "embeddings.patch_embeddings.proj.weight"),
    (r"ln_pre\.(weight|bias)", "shared", r"pre_layernorm.\1"),
    (r"blocks\.(\d+)\.norm3\.(weight|bias)", "shared", r"layers.\1.temporal_layernorm.\2"),
    (r"blocks\.(\d+)\.timeattn\.(qkv|proj)\.(weight|bias)", "shared", r"layers.\1.temporal_attention.\2.\3"),
    (r"blocks\.(\d+)\.norm1\.(weight|bias)", "shared", r"layers.\1.layernorm_before.\2"),
    (r"blocks\.(\d+)\.attn\.(qkv|proj)\.(weight|bias)", "shared", r"layers.\1.attention.\2.\3"),
    (r"blocks\.(\d+)\.norm2\.(weight|bias)", "shared", r"layers.\1.layernorm_after.\2"),
    (r"blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", "shared", r"layers.\1.mlp.\2.\3"),
    (r"norm\.(weight|bias)", "shared", r"post_layernorm.\1"),
]
"""LaViLa's SpaceTimeTransformer (`vision_model.*` in Video ReCap, `visual.*` in LaViLa) -> `VideoReCapVisionModel`."""

QFORMER_RULES = [
    (r"bert\.embeddings\.LayerNorm\.(weight|bias)", "level", r"layernorm.\1"),
    (
        r"bert\.encoder\.layer\.(\d+)\.(attention|crossattention)\.self\.(query|key|value)\.(weight|bias)",
        "level",
        r"encoder.layer.\1.\2.attention.\3.\4",
    ),
    (
        r"bert\.encoder\.layer\.(\d+)\.(attention|crossattention)\.output\.(dense|LayerNorm)\.(weight|bias)",
        "level",
        r"encoder.layer.\1.\2.output.\3.\4",
    ),
    (
        r"bert\.encoder\.layer\.(\d+)\.(intermediate_query|output_query)\.(dense|LayerNorm)\.(weight|bias)",
        "level",
        r"encoder.layer.\1.\2.\3.\4",
    ),
    (r"bert\.embeddings\.position_ids", "position_ids", None),
    (r"cls\.predictions\.decoder\.weight", "alias", "bert.embeddings.word_embeddings.weight"),
    (r"cls\.predictions\.decoder\.bias", "alias", "cls.predictions.bias"),
    # Queries enter as embeddings, so the token/position embeddings, the text-token feed-forward network and the
    # masked-language-model head are never used.
    (r"bert\.embeddings\.(word_embeddings|position_embeddings)\.weight", "drop", None),
    (r"bert\.encoder\.layer\.\d+\.(intermediate|output)\.(dense|LayerNorm)\.(weight|bias)", "drop", None),
    (r"cls\.predictions\.(bias|transform\.(dense|LayerNorm)\.(weight|bias))", "drop", None),
]
"""The original BERT-style mapper (`{video,text}_mapper.mapper.*`) -> transformers' `Blip2QFormerModel`."""

_BLOCK = r"language_model.layers.\1"
_GATED = r"language_model.layers.\1.cross_attention_block.{key}"
DECODER_RULES = [
    (r"transformer\.(wte|wpe)\.weight", "shared", r"language_model.\1.weight"),
    (r"transformer\.ln_f\.(weight|bias)", "shared", r"language_model.ln_f.\1"),
    (r"transformer\.h\.(\d+)\.attn\.(c_attn|c_proj)\.(weight|bias)", "shared", _BLOCK + r".attn.\2.\3"),
    (r"transformer\.h\.(\d+)\.mlp\.(c_fc|c_proj)\.(weight|bias)", "shared", _BLOCK + r".mlp.\2.\3"),
    (r"transformer\.h\.(\d+)\.(ln_1|ln_2)\.(weight|bias)", "level", _BLOCK + r".\2.{key}.\3"),
    (r"transformer\.h\.(\d+)\.alpha_cattn", "level", _GATED + ".cross_attention_gate"),
    (r"transformer\.h\.(\d+)\.alpha_dense", "level", _GATED + ".mlp_gate"),
    (r"transformer\.h\.(\d+)\.ln_cross_attn\.(weight|bias)", "level", _GATED + r".cross_attention_layernorm.\2"),
    (
        r"transformer\.h\.(\d+)\.crossattention\.(c_attn|q_attn|c_proj)\.(weight|bias)",
        "level",
        _GATED + r".cross_attention.\2.\3",
    ),
    (r"transformer\.h\.(\d+)\.ln_2_crossattention\.(weight|bias)", "level", _GATED + r".mlp_layernorm.\2"),
    (r"transformer\.h\.(\d+)\.mlp_crossattention\.(c_fc|c_proj)\.(weight|bias)", "level", _GATED + r".mlp.\2.\3"),
    (r"transformer\.h\.\d+\.(attn|crossattention)\.bias", "causal_mask", None),
    (r"transformer\.h\.\d+\.(attn|crossattention)\.masked_bias", "masked_bias", None),
    (r"lm_head\.weight", "alias", "transformer.wte.weight"),
]
"""The original gated GPT-2 (`text_decoder.*`, HF `Conv1D` layout like ours, so no transposes) -> our decoder."""

# Original prefix -> (its rules, the prefix of our keys; `{key}` is replaced by the level's adapter key).
COMPONENTS = {
    "vision_model.": (VISION_RULES, "model.vision_model."),
    "video_mapper.mapper.": (QFORMER_RULES, "model.alignment.{key}.video_qformer."),
    "text_mapper.mapper.": (QFORMER_RULES, "model.alignment.{key}.text_qformer."),
    "text_decoder.": (DECODER_RULES, "model."),
}
QUERY_KEYS = {
    "video_queries": "model.alignment.{key}.video_query_tokens",
    "text_queries": "model.alignment.{key}.text_query_tokens",
}


@dataclass
class _Target:
    kind: str
    key: str | None = None


def map_original_key(original_key: str, adapter_key: str) -> _Target | None:
    """
    Where an original Video ReCap key (without `module.`) goes in [`VideoReCapForConditionalGeneration`].

    Args:
        original_key (`str`): e.g. `"text_decoder.transformer.h.3.ln_1.weight"`.
        adapter_key (`str`): the level whose modules receive level-specific tensors (`"clip"`, ..., or `"shared"`).
    Returns:
        The rule kind and our key (for `"shared"`/`"level"`), the aliased original key (for `"alias"`), or `None`
        when no rule matches.
    """
    if original_key in QUERY_KEYS:
        return _Target("level", QUERY_KEYS[original_key].replace("{key}", adapter_key))
    for prefix, (rules, target_prefix) in COMPONENTS.items():
        if not original_key.startswith(prefix):
            continue
        local_key = original_key[len(prefix) :]
        for pattern, kind, template in rules:
            match = re.fullmatch(pattern, local_key)
            if match is None:
                continue
            if kind in ("shared", "level"):
                key = target_prefix + match.expand(template)
                return _Target(kind, key.replace("{key}", adapter_key))
            if kind == "alias":
                return _Target(kind, prefix + template)
            return _Target(kind)
        return None
    return None


def _check_constant(kind: str, tensor: torch.Tensor) -> bool:
    if kind == "causal_mask":
        size = tensor.shape[-1]
        expected = torch.tril(torch.ones(size, size, dtype=torch.bool)).view(1, 1, size, size)
        return tensor.shape == expected.shape and torch.equal(tensor.to(torch.bool), expected)
    if kind == "masked_bias":
        return tensor.numel() == 1 and float(tensor) == -1e4
    if kind == "position_ids":
        return tensor.ndim == 2 and torch.equal(tensor.cpu(), torch.arange(tensor.shape[-1]).unsqueeze(0))
    raise ValueError(f"Unknown constant kind {kind!r}.")


def _same_tensor(first: torch.Tensor, second: torch.Tensor) -> bool:
    return first.shape == second.shape and first.dtype == second.dtype and torch.equal(first, second)


CONSTANT_DESCRIPTIONS = {
    "causal_mask": "GPT-2's causal mask (a lower-triangular matrix of ones)",
    "masked_bias": "GPT-2's masked_bias constant (-1e4)",
    "position_ids": "the Q-Former's position ids (0, 1, 2, ...)",
}


class _ConvertedWeights:
    """Collects converted tensors from one or more files and remembers where each came from."""

    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}
        self.origins: dict[str, str] = {}

    def add(self, key: str, tensor: torch.Tensor, origin: str, shared: bool) -> None:
        if key in self.tensors:
            if not shared:
                raise CheckpointConversionError(f"{origin} and {self.origins[key]} both provide `{key}`.")
            if not _same_tensor(self.tensors[key], tensor):
                raise CheckpointConversionError(
                    f"{origin} differs from {self.origins[key]}: frozen weights shared by all levels (the video "
                    "encoder and GPT-2's weights) must be identical in every level file. Were the files trained from "
                    "the same chain of checkpoints?"
                )
            return
        self.tensors[key] = tensor
        self.origins[key] = origin

    def convert(self, checkpoint: OriginalCheckpoint, adapter_key: str, allowed_prefixes: tuple[str, ...]) -> None:
        """Maps every key of `checkpoint` into the level `adapter_key`, checking constants and aliases."""
        state_dict = checkpoint.state_dict
        for original_key, tensor in state_dict.items():
            origin = f"{checkpoint.path}: `{original_key}`"
            target = map_original_key(original_key, adapter_key)
            if target is None or not original_key.startswith(allowed_prefixes):
                expected = ", ".join(f"`{prefix.rstrip('.')}`" for prefix in allowed_prefixes)
                raise CheckpointConversionError(
                    f"{origin} does not belong in this checkpoint: it is not part of the Video ReCap architecture "
                    f"(expected only {expected} tensors)."
                )
            if target.kind in CONSTANT_DESCRIPTIONS:
                if not _check_constant(target.kind, tensor):
                    raise CheckpointConversionError(
                        f"{origin} should be {CONSTANT_DESCRIPTIONS[target.kind]} but holds other values (shape "
                        f"{tuple(tensor.shape)}); the file does not match the original architecture."
                    )
            elif target.kind == "alias":
                aliased = state_dict.get(target.key)
                if aliased is None or not _same_tensor(aliased, tensor):
                    raise CheckpointConversionError(
                        f"{origin} should be the same tensor as `{target.key}` (a tied weight) but is not."
                    )
            elif target.kind in ("shared", "level"):
                if original_key in QUERY_KEYS:
                    if tensor.ndim != 2:
                        raise CheckpointConversionError(
                            f"{origin} has shape {tuple(tensor.shape)}; expected (num_queries, query_width)."
                        )
                    tensor = tensor.unsqueeze(0)  # (num_queries, width) -> (1, num_queries, width)
                self.add(target.key, tensor, origin, shared=target.kind == "shared")


def _check_against_model(weights: _ConvertedWeights, model: torch.nn.Module, ignore: tuple[str, ...] = ()) -> None:
    """Checks that the converted tensors fill every parameter of `model` (on the meta device) with the right shapes."""
    expected = {key: value for key, value in model.state_dict().items() if key not in ignore}
    for key, tensor in weights.tensors.items():
        if key not in expected:
            raise CheckpointConversionError(
                f"{weights.origins[key]} has no place in the model as configured (it would be `{key}`); the file "
                "does not match the architecture (number of layers, cross-attention frequency, levels)."
            )
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointConversionError(
                f"{weights.origins[key]} has shape {tuple(tensor.shape)}, but the architecture expects "
                f"{tuple(expected[key].shape)} for `{key}`."
            )
        if not tensor.is_floating_point():
            raise CheckpointConversionError(f"{weights.origins[key]} has dtype {tensor.dtype}, not a float dtype.")
    missing = sorted(set(expected) - set(weights.tensors))
    if missing:
        listed = ", ".join(f"`{key}`" for key in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckpointConversionError(
            f"The original files provide no weights for {listed}{more}; they do not match the architecture (are the "
            "files given for the right levels, and is --config the architecture they were trained with?)."
        )


def _materialize(model_class, config, weights: _ConvertedWeights):
    """Builds `model_class(config)` without initialising it and puts the converted tensors in place."""
    with torch.device("meta"):
        model = model_class(config)
    tied = tuple(getattr(model, "_tied_weights_keys", None) or ())
    _check_against_model(weights, model, ignore=tied)
    result = model.load_state_dict(weights.tensors, strict=False, assign=True)
    if set(result.missing_keys) - set(tied) or result.unexpected_keys:
        raise CheckpointConversionError(f"Internal error: converted weights did not load ({result}).")
    model.tie_weights()
    still_meta = [name for name, tensor in model.state_dict().items() if tensor.is_meta]
    if still_meta:
        raise CheckpointConversionError(f"Internal error: no weights for {still_meta[:5]}.")
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------------
# Level settings from the training options.
# ---------------------------------------------------------------------------------------------------------------------


def _require_args(checkpoint: OriginalCheckpoint) -> argparse.Namespace:
    if checkpoint.args is None:
        raise CheckpointConversionError(
            f"{checkpoint.path} has no training options ('args'); the converter reads the level, query and feature "
            "counts, sampling and caption length from them, as the original evaluation does."
        )
    return checkpoint.args


def _arg(checkpoint: OriginalCheckpoint, name: str, default=None):
    return getattr(_require_args(checkpoint), name, default)


def _query_count(checkpoint: OriginalCheckpoint, name: str) -> int:
    """Rows of the `{name}` tensor, which must agree with `args.num_{name}` (the count the level was trained with)."""
    tensor = checkpoint.state_dict.get(name)
    if tensor is None:
        raise CheckpointConversionError(f"{checkpoint.path} has no `{name}` tensor.")
    count = int(tensor.shape[0])
    stored = _arg(checkpoint, f"num_{name}")
    if stored is not None and stored != count:
        raise CheckpointConversionError(
            f"{checkpoint.path}: args.num_{name}={stored} disagrees with `{name}`, which has {count} rows."
        )
    return count


def _feature_sampling(checkpoint: OriginalCheckpoint) -> str:
    sampling = _arg(checkpoint, "video_sampling_type", "masking")
    if sampling == "random":
        # The original eval.py evaluates `random` checkpoints with `uniform`.
        logger.warning(
            f"{checkpoint.path}: video_sampling_type 'random' becomes 'uniform', as the original eval.py does."
        )
        return "uniform"
    if sampling not in ("masking", "uniform"):
        raise CheckpointConversionError(
            f"{checkpoint.path}: args.video_sampling_type={sampling!r} is not supported (the original 'mean' sampling "
            "produces NaNs); expected 'masking' or 'uniform'."
        )
    return sampling


def _max_new_tokens(checkpoint: OriginalCheckpoint, max_gen_tokens: int) -> int:
    if not isinstance(max_gen_tokens, int) or max_gen_tokens < 2:
        raise CheckpointConversionError(f"{checkpoint.path}: args.max_gen_tokens={max_gen_tokens!r} is not valid.")
    return max_gen_tokens - 1


def _check_mappers(checkpoint: OriginalCheckpoint, video: bool, text: bool) -> None:
    for name, wanted in (("video_mapper_type", video), ("text_mapper_type", text)):
        value = _arg(checkpoint, name)
        if wanted and value != "qformer":
            raise CheckpointConversionError(
                f"{checkpoint.path}: args.{name}={value!r}; only the Q-Former mapper ('qformer') of the released "
                "models is supported."
            )
        if not wanted and value is not None:
            raise CheckpointConversionError(
                f"{checkpoint.path}: args.{name}={value!r}, but this level takes no {name.split('_')[0]} input."
            )


def _num_frames(checkpoint: OriginalCheckpoint) -> int:
    temporal = checkpoint.state_dict.get("vision_model.temporal_embed")
    if temporal is None or temporal.ndim != 3:
        raise CheckpointConversionError(
            f"{checkpoint.path} has no video encoder (`vision_model.temporal_embed` of shape (1, num_frames, width))."
        )
    return int(temporal.shape[1])


def level_settings_from_checkpoint(checkpoint: OriginalCheckpoint, level: str) -> dict:
    """
    The [`VideoReCapLevelSettings`] fields of one Video ReCap level file, from its `args` (checked against the file).

    Raises:
        CheckpointConversionError: the file was trained for another level, with another mapper or vision model, or
            its `args` disagree with its tensors.
    """
    dataset = _arg(checkpoint, "dataset")
    if dataset != LEVEL_DATASETS[level]:
        trained_for = {value: key for key, value in LEVEL_DATASETS.items()}.get(dataset, dataset)
        raise CheckpointConversionError(
            f"{checkpoint.path} was trained for args.dataset={dataset!r} (the {trained_for} level), but was given as "
            f"the {level} level checkpoint."
        )
    feature_type = _arg(checkpoint, "video_feature_type")
    settings = {
        "num_video_queries": _query_count(checkpoint, "video_queries"),
        "max_new_tokens": _max_new_tokens(checkpoint, _arg(checkpoint, "max_gen_tokens", 77)),
    }
    if level == "clip":
        _check_mappers(checkpoint, video=True, text=False)
        if feature_type != "pixel" or _arg(checkpoint, "vision_model_type", "timesformer") != "timesformer":
            raise CheckpointConversionError(
                f"{checkpoint.path}: the clip level must read frames with the TimeSformer encoder (args."
                f"video_feature_type='pixel', vision_model_type='timesformer'), got {feature_type!r}/"
                f"{_arg(checkpoint, 'vision_model_type')!r}."
            )
        frames = _num_frames(checkpoint)
        if _arg(checkpoint, "num_video_feat", frames) != frames:
            raise CheckpointConversionError(
                f"{checkpoint.path}: args.num_video_feat={_arg(checkpoint, 'num_video_feat')} (frames per clip) "
                f"disagrees with `vision_model.temporal_embed`, which has {frames} frames."
            )
        return settings
    _check_mappers(checkpoint, video=True, text=True)
    if feature_type != "cls":
        raise CheckpointConversionError(
            f"{checkpoint.path}: the {level} level reads CLS features (args.video_feature_type='cls'), got "
            f"{feature_type!r}."
        )
    num_features = _arg(checkpoint, "num_video_feat")
    if not isinstance(num_features, int) or num_features < 1:
        raise CheckpointConversionError(f"{checkpoint.path}: args.num_video_feat={num_features!r} is not valid.")
    settings.update(
        num_text_queries=_query_count(checkpoint, "text_queries"),
        num_video_features=num_features,
        feature_sampling=_feature_sampling(checkpoint),
    )
    return settings


def unified_level_settings_from_checkpoint(checkpoint: OriginalCheckpoint) -> dict:
    """The per-level settings of a Video ReCap-U file: its query counts, and the original `eval_unified.py` settings."""
    _check_mappers(checkpoint, video=True, text=True)
    if _arg(checkpoint, "hier_type", "recur") != "recur":
        raise CheckpointConversionError(
            f"{checkpoint.path}: args.hier_type={_arg(checkpoint, 'hier_type')!r}; only the recursive ReCap-U "
            "('recur'), whose segment and video levels read the previous level's captions, is supported."
        )
    num_video, num_text = _query_count(checkpoint, "video_queries"), _query_count(checkpoint, "text_queries")
    sampling = _feature_sampling(checkpoint)
    settings = {"clip": {"num_video_queries": num_video, "max_new_tokens": UNIFIED_MAX_GEN_TOKENS["clip"] - 1}}
    for level in ("segment", "video"):
        settings[level] = {
            "num_video_queries": num_video,
            "num_text_queries": num_text,
            "num_video_features": UNIFIED_NUM_VIDEO_FEATURES,
            "feature_sampling": sampling,
            "max_new_tokens": UNIFIED_MAX_GEN_TOKENS[level] - 1,
        }
    return settings


ARCHITECTURE_FIELDS = ("num_video_queries", "num_text_queries")
INPUT_FIELDS = ("num_video_features", "feature_sampling")


def split_level_settings(settings: dict) -> tuple[dict, dict, dict]:
    """
    Splits the per-level settings read from checkpoints by concern: query counts (the model config's
    `level_settings`), feature sampling (the processor's `input_settings`) and caption budgets (the generation
    config's `level_max_new_tokens`).
    """
    architecture = {
        level: {k: v for k, v in values.items() if k in ARCHITECTURE_FIELDS} for level, values in settings.items()
    }
    inputs = {level: {k: v for k, v in values.items() if k in INPUT_FIELDS} for level, values in settings.items()}
    budgets = {level: values["max_new_tokens"] for level, values in settings.items()}
    return architecture, inputs, budgets


def input_settings_from_checkpoints(
    clip: str | os.PathLike | OriginalCheckpoint | None = None,
    segment: str | os.PathLike | OriginalCheckpoint | None = None,
    video: str | os.PathLike | OriginalCheckpoint | None = None,
    unified: str | os.PathLike | OriginalCheckpoint | None = None,
) -> dict:
    """The processor's `input_settings` (feature counts and sampling) of the three level files or a ReCap-U file."""
    if unified is not None:
        return split_level_settings(unified_level_settings_from_checkpoint(_as_checkpoint(unified)))[1]
    files = {"clip": clip, "segment": segment, "video": video}
    settings = {level: level_settings_from_checkpoint(_as_checkpoint(files[level]), level) for level in LEVELS}
    return split_level_settings(settings)[1]


def _config_from(base_config: VideoReCapConfig | None, level_settings: dict, num_frames: int, **updates):
    """`base_config` (default: the released architecture) with the query counts read from the checkpoints."""
    data = (base_config or VideoReCapConfig()).to_dict()
    data["vision_config"] = {**data["vision_config"], "num_frames": num_frames}
    data["level_settings"] = {level: {**data["level_settings"][level], **level_settings[level]} for level in LEVELS}
    data.update(updates)
    data.pop("auto_map", None)
    data.pop("architectures", None)
    return VideoReCapConfig.from_dict(data)


def _cross_attention_frequency(checkpoints: list[OriginalCheckpoint]) -> int:
    values = {checkpoint.path: _arg(checkpoint, "cross_attn_freq", 1) for checkpoint in checkpoints}
    if len(set(values.values())) > 1:
        raise CheckpointConversionError(
            f"The level files disagree on args.cross_attn_freq ({values}); one decoder cannot hold them."
        )
    return next(iter(values.values()))


# ---------------------------------------------------------------------------------------------------------------------
# Public conversion functions.
# ---------------------------------------------------------------------------------------------------------------------


def _as_checkpoint(checkpoint: str | os.PathLike | OriginalCheckpoint) -> OriginalCheckpoint:
    return checkpoint if isinstance(checkpoint, OriginalCheckpoint) else load_original_checkpoint(checkpoint)


def convert_video_recap_checkpoints(
    clip: str | os.PathLike | OriginalCheckpoint,
    segment: str | os.PathLike | OriginalCheckpoint,
    video: str | os.PathLike | OriginalCheckpoint,
    config: VideoReCapConfig | None = None,
) -> VideoReCapForConditionalGeneration:
    """
    Converts the three Video ReCap level checkpoints into one [`VideoReCapForConditionalGeneration`].

    Args:
        clip, segment, video: the release files (`videorecap_{clip,segment,video}.pt`) or already loaded checkpoints.
        config (`VideoReCapConfig`, *optional*): the architecture (defaults to the released one); its level settings,
            frame count and cross-attention frequency are replaced by those of the files.
    Returns:
        The model in eval mode, its weights memory-mapped from the files where possible.
    """
    checkpoints = {"clip": _as_checkpoint(clip), "segment": _as_checkpoint(segment), "video": _as_checkpoint(video)}
    level_settings = {level: level_settings_from_checkpoint(checkpoints[level], level) for level in LEVELS}
    architecture, _, budgets = split_level_settings(level_settings)
    config = _config_from(
        config,
        architecture,
        _num_frames(checkpoints["clip"]),
        unified=False,
        decoder_cross_attention_frequency=_cross_attention_frequency(list(checkpoints.values())),
    )
    weights = _ConvertedWeights()
    for level, checkpoint in checkpoints.items():
        if level == "clip":
            prefixes = ("video_queries", "vision_model.", "video_mapper.", "text_decoder.")
        else:
            prefixes = ("video_queries", "text_queries", "video_mapper.", "text_mapper.", "text_decoder.")
        weights.convert(checkpoint, level, prefixes)
        logger.info(f"Converted the {level} level from {checkpoint.path} (epoch {checkpoint.epoch}).")
    model = _materialize(VideoReCapForConditionalGeneration, config, weights)
    model.generation_config.level_max_new_tokens = budgets
    return model


def convert_video_recap_u_checkpoint(
    unified: str | os.PathLike | OriginalCheckpoint, config: VideoReCapConfig | None = None
) -> VideoReCapForConditionalGeneration:
    """
    Converts a Video ReCap-U checkpoint into a [`VideoReCapForConditionalGeneration`] with `unified=True`.

    Args:
        unified: the release file or an already loaded checkpoint.
        config (`VideoReCapConfig`, *optional*): the architecture (defaults to the released one).
    """
    checkpoint = _as_checkpoint(unified)
    architecture, _, budgets = split_level_settings(unified_level_settings_from_checkpoint(checkpoint))
    config = _config_from(
        config,
        architecture,
        _num_frames(checkpoint),
        unified=True,
        decoder_cross_attention_frequency=_cross_attention_frequency([checkpoint]),
    )
    weights = _ConvertedWeights()
    weights.convert(checkpoint, UNIFIED_ADAPTER_KEY, (*QUERY_KEYS, *COMPONENTS))
    logger.info(f"Converted Video ReCap-U from {checkpoint.path} (epoch {checkpoint.epoch}).")
    model = _materialize(VideoReCapForConditionalGeneration, config, weights)
    model.generation_config.level_max_new_tokens = budgets
    return model


def lavila_vision_state_dict(checkpoint: str | os.PathLike | OriginalCheckpoint | Mapping) -> dict[str, torch.Tensor]:
    """
    The video encoder of a LaViLa checkpoint in [`VideoReCapVisionModel`]'s key layout.

    Accepts LaViLa's dual-encoder checkpoint (`clip_openai_timesformer_base.baseline.ep_0003.pth`: the visual tower
    under `module.visual.*`; the text tower, `image_projection` and `logit_scale` are ignored), a Video ReCap clip or
    ReCap-U checkpoint (`vision_model.*`), or a bare SpaceTimeTransformer state dict.
    """
    if isinstance(checkpoint, Mapping):
        checkpoint = OriginalCheckpoint(
            path="state dict", state_dict={key.removeprefix("module."): value for key, value in checkpoint.items()}
        )
    checkpoint = _as_checkpoint(checkpoint)
    for prefix in ("visual.", "vision_model.", ""):
        tower = {key[len(prefix) :]: value for key, value in checkpoint.state_dict.items() if key.startswith(prefix)}
        if "cls_token" in tower and "pos_embed" in tower:
            break
    else:
        raise CheckpointConversionError(
            f"{checkpoint.path} holds no LaViLa video encoder (no `visual.cls_token`, `vision_model.cls_token` or "
            "`cls_token`)."
        )
    weights = _ConvertedWeights()
    for original_key, tensor in tower.items():
        target = map_original_key("vision_model." + original_key, UNIFIED_ADAPTER_KEY)
        if target is None:
            raise CheckpointConversionError(
                f"{checkpoint.path}: `{prefix}{original_key}` is not part of the frozen-in-time video encoder."
            )
        weights.add(
            target.key.removeprefix("model.vision_model."), tensor, f"{checkpoint.path}: `{original_key}`", True
        )
    return weights.tensors


def vision_config_from_state_dict(
    state_dict: Mapping[str, torch.Tensor], base_config: VideoReCapVisionConfig | None = None, **overrides
) -> VideoReCapVisionConfig:
    """
    A [`VideoReCapVisionConfig`] with the sizes of a [`VideoReCapVisionModel`] state dict (width, depth, MLP width,
    patch and image size, frames). Attention heads cannot be read from shapes: they default to one per 64 channels,
    the head width of every CLIP and LaViLa ViT, unless given in `overrides` or `base_config`.
    """
    try:
        hidden_size = state_dict["embeddings.cls_token"].shape[-1]
        patch_size = state_dict["embeddings.patch_embeddings.proj.weight"].shape[-1]
        num_positions = state_dict["embeddings.position_embeddings"].shape[1]
        num_frames = state_dict["embeddings.temporal_embeddings"].shape[1]
        intermediate_size = state_dict["layers.0.mlp.fc1.weight"].shape[0]
    except KeyError as error:
        raise CheckpointConversionError(f"The video encoder weights lack {error}.") from None
    side = round((num_positions - 1) ** 0.5)
    if side * side != num_positions - 1:
        raise CheckpointConversionError(f"The position embedding has {num_positions} rows, not 1 + a square number.")
    layers = {int(match.group(1)) for key in state_dict if (match := re.match(r"layers\.(\d+)\.", key))}
    values = (base_config or VideoReCapVisionConfig()).to_dict()
    if base_config is None or base_config.hidden_size != hidden_size:
        if hidden_size % 64:
            raise CheckpointConversionError(
                f"The encoder is {hidden_size} wide, not a multiple of 64: give the number of attention heads."
            )
        values["num_attention_heads"] = hidden_size // 64
    values.update(
        hidden_size=hidden_size,
        num_hidden_layers=len(layers),
        intermediate_size=intermediate_size,
        patch_size=patch_size,
        image_size=side * patch_size,
        num_frames=num_frames,
    )
    values.update(overrides)
    return VideoReCapVisionConfig.from_dict(values)


def convert_lavila_checkpoint(
    checkpoint: str | os.PathLike | OriginalCheckpoint, config: VideoReCapVisionConfig | None = None
) -> VideoReCapVisionModel:
    """
    Loads LaViLa's video encoder (see [`lavila_vision_state_dict`]) as a [`VideoReCapVisionModel`].

    Args:
        checkpoint: LaViLa's dual-encoder checkpoint, or a Video ReCap clip / ReCap-U checkpoint.
        config (`VideoReCapVisionConfig`, *optional*): the encoder architecture; by default read from the shapes
            (12 heads for the released 768-wide encoder).
    """
    state_dict = lavila_vision_state_dict(checkpoint)
    config = config or vision_config_from_state_dict(state_dict)
    weights = _ConvertedWeights()
    for key, tensor in state_dict.items():
        weights.add(key, tensor, f"LaViLa encoder: `{key}`", shared=True)
    return _materialize(VideoReCapVisionModel, config, weights)


def save_converted(
    model: VideoReCapForConditionalGeneration | VideoReCapVisionModel,
    output_dir: str | os.PathLike,
    tokenizer: str | None = None,
    input_settings: dict | None = None,
) -> None:
    """
    Writes a converted model as safetensors with its config, greedy `generation_config.json` (keeping the level
    caption budgets) and, when `tokenizer` (a directory or Hub id of the GPT-2 tokenizer) is given, the
    [`VideoReCapProcessor`] with `input_settings` (see [`input_settings_from_checkpoints`]); a vision model gets its
    [`VideoReCapVideoProcessor`].
    """
    config = model.config
    vision_config = config if isinstance(model, VideoReCapVisionModel) else config.vision_config
    video_processor = VideoReCapVideoProcessor(
        size={"shortest_edge": vision_config.image_size},
        crop_size={"height": vision_config.image_size, "width": vision_config.image_size},
        num_frames=vision_config.num_frames,
    )
    if isinstance(model, VideoReCapVisionModel):
        if tokenizer is not None:
            raise CheckpointConversionError("--tokenizer applies to Video ReCap models, not to the encoder alone.")
        model.save_pretrained(output_dir)
        video_processor.save_pretrained(output_dir)
        return
    text_config = config.text_config
    model.generation_config = GenerationConfig(
        bos_token_id=text_config.bos_token_id,
        eos_token_id=text_config.eos_token_id,
        pad_token_id=text_config.eos_token_id,
        do_sample=False,
        num_beams=1,
        level_max_new_tokens=dict(model.generation_config.level_max_new_tokens),
    )
    processor = None
    if tokenizer is not None:
        loaded = AutoTokenizer.from_pretrained(tokenizer)
        if len(loaded) != text_config.vocab_size or loaded.eos_token_id != text_config.eos_token_id:
            raise CheckpointConversionError(
                f"Tokenizer {tokenizer} has {len(loaded)} tokens and EOS id {loaded.eos_token_id}; the decoder expects "
                f"{text_config.vocab_size} tokens and EOS id {text_config.eos_token_id} (GPT-2's tokenizer)."
            )
        processor = VideoReCapProcessor(
            video_processor=video_processor, tokenizer=loaded, input_settings=input_settings
        )
        processor.check_model_config(config)
    model.save_pretrained(output_dir)
    if processor is not None:
        processor.save_pretrained(output_dir)


# ---------------------------------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> str:
    """Runs a conversion from parsed arguments; returns a one-line summary. Raises on bad inputs."""
    levels = [getattr(args, level) for level in LEVELS]
    modes = [any(levels), args.unified is not None, args.lavila is not None]
    if sum(modes) != 1:
        raise CheckpointConversionError("Give either --clip, --segment and --video, or --unified, or --lavila.")
    if any(levels) and not all(levels):
        missing = ", ".join(f"--{level}" for level, path in zip(LEVELS, levels, strict=True) if path is None)
        raise CheckpointConversionError(f"Video ReCap needs all three level checkpoints; missing {missing}.")
    base_config = None
    if args.config is not None:
        config_path = Path(args.config)
        base_config = (
            VideoReCapConfig.from_json_file(config_path)
            if config_path.is_file()
            else VideoReCapConfig.from_pretrained(config_path)
        )
    input_settings = None
    if args.lavila is not None:
        vision_config = base_config.vision_config if base_config is not None else None
        model = convert_lavila_checkpoint(args.lavila, config=vision_config)
        description = "LaViLa video encoder"
    elif args.unified is not None:
        checkpoint = load_original_checkpoint(args.unified)
        model = convert_video_recap_u_checkpoint(checkpoint, config=base_config)
        input_settings = input_settings_from_checkpoints(unified=checkpoint)
        description = "Video ReCap-U model"
    else:
        checkpoints = [load_original_checkpoint(path) for path in levels]
        model = convert_video_recap_checkpoints(*checkpoints, config=base_config)
        input_settings = input_settings_from_checkpoints(*checkpoints)
        description = "Video ReCap model (clip, segment and video levels)"
    save_converted(model, args.output, tokenizer=args.tokenizer, input_settings=input_settings)
    return f"Saved the converted {description} to {args.output}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m transformers_recap.convert_original_checkpoint",
        description="Convert the released Video ReCap / Video ReCap-U checkpoints (or LaViLa's video encoder) to a "
        "directory that loads with VideoReCapForConditionalGeneration.from_pretrained.",
    )
    args = add_arguments(parser).parse_args(argv)
    try:
        summary = run(args)
    except (CheckpointConversionError, FileNotFoundError, OSError) as error:
        sys.exit(f"error: {error}")
    print(summary)


if __name__ == "__main__":
    main()


__all__ = [
    "ALLOWED_GLOBALS",
    "CheckpointConversionError",
    "OriginalCheckpoint",
    "UnsafeCheckpointError",
    "add_arguments",
    "convert_lavila_checkpoint",
    "convert_video_recap_checkpoints",
    "convert_video_recap_u_checkpoint",
    "lavila_vision_state_dict",
    "input_settings_from_checkpoints",
    "level_settings_from_checkpoint",
    "split_level_settings",
    "load_original_checkpoint",
    "main",
    "map_original_key",
    "run",
    "save_converted",
    "unified_level_settings_from_checkpoint",
    "vision_config_from_state_dict",
]
