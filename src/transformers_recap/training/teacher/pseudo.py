# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Pseudo annotations written by the trained LLM teacher (Islam et al., CVPR 2024, Sec. 3.4: 100K pseudo segment
descriptions and 15K pseudo video summaries), in the Ego4D-HCap format the loader reads (`data.pseudo: true`).

**Which videos.** Those of `clips_train.pkl` without a higher-level annotation: a video gets pseudo segment
descriptions when it has no record in `segments_train.pkl`, and pseudo summaries when it has none in
`videos_train.json`; videos named in any validation file get nothing.

**Which windows** (seeded, so a rerun plans the same ones):

- segments: each video's narrated extent (first clip start to last clip end) is tiled left to right by windows whose
  length is `pseudo.segment_seconds`: a number; a list (one tiling per length: the same video described at several
  time scales); or `"annotations"`, one tiling whose window lengths are drawn from the durations of the manual
  training segments (the spans the teacher was trained on). Windows with fewer than `min_captions` clip captions
  (midpoint inside the window) are dropped. Input: the window's clip captions.
- videos: the whole narrated video, then `video_windows_per_video - 1` random contiguous runs of the first tiling's
  segment windows (at least `min_segments_per_video`): shorter spans of the same video. Input: the pseudo segment
  descriptions of those segment windows (`tasks.video.input: segment_descriptions`, so the segments are written
  first), or the span's clip captions.
- `max_segments` / `max_videos` cap the plan: videos are visited in a seeded random order and each adds its windows
  while the budget lasts.

**Resumable.** The plan is stored in `work_dir/plan.json` with a fingerprint of the settings, teacher and annotation
files. Every finished batch is appended to `work_dir/progress-<rank>.jsonl` as whole JSON lines with one synced write,
so a killed run loses nothing written, and a rerun skips every window already done (a torn last line is ignored and
cut off). The annotation files are written at the end, each to a temporary file, synced, then renamed into place.
Windows whose generated text is empty or cut off (`max_new_tokens` reached before the end-of-sequence token: a
teacher caught in a loop, which would teach the student summaries that do not end), or that have no input, are
skipped and counted. Under `accelerate launch` each process takes every n-th remaining window and writes its own
progress file.

Records written (plain lists, dicts, strings and floats only):

- `segments_train_pseudo.pkl`: `{"vid", "sid", "start_sec", "end_sec", "captions_pred": [[vid, start, end,
  caption], ...], "captions_gt": [{"narration_text", "timestamp_sec"}, ...], "segment_description"}`; the clip
  captions are the ground-truth narrations, as in the manual files.
- `videos_train_pseudo.json`: `{"vid", "start_sec", "end_sec", "sids", "segment_descriptions",
  "segment_descriptions_pred", "video_summary"}`, the segment descriptions being the pseudo ones of the window.
