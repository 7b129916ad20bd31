# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The GPU path in one run: everything issue 12 asks of it, recorded by one command on a CUDA machine.

Full-size architecture (`VideoReCapConfig()`) with random weights (seed 0), plus the bundled demo model (trained) for
caption agreement. In order:

1. CUDA GEMM ceilings at the encoder's shapes (32 clips, 25,120 rows): float32 (TF32 off), bfloat16, float16;
2. the vision encoder per dtype: seconds per clip at several batch sizes, against its floor (184.6 GFLOP per clip at
   the dtype's ceiling), and at the largest batch under each SDPA kernel (flash, memory-efficient, cuDNN, math);
3. clip captioning (clip Q-Former + 20 greedy tokens) per dtype: seconds per caption at several batch sizes;
4. frame decoding against the GPU's pace: the captioner's reader over the first `--decode-minutes` of the video-hour
   (FFmpeg's threads, and 1 thread), and raw H.264 decoding in software vs NVDEC (`hwaccel="cuda"`, where this PyAV
   and FFmpeg have it);
5. one video-hour (a synthetic 640x360 30-fps H.264 video, or `--video`) at all three levels per dtype, frame
   decoding included (caption lengths fixed: clip 20, segment 76, summary 119 tokens), next to its FLOP floor and the
   frame decoding alone; the target is under 30 s on one H200;
6. greedy agreement with the CPU float32 path: an 8-clip video at all three levels with the full-size model (token for
   token in CUDA float32; bf16 / fp16 on random weights are shown but say little) and 2 unseen Synthetic-HCap videos
   with the demo model (clip captions, segment descriptions and summaries equal to CPU float32's, per dtype).

Without CUDA only the CPU float32 references of step 6 run, and the script says the GPU parts were skipped (exit
status 0). `--json FILE` also writes every number to FILE. About 5 minutes on an H200 machine (16 cores), most of it
the video-hours and the CPU references.

    python benchmarks/benchmark_gpu.py [--dtypes bfloat16,float16] [--batch-size 64] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av
import torch
from benchmark_end_to_end import CLIP_SECONDS, ENCODER_GFLOP, LENGTHS, fixed_lengths, floor_gflop
from recap_benchmark_utils import (
    full_size_model,
    full_size_processor,
    gemm_ceiling,
    load_line,
    machine_line,
    synchronizer,
    synthetic_video,
    timed,
    unseen_synthetic_videos,
)

from transformers_recap import HierarchicalCaptioner, VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.demo import demo_model_path
from transformers_recap.engine.video_io import VideoClipReader


CEILING_ROWS = 32 * 785
PIECE_SECONDS = 120
AGREEMENT_CLIPS = 8
DEMO_VIDEOS = 2


def looped_video(piece: Path, path: Path, copies: int) -> Path:
    """`copies` copies of the video `piece` back to back, remuxed without re-encoding (seconds for a video-hour)."""
    if path.exists():
        return path
    temporary = path.with_suffix(".partial.mp4")
    with av.open(str(piece)) as source:
        template = source.streams.video[0]
        with av.open(str(temporary), "w") as output:
            stream = output.add_stream_from_template(template)
            span = round(PIECE_SECONDS / template.time_base)
            for copy in range(copies):
                with av.open(str(piece)) as again:
                    for packet in again.demux(again.streams.video[0]):
                        if packet.dts is None:
                            continue
                        packet.pts += copy * span
                        packet.dts += copy * span
                        packet.stream = stream
                        output.mux(packet)
    temporary.rename(path)
    return path


def captions_of(result) -> dict[str, list[str]]:
    return {
        "clip": [clip.text for clip in result.clips],
        "segment": [segment.text for segment in result.segments],
        "video": [result.summary],
    }


def agreement(reference: list[dict], other: list[dict]) -> dict[str, float]:
    """Per level, the share of captions equal to the reference's."""
    shares = {}
    for level in ("clip", "segment", "video"):
        pairs = [
            pair
            for ref, oth in zip(reference, other, strict=True)
            for pair in zip(ref[level], oth[level], strict=True)
        ]
        shares[level] = sum(a == b for a, b in pairs) / max(len(pairs), 1)
    return shares


def caption_files(model, processor, paths: list[Path], **kwargs) -> list[dict]:
    captioner = HierarchicalCaptioner(model, processor, progress=False, **kwargs)
    return [captions_of(captioner.caption_video(str(path))) for path in paths]


def cpu_references(work_dir: Path, demo_dir: Path, demo_paths: list[Path]) -> dict:
    """CPU float32 captions (our CPU path: oneDNN linear layers) of the agreement inputs, full-size and demo model."""
    video = synthetic_video(work_dir / f"synthetic_{AGREEMENT_CLIPS}clips.mp4", AGREEMENT_CLIPS * CLIP_SECONDS)
    start = time.perf_counter()
    full_size = caption_files(
        full_size_model(), full_size_processor(work_dir), [video], level_generate_kwargs=fixed_lengths()
    )
    full_size_seconds = time.perf_counter() - start
    demo_model = VideoReCapForConditionalGeneration.from_pretrained(demo_dir).eval()
    start = time.perf_counter()
    demo = caption_files(demo_model, VideoReCapProcessor.from_pretrained(demo_dir), demo_paths)
    print(
        f"CPU float32 references: full-size model, {AGREEMENT_CLIPS} clips at all three levels "
        f"{full_size_seconds:.1f} s; demo model, {len(demo_paths)} videos {time.perf_counter() - start:.1f} s"
    )
    return {"video": video, "full_size": full_size, "demo": demo}


def encoder_part(model, dtype: torch.dtype, ceiling: float, batch_sizes: list[int], record: dict) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    synchronize = synchronizer("cuda")
    floor = ENCODER_GFLOP / ceiling
    name = str(dtype).removeprefix("torch.")
    record[name] = {"floor_s_per_clip": floor, "batch": {}, "sdpa": {}}
    with torch.no_grad():
        for batch_size in batch_sizes:
            pixels = torch.randn(batch_size, 4, 3, 224, 224, device="cuda", dtype=dtype)
            model.get_video_features(pixels)  # warm-up
            seconds, _ = timed(lambda pixels=pixels: model.get_video_features(pixels), 3, synchronize)
            record[name]["batch"][batch_size] = seconds / batch_size
            print(
                f"  {name} encoder, batch {batch_size:3d}: {seconds / batch_size * 1e3:7.2f} ms per clip, "
                f"{seconds / batch_size / floor:5.2f}x its floor ({floor * 1e3:.2f} ms)"
            )
        for backend in (
            SDPBackend.FLASH_ATTENTION,
            SDPBackend.EFFICIENT_ATTENTION,
            SDPBackend.CUDNN_ATTENTION,
            SDPBackend.MATH,
        ):
            try:
                with sdpa_kernel(backend):
                    model.get_video_features(pixels)
                    seconds, _ = timed(lambda: model.get_video_features(pixels), 3, synchronize)
            except RuntimeError as error:
                print(f"  {name} encoder, SDPA {backend.name}: unavailable ({str(error).splitlines()[0]})")
                continue
            record[name]["sdpa"][backend.name] = seconds / batch_size
            print(
                f"  {name} encoder, batch {batch_size}, SDPA {backend.name}: {seconds / batch_size * 1e3:7.2f} ms per clip"
            )


def decode_part(model, dtype: torch.dtype, batch_sizes: list[int], record: dict) -> None:
    synchronize = synchronizer("cuda")
    name = str(dtype).removeprefix("torch.")
    record[name] = {}
    length = {**fixed_lengths()["clip"], "do_sample": False, "num_beams": 1}
    with torch.no_grad():
        for batch_size in batch_sizes:
            dense = torch.randn(batch_size, 785, 768, device="cuda", dtype=dtype)

            def caption(dense=dense):
                return model.generate(video_features=dense, level="clip", **length)

            caption()  # warm-up
            seconds, _ = timed(caption, 2, synchronize)
            record[name][batch_size] = seconds / batch_size
            print(
                f"  {name} clip captions (Q-Former + {LENGTHS['clip']} tokens), batch {batch_size:3d}: "
                f"{seconds / batch_size * 1e3:7.2f} ms per caption"
            )


def frame_decoding_part(video: Path, minutes: float, record: dict) -> None:
    clips = int(minutes * 60 / CLIP_SECONDS)
    for threads in (0, 1):
        with VideoClipReader(video, decode_threads=threads) as reader:
            start = time.perf_counter()
            for _clip, _ in zip(reader, range(clips), strict=False):
                pass
            seconds = time.perf_counter() - start
        record[f"reader_threads_{threads}"] = seconds / clips
        print(
            f"  the captioner's reader, FFmpeg threads {threads or 'auto'}: {clips / seconds:7.1f} clips/s "
            f"({seconds * 900 / clips:.1f} s per video-hour)"
        )
    for hwaccel in (None, "cuda"):
        label = "NVDEC" if hwaccel else "software"
        try:
            options = {}
            if hwaccel:
                from av.codec.hwaccel import HWAccel

                options["hwaccel"] = HWAccel(device_type=hwaccel, allow_software_fallback=False)
            with av.open(str(video), **options) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                frames, start = 0, time.perf_counter()
                for frame in container.decode(stream):
                    frames += 1
                    if frame.time >= minutes * 60:
                        break
                seconds = time.perf_counter() - start
        except (ImportError, TypeError, av.FFmpegError) as error:
            print(f"  raw H.264 decoding, {label}: unavailable ({error})")
            continue
        record[f"raw_{label}"] = frames / seconds
        print(f"  raw H.264 decoding, {label}: {frames / seconds:7.0f} frames/s")


def hour_part(model, processor, video: Path, dtype: torch.dtype, batch_size: int, ceiling: float, record: dict):
    name = str(dtype).removeprefix("torch.")
    captioner = HierarchicalCaptioner(
        model, processor, batch_size=batch_size, level_generate_kwargs=fixed_lengths(), progress=False
    )
    with VideoClipReader(video) as reader:  # warm-up: one batch of clips
        captioner.caption_clips(clip for clip, _ in zip(reader, range(batch_size), strict=False))
    torch.cuda.reset_peak_memory_stats()
    seconds, result = timed(lambda: captioner.caption_video(str(video)), 1, synchronizer("cuda"))
    floor = sum(floor_gflop().values()) / ceiling
    record[name] = {
        "seconds": seconds,
        "floor_s": floor,
        "clips": len(result.clips),
        "segments": len(result.segments),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
    }
    print(
        f"  {name}: {seconds:6.1f} s for {len(result.clips)} clips, {len(result.segments)} segments and the summary "
        f"(target < 30 s), {seconds / floor:.1f}x the model's FLOP floor ({floor:.1f} s); peak GPU memory "
        f"{record[name]['peak_gib']:.1f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtypes", default="bfloat16,float16", help="CUDA dtypes for the speed parts")
    parser.add_argument("--batch-size", type=int, default=64, help="the captioner's batch for the video-hour")
    parser.add_argument("--encoder-batch-sizes", default="1,8,32,64")
    parser.add_argument("--decode-batch-sizes", default="32,64,128,256")
    parser.add_argument("--decode-minutes", type=float, default=5.0, help="minutes of frame decoding measured")
    parser.add_argument("--video", type=Path, help="a video-hour to caption (default: a synthetic one)")
    parser.add_argument("--threads", type=int, help="torch CPU threads for the CPU references")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "recap_benchmarks")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# The GPU path ({machine_line()}; {load_line()})")
    record: dict = {"machine": machine_line()}
    demo_dir = Path(demo_model_path())
    with tempfile.TemporaryDirectory() as directory:
        _, demo_paths = unseen_synthetic_videos(demo_dir, DEMO_VIDEOS, 5000, Path(directory))
        references = cpu_references(args.work_dir, demo_dir, demo_paths)
        if not torch.cuda.is_available():
            print("CUDA is not available: the GPU parts are skipped (only the CPU float32 references ran).")
            record["skipped"] = "no CUDA"
        else:
            run_gpu_parts(args, references, demo_dir, demo_paths, record)
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=str))
    print(f"# {load_line()}")


