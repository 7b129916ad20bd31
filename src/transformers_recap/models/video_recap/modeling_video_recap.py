# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""PyTorch Video ReCap model.

Video ReCap (Islam et al., "Video ReCap: Recursive Captioning of Hour-Long Videos", CVPR 2024) captions a video at
three levels with one architecture: a space-time video encoder, Q-Formers that align video features and the previous
level's captions with the decoder, and a GPT-2 decoder with gated cross-attention. Everything here follows the
original release (md-mohaiminul/VideoRecap @7dce249) where it differs from the paper:

- the encoder is LaViLa's "frozen-in-time" TimeSformer: the temporal attention output feeds only the input of the
  spatial attention, whose residual is added to the block input; one CLS token per clip; `ln_pre` with eps 1e-5;
- the Q-Formers are 12-layer BERT-base-shaped encoders with cross-attention in every second layer and a
  query-specific feed-forward network (transformers' `Blip2QFormerModel`, bit-identical to the original mapper);
- every GPT-2 block runs a gated cross-attention block and a gated squared-ReLU feed-forward network BEFORE its
  self-attention, and each level fine-tunes its own copy of the blocks' `ln_1`/`ln_2`;
- the previous level's text enters as GPT-2 token + position embeddings read by a second Q-Former, and the decoder
  cross-attends to the concatenation [video query outputs ; text query outputs].

The space-time encoder and the gated cross-attention block are written here because no library has them; the
Q-Former, the GPT-2 attention/MLP (with their KV-cache handling), generation and losses come from transformers and
the patch embedding and MLP of the encoder from timm.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from timm.layers import Mlp, PatchEmbed, get_act_layer
from torch import nn
from torch.nn import functional as F
from transformers import Blip2QFormerModel, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.gpt2.modeling_gpt2 import GPT2MLP, GPT2Attention
from transformers.processing_utils import Unpack
from transformers.pytorch_utils import Conv1D
from transformers.utils import ModelOutput, TransformersKwargs, can_return_tuple, logging
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_video_recap import VideoReCapConfig, VideoReCapVisionConfig, validate_level


logger = logging.get_logger(__name__)

DEFAULT_LEVEL_MAX_NEW_TOKENS = {"clip": 76, "segment": 76, "video": 119}
"""Caption budget per level of the released model: the original `max_gen_tokens` of 77 (120 at video level) allows at
most 76 (119) new tokens. Stored in `generation_config.level_max_new_tokens`."""

# Written into `auto_map` on save, so that every Auto class loads a saved directory with `trust_remote_code=True`
# where this package is not installed (transformers would otherwise list only the class that was saved).
REMOTE_CODE_AUTO_MAP = {
    "AutoConfig": "configuration_video_recap.VideoReCapConfig",
    "AutoModel": "modeling_video_recap.VideoReCapModel",
    "AutoModelForImageTextToText": "modeling_video_recap.VideoReCapForConditionalGeneration",
}


@dataclass
class VideoReCapVisionModelOutput(BaseModelOutputWithPooling):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, 1 + num_frames * num_patches, hidden_size)`):
        Final-LayerNormed dense tokens of the clip, CLS first.
    pooler_output (`torch.FloatTensor` of shape `(batch_size, hidden_size)`):
        The CLS feature, read at segment and video level.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
        The embeddings after `ln_pre` and the output of every block (before the final LayerNorm), each of shape
        `(batch_size, 1 + num_frames * num_patches, hidden_size)`.
    attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        Per block, the spatial attention's probabilities `(batch_size, num_heads, sequence_length, sequence_length)`,
        zero outside each query's frame (and the CLS token). Needs `attn_implementation="eager"`.
    temporal_attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        Per block, the temporal attention's probabilities, of the same shape, zero outside each query's spatial
        position (and the CLS token). Needs `attn_implementation="eager"`.
    """

    temporal_attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class VideoReCapModelOutput(ModelOutput):
    r"""
    last_hidden_state (`torch.FloatTensor` of shape `(batch_size, sequence_length, hidden_size)`):
        Final hidden states of the decoder (after `ln_f`).
    cache (`Cache`, *optional*):
        Self-attention and cross-attention keys/values of the decoder, for incremental decoding.
    encoder_hidden_states (`torch.FloatTensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`):
        The decoder memory: video query outputs followed by text query outputs.
    video_features (`torch.FloatTensor` of shape `(batch_size, 1 + num_frames * num_patches, vision_hidden_size)`, *optional*):
        Dense encoder tokens of the clip, when the model encoded `pixel_values_videos`.
    hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned when `output_hidden_states=True`):
        The decoder's embeddings and the output of every block (the last after `ln_f`), each of shape
        `(batch_size, sequence_length, hidden_size)`.
    attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        Per block, the causal self-attention's probabilities `(batch_size, num_heads, sequence_length,
        past_length + sequence_length)`. Needs `attn_implementation="eager"`.
    cross_attentions (`tuple(torch.FloatTensor)`, *optional*, returned when `output_attentions=True`):
        Per gated cross-attention block, the probabilities over the memory `(batch_size, num_heads, sequence_length,
        num_query_tokens)`. Needs `attn_implementation="eager"`.
    """

    last_hidden_state: torch.FloatTensor | None = None
    cache: Cache | None = None
    encoder_hidden_states: torch.FloatTensor | None = None
    video_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    cross_attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class VideoReCapCausalLMOutput(ModelOutput):
    r"""
    loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
        Mean token cross-entropy over the label positions that are not -100.
    logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, vocab_size)`):
        Next-token scores.
    cache (`Cache`, *optional*):
        Self-attention and cross-attention keys/values of the decoder, for incremental decoding.
    encoder_hidden_states (`torch.FloatTensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`):
        The decoder memory: video query outputs followed by text query outputs.
    video_features (`torch.FloatTensor` of shape `(batch_size, 1 + num_frames * num_patches, vision_hidden_size)`, *optional*):
        Dense encoder tokens of the clip, when the model encoded `pixel_values_videos`.
    hidden_states, attentions, cross_attentions (`tuple(torch.FloatTensor)`, *optional*):
        The decoder's, as in [`VideoReCapModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    cache: Cache | None = None
    encoder_hidden_states: torch.FloatTensor | None = None
    video_features: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
    cross_attentions: tuple[torch.FloatTensor, ...] | None = None


# ---------------------------------------------------------------------------------------------------------------------
# Video encoder: LaViLa's frozen-in-time space-time transformer (no library implements this attention grouping or the
# residual wiring; transformers' TimesformerModel has neither `ln_pre` nor this block layout).
# ---------------------------------------------------------------------------------------------------------------------


