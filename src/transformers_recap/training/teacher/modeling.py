# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The teacher model: an `AutoModelForSeq2SeqLM` (FLAN-T5, the paper's best teacher) or an `AutoModelForCausalLM`
(GPT-2, Table 6a), its tokenizer, batches, the `Seq2SeqTrainer` subclass that evaluates by generation, and batched
generation for the pseudo annotations.

Token layout of one pair (the original text-only baseline's, `src/data/datasets_text_only.py`):

- encoder-decoder: encoder `prompt </s>`, labels `target </s>`;
- decoder-only: `<bos> prompt target <eos>` with the loss on `target <eos>` only; the target is tokenised as
  `" " + target` after a prompt ending in `"Summary:"`. Generation left-pads the prompts.

A saved teacher is a normal model folder (LoRA adapters merged) plus `teacher.json`: the tasks it was trained on
and their prompt format, which the pseudo-annotation generator reuses.
"""

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import torch
from tokenizers import ByteLevelBPETokenizer
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Seq2SeqTrainer,
)
from transformers.utils import logging

from .options import ModelOptions, TaskOptions, TeacherConfigError, task_from_dict, task_to_dict


logger = logging.get_logger(__name__)

TEACHER_FILE = "teacher.json"
PROMPT_KEYS = ("prompt_input_ids", "prompt_attention_mask")
SEQ2SEQ_SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5
CAUSAL_SPECIAL_TOKEN = "<|endoftext|>"  # BOS, EOS, padding and unknown, as in GPT-2
IGNORE_INDEX = -100


def train_teacher_tokenizer(
    texts: Sequence[str], vocab_size: int, causal: bool, mask_token: str | None = None
) -> PreTrainedTokenizerFast:
    """
    A byte-level BPE tokenizer trained on `texts`: T5's special tokens (`<pad>` 0, `</s>` 1, `<unk>` 2) for an
    encoder-decoder teacher, GPT-2's `<|endoftext|>` for a decoder-only one, then `mask_token` when given (the
    denoising pretraining's).
    """
    if not texts:
        raise ValueError("Cannot train a tokenizer on an empty corpus.")
    specials = [CAUSAL_SPECIAL_TOKEN] if causal else list(SEQ2SEQ_SPECIAL_TOKENS)
    if mask_token is not None:
        specials.append(mask_token)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=1, special_tokens=specials)
    if causal:
        tokens = {
            "bos_token": CAUSAL_SPECIAL_TOKEN,
            "eos_token": CAUSAL_SPECIAL_TOKEN,
            "unk_token": CAUSAL_SPECIAL_TOKEN,
        }
        tokens["pad_token"] = CAUSAL_SPECIAL_TOKEN
    else:
        tokens = dict(zip(("pad_token", "eos_token", "unk_token"), SEQ2SEQ_SPECIAL_TOKENS, strict=True))
    if mask_token is not None:
        tokens["mask_token"] = mask_token
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, clean_up_tokenization_spaces=False, **tokens)


def _prepare_tokenizer(tokenizer) -> None:
    if tokenizer.eos_token_id is None:
        raise TeacherConfigError(f"The teacher's tokenizer ({tokenizer.name_or_path}) has no EOS token.")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token


def config_is_causal(config) -> bool:
    """Decoder-only (GPT-2 family) rather than encoder-decoder (T5 family)."""
    return not getattr(config, "is_encoder_decoder", False)


def build_teacher_model(options: ModelOptions, tokenizer, seed: int) -> tuple[PreTrainedModel, bool]:
    """
    The teacher before fine-tuning: `from_pretrained(name_or_path)` or a random model built from `options.config`
    with the tokenizer's vocabulary size and special tokens. Returns `(model, causal)`.
    """
    _prepare_tokenizer(tokenizer)
    if options.name_or_path is not None:
        config = AutoConfig.from_pretrained(options.name_or_path)
        causal = config_is_causal(config)
        auto = AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM
        model = auto.from_pretrained(options.name_or_path)
        if model.get_input_embeddings().num_embeddings < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer))
    else:
        fields = dict(options.config)
        model_type = fields.pop("model_type")
        special = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
        if tokenizer.bos_token_id is not None:
            special["bos_token_id"] = tokenizer.bos_token_id
        try:
            config = AutoConfig.for_model(model_type, **{**fields, "vocab_size": len(tokenizer), **special})
        except (ValueError, TypeError) as error:
            raise TeacherConfigError(f"model.config cannot be built: {error}") from None
        causal = config_is_causal(config)
        if causal:
            config.bos_token_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else config.eos_token_id
        else:
            config.decoder_start_token_id = tokenizer.pad_token_id
        torch.manual_seed(seed)
        model = (AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM).from_config(config)
    generation = model.generation_config
    generation.pad_token_id = tokenizer.pad_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    if not causal and generation.decoder_start_token_id is None:
        generation.decoder_start_token_id = model.config.decoder_start_token_id
    return model, causal


def max_positions(model: PreTrainedModel) -> int | None:
    """The longest sequence a decoder-only model's position embeddings allow (`None`: no limit known)."""
    config = model.config
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    return None


def check_task_lengths(model: PreTrainedModel, tasks: Mapping[str, TaskOptions], causal: bool, where: str) -> None:
    """A decoder-only teacher must fit prompt + target in its positions."""
    limit = max_positions(model) if causal else None
    if limit is None:
        return
    for name, task in tasks.items():
        if task.max_input_tokens + task.max_target_tokens > limit:
            raise TeacherConfigError(
                f"{where}: tasks.{name}.max_input_tokens + max_target_tokens = "
                f"{task.max_input_tokens + task.max_target_tokens} exceeds the model's {limit} positions."
            )


def add_lora(model: PreTrainedModel, lora: Mapping, causal: bool, where: str):
    """Wraps `model` with peft LoRA adapters (peft's default target modules for the model type unless given)."""
    from peft import LoraConfig, TaskType, get_peft_model

    try:
        config = LoraConfig(task_type=TaskType.CAUSAL_LM if causal else TaskType.SEQ_2_SEQ_LM, **dict(lora))
    except TypeError as error:
        raise TeacherConfigError(f"{where}: model.lora is not a valid peft LoraConfig: {error}") from None
    return get_peft_model(model, config)


def encode_prompt(tokenizer, parts: tuple[str, str], max_tokens: int, causal: bool) -> list[int]:
    """
    Prompt token ids of `(text, suffix)` (see `pairs.prompt_parts`): `text suffix </s>` (encoder-decoder) or
    `<bos> text suffix` (decoder-only), at most `max_tokens`; a long text is cut before the suffix, which is kept.
    """
    text, suffix = parts
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    end = tokenizer(suffix, add_special_tokens=False)["input_ids"] if suffix else []
    if causal:
        start = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    else:
        start, end = [], end + [tokenizer.eos_token_id]
    room = max_tokens - len(start) - len(end)
    if room < 1:
        raise TeacherConfigError(f"max_input_tokens ({max_tokens}) leaves no room for the captions after the suffix.")
    return start + ids[:room] + end


def encode_target(tokenizer, target: str, max_tokens: int, causal: bool) -> list[int]:
    """Target token ids ending with EOS, at most `max_tokens` (decoder-only: `" " + target`)."""
    ids = tokenizer((" " + target) if causal else target, add_special_tokens=False)["input_ids"]
    return ids[: max_tokens - 1] + [tokenizer.eos_token_id]


def make_teacher_dataset(prompt_ids: Sequence[list[int]], target_ids: Sequence[list[int]]) -> datasets.Dataset:
    """
    Tokenised pairs as a `datasets.Dataset` with `prompt_ids`, `target_ids` and `length` (prompt + target tokens,
    which `train_sampling_strategy="group_by_length"` batches by: segment and video pairs have very different
    target lengths).
    """
    if len(prompt_ids) != len(target_ids):
        raise ValueError("prompt_ids and target_ids must have the same length.")
    return datasets.Dataset.from_dict(
        {
            "prompt_ids": [list(ids) for ids in prompt_ids],
            "target_ids": [list(ids) for ids in target_ids],
            "length": [len(p) + len(t) for p, t in zip(prompt_ids, target_ids, strict=True)],
        },
        features=datasets.Features(
            {
                "prompt_ids": datasets.List(datasets.Value("int32")),
                "target_ids": datasets.List(datasets.Value("int32")),
                "length": datasets.Value("int32"),
            }
        ),
    )


def _pad(sequences: Sequence[list[int]], value: int, left: bool = False) -> torch.Tensor:
    length = max((len(sequence) for sequence in sequences), default=0)
    rows = [([value] * (length - len(s)) + s) if left else (s + [value] * (length - len(s))) for s in sequences]
    return torch.tensor(rows, dtype=torch.long).reshape(len(sequences), length)


@dataclass
class TeacherDataCollator:
    """
    Pads a batch of [`make_teacher_dataset`] items.

    Encoder-decoder: `input_ids` / `attention_mask` `(batch_size, prompt_length)` right-padded, `labels`
    `(batch_size, target_length)` padded with -100. Decoder-only: `input_ids` / `attention_mask` / `labels`
    `(batch_size, prompt_length + target_length)` right-padded with the prompt masked out of `labels`, plus
    `prompt_input_ids` / `prompt_attention_mask` left-padded for generation.
    """

    pad_token_id: int
    causal: bool

    def __call__(self, items: Sequence[Mapping[str, list[int]]]) -> dict[str, torch.Tensor]:
        prompts = [list(item["prompt_ids"]) for item in items]
        targets = [list(item["target_ids"]) for item in items]
        if not self.causal:
            input_ids = _pad(prompts, self.pad_token_id)
            return {
                "input_ids": input_ids,
                "attention_mask": _pad([[1] * len(p) for p in prompts], 0),
                "labels": _pad(targets, IGNORE_INDEX),
            }
        sequences = [p + t for p, t in zip(prompts, targets, strict=True)]
        labels = [[IGNORE_INDEX] * len(p) + t for p, t in zip(prompts, targets, strict=True)]
        return {
            "input_ids": _pad(sequences, self.pad_token_id),
            "attention_mask": _pad([[1] * len(s) for s in sequences], 0),
            "labels": _pad(labels, IGNORE_INDEX),
            "prompt_input_ids": _pad(prompts, self.pad_token_id, left=True),
            "prompt_attention_mask": _pad([[1] * len(p) for p in prompts], 0, left=True),
        }


def generate_ids(
    model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, causal: bool, **generation
) -> torch.Tensor:
    """
    Generated token ids `(batch_size, new_tokens)` for prompts `(batch_size, prompt_length)` (left-padded for a
    decoder-only model, whose prompt tokens are cut off the output).
    """
    generation = {key: value for key, value in generation.items() if value is not None}
    output = model.generate(input_ids=input_ids, attention_mask=attention_mask, **generation)
    return output[:, input_ids.shape[1] :] if causal else output


def decode(tokenizer, ids) -> list[str]:
    """Token ids (with -100 padding) -> stripped texts, special tokens removed."""
    ids = torch.as_tensor(ids)
    ids = torch.where(ids == IGNORE_INDEX, torch.full_like(ids, tokenizer.pad_token_id), ids)
    texts = tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True, clean_up_tokenization_spaces=False)
    return [text.strip() for text in texts]


