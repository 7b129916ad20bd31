"""Score Synthetic-HCap models, an LLM teacher and the trivial baseline on held-out seeds, per level.

    python examples/evaluate_synthetic_heldout.py --seeds 7000-7015 --work-dir outputs/heldout \
        --model "demo model=demo" --model "recipe=outputs/demo_recipe/curriculum/export" \
        --teacher outputs/demo_recipe/teacher/teacher --train-data outputs/demo_recipe/data

Every seed `s` gives the video `synthetic-<s>-00000` in the models' training layout (their `synthetic_hcap.json`;
seeds that made a model's training or validation data are refused). A model captions each video recursively, as a
user runs it (`HierarchicalCaptioner`: its own clip captions feed its segment level, its segment descriptions its
video level). The teacher is given the ground truth of the level below (clip captions -> segment description,
segment descriptions -> video summary), as it is trained and as it writes pseudo annotations. The baseline predicts
the most frequent training caption of each level (`--train-data`). CIDEr / ROUGE-L / METEOR x 100 as the paper's
evaluation (`compute_caption_metrics`, videorecap mode).

`--given-ground-truth` separates what a level reads from what the level below gives it: each model's segment and
video levels also caption every window from the ground-truth captions of the level below (with the model's own
video features), and the video level gets two reference rows without a model, the summary template ("C ..., then
..., and finally ....", the form of one synthetic summary) filled with the ground-truth segment descriptions and with
each model's own: what reading its input out perfectly would score.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from transformers_recap import LEVELS, demo_model_path
from transformers_recap.data import load_ego4d_hcap
from transformers_recap.data.synthetic import (
    SYNTHETIC_SETTINGS_FILE,
    plan_synthetic_video,
    render_in_layout,
)
from transformers_recap.engine import HierarchicalCaptioner, open_video
from transformers_recap.metrics import MeteorScorer, compute_caption_metrics
from transformers_recap.models.video_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor
from transformers_recap.training.evaluation import format_table, most_frequent_caption


LAYOUT_KEYS = ("size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video")


def parse_seeds(text: str) -> list[int]:
    """`"7000-7015"` (inclusive) or `"7000,7003"`."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-", 1))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",")]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=parse_seeds, default=parse_seeds("7000-7015"), help="e.g. 7000-7015")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=DIR", help="'demo' for the bundled one")
    parser.add_argument(
        "--teacher", action="append", default=[], metavar="[NAME=]DIR", help="a trained teacher folder"
    )
    parser.add_argument("--train-data", help="Synthetic-HCap data folder of the most-frequent-caption baseline")
    parser.add_argument("--work-dir", required=True, help="rendered videos and predictions.json go here")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--given-ground-truth",
        action="store_true",
        help="also caption the segment and video levels from the ground truth below, and score the summary template",
    )
    return parser.parse_args(argv)


def named(value: str, default: str) -> tuple[str, str]:
    name, _, path = value.rpartition("=")
    return (name or default), path


def scores(predictions: list[str], references: list[str], meteor_scorer) -> dict[str, float]:
    metrics = compute_caption_metrics(predictions, references, mode="videorecap", meteor_scorer=meteor_scorer)
    return {"CIDEr": 100 * metrics["CIDEr"], "ROUGE_L": 100 * metrics["rougeLsum"], "METEOR": 100 * metrics["METEOR"]}


def references(videos) -> dict[str, list[str]]:
    return {
        "clip": [clip.caption for video in videos for clip in video.clips],
        "segment": [segment.description for video in videos for segment in video.segments],
        "video": [video.summary for video in videos],
    }


def caption_with_model(directory: str, paths: list[Path], batch_size: int) -> dict[str, list[str]]:
    model = VideoReCapForConditionalGeneration.from_pretrained(directory).eval()
    processor = VideoReCapProcessor.from_pretrained(directory)
    captioner = HierarchicalCaptioner(model, processor, batch_size=batch_size, progress=False)
    predictions = {level: [] for level in LEVELS}
    for path in paths:
        captions = captioner.caption_video(str(path))
        predictions["clip"].extend(caption.text for caption in captions.clips)
        predictions["segment"].extend(caption.text for caption in captions.segments)
        predictions["video"].append(captions.summary)
    return predictions


def caption_given_truth(directory: str, paths: list[Path], videos, batch_size: int) -> dict[str, list[str]]:
    """Each model's segment and video levels, given the ground-truth captions of the level below."""
    model = VideoReCapForConditionalGeneration.from_pretrained(directory).eval()
    processor = VideoReCapProcessor.from_pretrained(directory)
    captioner = HierarchicalCaptioner(model, processor, batch_size=batch_size, progress=False)
    num_frames = model.config.vision_config.num_frames
    predictions = {"segment": [], "video": []}
    for path, video in zip(paths, videos, strict=True):
        with open_video(str(path), captioner.clip_seconds, num_frames, short_side=captioner.short_side) as reader:
            cls_features, _ = captioner.caption_clips(reader, caption=False)
        clip_index = np.arange(len(cls_features))
        segments = video.segments
        features = [
            processor.window_video_features(cls_features, segment.start_sec, segment.end_sec, clip_index)
            for segment in segments
        ]
        contexts = [[clip.caption for clip in segment.clips] for segment in segments]
        predictions["segment"] += captioner.describe_windows("segment", features, contexts)
        predictions["video"] += captioner.describe_windows(
            "video", [cls_features], [[segment.description for segment in segments]]
        )
    return predictions


