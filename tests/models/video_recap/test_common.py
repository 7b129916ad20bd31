"""
transformers' own common tests (`ModelTesterMixin`, `ConfigTester`), unmodified, run on Video ReCap and Video ReCap-U
at the three levels and on the video encoder, as transformers' model tests do for BLIP-2 and LLaVA.

The suites come from the sdist of the installed transformers (see `tests/transformers_suite.py`; fetch it with
`python -m tests.transformers_suite --fetch`). Each skip below gives its reason in one line.
"""

import unittest
import unittest.mock

import pytest
import torch

from tests import transformers_suite
from tests.utils import TINY_INPUT_SETTINGS, make_tiny_config, train_tiny_tokenizer
from transformers_recap import (
    VideoReCapConfig,
    VideoReCapForConditionalGeneration,
    VideoReCapModel,
    VideoReCapProcessor,
    VideoReCapVideoProcessor,
)
from transformers_recap.models.video_recap.configuration_video_recap import VideoReCapVisionConfig
from transformers_recap.models.video_recap.modeling_video_recap import VideoReCapVisionModel
from transformers_recap.models.video_recap.processing_video_recap import merge_input_settings


if transformers_suite.load() is None:
    pytest.skip(
        f"transformers' common tests are not at {transformers_suite.tests_dir()}; fetch them with "
        "`python -m tests.transformers_suite --fetch`",
        allow_module_level=True,
    )

ModelTesterMixin = transformers_suite.import_suite("test_modeling_common").ModelTesterMixin
floats_tensor = transformers_suite.import_suite("test_modeling_common").floats_tensor
ids_tensor = transformers_suite.import_suite("test_modeling_common").ids_tensor
ConfigTester = transformers_suite.import_suite("test_configuration_common").ConfigTester


class VideoReCapModelTester:
    """Tiny Video ReCap (or Video ReCap-U) inputs of one level, in the shapes the common tests read."""

    def __init__(self, parent, level: str = "clip", unified: bool = False, batch_size: int = 2, seq_length: int = 7):
        self.parent = parent
        self.level = level
        self.unified = unified
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.is_training = True
        config = self.get_config()
        self.vocab_size = config.text_config.vocab_size
        self.hidden_size = config.text_config.hidden_size
        self.num_hidden_layers = config.text_config.num_hidden_layers
        self.num_attention_heads = config.text_config.num_attention_heads
        self.encoder_seq_length = seq_length

    def get_config(self) -> VideoReCapConfig:
        return make_tiny_config(unified=self.unified)

    def prepare_config_and_inputs_for_common(self) -> tuple[VideoReCapConfig, dict]:
        config = self.get_config()
        vision = config.vision_config
        # Tokens below the last id, which is BOS/EOS/padding of the tiny vocabulary.
        input_ids = ids_tensor([self.batch_size, self.seq_length], config.text_config.vocab_size - 1)
        attention_mask = torch.ones_like(input_ids)
        attention_mask[0, -2:] = 0
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.level != "clip":  # the default level; the suite hands only tensors to some tests
            inputs["level"] = self.level
        if self.level == "clip":
            inputs["pixel_values_videos"] = floats_tensor(
                [self.batch_size, vision.num_frames, vision.num_channels, vision.image_size, vision.image_size]
            )
        else:
            num_features = TINY_INPUT_SETTINGS[self.unified][self.level]["num_video_features"]
            inputs["video_features"] = floats_tensor([self.batch_size, num_features, vision.hidden_size])
            inputs["video_features_mask"] = torch.ones(self.batch_size, num_features, dtype=torch.long)
            inputs["context_input_ids"] = ids_tensor([self.batch_size, 9], config.text_config.vocab_size - 1)
            inputs["context_attention_mask"] = torch.ones(self.batch_size, 9, dtype=torch.long)
        return config, inputs


