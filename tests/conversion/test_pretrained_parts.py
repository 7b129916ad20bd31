"""Initialisation from public pretrained parts, with tiny GPT-2 / DistilBERT / timm CLIP / LaViLa checkpoints built here."""

import argparse

import pytest
import timm
import torch
from safetensors.torch import save_file
from transformers import DistilBertConfig, DistilBertModel, GPT2Config, GPT2LMHeadModel

from tests.conversion.test_convert_original_checkpoint import OriginalWeights, original_encoder
from tests.utils import make_tiny_config
from transformers_recap import LEVELS, VideoReCapConfig
from transformers_recap.conversion import CheckpointConversionError, from_pretrained_parts


@pytest.fixture(scope="module")
def config(tiny_tokenizer):
    return make_tiny_config(tiny_tokenizer)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, config):
    text = config.text_config
    gpt2_config = GPT2Config(
        n_embd=text.hidden_size,
        n_layer=text.num_hidden_layers,
        n_head=text.num_attention_heads,
        vocab_size=text.vocab_size,
        n_positions=text.n_positions,
        bos_token_id=text.bos_token_id,
        eos_token_id=text.eos_token_id,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(gpt2_config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".ln_" in name:  # distinct LayerNorms, so that a copy to the wrong place shows
                parameter.add_(torch.randn_like(parameter) * 0.1)
    directory = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def timm_clip(tmp_path_factory, config):
    """A tiny CLIP ViT in timm's layout (QuickGELU, as OpenAI's CLIP), saved with safetensors."""
    vision = config.vision_config
    model = timm.create_model(
        "vit_base_patch16_clip_quickgelu_224",
        pretrained=False,
        num_classes=0,
        embed_dim=vision.hidden_size,
        depth=vision.num_hidden_layers,
        num_heads=vision.num_attention_heads,
        mlp_ratio=vision.intermediate_size / vision.hidden_size,
        img_size=vision.image_size,
    ).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    path = tmp_path_factory.mktemp("timm") / "clip_vit.safetensors"
    save_file(model.state_dict(), path)
    return model, path


def test_gpt2_fills_decoder_and_every_levels_layernorms(config, gpt2_dir, timm_clip):
    model = from_pretrained_parts(text=gpt2_dir, vision=timm_clip[1], config=config)
    gpt2 = GPT2LMHeadModel.from_pretrained(gpt2_dir).eval()
    for index, block in enumerate(gpt2.transformer.h):
        layer = model.model.language_model.layers[index]
        for level in LEVELS:
            torch.testing.assert_close(layer.ln_1[level].weight, block.ln_1.weight, atol=0, rtol=0)
            torch.testing.assert_close(layer.ln_2[level].bias, block.ln_2.bias, atol=0, rtol=0)
            assert layer.cross_attention_block[level].cross_attention_gate.item() == 0.0
        torch.testing.assert_close(layer.attn.c_attn.weight, block.attn.c_attn.weight, atol=0, rtol=0)
    # Zero gates: every level's decoder is exactly GPT-2, whatever the memory.
    input_ids = torch.tensor([[0, 5, 9, 11, 2], [0, 7, 7, 1, 3]])
    expected = gpt2(input_ids).logits
    for level in LEVELS:
        memory = torch.randn(2, 7, config.qformer_config.hidden_size)
        with torch.no_grad():
            logits = model(input_ids=input_ids, encoder_hidden_states=memory, level=level).logits
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert model.lm_head.weight.data_ptr() == model.model.language_model.wte.weight.data_ptr()


def test_timm_clip_fills_spatial_weights_and_temporal_attention_is_a_no_op(config, gpt2_dir, timm_clip):
    timm_model, path = timm_clip
    overrides = config.to_dict()
    overrides["vision_config"]["layer_norm_eps"] = 1e-5  # timm's CLIP norms, for an exact per-frame comparison
    clip_config = config.__class__.from_dict(overrides)
    model = from_pretrained_parts(text=gpt2_dir, vision=path, config=clip_config)
    vision = model.model.vision_model
    layer = vision.layers[1]
    torch.testing.assert_close(layer.attention.qkv.weight, timm_model.blocks[1].attn.qkv.weight, atol=0, rtol=0)
    torch.testing.assert_close(layer.layernorm_before.bias, timm_model.blocks[1].norm1.bias, atol=0, rtol=0)
    torch.testing.assert_close(vision.pre_layernorm.weight, timm_model.norm_pre.weight, atol=0, rtol=0)
    # LaViLa's time_init="zeros": qkv 0, projection weight 1 and bias 0; temporal embedding 0.
    assert torch.all(layer.temporal_attention.qkv.weight == 0) and torch.all(layer.temporal_attention.qkv.bias == 0)
    assert torch.all(layer.temporal_attention.proj.weight == 1) and torch.all(layer.temporal_attention.proj.bias == 0)
    assert torch.all(vision.embeddings.temporal_embeddings == 0)
    hidden_states = torch.randn(2, 1 + 4 * 4, config.vision_config.hidden_size)
    with torch.no_grad():
        assert torch.all(layer.temporal_attention(hidden_states, num_frames=4, over="time")[0] == 0)
    # One frame: the encoder is the CLIP ViT itself.
    pixels = torch.randn(2, 1, 3, config.vision_config.image_size, config.vision_config.image_size)
    with torch.no_grad():
        ours = vision(pixels).last_hidden_state
        expected = timm_model.forward_features(pixels[:, 0])
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_timm_model_name_is_downloaded_by_timm(config, gpt2_dir, timm_clip, monkeypatch):
    calls = []

    def create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained, kwargs))
        return timm_clip[0]

    monkeypatch.setattr(timm, "create_model", create_model)
    model = from_pretrained_parts(text=gpt2_dir, vision="timm:vit_base_patch16_clip_224.openai", config=config)
    assert calls == [("vit_base_patch16_clip_224.openai", True, {"num_classes": 0})]
    torch.testing.assert_close(
        model.model.vision_model.layers[0].mlp.fc2.weight, timm_clip[0].blocks[0].mlp.fc2.weight, atol=0, rtol=0
    )


