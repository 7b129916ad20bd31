"""Datasets: the Ego4D-HCap builder, the procedural Synthetic-HCap set written in the same format, and EgoSchema."""

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


# Imported on first use: `python -m transformers_recap.data.synthetic` must not find its own module already imported.
_LAZY_MODULES = {
    **dict.fromkeys(
        (
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
        ),
        ".synthetic",
    ),
    **dict.fromkeys(
        ("EgoSchemaFormatError", "load_egoschema", "read_egoschema_answers", "read_egoschema_questions"), ".egoschema"
    ),
    **dict.fromkeys(
        ("SyntheticQuestion", "ground_truth_caption_record", "make_synthetic_questions", "write_synthetic_egoschema"),
        ".synthetic_qa",
    ),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return getattr(importlib.import_module(_LAZY_MODULES[name], __name__), name)
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
    *_LAZY_MODULES,
]
