# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The recursion over a whole video: decoding clips ([`open_video`]), encoding each clip once and batching the levels
([`HierarchicalCaptioner`]), the results ([`HierarchicalCaptions`] with its JSON/SRT/VTT/Markdown forms), and
streaming them while a video plays or is recorded ([`HierarchicalCaptioner.stream`], [`CaptionEvent`]).
"""

from .captioner import HierarchicalCaptioner
from .cpu_matmul import onednn_linear_layers
from .outputs import HierarchicalCaptions, TimedCaption
from .streaming import CaptionEvent, CaptionStream, GrowingVideoReader, TimedFramesReader
from .video_io import VideoClipReader, VideoDecodingError, VideoMetadata, open_video


__all__ = [
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
]
