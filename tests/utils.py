"""Helpers shared by the tests: a tokenizer trained on the fly and tiny model configurations."""

import socket

from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2TokenizerFast

from transformers_recap import VideoReCapConfig


CAPTION_CORPUS = [
    "#C C picks up the red cup",
    "#C C puts down the blue box",
    "#C C moves the green ball to the left",
    "#C C opens the yellow box",
    "C tidies the table. C sorts the cups. C packs the box.",
    "C cleans the kitchen and then sets the table.",
]


def train_tiny_tokenizer(vocab_size: int = 320) -> GPT2TokenizerFast:
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on a few captions, with `<|endoftext|>` as BOS/EOS."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CAPTION_CORPUS * 10, vocab_size=vocab_size, min_frequency=1, special_tokens=["<|endoftext|>"]
    )
    return GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )


TINY_LEVEL_SETTINGS = {
    False: {
        "clip": {"num_video_queries": 6},
        "segment": {"num_video_queries": 3, "num_text_queries": 5},
        "video": {"num_video_queries": 4, "num_text_queries": 5},
    },
    True: {
        "clip": {"num_video_queries": 6},
        "segment": {"num_video_queries": 6, "num_text_queries": 5},
        "video": {"num_video_queries": 6, "num_text_queries": 5},
    },
}
"""Query counts of the tiny Video ReCap (`False`) and Video ReCap-U (`True`) models."""

TINY_INPUT_SETTINGS = {
    False: {"segment": {"num_video_features": 8}, "video": {"num_video_features": 10}},
    True: {"segment": {"num_video_features": 12}, "video": {"num_video_features": 12}},
}
"""Processor settings of the tiny models (the rest as released)."""

TINY_MAX_NEW_TOKENS = {
    False: {"clip": 12, "segment": 12, "video": 16},
    True: {"clip": 76, "segment": 76, "video": 119},
}
"""`generation_config.level_max_new_tokens` of the tiny models."""


def make_tiny_processor(tokenizer, config, **input_settings):
    """A [`VideoReCapProcessor`] for a tiny config: frames at the encoder's size, the tiny feature counts."""
    from transformers_recap import VideoReCapProcessor, VideoReCapVideoProcessor

    size = config.vision_config.image_size
    video_processor = VideoReCapVideoProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    settings = {**TINY_INPUT_SETTINGS[config.unified], **input_settings}
    return VideoReCapProcessor(video_processor=video_processor, tokenizer=tokenizer, input_settings=settings)


def make_tiny_model(config):
    """A [`VideoReCapForConditionalGeneration`] for `config` with the tiny caption budgets."""
    from transformers_recap import VideoReCapForConditionalGeneration

    model = VideoReCapForConditionalGeneration(config).eval()
    model.generation_config.level_max_new_tokens = dict(TINY_MAX_NEW_TOKENS[config.unified])
    return model


def make_tiny_config(tokenizer=None, unified: bool = False, **overrides) -> VideoReCapConfig:
    """A Video ReCap config with 2-layer, 32-wide components (well under a million parameters)."""
    vocab_size = len(tokenizer) if tokenizer is not None else 320
    eos = tokenizer.eos_token_id if tokenizer is not None else vocab_size - 1
    level_settings = TINY_LEVEL_SETTINGS[unified]
    kwargs = {
        "vision_config": {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "image_size": 32,
            "patch_size": 16,
            "num_frames": 4,
        },
        "qformer_config": {
            "hidden_size": 24,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 48,
        },
        "text_config": {
            "hidden_size": 40,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "vocab_size": vocab_size,
            "n_positions": 128,
            "bos_token_id": eos,
            "eos_token_id": eos,
        },
        "level_settings": level_settings,
        "unified": unified,
    }
    kwargs.update(overrides)
    return VideoReCapConfig(**kwargs)


def free_port() -> str:
    """A TCP port free on this machine now, for a `torch.distributed.run` rendezvous (fixed ports collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])
