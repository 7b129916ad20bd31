"""Ego4D-HCap: hierarchical captions of long egocentric videos, as a `datasets` builder.

# Dataset card

Ego4D-HCap (Islam et al., CVPR 2024) adds long-range video summaries to 8,267 Ego4D videos and organises their
captions in three levels; the pseudo configs hold LLM-generated annotations for extra training data.

| config                       | target               | annotations | average span | splits            |
|------------------------------|----------------------|-------------|--------------|-------------------|
| `clip_caption`               | clip caption         | 5.27M       | 0.96 s       | train, validation |
| `segment_description`        | segment description  | 17.5K       | 2.87 min     | train, validation |
| `video_summary`              | video summary        | 8.3K        | 28.46 min    | train, validation |
| `segment_description_pseudo` | pseudo description   | 100K        | -            | train             |
| `video_summary_pseudo`       | pseudo summary       | 15K         | -            | train             |

## Files

The annotation files are read from `data_dir/annotations/` and, for files not found there, from `data_dir/`
([`~transformers_recap.data.generate_synthetic_hcap`] writes the first layout):

- `clips_{train,val}.pkl`: list of `(vid, start_sec, end_sec, caption)` tuples.
- `segments_{train,val}.pkl`, `segments_train_pseudo.pkl`: list of dicts with `vid`, `start_sec`, `end_sec`,
  `segment_description` (target), `captions_pred` (list of `[vid, start_sec, end_sec, caption]`), and optionally
  `sid` and `captions_gt` (list of dicts with `narration_text`).
- `videos_{train,val}.json`, `videos_train_pseudo.json` (a `.pkl` with the same name is used when there is no
  `.json`): list of dicts with `vid`, `video_summary` (target), `segment_descriptions_pred`, and optionally
  `start_sec` (default 0), `end_sec`, `sids`, `segment_descriptions` and `version`.

Pickles are read with an unpickler that admits only plain data ([`load_plain_pickle`]): a file that references any
class or function is refused and nothing in it runs. A pickle can also name one object many times through two-byte
memo references, so a 12 kB file could expand to hundreds of MB of Arrow cache; a pickle whose data, measured as a tree
with every reference counted in full (one unit per object plus one per character), exceeds 64 units per byte of the
file plus 1 MiB is refused with `PickleExpansionError` (plain annotation pickles measure about 1 unit per byte), and so
is one that contains itself. JSON files must be UTF-8. A file that cannot be parsed (not UTF-8, invalid JSON, nested
deeper than Python's JSON parser allows, an integer longer than Python's 4300-digit limit) or does not hold a list
raises [`AnnotationFileError`] naming the file.

A split whose file is absent is left out; a file holding an empty list is left out with a warning; a config with no
file at all raises `FileNotFoundError`, and one whose files are all empty raises [`AnnotationFileError`].

## Fields

Every config: `video_uid`, `start_sec`, `end_sec` (float seconds) and `text` (the target).

- `segment_description*` adds `segment_uid` (the file's `sid`, `None` when absent), `clip_captions_gt` (the
  `narration_text` of `captions_gt`), `clip_captions_pred` (the caption of each `captions_pred` entry, in file order,
  which is time order), and `clip_starts_sec` / `clip_ends_sec` of those entries. The original model's text input is
  `"".join(clip_captions_pred)`, without separator.
- `video_summary*` adds `segment_uids` (`sids`), `segment_descriptions_gt` and `segment_descriptions_pred`. The
  original model's text input strips each description of surrounding `.` and spaces and joins them as `"d1. d2."`.
  Records with `version == "v1"` store the predicted descriptions as one printed Python list; it becomes a single
  entry with the characters `[ ] , '` removed, exactly the text the original code feeds. A record without `end_sec`
  is kept when it lists `sids` (`end_sec` is then `None` and the original code concatenates the per-segment features
  of `segment_uids`); without either it is malformed.

With `video_dir`, `video_path` is `<video_dir>/<video_uid>.mp4`. With `features_dir`, `features_path` points to the
precomputed CLS features (one 768-d row per 4-s window) and `features_scope` says what the file covers:

| level   | `"original"` layout                                                          | `"safetensors"` layout |
|---------|------------------------------------------------------------------------------|------------------------|
| clip    | `videos/<vid>.npy`                                                           | `<vid>.safetensors`    |
| segment | `segments/<sid>.npy` (scope `"segment"`); without `sid`, `videos/<vid>.npy`  | `<vid>.safetensors`    |
| video   | `videos/<vid>.npy`; without `end_sec`, the `segments/` folder (`"segments"`) | `<vid>.safetensors`    |

Scope `"video"` means rows cover the whole video from 0 s (slice `int(start_sec / 4)` to `int(end_sec // 4)`),
`"segment"` that the file covers exactly this segment, `"segments"` that `<path>/<sid>.npy` must be concatenated over
`segment_uids`. With `features_layout=None` the layout is `"original"` when `features_dir` has a `videos/` or
`segments/` folder, else `"safetensors"`. Read the files with [`read_feature_file`]. Missing video or feature files are
counted in a warning; the paths are still filled in.

## Malformed records

A record with a missing field, a wrong type, `end_sec < start_sec` (also in a `captions_pred` entry), a negative or
non-finite time (`1e400` in JSON reads as infinity; an integer beyond the float range such as `10**400` counts as
non-finite), an empty target text, a text with a lone surrogate (not valid Unicode, so not storable in Arrow) or a uid
that is not a plain file name ([`~transformers_recap.data.validate_uid`]: no path separator, `..`, NUL or other
control character, nothing Windows forbids) is skipped and counted, and a warning lists the first ones with their index
(also available as `builder.malformed_records` after preparation). A file whose records are all malformed raises
[`AnnotationFileError`] with the first reason. With `strict=True` the first malformed record raises
[`MalformedRecordError`] naming the file and index.

## Licence

The annotations are created and distributed by the Video ReCap authors together with their MIT-licensed code; check
their release for the terms of the annotation files. The videos are Ego4D videos under the Ego4D licence agreement:
obtain them from Ego4D yourself. This builder reads local files only and downloads nothing.

## Citation

```bibtex
@inproceedings{islam2024videorecap,
  title     = {Video ReCap: Recursive Captioning of Hour-Long Videos},
  author    = {Islam, Md Mohaiminul and Ho, Ngan and Yang, Xitong and Nagarajan, Tushar and Torresani, Lorenzo and
               Bertasius, Gedas},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}
```
"""

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import datasets
import numpy as np
from datasets.builder import Key
from datasets.utils import logging