class VideoReCapVisionEmbeddings(nn.Module):
    """Patch, position and temporal embeddings of a clip, with one CLS token for the whole clip."""

    def __init__(self, config: VideoReCapVisionConfig):
        super().__init__()
        self.num_patches = config.num_patches_per_frame
        # CLIP-style patch embedding: no bias, because `ln_pre` follows.
        self.patch_embeddings = PatchEmbed(
            img_size=config.image_size,
            patch_size=config.patch_size,
            in_chans=config.num_channels,
            embed_dim=config.hidden_size,
            bias=False,
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.position_embeddings = nn.Parameter(torch.zeros(1, 1 + self.num_patches, config.hidden_size))
        self.temporal_embeddings = nn.Parameter(torch.zeros(1, config.num_frames, config.hidden_size))

    def forward(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """
        Args:
            pixel_values_videos (`torch.Tensor` of shape `(batch_size, num_frames, num_channels, height, width)`)
        Returns:
            `torch.Tensor` of shape `(batch_size, 1 + num_frames * num_patches, hidden_size)`: the CLS token, then the
            patches frame by frame (index `1 + frame * num_patches + patch`).
        """
        batch_size, num_frames, num_channels, height, width = pixel_values_videos.shape
        frames = pixel_values_videos.reshape(batch_size * num_frames, num_channels, height, width)
        patches = self.patch_embeddings(frames.to(self.patch_embeddings.proj.weight.dtype))
        # (batch_size * num_frames, num_patches, hidden) -> (batch_size, num_frames * num_patches, hidden)
        patches = patches.reshape(batch_size, num_frames * self.num_patches, -1)
        # Spatial embeddings tiled over frames; temporal embedding f added to every patch of frame f (not to CLS).
        spatial = self.position_embeddings[:, 1:].repeat(1, num_frames, 1)
        temporal = self.temporal_embeddings[:, :num_frames].repeat_interleave(self.num_patches, dim=1)
        patches = patches + (spatial + temporal)
        cls_tokens = self.cls_token.expand(batch_size, -1, -1) + self.position_embeddings[:, :1]
        return torch.cat([cls_tokens, patches], dim=1)


def warn_if_attentions_unavailable(config, kwargs: dict) -> None:
    """Warns, as transformers' SDPA path does, when attention probabilities are asked for from a kernel that does not
    compute them (only `"eager"` does), instead of returning none without a word."""
    wanted = kwargs.get("output_attentions", getattr(config, "output_attentions", False))
    if wanted and config._attn_implementation not in (None, "eager"):
        logger.warning_once(
            f"output_attentions=True needs attn_implementation='eager'; this model runs "
            f"{config._attn_implementation!r}, so no attentions are returned. Load it with "
            "from_pretrained(..., attn_implementation='eager') or call model.set_attn_implementation('eager')."
        )


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Softmax attention written out, as transformers' models define it for the `"eager"` implementation.

    Args:
        query (`torch.Tensor` of shape `(batch_size, num_heads, query_length, head_dim)`)
        key, value (`torch.Tensor` of shape `(batch_size, num_heads, key_length, head_dim)`)
        attention_mask (`torch.Tensor`, *optional*): additive mask broadcastable to the scores.
    Returns:
        The output `(batch_size, query_length, num_heads, head_dim)` and the probabilities `(batch_size, num_heads,
        query_length, key_length)`.
    """
    attn_weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        attn_weights = attn_weights + attention_mask
    attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_weights = F.dropout(attn_weights, p=dropout, training=module.training)
    attn_output = torch.matmul(attn_weights, value).transpose(1, 2).contiguous()
    return attn_output, attn_weights


HALF_DTYPES = (torch.bfloat16, torch.float16)


class VideoReCapVisionAttention(nn.Module):
    """
    Divided space-time attention of the frozen-in-time encoder. The CLS query attends to every token; each patch query
    attends to the CLS token and to the patches of its group: the same frame (`over="space"`) or the same spatial
    position in every frame (`over="time"`).

    With `config._attn_implementation == "eager"` this is one masked attention over all tokens, whose probabilities
    are returned; any other implementation of transformers' attention interface (`"sdpa"`, flash or flex kernels)
    runs unmasked on the groups instead: one call for the CLS query and one for all groups of the batch, the
    original's layout and a fraction of the work.

    Args:
        config: the encoder configuration.
    """

    is_causal = False

    def __init__(self, config: VideoReCapVisionConfig):
        super().__init__()
        hidden_size = config.hidden_size
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = hidden_size // self.num_heads
        self.scaling = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size, bias=config.qkv_bias)
        self.proj = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, num_frames: int, over: str
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """
        Args:
            hidden_states (`torch.Tensor` of shape `(batch_size, 1 + num_frames * num_patches, hidden_size)`)
            num_frames (`int`): frames in the clip.
            over (`str`): `"space"` (attention within each frame) or `"time"` (across frames at each position).
        Returns:
            `torch.Tensor` of the same shape as `hidden_states`, and with the `"eager"` implementation the attention
            probabilities `(batch_size, num_heads, sequence_length, sequence_length)` (zero outside each query's
            group), else `None`.
        """
        batch_size, seq_len, hidden_size = hidden_states.shape
        num_patches = (seq_len - 1) // num_frames
        # (batch, seq, 3 * hidden) -> 3 x (batch, heads, seq, head_dim); q | k | v, heads as the outer index.
        qkv = self.qkv(hidden_states).reshape(batch_size, seq_len, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        dropout = self.attention_dropout if self.training else 0.0

        if self.config._attn_implementation in (None, "eager"):
            mask = self._group_mask(num_frames, num_patches, over, query.device, query.dtype)
            attn_output, attn_weights = eager_attention_forward(
                self, query, key, value, mask, scaling=self.scaling, dropout=dropout
            )
            return self.proj(attn_output.reshape(batch_size, seq_len, hidden_size)), attn_weights

        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )

        def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            if self.config._attn_implementation == "sdpa" and q.device.type == "cpu" and q.dtype in HALF_DTYPES:
                # torch's CPU attention kernels are slower in half precision than in float32 on these short groups
                # (a clip's 4-frame temporal groups: 3.1 ms in bfloat16, 1.2 ms in float32 with the casts), and
                # float32 is the more accurate of the two.
                output, _ = attention_interface(
                    self, q.float(), k.float(), v.float(), None, dropout=dropout, scaling=self.scaling
                )
                return output.to(q.dtype)
            return attention_interface(self, q, k, v, None, dropout=dropout, scaling=self.scaling)[0]

        cls_output = attend(query[:, :, :1], key, value)  # (batch, 1, heads, head_dim)

        if over == "space":
            num_groups, group_len = num_frames, num_patches
        else:
            num_groups, group_len = num_patches, num_frames

        def to_groups(states: torch.Tensor) -> torch.Tensor:
            # (batch, heads, frames * patches, head_dim) -> (batch * groups, heads, group_len, head_dim)
            states = states[:, :, 1:].reshape(batch_size, self.num_heads, num_frames, num_patches, self.head_dim)
            order = (0, 2, 1, 3, 4) if over == "space" else (0, 3, 1, 2, 4)
            return states.permute(order).reshape(batch_size * num_groups, self.num_heads, group_len, self.head_dim)

        # Each group also sees the CLS key/value.
        cls_key = key[:, :, :1].repeat_interleave(num_groups, dim=0)
        cls_value = value[:, :, :1].repeat_interleave(num_groups, dim=0)
        group_output = attend(
            to_groups(query),
            torch.cat([cls_key, to_groups(key)], dim=2),
            torch.cat([cls_value, to_groups(value)], dim=2),
        )
        # (batch * groups, group_len, heads, head_dim) -> (batch, frames * patches, heads, head_dim)
        if over == "space":
            group_output = group_output.reshape(batch_size, num_frames * num_patches, self.num_heads, self.head_dim)
        else:
            group_output = group_output.reshape(batch_size, num_patches, num_frames, self.num_heads, self.head_dim)
            group_output = group_output.transpose(1, 2).reshape(batch_size, -1, self.num_heads, self.head_dim)
        attn_output = torch.cat([cls_output, group_output], dim=1).reshape(batch_size, seq_len, hidden_size)
        return self.proj(attn_output), None

    @staticmethod
    def _group_mask(
        num_frames: int, num_patches: int, over: str, device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """Additive `(seq, seq)` mask of the divided attention: 0 where a query may attend, the dtype's minimum
        elsewhere (patch tokens see the CLS token and their own frame or spatial position; CLS sees everything)."""
        positions = torch.arange(num_frames * num_patches, device=device)
        group = positions // num_patches if over == "space" else positions % num_patches
        group = torch.cat([group.new_full((1,), -1), group])  # CLS: group -1
        allowed = (group[:, None] == group[None, :]) | (group[:, None] == -1) | (group[None, :] == -1)
        return torch.zeros(allowed.shape, device=device, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


class VideoReCapVisionLayer(GradientCheckpointingLayer):
    """One frozen-in-time space-time block (temporal attention, spatial attention, MLP)."""

    def __init__(self, config: VideoReCapVisionConfig):
        super().__init__()
        hidden_size, eps = config.hidden_size, config.layer_norm_eps
        self.temporal_layernorm = nn.LayerNorm(hidden_size, eps=eps)
        self.temporal_attention = VideoReCapVisionAttention(config)
        self.layernorm_before = nn.LayerNorm(hidden_size, eps=eps)
        self.attention = VideoReCapVisionAttention(config)
        self.layernorm_after = nn.LayerNorm(hidden_size, eps=eps)
        self.mlp = Mlp(hidden_size, config.intermediate_size, act_layer=get_act_layer(config.hidden_act))

    def forward(self, hidden_states: torch.Tensor, num_frames: int) -> torch.Tensor:
        """
        Args:
            hidden_states (`torch.Tensor` of shape `(batch_size, 1 + num_frames * num_patches, hidden_size)`)
            num_frames (`int`): frames in the clip.
        Returns:
            `torch.Tensor` of the same shape.
        """
        temporal_output, _ = self.temporal_attention(self.temporal_layernorm(hidden_states), num_frames, over="time")
        # Frozen-in-time wiring: the temporal output only shapes the input of the spatial attention; the spatial
        # residual is added to the block input, so the temporal output never enters the residual stream directly.
        spatial_input = self.layernorm_before(hidden_states + temporal_output)
        spatial_output, _ = self.attention(spatial_input, num_frames, over="space")
        hidden_states = hidden_states + spatial_output
        hidden_states = hidden_states + self.mlp(self.layernorm_after(hidden_states))
        return hidden_states


def temporal_attentions_follow_attentions(forward):
    """
    `output_attentions` also asks for the temporal attentions (`capture_outputs` records a key only when its own
    `output_<key>` flag is set; transformers special-cases `cross_attentions` the same way).
    """

    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        if "output_temporal_attentions" not in kwargs:
            kwargs["output_temporal_attentions"] = kwargs.get("output_attentions", self.config.output_attentions)
        return forward(self, *args, **kwargs)

    return wrapper


class VideoReCapVisionPreTrainedModel(PreTrainedModel):
    config: VideoReCapVisionConfig
    config_class = VideoReCapVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    supports_gradient_checkpointing = True
    _no_split_modules = ["VideoReCapVisionLayer"]
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_record_outputs = {
        "hidden_states": VideoReCapVisionLayer,
        "attentions": OutputRecorder(VideoReCapVisionAttention, index=1, layer_name=".attention"),
        "temporal_attentions": OutputRecorder(VideoReCapVisionAttention, index=1, layer_name=".temporal_attention"),
    }

    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        std = self.config.initializer_range
        if isinstance(module, VideoReCapVisionEmbeddings):
            init.trunc_normal_(module.cls_token, std=std)
            init.trunc_normal_(module.position_embeddings, std=std)
            init.zeros_(module.temporal_embeddings)


class VideoReCapVisionModel(VideoReCapVisionPreTrainedModel):
    """The Video ReCap video encoder: dense space-time tokens of a clip and its CLS feature."""

    def __init__(self, config: VideoReCapVisionConfig):
        super().__init__(config)
        self.embeddings = VideoReCapVisionEmbeddings(config)
        self.pre_layernorm = nn.LayerNorm(config.hidden_size, eps=config.pre_layer_norm_eps)
        self.layers = nn.ModuleList([VideoReCapVisionLayer(config) for _ in range(config.num_hidden_layers)])
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def check_pixel_values(self, pixel_values_videos: torch.Tensor) -> None:
        """Raises a `ValueError` naming the problem when `pixel_values_videos` does not fit the encoder."""
        config = self.config
        if not isinstance(pixel_values_videos, torch.Tensor):
            raise TypeError(f"pixel_values_videos must be a torch.Tensor, got {type(pixel_values_videos).__name__}.")
        if pixel_values_videos.ndim != 5:
            raise ValueError(
                "pixel_values_videos must have shape (batch_size, num_frames, num_channels, height, width); got "
                f"shape {tuple(pixel_values_videos.shape)}."
            )
        _, num_frames, num_channels, height, width = pixel_values_videos.shape
        if not 1 <= num_frames <= config.num_frames:
            raise ValueError(
                f"pixel_values_videos has {num_frames} frames per clip; the encoder takes 1 to {config.num_frames}."
            )
        if num_channels != config.num_channels:
            raise ValueError(
                f"pixel_values_videos has {num_channels} channels in dim 2; expected {config.num_channels} "
                "(layout (batch_size, num_frames, num_channels, height, width))."
            )
        if (height, width) != (config.image_size, config.image_size):
            raise ValueError(
                f"pixel_values_videos frames are {height}x{width}; the encoder takes "
                f"{config.image_size}x{config.image_size} (use VideoReCapVideoProcessor)."
            )

    @temporal_attentions_follow_attentions
    @capture_outputs(tie_last_hidden_states=False)
    def forward(
        self, pixel_values_videos: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> VideoReCapVisionModelOutput:
        r"""
        pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`):
            Normalised clip frames (see [`VideoReCapVideoProcessor`]).

        Returns: [`VideoReCapVisionModelOutput`]: `last_hidden_state` `(batch_size, 1 + num_frames * num_patches,
        hidden_size)` (final-LayerNormed dense tokens, CLS first), `pooler_output` `(batch_size, hidden_size)` (the CLS
        feature used at segment and video level), and the hidden states and attentions when asked for.
        """
        self.check_pixel_values(pixel_values_videos)
        warn_if_attentions_unavailable(self.config, kwargs)
        num_frames = pixel_values_videos.shape[1]
        hidden_states = self.pre_layernorm(self.embeddings(pixel_values_videos))
        for layer in self.layers:
            hidden_states = layer(hidden_states, num_frames)
        hidden_states = self.post_layernorm(hidden_states)
        return VideoReCapVisionModelOutput(last_hidden_state=hidden_states, pooler_output=hidden_states[:, 0])


# ---------------------------------------------------------------------------------------------------------------------
# Video-language alignment: learned queries read video features and previous-level text through Q-Formers.
# ---------------------------------------------------------------------------------------------------------------------


class VideoReCapAlignment(nn.Module):
    """
    The level-specific alignment module: video queries read video features through a video Q-Former, text queries read
    the previous level's text embeddings through a text Q-Former. The outputs are concatenated as decoder memory.

    Args:
        config: the model configuration.
        num_video_queries: learned video queries (0: no video branch).
        num_text_queries: learned text queries (0: no text branch).
    """

    def __init__(self, config: VideoReCapConfig, num_video_queries: int, num_text_queries: int):
        super().__init__()
        query_width = config.qformer_config.hidden_size
        self.video_query_tokens = None
        self.video_qformer = None
        self.text_query_tokens = None
        self.text_qformer = None
        if num_video_queries:
            self.video_query_tokens = nn.Parameter(torch.zeros(1, num_video_queries, query_width))
            self.video_qformer = Blip2QFormerModel._from_config(config.qformer_config)
        if num_text_queries:
            text_qformer_config = config.qformer_config.__class__.from_dict(config.qformer_config.to_dict())
            text_qformer_config._attn_implementation = config.qformer_config._attn_implementation
            text_qformer_config.encoder_hidden_size = config.text_config.hidden_size
            self.text_query_tokens = nn.Parameter(torch.zeros(1, num_text_queries, query_width))
            self.text_qformer = Blip2QFormerModel._from_config(text_qformer_config)

    def forward(
        self,
        video_features: torch.Tensor | None = None,
        video_features_mask: torch.Tensor | None = None,
        context_embeds: torch.Tensor | None = None,
        context_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """
        Args:
            video_features (`torch.Tensor` of shape `(batch_size, num_video_tokens, vision_hidden_size)`, *optional*)
            video_features_mask (`torch.Tensor` of shape `(batch_size, num_video_tokens)`, *optional*): 1 = real.
            context_embeds (`torch.Tensor` of shape `(batch_size, context_length, text_hidden_size)`, *optional*)
            context_attention_mask (`torch.Tensor` of shape `(batch_size, context_length)`, *optional*)
        Returns:
            `torch.Tensor` of shape `(batch_size, num_video_queries + num_text_queries, qformer_hidden_size)`.
        """
        outputs = []
        if video_features is not None:
            queries = self.video_query_tokens.expand(video_features.shape[0], -1, -1)
            outputs.append(
                self.video_qformer(
                    query_embeds=queries,
                    encoder_hidden_states=video_features.to(queries.dtype),
                    encoder_attention_mask=video_features_mask,
                ).last_hidden_state
            )
        if context_embeds is not None:
            queries = self.text_query_tokens.expand(context_embeds.shape[0], -1, -1)
            outputs.append(
                self.text_qformer(
                    query_embeds=queries,
                    encoder_hidden_states=context_embeds.to(queries.dtype),
                    encoder_attention_mask=context_attention_mask,
                ).last_hidden_state
            )
        return torch.cat(outputs, dim=1)


# ---------------------------------------------------------------------------------------------------------------------
# Decoder: GPT-2 with a gated cross-attention block before the self-attention of each block.
# ---------------------------------------------------------------------------------------------------------------------


class VideoReCapGatedCrossAttentionBlock(nn.Module):
    """
    Flamingo-style gated cross-attention of the original decoder: `h + tanh(g1) * CrossAttn(LN(h), memory)`, then
    `h + tanh(g2) * MLP(LN(h))` with a squared-ReLU MLP. Both gates start at `config.gate_init_value` (0: identity).
    """

    def __init__(self, config: VideoReCapConfig, layer_idx: int):
        super().__init__()
        text_config = config.text_config
        hidden_size = text_config.hidden_size
        inner_dim = text_config.n_inner if text_config.n_inner is not None else 4 * hidden_size
        self.cross_attention_layernorm = nn.LayerNorm(hidden_size, eps=text_config.layer_norm_epsilon)
        # GPT-2's cross-attention (query from the text, keys/values from the memory; caches the memory's keys/values
        # after the first decoding step). Keys/values read the Q-Former width.
        self.cross_attention = GPT2Attention(text_config, is_cross_attention=True, layer_idx=layer_idx)
        self.cross_attention.c_attn = Conv1D(2 * hidden_size, config.qformer_config.hidden_size)
        self.cross_attention_gate = nn.Parameter(torch.zeros(()))
        self.mlp_layernorm = nn.LayerNorm(hidden_size, eps=text_config.layer_norm_epsilon)
        self.mlp = GPT2MLP(inner_dim, text_config)
        self.mlp.act = ACT2FN["relu2"]
        self.mlp_gate = nn.Parameter(torch.zeros(()))

    def forward(
        self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor, cache: Cache | None = None
    ) -> torch.Tensor:
        """
        Args:
            hidden_states (`torch.Tensor` of shape `(batch_size, sequence_length, hidden_size)`)
            encoder_hidden_states (`torch.Tensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`)
            cache (`EncoderDecoderCache`, *optional*): holds this layer's memory keys/values after the first step.
        Returns:
            `torch.Tensor` of shape `(batch_size, sequence_length, hidden_size)`.
        """
        attn_output, _ = self.cross_attention(
            self.cross_attention_layernorm(hidden_states), cache=cache, encoder_hidden_states=encoder_hidden_states
        )
        hidden_states = hidden_states + torch.tanh(self.cross_attention_gate) * attn_output
        hidden_states = hidden_states + torch.tanh(self.mlp_gate) * self.mlp(self.mlp_layernorm(hidden_states))
        return hidden_states


class VideoReCapDecoderLayer(GradientCheckpointingLayer):
    """
    A GPT-2 block (transformers' `GPT2Attention` and `GPT2MLP`, shared by all levels) preceded by a level-specific
    gated cross-attention block; `ln_1`/`ln_2` are level-specific too, because the original fine-tunes them.
    """

    def __init__(self, config: VideoReCapConfig, layer_idx: int):
        super().__init__()
        text_config = config.text_config
        hidden_size = text_config.hidden_size
        eps = text_config.layer_norm_epsilon
        inner_dim = text_config.n_inner if text_config.n_inner is not None else 4 * hidden_size
        self.cross_attention_block = None
        if layer_idx % config.decoder_cross_attention_frequency == 0:
            self.cross_attention_block = nn.ModuleDict(
                {key: VideoReCapGatedCrossAttentionBlock(config, layer_idx) for key in config.adapter_keys}
            )
        self.ln_1 = nn.ModuleDict({key: nn.LayerNorm(hidden_size, eps=eps) for key in config.adapter_keys})
        self.attn = GPT2Attention(text_config, layer_idx=layer_idx)
        self.ln_2 = nn.ModuleDict({key: nn.LayerNorm(hidden_size, eps=eps) for key in config.adapter_keys})
        self.mlp = GPT2MLP(inner_dim, text_config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        adapter_key: str,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool = False,
        **kwargs,
    ) -> torch.Tensor:
        """
        Args:
            hidden_states (`torch.Tensor` of shape `(batch_size, sequence_length, hidden_size)`)
            encoder_hidden_states (`torch.Tensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`)
            adapter_key (`str`): which level's gated block and LayerNorms to use.
            attention_mask: the causal (and padding) mask built by [`VideoReCapTextModel`].
            cache (`EncoderDecoderCache`, *optional*)
        Returns:
            `torch.Tensor` of shape `(batch_size, sequence_length, hidden_size)`.
        """
        if self.cross_attention_block is not None:
            hidden_states = self.cross_attention_block[adapter_key](hidden_states, encoder_hidden_states, cache)
        residual = hidden_states
        attn_output, _ = self.attn(
            self.ln_1[adapter_key](hidden_states),
            cache=cache,
            attention_mask=attention_mask,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = residual + attn_output
        hidden_states = hidden_states + self.mlp(self.ln_2[adapter_key](hidden_states))
        return hidden_states


class VideoReCapTextModel(nn.Module):
    """The GPT-2 decoder of Video ReCap (GPT-2's embeddings, blocks and final LayerNorm, plus the gated blocks)."""

    def __init__(self, config: VideoReCapConfig):
        super().__init__()
        text_config = config.text_config
        self.config = text_config
        self.wte = nn.Embedding(text_config.vocab_size, text_config.hidden_size)
        self.wpe = nn.Embedding(text_config.max_position_embeddings, text_config.hidden_size)
        self.drop = nn.Dropout(text_config.embd_pdrop)
        self.layers = nn.ModuleList(
            [VideoReCapDecoderLayer(config, layer_idx) for layer_idx in range(text_config.num_hidden_layers)]
        )
        self.ln_f = nn.LayerNorm(text_config.hidden_size, eps=text_config.layer_norm_epsilon)
        self.gradient_checkpointing = False

    def embed_context(self, context_input_ids: torch.LongTensor) -> torch.Tensor:
        """
        Previous-level text as the text Q-Former reads it: the decoder's token plus position embeddings (positions
        0..L-1, no dropout, no LayerNorm), as in the original `map_features`.

        Args:
            context_input_ids (`torch.LongTensor` of shape `(batch_size, context_length)`)
        Returns:
            `torch.Tensor` of shape `(batch_size, context_length, hidden_size)`.
        """
        positions = torch.arange(context_input_ids.shape[1], device=context_input_ids.device)
        return self.wte(context_input_ids) + self.wpe(positions)

    def forward(
        self,
        input_ids: torch.LongTensor,
        encoder_hidden_states: torch.Tensor,
        adapter_key: str,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        use_cache: bool = False,
        **kwargs,
    ) -> tuple[torch.Tensor, Cache | None]:
        """
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`): tokens not yet in `cache`.
            encoder_hidden_states (`torch.Tensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`)
            adapter_key (`str`): which level-specific modules to use.
            attention_mask (`torch.Tensor` of shape `(batch_size, past_length + sequence_length)`, *optional*)
            position_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*)
            cache (`Cache`, *optional*), use_cache (`bool`)
        Returns:
            The final hidden states `(batch_size, sequence_length, hidden_size)` and the cache (or `None`).
        """
        if use_cache:
            if cache is None:
                cache = DynamicCache(config=self.config)
            if not isinstance(cache, EncoderDecoderCache):
                cache = EncoderDecoderCache(cache, DynamicCache(config=self.config))
        inputs_embeds = self.wte(input_ids)
        if position_ids is None:
            past_length = cache.get_seq_length() if cache is not None else 0
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0) + past_length
        hidden_states = self.drop(inputs_embeds + self.wpe(position_ids))
        causal_mask = create_causal_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=cache,
            position_ids=position_ids,
        )
        layer_cache = cache if not (self.gradient_checkpointing and self.training) else None
        for layer in self.layers:
            hidden_states = layer(
                hidden_states,
                encoder_hidden_states,  # positional, so gradient checkpointing passes it on
                adapter_key=adapter_key,
                attention_mask=causal_mask,
                cache=layer_cache,
                use_cache=use_cache,
                position_ids=position_ids,
                **kwargs,
            )
        return self.ln_f(hidden_states), (cache if use_cache else None)


# ---------------------------------------------------------------------------------------------------------------------
# Full models.
# ---------------------------------------------------------------------------------------------------------------------


class VideoReCapPreTrainedModel(PreTrainedModel):
    config: VideoReCapConfig
    config_class = VideoReCapConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    input_modalities = ("video", "text")
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_attention_backend = True
    _no_split_modules = ["VideoReCapVisionLayer", "Blip2QFormerLayer", "VideoReCapDecoderLayer"]
    # Constant buffers of the original GPT-2 attention; never stored by this implementation.
    _keys_to_ignore_on_load_unexpected = [r"\.attn\.bias$", r"\.attn\.masked_bias$"]

    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        text_std = self.config.text_config.initializer_range
        if isinstance(module, Conv1D):
            init.normal_(module.weight, mean=0.0, std=text_std)
            init.zeros_(module.bias)
        if isinstance(module, (GPT2Attention, GPT2MLP)):
            # GPT-2's scaled initialisation of the residual projections.
            std = text_std / (2 * self.config.text_config.num_hidden_layers) ** 0.5
            init.normal_(module.c_proj.weight, mean=0.0, std=std)
        elif isinstance(module, VideoReCapGatedCrossAttentionBlock):
            init.constant_(module.cross_attention_gate, self.config.gate_init_value)
            init.constant_(module.mlp_gate, self.config.gate_init_value)
        elif isinstance(module, VideoReCapAlignment):
            # Original: queries ~ N(0, query_width^-0.5).
            std = self.config.qformer_config.hidden_size**-0.5
            for queries in (module.video_query_tokens, module.text_query_tokens):
                if queries is not None:
                    init.normal_(queries, mean=0.0, std=std)

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **REMOTE_CODE_AUTO_MAP}
        super().save_pretrained(save_directory, *args, **kwargs)


class VideoReCapModel(VideoReCapPreTrainedModel):
    """
    Video ReCap without the language-modelling head: video encoder, per-level alignment modules and the decoder.
    One instance serves the three levels, selected by `level`.
    """

    # The decoder's outputs; the encoder and the Q-Formers record their own when called with these flags.
    _can_record_outputs = {
        "hidden_states": VideoReCapDecoderLayer,
        "attentions": OutputRecorder(GPT2Attention, index=1, layer_name=".attn"),
        "cross_attentions": OutputRecorder(GPT2Attention, index=1, layer_name=".cross_attention"),
    }

    def __init__(self, config: VideoReCapConfig):
        super().__init__(config)
        # The decoder is built from GPT-2 modules but is not a PreTrainedModel of its own, so its config does not get
        # an attention implementation from transformers' sub-model dispatch.
        if config.text_config._attn_implementation is None:
            config.text_config._attn_implementation = config._attn_implementation
        self.vision_model = VideoReCapVisionModel._from_config(config.vision_config)
        self.alignment = nn.ModuleDict(
            {key: VideoReCapAlignment(config, *config.adapter_query_counts(key)) for key in config.adapter_keys}
        )
        self.language_model = VideoReCapTextModel(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.language_model.wte

    def set_input_embeddings(self, value: nn.Embedding):
        self.language_model.wte = value

    def set_trainable_levels(self, levels: Sequence[str]) -> int:
        """
        Freezes every parameter except those the original recipe trains for `levels`: the query tokens and the
        Q-Formers' cross-attention layers of the levels' alignment modules, their gated cross-attention blocks and
        their GPT-2 `ln_1`/`ln_2`. The encoder, the rest of the Q-Formers (random in the release) and GPT-2 stay frozen.

        Returns:
            The number of trainable parameters.
        """
        keys = "|".join(re.escape(self.config.adapter_key(level)) for level in levels)
        trainable = re.compile(
            rf"^alignment\.({keys})\.((video|text)_query_tokens$|(video|text)_qformer\.encoder\.layer\.\d+\.crossattention\.)"
            rf"|^language_model\.layers\.\d+\.(cross_attention_block|ln_1|ln_2)\.({keys})\."
        )
        count = 0
        for name, parameter in self.named_parameters():
            parameter.requires_grad_(bool(trainable.search(name)))
            count += parameter.numel() if parameter.requires_grad else 0
        return count

    @can_return_tuple
    def get_video_features(
        self, pixel_values_videos: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> VideoReCapVisionModelOutput:
        r"""
        Encodes clips once, for the clip level (dense tokens) and the higher levels (CLS features).

        Args:
            pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`)
            kwargs: `output_hidden_states`, `output_attentions`, `return_dict` (defaults: this model's config).
        Returns:
            [`VideoReCapVisionModelOutput`]: `last_hidden_state` `(batch_size, 1 + num_frames * num_patches,
            vision_hidden_size)`, `pooler_output` (the CLS features) `(batch_size, vision_hidden_size)`, and the
            encoder's hidden states and attentions when asked for.
        """
        return self.vision_model(pixel_values_videos, return_dict=True, **kwargs)

    def get_query_embeddings(
        self,
        level: str,
        pixel_values_videos: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
        video_features_mask: torch.Tensor | None = None,
        context_input_ids: torch.LongTensor | None = None,
        context_attention_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        r"""
        Computes the decoder memory of `level` once (it does not depend on the generated text).

        Args:
            level (`str`): `"clip"`, `"segment"` or `"video"`.
            pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, num_channels, height, width)`, *optional*):
                Clip frames (clip level only).
            video_features (`torch.FloatTensor` of shape `(batch_size, num_video_tokens, vision_hidden_size)`, *optional*):
                Clip level: dense encoder tokens (from `get_video_features`), instead of `pixel_values_videos`.
                Segment/video level: sampled CLS features of the window.
            video_features_mask (`torch.LongTensor` of shape `(batch_size, num_video_tokens)`, *optional*):
                1 for real features, 0 for padding.
            context_input_ids (`torch.LongTensor` of shape `(batch_size, context_length)`, *optional*):
                GPT-2 tokens of the previous level's captions (segment/video level).
            context_attention_mask (`torch.LongTensor` of shape `(batch_size, context_length)`, *optional*)
        Returns:
            The memory `(batch_size, num_query_tokens, qformer_hidden_size)` and the dense clip tokens when
            `pixel_values_videos` were encoded (else `None`).
        """
        settings = self.config.get_level_settings(level)
        alignment = self.alignment[self.config.adapter_key(level)]
        dense_features = None
        if settings.num_video_queries:
            if level == "clip":
                if (pixel_values_videos is None) == (video_features is None):
                    raise ValueError(
                        "The clip level needs exactly one of pixel_values_videos (frames) or video_features (dense "
                        "encoder tokens from get_video_features)."
                    )
                if pixel_values_videos is not None:
                    dense_features = self.vision_model(pixel_values_videos).last_hidden_state
                    video_features = dense_features
            elif pixel_values_videos is not None:
                raise ValueError(
                    f"The {level} level reads CLS features (video_features), not pixel_values_videos; encode the clips "
                    "with get_video_features(...).pooler_output and sample them with VideoReCapProcessor."
                )
            elif video_features is None:
                raise ValueError(f"The {level} level needs video_features (per-clip CLS features of the window).")
            self._check_video_features(video_features, video_features_mask, level)
        else:
            video_features = video_features_mask = None

        context_embeds = None
        if settings.num_text_queries:
            if context_input_ids is None:
                raise ValueError(
                    f"The {level} level needs context_input_ids: the previous level's captions, tokenised with "
                    "VideoReCapProcessor (e.g. processor(context=[[...captions...]], level=...))."
                )
            self._check_context(context_input_ids, context_attention_mask, video_features)
            context_embeds = self.language_model.embed_context(context_input_ids)
        elif context_input_ids is not None and level == "clip":
            raise ValueError("The clip level takes no context_input_ids (it has no previous level).")

        memory = alignment(video_features, video_features_mask, context_embeds, context_attention_mask)
        return memory.to(self.language_model.wte.weight.dtype), dense_features

    def _check_video_features(self, features: torch.Tensor, mask: torch.Tensor | None, level: str) -> None:
        width = self.config.vision_config.hidden_size
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != width:
            shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(
                f"video_features at the {level} level must have shape (batch_size, num_video_tokens, {width}); got "
                f"{shape}."
            )
        if features.shape[1] == 0:
            raise ValueError(f"video_features at the {level} level has no tokens (the window is empty).")
        if mask is not None and tuple(mask.shape) != tuple(features.shape[:2]):
            raise ValueError(
                f"video_features_mask must have shape {tuple(features.shape[:2])} (batch_size, num_video_tokens); got "
                f"{tuple(mask.shape)}."
            )

    def _check_context(
        self, context_input_ids: torch.Tensor, context_attention_mask: torch.Tensor | None, video_features
    ) -> None:
        if context_input_ids.ndim != 2:
            raise ValueError(
                f"context_input_ids must have shape (batch_size, context_length); got {tuple(context_input_ids.shape)}."
            )
        max_positions = self.config.text_config.max_position_embeddings
        if context_input_ids.shape[1] > max_positions:
            raise ValueError(
                f"context_input_ids has {context_input_ids.shape[1]} tokens; the decoder's embeddings cover "
                f"{max_positions} (the processor truncates to max_context_tokens)."
            )
        if context_attention_mask is not None and context_attention_mask.shape != context_input_ids.shape:
            raise ValueError(
                f"context_attention_mask must have the shape of context_input_ids {tuple(context_input_ids.shape)}; "
                f"got {tuple(context_attention_mask.shape)}."
            )
        if video_features is not None and video_features.shape[0] != context_input_ids.shape[0]:
            raise ValueError(
                f"video_features has batch size {video_features.shape[0]} but context_input_ids has "
                f"{context_input_ids.shape[0]}."
            )

    @capture_outputs
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
        video_features_mask: torch.Tensor | None = None,
        context_input_ids: torch.LongTensor | None = None,
        context_attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        level: str = "clip",
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> VideoReCapModelOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Caption tokens, starting with BOS (`<|endoftext|>`); with a `cache`, only the tokens not yet cached.
        attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Padding mask of the caption tokens.
        pixel_values_videos, video_features, video_features_mask, context_input_ids, context_attention_mask:
            The video and previous-level inputs of `level`, see [`VideoReCapModel.get_query_embeddings`].
        encoder_hidden_states (`torch.FloatTensor` of shape `(batch_size, num_query_tokens, qformer_hidden_size)`, *optional*):
            Precomputed decoder memory (from `get_query_embeddings`), instead of the video/context inputs.
        level (`str`, *optional*, defaults to `"clip"`):
            `"clip"`, `"segment"` or `"video"`.
        """
        if input_ids is None:
            raise ValueError("input_ids (the caption tokens, starting with BOS) are required.")
        adapter_key = self.config.adapter_key(level)
        dense_features = None
        if encoder_hidden_states is None:
            encoder_hidden_states, dense_features = self.get_query_embeddings(
                level,
                pixel_values_videos=pixel_values_videos,
                video_features=video_features,
                video_features_mask=video_features_mask,
                context_input_ids=context_input_ids,
                context_attention_mask=context_attention_mask,
            )
        if encoder_hidden_states.shape[0] != input_ids.shape[0]:
            raise ValueError(
                f"The video/context inputs have batch size {encoder_hidden_states.shape[0]} but input_ids has "
                f"{input_ids.shape[0]}."
            )
        use_cache = use_cache if use_cache is not None else self.config.text_config.use_cache
        hidden_states, cache = self.language_model(
            input_ids,
            encoder_hidden_states,
            adapter_key=adapter_key,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            **kwargs,
        )
        return VideoReCapModelOutput(
            last_hidden_state=hidden_states,
            cache=cache,
            encoder_hidden_states=encoder_hidden_states,
            video_features=dense_features,
        )


