"""
Attention implementations, recorded outputs (hidden states, attentions), `get_video_features` keywords, the loss's
`shift_labels` and the deprecated `past_key_values` name, each checked against a computation written here.
"""

import warnings

import pytest
import torch
from torch.nn import functional as F

from tests.models.video_recap.test_modeling_video_recap import level_inputs, randomize, reference_divided_attention
from tests.utils import make_tiny_config, make_tiny_model
from transformers_recap import LEVELS, VideoReCapForConditionalGeneration


@pytest.fixture
def model(tiny_config):
    return randomize(make_tiny_model(tiny_config))


def layer_norm(module, x):
    return F.layer_norm(x, module.normalized_shape, module.weight, module.bias, module.eps)


@pytest.mark.parametrize("unified", [False, True])
def test_from_pretrained_eager_and_sdpa_give_the_same_outputs(tmp_path, tiny_tokenizer, unified):
    randomize(make_tiny_model(make_tiny_config(tiny_tokenizer, unified=unified))).save_pretrained(tmp_path)
    models = {
        name: VideoReCapForConditionalGeneration.from_pretrained(tmp_path, attn_implementation=name).eval()
        for name in ("eager", "sdpa")
    }
    for name, loaded in models.items():
        config = loaded.config
        assert [config._attn_implementation, config.vision_config._attn_implementation] == [name, name]
        assert config.text_config._attn_implementation == name
    input_ids = torch.randint(0, models["eager"].config.text_config.vocab_size, (2, 5))
    for level in LEVELS:
        inputs = level_inputs(models["eager"].config, level)
        eager, sdpa = (loaded(input_ids=input_ids, level=level, **inputs).logits for loaded in models.values())
        torch.testing.assert_close(sdpa, eager, atol=1e-5, rtol=1e-5)


def test_decoder_hidden_states_and_attentions(model):
    model.set_attn_implementation("eager")
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 6))
    inputs = level_inputs(model.config, "segment")
    output = model(input_ids=input_ids, level="segment", output_hidden_states=True, output_attentions=True, **inputs)
    text = model.model.language_model
    num_layers = model.config.text_config.num_hidden_layers

    assert len(output.hidden_states) == num_layers + 1
    embeddings = text.wte(input_ids) + text.wpe(torch.arange(6))
    torch.testing.assert_close(output.hidden_states[0], embeddings)
    torch.testing.assert_close(model.lm_head(output.hidden_states[-1]), output.logits)

    assert len(output.attentions) == num_layers
    for weights in output.attentions:
        assert weights.shape == (2, model.config.text_config.num_attention_heads, 6, 6)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
        assert torch.all(weights.triu(diagonal=1) == 0)  # causal

    memory_length = output.encoder_hidden_states.shape[1]
    num_gated = sum(layer.cross_attention_block is not None for layer in text.layers)
    assert len(output.cross_attentions) == num_gated
    for weights in output.cross_attentions:
        assert weights.shape == (2, model.config.text_config.num_attention_heads, 6, memory_length)
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))

    assert (
        output.hidden_states is not None and model(input_ids=input_ids, level="segment", **inputs).attentions is None
    )


def test_encoder_hidden_states_and_attentions(model):
    model.set_attn_implementation("eager")
    pixels = level_inputs(model.config, "clip")["pixel_values_videos"]
    output = model.get_video_features(pixels, output_hidden_states=True, output_attentions=True)
    vision = model.model.vision_model
    num_layers = model.config.vision_config.num_hidden_layers
    assert len(output.hidden_states) == num_layers + 1
    assert len(output.attentions) == len(output.temporal_attentions) == num_layers
    torch.testing.assert_close(output.hidden_states[0], vision.pre_layernorm(vision.embeddings(pixels)))
    torch.testing.assert_close(layer_norm(vision.post_layernorm, output.hidden_states[-1]), output.last_hidden_state)

    # Block 0's probabilities, from the masked reference on the recorded input of the block.
    layer, hidden = vision.layers[0], output.hidden_states[0]
    temporal_output, temporal_weights = reference_divided_attention(
        layer.temporal_attention, layer_norm(layer.temporal_layernorm, hidden), pixels.shape[1], "time"
    )
    _, spatial_weights = reference_divided_attention(
        layer.attention, layer_norm(layer.layernorm_before, hidden + temporal_output), pixels.shape[1], "space"
    )
    torch.testing.assert_close(output.temporal_attentions[0], temporal_weights, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(output.attentions[0], spatial_weights, atol=1e-5, rtol=1e-4)


def test_get_video_features_return_dict(model):
    pixels = level_inputs(model.config, "clip")["pixel_values_videos"]
    expected = model.get_video_features(pixels)
    as_tuple = model.get_video_features(pixels, return_dict=False)
    assert isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0], expected.last_hidden_state)
    torch.testing.assert_close(as_tuple[1], expected.pooler_output)
    model.config.return_dict = False
    assert isinstance(model.get_video_features(pixels), tuple)
    assert isinstance(model(input_ids=torch.ones(2, 3, dtype=torch.long), pixel_values_videos=pixels), tuple)


def test_shift_labels_give_the_loss_of_the_labels(model):
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 6))
    labels = input_ids.clone()
    labels[1, 4:] = -100
    inputs = level_inputs(model.config, "clip")
    output = model(input_ids=input_ids, labels=labels, **inputs)
    vocab_size = output.logits.shape[-1]
    expected = F.cross_entropy(output.logits[:, :-1].reshape(-1, vocab_size), labels[:, 1:].reshape(-1))
    torch.testing.assert_close(output.loss, expected)
    # Already shifted targets (what sequence parallelism hands each rank): the last position has no target.
    shift_labels = torch.cat([labels[:, 1:], torch.full((2, 1), -100)], dim=1)
    shifted = model(input_ids=input_ids, shift_labels=shift_labels, **inputs)
    torch.testing.assert_close(shifted.loss, expected)


def test_past_key_values_is_the_deprecated_name_of_cache(model):
    inputs = level_inputs(model.config, "clip")
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 4))
    full = model(input_ids=input_ids, use_cache=False, **inputs).logits
    prefix = model(input_ids=input_ids[:, :3], use_cache=True, **inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step = model(
            input_ids=input_ids[:, 3:],
            past_key_values=prefix.cache,
            encoder_hidden_states=prefix.encoder_hidden_states,
            use_cache=True,
        )
    assert any("past_key_values" in str(warning.message) for warning in caught)
    torch.testing.assert_close(step.logits[:, -1], full[:, -1], atol=1e-5, rtol=1e-5)
