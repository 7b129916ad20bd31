"""Tests of the Video ReCap model against reference computations written here, independently of the model code."""

import math

import pytest
import torch
from torch.nn import functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from tests.utils import TINY_INPUT_SETTINGS, make_tiny_config, make_tiny_model
from transformers_recap import LEVELS, VideoReCapConfig, VideoReCapForConditionalGeneration


def randomize(model: torch.nn.Module, std: float = 0.2, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (the released init zeroes the gates and the temporal attention)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
        for name, parameter in model.named_parameters():
            if "layernorm" in name.lower() or ".ln_" in name or "norm" in name.split(".")[-2].lower():
                if name.endswith("weight"):
                    parameter.add_(1.0)
    return model.eval()


def level_inputs(config: VideoReCapConfig, level: str, batch_size: int = 2, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    vision = config.vision_config
    if level == "clip":
        pixels = torch.randn(
            batch_size, vision.num_frames, 3, vision.image_size, vision.image_size, generator=generator
        )
        return {"pixel_values_videos": pixels}
    num_features = TINY_INPUT_SETTINGS[config.unified][level]["num_video_features"]
    mask = torch.ones(batch_size, num_features, dtype=torch.long)
    mask[0, num_features // 2 :] = 0
    context_ids = torch.randint(0, config.text_config.vocab_size - 1, (batch_size, 7), generator=generator)
    context_mask = torch.ones_like(context_ids)
    context_mask[-1, 5:] = 0
    return {
        "video_features": torch.randn(batch_size, num_features, vision.hidden_size, generator=generator),
        "video_features_mask": mask,
        "context_input_ids": context_ids,
        "context_attention_mask": context_mask,
    }


@pytest.fixture
def model(tiny_config):
    return randomize(make_tiny_model(tiny_config))


# ---------------------------------------------------------------------------------------------------------------------
# Video encoder
# ---------------------------------------------------------------------------------------------------------------------


def reference_divided_attention(attention, hidden_states, num_frames, over):
    """Frozen-in-time attention written as one masked attention over all tokens (the model groups tokens instead)."""
    batch_size, seq_len, width = hidden_states.shape
    heads = attention.num_heads
    head_dim = width // heads
    num_patches = (seq_len - 1) // num_frames
    qkv = hidden_states @ attention.qkv.weight.T + attention.qkv.bias
    query, key, value = (part.reshape(batch_size, seq_len, heads, head_dim) for part in qkv.split(width, dim=-1))
    group = torch.full((seq_len,), -1)
    for frame in range(num_frames):
        for patch in range(num_patches):
            group[1 + frame * num_patches + patch] = frame if over == "space" else patch
    allowed = (group[:, None] == group[None, :]) | (torch.arange(seq_len)[:, None] == 0) | (group[None, :] == -1)
    scores = torch.einsum("bihd,bjhd->bhij", query * head_dim**-0.5, key)
    weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
    output = torch.einsum("bhij,bjhd->bihd", weights, value).reshape(batch_size, seq_len, width)
    return output @ attention.proj.weight.T + attention.proj.bias, weights


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("over", ["space", "time"])
def test_vision_attention_grouping_matches_masked_reference(model, over, implementation):
    model.set_attn_implementation(implementation)
    attention = model.model.vision_model.layers[0].attention
    hidden_states = torch.randn(2, 1 + 3 * 4, 32)
    expected, expected_weights = reference_divided_attention(attention, hidden_states, num_frames=3, over=over)
    output, weights = attention(hidden_states, num_frames=3, over=over)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)
    if implementation == "eager":  # the probabilities over all tokens, zero outside each query's group
        torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)
    else:
        assert weights is None


def reference_vision_layer(layer, hidden_states, num_frames):
    """Residual wiring of the original SpaceTimeBlock: temporal output only feeds the spatial attention's input."""
    ln = F.layer_norm

    def norm(module, x):
        return ln(x, module.normalized_shape, module.weight, module.bias, module.eps)

    temporal, _ = reference_divided_attention(
        layer.temporal_attention, norm(layer.temporal_layernorm, hidden_states), num_frames, "time"
    )
    spatial, _ = reference_divided_attention(
        layer.attention, norm(layer.layernorm_before, hidden_states + temporal), num_frames, "space"
    )
    hidden_states = hidden_states + spatial
    mlp_input = norm(layer.layernorm_after, hidden_states)
    hidden = mlp_input @ layer.mlp.fc1.weight.T + layer.mlp.fc1.bias
    hidden = hidden * torch.sigmoid(1.702 * hidden)  # QuickGELU
    return hidden_states + hidden @ layer.mlp.fc2.weight.T + layer.mlp.fc2.bias


def test_vision_layer_residual_wiring(model):
    layer = model.model.vision_model.layers[1]
    hidden_states = torch.randn(2, 1 + 4 * 4, 32)
    torch.testing.assert_close(
        layer(hidden_states, 4), reference_vision_layer(layer, hidden_states, 4), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("num_frames", [4, 2])
def test_vision_model_matches_reference(model, num_frames):
    vision = model.model.vision_model
    embeddings = vision.embeddings
    pixels = torch.randn(2, num_frames, 3, 32, 32)
    patches = F.conv2d(pixels.reshape(-1, 3, 32, 32), embeddings.patch_embeddings.proj.weight, stride=16)
    patches = patches.flatten(2).transpose(1, 2).reshape(2, num_frames * 4, 32)  # frame-major
    tokens = [embeddings.cls_token[0, 0] + embeddings.position_embeddings[0, 0]]
    expected = []
    for sample in range(2):
        tokens = [embeddings.cls_token[0, 0] + embeddings.position_embeddings[0, 0]]
        for frame in range(num_frames):
            for patch in range(4):
                tokens.append(
                    patches[sample, frame * 4 + patch]
                    + embeddings.position_embeddings[0, 1 + patch]
                    + embeddings.temporal_embeddings[0, frame]
                )
        expected.append(torch.stack(tokens))
    hidden_states = torch.stack(expected)
    assert vision.pre_layernorm.eps == 1e-5 and vision.post_layernorm.eps == 1e-6
    assert vision.layers[0].temporal_layernorm.eps == 1e-6
    hidden_states = vision.pre_layernorm(hidden_states)
    for layer in vision.layers:
        hidden_states = reference_vision_layer(layer, hidden_states, num_frames)
    hidden_states = vision.post_layernorm(hidden_states)

    output = vision(pixels)
    assert output.last_hidden_state.shape == (2, 1 + num_frames * 4, 32)
    torch.testing.assert_close(output.last_hidden_state, hidden_states, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(output.pooler_output, hidden_states[:, 0], atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------------
# Alignment and decoder
# ---------------------------------------------------------------------------------------------------------------------


def test_context_is_decoder_token_plus_position_embeddings(model):
    inputs = level_inputs(model.config, "segment")
    alignment = model.model.alignment["segment"]
    wte, wpe = model.model.language_model.wte, model.model.language_model.wpe
    context = wte.weight[inputs["context_input_ids"]] + wpe.weight[: inputs["context_input_ids"].shape[1]]
    video = alignment.video_qformer(
        query_embeds=alignment.video_query_tokens.expand(2, -1, -1),
        encoder_hidden_states=inputs["video_features"],
        encoder_attention_mask=inputs["video_features_mask"],
    ).last_hidden_state
    text = alignment.text_qformer(
        query_embeds=alignment.text_query_tokens.expand(2, -1, -1),
        encoder_hidden_states=context,
        encoder_attention_mask=inputs["context_attention_mask"],
    ).last_hidden_state
    memory, _ = model.get_query_embeddings("segment", **inputs)
    assert memory.shape == (2, 3 + 5, 24)
    torch.testing.assert_close(memory, torch.cat([video, text], dim=1))


def test_video_features_mask_is_respected(model):
    inputs = level_inputs(model.config, "video")
    memory, _ = model.get_query_embeddings("video", **inputs)
    changed = dict(inputs)
    changed["video_features"] = inputs["video_features"].clone()
    changed["video_features"][0, 5:] = 100.0  # masked rows of sample 0
    changed_memory, _ = model.get_query_embeddings("video", **changed)
    torch.testing.assert_close(changed_memory[0], memory[0])
    changed["video_features"][1, 5:] = 100.0  # real rows of sample 1
    assert not torch.allclose(model.get_query_embeddings("video", **changed)[0][1], memory[1])


def gpt2_with_level_weights(model, level):
    """A stock transformers GPT-2 holding the shared GPT-2 weights and `level`'s ln_1/ln_2."""
    text = model.config.text_config
    gpt2 = GPT2LMHeadModel(GPT2Config(**{**text.to_dict(), "tie_word_embeddings": True})).eval()
    decoder = model.model.language_model
    key = model.config.adapter_key(level)
    with torch.no_grad():
        gpt2.transformer.wte.weight.copy_(decoder.wte.weight)
        gpt2.transformer.wpe.weight.copy_(decoder.wpe.weight)
        gpt2.transformer.ln_f.load_state_dict(decoder.ln_f.state_dict())
        for block, layer in zip(gpt2.transformer.h, decoder.layers, strict=False):
            block.attn.load_state_dict(layer.attn.state_dict())
            block.mlp.load_state_dict(layer.mlp.state_dict())
            block.ln_1.load_state_dict(layer.ln_1[key].state_dict())
            block.ln_2.load_state_dict(layer.ln_2[key].state_dict())
    return gpt2


@pytest.mark.parametrize("level", LEVELS)
def test_zero_gates_give_plain_gpt2(model, level):
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "gate" in name and name.endswith("_gate"):
                parameter.zero_()
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 6))
    logits = model(input_ids=input_ids, level=level, **level_inputs(model.config, level)).logits
    expected = gpt2_with_level_weights(model, level)(input_ids=input_ids).logits
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)


def test_gates_named_and_initialised_to_zero(tiny_config):
    model = VideoReCapForConditionalGeneration(tiny_config)
    gates = {name: p for name, p in model.named_parameters() if "gate" in name}
    # two gates per block per level, 0-d, zero at init
    assert len(gates) == 2 * 2 * 3
    assert all(p.shape == () and p.item() == 0.0 for p in gates.values())
    input_ids = torch.randint(0, tiny_config.text_config.vocab_size, (1, 5))
    logits = model.eval()(input_ids=input_ids, **level_inputs(tiny_config, "clip", batch_size=1)).logits
    torch.testing.assert_close(logits, gpt2_with_level_weights(model, "clip")(input_ids=input_ids).logits)


def reference_decoder_logits(model, level, input_ids, memory):
    """Gated cross-attention + squared-ReLU FFN BEFORE each stock GPT-2 block (original gpt2_gated.py layout)."""
    config = model.config
    gpt2 = gpt2_with_level_weights(model, level)
    key = config.adapter_key(level)
    text = config.text_config
    heads, width = text.num_attention_heads, text.hidden_size
    head_dim = width // heads
    hidden = gpt2.transformer.wte(input_ids) + gpt2.transformer.wpe(torch.arange(input_ids.shape[1]))
    for index, block in enumerate(gpt2.transformer.h):
        gated = model.model.language_model.layers[index].cross_attention_block[key]
        attention = gated.cross_attention
        normed = gated.cross_attention_layernorm(hidden)
        query = normed @ attention.q_attn.weight + attention.q_attn.bias  # Conv1D: x @ W + b
        key_value = memory @ attention.c_attn.weight + attention.c_attn.bias
        keys, values = key_value.split(width, dim=-1)

        def heads_first(x):
            return x.reshape(x.shape[0], x.shape[1], heads, head_dim).transpose(1, 2)

        weights = (heads_first(query) @ heads_first(keys).transpose(-1, -2) / math.sqrt(head_dim)).softmax(-1)
        attended = (weights @ heads_first(values)).transpose(1, 2).reshape(hidden.shape)
        attended = attended @ attention.c_proj.weight + attention.c_proj.bias
        hidden = hidden + torch.tanh(gated.cross_attention_gate) * attended
        ffn = gated.mlp_layernorm(hidden) @ gated.mlp.c_fc.weight + gated.mlp.c_fc.bias
        ffn = torch.relu(ffn) ** 2 @ gated.mlp.c_proj.weight + gated.mlp.c_proj.bias
        hidden = hidden + torch.tanh(gated.mlp_gate) * ffn
        hidden = block(hidden)
    return gpt2.lm_head(gpt2.transformer.ln_f(hidden))


@pytest.mark.parametrize("level", LEVELS)
def test_decoder_matches_gated_reference(model, level):
    inputs = level_inputs(model.config, level)
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 6))
    memory, _ = model.get_query_embeddings(level, **inputs)
    expected = reference_decoder_logits(model, level, input_ids, memory)
    output = model(input_ids=input_ids, level=level, **inputs)
    torch.testing.assert_close(output.encoder_hidden_states, memory)
    torch.testing.assert_close(output.logits, expected, atol=1e-4, rtol=1e-4)


