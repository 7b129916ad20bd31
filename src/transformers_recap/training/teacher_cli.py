# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Command-line entry points of the teacher step: `add_teacher_parser` / `run_teacher` (training and evaluation) and
`add_pseudo_parser` / `run_pseudo` (pseudo annotations). They are the `transformers-recap teacher` and
`transformers-recap pseudo` subcommands; `examples/train_llm_teacher.py` and `examples/generate_pseudo_annotations.py`
call the same functions. This module imports only `argparse` until a command runs, so `transformers-recap --help`
stays fast.
"""

import argparse
import dataclasses
import sys


def add_teacher_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, help="teacher YAML (see examples/configs/teacher_*.yaml)")
    parser.add_argument("--max-steps", type=int, default=None, help="stop each teacher after N optimiser steps")
    parser.add_argument("--resume", action="store_true", help="continue from the last Trainer checkpoint")
    parser.add_argument("--force", action="store_true", help="retrain teachers that are already trained")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation by generation")
    parser.add_argument("--output-dir", default=None, help="where the teachers and logs go (the config's output_dir)")
    _add_overrides(parser)
    return parser


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="settings over the YAML's, dotted keys and YAML values, e.g. training.learning_rate=1e-4",
    )


def add_pseudo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, help="the teacher YAML the teacher was trained with")
    parser.add_argument("--teacher", default=None, help="trained teacher folder (default: from the config)")
    parser.add_argument("--output-dir", default=None, help="where the *_train_pseudo files go (default: data dir)")
    parser.add_argument("--work-dir", default=None, help="progress logs and plan (default: <output_dir>/pseudo)")
    parser.add_argument("--batch-size", type=int, default=None, help="generation batch size per device")
    parser.add_argument("--max-segments", type=int, default=None, help="cap on pseudo segment descriptions")
    parser.add_argument("--max-videos", type=int, default=None, help="cap on pseudo video summaries")
    parser.add_argument("--restart", action="store_true", help="discard the progress of an earlier run")
    _add_overrides(parser)
    return parser


def _error(error: BaseException) -> int:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_teacher(args: argparse.Namespace) -> int:
    """Trains and evaluates the teacher of `args.config`; prints the Table 6a row. Returns the exit code."""
    from accelerate import PartialState

    from .teacher.options import load_teacher_config
    from .teacher.training import format_teacher_table, train_teacher

    try:
        config = load_teacher_config(args.config, overrides=args.overrides, output_dir=args.output_dir)
        run = train_teacher(
            config, max_steps=args.max_steps, resume=args.resume, force=args.force, evaluate=not args.no_eval
        )
    except (ValueError, FileNotFoundError) as error:
        return _error(error)
    if PartialState().is_main_process:
        for task, directory in run.teacher_dirs.items():
            print(f"{task} teacher: {directory}")
        if run.metrics:
            print(f"\nLLM teacher on the {config.evaluation.split} split (CIDEr / ROUGE-L / METEOR x 100):\n")
            print(format_teacher_table([(run.label, run.metrics)]))
    return 0


def run_pseudo(args: argparse.Namespace) -> int:
    """Writes (or resumes writing) the pseudo annotations of `args.config`. Returns the exit code."""
    from accelerate import PartialState

    from .teacher.options import load_teacher_config
    from .teacher.pseudo import generate_pseudo_annotations

    try:
        config = load_teacher_config(args.config, overrides=args.overrides)
        overrides = {
            "output_dir": args.output_dir,
            "work_dir": args.work_dir,
            "batch_size": args.batch_size,
            "max_segments": args.max_segments,
            "max_videos": args.max_videos,
        }
        overrides = {key: value for key, value in overrides.items() if value is not None}
        for key in ("batch_size", "max_segments", "max_videos"):
            if key in overrides and overrides[key] < (1 if key == "batch_size" else 0):
                raise ValueError(
                    f"--{key.replace('_', '-')} must be {'positive' if key == 'batch_size' else 'non-negative'}."
                )
        config.pseudo = dataclasses.replace(config.pseudo, **overrides)
        summary = generate_pseudo_annotations(config, teacher_dir=args.teacher, restart=args.restart)
    except (ValueError, FileNotFoundError) as error:
        return _error(error)
    if PartialState().is_main_process:
        for task, file in (("segment", summary.segments_file), ("video", summary.videos_file)):
            if file is None:
                continue
            print(
                f"{task}: {summary.written[task]} pseudo annotations written to {file} "
                f"({summary.planned[task]} windows planned over {summary.eligible_videos[task]} videos without "
                f"{task} annotations, {summary.skipped[task]} skipped)"
            )
        print(f"generated in this run: {summary.generated_now}; already done before: {summary.resumed}")
        for example in summary.skipped_examples:
            print(f"skipped: {example}")
    return 0


def add_teacher_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """`transformers-recap teacher`: fine-tune and evaluate the LLM teacher."""
    parser = subparsers.add_parser(
        "teacher",
        help="fine-tune and evaluate the LLM teacher (Sec. 3.4)",
        description="Fine-tune the LLM teacher on the manual annotations and evaluate it by generation.",
    )
    add_teacher_arguments(parser)
    parser.set_defaults(handler=run_teacher)
    return parser


def add_pseudo_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """`transformers-recap pseudo`: write pseudo segment descriptions and video summaries with a trained teacher."""
    parser = subparsers.add_parser(
        "pseudo",
        help="write pseudo annotations with a trained LLM teacher (resumable)",
        description="Write segments_train_pseudo.pkl and videos_train_pseudo.json with a trained LLM teacher.",
    )
    add_pseudo_arguments(parser)
    parser.set_defaults(handler=run_pseudo)
    return parser


__all__ = [
    "add_pseudo_arguments",
    "add_pseudo_parser",
    "add_teacher_arguments",
    "add_teacher_parser",
    "run_pseudo",
    "run_teacher",
]
