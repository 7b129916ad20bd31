# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Video ReCap: configuration, model, processor and video processor (the files remote code copies)."""

from .configuration_video_recap import LEVELS, VideoReCapConfig, VideoReCapLevelSettings, VideoReCapVisionConfig
from .modeling_video_recap import (
    VideoReCapForConditionalGeneration,
    VideoReCapModel,
    VideoReCapPreTrainedModel,
    VideoReCapVisionModel,
)
from .processing_video_recap import VideoReCapInputSettings, VideoReCapProcessor
from .video_processing_video_recap import VideoReCapVideoProcessor


__all__ = [
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
]
