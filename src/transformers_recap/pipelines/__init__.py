# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""The `"video-recap"` pipeline task."""

from .video_recap import VideoReCapPipeline


__all__ = ["VideoReCapPipeline"]