class VideoReCapCommonTest(ModelTesterMixin, unittest.TestCase):
    """The common model tests on Video ReCap at the clip level, where every level-independent test runs once."""

    all_model_classes = (VideoReCapModel, VideoReCapForConditionalGeneration)
    level = "clip"
    unified = False
    _is_composite = True
    test_resize_embeddings = False  # GPT-2's vocabulary is fixed by the released checkpoints; see the skip below

    additional_model_inputs = ["pixel_values_videos"]
    test_all_params_have_gradient = False  # one level's forward leaves the other levels' modules unused, by design
    # `GenerationTesterMixin` lives in transformers' tests/generation/, which the sdist does not ship; generation is
    # tested against the original's step-by-step loop in test_modeling_video_recap.py.
    all_generative_model_classes = ()

    def setUp(self):
        self.model_tester = VideoReCapModelTester(self, level=self.level, unified=self.unified)
        self.config_tester = ConfigTester(self, config_class=VideoReCapConfig, has_text_modality=False)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs_dict = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels and model_class is VideoReCapForConditionalGeneration:
            inputs_dict["labels"] = inputs_dict["input_ids"].masked_fill(inputs_dict["attention_mask"] == 0, -100)
        return inputs_dict

    def check_training_gradient_checkpointing(self, gradient_checkpointing_kwargs=None):
        # The suite leaves out base models it knows by name; VideoReCapModel has no head and so no loss either.
        with unittest.mock.patch.object(self, "all_model_classes", (VideoReCapForConditionalGeneration,)):
            super().check_training_gradient_checkpointing(gradient_checkpointing_kwargs)

    def test_training(self):
        with unittest.mock.patch.object(self, "all_model_classes", (VideoReCapForConditionalGeneration,)):
            super().test_training()

    def test_config(self):
        self.config_tester.run_common_tests()

    @unittest.skip(
        "the decoder is not a PreTrainedModel of its own (its gated blocks are built from the composite config); "
        "test_attention_and_outputs.py loads every level with eager and sdpa"
    )
    def test_sdpa_can_dispatch_composite_models(self):
        pass


def only_level_dependent(cls: type) -> type:
    """
    Skips, in a class for another level or model variant, the tests that do not depend on the level's inputs: the
    clip-level Video ReCap class runs them (saving, loading, initialisation, devices, the config).
    """
    runs = LEVEL_DEPENDENT_TESTS | set(getattr(cls, "also_runs", ()))
    for name in dir(cls):
        if name.startswith("test_") and callable(getattr(cls, name)) and name not in runs:
            setattr(cls, name, unittest.skip("level-independent: run by VideoReCapCommonTest")(getattr(cls, name)))
    return cls


LEVEL_DEPENDENT_TESTS = {
    "test_attention_outputs",
    "test_batching_equivalence",
    "test_determinism",
    "test_forward_signature",
    "test_hidden_states_output",
    "test_model_outputs_equivalence",
    "test_retain_grad_hidden_states_attentions",
    "test_save_load",
    "test_training",
}
"""Tests whose outcome depends on the inputs of a level, run for the other levels and for Video ReCap-U too. Not
among them: `test_eager_matches_sdpa_inference_*` hands the model tensors only, not the `level` string (our
test_attention_and_outputs.py compares eager and sdpa at every level), and the gradient-checkpointing tests watch the
first checkpointing layer, the video encoder's, which the segment and video levels do not run."""


@only_level_dependent
class VideoReCapSegmentCommonTest(VideoReCapCommonTest):
    level = "segment"


@only_level_dependent
class VideoReCapVideoCommonTest(VideoReCapCommonTest):
    level = "video"


@only_level_dependent
class VideoReCapUnifiedClipCommonTest(VideoReCapCommonTest):
    unified = True

    def setUp(self):
        super().setUp()
        self.config_tester = ConfigTester(
            self,
            config_class=VideoReCapConfig,
            has_text_modality=False,
            unified=True,
            level_settings=make_tiny_config(unified=True).level_settings,  # complete, as the config stores them
        )

    also_runs = ("test_config",)  # the config suite on the Video ReCap-U config