def config_with(base, **sections):
    """`base` with some fields of its sub-configs changed, e.g. `config_with(config, text_config={"n_layer": 3})`."""
    data = base.to_dict()
    for section, changes in sections.items():
        data[section].update(changes)
    return VideoReCapConfig.from_dict(data)


@pytest.fixture(scope="module")
def distilbert(tmp_path_factory):
    config = DistilBertConfig(dim=24, n_layers=2, n_heads=4, hidden_dim=48, vocab_size=50, max_position_embeddings=16)
    torch.manual_seed(1)
    model = DistilBertModel(config).eval()
    directory = tmp_path_factory.mktemp("distilbert")
    model.save_pretrained(directory)
    return model, directory


def test_distilbert_qformers_follow_the_paper(config, gpt2_dir, timm_clip, distilbert):
    distilbert, directory = distilbert
    with pytest.raises(CheckpointConversionError, match="DistilBERT-shaped Q-Former"):
        from_pretrained_parts(
            text=gpt2_dir,
            vision=timm_clip[1],
            qformer=directory,
            config=config_with(config, qformer_config={"num_hidden_layers": 3}),
        )
    paper_config = config_with(config, qformer_config={"cross_attention_frequency": 1})
    model = from_pretrained_parts(text=gpt2_dir, vision=timm_clip[1], qformer=directory, config=paper_config)
    layer = distilbert.transformer.layer[1]
    qformers = [
        qformer
        for alignment in model.model.alignment.values()
        for qformer in (alignment.video_qformer, alignment.text_qformer)
        if qformer is not None
    ]
    assert len(qformers) == 5  # clip video, segment video + text, video video + text
    for qformer in qformers:
        ours = qformer.encoder.layer[1]
        assert ours.has_cross_attention  # cross-attention in every layer, as in the paper
        torch.testing.assert_close(ours.attention.attention.key.weight, layer.attention.k_lin.weight, atol=0, rtol=0)
        torch.testing.assert_close(ours.attention.output.LayerNorm.bias, layer.sa_layer_norm.bias, atol=0, rtol=0)
        torch.testing.assert_close(ours.intermediate_query.dense.weight, layer.ffn.lin1.weight, atol=0, rtol=0)
        torch.testing.assert_close(ours.output_query.LayerNorm.weight, layer.output_layer_norm.weight, atol=0, rtol=0)
        torch.testing.assert_close(qformer.layernorm.weight, distilbert.embeddings.LayerNorm.weight, atol=0, rtol=0)


def test_lavila_encoder_and_config_from_the_parts(tmp_path, gpt2_dir, distilbert):
    """config=None: the architecture comes from the parts (GPT-2's config, the encoder's shapes, DistilBERT's)."""
    _, distilbert_dir = distilbert
    encoder_config = make_tiny_config(
        vision_config={"hidden_size": 64, "num_attention_heads": 1, "intermediate_size": 96, "num_hidden_layers": 2}
        | {"image_size": 32, "patch_size": 16, "num_frames": 3}
    )
    visual = OriginalWeights(encoder_config, seed=2).vision(num_frames=3)
    path = tmp_path / "clip_openai_timesformer_base.baseline.ep_0003.pth"
    checkpoint = {"module.visual." + key: value for key, value in visual.items()}
    checkpoint["module.logit_scale"] = torch.tensor(4.6)
    checkpoint["module.image_projection"] = torch.randn(64, 16)
    torch.save({"state_dict": checkpoint, "epoch": 3, "args": argparse.Namespace(model="CLIP")}, path)
    model = from_pretrained_parts(text=gpt2_dir, vision=path, qformer=distilbert_dir)
    config = model.config
    vision = config.vision_config
    assert (vision.hidden_size, vision.num_attention_heads, vision.num_frames, vision.image_size) == (64, 1, 3, 32)
    assert (vision.intermediate_size, vision.num_hidden_layers) == (96, 2)
    assert config.text_config.n_embd == 40 and config.text_config.vocab_size == 320
    qformer = config.qformer_config
    assert (qformer.hidden_size, qformer.num_hidden_layers, qformer.cross_attention_frequency) == (24, 2, 1)
    pixels = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        ours = model.get_video_features(pixels).last_hidden_state
    torch.testing.assert_close(ours, original_encoder(visual, pixels, encoder_config), atol=1e-5, rtol=1e-5)


def test_parts_that_do_not_fit_the_config_are_refused(config, gpt2_dir, timm_clip):
    deeper = config_with(config, text_config={"n_layer": 3})
    with pytest.raises(CheckpointConversionError, match=r"GPT-2 .* no weights for .*layers\.2"):
        from_pretrained_parts(text=gpt2_dir, vision=timm_clip[1], config=deeper)
    wider = config_with(config, vision_config={"hidden_size": 48})
    with pytest.raises(CheckpointConversionError, match=r"shape .* for `model\.vision_model"):
        from_pretrained_parts(text=gpt2_dir, vision=timm_clip[1], config=wider)
