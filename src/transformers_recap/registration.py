# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Registration of Video ReCap with transformers' Auto classes and the `"video-recap"` pipeline task, without importing
them.

transformers' auto and pipeline modules take seconds to import (they import torch and the modeling code), so
`import transformers_recap` does not import them. [`install`] instead watches the imports of transformers' modules and
of ours: each registration runs as soon as the transformers module it registers with is loaded (at once when it already
is), once the outermost such import of the thread has finished. Waiting for that matters: our classes import
transformers modules themselves, and registering while one of them, or one of ours, is half-initialised (e.g.
`modeling_layers` pulls in `modeling_auto`) would fail.

Hand-written: neither transformers nor the standard library has post-import hooks.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable


def _register_configs(auto) -> None:
    from .models.video_recap.configuration_video_recap import VideoReCapConfig, VideoReCapVisionConfig

    auto.AutoConfig.register(VideoReCapConfig.model_type, VideoReCapConfig, exist_ok=True)
    auto.AutoConfig.register(VideoReCapVisionConfig.model_type, VideoReCapVisionConfig, exist_ok=True)


def _register_models(auto) -> None:
    from .models.video_recap import (
        VideoReCapConfig,
        VideoReCapForConditionalGeneration,
        VideoReCapModel,
        VideoReCapVisionConfig,
        VideoReCapVisionModel,
    )

    auto.AutoModel.register(VideoReCapConfig, VideoReCapModel, exist_ok=True)
    auto.AutoModel.register(VideoReCapVisionConfig, VideoReCapVisionModel, exist_ok=True)
    auto.AutoModelForImageTextToText.register(VideoReCapConfig, VideoReCapForConditionalGeneration, exist_ok=True)


def _register_processor(auto) -> None:
    from .models.video_recap import VideoReCapConfig, VideoReCapProcessor

    auto.AutoProcessor.register(VideoReCapConfig, VideoReCapProcessor, exist_ok=True)


def _register_video_processor(auto) -> None:
    from .models.video_recap import VideoReCapConfig, VideoReCapVideoProcessor

    auto.AutoVideoProcessor.register(VideoReCapConfig, VideoReCapVideoProcessor, exist_ok=True)


def _register_pipeline(pipelines) -> None:
    from transformers import AutoModelForImageTextToText

    from .pipelines import VideoReCapPipeline

    pipelines.PIPELINE_REGISTRY.register_pipeline(
        "video-recap", pipeline_class=VideoReCapPipeline, pt_model=AutoModelForImageTextToText, type="multimodal"
    )


REGISTRATIONS: dict[str, Callable] = {
    "transformers.models.auto.configuration_auto": _register_configs,
    "transformers.models.auto.modeling_auto": _register_models,
    "transformers.models.auto.processing_auto": _register_processor,
    "transformers.models.auto.video_processing_auto": _register_video_processor,
    "transformers.pipelines": _register_pipeline,
}
"""transformers module -> the registration to run with it once it is loaded."""

_pending = dict(REGISTRATIONS)
_lock = threading.RLock()
_state = threading.local()


def _run_pending() -> None:
    # The registrations import transformers modules themselves; those imports must not re-enter this loop.
    if getattr(_state, "registering", False):
        return
    _state.registering = True
    try:
        with _lock:
            while ready := [name for name in _pending if name in sys.modules]:
                for name in ready:
                    _pending.pop(name)(sys.modules[name])
            if not _pending and _FINDER in sys.meta_path:
                sys.meta_path.remove(_FINDER)
    finally:
        _state.registering = False


class _CountingLoader(importlib.abc.Loader):
    """Runs a transformers module's own loader, counting nested imports; at depth 0, runs the due registrations."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def __getattr__(self, name: str):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            self._loader.exec_module(module)
        finally:
            _state.depth -= 1
        if _state.depth == 0:
            _run_pending()


_WATCHED = ("transformers", "transformers_recap")


class _ImportWatcher(importlib.abc.MetaPathFinder):
    """Counts the imports of transformers' modules and of ours (registering while either is half-done would fail)."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname.partition(".")[0] not in _WATCHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CountingLoader(spec.loader)
        return spec


_FINDER = _ImportWatcher()


def install() -> None:
    """Runs the registrations whose transformers module is loaded and watches imports for the others."""
    with _lock:
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    if getattr(_state, "depth", 0) == 0:
        _run_pending()


__all__ = ["REGISTRATIONS", "install"]