def test_levels_use_their_own_adapters(model):
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 6))
    inputs = level_inputs(model.config, "video")
    before = model(input_ids=input_ids, level="video", **inputs).logits
    with torch.no_grad():
        for layer in model.model.language_model.layers:
            layer.ln_1["segment"].weight.mul_(3.0)
            layer.cross_attention_block["segment"].mlp_gate.add_(1.0)
    torch.testing.assert_close(model(input_ids=input_ids, level="video", **inputs).logits, before)
    with torch.no_grad():
        model.model.language_model.layers[0].ln_2["video"].weight.mul_(3.0)
    assert not torch.allclose(model(input_ids=input_ids, level="video", **inputs).logits, before)


def test_loss_excludes_padding(model, tiny_processor):
    batch = tiny_processor(text=["#C C picks up the red cup", "#C C opens"], level="clip")
    output = model(**batch, **level_inputs(model.config, "clip"))
    shifted_logits = output.logits[:, :-1].reshape(-1, output.logits.shape[-1])
    shifted_labels = batch["labels"][:, 1:].reshape(-1)
    keep = shifted_labels != -100
    expected = F.cross_entropy(shifted_logits[keep], shifted_labels[keep])
    torch.testing.assert_close(output.loss, expected)
    # Padding length does not change the loss.
    padded = {
        key: torch.cat([value, value[:, -1:].clone().fill_(-100 if key == "labels" else 0)], 1)
        for key, value in batch.items()
    }
    padded["input_ids"][:, -1] = tiny_processor.tokenizer.pad_token_id
    torch.testing.assert_close(model(**padded, **level_inputs(model.config, "clip")).loss, output.loss)


