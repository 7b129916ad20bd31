"""Helpers shared by the tests: a tokenizer trained on the fly and tiny model configurations."""

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


def make_tiny_config(tokenizer=None, unified: bool = False, **overrides) -> VideoReCapConfig:
    """A Video ReCap config with 2-layer, 32-wide components (well under a million parameters)."""
    vocab_size = len(tokenizer) if tokenizer is not None else 320
    eos = tokenizer.eos_token_id if tokenizer is not None else vocab_size - 1
    if unified:
        level_settings = {
            "clip": {"num_video_queries": 6},
            "segment": {"num_video_queries": 6, "num_text_queries": 5, "num_video_features": 12},
            "video": {"num_video_queries": 6, "num_text_queries": 5, "num_video_features": 12},
        }
    else:
        level_settings = {
            "clip": {"num_video_queries": 6, "max_new_tokens": 12},
            "segment": {"num_video_queries": 3, "num_text_queries": 5, "num_video_features": 8, "max_new_tokens": 12},
            "video": {"num_video_queries": 4, "num_text_queries": 5, "num_video_features": 10, "max_new_tokens": 16},
        }
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
