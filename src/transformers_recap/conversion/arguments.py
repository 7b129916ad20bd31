# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""The converter's command-line options, importable without torch (the `transformers-recap` parser uses them)."""

import argparse

from ..levels import LEVELS


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the converter's options to `parser` (for `python -m ...` and for a `convert` sub-command)."""
    sources = parser.add_argument_group(
        "original checkpoints (Video ReCap: all three levels; or --unified; or --lavila)"
    )
    for level in LEVELS:
        sources.add_argument(f"--{level}", metavar="PT", help=f"Video ReCap {level}-level checkpoint.")
    sources.add_argument("--unified", metavar="PT", help="Video ReCap-U checkpoint.")
    sources.add_argument(
        "--lavila",
        metavar="PTH",
        help="LaViLa dual-encoder checkpoint: convert only its video encoder (a VideoReCapVisionModel), e.g. to train "
        "from scratch with from_pretrained_parts(vision=...).",
    )
    parser.add_argument("--output", required=True, metavar="DIR", help="Directory to write the converted model to.")
    parser.add_argument(
        "--tokenizer",
        metavar="DIR_OR_ID",
        help="GPT-2 tokenizer (a directory or Hub id, e.g. gpt2); also writes the VideoReCapProcessor.",
    )
    parser.add_argument(
        "--config",
        metavar="DIR_OR_JSON",
        help="Base architecture (a VideoReCapConfig directory or config.json); defaults to the released one. Level "
        "settings, frame count and cross-attention frequency always come from the checkpoints.",
    )
    return parser


__all__ = ["add_arguments"]
