# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
`key=value` overrides of a YAML configuration on the command line, as the training scripts take them after their
options (`training.learning_rate=1e-4 stages.clip.max_steps=5`). Hand-written: `HfArgumentParser` parses flat
dataclass fields, not dotted keys into nested sections.
"""

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml


class ConfigOverrideError(ValueError):
    """An override that is not `KEY=VALUE` with a dotted key and a YAML value; the message is one line."""


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _one_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def parse_override(text: str) -> tuple[str, Any]:
    """
    `"training.learning_rate=1e-4"` -> `("training.learning_rate", 1e-4)`: a dotted key and a YAML value (`true`,
    `null`, `[a, b]`, `{k: v}`); numbers in any notation (YAML 1.1 reads `1e-4` as a string).
    """
    key, separator, value = text.partition("=")
    if not separator or not key or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", key):
        raise ConfigOverrideError(
            f"Unrecognised argument {text!r}: overrides are KEY=VALUE with a dotted key, e.g. "
            "training.learning_rate=1e-4 or stages.clip.max_steps=5."
        )
    if _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return key, int(number) if re.fullmatch(r"[-+]?\d+", value.strip()) else number
    try:
        return key, yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigOverrideError(f"Override {text!r}: the value is not valid YAML ({_one_line(error)}).") from None


def _set_dotted(config: dict, key: str, value: Any, override: str) -> None:
    *parents, name = key.split(".")
    node = config
    for position, parent in enumerate(parents):
        child = node.get(parent)
        if child is None:
            child = node[parent] = {}
        elif not isinstance(child, dict):
            where = ".".join(parents[: position + 1])
            raise ConfigOverrideError(f"Override {override!r}: {where} is not a section (it is {child!r}).")
        node = child
    node[name] = value


def apply_overrides(config: Mapping, overrides: Sequence[str]) -> tuple[dict, dict[str, str]]:
    """
    A copy of the configuration mapping with the `key=value` overrides applied (see [`parse_override`]), and the
    overridden keys (dotted) -> the override as written.
    """
    config = copy.deepcopy(dict(config))
    applied = {}
    for override in overrides:
        key, value = parse_override(override)
        _set_dotted(config, key, value, override)
        applied[key] = override
    return config, applied


__all__ = ["ConfigOverrideError", "apply_overrides", "parse_override"]
