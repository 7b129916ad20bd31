"""Datasets: the Ego4D-HCap builder and the procedural Synthetic-HCap set written in the same format.

The synthetic names are imported on first use, so that `python -m transformers_recap.data.synthetic` does not find
its own module already imported.
"""

import importlib
from typing import Any

from .ego4d_hcap import (
    LEVELS,
    AnnotationFileError,
    Ego4DHCap,
    Ego4DHCapConfig,
    FeatureFileError,
    MalformedRecordError,
    load_ego4d_hcap,
    read_annotation_file,
    read_feature_file,
)
from .ids import InvalidUidError, validate_uid
from .safe_pickle import PickleExpansionError, UnsafePickleError, load_plain_pickle


_SYNTHETIC_NAMES = (
    "SyntheticClip",
    "SyntheticHCapSummary",
    "SyntheticObject",
    "SyntheticSegment",
    "SyntheticVideo",
    "generate_synthetic_hcap",
    "iter_synthetic_frames",
    "parse_clip_caption",
    "plan_synthetic_video",
    "render_synthetic_video",
)


def __getattr__(name: str) -> Any:
    if name in _SYNTHETIC_NAMES:
        return getattr(importlib.import_module(".synthetic", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LEVELS",
    "AnnotationFileError",
    "Ego4DHCap",
    "Ego4DHCapConfig",
    "FeatureFileError",
    "InvalidUidError",
    "MalformedRecordError",
    "PickleExpansionError",
    "UnsafePickleError",
    "load_ego4d_hcap",
    "load_plain_pickle",
    "read_annotation_file",
    "read_feature_file",
    "validate_uid",
    *_SYNTHETIC_NAMES,
]


# EgoSchema and Synthetic-HCap QA, also imported on first use.
_QA_MODULES = {
    **dict.fromkeys(
        ("EgoSchemaFormatError", "load_egoschema", "read_egoschema_answers", "read_egoschema_questions"), ".egoschema"
    ),
    **dict.fromkeys(
        ("SyntheticQuestion", "ground_truth_caption_record", "make_synthetic_questions", "write_synthetic_egoschema"),
        ".synthetic_qa",
    ),
}
_getattr_before_qa = __getattr__


def __getattr__(name: str) -> Any:  # noqa: F811
    if name in _QA_MODULES:
        return getattr(importlib.import_module(_QA_MODULES[name], __name__), name)
    return _getattr_before_qa(name)


__all__ += list(_QA_MODULES)
