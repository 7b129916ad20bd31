# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
A small GPT-2 tokenizer and language model trained on a caption corpus, for models trained from scratch on data
whose vocabulary GPT-2 does not need (the Synthetic-HCap demo). They play the part of the pretrained GPT-2 of the
released model: the curriculum keeps them frozen apart from `ln_1`/`ln_2`, as it does GPT-2.
"""

import os
from collections.abc import Sequence

import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast, Trainer, TrainingArguments
from transformers.utils import logging


logger = logging.get_logger(__name__)

END_OF_TEXT = "<|endoftext|>"


def train_caption_tokenizer(texts: Sequence[str], vocab_size: int = 512) -> GPT2TokenizerFast:
    """
    Trains a byte-level BPE tokenizer (GPT-2's scheme, no prefix space) on `texts`. `<|endoftext|>` is BOS, EOS and
    padding, as for GPT-2.
    """
    if not texts:
        raise ValueError("Cannot train a tokenizer on an empty corpus.")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=1, special_tokens=[END_OF_TEXT], show_progress=False
    )
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token=END_OF_TEXT, eos_token=END_OF_TEXT, unk_token=END_OF_TEXT
    )
    tokenizer.pad_token = END_OF_TEXT
    return tokenizer


class _CaptionDataset(torch.utils.data.Dataset):
    def __init__(self, texts: Sequence[str], tokenizer: GPT2TokenizerFast, max_length: int):
        eos = tokenizer.eos_token_id
        self.sequences = [
            [eos] + tokenizer(text, add_special_tokens=False)["input_ids"][: max_length - 2] + [eos] for text in texts
        ]

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return {"input_ids": self.sequences[index]}


def _collate(items: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    sequences = [item["input_ids"] for item in items]
    length = max(len(sequence) for sequence in sequences)
    input_ids = torch.full((len(sequences), length), pad_id)
    attention_mask = torch.zeros_like(input_ids)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        attention_mask[row, : len(sequence)] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": input_ids.masked_fill(attention_mask == 0, -100),
    }


def pretrain_caption_language_model(
    texts: Sequence[str],
    tokenizer: GPT2TokenizerFast,
    text_config: dict,
    output_dir: str | os.PathLike,
    epochs: float = 10.0,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    max_steps: int | None = None,
) -> str:
    """
    Trains a GPT-2 language model of shape `text_config` on `texts` (each as `<|endoftext|> text <|endoftext|>`) and
    saves it with the tokenizer to `output_dir`, a directory `from_pretrained_parts(text=...)` accepts, with the
    trainer state (`trainer_state.json`: steps and losses). `max_steps` bounds the training (smoke runs).

    Returns:
        `output_dir`.
    """
    eos = tokenizer.eos_token_id
    config = GPT2Config(**{**text_config, "vocab_size": len(tokenizer), "bos_token_id": eos, "eos_token_id": eos})
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    dataset = _CaptionDataset(texts, tokenizer, config.n_positions)
    arguments = TrainingArguments(
        output_dir=os.fspath(output_dir),
        num_train_epochs=epochs,
        max_steps=-1 if max_steps is None else max_steps,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.01,
        logging_steps=50,
        save_strategy="no",
        report_to=[],
        seed=seed,
        # Clip captions are a few tokens, summaries a hundred: batches of similar lengths waste no padding.
        train_sampling_strategy="group_by_length",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model, args=arguments, train_dataset=dataset, data_collator=lambda rows: _collate(rows, eos)
    )
    result = trainer.train()
    logger.info(f"Caption language model: final training loss {result.training_loss:.3f}")
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    trainer.state.save_to_json(os.path.join(output_dir, "trainer_state.json"))
    return os.fspath(output_dir)


__all__ = ["pretrain_caption_language_model", "train_caption_tokenizer"]
