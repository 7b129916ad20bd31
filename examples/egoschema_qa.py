"""Answer EgoSchema's questions from Video ReCap's hierarchical captions and print the paper's Table 3 layout.

    python examples/egoschema_qa.py --model RECAP_DIR --llm LLM_ID_OR_DIR --questions egoschema/questions.json \
        --answers egoschema/subset_answers.json --videos egoschema/videos --output runs/egoschema

1. Captions every video once with `pipeline("video-recap")` into OUTPUT/captions.jsonl (one line per finished video,
   so a killed run resumes where it stopped). Captions saved before (`--captions RESULTS.jsonl` from
   `transformers-recap caption DIR --output RESULTS.jsonl`, or a previous run's file) are reused.
2. Answers each question from the captions of each setting of `--settings` (default: clip captions; clip captions
   and segment descriptions; all three levels) with `--llm`: a local causal language model (`--method score`: the
   option with the highest mean log-likelihood per token; `--method generate`: the model's reply, read by its letter)
   or `text-similarity` (a baseline that needs no language model). Predictions go to OUTPUT/predictions.jsonl,
   also resumable.
3. Prints the accuracy of each setting (and of each question kind, where the questions have one) and writes
   OUTPUT/results.json; for questions without an answers file, writes OUTPUT/submission_<setting>.csv (`q_uid,answer`,
   Kaggle's egoschema-public format).

Offline, on Synthetic-HCap videos the bundled demo model never saw (`--synthetic-videos N --synthetic-seed S` writes
the videos, questions and answers into OUTPUT/synthetic first; `--ground-truth-captions` answers from the true
captions instead, an upper bound for the captioner):

    python examples/egoschema_qa.py --model demo --llm text-similarity --synthetic-videos 30 \
        --synthetic-seed 7000 --output runs/synthetic_qa
"""

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from transformers_recap.engine.results import append_line, drop_torn_line, write_atomically


PROG = "egoschema_qa.py"
DEFAULT_SETTINGS = "clip,clip+segment,hierarchical"


