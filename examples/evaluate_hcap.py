"""Evaluate a Video ReCap model on an Ego4D-HCap split and print the paper's Table 2 layout.

    python examples/evaluate_hcap.py --model DIR --data-dir ego4d_hcap --video-dir ego4d/videos \
        --features-dir ego4d_hcap/features --split validation --levels clip,segment,video --output predictions.json

As the paper's evaluation (original `eval.py`): every 100th clip of the clip split (`--clip-every`), all segments
and videos; segment and video inputs are the CLS features and the *predicted* lower-level captions stored in the
annotation files; predictions and references are stripped and lower-cased and scored with CIDEr / METEOR (COCO
caption code without PTB tokenisation) and ROUGE-L (rouge_score's rougeLsum), x100.
"""

import argparse
import json
import sys

import torch

from transformers_recap import LEVELS, VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.data import load_ego4d_hcap
from transformers_recap.engine.video_io import read_clip_frames
from transformers_recap.metrics import MeteorScorer
from transformers_recap.training.evaluation import evaluate_level, format_table


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="converted or trained model directory (or Hub id)")
    parser.add_argument("--data-dir", required=True, help="Ego4D-HCap annotation directory")
    parser.add_argument("--video-dir", help="videos (<video_uid>.mp4), for the clip level")
    parser.add_argument("--features-dir", help="CLS features (original features/ layout or <video_uid>.safetensors)")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--levels", default="clip,segment,video", help="comma-separated levels")
    parser.add_argument("--clip-every", type=int, default=100, help="evaluate every N-th clip (paper: 100)")
    parser.add_argument("--limit", type=int, help="at most N examples per level")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-beams", type=int, default=1)
    parser.add_argument("--mode", choices=["videorecap", "coco"], default="videorecap", help="metric pipeline")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--name", default="this model", help="row name in the table")
    parser.add_argument("--output", help="write predictions and scores to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    levels = [level.strip() for level in args.levels.split(",") if level.strip()]
    unknown = [level for level in levels if level not in LEVELS]
    if unknown:
        print(f"error: unknown level(s) {unknown}; expected some of {list(LEVELS)}", file=sys.stderr)
        return 2
    model = VideoReCapForConditionalGeneration.from_pretrained(args.model, dtype=getattr(torch, args.dtype))
    model = model.to(args.device).eval()
    processor = VideoReCapProcessor.from_pretrained(args.model)
    results, output = {}, {}
    with MeteorScorer() as meteor:
        for level in levels:
            dataset = load_ego4d_hcap(
                level, args.data_dir, split=args.split, video_dir=args.video_dir, features_dir=args.features_dir
            )
            if level == "clip" and args.clip_every > 1:
                dataset = dataset.select(range(0, len(dataset), args.clip_every))
            if args.limit:
                dataset = dataset.select(range(min(args.limit, len(dataset))))
            evaluation = evaluate_level(
                model,
                processor,
                list(dataset),
                level,
                mode=args.mode,
                meteor_scorer=meteor,
                batch_size=args.batch_size,
                clip_reader=read_clip_frames,
                generation_kwargs={"num_beams": args.num_beams},
            )
            results[level] = evaluation.scores
            output[level] = {
                "scores": evaluation.scores,
                "predictions": [
                    {
                        "video_uid": ex["video_uid"],
                        "start_sec": ex["start_sec"],
                        "end_sec": ex["end_sec"],
                        "prediction": prediction,
                        "reference": reference,
                    }
                    for ex, prediction, reference in zip(
                        evaluation.examples, evaluation.predictions, evaluation.references, strict=True
                    )
                ],
            }
    print(format_table({args.name: results}))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as file:
            json.dump(output, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
