# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Typed options of a curriculum run (see `examples/configs/*.yaml`): the YAML mapping and the command line's
`key=value` overrides are parsed into the dataclasses below, each default stated once (here, or in the function or
class the option is passed to). An unknown key, a value of the wrong type or an invalid setting is a
[`CurriculumConfigError`] whose one-line message names the key and where it came from (the file or the override).

The sections `training` (every stage) and `stages.<level>` mix curriculum options ([`StageOptions`]) with
`Seq2SeqTrainingArguments` fields; a stage's values override `training`'s.
"""

import copy
import dataclasses
import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

from huggingface_hub.errors import StrictDataclassError
from transformers import Blip2QFormerConfig, GPT2Config, Seq2SeqTrainingArguments

from ...levels import LEVELS
from ...models.video_recap.configuration_video_recap import VideoReCapConfig, VideoReCapVisionConfig
from ...models.video_recap.processing_video_recap import merge_input_settings
from ...models.video_recap.video_processing_video_recap import VideoReCapVideoProcessor
from ..config_parsing import (
    ConfigError,
    ConfigSource,
    SyntheticOptions,
    SyntheticSplit,
    as_mapping,
    default_of,
    join_key,
    one_line,
    parse_value,
    read_yaml_mapping,
    unknown_key,
)
from ..overrides import ConfigOverrideError, apply_overrides
from ..text_pretraining import pretrain_caption_language_model, train_caption_tokenizer


Level = Literal[LEVELS]
PACKAGE_DIR = Path(__file__).resolve().parents[2]
"""The installed `transformers_recap` package: exports never write into it unless `allow_package_export` is set."""

LORA_TARGET_MODULES = {
    "self_attention": r".*language_model\.layers\.\d+\.attn\.c_attn",
    "attention": r".*language_model\.layers\.\d+\.(attn|cross_attention_block\.\w+\.cross_attention)\.(c_attn|q_attn)",
}
"""`lora.target` -> the `LoraConfig.target_modules` pattern: the decoder's self-attention, or also its cross-attention."""

TRAINING_ARGUMENT_NAMES = frozenset(field.name for field in dataclasses.fields(Seq2SeqTrainingArguments))
CURRICULUM_TRAINING_ARGUMENTS = {
    "output_dir": "<output_dir>/<stage>/checkpoints",
    "seed": "the top-level seed",
    "remove_unused_columns": "False: the collator builds the inputs",
    "predict_with_generate": "True: validation captions are generated",
}
"""Training arguments the curriculum sets itself, and to what."""


class CurriculumConfigError(ConfigError):
    """A curriculum configuration (or its data) that cannot run; the one-line message names the key or file."""


def stage_levels(stage: str, unified: bool) -> tuple[str, ...]:
    """Levels trained in `stage`: only the stage's level for Video ReCap, all levels up to it for Video ReCap-U."""
    if stage not in LEVELS:
        raise CurriculumConfigError(f"Unknown stage {stage!r}; expected one of {', '.join(LEVELS)}.")
    return LEVELS[: LEVELS.index(stage) + 1] if unified else (stage,)


# ---------------------------------------------------------------------------------------------------------------------
# The options
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class DataOptions:
    """
    Where the data is. `data_dir` holds the Ego4D-HCap annotation files; with `synthetic` it defaults to
    `<output_dir>/data` and `video_dir` to `<data_dir>/videos`, where the generator writes them. `pseudo` mixes the
    LLM teacher's pseudo annotations (`*_train_pseudo` files) into the training data of the segment and video
    levels (`true`) or of the levels listed (`[segment]`).
    """

    data_dir: Path | None = None
    video_dir: Path | None = None
    features_dir: Path | None = None
    pseudo: bool | list[Literal["segment", "video"]] = False
    synthetic: SyntheticOptions | None = None
    use_ground_truth_inputs: bool = False
    max_eval_samples: dict[Level, int] = field(default_factory=dict)
    clip_frame_cache: int = 0

    @property
    def pseudo_levels(self) -> tuple[str, ...]:
        """The levels whose training data the pseudo annotations join."""
        if isinstance(self.pseudo, bool):
            return ("segment", "video") if self.pseudo else ()
        return tuple(self.pseudo)


