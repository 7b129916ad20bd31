# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The `transformers-recap` command.

    transformers-recap caption VIDEO --model DIR_OR_ID [--output FILE.json|.srt|.vtt|.md|.html] [--format ...]
    transformers-recap caption DIR_OR_LIST.txt --model DIR_OR_ID --output RESULTS.jsonl [--retry-errors]
    [accelerate launch -m | torchrun -m] transformers_recap.cli caption DIR_OR_LIST.txt --model DIR_OR_ID \
        --output-dir RESULTS/ [--shard INDEX/COUNT]
    transformers-recap merge RESULTS/ -o ALL.jsonl
    transformers-recap caption RECORDING.ts --model DIR_OR_ID --follow [IDLE_SECONDS] [--output EVENTS.jsonl]
    transformers-recap convert --clip CLIP.pt --segment SEG.pt --video VID.pt --output DIR
    transformers-recap demo [--seed N]
    transformers-recap teacher --config TEACHER.yaml [KEY=VALUE ...]
    transformers-recap pseudo --config TEACHER.yaml [--teacher DIR]

Each subcommand is a function `add_<name>_parser(subparsers)` listed in `SUBCOMMANDS`; it registers its arguments
and sets `handler` to a function `(args) -> exit code`.
"""

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conversion.arguments import add_arguments as add_convert_arguments
from .levels import LEVELS
from .training.teacher_cli import add_pseudo_parser, add_teacher_parser


PROG = "transformers-recap"
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list"})
FORMATS = {"json": "to_json", "srt": "to_srt", "vtt": "to_vtt", "md": "to_markdown", "html": "to_html"}
EXTENSION_FORMATS = {
    ".json": "json",
    ".srt": "srt",
    ".vtt": "vtt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
}
DTYPES = ("auto", "float32", "bfloat16", "float16")


class CommandError(Exception):
    """A user-facing failure: printed as one line, no traceback."""


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------------
# caption
# ---------------------------------------------------------------------------------------------------------------------


def add_caption_parser(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "caption",
        help="caption videos at the clip, segment and video levels",
        description=(
            "Caption one video (writes the chosen format), or every video of a directory or of a text file listing "
            "one path per line (appends one JSON line per finished video to --output; rerun to resume). Videos are "
            "identified by their resolved path, size and modification time, so a rerun from any directory skips "
            "what is done and a video listed twice is captioned once. The exit status is 1 when any video failed."
        ),
    )
    parser.add_argument("input", help="a video file, a directory of videos, or a .txt file listing videos")
    parser.add_argument("--model", required=True, help="a saved Video ReCap model directory or Hub id")
    parser.add_argument(
        "--format",
        choices=sorted(FORMATS),
        help="output format of a single video (default: from the --output extension .json/.srt/.vtt/.md, else json)",
    )
    parser.add_argument("--output", help="output file (default for a single video: standard output)")
    parser.add_argument(
        "--output-dir",
        help=(
            "batch mode for a video library: shard the videos (balanced by duration) over the processes of an "
            "`accelerate launch` or `torchrun` run (or --shard), each appending to its own resumable "
            "shard-NNNNN-of-NNNNN.jsonl here, with clips, segment windows and summaries of several videos batched "
            "together; `transformers-recap merge` joins the shards"
        ),
    )
    parser.add_argument(
        "--shard",
        metavar="INDEX/COUNT",
        help=(
            "with --output-dir: caption shard INDEX (from 0) of COUNT, e.g. 1/4 or $SLURM_PROCID/$SLURM_NTASKS "
            "(default: this process's index and the number of processes of the launch)"
        ),
    )
    parser.add_argument(
        "--retry-errors", action="store_true", help="batch mode: caption again the videos recorded as failed"
    )
    parser.add_argument(
        "--levels", default=",".join(LEVELS), help="comma-separated levels to produce (default: clip,segment,video)"
    )
    parser.add_argument("--clip-seconds", type=float, help="clip window in seconds (default: the model's, 4)")
    parser.add_argument("--segment-seconds", type=float, help="segment window in seconds (default: the model's, 180)")
    parser.add_argument("--batch-size", type=int, default=32, help="clips per model call (default: 32)")
    parser.add_argument("--max-new-tokens", type=int, help="cap on generated tokens at every level")
    parser.add_argument("--num-beams", type=int, help="beam search width (default: greedy)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda if available)")
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default="auto",
        help="model dtype; auto (the default): bfloat16 on CUDA and on CPUs with AMX or AVX512-BF16, else float32",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help=(
            "compile the video encoder with torch.compile: the first clip waits for the compilation (about a minute "
            "on a CPU), later clips run faster; worth it for videos of more than a few minutes"
        ),
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--follow",
        nargs="?",
        type=float,
        const=10.0,
        metavar="IDLE_SECONDS",
        help=(
            "caption a video while it is being recorded (MPEG-TS, Matroska or fragmented MP4): print each caption as "
            "a JSON line as soon as it is ready (or append it to --output); stop when the writer closes the file or "
            "it has not grown for IDLE_SECONDS (default: 10)"
        ),
    )
    parser.set_defaults(handler=run_caption)


def _parse_levels(text: str) -> tuple[str, ...]:
    levels = tuple(level.strip() for level in text.split(",") if level.strip())
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or not levels:
        raise CommandError(f"--levels must be a comma-separated subset of {','.join(LEVELS)}, got {text!r}")
    return levels


def list_videos(source: str) -> list[str]:
    """The videos of a directory (recursively, sorted, by extension) or of a list file (one path per line)."""
    from .engine.video_io import VIDEO_EXTENSIONS

    path = Path(source)
    if path.is_dir():
        videos = sorted(
            str(item) for item in path.rglob("*") if item.is_file() and item.suffix.lower() in VIDEO_EXTENSIONS
        )
        if not videos:
            raise CommandError(f"{source}: directory contains no videos ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        return videos
    base = path.parent
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CommandError(
            f"{source}: not a UTF-8 text file (byte 0x{error.object[error.start]:02x} at offset {error.start}); a "
            "list file names one video path per line"
        ) from None
    except OSError as error:
        raise CommandError(f"{source}: cannot be read ({error.strerror or error})") from None
    if "\0" in text:
        raise CommandError(f"{source}: contains NUL bytes; a list file names one video path per line")
    videos = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            videos.append(line if os.path.isabs(line) else str(base / line))
    if not videos:
        raise CommandError(f"{source}: list file names no videos")
    return videos


def _is_batch_input(source: str) -> bool:
    return os.path.isdir(source) or Path(source).suffix.lower() in LIST_EXTENSIONS and os.path.isfile(source)


def _resolve_device(name: str | None) -> str:
    """The `--device` to run on (default: cuda if available), refused here when this machine does not have it."""
    import torch

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise CommandError(f"--device {name}: not a device name (cpu, cuda, cuda:1, mps, ...)") from None
    if device.type == "mps":
        available, count = torch.backends.mps.is_available(), 1
    else:
        backend = getattr(torch, device.type, None)
        if not hasattr(backend, "is_available"):
            return name
        available = backend.is_available()
        count = backend.device_count() if available and hasattr(backend, "device_count") else 0
    if not available:
        raise CommandError(
            f"--device {name}: no {device.type} device is available here (torch reports none); use --device cpu"
        )
    if device.index is not None and device.index >= count:
        raise CommandError(f"--device {name}: this machine has {count} {device.type} device(s), numbered from 0")
    return name


def torch_device_type(name: str) -> str:
    """`"cuda"` for `"cuda:1"`."""
    import torch

    return torch.device(name).type


def _check_model_source(model: str) -> None:
    """Refuses a `--model` that is neither a directory nor a possible Hub id, before transformers reports it."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if os.path.isdir(model):
        return
    if os.path.exists(model):
        raise CommandError(f"{model}: is a file; --model names a model directory or a Hub id")
    try:
        validate_repo_id(model)
    except HFValidationError:
        raise CommandError(f"{model}: no such model directory") from None