"""

import hashlib
import json
import os
import pickle
import shutil
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from transformers.utils import logging

from transformers_recap.data import read_annotation_file

from .modeling import Teacher, decode, encode_prompt, generate_ids, load_teacher
from .options import SEGMENT_SECONDS_FROM_ANNOTATIONS, PseudoOptions, TeacherConfig, TeacherConfigError
from .pairs import VideoClips, find_annotation_file, prompt_parts, read_clip_captions
from .training import teacher_dirs


logger = logging.get_logger(__name__)

SEGMENTS_FILE = "segments_train_pseudo.pkl"
VIDEOS_FILE = "videos_train_pseudo.json"
PLAN_FILE = "plan.json"
SUMMARY_FILE = "summary.json"
PROGRESS_PATTERN = "progress-*.jsonl"
_TIME_DECIMALS = 3


class PseudoAnnotationError(ValueError):
    """A pseudo-annotation run that cannot start or continue; the message names the file."""


@dataclass(frozen=True)
class PseudoWindow:
    """One planned pseudo annotation.

    Attributes:
        task: `"segment"` or `"video"`.
        key: unique name (`task:vid:start:end`).
        video_uid, start_sec, end_sec: the window.
        index: position among the video's windows of this task (names the pseudo segment uid).
        segment_keys: for a video window, the keys of the first tiling's segment windows inside it.
    """

    task: str
    key: str
    video_uid: str
    start_sec: float
    end_sec: float
    index: int
    segment_keys: tuple[str, ...] = ()


@dataclass
class PseudoSummary:
    """What a run wrote (also saved as `work_dir/summary.json`)."""

    segments_file: str | None
    videos_file: str | None
    eligible_videos: dict[str, int]
    planned: dict[str, int]
    written: dict[str, int]
    skipped: dict[str, int]
    generated_now: int
    resumed: int
    skipped_examples: list[str] = field(default_factory=list)


def _round(value: float) -> float:
    return round(float(value), _TIME_DECIMALS)


def _window_key(task: str, vid: str, start: float, end: float) -> str:
    return f"{task}:{vid}:{start:.{_TIME_DECIMALS}f}:{end:.{_TIME_DECIMALS}f}"


def _video_rng(seed: int, vid: str) -> np.random.Generator:
    # Per-video generator: a video's windows do not depend on the caps or on which other videos exist.
    return np.random.default_rng([seed, zlib.crc32(vid.encode("utf-8"))])


def _vids(path: Path | None) -> set[str]:
    if path is None:
        return set()
    vids = set()
    for record in read_annotation_file(path):
        if isinstance(record, dict) and isinstance(record.get("vid"), str):
            vids.add(record["vid"])
        elif isinstance(record, (list, tuple)) and record and isinstance(record[0], str):
            vids.add(record[0])
    return vids


def _first_file(data_dir: Path, *names: str) -> Path | None:
    return next((path for path in (find_annotation_file(data_dir, name) for name in names) if path), None)


@dataclass
class PseudoSources:
    """The training clip captions and which videos may get pseudo annotations at each level."""

    clips: dict[str, VideoClips]
    eligible: dict[str, set[str]]
    segment_durations: list[float]
    files: dict[str, Path]


def read_pseudo_sources(data_dir: str | os.PathLike, clips_file: str | os.PathLike | None = None) -> PseudoSources:
    """
    Reads the clip captions (`clips_file`, default `clips_train.pkl`) and the annotation files of `data_dir` to find
    the videos without annotations.
    """
    data_dir = Path(data_dir)
    clips_path = Path(clips_file) if clips_file is not None else find_annotation_file(data_dir, "clips_train.pkl")
    if clips_path is None:
        raise PseudoAnnotationError(f"{data_dir} has no clips_train.pkl (directly or in annotations/).")
    if not clips_path.is_file():
        raise PseudoAnnotationError(f"pseudo.clips_file {clips_path} does not exist.")
    files = {"clips": clips_path}
    segments_path = _first_file(data_dir, "segments_train.pkl")
    videos_path = _first_file(data_dir, "videos_train.json", "videos_train.pkl")
    validation = [
        _first_file(data_dir, "clips_val.pkl"),
        _first_file(data_dir, "segments_val.pkl"),
        _first_file(data_dir, "videos_val.json", "videos_val.pkl"),
    ]
    for name, path in (("segments", segments_path), ("videos", videos_path)):
        if path is not None:
            files[name] = path
    train_clips = find_annotation_file(data_dir, "clips_train.pkl")
    files["annotations_dir"] = (segments_path or train_clips or data_dir / "clips_train.pkl").parent
    held_out = set().union(*(_vids(path) for path in validation))
    clips = read_clip_captions(clips_path)
    narrated = set(clips) - held_out
    durations = []
    if segments_path is not None:
        for record in read_annotation_file(segments_path):
            try:
                duration = float(record["end_sec"]) - float(record["start_sec"])
            except (TypeError, KeyError, ValueError):
                continue
            if np.isfinite(duration) and duration > 0:
                durations.append(duration)
    eligible = {"segment": narrated - _vids(segments_path), "video": narrated - _vids(videos_path)}
    return PseudoSources(clips=clips, eligible=eligible, segment_durations=durations, files=files)


def _tilings(extent: tuple[float, float], options: PseudoOptions, durations: Sequence[float], rng) -> list[list]:
    """Segment windows `(start, end)` per tiling of `extent` (see the module docstring)."""
    start, end = extent
    lengths = options.segment_seconds
    if lengths == SEGMENT_SECONDS_FROM_ANNOTATIONS:
        if not durations:
            raise PseudoAnnotationError(
                "pseudo.segment_seconds is 'annotations' but segments_train.pkl has no segment durations; give "
                "pseudo.segment_seconds in seconds."
            )
        draws = [lambda: float(durations[int(rng.integers(len(durations)))])]
    else:
        draws = [(lambda value=float(value): value) for value in (lengths if isinstance(lengths, list) else [lengths])]
    tilings = []
    for draw in draws:
        windows, position = [], start
        while position < end:
            window_end = min(position + draw(), end)
            windows.append((position, window_end))
            position = window_end
        tilings.append(windows)
    return tilings


def plan_pseudo_windows(
    sources: PseudoSources, options: PseudoOptions, tasks: Sequence[str], video_input: str | None, seed: int
) -> list[PseudoWindow]:
    """The windows to annotate, segments first, each task in video order (see the module docstring)."""
    candidates = sorted(sources.eligible["segment"] | sources.eligible["video"])
    order = [candidates[i] for i in np.random.default_rng(seed).permutation(len(candidates))]
    budget = {
        "segment": options.max_segments if options.max_segments is not None else float("inf"),
        "video": options.max_videos if options.max_videos is not None else float("inf"),
    }
    planned: dict[str, list[PseudoWindow]] = {"segment": [], "video": []}
    for vid in order:
        clips = sources.clips[vid]
        rng = _video_rng(seed, vid)
        tilings = _tilings(clips.extent, options, sources.segment_durations, rng)
        kept = [[(s, e) for s, e in tiling if len(clips.within(s, e)) >= options.min_captions] for tiling in tilings]
        segment_windows, seen = [], set()
        for tiling in kept:
            for s, e in tiling:
                key = _window_key("segment", vid, s, e)
                if key not in seen:
                    seen.add(key)
                    segment_windows.append((key, s, e))
        complete = False
        if "segment" in tasks and vid in sources.eligible["segment"]:
            take = segment_windows[: int(min(len(segment_windows), budget["segment"]))]
            budget["segment"] -= len(take)
            planned["segment"].extend(
                PseudoWindow("segment", key, vid, _round(s), _round(e), index)
                for index, (key, s, e) in enumerate(take)
            )
            complete = len(take) == len(segment_windows)
        if "video" not in tasks or vid not in sources.eligible["video"] or budget["video"] <= 0:
            continue
        if video_input == "segment_descriptions" and not complete:
            continue
        primary = kept[0]
        count = len(primary)
        if count < options.min_segments_per_video:
            continue
        runs = [(0, count)]
        shorter = [(i, k) for k in range(options.min_segments_per_video, count) for i in range(count - k + 1)]
        extra = min(options.video_windows_per_video - 1, len(shorter))
        if extra > 0:
            runs += [shorter[i] for i in sorted(rng.choice(len(shorter), size=extra, replace=False))]
        for index, (first, length) in enumerate(runs[: int(min(len(runs), budget["video"]))]):
            run = primary[first : first + length]
            start, end = run[0][0], run[-1][1]
            planned["video"].append(
                PseudoWindow(
                    "video",
                    _window_key("video", vid, start, end),
                    vid,
                    _round(start),
                    _round(end),
                    index,
                    tuple(_window_key("segment", vid, s, e) for s, e in run),
                )
            )
            budget["video"] -= 1
    return planned["segment"] + planned["video"]


def _atomic_write(path: Path, data: bytes) -> None:
    """Writes `data` to a temporary file next to `path`, syncs it and renames it into place."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class ProgressLog:
    """
    Append-only JSON-lines log of finished windows (`{"key", "text"}` and, for skipped ones, `"skipped"`). Each
    [`append`] writes whole lines with one synced write; reading ignores a torn last line, and opening for appending
    first cuts it off (hand-written: no library offers crash-safe JSONL appends).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = None

    @staticmethod
    def read(paths: Iterable[str | os.PathLike]) -> dict[str, dict]:
        """Finished records by key from every log (the first record of a key wins; torn lines are ignored)."""
        done: dict[str, dict] = {}
        for path in sorted(Path(p) for p in paths):
            data = path.read_bytes()
            complete = data[: data.rfind(b"\n") + 1]
            for number, line in enumerate(complete.splitlines(), 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    logger.warning(f"{path}, line {number}: not a JSON record; ignored (the window is redone).")
                    continue
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    if isinstance(record.get("text"), str):
                        done.setdefault(record["key"], record)
        return done

    def open(self) -> "ProgressLog":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                with open(self.path, "r+b") as file:
                    file.truncate(data.rfind(b"\n") + 1)
        self._file = open(self.path, "ab")
        return self

    def append(self, records: Sequence[dict]) -> None:
        if self._file is None:
            raise RuntimeError("ProgressLog.append before open().")
        data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "ProgressLog":
        return self.open()

    def __exit__(self, *exc_info) -> None:
        self.close()


def _fingerprint(config: TeacherConfig, teachers: dict[str, Path], sources: PseudoSources) -> str:
    options = asdict(config.pseudo)
    for name in ("batch_size", "output_dir", "work_dir"):
        options.pop(name)
    described = {"pseudo": options, "seed": config.seed, "teachers": {}, "files": {}}
    for task, directory in sorted(teachers.items()):
        stats = {}
        for path in sorted(directory.iterdir()):
            if path.is_file():
                stat = path.stat()
                stats[path.name] = [stat.st_size, stat.st_mtime_ns]
        described["teachers"][task] = {"dir": os.fspath(directory.resolve()), "files": stats}
    for name, path in sorted(sources.files.items()):
        if not path.is_file():
            continue
        stat = path.stat()
        described["files"][name] = [os.fspath(path.resolve()), stat.st_size, stat.st_mtime_ns]
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _window_from_dict(item: dict) -> PseudoWindow:
    return PseudoWindow(**{**item, "segment_keys": tuple(item.get("segment_keys", ()))})


class PseudoAnnotationRun:
    """
    One (resumable) pseudo-annotation run of `config`'s trained teacher(s); see the module docstring.

    Args:
        config: the teacher configuration (its `pseudo` section, tasks and output_dir).
        teacher_dir: override the trained teacher's folder (every task from this one teacher).
        restart: discard the progress and plan of an earlier run in `work_dir`.
    """

    def __init__(self, config: TeacherConfig, teacher_dir: str | os.PathLike | None = None, restart: bool = False):
        self.config = config
        self.options = config.pseudo
        self.tasks = config.pseudo_tasks
        dirs = teacher_dirs(config)
        if teacher_dir is not None:
            dirs = dict.fromkeys(dirs, Path(teacher_dir))
        self.teachers = {task: dirs[task] for task in self.tasks}
        self.work_dir = config.path(self.options.work_dir) if self.options.work_dir else config.output_path / "pseudo"
        self.restart = restart
        self.state = PartialState()

    def output_dir(self, sources: PseudoSources) -> Path:
        if self.options.output_dir:
            return self.config.path(self.options.output_dir)
        return sources.files["annotations_dir"]

    def _load_plan(self, sources: PseudoSources) -> list[PseudoWindow]:
        fingerprint = _fingerprint(self.config, self.teachers, sources)
        plan_path = self.work_dir / PLAN_FILE
        if self.state.is_main_process:
            if self.restart and self.work_dir.is_dir():
                shutil.rmtree(self.work_dir)
            self.work_dir.mkdir(parents=True, exist_ok=True)
            if plan_path.is_file():
                stored = json.loads(plan_path.read_text(encoding="utf-8"))
                if stored.get("fingerprint") != fingerprint:
                    raise PseudoAnnotationError(
                        f"{plan_path} belongs to a run with other settings, teacher or annotation files; pass "
                        "--restart to discard it, or use another pseudo.work_dir."
                    )
            else:
                video_input = self.config.tasks["video"].input if "video" in self.tasks else None
                windows = plan_pseudo_windows(sources, self.options, self.tasks, video_input, self.config.seed)
                plan = {"fingerprint": fingerprint, "windows": [asdict(window) for window in windows]}
                _atomic_write(plan_path, json.dumps(plan).encode("utf-8"))
        self.state.wait_for_everyone()
        if not plan_path.is_file():
            raise PseudoAnnotationError(f"{plan_path} was not written by the main process.")
        stored = json.loads(plan_path.read_text(encoding="utf-8"))
        if stored.get("fingerprint") != fingerprint:
            raise PseudoAnnotationError(f"{plan_path} belongs to a run with other settings; pass --restart.")
        return [_window_from_dict(item) for item in stored["windows"]]

    def _progress_paths(self) -> list[Path]:
        return sorted(self.work_dir.glob(PROGRESS_PATTERN))

    def _prompt_inputs(self, window: PseudoWindow, sources: PseudoSources, done: dict[str, dict]) -> list[str]:
        if window.task == "video" and self.config.tasks["video"].input == "segment_descriptions":
            texts = [done[key]["text"] for key in window.segment_keys if key in done]
            return [text for text in texts if text.strip()]
        return [clip.text for clip in sources.clips[window.video_uid].within(window.start_sec, window.end_sec)]

    def _generate(
        self, task: str, windows: list[PseudoWindow], sources: PseudoSources, done: dict[str, dict], log: ProgressLog
    ) -> int:
        """Generates this process's share of `windows`; returns how many were written."""
        teacher = self._teacher(task)
        options = teacher.tasks[task]  # the prompt format the teacher was trained with
        skipped, prepared = [], []
        for window in windows:
            inputs = self._prompt_inputs(window, sources, done)
            if not inputs:
                skipped.append({"key": window.key, "text": "", "skipped": "no input text"})
                continue
            parts = prompt_parts(task, options, inputs, teacher.causal)
            prepared.append(
                (window, encode_prompt(teacher.tokenizer, parts, options.max_input_tokens, teacher.causal))
            )
        if skipped:
            log.append(skipped)
        # Longest prompts first, so that batches hold prompts of similar lengths (little padding).
        prepared.sort(key=lambda item: -len(item[1]))
        generation = {"max_new_tokens": options.max_target_tokens, **self.options.generation}
        pad = teacher.tokenizer.pad_token_id
        device = teacher.model.device
        written = len(skipped)
        for first in range(0, len(prepared), self.options.batch_size):
            batch = prepared[first : first + self.options.batch_size]
            width = max(len(ids) for _, ids in batch)
            rows = [
                ([pad] * (width - len(ids)) + ids) if teacher.causal else (ids + [pad] * (width - len(ids)))
                for _, ids in batch
            ]
            masks = [
                ([0] * (width - len(ids)) + [1] * len(ids))
                if teacher.causal
                else ([1] * len(ids) + [0] * (width - len(ids)))
                for _, ids in batch
            ]
            input_ids = torch.tensor(rows, device=device)
            attention_mask = torch.tensor(masks, device=device)
            with torch.no_grad():
                generated = generate_ids(teacher.model, input_ids, attention_mask, teacher.causal, **generation)
            generated = generated.cpu()
            texts = decode(teacher.tokenizer, generated)
            finished = (generated == teacher.tokenizer.eos_token_id).any(dim=-1).tolist()
            records = []
            for (window, _), text, ended in zip(batch, texts, finished, strict=True):
                record = {"key": window.key, "text": text}
                if not text:
                    record["skipped"] = "empty generation"
                elif not ended and not self.options.keep_unfinished:
                    record["skipped"] = f"cut off at max_new_tokens={generation['max_new_tokens']}"
                records.append(record)
            log.append(records)
            written += len(records)
            logger.info(f"{task}: {first + len(batch)}/{len(prepared)} windows of this process generated.")
        return written

    def _teacher(self, task: str) -> Teacher:
        directory = self.teachers[task]
        if getattr(self, "_loaded", None) is None or self._loaded.directory != directory:
            self._loaded = load_teacher(directory, device=self.state.device)
        if task not in self._loaded.tasks:
            raise TeacherConfigError(
                f"{directory} was not trained for the {task} task (it does {sorted(self._loaded.tasks)})."
            )
        return self._loaded

    def run(self) -> PseudoSummary:
        """Plans (or reloads the plan), generates what is missing and writes the two annotation files."""
        for task, directory in self.teachers.items():
            if not (directory / "teacher.json").is_file():
                raise PseudoAnnotationError(
                    f"{directory} holds no trained teacher for the {task} task; run examples/train_llm_teacher.py "
                    "first."
                )
        clips_file = self.config.path(self.options.clips_file) if self.options.clips_file else None
        sources = read_pseudo_sources(self.config.data_path, clips_file=clips_file)
        plan = self._load_plan(sources)
        done = ProgressLog.read(self._progress_paths())
        resumed = sum(1 for window in plan if window.key in done)
        self.state.wait_for_everyone()  # every process has read the logs before any appends to them
        log = ProgressLog(self.work_dir / f"progress-{self.state.process_index:03d}.jsonl")
        generated_now = 0
        with log:
            for task in self.tasks:
                remaining = [window for window in plan if window.task == task and window.key not in done]
                mine = remaining[self.state.process_index :: self.state.num_processes]
                if mine:
                    generated_now += self._generate(task, mine, sources, done, log)
                self.state.wait_for_everyone()
                done = ProgressLog.read(self._progress_paths())
        generated_now = self._sum_over_processes(generated_now)
        summary = self._write(plan, sources, done, resumed, generated_now)
        self.state.wait_for_everyone()
        return summary

    def _sum_over_processes(self, value: int) -> int:
        if self.state.num_processes == 1:
            return value
        from accelerate.utils import reduce

        return int(reduce(torch.tensor(value, device=self.state.device), reduction="sum").item())

    def _write(self, plan, sources, done, resumed: int, generated_now: int) -> PseudoSummary:
        """Builds the annotation records from the plan and the finished texts and writes them (main process)."""
        output_dir = self.output_dir(sources)
        skipped = {"segment": 0, "video": 0}
        examples = []
        indices = {window.key: window.index for window in plan if window.task == "segment"}
        segments, videos = [], []
        for window in sorted(plan, key=lambda w: (w.task, w.video_uid, w.start_sec, w.end_sec)):
            record = done.get(window.key)
            if record is None:
                raise PseudoAnnotationError(f"{window.key} has no generated text in {self.work_dir}; rerun to finish.")
            if record.get("skipped") or not record["text"].strip():
                skipped[window.task] += 1
                if len(examples) < 10:
                    examples.append(f"{window.key}: {record.get('skipped', 'empty generation')}")
                continue
            if window.task == "segment":
                segments.append(self._segment_record(window, record["text"], sources))
            else:
                videos.append(self._video_record(window, record["text"], done, indices))
        files = {"segment": None, "video": None}
        if self.state.is_main_process:
            output_dir.mkdir(parents=True, exist_ok=True)
            if "segment" in self.tasks:
                files["segment"] = output_dir / SEGMENTS_FILE
                _atomic_write(files["segment"], pickle.dumps(segments, protocol=4))
            if "video" in self.tasks:
                files["video"] = output_dir / VIDEOS_FILE
                _atomic_write(files["video"], json.dumps(videos).encode("utf-8"))
        planned = {task: sum(1 for window in plan if window.task == task) for task in self.tasks}
        summary = PseudoSummary(
            segments_file=None if files["segment"] is None else os.fspath(files["segment"]),
            videos_file=None if files["video"] is None else os.fspath(files["video"]),
            eligible_videos={task: len(sources.eligible[task]) for task in self.tasks},
            planned=planned,
            written={"segment": len(segments), "video": len(videos)},
            skipped={task: skipped[task] for task in self.tasks},
            generated_now=generated_now,
            resumed=resumed,
            skipped_examples=examples,
        )
        if self.state.is_main_process:
            _atomic_write(self.work_dir / SUMMARY_FILE, json.dumps(asdict(summary), indent=2).encode("utf-8"))
        return summary

    def _segment_uid(self, vid: str, index: int) -> str:
        return f"{vid}_pseudo_{index:05d}"

    def _segment_record(self, window: PseudoWindow, text: str, sources: PseudoSources) -> dict:
        clips = sources.clips[window.video_uid].within(window.start_sec, window.end_sec)
        record = {"vid": window.video_uid}
        if self.options.write_segment_uids:
            record["sid"] = self._segment_uid(window.video_uid, window.index)
        record.update(
            start_sec=float(window.start_sec),
            end_sec=float(window.end_sec),
            captions_pred=[[window.video_uid, float(c.start_sec), float(c.end_sec), str(c.text)] for c in clips],
            captions_gt=[{"narration_text": str(c.text), "timestamp_sec": float(c.midpoint)} for c in clips],
            segment_description=str(text),
        )
        return record

    def _video_record(self, window: PseudoWindow, text: str, done: dict[str, dict], indices: dict[str, int]) -> dict:
        keys = [
            key
            for key in window.segment_keys
            if key in indices and key in done and not done[key].get("skipped") and done[key]["text"].strip()
        ]
        descriptions = [str(done[key]["text"]) for key in keys]
        record = {"vid": window.video_uid, "start_sec": float(window.start_sec), "end_sec": float(window.end_sec)}
        if self.options.write_segment_uids and "segment" in self.tasks:
            record["sids"] = [self._segment_uid(window.video_uid, indices[key]) for key in keys]
        record.update(
            segment_descriptions=descriptions,
            segment_descriptions_pred=list(descriptions),
            video_summary=str(text),
        )
        return record


def generate_pseudo_annotations(
    config: TeacherConfig, teacher_dir: str | os.PathLike | None = None, restart: bool = False
) -> PseudoSummary:
    """Runs (or resumes) the pseudo annotation of `config`; see [`PseudoAnnotationRun`]."""
    return PseudoAnnotationRun(config, teacher_dir=teacher_dir, restart=restart).run()


__all__ = [
    "PLAN_FILE",
    "SEGMENTS_FILE",
    "VIDEOS_FILE",
    "ProgressLog",
    "PseudoAnnotationError",
    "PseudoAnnotationRun",
    "PseudoSources",
    "PseudoSummary",
    "PseudoWindow",
    "generate_pseudo_annotations",
    "plan_pseudo_windows",
    "read_pseudo_sources",
]