@dataclass
class TextPretrainOptions:
    """A caption tokenizer and GPT-2 trained on the training captions (see `text_pretraining`)."""

    vocab_size: int = default_of(train_caption_tokenizer, "vocab_size")
    epochs: float = default_of(pretrain_caption_language_model, "epochs")
    batch_size: int = default_of(pretrain_caption_language_model, "batch_size")
    learning_rate: float = default_of(pretrain_caption_language_model, "learning_rate")


@dataclass
class TextOptions:
    """`model.text: {pretrain: {...}}`."""

    pretrain: TextPretrainOptions = field(default_factory=TextPretrainOptions)


@dataclass
class ModelOptions:
    """
    The initial model. `text`: a GPT-2 directory or Hub id, or `{pretrain: {...}}`; `vision`: LaViLa's checkpoint,
    `timm:<name>` or none (trained in the clip stage); `qformer`: `random` or a BERT-like model. `config`,
    `input_settings` and `video_processor` are keyword arguments of `VideoReCapConfig`, the processor's
    `input_settings` and `VideoReCapVideoProcessor`; `level_max_new_tokens` the caption budget per level.
    """

    unified: bool = False
    text: str | TextOptions = "gpt2"
    vision: str | None = None
    qformer: str = "random"
    video_processor: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    input_settings: dict[Level, dict[str, Any]] = field(default_factory=dict)
    level_max_new_tokens: dict[Level, int] = field(default_factory=dict)


@dataclass
class StageOptions:
    """
    Curriculum options of one stage (besides its `Seq2SeqTrainingArguments`).

    - `train_vision`: also train the video encoder (synthetic data: no pretrained encoder exists);
    - `freeze_vision_steps`: with `train_vision`, the encoder stays frozen for the stage's first N optimizer steps
      (the level first learns to read its random features; see [`FreezeForSteps`]);
    - `vision_lr_warmup_steps`: with `train_vision`, the encoder's learning rate rises from 0 to the schedule's over
      N steps after its frozen ones (its Adam state starts then, so its first steps would be full-size; see
      [`ModuleWarmup`]);
    - `context_copy_steps`: a segment or video stage first trains N steps to reproduce its own input text (runs of an
      example's lower-level captions as context and as target, with the window's video features), then its own
      targets (see [`context_copy_examples`]): the video level trained from scratch on a few hundred summaries does
      not learn to read the segment descriptions out in order otherwise;
    - `context_copy_shuffled`: the warm-up's runs draw their captions at random from all training examples' inputs,
      one new run per example it trains on, instead of the consecutive runs of each example (which it would repeat
      and learn by heart);
    - `samples_per_epoch`: examples drawn per level per epoch (Video ReCap-U; default: the smallest level's size);
    - `lora`: `peft.LoraConfig` arguments plus `target` (see `LORA_TARGET_MODULES`);
    - `use_ground_truth_inputs`: train on ground-truth lower-level captions (default: `data.use_ground_truth_inputs`);
    - `init`: `previous` starts the stage's level from the level below (the curriculum), `scratch` keeps its initial
      weights (the paper's Table 5 ablation).
    """

    train_vision: bool = False
    freeze_vision_steps: int = 0
    vision_lr_warmup_steps: int = 0
    context_copy_steps: int = 0
    context_copy_shuffled: bool = False
    samples_per_epoch: dict[Level, int] | None = None
    lora: dict[str, Any] | None = None
    use_ground_truth_inputs: bool | None = None
    init: Literal["previous", "scratch"] = "previous"


STAGE_OPTION_NAMES = frozenset(field.name for field in dataclasses.fields(StageOptions))


