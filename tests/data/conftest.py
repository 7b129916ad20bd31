"""Fixtures shared by the dataset tests: one small Synthetic-HCap set written once per session."""

import pytest

from transformers_recap.data import generate_synthetic_hcap


SYNTHETIC_OPTIONS = {"size": 64, "fps": 8, "clip_seconds": 4.0, "clips_per_segment": 5, "segments_per_video": 4}
# Seed 3 with 3 videos covers all six activities, four actions, colours and shapes.
SYNTHETIC_SEED = 3
SYNTHETIC_NUM_VIDEOS = 3


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    """A Synthetic-HCap train split: 3 videos of 4 segments of 5 clips of 4 s (80 s each)."""
    output = tmp_path_factory.mktemp("synthetic_hcap")
    generate_synthetic_hcap(output, SYNTHETIC_NUM_VIDEOS, SYNTHETIC_SEED, **SYNTHETIC_OPTIONS)
    return output