# ---------------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------------


def stepwise_greedy(model, level, inputs, max_new_tokens):
    """The original decoding loop: rerun the decoder on the whole prefix (no cache) and take the argmax."""
    eos = model.generation_config.eos_token_id
    batch_size = next(iter(inputs.values())).shape[0]
    sequences = torch.full((batch_size, 1), model.generation_config.bos_token_id)
    finished = torch.zeros(batch_size, dtype=torch.bool)
    for _ in range(max_new_tokens):
        logits = model(input_ids=sequences, level=level, use_cache=False, **inputs).logits[:, -1]
        next_tokens = logits.argmax(-1).masked_fill(finished, eos)
        sequences = torch.cat([sequences, next_tokens[:, None]], dim=1)
        finished |= next_tokens == eos
        if finished.all():
            break
    return sequences


@pytest.mark.parametrize("level", LEVELS)
def test_cached_greedy_generate_equals_stepwise_loop(model, level):
    inputs = level_inputs(model.config, level, batch_size=3, seed=1)
    generated = model.generate(**inputs, level=level, max_new_tokens=10, do_sample=False)
    expected = stepwise_greedy(model, level, inputs, max_new_tokens=10)
    assert generated.shape[1] > 3
    assert torch.equal(generated, expected)


def test_generate_computes_memory_and_cross_keys_once(model):
    inputs = level_inputs(model.config, "segment", batch_size=2)
    calls = {"alignment": 0, "cross_kv": 0, "vision": 0}

    def count(name):
        def hook(*_):
            calls[name] += 1

        return hook

    model.model.alignment["segment"].register_forward_hook(count("alignment"))
    model.model.vision_model.register_forward_hook(count("vision"))
    for layer in model.model.language_model.layers:
        layer.cross_attention_block["segment"].cross_attention.c_attn.register_forward_hook(count("cross_kv"))
    generated = model.generate(**inputs, level="segment", max_new_tokens=8, min_new_tokens=8)
    assert generated.shape[1] == 9
    assert calls == {"alignment": 1, "cross_kv": len(model.model.language_model.layers), "vision": 0}