@dataclass
class StageSettings:
    """A `training` or `stages.<level>` section: the curriculum options it sets and its training arguments."""

    options: dict[str, Any] = field(default_factory=dict)
    training_arguments: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _from_config(cls, value: Any, where: str, source: ConfigSource) -> "StageSettings":
        value = as_mapping(value, where, source)
        hints = get_type_hints(StageOptions)
        options, arguments = {}, {}
        for key, item in value.items():
            if key in STAGE_OPTION_NAMES:
                options[key] = parse_value(item, hints[key], f"{where}.{key}", source)
            elif key in CURRICULUM_TRAINING_ARGUMENTS:
                full = join_key(where, key)
                raise CurriculumConfigError(
                    f"{source.at(full)}: {full} is set by the curriculum ({CURRICULUM_TRAINING_ARGUMENTS[key]})."
                )
            elif key in TRAINING_ARGUMENT_NAMES:
                arguments[key] = copy.deepcopy(item)
            else:
                raise unknown_key(
                    key,
                    where,
                    STAGE_OPTION_NAMES | TRAINING_ARGUMENT_NAMES,
                    source,
                    "a curriculum stage option or Seq2SeqTrainingArguments field",
                )
        if options.get("lora") is not None:
            _check_lora(options["lora"], f"{where}.lora", source)
        return cls(options=options, training_arguments=arguments)


@dataclass
class ExtractionOptions:
    """
    The predicted lower-level inputs between stages. `captions: extract` captions the training videos with the
    stage's model (the original recipe); `annotations` uses the predictions stored in the annotation files (then the
    CLS features come from `data.features_dir`). `generation`: `generate` keyword arguments.
    """

    batch_size: int = 8
    captions: Literal["extract", "annotations"] = "extract"
    segment_seconds: float | None = None
    generation: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvaluationOptions:
    """Validation captioning after each stage."""

    batch_size: int = 16
    generation: dict[str, Any] = field(default_factory=dict)


