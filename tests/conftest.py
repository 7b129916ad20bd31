"""Shared fixtures: tiny Video ReCap configs, a GPT-2-style tokenizer trained in the test session, a processor."""

import os


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.utils import make_tiny_config, make_tiny_processor, train_tiny_tokenizer  # noqa: E402


# The test models are tiny: one thread runs them fastest, and two OpenMP threads stall when the 2-core machine is busy.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return train_tiny_tokenizer()


@pytest.fixture
def tiny_config(tiny_tokenizer):
    return make_tiny_config(tiny_tokenizer)


@pytest.fixture
def tiny_processor(tiny_tokenizer, tiny_config):
    return make_tiny_processor(tiny_tokenizer, tiny_config)