class TeacherTrainer(Seq2SeqTrainer):
    """
    `Seq2SeqTrainer` for a teacher of either kind: the loss uses the teacher-forced keys only, and evaluation with
    `predict_with_generate` generates from the prompt alone (`input_ids` of an encoder-decoder model, the left-padded
    `prompt_input_ids` of a decoder-only one) and returns the new tokens and the `labels`.

    Args:
        causal (`bool`): the model is decoder-only.
        All other arguments are `Seq2SeqTrainer`'s (set `remove_unused_columns=False`).
    """

    def __init__(self, *args, causal: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.causal = causal

    @staticmethod
    def _teacher_forced(inputs: Mapping) -> dict:
        return {key: value for key, value in inputs.items() if key not in PROMPT_KEYS}

    def compute_loss(self, model, inputs, *args, **kwargs):
        return super().compute_loss(model, self._teacher_forced(inputs), *args, **kwargs)

    def prediction_step(self, model, inputs, prediction_loss_only: bool, ignore_keys=None, **gen_kwargs):
        if not self.args.predict_with_generate or prediction_loss_only:
            return super().prediction_step(
                model, self._teacher_forced(inputs), prediction_loss_only, ignore_keys=ignore_keys
            )
        inputs = self._prepare_inputs(inputs)
        generation = {**getattr(self, "_gen_kwargs", {}), **gen_kwargs}
        if self.causal:
            prompt, mask = inputs["prompt_input_ids"], inputs["prompt_attention_mask"]
        else:
            prompt, mask = inputs["input_ids"], inputs["attention_mask"]
        with torch.no_grad():
            with self.compute_loss_context_manager():
                loss = self.compute_loss(model, inputs).detach()
            generated = generate_ids(self.accelerator.unwrap_model(model), prompt, mask, self.causal, **generation)
        return loss, generated, inputs["labels"]


@dataclass
class Teacher:
    """A trained teacher: model, tokenizer, the tasks it does (with their prompt format) and its kind."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    tasks: dict[str, TaskOptions]
    causal: bool
    directory: Path


def save_teacher(model, tokenizer, directory: str | os.PathLike, tasks: Mapping[str, TaskOptions], causal: bool):
    """Saves a (LoRA-merged) teacher with `teacher.json`, written last: its presence marks a finished teacher."""
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    description = {"causal": causal, "tasks": {name: task_to_dict(task) for name, task in tasks.items()}}
    temporary = directory / f".{TEACHER_FILE}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(description, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, directory / TEACHER_FILE)


def is_teacher_dir(directory: str | os.PathLike) -> bool:
    return (Path(directory) / TEACHER_FILE).is_file()


def load_teacher(directory: str | os.PathLike, device: torch.device | str | None = None) -> Teacher:
    """Loads a teacher saved by [`save_teacher`] (evaluation mode, on `device`)."""
    directory = Path(directory)
    path = directory / TEACHER_FILE
    if not path.is_file():
        raise TeacherConfigError(f"{directory} is not a trained teacher (no {TEACHER_FILE}); train it first.")
    try:
        description = json.loads(path.read_text(encoding="utf-8"))
        causal = bool(description["causal"])
        tasks = {name: task_from_dict(task, os.fspath(path)) for name, task in description["tasks"].items()}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        raise TeacherConfigError(f"{path} is not a valid teacher description: {error!r}") from None
    tokenizer = AutoTokenizer.from_pretrained(directory)
    _prepare_tokenizer(tokenizer)
    model = (AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM).from_pretrained(directory)
    if device is not None:
        model = model.to(device)
    return Teacher(model.eval(), tokenizer, tasks, causal, directory)


def count_parameters(model) -> tuple[int, int]:
    """(all parameters, trainable parameters)."""
    total = sum(parameter.numel() for parameter in model.parameters())
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    return total, trainable


__all__ = [
    "PROMPT_KEYS",
    "TEACHER_FILE",
    "Teacher",
    "TeacherDataCollator",
    "TeacherTrainer",
    "add_lora",
    "build_teacher_model",
    "check_task_lengths",
    "count_parameters",
    "decode",
    "encode_prompt",
    "encode_target",
    "generate_ids",
    "is_teacher_dir",
    "load_teacher",
    "make_teacher_dataset",
    "save_teacher",
    "train_teacher_tokenizer",
]
