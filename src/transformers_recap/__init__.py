# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""transformers-recap: Video ReCap (recursive clip / segment / video captioning) for the Hugging Face ecosystem.

Importing the package registers `video_recap` with transformers' Auto classes and the `"video-recap"` pipeline task.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForImageTextToText,
    AutoProcessor,
    AutoVideoProcessor,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_video_recap import (
    LEVELS,
    VideoReCapConfig,
    VideoReCapLevelSettings,
    VideoReCapVisionConfig,
)
from .cpu_matmul import onednn_linear_layers
from .demo import demo_model_path
from .hierarchy import HierarchicalCaptioner, HierarchicalCaptions, TimedCaption
from .modeling_video_recap import (
    VideoReCapForConditionalGeneration,
    VideoReCapModel,
    VideoReCapPreTrainedModel,
    VideoReCapVisionModel,
)
from .pipeline_video_recap import VideoReCapPipeline
from .processing_video_recap import VideoReCapProcessor
from .video_io import VideoClipReader, VideoDecodingError, VideoMetadata, open_video
from .video_processing_video_recap import VideoReCapVideoProcessor


__version__ = "0.1.0"

AutoConfig.register(VideoReCapConfig.model_type, VideoReCapConfig)
AutoConfig.register(VideoReCapVisionConfig.model_type, VideoReCapVisionConfig)
AutoModel.register(VideoReCapConfig, VideoReCapModel)
AutoModel.register(VideoReCapVisionConfig, VideoReCapVisionModel)
AutoModelForImageTextToText.register(VideoReCapConfig, VideoReCapForConditionalGeneration)
AutoVideoProcessor.register(VideoReCapConfig, VideoReCapVideoProcessor)
AutoProcessor.register(VideoReCapConfig, VideoReCapProcessor)

# `save_pretrained` copies the modeling/processing code next to the weights and writes `auto_map`, so that a saved
# directory also loads with `trust_remote_code=True` where this package is not installed.
VideoReCapConfig.register_for_auto_class()
VideoReCapModel.register_for_auto_class("AutoModel")
VideoReCapForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
VideoReCapVideoProcessor.register_for_auto_class("AutoVideoProcessor")
VideoReCapProcessor.register_for_auto_class("AutoProcessor")

PIPELINE_REGISTRY.register_pipeline(
    "video-recap", pipeline_class=VideoReCapPipeline, pt_model=AutoModelForImageTextToText, type="multimodal"
)

__all__ = [
    "LEVELS",
    "HierarchicalCaptioner",
    "HierarchicalCaptions",
    "TimedCaption",
    "VideoClipReader",
    "VideoDecodingError",
    "VideoMetadata",
    "VideoReCapConfig",
    "VideoReCapForConditionalGeneration",
    "VideoReCapLevelSettings",
    "VideoReCapModel",
    "VideoReCapPipeline",
    "VideoReCapPreTrainedModel",
    "VideoReCapProcessor",
    "VideoReCapVideoProcessor",
    "VideoReCapVisionConfig",
    "VideoReCapVisionModel",
    "demo_model_path",
    "onednn_linear_layers",
    "open_video",
]