@dataclass
class CurriculumConfig:
    """
    A whole curriculum run. Paths are absolute once parsed: relative ones are resolved against `base_dir` of
    [`~CurriculumConfig.from_dict`], the current directory by default.
    """

    output_dir: Path
    data: DataOptions = field(default_factory=DataOptions)
    seed: int = 0
    model: ModelOptions = field(default_factory=ModelOptions)
    training: StageSettings = field(default_factory=StageSettings)
    stages: dict[Level, StageSettings] = field(default_factory=dict)
    extraction: ExtractionOptions = field(default_factory=ExtractionOptions)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    export_dir: Path | None = None
    allow_package_export: bool = False

    @classmethod
    def from_dict(
        cls,
        config: Mapping,
        source: str = "the configuration",
        overrides: Sequence[str] = (),
        base_dir: str | os.PathLike | None = None,
    ) -> "CurriculumConfig":
        """
        Parses a configuration mapping, with `key=value` overrides (dotted keys, YAML values) applied on top.

        Args:
            config (`Mapping`): the parsed YAML.
            source (`str`): what errors call the mapping (the file name).
            overrides (`Sequence[str]`): e.g. `["output_dir=outputs/smoke", "stages.clip.max_steps=5"]`.
            base_dir (`str`, *optional*): directory relative paths are resolved against (default: the current one).
        """
        if not isinstance(config, Mapping):
            raise CurriculumConfigError(f"{source} must hold a mapping of settings, got {type(config).__name__}.")
        try:
            config, applied = apply_overrides(config, overrides)
        except ConfigOverrideError as error:
            raise CurriculumConfigError(str(error)) from None
        parsed = parse_value(config, cls, "", ConfigSource(source, applied, CurriculumConfigError))
        parsed._resolve(
            Path(base_dir) if base_dir is not None else Path.cwd(),
            ConfigSource(source, applied, CurriculumConfigError),
        )
        return parsed

    def _resolve(self, base_dir: Path, source: ConfigSource) -> None:
        def resolve(path: Path | None) -> Path | None:
            return None if path is None else (path if path.is_absolute() else base_dir / path)

        self.output_dir = resolve(self.output_dir)
        data = self.data
        data.data_dir = resolve(data.data_dir)
        if data.data_dir is None:
            if data.synthetic is None:
                raise CurriculumConfigError(
                    f"{source.at('data.data_dir')}: data.data_dir (the Ego4D-HCap annotation directory) is required "
                    "unless data.synthetic generates the data."
                )
            data.data_dir = self.output_dir / "data"
        data.video_dir = resolve(data.video_dir)
        if data.video_dir is None and data.synthetic is not None:
            data.video_dir = data.data_dir / "videos"
        data.features_dir = resolve(data.features_dir)
        self.export_dir = resolve(self.export_dir)
        vision = self.model.vision
        if vision is not None and not vision.startswith("timm:"):
            self.model.vision = os.fspath(resolve(Path(os.path.expanduser(vision))))
        if self.extraction.captions == "annotations" and data.features_dir is None:
            raise CurriculumConfigError(
                f"{source.at('extraction.captions')}: extraction.captions: annotations uses the predictions stored in "
                "the annotation files, and then the CLS features must come from data.features_dir."
            )
        if self.export_dir is not None and not self.allow_package_export:
            export = self.export_dir.resolve()
            if export == PACKAGE_DIR or PACKAGE_DIR in export.parents:
                raise CurriculumConfigError(
                    f"{source.at('export_dir')}: export_dir {self.export_dir} is inside the installed package "
                    f"({PACKAGE_DIR}); a run would overwrite its files. Export elsewhere, or set "
                    "allow_package_export=true to replace them on purpose."
                )
        self._check_model(source)
        input_settings = merge_input_settings(self.model.input_settings)
        for stage in LEVELS:
            levels = stage_levels(stage, self.model.unified)
            options = self.stage_options(stage)
            for name in ("freeze_vision_steps", "vision_lr_warmup_steps"):
                steps = getattr(options, name)
                if steps < 0 or (steps and not options.train_vision):
                    where = f"stages.{stage}.{name}"
                    raise CurriculumConfigError(
                        f"{source.at(where)}: {where} is {steps}; it counts steps of a stage that trains the video "
                        "encoder (train_vision: true) and is 0 or more."
                    )
            copy_steps = options.context_copy_steps
            reads_text = any(input_settings[level]["context_separator"] is not None for level in levels)
            if copy_steps < 0 or (copy_steps and not reads_text):
                where = f"stages.{stage}.context_copy_steps"
                raise CurriculumConfigError(
                    f"{source.at(where)}: {where} is {copy_steps}; it counts steps of a stage whose levels read the "
                    "lower level's captions (segment or video, with a context_separator) and is 0 or more."
                )
            scheduler = self.stage_training_arguments(stage).get("lr_scheduler_type")
            if options.vision_lr_warmup_steps and scheduler == "reduce_lr_on_plateau":
                where = f"stages.{stage}.vision_lr_warmup_steps"
                raise CurriculumConfigError(
                    f"{source.at(where)}: {where} scales the stage's learning-rate schedule, which "
                    "reduce_lr_on_plateau does not have; choose another lr_scheduler_type."
                )
            for level in options.samples_per_epoch or {}:
                if level not in levels:
                    where = f"stages.{stage}.samples_per_epoch"
                    raise CurriculumConfigError(
                        f"{source.at(where)}: {where} names the {level} level, which the {stage} stage does not "
                        f"train (it trains {', '.join(levels)})."
                    )

    def _check_model(self, source: ConfigSource) -> None:
        model = self.model
        checks = [("model.config", lambda: _check_model_config(model.config, model.unified))]
        checks.append(("model.input_settings", lambda: merge_input_settings(model.input_settings)))
        checks.append(("model.video_processor", lambda: _check_keys(model.video_processor, _video_processor_keys())))
        for where, check in checks:
            try:
                check()
            except (ValueError, TypeError, StrictDataclassError) as error:
                raise CurriculumConfigError(f"{source.at(where)}: {where}: {one_line(error)}") from None

    def stage_options(self, stage: str) -> StageOptions:
        """The curriculum options of `stage`: its own values over `training`'s, over the defaults."""
        settings = self.stages.get(stage) or StageSettings()
        return StageOptions(**{**self.training.options, **settings.options})

    def stage_training_arguments(self, stage: str) -> dict[str, Any]:
        """The `Seq2SeqTrainingArguments` overrides of `stage`: its own values over `training`'s."""
        settings = self.stages.get(stage) or StageSettings()
        return {**copy.deepcopy(self.training.training_arguments), **copy.deepcopy(settings.training_arguments)}

    # -- the output layout ---------------------------------------------------------------------------------------

    def stage_dir(self, stage: str) -> Path:
        return self.output_dir / stage

    def stage_model_dir(self, stage: str) -> Path:
        """The model and processor after `stage` (what the next stage starts from)."""
        return self.stage_dir(stage) / "model"

    def checkpoints_dir(self, stage: str) -> Path:
        return self.stage_dir(stage) / "checkpoints"

    def extraction_dir(self, level: str) -> Path:
        """Per-video predictions of the `level` model (`extraction/clip`: CLS features and clip captions)."""
        return self.output_dir / "extraction" / level

    def annotations_dir(self, level: str) -> Path:
        """Where the annotations of `level` are read: the extracted-prediction copies above the clip level."""
        if level == "clip" or self.extraction.captions == "annotations":
            return self.data.data_dir
        return self.output_dir / "annotations" / level

    def features_location(self) -> tuple[Path, str | None]:
        """Directory and layout of the CLS features the segment and video levels train from."""
        if self.data.features_dir is not None:
            return self.data.features_dir, None
        return self.extraction_dir("clip"), "safetensors"