class ExampleError(Exception):
    """Bad input: printed as one line, exit status 1."""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Video ReCap model directory or Hub id ('demo': the bundled demo model)")
    parser.add_argument("--llm", required=True, help="causal language model id or directory, or 'text-similarity'")
    parser.add_argument("--questions", help="EgoSchema questions.json")
    parser.add_argument("--answers", help="answers file (subset_answers.json); without it, submissions are written")
    parser.add_argument("--videos", help="folder of <q_uid>.mp4 (or <video_uid>.mp4)")
    parser.add_argument("--output", required=True, help="output folder (captions, predictions, results)")
    parser.add_argument("--captions", action="append", default=[], help="saved captions (.jsonl or .json); repeatable")
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help=f"comma-separated (default: {DEFAULT_SETTINGS})")
    parser.add_argument("--method", choices=["score", "generate"], default="score", help="how the LLM answers")
    parser.add_argument("--normalization", choices=["token", "char", "none"], default="token", help="option scores")
    parser.add_argument("--max-prompt-tokens", type=int, help="prompt budget (default: the LLM's context length)")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="reply length with --method generate")
    parser.add_argument("--segment-seconds", type=float, help="segment window of the captioner (default: model's)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per captioning call")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument(
        "--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto", help="LLM dtype"
    )
    parser.add_argument("--synthetic-videos", type=int, help="write a Synthetic-HCap QA set of N videos and use it")
    parser.add_argument("--synthetic-seed", type=int, default=7000, help="seed of that set (default: 7000)")
    parser.add_argument(
        "--ground-truth-captions", action="store_true", help="synthetic set: answer from true captions"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------------------------
# Result files: JSON lines appended whole and synced, so that a killed run loses or duplicates no finished work.
# ---------------------------------------------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON lines file; a last line cut short by a kill is removed from the file."""
    if not path.exists():
        return []
    drop_torn_line(path)
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise ExampleError(f"{path}:{number}: not valid JSON; remove the line to continue") from None
        if isinstance(record, dict):
            records.append(record)
    return records


# ---------------------------------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------------------------------


def model_directory(name: str | None) -> str | None:
    from transformers_recap import demo_model_path

    return demo_model_path() if name == "demo" else name


def prepare_synthetic(args: argparse.Namespace, output: Path) -> None:
    """Writes the Synthetic-HCap QA set into OUTPUT/synthetic in the layout of the model's training data."""
    from transformers_recap.data import write_synthetic_egoschema
    from transformers_recap.data.synthetic import SYNTHETIC_SETTINGS_FILE

    layout = {}
    model = model_directory(args.model)
    if model and (Path(model) / SYNTHETIC_SETTINGS_FILE).is_file():
        settings = json.loads((Path(model) / SYNTHETIC_SETTINGS_FILE).read_text())
        if args.synthetic_seed in settings.get("seeds", []):
            raise ExampleError(f"seed {args.synthetic_seed} made {model}'s training data; choose another")
        keys = ("size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video")
        layout = {key: settings[key] for key in keys if key in settings}
    directory = output / "synthetic"
    summary = write_synthetic_egoschema(
        directory, args.synthetic_videos, args.synthetic_seed, render=not args.ground_truth_captions, **layout
    )
    args.questions, args.answers, args.videos = summary.questions_file, summary.answers_file, str(directory / "videos")
    if args.ground_truth_captions:
        args.captions.append(summary.captions_file)
    print(
        f"{PROG}: {summary.num_questions} questions on {len(summary.video_uids)} videos in {directory}",
        file=sys.stderr,
    )


def load_captions(args: argparse.Namespace, video_uids: list[str], cache: Path) -> dict[str, Any]:
    """Captions of every video: saved ones, then the run's cache, then the captioner for the rest."""
    from transformers_recap import HierarchicalCaptions, VideoDecodingError
    from transformers_recap.qa import read_saved_captions

    captions: dict[str, HierarchicalCaptions | str] = {}
    for path in args.captions:
        captions.update(read_saved_captions(path))
    for record in read_records(cache):
        uid = record.get("video_uid")
        if uid is not None and uid not in captions:
            captions[uid] = record["error"] if "error" in record else HierarchicalCaptions.from_dict(record)
    pending = [uid for uid in video_uids if uid not in captions]
    if not pending:
        return captions
    if not args.model:
        raise ExampleError(
            f"{len(pending)} videos have no saved captions (e.g. {pending[0]}); pass --model to caption"
        )
    if not args.videos:
        raise ExampleError("--videos is needed to caption the videos")
    print(f"{PROG}: captioning {len(pending)} of {len(video_uids)} videos -> {cache}", file=sys.stderr)
    recap = build_captioner(args)
    options = {"batch_size": args.batch_size, "progress": False}
    if args.segment_seconds:
        options["segment_seconds"] = args.segment_seconds
    for uid in tqdm(pending, desc="captioning", disable=args.no_progress):
        path = os.path.join(args.videos, f"{uid}.mp4")
        record: dict[str, Any] = {"video_uid": uid, "video": path}
        if not os.path.isfile(path):
            record["error"] = "no such file"
        else:
            try:
                record.update(recap(path, **options).to_dict())
            except VideoDecodingError as error:
                record["error"] = error.reason
        if "error" in record:
            print(f"{PROG}: {path}: {record['error']}", file=sys.stderr)
            captions[uid] = record["error"]
        else:
            captions[uid] = HierarchicalCaptions.from_dict(record)
        append_line(cache, record)
    return captions


def build_captioner(args: argparse.Namespace):
    import torch
    from transformers import pipeline

    import transformers_recap  # noqa: F401  (registers the video-recap task)

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return pipeline("video-recap", model=model_directory(args.model), device=device)
    except (OSError, ValueError) as error:
        raise ExampleError(f"{args.model}: cannot load the captioning model ({error})") from None


def build_answerer(args: argparse.Namespace):
    from transformers_recap.qa import SIMILARITY_BASELINE, LanguageModelQA, TextSimilarityQA

    if args.llm == SIMILARITY_BASELINE:
        return TextSimilarityQA()
    try:
        return LanguageModelQA.from_pretrained(
            args.llm,
            device=args.device,
            dtype=args.dtype,
            method=args.method,
            normalization=args.normalization,
            max_prompt_tokens=args.max_prompt_tokens,
            max_new_tokens=args.max_new_tokens,
        )
    except (OSError, ValueError) as error:
        raise ExampleError(f"{args.llm}: cannot load the language model ({error})") from None


def answer_all(args, questions, captions, settings, predictions_file: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Answers every question in every setting, skipping those already in the predictions file."""
    from transformers_recap.qa import SIMILARITY_BASELINE, PromptBudgetError

    run = {"llm": args.llm, "method": None if args.llm == SIMILARITY_BASELINE else args.method}
    done = {}
    for record in read_records(predictions_file):
        if record.get("llm") == run["llm"] and record.get("method") == run["method"]:
            done[(record["q_uid"], record["setting"])] = record
    todo = [(q, name) for name in settings for q in questions if (q["q_uid"], name) not in done]
    if not todo:
        return done
    answerer = build_answerer(args)
    for question, name in tqdm(todo, desc="answering", disable=args.no_progress):
        record = {"q_uid": question["q_uid"], "setting": name, **run, "answer": question["answer"]}
        video_captions = captions.get(question["video_uid"])
        if not hasattr(video_captions, "clips"):
            record["error"] = f"no captions ({video_captions or 'video not captioned'})"
        else:
            try:
                result = answerer.answer(video_captions, question["question"], question["options"], settings[name])
            except PromptBudgetError as error:
                record["error"] = str(error)
            else:
                record["prediction"] = result.prediction
                if result.scores is not None:
                    record["scores"] = [round(score, 6) for score in result.scores]
                if result.generated is not None:
                    record["generated"] = result.generated
                if result.prompt is not None:
                    record["prompt_tokens"] = result.prompt.num_tokens
                    record["truncated"] = result.prompt.truncated
        done[(question["q_uid"], name)] = record
        append_line(predictions_file, record)
    return done


def report(questions, settings, predictions, output: Path) -> int:
    from transformers_recap.qa import PAPER_TABLE_3, setting_title

    answered = [q for q in questions if q["answer"] >= 0]
    results: dict[str, Any] = {"settings": {}, "num_questions": len(questions), "num_with_answers": len(answered)}
    kinds = sorted({q["kind"] for q in answered if q["kind"]})
    # Synthetic questions have kinds (a column each); EgoSchema's get the paper's numbers next to them.
    columns = kinds or ["Paper"]
    if answered:
        width = max(len(setting_title(levels)) for levels in settings.values()) + 2
        print(f"\n{'Caption setting':<{width}}{'Accuracy':>10}{'Questions':>11}{''.join(f'{c:>13}' for c in columns)}")
    for name, levels in settings.items():
        records = [predictions[(q["q_uid"], name)] for q in questions]
        failed = sum("error" in record for record in records)
        entry: dict[str, Any] = {"levels": list(levels), "failed": failed}
        if answered:
            hits = {q["q_uid"]: predictions[(q["q_uid"], name)].get("prediction") == q["answer"] for q in answered}
            entry["accuracy"] = sum(hits.values()) / len(answered)
            entry["by_kind"] = {
                kind: sum(hits[q["q_uid"]] for q in answered if q["kind"] == kind)
                / sum(q["kind"] == kind for q in answered)
                for kind in kinds
            }
            if kinds:
                extra = "".join(f"{entry['by_kind'][kind]:>13.1%}" for kind in kinds)
            else:
                extra = f"{PAPER_TABLE_3[levels]:>12.2f}%" if levels in PAPER_TABLE_3 else f"{'-':>13}"
            print(f"{setting_title(levels):<{width}}{entry['accuracy']:>10.1%}{len(answered):>11}{extra}")
        unanswered = [q for q in questions if q["answer"] < 0]
        if unanswered:
            submission = output / f"submission_{name.replace('+', '_')}.csv"
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["q_uid", "answer"])
            for q in unanswered:
                prediction = predictions[(q["q_uid"], name)].get("prediction")
                # Kaggle needs an answer for every question: one the model could not give is written as option 0.
                writer.writerow([q["q_uid"], 0 if prediction is None else prediction])
            write_atomically(submission, buffer.getvalue())
            entry["submission"] = str(submission)
            print(f"{PROG}: {len(unanswered)} questions without answers -> {submission}", file=sys.stderr)
        if failed:
            print(f"{PROG}: {setting_title(levels)}: {failed} questions could not be answered", file=sys.stderr)
        results["settings"][name] = entry
    if answered:
        print(f"(chance: {1 / len(questions[0]['options']):.0%}; unanswerable questions count as wrong)")
    write_atomically(output / "results.json", json.dumps(results, indent=2) + "\n")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ExampleError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; run again to resume", file=sys.stderr)
        return 130


def run(args: argparse.Namespace) -> int:
    from transformers.utils import logging

    from transformers_recap.data import EgoSchemaFormatError, load_egoschema
    from transformers_recap.qa import CaptionFileError, parse_levels

    if args.no_progress:
        logging.disable_progress_bar()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    try:
        settings = {name.strip(): parse_levels(name.strip()) for name in args.settings.split(",") if name.strip()}
    except ValueError as error:
        raise ExampleError(str(error)) from None
    if args.synthetic_videos:
        prepare_synthetic(args, output)
    elif args.ground_truth_captions:
        raise ExampleError("--ground-truth-captions needs --synthetic-videos")
    if not args.questions:
        raise ExampleError("pass --questions (or --synthetic-videos)")
    try:
        dataset = load_egoschema(args.questions, args.answers)
        questions = dataset.to_list()[: args.limit] if args.limit else dataset.to_list()
        if not questions:
            raise ExampleError(f"{args.questions}: no questions")
        video_uids = list(dict.fromkeys(q["video_uid"] for q in questions))
        captions = load_captions(args, video_uids, output / "captions.jsonl")
    except (EgoSchemaFormatError, CaptionFileError) as error:
        raise ExampleError(str(error)) from None
    predictions = answer_all(args, questions, captions, settings, output / "predictions.jsonl")
    return report(questions, settings, predictions, output)


if __name__ == "__main__":
    sys.exit(main())
