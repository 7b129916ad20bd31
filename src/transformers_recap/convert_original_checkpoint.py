# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
`python -m transformers_recap.convert_original_checkpoint ...`: the documented command, kept at its path. The converter
lives in [`transformers_recap.conversion`]; `--help` lists the options.
"""

from .conversion.convert_original_checkpoint import main


if __name__ == "__main__":
    main()