def _build_pipeline(args: argparse.Namespace, default_device: str | None = None):
    import pickle

    import torch
    from transformers import pipeline
    from transformers.utils import logging

    from .engine.dtype import auto_dtype

    _check_model_source(args.model)
    device = _resolve_device(args.device or default_device)
    if args.no_progress:
        logging.disable_progress_bar()
    dtype, reason = (getattr(torch, args.dtype), None) if args.dtype != "auto" else (None, None)
    if dtype is None:
        try:
            dtype, reason = auto_dtype(device)
        except RuntimeError as error:
            raise CommandError(f"--device {device}: {error}") from None
    try:
        recap = pipeline("video-recap", model=args.model, device=device, dtype=dtype)
    except pickle.UnpicklingError as error:
        # transformers reads pytorch_model.bin with torch.load(weights_only=True), which stops at any global.
        refused = re.search(r"GLOBAL ([\w.]+)", str(error))
        reason = f"it asks to unpickle `{refused.group(1)}`" if refused else str(error).split("\n")[0]
        raise CommandError(
            f"{args.model}: cannot load the model: torch's safe loader refused its PyTorch weights ({reason}); nothing "
            "in them was run"
        ) from None
    except (OSError, ValueError, RuntimeError) as error:
        if not os.path.isdir(args.model):
            raise CommandError(
                f"{args.model}: no such model directory, and not loadable from the Hub ({error})"
            ) from None
        raise CommandError(f"{args.model}: cannot load the model ({error})") from None
    if reason is not None:
        # Said once the model has loaded, so that a loading error stays the only line.
        print(f"{PROG}: --dtype auto: {str(dtype).removeprefix('torch.')} on {device} ({reason})", file=sys.stderr)
    return recap