def run_gpu_parts(args, references: dict, demo_dir: Path, demo_paths: list[Path], record: dict) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    properties = torch.cuda.get_device_properties(0)
    record["gpu"] = f"{properties.name}, {properties.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
    print(f"GPU: {record['gpu']}")
    dtypes = [getattr(torch, name) for name in args.dtypes.split(",")]

    print("\n1. GEMM ceilings (vision block mix, 25,120 rows):")
    ceilings = {}
    for dtype in (torch.float32, *dtypes):
        ceilings[dtype] = gemm_ceiling(dtype, CEILING_ROWS, device="cuda")["best"]
        print(f"  {str(dtype).removeprefix('torch.')}: {ceilings[dtype]:,.0f} GFLOP/s")
    record["ceilings_gflops"] = {str(dtype): value for dtype, value in ceilings.items()}

    model = full_size_model().to("cuda")
    processor = full_size_processor(args.work_dir)
    print("\n2. Vision encoder:")
    record["encoder"] = {}
    for dtype in dtypes:
        model.to(dtype)
        batch_sizes = [int(size) for size in args.encoder_batch_sizes.split(",")]
        encoder_part(model, dtype, ceilings[dtype], batch_sizes, record["encoder"])
    print("\n3. Clip captioning:")
    record["clip_captions"] = {}
    for dtype in dtypes:
        model.to(dtype)
        batch_sizes = [int(size) for size in args.decode_batch_sizes.split(",")]
        decode_part(model, dtype, batch_sizes, record["clip_captions"])

    piece = synthetic_video(args.work_dir / f"synthetic_{PIECE_SECONDS}s.mp4", PIECE_SECONDS)
    hour = args.video or looped_video(piece, args.work_dir / "synthetic_hour.mp4", 3600 // PIECE_SECONDS)
    print(f"\n4. Frame decoding ({args.decode_minutes:g} minutes of {hour.name}):")
    record["frame_decoding"] = {}
    frame_decoding_part(hour, args.decode_minutes, record["frame_decoding"])
    print(f"\n5. One video-hour at all three levels, frame decoding included (batch {args.batch_size}):")
    record["video_hour"] = {}
    for dtype in dtypes:
        model.to(dtype)
        hour_part(model, processor, hour, dtype, args.batch_size, ceilings[dtype], record["video_hour"])

    print("\n6. Greedy agreement with CPU float32:")
    record["agreement"] = {}
    demo_processor = VideoReCapProcessor.from_pretrained(demo_dir)
    for dtype in (torch.float32, *dtypes):
        name = str(dtype).removeprefix("torch.")
        model.to(dtype)
        full_size = caption_files(model, processor, [references["video"]], level_generate_kwargs=fixed_lengths())
        demo_model = VideoReCapForConditionalGeneration.from_pretrained(demo_dir, dtype=dtype).eval().to("cuda")
        demo = caption_files(demo_model, demo_processor, demo_paths)
        shares = {
            "full_size": agreement(references["full_size"], full_size),
            "demo": agreement(references["demo"], demo),
        }
        record["agreement"][name] = shares
        for model_name, share in shares.items():
            print(
                f"  CUDA {name}, {model_name.replace('_', '-')} model: equal to CPU float32's: "
                + ", ".join(f"{level} {value:.0%}" for level, value in share.items())
            )


if __name__ == "__main__":
    main()
