# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The recursion over a whole video: decoding clips ([`open_video`]), encoding each clip once and batching the levels
([`HierarchicalCaptioner`]), and the results ([`HierarchicalCaptions`] with its JSON/SRT/VTT/Markdown forms).
"""

from .captioner import HierarchicalCaptioner
from .cpu_matmul import onednn_linear_layers
from .outputs import HierarchicalCaptions, TimedCaption
from .video_io import VideoClipReader, VideoDecodingError, VideoMetadata, open_video


__all__ = [
    "HierarchicalCaptioner",
    "HierarchicalCaptions",
    "TimedCaption",
    "VideoClipReader",
    "VideoDecodingError",
    "VideoMetadata",
    "onednn_linear_layers",
    "open_video",
]