# ---------------------------------------------------------------------------------------------------------------------
# Reading a file and the command line's overrides
# ---------------------------------------------------------------------------------------------------------------------


def read_config_mapping(path: str | os.PathLike) -> dict:
    """The mapping a curriculum YAML file holds (errors name the file)."""
    return read_yaml_mapping(path, CurriculumConfigError)


def read_curriculum_config(
    path: str | os.PathLike, overrides: Sequence[str] = (), output_dir: str | os.PathLike | None = None
) -> CurriculumConfig:
    """
    Reads a curriculum YAML file, with `key=value` overrides and `output_dir` (`--output-dir`) on top; relative
    paths are relative to the current directory.
    """
    overrides = list(overrides)
    if output_dir is not None:
        overrides.append(f"output_dir={os.fspath(output_dir)}")
    return CurriculumConfig.from_dict(read_config_mapping(path), source=os.fspath(path), overrides=overrides)


# ---------------------------------------------------------------------------------------------------------------------
# Checks of the keyword arguments passed to transformers / peft classes
# ---------------------------------------------------------------------------------------------------------------------


def _config_keys(config_class: type) -> set[str]:
    return {item.name for item in dataclasses.fields(config_class)} | set(getattr(config_class, "attribute_map", {}))


def _check_keys(values: Mapping, allowed: set[str], where: str = "") -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
        prefix = f"{where}." if where else ""
        raise ValueError(
            f"unknown key {prefix + unknown[0]!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + "."
        )


def _check_model_config(config: Mapping, unified: bool) -> None:
    """Unknown keys of `model.config` and its sub-configurations are errors (the configs would keep them silently)."""
    if "unified" in config:
        raise ValueError("set model.unified, not model.config.unified.")
    _check_keys(config, _config_keys(VideoReCapConfig))
    sub_configs = {
        "vision_config": VideoReCapVisionConfig,
        "qformer_config": Blip2QFormerConfig,
        "text_config": GPT2Config,
    }
    for name, config_class in sub_configs.items():
        if isinstance(config.get(name), Mapping):
            _check_keys(config[name], _config_keys(config_class), name)
    VideoReCapConfig(**copy.deepcopy(dict(config)), unified=unified)


def _video_processor_keys() -> set[str]:
    return set(get_type_hints(VideoReCapVideoProcessor.valid_kwargs))


def _check_lora(lora: Mapping, where: str, source: ConfigSource) -> None:
    from peft import LoraConfig

    target = lora.get("target", "self_attention")
    if target not in LORA_TARGET_MODULES:
        raise CurriculumConfigError(
            f"{source.at(where)}: {where}.target must be one of {', '.join(LORA_TARGET_MODULES)}, got {target!r}."
        )
    allowed = {item.name for item in dataclasses.fields(LoraConfig) if item.init} - {"target_modules"} | {"target"}
    for key in lora:
        if key not in allowed:
            raise unknown_key(key, where, allowed, source, "a peft.LoraConfig field or target")


__all__ = [
    "CurriculumConfig",
    "CurriculumConfigError",
    "DataOptions",
    "EvaluationOptions",
    "ExtractionOptions",
    "LORA_TARGET_MODULES",
    "ModelOptions",
    "StageOptions",
    "StageSettings",
    "SyntheticOptions",
    "SyntheticSplit",
    "TextOptions",
    "TextPretrainOptions",
    "read_config_mapping",
    "read_curriculum_config",
    "stage_levels",
]