def _output_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    return EXTENSION_FORMATS.get(Path(args.output).suffix.lower(), "json") if args.output else "json"


def _call_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.batch_size < 1:
        raise CommandError(f"--batch-size must be >= 1, got {args.batch_size}")
    options = {"levels": _parse_levels(args.levels), "batch_size": args.batch_size, "progress": not args.no_progress}
    if args.compile:
        options["compile_encoder"] = True
    for name in ("clip_seconds", "segment_seconds", "max_new_tokens", "num_beams"):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return options


def run_caption(args: argparse.Namespace) -> int:
    if args.output_dir is not None or args.shard is not None:
        _check_library_arguments(args)
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise CommandError(
            f"launched as {os.environ['WORLD_SIZE']} processes: every one would caption everything; use --output-dir "
            "DIR to shard the videos over them"
        )
    if args.follow is not None:
        return _caption_follow(args, _call_options(args))
    if not os.path.exists(args.input):
        raise CommandError(f"{args.input}: no such file or directory")
    options = _call_options(args)
    if args.output and os.path.isdir(args.output):
        raise CommandError(f"{args.output}: is a directory; --output names a file")
    if args.output_dir is not None:
        return _caption_library(args, options)
    if _is_batch_input(args.input):
        return _caption_batch(args, options)
    return _caption_single(args, options)


def _caption_single(args: argparse.Namespace, options: dict[str, Any]) -> int:
    from .engine.results import video_key, write_atomically
    from .engine.video_io import VideoClipReader, VideoDecodingError

    output_format = _output_format(args)
    try:
        # Fail on an unreadable file before spending time on the model.
        VideoClipReader(args.input).close()
    except VideoDecodingError as error:
        raise CommandError(str(error)) from None
    recap = _build_pipeline(args)
    try:
        captions = recap(args.input, **options)
    except VideoDecodingError as error:
        raise CommandError(str(error)) from None
    if output_format == "json":
        # The record a batch run writes for this video, indented.
        record = {**video_key(args.input).to_record(), **captions.to_dict()}
        text = json.dumps(record, ensure_ascii=False, indent=2)
    elif output_format == "html":
        # The page refers to the video relative to where it is written (absolute file:// URL on standard output).
        text = captions.to_html(video_path=args.input, output_path=args.output)
    else:
        text = getattr(captions, FORMATS[output_format])()
    if not text.endswith("\n"):
        text += "\n"
    if args.output:
        try:
            write_atomically(args.output, text)
        except OSError as error:
            raise CommandError(f"{args.output}: cannot be written ({error.strerror or error})") from None
    else:
        sys.stdout.write(text)
    return 0


