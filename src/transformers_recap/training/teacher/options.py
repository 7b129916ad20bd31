# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Typed options of the LLM teacher (Islam et al., CVPR 2024, Sec. 3.4), read from one YAML file.

```yaml
output_dir: outputs/teacher            # teacher model(s), checkpoints, metrics, predictions
seed: 0
data:
  data_dir: ego4d_hcap                 # the Ego4D-HCap annotation files (directly or in annotations/)
  synthetic: {...}                     # optional: generate Synthetic-HCap into data_dir when it is empty
model:
  name_or_path: google/flan-t5-large   # or `config: {model_type: t5, ...}` to build one from a config
  tokenizer: null                      # null: the model's; a path; or {train: {vocab_size: 400}}
  shared: true                         # one model for both tasks; false: one model per task
  lora: null                           # peft LoraConfig fields, e.g. {r: 8, lora_alpha: 16}
tasks:
  segment: {input: clip_captions}                             # clip captions of a window -> segment description
  video: {input: segment_descriptions, max_target_tokens: 120}  # segment descriptions -> video summary
training: {...}                        # Seq2SeqTrainingArguments fields
evaluation: {split: validation, batch_size: 16, generation: {num_beams: 1}}
pseudo: {...}                          # see PseudoOptions
```

Every section is a dataclass; an unknown key, a missing required key or a value of the wrong type raises
[`TeacherConfigError`] naming the key and the file.
"""

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from transformers import Seq2SeqTrainingArguments

from ..config_parsing import (
    ConfigError,
    ConfigSource,
    SyntheticOptions,
    SyntheticSplit,
    parse_dataclass,
    read_yaml_mapping,
)
from ..overrides import ConfigOverrideError, apply_overrides


TaskName = Literal["segment", "video"]
TASKS = get_args(TaskName)
"""Teacher tasks, named after the level they write: segment descriptions and video summaries."""
TASK_INPUTS = {"segment": ("clip_captions",), "video": ("segment_descriptions", "clip_captions")}
DEFAULT_PREFIXES = {
    "segment": "Describe what C does in this part of the video: ",
    "video": "Summarize what C does in the whole video: ",
}
DEFAULT_CAUSAL_SUFFIX = "\nSummary:"
SEGMENT_SECONDS_FROM_ANNOTATIONS = "annotations"
TRAINING_ARGUMENT_NAMES = frozenset(field.name for field in dataclasses.fields(Seq2SeqTrainingArguments))
# Set by the teacher itself: the output folder per model, generation-based evaluation, the batch keys it builds.
RESERVED_TRAINING_ARGUMENTS = frozenset({"output_dir", "remove_unused_columns", "predict_with_generate"})


class TeacherConfigError(ConfigError):
    """A teacher configuration that cannot run; the message names the file and the key."""


@dataclass
class DataOptions:
    """Where the Ego4D-HCap annotation files are.

    Args:
        data_dir: folder with `clips_*.pkl`, `segments_*.pkl`, `videos_*.json` (directly or in `annotations/`).
        synthetic: generate Synthetic-HCap there first when it holds no `clips_train.pkl`.
    """

    data_dir: str
    synthetic: SyntheticOptions | None = None


@dataclass
class ModelOptions:
    """The teacher language model.

    Args:
        name_or_path: a Hub id or folder for `from_pretrained` (FLAN-T5, GPT-2, ...).
        config: build the model from this config instead (`model_type` plus its fields; random initialisation).
        tokenizer: `None` (the model's), a Hub id or folder, or `{"train": {"vocab_size": N}}` to train a byte-level
            BPE tokenizer on the training pairs' text.
        shared: one model for every task (the task is told by the prompt prefix) or one model per task.
        lora: `peft.LoraConfig` fields (`r`, `lora_alpha`, `lora_dropout`, `target_modules`, ...); the adapters are
            merged into the saved model.
    """

    name_or_path: str | None = None
    config: dict | None = None
    tokenizer: str | dict | None = None
    shared: bool = True
    lora: dict | None = None


@dataclass
class TaskOptions:
    """How one task's pairs are formatted.

    Args:
        input: what the prompt holds: `"clip_captions"` (the ground-truth clip captions of the window) or, for the
            video task, `"segment_descriptions"` (the ground-truth segment descriptions of the video).
        prefix: text before the captions (tells a shared model which task it does).
        suffix: text after them; `None` gives `""` for encoder-decoder models and `"\\nSummary:"` for decoder-only
            ones (the original text-only baseline's format).
        max_captions: at most this many captions per prompt, evenly spaced (`np.linspace`, as the original).
        max_input_tokens: prompt tokens kept (truncated at the end).
        max_target_tokens: target tokens kept, and the default `max_new_tokens` of generation.
        oversample: each training pair of the task appears this many times per epoch (balances a task with few
            pairs, e.g. video summaries, against one with many).
    """

    input: str = "clip_captions"
    prefix: str | None = None
    suffix: str | None = None
    max_captions: int | None = None
    max_input_tokens: int = 512
    max_target_tokens: int = 77
    oversample: int = 1


@dataclass
class EvaluationOptions:
    """Evaluation with generation after training (CIDEr / ROUGE-L / METEOR x 100, Table 6a's layout).

    Args:
        split: the annotation split scored (`"validation"`).
        max_samples: at most this many pairs per task (the first ones), `None` for all.
        batch_size: generation batch size per device.
        generation: `generate` options (`num_beams`, `max_new_tokens`, ...).
    """

    split: str = "validation"
    max_samples: int | None = None
    batch_size: int = 16
    generation: dict = field(default_factory=dict)


@dataclass
class PseudoOptions:
    """Pseudo annotations written by the trained teacher (see `transformers_recap.training.teacher.pseudo`).

    Args:
        tasks: tasks to generate (default: every trained task).
        clips_file: clip captions of the videos to annotate, a `clips_*.pkl`-format file (default: the data's
            `clips_train.pkl`); e.g. the narrations of Ego4D videos that are not in Ego4D-HCap's files.
        output_dir: where `segments_train_pseudo.pkl` / `videos_train_pseudo.json` go (default: the folder of the
            training annotation files, where the Ego4D-HCap loader looks for them).
        work_dir: progress logs and plan of a (resumable) run (default: `<output_dir of the teacher>/pseudo`).
        segment_seconds: segment window length: a number, a list (one tiling of every video per length: windows at
            several time scales) or `"annotations"` (one tiling whose window lengths are drawn from the durations of
            the manual training segments).
        video_windows_per_video: video windows per video: the whole narrated video, then random contiguous runs of
            the first tiling's segment windows (shorter spans of the same video).
        min_segments_per_video: a video window spans at least this many segment windows.
        min_captions: windows with fewer clip captions are not planned.
        max_segments, max_videos: caps on the planned windows (videos are visited in a seeded random order).
        batch_size: generation batch size per device.
        generation: `generate` options; `max_new_tokens` defaults to the task's `max_target_tokens`.
        keep_unfinished: also write generations that reached `max_new_tokens` without the end-of-sequence token
            (cut off, typically a loop repeating a phrase); by default they are skipped and counted.
        write_segment_uids: give pseudo segments an `sid` (`<vid>_pseudo_<n>`) and video records their `sids`.
    """

    tasks: list | None = None
    clips_file: str | None = None
    output_dir: str | None = None
    work_dir: str | None = None
    segment_seconds: float | list | str = SEGMENT_SECONDS_FROM_ANNOTATIONS
    video_windows_per_video: int = 1
    min_segments_per_video: int = 2
    min_captions: int = 1
    max_segments: int | None = 100_000
    max_videos: int | None = 15_000
    batch_size: int = 32
    generation: dict = field(default_factory=dict)
    keep_unfinished: bool = False
    write_segment_uids: bool = True


PRETRAINING_SOURCES = ("clip_captions", "segment_descriptions", "video_summaries")


@dataclass
class PretrainingOptions:
    """Self-supervised denoising before fine-tuning (see `transformers_recap.training.teacher.pretraining`).

    Args:
        sources: the training split's texts of the corpus: `clip_captions`, `segment_descriptions`,
            `video_summaries`.
        num_examples: denoising examples drawn (each seen once per epoch).
        min_sentences, max_sentences: sentences per example, drawn from the whole corpus.
        mask_ratio: fraction of an example's words masked.
        mean_span: mean (Poisson) length in words of a masked span; each span becomes one mask token.
        prefix: text before the corrupted text.
        max_input_tokens, max_target_tokens: token limits of the corrupted and the original text.
        training: `Seq2SeqTrainingArguments` fields over the `training` section's for this stage (e.g.
            `num_train_epochs`, `learning_rate`).
    """

    sources: list = field(default_factory=lambda: list(PRETRAINING_SOURCES))
    num_examples: int = 20_000
    min_sentences: int = 1
    max_sentences: int = 8
    mask_ratio: float = 0.3
    mean_span: float = 3.0
    prefix: str = "Fill in: "
    max_input_tokens: int = 192
    max_target_tokens: int = 192
    training: dict = field(default_factory=dict)


@dataclass
class TeacherConfig:
    """The whole teacher configuration (see the module docstring); `source` is the file it came from."""

    output_dir: str
    data: DataOptions
    model: ModelOptions
    tasks: dict[TaskName, TaskOptions]
    seed: int = 0
    training: dict = field(default_factory=dict)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    pseudo: PseudoOptions = field(default_factory=PseudoOptions)
    pretraining: PretrainingOptions | None = None
    source: str = "<dict>"

    def __post_init__(self):
        where = self.source
        if (self.model.name_or_path is None) == (self.model.config is None):
            raise TeacherConfigError(f"{where}: model needs exactly one of 'name_or_path' and 'config'.")
        if self.model.config is not None and "model_type" not in self.model.config:
            raise TeacherConfigError(f"{where}: model.config needs 'model_type' (e.g. t5, gpt2).")
        if self.model.config is not None and self.model.tokenizer is None:
            raise TeacherConfigError(
                f"{where}: a model built from model.config needs model.tokenizer (a path or {{train: {{...}}}})."
            )
        if isinstance(self.model.tokenizer, dict):
            if set(self.model.tokenizer) != {"train"} or not isinstance(self.model.tokenizer["train"], dict):
                raise TeacherConfigError(f"{where}: model.tokenizer must be a path or {{train: {{vocab_size: N}}}}.")
            unknown = set(self.model.tokenizer["train"]) - {"vocab_size"}
            if unknown:
                raise TeacherConfigError(f"{where}: unknown key 'model.tokenizer.train.{sorted(unknown)[0]}'.")
        if not self.tasks:
            raise TeacherConfigError(f"{where}: tasks must name at least one of {list(TASKS)}.")
        for name, task in self.tasks.items():
            if task.input not in TASK_INPUTS[name]:
                raise TeacherConfigError(
                    f"{where}: tasks.{name}.input must be one of {list(TASK_INPUTS[name])}, got {task.input!r}."
                )
            for key in ("max_input_tokens", "max_target_tokens", "oversample"):
                if getattr(task, key) < 1:
                    raise TeacherConfigError(f"{where}: tasks.{name}.{key} must be at least 1.")
            if task.max_captions is not None and task.max_captions < 1:
                raise TeacherConfigError(f"{where}: tasks.{name}.max_captions must be at least 1 or null.")
        unknown = set(self.training) - TRAINING_ARGUMENT_NAMES
        if unknown:
            raise TeacherConfigError(
                f"{where}: unknown key 'training.{sorted(unknown)[0]}' (not a Seq2SeqTrainingArguments field)."
            )
        reserved = set(self.training) & RESERVED_TRAINING_ARGUMENTS
        if reserved:
            raise TeacherConfigError(f"{where}: 'training.{sorted(reserved)[0]}' is set by the teacher itself.")
        if self.evaluation.split not in ("train", "validation"):
            raise TeacherConfigError(f"{where}: evaluation.split must be 'train' or 'validation'.")
        self._check_pseudo()
        self._check_pretraining()

    def _check_pretraining(self) -> None:
        where, options = self.source, self.pretraining
        if options is None:
            return
        if not options.sources or set(options.sources) - set(PRETRAINING_SOURCES):
            raise TeacherConfigError(f"{where}: pretraining.sources must name some of {list(PRETRAINING_SOURCES)}.")
        for key in ("num_examples", "min_sentences", "max_input_tokens", "max_target_tokens"):
            if getattr(options, key) < 1:
                raise TeacherConfigError(f"{where}: pretraining.{key} must be at least 1.")
        if options.max_sentences < options.min_sentences:
            raise TeacherConfigError(f"{where}: pretraining.max_sentences must be at least pretraining.min_sentences.")
        if not 0 <= options.mask_ratio < 1:
            raise TeacherConfigError(f"{where}: pretraining.mask_ratio must be in [0, 1).")
        if options.mean_span <= 0:
            raise TeacherConfigError(f"{where}: pretraining.mean_span must be positive.")
        unknown = set(options.training) - TRAINING_ARGUMENT_NAMES
        if unknown:
            raise TeacherConfigError(
                f"{where}: unknown key 'pretraining.training.{sorted(unknown)[0]}' (not a Seq2SeqTrainingArguments"
                " field)."
            )
        reserved = set(options.training) & RESERVED_TRAINING_ARGUMENTS
        if reserved:
            raise TeacherConfigError(
                f"{where}: 'pretraining.training.{sorted(reserved)[0]}' is set by the teacher itself."
            )

    def _check_pseudo(self) -> None:
        where, pseudo = self.source, self.pseudo
        tasks = self.pseudo_tasks
        for name in tasks:
            if name not in self.tasks:
                raise TeacherConfigError(f"{where}: pseudo.tasks names {name!r}, which is not in tasks.")
        if "video" in tasks and self.tasks["video"].input == "segment_descriptions" and "segment" not in tasks:
            raise TeacherConfigError(
                f"{where}: pseudo video summaries from segment descriptions need the segment task in pseudo.tasks."
            )
        lengths = pseudo.segment_seconds
        if isinstance(lengths, str):
            if lengths != SEGMENT_SECONDS_FROM_ANNOTATIONS:
                raise TeacherConfigError(
                    f"{where}: pseudo.segment_seconds must be a number, a list of numbers or 'annotations'."
                )
        else:
            values = lengths if isinstance(lengths, list) else [lengths]
            if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0 for v in values):
                raise TeacherConfigError(f"{where}: pseudo.segment_seconds must hold positive numbers.")
        for key in ("video_windows_per_video", "min_segments_per_video", "min_captions", "batch_size"):
            if getattr(pseudo, key) < 1:
                raise TeacherConfigError(f"{where}: pseudo.{key} must be at least 1.")
        for key in ("max_segments", "max_videos"):
            if getattr(pseudo, key) is not None and getattr(pseudo, key) < 0:
                raise TeacherConfigError(f"{where}: pseudo.{key} must be non-negative or null.")

    @property
    def pseudo_tasks(self) -> tuple[str, ...]:
        names = self.pseudo.tasks if self.pseudo.tasks is not None else list(self.tasks)
        return tuple(name for name in TASKS if name in names) + tuple(name for name in names if name not in TASKS)

    def path(self, value: str | os.PathLike) -> Path:
        """`value` as a path; relative paths are relative to the current directory."""
        return Path(os.path.expanduser(os.fspath(value)))

    @property
    def output_path(self) -> Path:
        return self.path(self.output_dir)

    @property
    def data_path(self) -> Path:
        return self.path(self.data.data_dir)


def teacher_config_from_dict(
    mapping: Mapping, source: str = "<dict>", overrides: Mapping[str, str] | None = None
) -> TeacherConfig:
    """
    Builds a [`TeacherConfig`] from a parsed mapping; `source` names the file in error messages, `overrides` the
    command-line overrides applied to it (dotted key -> the override as written).
    """
    if not isinstance(mapping, Mapping):
        raise TeacherConfigError(f"{source} must hold a mapping of settings.")
    where = ConfigSource(source, overrides or {}, TeacherConfigError)
    return parse_dataclass(TeacherConfig, mapping, "", where, given={"source": source})


def load_teacher_config(
    path: str | os.PathLike, overrides: Sequence[str] = (), output_dir: str | os.PathLike | None = None
) -> TeacherConfig:
    """
    Reads a teacher YAML file (relative paths in it are relative to the current directory), with `key=value`
    overrides (`training.learning_rate=1e-4`, see [`apply_overrides`]) and `output_dir` (`--output-dir`) on top.
    """
    mapping = read_yaml_mapping(path, TeacherConfigError)
    overrides = list(overrides) + ([f"output_dir={os.fspath(output_dir)}"] if output_dir is not None else [])
    try:
        mapping, applied = apply_overrides(mapping, overrides)
    except ConfigOverrideError as error:
        raise TeacherConfigError(f"{path}: {error}") from None
    return teacher_config_from_dict(mapping, source=os.fspath(path), overrides=applied)


def task_prefix(name: str, task: TaskOptions) -> str:
    return DEFAULT_PREFIXES[name] if task.prefix is None else task.prefix


def task_suffix(task: TaskOptions, causal: bool) -> str:
    if task.suffix is not None:
        return task.suffix
    return DEFAULT_CAUSAL_SUFFIX if causal else ""


def task_to_dict(task: TaskOptions) -> dict:
    return dataclasses.asdict(task)


def task_from_dict(mapping: Mapping, source: str) -> TaskOptions:
    return parse_dataclass(TaskOptions, mapping, "task", ConfigSource(source, error=TeacherConfigError))


__all__ = [
    "DataOptions",
    "EvaluationOptions",
    "ModelOptions",
    "PretrainingOptions",
    "PseudoOptions",
    "SyntheticOptions",
    "SyntheticSplit",
    "TASKS",
    "TaskOptions",
    "TeacherConfig",
    "TeacherConfigError",
    "load_teacher_config",
    "teacher_config_from_dict",
]
