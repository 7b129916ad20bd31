# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Speed levers of the video encoder and the clip decoder, measured one by one against the code as it is, in one run
(full-size architecture, random weights). Variants alternate round after round and the fastest round counts, since
the CPU may be shared; every variant's output is checked against the code as it is.

Parts (`--parts`, comma-separated):

- `profile`: where one clip's encoder time goes, by torch operator, per dtype;
- `encoder`: one clip (`--clips`) through the encoder per dtype, as is (as the captioner runs it: float32 linear
  layers through oneDNN where `onednn_routing_helps`; the other choice is a variant) and with each EXPERIMENTAL
  variant, all defined in this file by replacing methods from outside (the model code is unchanged):
  - `attention layout`: the divided space-time attention builds each group's keys/values (CLS first) in one buffer
    straight from the fused qkv output and writes the groups' outputs straight back in token order, instead of
    permute copies, `repeat_interleave` and `torch.cat`; in bfloat16 that buffer is float32, so the dtype conversion
    rides on the layout copy instead of separate round trips;
  - `bf16 SDPA`: bfloat16 attention without the float32 round trip (the model casts q/k/v to float32 on the CPU);
  - `channels-last patch embedding`: the 16x16 patch convolution in channels-last memory format (timed alone too);
  - `torch.compile`: the vision model compiled by inductor (fusing LayerNorm, QuickGELU and the residual adds), with
    `--compile` only (minutes of compilation on 2 cores), also with `freezing` (weights prepacked into oneDNN/MKL
    layouts);
- `decode`: clip decoding time per caption at several batch sizes (generate minus its Q-Former), float32.

    python benchmarks/benchmark_levers.py [--parts profile,encoder,decode] [--clips 1] [--rounds 3] [--compile]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from recap_benchmark_utils import full_size_model, interleaved, load_line, machine_line

from transformers_recap import onednn_linear_layers
from transformers_recap.engine.cpu_matmul import onednn_routing_helps
from transformers_recap.models.video_recap import modeling_video_recap
from transformers_recap.models.video_recap.modeling_video_recap import VideoReCapVisionAttention


# ---------------------------------------------------------------------------------------------------------------------
# EXPERIMENTAL variants (benchmark only): proposed model changes, applied by replacing methods for the duration of a
# `with` block (README "Speed" reports what they measured).
# ---------------------------------------------------------------------------------------------------------------------


def grouped_attention_forward(
    self, hidden_states: torch.Tensor, num_frames: int, over: str
) -> tuple[torch.Tensor, None]:
    """`VideoReCapVisionAttention.forward` (SDPA path) with one key/value buffer per call and the output written in
    place."""
    batch_size, seq_len, hidden_size = hidden_states.shape
    heads, head_dim = self.num_heads, self.head_dim
    num_patches = (seq_len - 1) // num_frames
    qkv = self.qkv(hidden_states).view(batch_size, seq_len, 3, heads, head_dim)
    # The CLS query attends to every token: views of the fused output, heads second.
    query_all, key_all, value_all = (qkv[:, :, index].transpose(1, 2) for index in range(3))
    cls_output = F.scaled_dot_product_attention(query_all[:, :, :1], key_all, value_all, scale=self.scaling)
    patches = qkv[:, 1:].view(batch_size, num_frames, num_patches, 3, heads, head_dim)
    if over == "time":
        patches = patches.transpose(1, 2)  # (batch, patch, frame, 3, heads, head_dim), a view
    num_groups, group_len = patches.shape[1], patches.shape[2]
    # float32 attention on the CPU (the model's rule); the conversion happens in the copies the layout needs anyway.
    attention_dtype = torch.float32 if hidden_states.device.type == "cpu" else hidden_states.dtype
    key_value = hidden_states.new_empty(
        (2, batch_size, num_groups, heads, 1 + group_len, head_dim), dtype=attention_dtype
    )
    key_value[:, :, :, :, 0] = qkv[:, 0, 1:3].permute(1, 0, 2, 3)[:, :, None]  # CLS key/value in every group
    key_value[:, :, :, :, 1:] = patches[..., 1:3, :, :].permute(3, 0, 1, 4, 2, 5)
    query = patches[..., 0, :, :].permute(0, 1, 3, 2, 4).reshape(batch_size * num_groups, heads, group_len, head_dim)
    group_output = F.scaled_dot_product_attention(
        query.to(attention_dtype),
        key_value[0].view(batch_size * num_groups, heads, 1 + group_len, head_dim),
        key_value[1].view(batch_size * num_groups, heads, 1 + group_len, head_dim),
        scale=self.scaling,
    )
    output = hidden_states.new_empty((batch_size, seq_len, heads, head_dim))
    output[:, 0] = cls_output[:, :, 0]
    target = output[:, 1:].view(batch_size, num_frames, num_patches, heads, head_dim)
    if over == "time":
        target = target.transpose(1, 2)
    target.copy_(group_output.view(batch_size, num_groups, heads, group_len, head_dim).transpose(2, 3))
    return self.proj(output.view(batch_size, seq_len, hidden_size)), None


