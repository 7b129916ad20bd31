# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Video ReCap configuration.

Video ReCap (Islam et al., "Video ReCap: Recursive Captioning of Hour-Long Videos", CVPR 2024) captions a video at
three levels: clip captions (every 4 s), segment descriptions (every ~3 min) and a video summary. The defaults below
are the architecture of the released checkpoints as built by the original code (md-mohaiminul/VideoRecap @7dce249),
which differs from the paper in places: a 12-layer Q-Former with cross-attention in every second layer, gated
cross-attention before self-attention in every GPT-2 block, and per-level query and feature counts from the
published training scripts.
"""

from dataclasses import dataclass, fields

from huggingface_hub.dataclasses import strict
from transformers import Blip2QFormerConfig, GPT2Config, PreTrainedConfig
from transformers.utils import logging


logger = logging.get_logger(__name__)

LEVELS = ("clip", "segment", "video")
"""The three caption levels, from the shortest window to the whole video."""

UNIFIED_ADAPTER_KEY = "shared"
"""Key of the single set of level-specific modules that Video ReCap-U shares across all levels."""


@dataclass(frozen=True)
class VideoReCapLevelSettings:
    r"""
    Architecture of one caption level: how many learned queries read each input. The level's preprocessing (feature
    sampling, context packing, window length) belongs to [`VideoReCapProcessor`], its caption length to the
    generation config (`level_max_new_tokens`).

    Args:
        num_video_queries (`int`):
            Learned queries of the video Q-Former (0: the level ignores video features, a text-only ablation).
        num_text_queries (`int`):
            Learned queries of the text Q-Former that reads the previous level's captions (0: no text input).
    """

    num_video_queries: int
    num_text_queries: int


DEFAULT_LEVEL_SETTINGS = {
    # `scripts/run_videorecap_clip.sh`: 256 video queries over the 785 dense tokens of one 4-frame clip.
    "clip": {"num_video_queries": 256, "num_text_queries": 0},
    # `scripts/run_videorecap_segment.sh`: 32 video queries over the CLS features, 256 text queries over the clip
    # captions.
    "segment": {"num_video_queries": 32, "num_text_queries": 256},
    # `scripts/run_videorecap_video.sh`: 256 video queries, 256 text queries over the segment descriptions.
    "video": {"num_video_queries": 256, "num_text_queries": 256},
}


def merge_per_level(overrides: dict | None, defaults: dict, settings_class: type, name: str) -> dict:
    """
    `defaults` (level -> field -> value) updated with `overrides`, refusing unknown levels and fields of
    `settings_class` (a dataclass) with an error naming `name`.
    """
    overrides = overrides or {}
    unknown_levels = set(overrides) - set(LEVELS)
    if unknown_levels:
        raise ValueError(f"{name} has unknown levels {sorted(unknown_levels)}; expected {list(LEVELS)}.")
    valid_fields = {field.name for field in fields(settings_class)}
    merged = {}
    for level in LEVELS:
        level_overrides = overrides.get(level) or {}
        unknown_fields = set(level_overrides) - valid_fields
        if unknown_fields:
            raise ValueError(
                f"{name}[{level!r}] has unknown fields {sorted(unknown_fields)}; valid fields are {sorted(valid_fields)}."
            )
        merged[level] = {**defaults[level], **level_overrides}
    return merged


def validate_level(level: str) -> str:
    """Returns `level` if it names a caption level, else raises a `ValueError` listing the valid ones."""
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; expected one of {', '.join(repr(name) for name in LEVELS)}.")
    return level


@strict
class VideoReCapVisionConfig(PreTrainedConfig):
    r"""
    Configuration of the Video ReCap video encoder, the "frozen-in-time" space-time transformer of LaViLa
    (TimeSformer-B with CLIP ViT-B/16 geometry). Each block runs temporal attention, then spatial attention whose
    residual is added to the block input, then an MLP.

    hidden_size (`int`, *optional*, defaults to 768):
        Width of the encoder.
    num_hidden_layers (`int`, *optional*, defaults to 12):
        Number of space-time blocks.
    num_attention_heads (`int`, *optional*, defaults to 12):
        Attention heads of both the temporal and the spatial attention.
    intermediate_size (`int`, *optional*, defaults to 3072):
        Hidden width of the MLP.
    image_size (`int`, *optional*, defaults to 224):
        Frame height and width.
    patch_size (`int`, *optional*, defaults to 16):
        Patch height and width.
    num_frames (`int`, *optional*, defaults to 4):
        Frames per clip (length of the temporal embedding; fewer frames are accepted).
    num_channels (`int`, *optional*, defaults to 3):
        Input channels.
    hidden_act (`str`, *optional*, defaults to `"quick_gelu"`):
        MLP activation (`x * sigmoid(1.702 x)` in the released encoder).
    layer_norm_eps (`float`, *optional*, defaults to 1e-6):
        Epsilon of the block LayerNorms and of the final LayerNorm.
    pre_layer_norm_eps (`float`, *optional*, defaults to 1e-5):
        Epsilon of the CLIP-style LayerNorm applied after the embeddings (`ln_pre`, torch's default eps).
    qkv_bias (`bool`, *optional*, defaults to `True`):
        Whether the fused query/key/value projections have a bias.
    attention_dropout (`float`, *optional*, defaults to 0.0):
        Dropout on the attention probabilities.
    initializer_range (`float`, *optional*, defaults to 0.02):
        Standard deviation of the truncated normal initialiser.
    """

    model_type = "video_recap_vision"
    base_config_key = "vision_config"

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    image_size: int = 224
    patch_size: int = 16
    num_frames: int = 4
    num_channels: int = 3
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-6
    pre_layer_norm_eps: float = 1e-5
    qkv_bias: bool = True
    attention_dropout: float | int = 0.0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"vision_config.hidden_size ({self.hidden_size}) must be divisible by "
                f"vision_config.num_attention_heads ({self.num_attention_heads})."
            )
        if self.image_size % self.patch_size != 0:
            raise ValueError(
                f"vision_config.image_size ({self.image_size}) must be a multiple of "
                f"vision_config.patch_size ({self.patch_size})."
            )

    @property
    def num_patches_per_frame(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@strict
class VideoReCapConfig(PreTrainedConfig):
    r"""
    Configuration of [`VideoReCapForConditionalGeneration`]. `VideoReCapConfig()` is the released Video ReCap
    architecture at full size (TimeSformer-B encoder, 12-layer Q-Formers, GPT-2 small decoder).

    vision_config (`dict` or [`VideoReCapVisionConfig`], *optional*):
        The space-time video encoder.
    qformer_config (`dict` or [`Blip2QFormerConfig`], *optional*):
        The Q-Formers that align video features and previous-level text with the decoder. The default is the
        BERT-base-shaped, 12-layer encoder the original code builds (cross-attention in layers 0, 2, ..., 10).
        `encoder_hidden_size` is set from the vision (video Q-Former) and text (text Q-Former) widths.
    text_config (`dict` or [`GPT2Config`], *optional*):
        The GPT-2 decoder.
    level_settings (`dict`, *optional*):
        Per-level overrides of [`VideoReCapLevelSettings`] fields (query counts), keyed by `"clip"`, `"segment"`,
        `"video"`; missing fields take the released model's values.
    unified (`bool`, *optional*, defaults to `False`):
        Video ReCap-U: one set of Q-Formers, queries, gated cross-attention blocks and GPT-2 LayerNorms shared by all
        levels. Otherwise (Video ReCap) each level has its own set.
    decoder_cross_attention_frequency (`int`, *optional*, defaults to 1):
        A gated cross-attention block is inserted before the self-attention of every decoder block whose index is a
        multiple of this value (1: every block, as released).
    gate_init_value (`float`, *optional*, defaults to 0.0):
        Initial value of the tanh gates; 0 makes an untrained model reproduce GPT-2 exactly.
    initializer_range (`float`, *optional*, defaults to 0.02):
        Standard deviation of the normal initialiser of linear layers outside the sub-models.
    """

    model_type = "video_recap"
    sub_configs_defaults = {
        "vision_config": VideoReCapVisionConfig,
        "qformer_config": Blip2QFormerConfig,
        "text_config": GPT2Config,
    }

    vision_config: dict | PreTrainedConfig | None = None
    qformer_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    level_settings: dict | None = None
    unified: bool = False
    decoder_cross_attention_frequency: int = 1
    gate_init_value: float | int = 0.0
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True

    def __post_init__(self, **kwargs):
        if isinstance(self.text_config, dict) and "vocab_size" in self.text_config:
            # GPT-2's <|endoftext|> (the last token) is both BOS and EOS; keep that convention for other vocabularies.
            for name in ("bos_token_id", "eos_token_id"):
                self.text_config.setdefault(name, self.text_config["vocab_size"] - 1)
        super().__post_init__(**kwargs)
        # The video Q-Former reads encoder tokens; the text Q-Former reads GPT-2 token + position embeddings.
        self.qformer_config.encoder_hidden_size = self.vision_config.hidden_size
        self.level_settings = self._merge_level_settings(self.level_settings)
        if self.decoder_cross_attention_frequency < 1:
            raise ValueError(
                f"decoder_cross_attention_frequency must be >= 1, got {self.decoder_cross_attention_frequency}."
            )
        if self.unified:
            shared = {
                name: {self.level_settings[level][name] for level in LEVELS if self.level_settings[level][name]}
                for name in ("num_video_queries", "num_text_queries")
            }
            for name, values in shared.items():
                if len(values) > 1:
                    raise ValueError(
                        f"unified=True shares one query tensor across levels, but level_settings give different "
                        f"{name} values {sorted(values)}; use the same count for every level that uses it."
                    )

    @staticmethod
    def _merge_level_settings(level_settings: dict | None) -> dict:
        merged = merge_per_level(level_settings, DEFAULT_LEVEL_SETTINGS, VideoReCapLevelSettings, "level_settings")
        for level, settings in merged.items():
            for name, value in settings.items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"level_settings[{level!r}][{name!r}] must be an integer >= 0, got {value!r}.")
            if settings["num_video_queries"] + settings["num_text_queries"] == 0:
                raise ValueError(f"level_settings[{level!r}] has neither video nor text queries.")
            if level == "clip" and settings["num_text_queries"]:
                raise ValueError(
                    "The clip level has no previous level, so level_settings['clip'] needs no text queries."
                )
        return merged

    def get_level_settings(self, level: str) -> VideoReCapLevelSettings:
        """Returns the settings of `level` (`"clip"`, `"segment"` or `"video"`)."""
        return VideoReCapLevelSettings(**self.level_settings[validate_level(level)])

    def adapter_key(self, level: str) -> str:
        """Key of the level-specific modules used at `level` (one shared key for Video ReCap-U)."""
        validate_level(level)
        return UNIFIED_ADAPTER_KEY if self.unified else level

    @property
    def adapter_keys(self) -> tuple[str, ...]:
        """Keys of all sets of level-specific modules of the model."""
        return (UNIFIED_ADAPTER_KEY,) if self.unified else LEVELS

    def adapter_query_counts(self, key: str) -> tuple[int, int]:
        """(video queries, text queries) of the level-specific modules stored under `key`."""
        levels = LEVELS if key == UNIFIED_ADAPTER_KEY else (key,)
        num_video = max(self.level_settings[level]["num_video_queries"] for level in levels)
        num_text = max(self.level_settings[level]["num_text_queries"] for level in levels)
        return num_video, num_text


VideoReCapConfig.register_for_auto_class()


__all__ = ["LEVELS", "VideoReCapConfig", "VideoReCapLevelSettings", "VideoReCapVisionConfig", "validate_level"]