def per_video(segment_predictions: list[str], videos) -> list[list[str]]:
    """A model's segment descriptions of all videos, split by video (each synthetic segment gets one)."""
    ends = np.cumsum([len(video.segments) for video in videos])
    if len(segment_predictions) != (ends[-1] if len(ends) else 0):
        raise ValueError(f"{len(segment_predictions)} segment descriptions for {ends[-1]} segments.")
    return [segment_predictions[end - len(video.segments) : end] for end, video in zip(ends, videos, strict=True)]


def summary_template(descriptions: list[str]) -> str:
    """
    One synthetic summary form filled with segment descriptions ("C a.", "C b.", "C c." -> "C a, then b, and finally
    c."); hand-written.
    """
    activities = [description.removeprefix("C ").rstrip(".") for description in descriptions]
    if len(activities) == 1:
        return f"C {activities[0]}."
    return f"C {', then '.join(activities[:-1])}, and finally {activities[-1]}."


def caption_with_teacher(directory: str, videos, batch_size: int) -> dict[str, list[str]]:
    from transformers_recap.training.teacher import TeacherDataCollator, load_teacher
    from transformers_recap.training.teacher.modeling import decode, encode_prompt, generate_ids
    from transformers_recap.training.teacher.pairs import prompt_parts

    teacher = load_teacher(directory)
    collator = TeacherDataCollator(teacher.tokenizer.pad_token_id, teacher.causal)
    inputs = {
        "segment": [[clip.caption for clip in segment.clips] for video in videos for segment in video.segments],
        "video": [[segment.description for segment in video.segments] for video in videos],
    }
    predictions = {}
    for task, prompts in inputs.items():
        if task not in teacher.tasks:
            continue
        options = teacher.tasks[task]
        ids = [
            encode_prompt(
                teacher.tokenizer, prompt_parts(task, options, texts, teacher.causal), options.max_input_tokens,
                teacher.causal,
            )
            for texts in prompts
        ]  # fmt: skip
        predictions[task] = []
        for start in range(0, len(ids), batch_size):
            batch = collator([{"prompt_ids": row, "target_ids": [0]} for row in ids[start : start + batch_size]])
            key = "prompt_input_ids" if teacher.causal else "input_ids"
            mask = "prompt_attention_mask" if teacher.causal else "attention_mask"
            with torch.no_grad():
                output = generate_ids(
                    teacher.model, batch[key], batch[mask], teacher.causal, max_new_tokens=options.max_target_tokens
                )
            predictions[task].extend(decode(teacher.tokenizer, output))
    return predictions


def main(argv=None) -> int:
    args = parse_args(argv)
    models = [named(value, Path(value).name) for value in args.model]
    models = [(name, demo_model_path() if path == "demo" else path) for name, path in models]
    if not models:
        models = [("demo model", demo_model_path())]
    layout = None
    for _, directory in models:
        settings_file = Path(directory) / SYNTHETIC_SETTINGS_FILE
        if not settings_file.is_file():
            print(f"error: {directory} has no {SYNTHETIC_SETTINGS_FILE}; not a Synthetic-HCap model.", file=sys.stderr)
            return 2
        settings = json.loads(settings_file.read_text())
        used = set(settings["seeds"]) & set(args.seeds)
        if used:
            print(f"error: seed {min(used)} made training or validation data of {directory}.", file=sys.stderr)
            return 2
        this_layout = {key: settings[key] for key in LAYOUT_KEYS}
        if layout is not None and this_layout != layout:
            print(f"error: {directory} was trained on another Synthetic-HCap layout.", file=sys.stderr)
            return 2
        layout = this_layout

    work_dir = Path(args.work_dir)
    video_dir = work_dir / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    videos, paths = [], []
    for seed in args.seeds:
        path = video_dir / f"synthetic-{seed}-00000.mp4"
        if path.is_file():
            layout_args = {key: layout[key] for key in ("clip_seconds", "clips_per_segment", "segments_per_video")}
            video = plan_synthetic_video(f"synthetic-{seed}-00000", (seed, 0), **layout_args)
        else:
            video, path = render_in_layout(layout, seed, video_dir)
        videos.append(video)
        paths.append(path)
    truth = references(videos)

    predictions = {}
    for name, directory in models:
        predictions[name] = caption_with_model(directory, paths, args.batch_size)
    if args.given_ground_truth:
        predictions["summary template of the ground-truth segment descriptions"] = {
            "video": [summary_template([segment.description for segment in video.segments]) for video in videos]
        }
        for name, directory in models:
            predictions[f"summary template of {name}'s segment descriptions"] = {
                "video": [summary_template(own) for own in per_video(predictions[name]["segment"], videos)]
            }
            predictions[f"{name} (given the ground truth below)"] = caption_given_truth(
                directory, paths, videos, args.batch_size
            )
    for value in args.teacher:
        name, directory = named(value, "teacher")
        predictions[f"{name} (given the ground truth below)"] = caption_with_teacher(
            directory, videos, args.batch_size
        )
    if args.train_data:
        for level in LEVELS:
            train = load_ego4d_hcap(level, args.train_data, split="train", cache_dir=work_dir / "cache")["text"]
            baseline = most_frequent_caption(train)
            predictions.setdefault("most frequent training caption", {})[level] = [baseline] * len(truth[level])

    results = {}
    with MeteorScorer() as meteor:
        for name, per_level in predictions.items():
            results[name] = {level: scores(per_level[level], truth[level], meteor) for level in per_level}
    (work_dir / "predictions.json").write_text(
        json.dumps({"seeds": args.seeds, "references": truth, "predictions": predictions, "scores": results}, indent=1)
    )
    print(f"{len(videos)} held-out videos (seeds {args.seeds[0]}-{args.seeds[-1]}): CIDEr / ROUGE-L / METEOR x 100")
    print(format_table(results, with_paper=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
