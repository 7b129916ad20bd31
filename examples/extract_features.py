"""Extract per-clip CLS features (and optionally dense tokens and clip captions) of many videos with the encoder.

    accelerate launch examples/extract_features.py --model DIR --videos VIDEO_DIR_OR_LIST --output-dir FEATURES_DIR
    torchrun --nproc_per_node 2 examples/extract_features.py --model DIR --videos videos/ --output-dir features/ --captions

Every video is decoded once and each 4-s clip encoded once; `<video_uid>.safetensors` holds `cls` `(num_clips, 768)`
float32 (one row per clip window from 0, the layout of the original `features/videos/<vid>.npy`) and, with `--dense`,
`dense` `(num_clips, 785, 768)` float16. `<video_uid>.json` records the duration and, with `--captions`, the
predicted clip captions; it is written last, so a video is finished once its JSON exists. Videos are sharded over
the processes; every file is written atomically (fsync before the rename), so a killed run loses nothing already
written, and a restart skips finished videos and deletes the temporary files the kill left. Videos that cannot be
read are reported, skipped and recorded in `failed/<video_uid>.json`; later runs report them without retrying while
the file is unchanged (`--retry-failed` retries them). The segment and video training stages read these files
(`data.features_dir`).
"""

import argparse
import sys
from pathlib import Path

import torch
from accelerate import PartialState

from transformers_recap import HierarchicalCaptioner, VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.cli import CommandError, list_videos
from transformers_recap.training.extraction import extract_videos


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="Video ReCap model directory or Hub id (its encoder is used)")
    parser.add_argument("--videos", required=True, help="a directory of videos or a text file listing one per line")
    parser.add_argument(
        "--output-dir", "--output", required=True, help="directory for <video_uid>.safetensors / .json"
    )
    parser.add_argument("--captions", action="store_true", help="also caption every clip (clip level)")
    parser.add_argument("--dense", action="store_true", help="also store the dense tokens of every clip (large)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per model call")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--retry-failed", action="store_true", help="retry videos an earlier run could not read")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    state = PartialState()
    try:
        paths = list_videos(args.videos)
    except (CommandError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    videos = {Path(path).stem: path for path in paths}
    if len(videos) != len(paths):
        print("error: several videos share a file name (the video uid); rename them", file=sys.stderr)
        return 2
    model = VideoReCapForConditionalGeneration.from_pretrained(args.model, dtype=getattr(torch, args.dtype))
    model = model.to(state.device).eval()
    processor = VideoReCapProcessor.from_pretrained(args.model)
    captioner = HierarchicalCaptioner(model, processor, levels=("clip",), batch_size=args.batch_size, progress=False)
    failures = extract_videos(
        captioner,
        videos,
        args.output_dir,
        caption_clips=args.captions,
        save_dense=args.dense,
        state=state,
        retry_failed=args.retry_failed,
    )
    for uid, message in failures:
        print(f"skipped {uid}: {message}", file=sys.stderr)
    state.wait_for_everyone()
    return 0


if __name__ == "__main__":
    sys.exit(main())