def _caption_follow(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """
    Streams the captions of a growing video file as JSON lines (one event each) to stdout, or appends them to --output;
    a rerun after a kill appends only the events the file does not hold yet.
    """
    if not args.follow > 0:
        raise CommandError(f"--follow needs a positive idle time in seconds, got {args.follow:g}")
    if args.format not in (None, "json"):
        raise CommandError("--follow writes JSON lines; use --format json")
    from .engine.results import ResultsFileError, WriterLock, append_line, drop_torn_line
    from .engine.video_io import VideoDecodingError

    def key(event: dict[str, Any]) -> tuple:
        return event.get("level"), event.get("index"), event.get("final")

    def recorded_events() -> set[tuple]:
        recorded = set()
        if os.path.isfile(args.output):
            drop_torn_line(args.output)
            for line in Path(args.output).read_text(encoding="utf-8").splitlines():
                try:
                    recorded.add(key(json.loads(line)))
                except (json.JSONDecodeError, AttributeError):
                    continue
        return recorded

    recap = _build_pipeline(args)
    try:
        events = recap(args.input, stream=True, follow=True, idle_seconds=args.follow, **options)
        if not args.output:
            for event in events:
                print(json.dumps(event.to_dict(), ensure_ascii=False), flush=True)
            return 0
        # One writer at a time, as for batch results: a second --follow on the same output is refused at once.
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with WriterLock(args.output):
            recorded = recorded_events()
            for event in events:
                record = event.to_dict()
                if key(record) not in recorded:
                    append_line(args.output, record)
                    recorded.add(key(record))
    except (VideoDecodingError, ResultsFileError) as error:
        raise CommandError(str(error)) from None
    return 0


def _caption_batch(args: argparse.Namespace, options: dict[str, Any]) -> int:
    if not args.output:
        raise CommandError("captioning a directory or a list needs --output RESULTS.jsonl")
    if args.format not in (None, "json"):
        raise CommandError("captioning a directory or a list writes JSON lines; use --format json")
    from .engine.results import ResultsFile, ResultsFileError, video_key

    listed = list_videos(args.input)
    videos = {}
    for video in listed:
        videos.setdefault(video_key(video), video)
    if len(videos) < len(listed):
        print(
            f"{PROG}: {len(listed) - len(videos)} entries of {args.input} name a video listed before; each video is "
            "captioned once",
            file=sys.stderr,
        )
    try:
        with ResultsFile(args.output) as results:
            return _caption_pending(args, options, videos, results)
    except ResultsFileError as error:
        raise CommandError(str(error)) from None


def _caption_pending(args: argparse.Namespace, options: dict[str, Any], videos: dict, results) -> int:
    """Captions the `videos` (`VideoKey -> path`) that `results` does not hold yet, appending each record."""
    from .engine.video_io import VideoDecodingError

    if args.retry_errors:
        results.drop_errors(videos)
    pending = [(key, video) for key, video in videos.items() if key not in results.finished]
    failed = 0
    if pending:
        recap = _build_pipeline(args)
        for key, video in pending:
            try:
                record = recap(video, **options).to_dict()
            except VideoDecodingError as error:
                record = {"error": error.reason}
                failed += 1
                _error(str(error))
            results.append({**key.to_record(), **record})
    failed_before = sum("error" in results.finished[key] for key in videos) - failed
    summary = (
        f"{PROG}: {len(videos)} videos: {len(pending) - failed} captioned, {failed} failed, "
        f"{len(videos) - len(pending)} already in {args.output}"
    )
    if failed_before:
        summary += f" ({failed_before} of them failed; --retry-errors retries them)"
    print(summary, file=sys.stderr)
    return 1 if failed or failed_before else 0


def _check_library_arguments(args: argparse.Namespace) -> None:
    if args.output_dir is None:
        raise CommandError("--shard needs --output-dir DIR")
    if args.follow is not None:
        raise CommandError("--follow captions one growing video; --output-dir is for a directory or list of videos")
    if args.output is not None:
        raise CommandError("give --output FILE.jsonl (one process) or --output-dir DIR (shards), not both")
    if args.format not in (None, "json"):
        raise CommandError("--output-dir writes JSON lines; use --format json")
    if not os.path.exists(args.input):
        raise CommandError(f"{args.input}: no such file or directory")
    if not _is_batch_input(args.input):
        raise CommandError(f"{args.input}: --output-dir captions a directory or a .txt list of videos, not one video")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise CommandError(f"{args.output_dir}: is a file; --output-dir names a directory")


def _shard_of_this_process(args: argparse.Namespace) -> tuple[int, int, str | None]:
    """The shard index and count (from --shard, else accelerate's process index and count) and the default device."""
    if args.shard is not None:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", args.shard)
        if not match or not int(match.group(1)) < int(match.group(2)):
            raise CommandError(f"--shard {args.shard}: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/4")
        return int(match.group(1)), int(match.group(2)), None
    from accelerate import PartialState

    # Under `accelerate launch`, `torchrun` (and Slurm through them): the launch's ranks; a plain run is 0 of 1. On the
    # CPU accelerate joins the processes only when told so (gloo backend).
    state = PartialState(cpu=torch_device_type(_resolve_device(args.device)) == "cpu")
    device = str(state.device) if state.num_processes > 1 and state.device.type != "cpu" else None
    return state.process_index, state.num_processes, device


def _library_captioner(recap, options: dict[str, Any]):
    """The captioner the pipeline runs for one video with these options (same generation settings)."""
    names = {"batch_size": "model_batch_size"}
    _, forward, _ = recap._sanitize_parameters(**{names.get(name, name): value for name, value in options.items()})
    return recap._captioner(**forward)


def _caption_library(args: argparse.Namespace, options: dict[str, Any]) -> int:
    """
    Captions this process's shard of a video library into `--output-dir/shard-I-of-N.jsonl`: balanced by duration,
    deterministic, resumable, batched across videos.
    """
    from .engine.library import finished_elsewhere, plan_library, shard_file_name, write_manifest
    from .engine.results import ResultsFile, ResultsFileError
    from .engine.video_io import VideoDecodingError

    index, count, default_device = _shard_of_this_process(args)
    listed = list_videos(args.input)
    videos = plan_library(listed, count)
    output_dir = Path(args.output_dir)
    mine = [video for video in videos if video.shard == index]
    shard = output_dir / shard_file_name(index, count)
    captioned = failed = 0
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_manifest(output_dir, videos)
        with ResultsFile(shard) as results:
            if args.retry_errors:
                results.drop_errors(video.key for video in mine)
            elsewhere = finished_elsewhere(output_dir, shard)
            pending = [video for video in mine if video.key not in results.finished and video.key not in elsewhere]
            if pending:
                captioner = _library_captioner(_build_pipeline(args, default_device), options)
                paths, durations = [video.path for video in pending], [video.duration for video in pending]
                for position, result in captioner.caption_videos(paths, durations=durations):
                    if isinstance(result, VideoDecodingError):
                        record = {"error": result.reason}
                        failed += 1
                        _error(str(result))
                    else:
                        record = result.to_dict()
                        captioned += 1
                    results.append({**pending[position].key.to_record(), **record})
            failed_before = sum("error" in results.finished.get(video.key, {}) for video in mine) - failed
    except (ResultsFileError, OSError) as error:
        message = (
            str(error) if isinstance(error, ResultsFileError) else f"{args.output_dir}: cannot be written ({error})"
        )
        raise CommandError(message) from None
    hours = sum(video.duration or 0.0 for video in mine) / 3600
    summary = (
        f"{PROG}: shard {index} of {count} ({shard.name}): {len(mine)} of {len(videos)} videos ({hours:.2f} h): "
        f"{captioned} captioned, {failed} failed, {len(mine) - len(pending)} already done"
    )
    if failed_before:
        summary += f" ({failed_before} of them failed; --retry-errors retries them)"
    print(summary, file=sys.stderr)
    return 1 if failed or failed_before else 0


# ---------------------------------------------------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------------------------------------------------


def add_merge_parser(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge the shard files of `caption --output-dir` into one results file",
        description=(
            "Join the shard-NNNNN-of-NNNNN.jsonl files of a results directory into one JSON-lines results file: one "
            "record per video (by resolved path, size and modification time), in input order, as one process "
            "captioning the same list into one file writes it. The exit status is 1 while a listed video has no "
            "record yet."
        ),
    )
    parser.add_argument("directory", help="the --output-dir of `transformers-recap caption`")
    parser.add_argument("-o", "--output", required=True, help="the merged results file (.jsonl), written atomically")
    parser.set_defaults(handler=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    from .engine.library import MANIFEST_NAME, SHARD_NAME, merge_results
    from .engine.results import ResultsFileError, read_records

    output = Path(args.output)
    if output.is_dir():
        raise CommandError(f"{args.output}: is a directory; -o names a file")
    if SHARD_NAME.match(output.name) or output.name == MANIFEST_NAME:
        raise CommandError(f"{args.output}: is the name of a file `caption --output-dir` writes; choose another")
    try:
        # Refuses to replace a file that is not a results file.
        read_records(output)
        report = merge_results(args.directory, output)
    except ResultsFileError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{args.output}: cannot be written ({error.strerror or error})") from None
    line = (
        f"{PROG}: merged {report.records} videos from {report.shards} shard files into {args.output} "
        f"({report.errors} failed, {report.duplicates} duplicate records left out)"
    )
    if report.missing:
        line += f"; {report.missing} listed videos have no record yet (run the caption command again)"
    print(line, file=sys.stderr)
    return 1 if report.missing else 0


# ---------------------------------------------------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------------------------------------------------


def add_convert_parser(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert the released Video ReCap / Video ReCap-U checkpoints (or LaViLa's encoder)",
        description=(
            "Convert the original release files to a directory that loads with "
            "VideoReCapForConditionalGeneration.from_pretrained (see python -m "
            "transformers_recap.convert_original_checkpoint)."
        ),
    )
    add_convert_arguments(parser)
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from .conversion.convert_original_checkpoint import CheckpointConversionError, run

    try:
        print(run(args))
    except (CheckpointConversionError, FileNotFoundError, OSError) as error:
        raise CommandError(str(error)) from None
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# demo
# ---------------------------------------------------------------------------------------------------------------------


def add_demo_parser(subparsers: "argparse._SubParsersAction") -> None:
    parser = subparsers.add_parser(
        "demo",
        help="caption a new synthetic video with the bundled demo model, next to the ground truth",
        description=(
            "Render a Synthetic-HCap video from a seed the bundled demo model never saw, caption it offline at the "
            "clip, segment and video levels, and print the captions next to the ground truth."
        ),
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the synthetic video (default: 2026)")
    parser.add_argument("--model", help="a Synthetic-HCap model directory (default: the bundled demo model)")
    parser.add_argument("--output-dir", help="where the video is written (default: a temporary directory)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .engine.video_io import VideoDecodingError

    try:
        result = run_demo(
            seed=args.seed,
            model=args.model,
            output_dir=args.output_dir,
            device=_resolve_device(args.device),
            progress=not args.no_progress,
        )
    except (FileNotFoundError, ValueError, VideoDecodingError) as error:
        raise CommandError(str(error)) from None
    print(result.report())
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[["argparse._SubParsersAction"], None]] = [
    add_caption_parser,
    add_merge_parser,
    add_convert_parser,
    add_demo_parser,
    add_teacher_parser,
    add_pseudo_parser,
]
"""Functions that each register one subcommand; add new ones here."""


def build_parser() -> argparse.ArgumentParser:
    """The `transformers-recap` argument parser with every subcommand of `SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(prog=PROG, description="Video ReCap: hierarchical captions of long videos.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_parser in SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line `argv` (default: `sys.argv[1:]`) and returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
