# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Synthetic-HCap QA: 5-way multiple-choice questions about Synthetic-HCap videos, written in EgoSchema's file format.

Every question is generated from a video's ground truth ([`plan_synthetic_video`]) and a seed, deterministically,
and is answered by one level of the hierarchy:

| kind          | level   | example                                                           | wrong options               |
|---------------|---------|-------------------------------------------------------------------|-----------------------------|
| `after`       | segment | What did C do right after swapping the red ball and the blue box? | the video's other activities |
| `before`      | segment | What did C do right before inspecting the green bottle?           | the video's other activities |
| `first`/`last`| video   | What did C do first in the video?                                 | the video's other activities |
| `occurred`    | video   | Which of these activities did C do in the video?                  | activities on the video's objects that did not happen |
| `clip_action` | clip    | Which of these short actions did C do at some point in the video? | actions that did not happen, mostly on the same object |

Options are canonical phrasings ("C swaps the red ball and the blue box"), not the paraphrases of the captions. For
`after`, `before`, `first` and `last` the wrong options are what C did in the same video at other times (filled up
with activities that did not happen when the video has fewer than four others), so mostly only the order of the
activities tells the answer. Two activities are the same when they are the same program on the
same objects (and side), so no wrong option means the answer (a swap of A and B is a swap of B and A).

[`write_synthetic_egoschema`] renders the videos and writes `questions.json` (EgoSchema's fields plus `video_uid`
and `kind`: several questions share one video), `subset_answers.json` and `ground_truth_captions.jsonl` (the
ground-truth captions in the `transformers-recap caption` results format, for an oracle run).
"""

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .synthetic import (
    ACTIONS,
    SyntheticSegment,
    SyntheticVideo,
    plan_synthetic_video,
    render_synthetic_video,
)


QUESTION_KINDS = ("after", "before", "first_or_last", "occurred", "clip_action")
"""The question kinds made for each video by default (`first_or_last` makes `first` or `last`)."""
KIND_LEVELS = {
    "after": "segment",
    "before": "segment",
    "first": "video",
    "last": "video",
    "occurred": "video",
    "clip_action": "clip",
}
"""The caption level each question kind is about."""
NUM_OPTIONS = 5

# Canonical phrasings (third person for options, gerund for questions); the captions use other paraphrases too.
_ACTIVITY_PHRASES: dict[str, tuple[str, str]] = {
    "inspect": ("inspects the {a}", "inspecting the {a}"),
    "shuffle": ("slides the {a} back and forth", "sliding the {a} back and forth"),
    "push_across": ("pushes the {a} to the {d} side of the table", "pushing the {a} to the {d} side of the table"),
    "relocate": ("carries the {a} to the {d} side of the table", "carrying the {a} to the {d} side of the table"),
    "swap": ("swaps the {a} and the {b}", "swapping the {a} and the {b}"),
    "replace": ("puts the {a} where the {b} was", "putting the {a} where the {b} was"),
}
_CLIP_PHRASES = {
    "pick_up": "picks up the {o}",
    "put_down": "puts down the {o}",
    "push": "pushes the {o} to the {d}",
    "carry": "carries the {o} to the {d}",
}
_TWO_OBJECTS = ("swap", "replace")
_SIDED = ("push_across", "relocate")


@dataclass(frozen=True)
class SyntheticQuestion:
    """One multiple-choice question about a synthetic video.

    Attributes:
        q_uid: `"<video_uid>-q<index>"`.
        video_uid: the video the question is about.
        kind: one of `after`, `before`, `first`, `last`, `occurred`, `clip_action`.
        level: the caption level that answers it (`KIND_LEVELS[kind]`).
        question: the question text.
        options: `NUM_OPTIONS` option texts.
        answer: index of the correct option.
    """

    q_uid: str
    video_uid: str
    kind: str
    level: str
    question: str
    options: tuple[str, ...]
    answer: int

    def to_egoschema(self) -> dict[str, Any]:
        """The question as an entry of EgoSchema's `questions.json` (plus `video_uid` and `kind`)."""
        record = {"q_uid": self.q_uid, "google_drive_id": "", "question": self.question}
        record.update({f"option {i}": option for i, option in enumerate(self.options)})
        record.update({"video_uid": self.video_uid, "kind": self.kind})
        return record


# An activity's meaning: (activity, object A, object B or None, side or None); swaps sorted by object.
_ActivityKey = tuple[str, str, str | None, str | None]
# A clip's meaning: (action, object, direction or None).
_ClipKey = tuple[str, str, str | None]


def _side(segment: SyntheticSegment) -> str | None:
    """The side object A ends on (push_across, relocate), read from the direction of A's moves."""
    return next((c.direction for c in segment.clips if c.direction and c.target_index == 0), None)


def _sortable(key: tuple) -> tuple[str, ...]:
    return tuple("" if part is None else part for part in key)


