# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""transformers-recap: Video ReCap (recursive clip / segment / video captioning) for the Hugging Face ecosystem.

Importing the package is cheap: the public names below are imported on first use, and `video_recap` is registered
with transformers' Auto classes and the `"video-recap"` pipeline task as soon as transformers loads those (see
[`transformers_recap.registration`]). So `import transformers_recap` followed by `pipeline("video-recap", ...)` or
`AutoModelForImageTextToText.from_pretrained(...)` works as with a model built into transformers.
"""

import importlib
from typing import Any

from . import registration


__version__ = "0.1.0"

_PUBLIC_NAMES = {
    "models.video_recap": (
        "LEVELS",
        "VideoReCapConfig",
        "VideoReCapForConditionalGeneration",
        "VideoReCapInputSettings",
        "VideoReCapLevelSettings",
        "VideoReCapModel",
        "VideoReCapPreTrainedModel",
        "VideoReCapProcessor",
        "VideoReCapVideoProcessor",
        "VideoReCapVisionConfig",
        "VideoReCapVisionModel",
    ),
    "engine": (
        "CaptionEvent",
        "CaptionStream",
        "GrowingVideoReader",
        "HierarchicalCaptioner",
        "HierarchicalCaptions",
        "TimedCaption",
        "TimedFramesReader",
        "VideoClipReader",
        "VideoDecodingError",
        "VideoMetadata",
        "onednn_linear_layers",
        "open_video",
    ),
    "pipelines": ("VideoReCapPipeline",),
    "demo": ("demo_model_path",),
}
_MODULE_OF = {name: module for module, names in _PUBLIC_NAMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULE_OF])


registration.install()

__all__ = sorted(_MODULE_OF)