def test_generate_clip_level_encodes_video_once(model):
    calls = []
    model.model.vision_model.register_forward_hook(lambda *_: calls.append(1))
    model.generate(**level_inputs(model.config, "clip"), level="clip", max_new_tokens=6, min_new_tokens=6)
    assert len(calls) == 1


def test_beam_search_and_sampling(model):
    inputs = level_inputs(model.config, "video", batch_size=2)
    greedy = model.generate(**inputs, level="video", max_new_tokens=8)
    single_beam = model.generate(**inputs, level="video", max_new_tokens=8, num_beams=1)
    assert torch.equal(greedy, single_beam)
    beams = model.generate(**inputs, level="video", max_new_tokens=8, num_beams=3, num_return_sequences=2)
    assert beams.shape[0] == 4
    # the best beam scores at least as high as greedy under the model
    scores = model.generate(
        **inputs, level="video", max_new_tokens=8, num_beams=3, output_scores=True, return_dict_in_generate=True
    )
    assert scores.sequences.shape[0] == 2
    torch.manual_seed(0)
    sample_a = model.generate(**inputs, level="video", max_new_tokens=8, do_sample=True, top_k=5)
    torch.manual_seed(0)
    sample_b = model.generate(**inputs, level="video", max_new_tokens=8, do_sample=True, top_k=5)
    assert torch.equal(sample_a, sample_b)