@contextlib.contextmanager
def replaced(owner: object, name: str, value: object) -> Iterator[None]:
    """`owner.name` (a method of a class, a constant of a module) set to `value` for the duration of the block."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def channels_last_patches(model) -> Iterator[None]:
    """The patch convolution's weight and input in channels-last memory format (same values)."""
    convolution = model.model.vision_model.embeddings.patch_embeddings.proj
    weight = convolution.weight.data
    convolution.weight.data = weight.contiguous(memory_format=torch.channels_last)
    convolution.forward = lambda frames: type(convolution).forward(
        convolution, frames.contiguous(memory_format=torch.channels_last)
    )
    try:
        yield
    finally:
        del convolution.forward
        convolution.weight.data = weight


# ---------------------------------------------------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------------------------------------------------


def profile_part(model, pixels: torch.Tensor) -> None:
    from torch.profiler import ProfilerActivity, profile

    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        with torch.no_grad(), onednn_linear_layers(model, enabled=onednn_routing_helps()):
            model.get_video_features(pixels.to(dtype))
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                model.get_video_features(pixels.to(dtype))
        events = sorted(profiler.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
        total = sum(event.self_cpu_time_total for event in events)
        print(f"\n{str(dtype)[6:]} encoder, {pixels.shape[0]} clip(s): {total / 1e6:.2f} s of operator self time")
        for event in events[:10]:
            print(f"  {event.key:<44}{event.self_cpu_time_total / total:7.1%}{event.count:6d} calls")


def encoder_part(model, pixels: torch.Tensor, rounds: int, compile_variants: bool) -> None:
    for dtype in (torch.float32, torch.bfloat16):
        model.to(dtype)
        encoder_levers(model, pixels.to(dtype), rounds, compile_variants)


def encoder_levers(model, inputs: torch.Tensor, rounds: int, compile_variants: bool) -> None:
    dtype = inputs.dtype
    variants: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
        "as is": contextlib.nullcontext,
        "attention layout": lambda: replaced(VideoReCapVisionAttention, "forward", grouped_attention_forward),
        "channels-last patch embedding": lambda: channels_last_patches(model),
    }
    if dtype == torch.bfloat16:
        # The model runs CPU attention in float32 for the dtypes in HALF_DTYPES; none: bfloat16 SDPA kernels.
        variants["bf16 SDPA (no fp32 round trip)"] = lambda: replaced(modeling_video_recap, "HALF_DTYPES", ())
    # As the captioner runs: float32 linear layers through oneDNN where `onednn_routing_helps` (not on Intel CPUs).
    routed = dict.fromkeys(variants, onednn_routing_helps())
    if dtype == torch.float32:
        flipped = "oneDNN routing off (MKL)" if onednn_routing_helps() else "oneDNN routing on"
        variants[flipped], routed[flipped] = contextlib.nullcontext, not onednn_routing_helps()

    def run(context, onednn: bool):
        def call():
            with context(), onednn_linear_layers(model, enabled=onednn):
                return model.get_video_features(inputs).last_hidden_state

        return call

    # The compiled variants run outside the oneDNN routing: inductor chooses its own kernels (and cannot lower the
    # routed operator on weights that are not graph constants).
    with torch.no_grad():
        functions = {name: run(context, routed[name]) for name, context in variants.items()}
        if compile_variants:
            functions.update(compiled_variants(model, inputs))
        for function in functions.values():
            function()  # warm-up
        measured = interleaved(functions, rounds)
    reference = measured["as is"][1].float()
    print(f"\n{str(dtype)[6:]} encoder, {inputs.shape[0]} clip(s), fastest of {rounds} rounds:")
    for name, (seconds, output) in measured.items():
        error = (output.float() - reference).abs().max().item()
        print(f"  {name:<40}{seconds:8.2f} s {measured['as is'][0] / seconds:6.2f}x   max |diff| vs as is {error:.2e}")
    projection = model.model.vision_model.embeddings.patch_embeddings
    frames = inputs.flatten(0, 1)
    plain = lambda: projection(frames)  # noqa: E731

    def last():
        with channels_last_patches(model):
            return projection(frames)

    with torch.no_grad():
        patch = interleaved({"contiguous": plain, "channels-last": last}, rounds)
    print(
        f"  patch embedding alone: contiguous {patch['contiguous'][0] * 1e3:.1f} ms, "
        f"channels-last {patch['channels-last'][0] * 1e3:.1f} ms"
    )