def _activity_key(activity: str, a: str, b: str | None, side: str | None) -> _ActivityKey:
    if activity == "swap":
        a, b = sorted((a, b))
    return (
        activity,
        a,
        b if activity in _TWO_OBJECTS else None,
        side if activity in _SIDED else None,
    )


def _segment_key(segment: SyntheticSegment) -> _ActivityKey:
    return _activity_key(segment.activity, segment.objects[0].name, segment.objects[1].name, _side(segment))


def _activity_text(key: _ActivityKey, gerund: bool = False) -> str:
    activity, a, b, side = key
    template = _ACTIVITY_PHRASES[activity][int(gerund)]
    return template.format(a=a, b=b, d=side)


def _clip_text(key: _ClipKey) -> str:
    action, obj, direction = key
    return "C " + _CLIP_PHRASES[action].format(o=obj, d=direction)


def _absent_activities(video: SyntheticVideo, present: set[_ActivityKey]) -> list[_ActivityKey]:
    """Every activity on the objects of one of the video's segments that did not happen, in a fixed order."""
    candidates = []
    for segment in video.segments:
        for first, second in ((0, 1), (1, 0)):
            a, b = segment.objects[first].name, segment.objects[second].name
            for activity in _ACTIVITY_PHRASES:
                for side in ("left", "right") if activity in _SIDED else (None,):
                    key = _activity_key(activity, a, b, side)
                    if key not in present and key not in candidates:
                        candidates.append(key)
    return candidates


def _pick(rng: np.random.Generator, pool: Sequence, count: int) -> list:
    if count <= 0 or not pool:
        return []
    indices = rng.permutation(len(pool))[:count]
    return [pool[i] for i in sorted(indices)]


def _shuffled(rng: np.random.Generator, answer: str, wrong: Sequence[str]) -> tuple[tuple[str, ...], int]:
    options = [answer, *wrong]
    order = rng.permutation(len(options))
    shuffled = tuple(options[i] for i in order)
    return shuffled, int(np.flatnonzero(order == 0)[0])


def make_synthetic_questions(
    video: SyntheticVideo, seed: int | Sequence[int], kinds: Sequence[str] = QUESTION_KINDS
) -> list[SyntheticQuestion]:
    """
    Questions about one video, one per kind of `kinds` (a kind that cannot be asked unambiguously about this video,
    e.g. `after` when every activity repeats, is left out).

    Args:
        video: the ground truth from [`plan_synthetic_video`].
        seed: seed (or seed sequence) of the question generator.
        kinds: from `QUESTION_KINDS` and the single kinds `first`, `last`.
    """
    rng = np.random.default_rng(seed)
    keys = [_segment_key(segment) for segment in video.segments]
    present = set(keys)
    absent = _absent_activities(video, present)
    wrong_count = NUM_OPTIONS - 1
    questions = []

    def add(kind: str, question: str, answer: str, wrong: Sequence[str]) -> None:
        options, index = _shuffled(rng, answer, wrong)
        questions.append(
            SyntheticQuestion(
                q_uid=f"{video.video_uid}-q{len(questions)}",
                video_uid=video.video_uid,
                kind=kind,
                level=KIND_LEVELS[kind],
                question=question,
                options=options,
                answer=index,
            )
        )

    def other_activities(answer: _ActivityKey) -> list[str]:
        """The video's other activities, filled up with activities that did not happen."""
        others = sorted({key for key in keys if key != answer}, key=_sortable)
        wrong = _pick(rng, others, wrong_count)
        wrong += _pick(rng, absent, wrong_count - len(wrong))
        return ["C " + _activity_text(key) for key in wrong]

    for kind in kinds:
        if kind == "first_or_last":
            kind = ("first", "last")[int(rng.integers(2))]
        if kind in ("after", "before"):
            step = 1 if kind == "after" else -1
            # The anchor must happen once, and the activity next to it must differ from it.
            anchors = [
                i
                for i in range(len(keys))
                if 0 <= i + step < len(keys) and keys.count(keys[i]) == 1 and keys[i + step] != keys[i]
            ]
            if not anchors:
                continue
            i = anchors[int(rng.integers(len(anchors)))]
            answer = keys[i + step]
            add(
                kind,
                f"What did C do right {kind} {_activity_text(keys[i], gerund=True)}?",
                "C " + _activity_text(answer),
                other_activities(answer),
            )
        elif kind in ("first", "last"):
            answer = keys[0 if kind == "first" else -1]
            question = "What did C do first in the video?" if kind == "first" else "What did C do last in the video?"
            add(kind, question, "C " + _activity_text(answer), other_activities(answer))
        elif kind == "occurred":
            answer = keys[int(rng.integers(len(keys)))]
            add(
                kind,
                "Which of these activities did C do in the video?",
                "C " + _activity_text(answer),
                ["C " + _activity_text(key) for key in _pick(rng, absent, wrong_count)],
            )
        elif kind == "clip_action":
            done = set()
            objects = []
            for segment in video.segments:
                for clip in segment.clips:
                    done.add((clip.action, segment.objects[clip.target_index].name, clip.direction))
                objects += [obj.name for obj in segment.objects if obj.name not in objects]
            answer = sorted(done, key=_sortable)[int(rng.integers(len(done)))]
            pool = [
                (action, obj, direction)
                for obj in objects
                for action in ACTIONS
                for direction in (("left", "right") if action in ("push", "carry") else (None,))
                if (action, obj, direction) not in done
            ]
            # Mostly near misses: another action or direction on the same object.
            same_object = [key for key in pool if key[1] == answer[1]]
            wrong = _pick(rng, same_object, 3)
            wrong += _pick(rng, [key for key in pool if key not in wrong], wrong_count - len(wrong))
            add(
                kind,
                "Which of these short actions did C do at some point in the video?",
                _clip_text(answer),
                [_clip_text(key) for key in wrong],
            )
        else:
            raise ValueError(f"Unknown question kind {kind!r}; expected one of {QUESTION_KINDS} or 'first', 'last'.")
    return [q for q in questions if len(q.options) == NUM_OPTIONS]