from .ids import InvalidUidError, short_repr, validate_uid
from .safe_pickle import load_plain_pickle


logger = logging.get_logger(__name__)

_CITATION = """\
@inproceedings{islam2024videorecap,
  title     = {Video ReCap: Recursive Captioning of Hour-Long Videos},
  author    = {Islam, Md Mohaiminul and Ho, Ngan and Yang, Xitong and Nagarajan, Tushar and Torresani, Lorenzo and
               Bertasius, Gedas},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2024}
}
"""
_HOMEPAGE = "https://sites.google.com/view/vidrecap"
_LICENSE = (
    "Annotations: distributed by the Video ReCap authors (see their release). Videos: Ego4D licence agreement; "
    "read from local files only."
)

LEVELS = {"clip": "clip_caption", "segment": "segment_description", "video": "video_summary"}
"""Caption level -> config name (the pseudo configs add `_pseudo`)."""

_CONFIG_LEVELS = {
    "clip_caption": ("clip", False),
    "segment_description": ("segment", False),
    "video_summary": ("video", False),
    "segment_description_pseudo": ("segment", True),
    "video_summary_pseudo": ("video", True),
}
_ANNOTATION_FILES: dict[tuple[str, bool], dict[str, tuple[str, ...]]] = {
    ("clip", False): {"train": ("clips_train.pkl",), "validation": ("clips_val.pkl",)},
    ("segment", False): {"train": ("segments_train.pkl",), "validation": ("segments_val.pkl",)},
    ("segment", True): {"train": ("segments_train_pseudo.pkl",)},
    ("video", False): {
        "train": ("videos_train.json", "videos_train.pkl"),
        "validation": ("videos_val.json", "videos_val.pkl"),
    },
    ("video", True): {"train": ("videos_train_pseudo.json", "videos_train_pseudo.pkl")},
}
_FEATURES_LAYOUTS = ("original", "safetensors")
_MAX_REPORTED = 10