@only_level_dependent
class VideoReCapUnifiedSegmentCommonTest(VideoReCapCommonTest):
    level = "segment"
    unified = True


@only_level_dependent
class VideoReCapUnifiedVideoCommonTest(VideoReCapCommonTest):
    level = "video"
    unified = True


class VideoReCapVisionModelTester:
    """The tiny video encoder's inputs."""

    def __init__(self, parent, batch_size: int = 2):
        self.parent = parent
        self.batch_size = batch_size
        # A base model without a head has no loss to train (the suite skips the base models it knows by name); the
        # encoder trains inside VideoReCapForConditionalGeneration, whose training tests run.
        self.is_training = False
        config = self.get_config()
        self.num_hidden_layers = config.num_hidden_layers
        self.hidden_size = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.seq_length = 1 + config.num_frames * (config.image_size // config.patch_size) ** 2

    def get_config(self) -> VideoReCapVisionConfig:
        return make_tiny_config().vision_config

    def prepare_config_and_inputs_for_common(self) -> tuple[VideoReCapVisionConfig, dict]:
        config = self.get_config()
        pixels = floats_tensor(
            [self.batch_size, config.num_frames, config.num_channels, config.image_size, config.image_size]
        )
        return config, {"pixel_values_videos": pixels}


class VideoReCapVisionCommonTest(ModelTesterMixin, unittest.TestCase):
    """The common model tests on the video encoder alone."""

    all_model_classes = (VideoReCapVisionModel,)
    test_resize_embeddings = False  # no token embeddings: patch embedding only

    @unittest.skip("no token embeddings: get_input_embeddings returns the patch embedding, as ViT's does")
    def test_model_get_set_embeddings(self):
        pass

    def setUp(self):
        self.model_tester = VideoReCapVisionModelTester(self)
        self.config_tester = ConfigTester(self, config_class=VideoReCapVisionConfig, has_text_modality=False)

    def test_config(self):
        self.config_tester.run_common_tests()


ProcessorTesterMixin = transformers_suite.import_suite("test_processing_common").ProcessorTesterMixin


REMOTE_CODE_SAVE = (
    "registered for remote code: transformers' save_pretrained writes auto_map into the saved processor's own "
    "__dict__, so its to_dict gains a key the reloaded one lacks (the saved files round-trip: test_serialization.py)"
)


class VideoReCapProcessorCommonTest(ProcessorTesterMixin, unittest.TestCase):
    """The common processor tests on `VideoReCapProcessor` (tiny tokenizer trained here, frames at 32 px)."""

    processor_class = VideoReCapProcessor

    @classmethod
    def _setup_tokenizer(cls):
        return train_tiny_tokenizer()

    @classmethod
    def _setup_video_processor(cls):
        return VideoReCapVideoProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})

    @staticmethod
    def prepare_processor_dict():
        # The processor stores (and saves) every level's complete settings, so give them complete.
        return {"input_settings": merge_input_settings(TINY_INPUT_SETTINGS[False])}

    @unittest.skip("model_input_names lists every level's inputs; one call returns its level's keys (and labels)")
    def test_model_input_names(self):
        pass

    @unittest.skip("batch_decode cuts each generated row at its first EOS (one caption per row), the tokenizer's not")
    def test_tokenizer_decode_defaults(self):
        pass

    @unittest.skip("text is a training target, framed <|endoftext|> caption <|endoftext|> as the original trains")
    def test_subprocessor_defaults_0_text(self):
        pass

    @unittest.skip(REMOTE_CODE_SAVE)
    def test_processor_from_and_save_pretrained(self):
        pass

    @unittest.skip(REMOTE_CODE_SAVE)
    def test_processor_from_and_save_pretrained_as_nested_dict(self):
        pass