def test_default_max_new_tokens_per_level(model):
    eos = model.generation_config.eos_token_id
    for level, expected in (("clip", 12), ("segment", 12), ("video", 16)):
        generated = model.generate(**level_inputs(model.config, level), level=level, suppress_tokens=[eos])
        assert generated.shape[1] == 1 + expected


def test_batch_equivalence(model):
    inputs = level_inputs(model.config, "segment", batch_size=2)
    input_ids = torch.randint(0, model.config.text_config.vocab_size, (2, 5))
    batched = model(input_ids=input_ids, level="segment", **inputs).logits
    for row in range(2):
        single = {key: value[row : row + 1] for key, value in inputs.items()}
        torch.testing.assert_close(
            model(input_ids=input_ids[row : row + 1], level="segment", **single).logits[0],
            batched[row],
            atol=1e-5,
            rtol=1e-5,
        )


# ---------------------------------------------------------------------------------------------------------------------
# Unified variant, trainable parameters, sizes
# ---------------------------------------------------------------------------------------------------------------------


def test_unified_model_shares_modules_across_levels(tiny_tokenizer):
    config = make_tiny_config(tiny_tokenizer, unified=True)
    model = randomize(VideoReCapForConditionalGeneration(config))
    assert list(model.model.alignment.keys()) == ["shared"]
    assert list(model.model.language_model.layers[0].ln_1.keys()) == ["shared"]
    for level in LEVELS:
        inputs = level_inputs(config, level)
        assert torch.equal(
            model.generate(**inputs, level=level, max_new_tokens=6), stepwise_greedy(model, level, inputs, 6)
        )
    clip_memory, _ = model.get_query_embeddings("clip", **level_inputs(config, "clip"))
    assert clip_memory.shape[1] == 6  # video queries only at the clip level


def test_unified_config_rejects_different_query_counts():
    with pytest.raises(ValueError, match="shares one query tensor"):
        VideoReCapConfig(unified=True)