class MalformedRecordError(ValueError):
    """Raised with `strict=True` for the first annotation record that cannot be used."""


class AnnotationFileError(ValueError):
    """Raised for an annotation file that cannot be used as a whole (unparsable, or no usable record in it)."""


class FeatureFileError(ValueError):
    """Raised by [`read_feature_file`] for a feature file that cannot be read (truncated, corrupt, wrong format)."""


class _RecordError(Exception):
    """Why one record is malformed (internal; turned into a warning or a [`MalformedRecordError`])."""


def _check_dir(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ValueError(f"{field} must be a path, got {type(value).__name__}: {value!r}")
    path = os.fspath(value)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{field}={path!r} does not exist or is not a directory.")
    return path


@dataclass
class Ego4DHCapConfig(datasets.BuilderConfig):
    """Options of [`Ego4DHCap`]; the config name fixes the level (clip, segment, video) and pseudo annotations.

    Args:
        video_dir: folder of `<video_uid>.mp4` files; adds the `video_path` feature.
        features_dir: folder of precomputed CLS features; adds `features_path` and `features_scope`.
        features_layout: `"original"` (`videos/<vid>.npy`, `segments/<sid>.npy`), `"safetensors"`
            (`<vid>.safetensors`) or `None` to detect it from the folder.
        strict: raise on the first malformed record instead of skipping and counting it.
    """

    video_dir: str | None = None
    features_dir: str | None = None
    features_layout: str | None = None
    strict: bool = False

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        """Check every option, naming the field at fault; paths are normalised to `str`."""
        if self.name not in _CONFIG_LEVELS:
            raise ValueError(f"Unknown Ego4D-HCap config name {self.name!r}; expected one of {list(_CONFIG_LEVELS)}.")
        if not isinstance(self.strict, bool):
            raise ValueError(f"strict must be True or False, got {self.strict!r}.")
        if self.features_layout is not None and self.features_layout not in _FEATURES_LAYOUTS:
            raise ValueError(
                f"features_layout must be one of {_FEATURES_LAYOUTS} or None, got {self.features_layout!r}."
            )
        self.data_dir = _check_dir(self.data_dir, "data_dir")
        self.video_dir = _check_dir(self.video_dir, "video_dir")
        self.features_dir = _check_dir(self.features_dir, "features_dir")

    @property
    def level(self) -> str:
        return _CONFIG_LEVELS[self.name][0]

    @property
    def pseudo(self) -> bool:
        return _CONFIG_LEVELS[self.name][1]


def _field(record: dict, name: str) -> Any:
    if name not in record:
        raise _RecordError(f"missing field {name!r}")
    return record[name]


def _uid(value: Any, field: str) -> str:
    try:
        return validate_uid(value, field)
    except InvalidUidError as err:
        raise _RecordError(err.reason) from None


def _seconds(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _RecordError(f"{field} must be a number, got {short_repr(value)}")
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond the float range, such as 10**400
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0:
        raise _RecordError(f"{field} must be a finite non-negative number, got {short_repr(value)}")
    return seconds


def _window(start: Any, end: Any, prefix: str = "") -> tuple[float, float]:
    start, end = _seconds(start, f"{prefix}start_sec"), _seconds(end, f"{prefix}end_sec")
    if end < start:
        raise _RecordError(f"{prefix}end_sec ({end}) < {prefix}start_sec ({start})")
    return start, end


def _text(value: Any, field: str) -> str:
    """A string that can be stored as UTF-8 (Arrow refuses lone surrogates, which JSON `\\ud800` escapes produce)."""
    if not isinstance(value, str):
        raise _RecordError(f"{field} must be a string, got {type(value).__name__}")
    try:
        if not value.isascii():
            value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise _RecordError(
            f"{field} contains the lone surrogate {value[err.start]!r} at character {err.start}, which is not valid "
            "Unicode text"
        ) from None
    return value


def _target(value: Any, field: str) -> str:
    value = _text(value, field)
    if not value.strip():
        raise _RecordError(f"{field} is empty")
    return value


def _sequence(value: Any, field: str) -> list | tuple:
    if not isinstance(value, (list, tuple)):
        raise _RecordError(f"{field} must be a list, got {type(value).__name__}")
    return value


def _strings(value: Any, field: str) -> list[str]:
    return [_text(item, f"{field}[{position}]") for position, item in enumerate(_sequence(value, field))]


def _parse_clip(record: Any) -> dict[str, Any]:
    if not isinstance(record, (list, tuple)):
        raise _RecordError(f"expected a (vid, start_sec, end_sec, caption) tuple, got {type(record).__name__}")
    if len(record) != 4:
        raise _RecordError(f"expected 4 fields (vid, start_sec, end_sec, caption), got {len(record)}")
    vid, start, end, caption = record
    start, end = _window(start, end)
    return {"video_uid": _uid(vid, "vid"), "start_sec": start, "end_sec": end, "text": _target(caption, "caption")}


def _parse_segment(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _RecordError(f"expected a dict, got {type(record).__name__}")
    start, end = _window(_field(record, "start_sec"), _field(record, "end_sec"))
    sid = record.get("sid")
    captions_pred, starts, ends = [], [], []
    for position, entry in enumerate(_sequence(_field(record, "captions_pred"), "captions_pred")):
        if not isinstance(entry, (list, tuple)) or len(entry) < 4:
            raise _RecordError(f"captions_pred[{position}] must be a [vid, start_sec, end_sec, caption] list")
        caption = _text(entry[3], f"captions_pred[{position}] caption")
        clip_start, clip_end = _window(entry[1], entry[2], f"captions_pred[{position}] ")
        starts.append(clip_start)
        ends.append(clip_end)
        captions_pred.append(caption)
    captions_gt = []
    for position, entry in enumerate(_sequence(record.get("captions_gt", []), "captions_gt")):
        if not isinstance(entry, dict) or "narration_text" not in entry:
            raise _RecordError(f"captions_gt[{position}] must be a dict with a string 'narration_text'")
        captions_gt.append(_text(entry["narration_text"], f"captions_gt[{position}] narration_text"))
    return {
        "video_uid": _uid(_field(record, "vid"), "vid"),
        "segment_uid": None if sid is None else _uid(sid, "sid"),
        "start_sec": start,
        "end_sec": end,
        "text": _target(_field(record, "segment_description"), "segment_description"),
        "clip_captions_gt": captions_gt,
        "clip_captions_pred": captions_pred,
        "clip_starts_sec": starts,
        "clip_ends_sec": ends,
    }


def _parse_video(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _RecordError(f"expected a dict, got {type(record).__name__}")
    sids = [_uid(sid, f"sids[{position}]") for position, sid in enumerate(_sequence(record.get("sids", []), "sids"))]
    start = _seconds(record.get("start_sec", 0), "start_sec")
    if "end_sec" in record:
        start, end = _window(start, record["end_sec"])
    elif sids:
        end = None
    else:
        raise _RecordError("missing field 'end_sec' (and no 'sids' to locate per-segment features)")
    predicted = _field(record, "segment_descriptions_pred")
    if record.get("version") == "v1":
        if not isinstance(predicted, str):
            raise _RecordError("segment_descriptions_pred must be a string in a version 'v1' record")
        for character in "[],'":
            predicted = predicted.replace(character, "")
        predicted = [predicted.strip()]
    elif isinstance(predicted, str):
        raise _RecordError("segment_descriptions_pred is a string but the record's version is not 'v1'")
    else:
        predicted = _strings(predicted, "segment_descriptions_pred")
    return {
        "video_uid": _uid(_field(record, "vid"), "vid"),
        "start_sec": start,
        "end_sec": end,
        "text": _target(_field(record, "video_summary"), "video_summary"),
        "segment_uids": sids,
        "segment_descriptions_gt": _strings(record.get("segment_descriptions", []), "segment_descriptions"),
        "segment_descriptions_pred": predicted,
    }


_PARSERS = {"clip": _parse_clip, "segment": _parse_segment, "video": _parse_video}


def _read_json(path: str) -> Any:
    with open(path, "rb") as file:
        data = file.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise AnnotationFileError(
            f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} at offset {err.start} cannot be decoded "
            "(JSON annotation files must be UTF-8)."
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise AnnotationFileError(f"{path} is not valid JSON: {err}") from None
    except RecursionError:
        raise AnnotationFileError(
            f"{path} nests arrays or objects deeper than Python's JSON parser allows (about {sys.getrecursionlimit()} "
            "levels); annotation records are a few levels deep."
        ) from None
    except ValueError as err:  # the only other ValueError of `json`: an integer over Python's digit limit
        raise AnnotationFileError(f"{path} holds a number that cannot be read: {str(err).split(';')[0]}.") from None


def read_annotation_file(path: str | os.PathLike) -> list:
    """Read an Ego4D-HCap annotation file (`.pkl` with plain data only, or UTF-8 `.json`) holding a list of records.

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafePickleError: the pickle references a class or function (it is not executed), or its shared references
            expand it far beyond its size ([`~transformers_recap.data.safe_pickle.PickleExpansionError`]).
        AnnotationFileError: the file cannot be parsed (not UTF-8, not JSON, nested too deep, a number too long) or
            does not hold a list.
        ValueError: the pickle cannot be read.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Annotation file {path} does not exist.")
    records = _read_json(path) if path.endswith(".json") else load_plain_pickle(path)
    if not isinstance(records, (list, tuple)):
        raise AnnotationFileError(f"{path} must hold a list of records, got {type(records).__name__}.")
    return list(records)


def read_feature_file(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Load precomputed features from `.npy` (never unpickling objects) or `.safetensors`.

    Args:
        path: the feature file.
        key: tensor name in a `.safetensors` file; optional when the file holds exactly one tensor.

    Returns:
        The array, e.g. `(num_windows, 768)` CLS features.

    Raises:
        FileNotFoundError: the file does not exist.
        FeatureFileError: the file is truncated, corrupt, holds objects or is not `.npy`/`.safetensors`; or it holds
            several tensors and `key` is `None`.
        KeyError: the `.safetensors` file has no tensor `key`.
    """
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            tensors = load_file(path)
        except (SafetensorError, TypeError, ValueError) as err:
            # SafetensorError: truncated or corrupt header/data; TypeError: a dtype numpy lacks (bfloat16).
            raise FeatureFileError(f"{path} is not a readable .safetensors file: {err}") from None
        if key is None:
            if len(tensors) != 1:
                raise FeatureFileError(f"{path} holds the tensors {sorted(tensors)}; pass key= to choose one.")
            return next(iter(tensors.values()))
        if key not in tensors:
            raise KeyError(f"{path} has no tensor {key!r}; it holds {sorted(tensors)}.")
        return tensors[key]
    if path.endswith(".npy"):
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, EOFError) as err:  # object arrays, truncated or empty files
            raise FeatureFileError(f"{path} is not a plain numeric .npy file: {err}") from None
    raise FeatureFileError(f"Unsupported feature file {path}; expected a .npy or .safetensors file.")


class Ego4DHCap(datasets.GeneratorBasedBuilder):
    """Ego4D-HCap from local annotation files (see the module docstring for the dataset card).

    Example:

    ```python
    >>> from transformers_recap.data import Ego4DHCap
    >>> builder = Ego4DHCap(config_name="segment_description", data_dir="ego4d_hcap", video_dir="ego4d/v2/full_scale")
    >>> builder.download_and_prepare()
    >>> train = builder.as_dataset(split="train")
    ```
    """

    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIG_CLASS = Ego4DHCapConfig
    BUILDER_CONFIGS = [
        Ego4DHCapConfig(name="clip_caption", version=VERSION, description="Clip captions (about 1 s)."),
        Ego4DHCapConfig(name="segment_description", version=VERSION, description="Segment descriptions (3 min)."),
        Ego4DHCapConfig(name="video_summary", version=VERSION, description="Video summaries (whole videos)."),
        Ego4DHCapConfig(
            name="segment_description_pseudo", version=VERSION, description="LLM pseudo segment descriptions."
        ),
        Ego4DHCapConfig(name="video_summary_pseudo", version=VERSION, description="LLM pseudo video summaries."),
    ]

    def __init__(self, *args, **kwargs):
        self.malformed_records: dict[str, list[tuple[int, str]]] = {}
        super().__init__(*args, **kwargs)

    def _create_builder_config(self, config_name=None, custom_features=None, config_id=None, **config_kwargs):
        # Options passed to the builder are set on a copy of a predefined config without `__post_init__`, so they
        # are validated here. The cache is keyed on the annotation files' size and mtime, so edited or regenerated
        # files are prepared again.
        builder_config, config_id = super()._create_builder_config(
            config_name=config_name, custom_features=custom_features, config_id=config_id, **config_kwargs
        )
        builder_config.validate()
        if self.hash is None and builder_config.data_dir is not None:
            self.hash = self._annotation_fingerprint(builder_config)
        return builder_config, config_id

    @staticmethod
    def _find_annotation_files(config: Ego4DHCapConfig) -> tuple[dict[str, str], list[str]]:
        """Existing annotation file per split, and every path looked at."""
        search_dirs = (os.path.join(config.data_dir, "annotations"), config.data_dir)
        found, candidates = {}, []
        for split, names in _ANNOTATION_FILES[(config.level, config.pseudo)].items():
            for name in names:
                for directory in search_dirs:
                    path = os.path.join(directory, name)
                    candidates.append(path)
                    if split not in found and os.path.isfile(path):
                        found[split] = path
        return found, candidates

    @classmethod
    def _annotation_fingerprint(cls, config: Ego4DHCapConfig) -> str:
        found, _ = cls._find_annotation_files(config)
        digest = hashlib.sha256()
        for split in sorted(found):
            stat = os.stat(found[split])
            digest.update(f"{split}:{os.path.abspath(found[split])}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        return digest.hexdigest()[:16]

    def _info(self) -> datasets.DatasetInfo:
        string, seconds = datasets.Value("string"), datasets.Value("float64")
        level = self.config.level
        features = {"video_uid": string}
        if level == "segment":
            features["segment_uid"] = string
        features.update(start_sec=seconds, end_sec=seconds, text=string)
        if level == "segment":
            features.update(
                clip_captions_gt=datasets.List(string),
                clip_captions_pred=datasets.List(string),
                clip_starts_sec=datasets.List(seconds),
                clip_ends_sec=datasets.List(seconds),
            )
        if level == "video":
            features.update(
                segment_uids=datasets.List(string),
                segment_descriptions_gt=datasets.List(string),
                segment_descriptions_pred=datasets.List(string),
            )
        if self.config.video_dir is not None:
            features["video_path"] = string
        if self.config.features_dir is not None:
            features.update(features_path=string, features_scope=string)
        return datasets.DatasetInfo(
            description=__doc__,
            features=datasets.Features(features),
            homepage=_HOMEPAGE,
            license=_LICENSE,
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        config = self.config
        if config.data_dir is None:
            raise ValueError(
                "Ego4DHCap reads local files only: pass data_dir=<folder with the annotation files or an annotations/ "
                "subfolder>."
            )
        found, candidates = self._find_annotation_files(config)
        if not found:
            raise FileNotFoundError(
                f"No annotation file for the {config.name!r} config in {config.data_dir}; looked for: "
                + ", ".join(candidates)
            )
        parse = _PARSERS[config.level]
        generators, empty = [], []
        for split, path in found.items():
            records = read_annotation_file(path)
            if not records:
                logger.warning(f"{path} holds no records; the {split!r} split is left out.")
                empty.append(path)
                continue
            malformed = []
            for index, record in enumerate(records):
                try:
                    parse(record)
                except _RecordError as err:
                    if config.strict:
                        raise MalformedRecordError(
                            f"{path}, record {index}: {err} (strict=True; pass strict=False to skip malformed records)"
                        ) from None
                    malformed.append((index, str(err)))
            self.malformed_records[split] = malformed
            if len(malformed) == len(records):
                raise AnnotationFileError(
                    f"{path}: all {len(records)} records are malformed, so the {split!r} split would be empty "
                    f"(record {malformed[0][0]}: {malformed[0][1]})."
                )
            if malformed:
                listed = "; ".join(f"record {index}: {reason}" for index, reason in malformed[:_MAX_REPORTED])
                more = f"; and {len(malformed) - _MAX_REPORTED} more" if len(malformed) > _MAX_REPORTED else ""
                logger.warning(
                    f"Skipped {len(malformed)} malformed record(s) of {len(records)} in {path}: {listed}{more}"
                )
            skip = frozenset(index for index, _ in malformed)
            generators.append(
                datasets.SplitGenerator(name=split, gen_kwargs={"path": path, "records": tuple(records), "skip": skip})
            )
        if not generators:
            raise AnnotationFileError(
                f"Every annotation file of the {config.name!r} config is empty: {', '.join(empty)}."
            )
        return generators

    def _features_layout(self) -> str:
        if self.config.features_layout is not None:
            return self.config.features_layout
        root = self.config.features_dir
        has_original = any(os.path.isdir(os.path.join(root, name)) for name in ("videos", "segments"))
        return "original" if has_original else "safetensors"

    def _features_location(self, example: dict[str, Any], layout: str) -> tuple[str, str]:
        root, vid = self.config.features_dir, example["video_uid"]
        if layout == "safetensors":
            return os.path.join(root, f"{vid}.safetensors"), "video"
        if self.config.level == "segment" and example["segment_uid"] is not None:
            return os.path.join(root, "segments", f"{example['segment_uid']}.npy"), "segment"
        if self.config.level == "video" and example["end_sec"] is None:
            return os.path.join(root, "segments"), "segments"
        return os.path.join(root, "videos", f"{vid}.npy"), "video"

    def _generate_examples(self, path: str, records: tuple, skip: frozenset):
        parse = _PARSERS[self.config.level]
        video_dir, features_dir = self.config.video_dir, self.config.features_dir
        layout = self._features_layout() if features_dir is not None else None
        exists: dict[str, bool] = {}
        missing: dict[str, list[str]] = {"video": [], "features": []}

        def check(kind: str, file_path: str) -> None:
            if file_path not in exists:
                exists[file_path] = os.path.exists(file_path)
                if not exists[file_path]:
                    missing[kind].append(file_path)

        for index, record in enumerate(records):
            if index in skip:
                continue
            example = parse(record)
            if video_dir is not None:
                example["video_path"] = os.path.join(video_dir, f"{example['video_uid']}.mp4")
                check("video", example["video_path"])
            if features_dir is not None:
                example["features_path"], example["features_scope"] = self._features_location(example, layout)
                check("features", example["features_path"])
            yield Key(0, index), example

        for kind, paths in missing.items():
            if paths:
                logger.warning(
                    f"{len(paths)} {kind} file(s) referenced by {path} do not exist (first: {paths[0]}); their "
                    f"records keep the path."
                )


def load_ego4d_hcap(
    level: str,
    data_dir: str | os.PathLike,
    split: str = "train",
    pseudo: bool = False,
    cache_dir: str | os.PathLike | None = None,
    **config_kwargs,
) -> datasets.Dataset:
    """Prepare and return one split of one Ego4D-HCap level.

    Args:
        level: `"clip"`, `"segment"` or `"video"`.
        data_dir: folder with the annotation files (directly or in `annotations/`).
        split: `"train"` or `"validation"` (`"val"` is accepted); slices such as `"train[:100]"` work.
        pseudo: use the LLM pseudo annotations (segment and video levels, train split only).
        cache_dir: where `datasets` stores the prepared Arrow files.
        config_kwargs: [`Ego4DHCapConfig`] options: `video_dir`, `features_dir`, `features_layout`, `strict`.

    Returns:
        A `datasets.Dataset` with the fields described in the dataset card.
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; expected one of {list(LEVELS)}.")
    if pseudo and level == "clip":
        raise ValueError("Pseudo annotations exist only for the 'segment' and 'video' levels, not for 'clip'.")
    config_name = LEVELS[level] + ("_pseudo" if pseudo else "")
    if split == "val" or split.startswith("val["):
        split = "validation" + split[len("val") :]
    builder = Ego4DHCap(
        config_name=config_name,
        data_dir=os.fspath(data_dir),
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
        **config_kwargs,
    )
    builder.download_and_prepare()
    base_split = split.split("[", 1)[0]
    if base_split not in builder.info.splits:
        raise ValueError(
            f"Split {base_split!r} is not available for {config_name} in {data_dir}; "
            f"available: {list(builder.info.splits)}."
        )
    return builder.as_dataset(split=split)


__all__ = [
    "LEVELS",
    "AnnotationFileError",
    "Ego4DHCap",
    "Ego4DHCapConfig",
    "FeatureFileError",
    "MalformedRecordError",
    "load_ego4d_hcap",
    "read_annotation_file",
    "read_feature_file",
]
