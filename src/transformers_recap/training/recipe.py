# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The whole recipe of the paper's "pseudo ✓" rows in one run: LLM teacher -> pseudo annotations -> curriculum.

```yaml
output_dir: outputs/demo_recipe      # data/, teacher/ and curriculum/ (curriculum_no_pseudo/ with pseudo: false),
                                     # each curriculum exporting into its export/
export_dir: null                     # where the curriculum exports instead (src/transformers_recap/demo_model
                                     # with allow_package_export: true replaces the bundled demo model)
allow_package_export: false
pseudo: true                         # false: the same recipe without the teacher and its pseudo data (Table 6b);
                                     # [segment]: pseudo data at the segment level only (curriculum_pseudo_segment/)
teacher:
  config: teacher_synthetic.yaml     # relative to this file
  overrides: []                      # key=value settings over that file's
curriculum:
  config: demo_synthetic.yaml
  overrides: []
```

The steps share one data folder, `<output_dir>/data` (the teacher's `data.data_dir` and the curriculum's): whichever
step runs first generates Synthetic-HCap there when the configurations ask for it, and the pseudo annotations land
next to the manual ones, where the curriculum reads them with `data.pseudo: true`. Each step skips what a previous
run finished (trained teachers, written pseudo annotations, finished stages), so an interrupted recipe continues
when the same command is run again.
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config_parsing import ConfigError, ConfigSource, parse_dataclass, read_yaml_mapping
from .overrides import ConfigOverrideError, apply_overrides


class RecipeConfigError(ConfigError):
    """A recipe configuration that cannot run; the one-line message names the file and the key."""


@dataclass
class StepOptions:
    """One step's YAML file (relative to the recipe file) and `key=value` overrides of it."""

    config: Path
    overrides: list[str] = field(default_factory=list)


@dataclass
class RecipeConfig:
    """The recipe: where it writes, whether it uses pseudo data, and the two configurations it runs."""

    output_dir: Path
    teacher: StepOptions
    curriculum: StepOptions
    pseudo: bool | list[Literal["segment", "video"]] = True
    export_dir: Path | None = None
    allow_package_export: bool = False

    @property
    def data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def teacher_dir(self) -> Path:
        return self.output_dir / "teacher"

    @property
    def curriculum_dir(self) -> Path:
        if isinstance(self.pseudo, bool):
            return self.output_dir / ("curriculum" if self.pseudo else "curriculum_no_pseudo")
        return self.output_dir / "_".join(["curriculum_pseudo", *self.pseudo])

    def teacher_overrides(self) -> list[str]:
        """The teacher's overrides, then the shared data folder."""
        return [*self.teacher.overrides, f"data.data_dir={os.fspath(self.data_dir)}"]

    def curriculum_overrides(self) -> list[str]:
        """
        The export folder (`export_dir`, else one inside the curriculum's folder, so that the two arms do not export
        over each other), the curriculum's overrides, then the shared data folder, the pseudo switch and
        `allow_package_export` when set.
        """
        export_dir = self.export_dir if self.export_dir is not None else self.curriculum_dir / "export"
        overrides = [
            f"export_dir={os.fspath(export_dir)}",
            *self.curriculum.overrides,
            f"data.data_dir={os.fspath(self.data_dir)}",
            f"data.pseudo={json.dumps(self.pseudo)}",  # JSON is YAML: true, false or ["segment"]
        ]
        if self.allow_package_export:
            overrides.append("allow_package_export=true")
        return overrides


def load_recipe_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> RecipeConfig:
    """
    Reads a recipe YAML (see the module docstring) with `key=value` overrides on top (`pseudo=false`); the step
    configurations are resolved against the recipe file's folder, `output_dir` against the current one.
    """
    path = Path(path)
    mapping = read_yaml_mapping(path, RecipeConfigError)
    try:
        mapping, applied = apply_overrides(mapping, overrides)
    except ConfigOverrideError as error:
        raise RecipeConfigError(f"{path}: {error}") from None
    source = ConfigSource(os.fspath(path), applied, RecipeConfigError)
    config = parse_dataclass(RecipeConfig, mapping, "", source)
    for name in ("teacher", "curriculum"):
        step: StepOptions = getattr(config, name)
        step.config = path.parent / step.config
        if not step.config.is_file():
            raise source.fail(f"{name}.config", f"{name}.config {step.config} does not exist.")
    return config


def run_recipe(config: RecipeConfig, max_steps: int | None = None) -> dict[str, Any]:
    """
    Runs teacher (training and evaluation), pseudo annotations and curriculum (only the curriculum when
    `config.pseudo` is false). Returns `{"teacher": metrics, "curriculum": results}`.
    """
    from .curriculum import load_curriculum_config
    from .teacher import generate_pseudo_annotations, load_teacher_config, train_teacher

    results: dict[str, Any] = {}
    if config.pseudo:
        teacher_config = load_teacher_config(
            config.teacher.config, overrides=config.teacher_overrides(), output_dir=config.teacher_dir
        )
        results["teacher"] = train_teacher(teacher_config, max_steps=max_steps).metrics
        generate_pseudo_annotations(teacher_config)
    curriculum = load_curriculum_config(
        config.curriculum.config, overrides=config.curriculum_overrides(), output_dir=config.curriculum_dir
    )
    results["curriculum"] = curriculum.run(max_steps=max_steps)
    return results


__all__ = ["RecipeConfig", "RecipeConfigError", "StepOptions", "load_recipe_config", "run_recipe"]