class VideoReCapForConditionalGeneration(VideoReCapPreTrainedModel, GenerationMixin):
    """
    Video ReCap with its language-modelling head: one checkpoint captions clips, describes segments and summarises
    videos, selected by `level`. `generate` computes the video/text query embeddings once per sample, and the decoder's
    KV cache holds their cross-attention keys/values after the first step.
    """

    _tied_weights_keys = {"lm_head.weight": "model.language_model.wte.weight"}

    def __init__(self, config: VideoReCapConfig):
        super().__init__(config)
        self.model = VideoReCapModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()
        # GPT-2 has no padding token: finished rows are padded with <|endoftext|>, which is also BOS and EOS.
        if self.generation_config.pad_token_id is None:
            self.generation_config.pad_token_id = self.generation_config.eos_token_id
        if getattr(self.generation_config, "level_max_new_tokens", None) is None:
            self.generation_config.level_max_new_tokens = dict(DEFAULT_LEVEL_MAX_NEW_TOKENS)
        # A generation config marked as derived from the model config drops custom fields when it is reloaded.
        self.generation_config._from_model_config = False

    def level_max_new_tokens(self, level: str) -> int:
        """The default caption budget of `level`: `generation_config.level_max_new_tokens[level]`."""
        budgets = getattr(self.generation_config, "level_max_new_tokens", None) or {}
        return int(budgets.get(validate_level(level), DEFAULT_LEVEL_MAX_NEW_TOKENS[level]))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding):
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_trainable_levels(self, levels: Sequence[str]) -> int:
        """See [`VideoReCapModel.set_trainable_levels`]; the language-modelling head (tied to `wte`) stays frozen."""
        return self.model.set_trainable_levels(levels)

    @can_return_tuple
    def get_video_features(
        self, pixel_values_videos: torch.Tensor, **kwargs: Unpack[TransformersKwargs]
    ) -> VideoReCapVisionModelOutput:
        """See [`VideoReCapModel.get_video_features`]."""
        return self.model.get_video_features(pixel_values_videos, return_dict=True, **kwargs)

    def get_query_embeddings(self, level: str, **inputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """See [`VideoReCapModel.get_query_embeddings`]."""
        return self.model.get_query_embeddings(level, **inputs)

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
        video_features_mask: torch.Tensor | None = None,
        context_input_ids: torch.LongTensor | None = None,
        context_attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        level: str = "clip",
        labels: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Unpack[TransformersKwargs],
    ) -> VideoReCapCausalLMOutput:
        r"""
        Inputs as in [`VideoReCapModel.forward`], plus:

        labels (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
            Target tokens aligned with `input_ids` (shifted inside); -100 marks positions without a target (padding).
            The loss is the mean cross-entropy over the labelled positions. The original instead divides by all
            positions including padding, uses the pad id 0 (`!`) as ignore index (so a real `!` is never learned) and
            passes no attention mask; that makes the loss depend on the padding of the batch, so we do not copy it.
        logits_to_keep (`int` or `torch.Tensor`, *optional*):
            Compute logits only for the last `logits_to_keep` positions (0: all).
        kwargs: `output_hidden_states`, `output_attentions`, `return_dict`, and for the loss `num_items_in_batch`
            (target tokens of the whole accumulated batch, passed by `Trainer`) and `shift_labels` (targets already
            shifted, as sequence/context parallelism hands them out; then `labels` is not shifted again).
        """
        loss_kwargs = {name: kwargs.pop(name) for name in ("num_items_in_batch", "shift_labels") if name in kwargs}
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            pixel_values_videos=pixel_values_videos,
            video_features=video_features,
            video_features_mask=video_features_mask,
            context_input_ids=context_input_ids,
            context_attention_mask=context_attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            level=level,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        slice_indices = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, slice_indices, :])
        loss = None
        if labels is not None or "shift_labels" in loss_kwargs:
            loss = self.loss_function(logits, labels, vocab_size=self.config.text_config.vocab_size, **loss_kwargs)
        return VideoReCapCausalLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            encoder_hidden_states=outputs.encoder_hidden_states,
            video_features=outputs.video_features,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            cross_attentions=outputs.cross_attentions,
        )

    @torch.no_grad()
    def generate(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
        video_features_mask: torch.Tensor | None = None,
        context_input_ids: torch.LongTensor | None = None,
        context_attention_mask: torch.Tensor | None = None,
        level: str = "clip",
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        **generate_kwargs,
    ) -> torch.LongTensor:
        r"""
        Generates captions of `level` with any `GenerationMixin` strategy (greedy, beam search, sampling).

        The video/context inputs are encoded ONCE here and the resulting memory is handed to the decoder on every
        step (transformers' default `prepare_inputs_for_generation` drops `pixel_values_videos` after the first step,
        which would silently turn off cross-attention); the KV cache keeps the memory's cross-attention keys/values.

        Args:
            pixel_values_videos, video_features, video_features_mask, context_input_ids, context_attention_mask:
                The inputs of `level`, see [`VideoReCapModel.get_query_embeddings`].
            level (`str`, *optional*, defaults to `"clip"`)
            input_ids (`torch.LongTensor` of shape `(batch_size, prompt_length)`, *optional*):
                Prompt; defaults to one BOS token per sample.
            encoder_hidden_states (`torch.FloatTensor`, *optional*): precomputed memory, instead of the inputs above.
            generate_kwargs: passed to `GenerationMixin.generate` (`max_new_tokens` defaults to the level's entry of
                `generation_config.level_max_new_tokens`).
        Returns:
            `torch.LongTensor` of shape `(batch_size * num_return_sequences, prompt_length + new_tokens)`; decode with
            `VideoReCapProcessor.batch_decode`.
        """
        if encoder_hidden_states is None:
            encoder_hidden_states, _ = self.model.get_query_embeddings(
                level,
                pixel_values_videos=pixel_values_videos,
                video_features=video_features,
                video_features_mask=video_features_mask,
                context_input_ids=context_input_ids,
                context_attention_mask=context_attention_mask,
            )
        else:
            self.config.get_level_settings(level)
        batch_size = encoder_hidden_states.shape[0]
        if input_ids is None:
            bos_token_id = self.generation_config.bos_token_id
            if bos_token_id is None:
                raise ValueError("generation_config.bos_token_id is not set, so a prompt (input_ids) is required.")
            input_ids = torch.full(
                (batch_size, 1), bos_token_id, dtype=torch.long, device=encoder_hidden_states.device
            )
        if attention_mask is None:
            # BOS is also the padding token, so the mask cannot be inferred from the prompt.
            attention_mask = torch.ones_like(input_ids)
        generation_config = generate_kwargs.get("generation_config")
        length_given = any(generate_kwargs.get(name) is not None for name in ("max_new_tokens", "max_length")) or (
            generation_config is not None and generation_config.max_new_tokens is not None
        )
        if not length_given:
            generate_kwargs["max_new_tokens"] = self.level_max_new_tokens(level)
        return super().generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            level=level,
            **generate_kwargs,
        )


VideoReCapModel.register_for_auto_class("AutoModel")
VideoReCapForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")


__all__ = [
    "DEFAULT_LEVEL_MAX_NEW_TOKENS",
    "VideoReCapForConditionalGeneration",
    "VideoReCapModel",
    "VideoReCapPreTrainedModel",
    "VideoReCapVisionModel",
]