def test_set_trainable_levels_matches_original_trainable_set(model):
    count = model.set_trainable_levels(["segment"])
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert count == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable, "nothing trainable"
    for name in trainable:
        assert ".segment." in name
        assert (
            name.endswith("_query_tokens")
            or ".crossattention." in name
            or ".cross_attention_block." in name
            or ".ln_1." in name
            or ".ln_2." in name
        ), name
    assert not any("vision_model" in name or ".attn." in name or "lm_head" in name for name in trainable)
    assert "model.alignment.segment.video_qformer.encoder.layer.1.attention.attention.query.weight" not in trainable
    assert "model.alignment.segment.video_qformer.encoder.layer.0.crossattention.attention.query.weight" in trainable


def test_full_size_trainable_counts_match_the_release():
    """Counts from the original code (videorecap-original.md 3.3): clip 99,471,384; segment 113,679,384;
    video 113,851,416; ReCap-U 113,851,416."""
    with torch.device("meta"):
        model = VideoReCapForConditionalGeneration(VideoReCapConfig())
        unified_config = VideoReCapConfig(
            unified=True,
            level_settings={"clip": {"num_video_queries": 256}, "segment": {"num_video_queries": 256}},
        )
        unified = VideoReCapForConditionalGeneration(unified_config)
    assert model.set_trainable_levels(["clip"]) == 99_471_384
    assert model.set_trainable_levels(["segment"]) == 113_679_384
    assert model.set_trainable_levels(["video"]) == 113_851_416
    assert unified.set_trainable_levels(LEVELS) == 113_851_416


# ---------------------------------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors(model):
    ids = torch.tensor([[model.generation_config.bos_token_id, 5]])
    pixels = torch.randn(1, 4, 3, 32, 32)
    with pytest.raises(ValueError, match="Unknown level 'scene'"):
        model(input_ids=ids, pixel_values_videos=pixels, level="scene")
    with pytest.raises(ValueError, match="Unknown level"):
        model.generate(pixel_values_videos=pixels, level="clips")
    with pytest.raises(ValueError, match=r"shape \(batch_size, num_frames, num_channels, height, width\)"):
        model(input_ids=ids, pixel_values_videos=pixels[0])
    with pytest.raises(ValueError, match="6 frames per clip; the encoder takes 1 to 4"):
        model(input_ids=ids, pixel_values_videos=torch.randn(1, 6, 3, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        model(input_ids=ids, pixel_values_videos=torch.randn(1, 4, 32, 32, 3))
    with pytest.raises(ValueError, match="64x64"):
        model(input_ids=ids, pixel_values_videos=torch.randn(1, 4, 3, 64, 64))
    with pytest.raises(ValueError, match="exactly one of pixel_values_videos"):
        model(input_ids=ids, level="clip")
    segment = level_inputs(model.config, "segment", batch_size=1)
    with pytest.raises(ValueError, match="needs context_input_ids"):
        model(input_ids=ids, level="segment", video_features=segment["video_features"])
    with pytest.raises(ValueError, match="needs video_features"):
        model(input_ids=ids, level="segment", context_input_ids=segment["context_input_ids"])
    with pytest.raises(ValueError, match="reads CLS features"):
        model(input_ids=ids, level="video", pixel_values_videos=pixels, context_input_ids=segment["context_input_ids"])
    with pytest.raises(ValueError, match=r"shape \(batch_size, num_video_tokens, 32\)"):
        model(
            input_ids=ids,
            level="segment",
            video_features=torch.randn(1, 8, 16),
            context_input_ids=segment["context_input_ids"],
        )
    with pytest.raises(ValueError, match="video_features_mask must have shape"):
        model(
            input_ids=ids,
            level="segment",
            video_features=segment["video_features"],
            video_features_mask=torch.ones(1, 3),
            context_input_ids=segment["context_input_ids"],
        )
    with pytest.raises(ValueError, match="batch size"):
        model(input_ids=torch.cat([ids, ids]), level="segment", **segment)
    with pytest.raises(ValueError, match="takes no context_input_ids"):
        model(input_ids=ids, pixel_values_videos=pixels, context_input_ids=segment["context_input_ids"])
