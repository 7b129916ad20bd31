# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Typed YAML options for the training scripts (curriculum and teacher): a parsed mapping checked against dataclass
annotations, with errors that name the key and where its value came from (the file, or a `key=value` override of
the command line), plus the Synthetic-HCap options both scripts take.

Hand-written: `HfArgumentParser` parses flat dataclass fields from the command line; it neither checks the types of
a YAML mapping's values nor parses nested sections.
"""

import copy
import dataclasses
import difflib
import inspect
import os
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from ..data.synthetic import generate_synthetic_hcap


class ConfigError(ValueError):
    """A configuration that cannot run; the one-line message names the key and the file or override."""


@dataclass(frozen=True)
class ConfigSource:
    """
    Names where a value came from: the file, or the command-line override that set it; `error` is the
    [`ConfigError`] subclass the parser raises.
    """

    file: str
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    error: type[ConfigError] = ConfigError

    def at(self, where: str) -> str:
        for key, override in self.overrides.items():
            if where == key or where.startswith(key + "."):
                return f"command-line override {override!r}"
        for key, override in self.overrides.items():
            if key.startswith(where + ".") or not where:
                return f"{self.file} (with the override {override!r})"
        return self.file

    def fail(self, where: str, message: str) -> ConfigError:
        """The error `"<file or override>: <message>"` for the value at `where`."""
        return self.error(f"{self.at(where)}: {message}")


def join_key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def one_line(error: BaseException) -> str:
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip())


def read_yaml_mapping(path: str | os.PathLike, error_class: type[ConfigError]) -> dict:
    """The mapping a YAML configuration file holds; a missing file, bad YAML or another kind of value is an
    `error_class` whose one-line message names the file."""
    path = Path(path)
    if not path.is_file():
        raise error_class(f"Configuration file {path} does not exist.")
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise error_class(f"{path} is not valid YAML: {one_line(error)}") from None
    if not isinstance(mapping, dict):
        raise error_class(f"{path} must hold a mapping of settings.")
    return mapping


def default_of(function: Any, name: str) -> Any:
    """The default of `function`'s parameter `name`: options passed on to a function keep its default."""
    return inspect.signature(function).parameters[name].default


def describe_type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(describe_type(option) for option in get_args(annotation))
    if origin is Literal:
        return "one of " + ", ".join(repr(value) for value in get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is dict or annotation is dict or dataclasses.is_dataclass(annotation):
        return "a mapping"
    if origin is list or annotation is list:
        return "a list"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", Path: "a path"}.get(
        annotation, str(annotation)
    )


def unknown_key(key: Any, where: str, allowed: set | frozenset, source: ConfigSource, kind: str = "") -> ConfigError:
    """The error for `key` of the section `where`, which allows `allowed` (with the closest match as a hint)."""
    full = join_key(where, str(key))
    close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (f"; expected {kind}." if kind else "")
    if not kind and len(allowed) <= 12:
        hint = f"; allowed: {', '.join(sorted(allowed))}" + (f" (did you mean {close[0]!r}?)" if close else "")
    return source.fail(full, f"unknown key {full!r}{hint}")


def as_mapping(value: Any, where: str, source: ConfigSource) -> dict:
    if value is None:
        return {}  # an empty YAML section
    if not isinstance(value, Mapping):
        raise source.fail(where, f"{where or 'the configuration'} must be a mapping, got {value!r}.")
    return dict(value)