def ground_truth_caption_record(video: SyntheticVideo, video_path: str | None = None) -> dict[str, Any]:
    """
    The video's ground-truth captions in the form of `HierarchicalCaptions.to_dict()` (plus `video` and
    `video_uid`), i.e. one line of a `transformers-recap caption` results file.
    """
    return {
        "video": video_path or f"{video.video_uid}.mp4",
        "video_uid": video.video_uid,
        "duration": video.duration_sec,
        "clips": [{"start": c.start_sec, "end": c.end_sec, "text": c.caption} for c in video.clips],
        "segments": [{"start": s.start_sec, "end": s.end_sec, "text": s.description} for s in video.segments],
        "summary": video.summary,
    }


@dataclass(frozen=True)
class SyntheticQASummary:
    """What [`write_synthetic_egoschema`] wrote."""

    output_dir: str
    video_uids: tuple[str, ...]
    num_questions: int
    questions_file: str
    answers_file: str
    captions_file: str


def _write_json(path: str, data: Any) -> None:
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def write_synthetic_egoschema(
    output_dir: str | os.PathLike,
    num_videos: int,
    seed: int,
    *,
    size: int = 64,
    fps: int = 8,
    clip_seconds: float = 4.0,
    clips_per_segment: int = 6,
    segments_per_video: int = 5,
    kinds: Sequence[str] = QUESTION_KINDS,
    render: bool = True,
) -> SyntheticQASummary:
    """
    Writes a Synthetic-HCap QA set in EgoSchema's layout: `videos/<video_uid>.mp4`, `questions.json`,
    `subset_answers.json` (`q_uid -> index`) and `ground_truth_captions.jsonl`.

    Video `i` is the Synthetic-HCap video `synthetic-<seed>-<i:05d>` (the same plan as [`generate_synthetic_hcap`]
    with this seed), its questions come from the generator `(seed, i, 1)`. Use a seed the captioning model was not
    trained on. The layout arguments are those of [`generate_synthetic_hcap`]; pass a model's `synthetic_hcap.json`
    settings to match its training data. Videos already rendered are kept (`render=False` renders none).
    """
    if num_videos < 1:
        raise ValueError(f"num_videos must be at least 1, got {num_videos}.")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}.")
    output_dir = os.fspath(output_dir)
    video_dir = os.path.join(output_dir, "videos")
    os.makedirs(video_dir, exist_ok=True)
    questions, records, uids = [], [], []
    for index in range(num_videos):
        video = plan_synthetic_video(
            f"synthetic-{seed}-{index:05d}",
            (seed, index),
            clip_seconds=clip_seconds,
            clips_per_segment=clips_per_segment,
            segments_per_video=segments_per_video,
        )
        path = os.path.join(video_dir, f"{video.video_uid}.mp4")
        if render and not os.path.isfile(path):
            render_synthetic_video(path, video, size=size, fps=fps)
        questions += make_synthetic_questions(video, (seed, index, 1), kinds)
        records.append(ground_truth_caption_record(video, path))
        uids.append(video.video_uid)
    files = [os.path.join(output_dir, name) for name in ("questions.json", "subset_answers.json")]
    _write_json(files[0], [q.to_egoschema() for q in questions])
    _write_json(files[1], {q.q_uid: q.answer for q in questions})
    captions_file = os.path.join(output_dir, "ground_truth_captions.jsonl")
    partial = captions_file + ".partial"
    with open(partial, "w", encoding="utf-8") as file:
        file.write("".join(json.dumps(record) + "\n" for record in records))
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, captions_file)
    return SyntheticQASummary(output_dir, tuple(uids), len(questions), files[0], files[1], captions_file)


__all__ = [
    "KIND_LEVELS",
    "NUM_OPTIONS",
    "QUESTION_KINDS",
    "SyntheticQASummary",
    "SyntheticQuestion",
    "ground_truth_caption_record",
    "make_synthetic_questions",
    "write_synthetic_egoschema",
]
