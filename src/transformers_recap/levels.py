# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The caption level names, importable without torch: the command line builds its parser from them, and `--help` must not
pay for importing the model code. The model's own copy is `models.video_recap.configuration_video_recap.LEVELS` (that
file is copied next to saved weights and must stand alone); a test keeps the two equal.
"""

LEVELS = ("clip", "segment", "video")

__all__ = ["LEVELS"]