def parse_value(value: Any, annotation: Any, where: str, source: ConfigSource) -> Any:
    """
    `value` (parsed YAML) as `annotation` says: dataclasses from mappings (a class may parse itself with a
    `_from_config(value, where, source)` class method), `dict[K, V]` (`K` a `Literal` restricts the keys), `list[T]`,
    unions, `Literal`s, `Path`, and exact scalars (an integer is a number; `true` is not an integer).
    """
    origin, arguments = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return copy.deepcopy(value)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        options = [option for option in arguments if option is not type(None)]
        structured = [option for option in options if dataclasses.is_dataclass(option) or get_origin(option) is dict]
        if isinstance(value, Mapping) and len(structured) == 1:
            return parse_value(value, structured[0], where, source)
        for option in options:
            try:
                return parse_value(value, option, where, source)
            except ConfigError:
                continue
        raise source.fail(where, f"{where} must be {describe_type(annotation)}, got {value!r}.")
    if origin is Literal:
        if isinstance(value, str) and value in arguments:
            return value
        raise source.fail(where, f"{where} must be {describe_type(annotation)}, got {value!r}.")
    if dataclasses.is_dataclass(annotation):
        if hasattr(annotation, "_from_config"):
            return annotation._from_config(value, where, source)
        return parse_dataclass(annotation, value, where, source)
    if origin is dict or annotation is dict:
        key_type, value_type = arguments or (str, Any)
        result = {}
        for key, item in as_mapping(value, where, source).items():
            if get_origin(key_type) is Literal and key not in get_args(key_type):
                full = join_key(where, str(key))
                raise source.fail(full, f"unknown key {full!r}; expected one of {', '.join(get_args(key_type))}.")
            if not isinstance(key, str):
                raise source.fail(where, f"the keys of {where} must be strings, got {key!r}.")
            result[key] = parse_value(item, value_type, join_key(where, key), source)
        return result
    if origin is list or annotation is list:
        if not isinstance(value, (list, tuple)):
            raise source.fail(where, f"{where} must be a list, got {value!r}.")
        item_type = arguments[0] if arguments else Any
        return [parse_value(item, item_type, f"{where}[{index}]", source) for index, item in enumerate(value)]
    if annotation is Path:
        if isinstance(value, (str, os.PathLike)) and os.fspath(value):
            return Path(os.path.expanduser(os.fspath(value)))
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, annotation):
        return value
    raise source.fail(where, f"{where} must be {describe_type(annotation)}, got {value!r}.")


def parse_dataclass(
    cls: type, value: Any, where: str, source: ConfigSource, given: Mapping[str, Any] | None = None
) -> Any:
    """
    An instance of the dataclass `cls` from the mapping `value`: unknown keys and missing required ones are errors;
    `given` are fields set by the caller, not by the configuration.
    """
    value, given = as_mapping(value, where, source), dict(given or {})
    hints = get_type_hints(cls)
    init_fields = [item for item in dataclasses.fields(cls) if item.init and item.name not in given]
    names = {item.name for item in init_fields}
    for key in value:
        if key not in names:
            raise unknown_key(key, where, names, source)
    for item in init_fields:
        if (
            item.name not in value
            and item.default is dataclasses.MISSING
            and item.default_factory is dataclasses.MISSING
        ):
            full = join_key(where, item.name)
            raise source.fail(full, f"{full} is required.")
    parsed = {key: parse_value(item, hints[key], join_key(where, key), source) for key, item in value.items()}
    return cls(**parsed, **given)


# ---------------------------------------------------------------------------------------------------------------------
# Synthetic-HCap, generated by either script
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class SyntheticSplit:
    """One generated Synthetic-HCap split: `num_videos` annotated at all three levels, plus
    `num_narration_only_videos` with clip captions only (no segment or video annotation, as most of Ego4D)."""

    num_videos: int
    seed: int
    num_narration_only_videos: int = 0


@dataclass
class SyntheticOptions:
    """Synthetic-HCap generated into the data folder when it holds no annotations yet (see `generate_synthetic_hcap`)."""

    train: SyntheticSplit
    validation: SyntheticSplit
    size: int = default_of(generate_synthetic_hcap, "size")
    fps: int = default_of(generate_synthetic_hcap, "fps")
    clip_seconds: float = default_of(generate_synthetic_hcap, "clip_seconds")
    clips_per_segment: int = default_of(generate_synthetic_hcap, "clips_per_segment")
    segments_per_video: int = default_of(generate_synthetic_hcap, "segments_per_video")

    def layout(self) -> dict[str, Any]:
        """The keyword arguments of `generate_synthetic_hcap` that shape the videos."""
        return {
            name: getattr(self, name)
            for name in ("size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video")
        }

    def generate(self, data_dir: str | os.PathLike) -> None:
        """Writes both splits (annotations and videos) into `data_dir`."""
        for split in ("train", "validation"):
            spec = getattr(self, split)
            generate_synthetic_hcap(
                data_dir,
                num_videos=spec.num_videos,
                seed=spec.seed,
                split=split,
                num_narration_only_videos=spec.num_narration_only_videos,
                **self.layout(),
            )


__all__ = [
    "ConfigError",
    "ConfigSource",
    "SyntheticOptions",
    "SyntheticSplit",
    "parse_dataclass",
    "parse_value",
]