def compiled_variants(model, inputs: torch.Tensor) -> dict[str, Callable]:
    import torch._inductor.config as inductor_config

    vision = model.model.vision_model
    variants = {}
    for name, freezing in (("torch.compile (inductor)", False), ("torch.compile (inductor, freezing)", True)):
        torch._dynamo.reset()
        inductor_config.freezing = freezing
        compiled = torch.compile(vision)
        start = time.perf_counter()
        compiled(inputs)
        print(f"  {name}: compiled in {time.perf_counter() - start:.0f} s")
        variants[name] = lambda compiled=compiled: compiled(inputs).last_hidden_state
    inductor_config.freezing = False
    return variants


def decode_part(model, batch_sizes: list[int], tokens: int, rounds: int) -> None:
    model.to(torch.float32)
    length = {"min_new_tokens": tokens, "max_new_tokens": tokens, "do_sample": False, "num_beams": 1}
    generator = torch.Generator().manual_seed(0)
    dense = torch.randn(1, 785, 768, generator=generator)
    print(f"\nfloat32 clip decoding ({tokens} tokens), seconds per caption, fastest of {rounds} rounds:")
    with torch.no_grad(), onednn_linear_layers(model, enabled=onednn_routing_helps()):
        for batch_size in batch_sizes:
            memory, _ = model.get_query_embeddings("clip", video_features=dense.expand(batch_size, -1, -1))

            def decode(memory=memory):
                return model.generate(encoder_hidden_states=memory, level="clip", **length)

            seconds, _ = interleaved({"decode": decode}, rounds)["decode"]
            print(f"  batch {batch_size:3d}: {seconds / batch_size:.3f} s per caption ({seconds:.2f} s per batch)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="profile,encoder,decode")
    parser.add_argument("--clips", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also torch.compile the encoder (minutes)")
    parser.add_argument("--batch-sizes", default="8,32,64")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# Speed levers ({machine_line()}; {load_line()})")
    model = full_size_model()
    pixels = torch.randn(args.clips, 4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    parts = args.parts.split(",")
    if "profile" in parts:
        profile_part(model, pixels)
    if "encoder" in parts:
        encoder_part(model, pixels, args.rounds, args.compile)
    if "decode" in parts:
        decode_part(model, [int(size) for size in args.batch_sizes.split(",")], args.tokens, args.rounds)
    print(f"# {load_line()}")


if __name__ == "__main__":
    main()
