# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""EgoSchema (Mangalam et al., 2023): 5-way multiple-choice questions about 3-minute Ego4D videos, as a `datasets.Dataset`.

Files (from https://github.com/egoschema/EgoSchema):

- `questions.json`: a list of `{"q_uid", "google_drive_id", "question", "option 0", ..., "option 4"}`; the video of a
  question is `<q_uid>.mp4`. An entry may also have `"video_uid"` (the video's file name without extension, when
  several questions share one video, as in [`write_synthetic_egoschema`]) and `"kind"` (a question category).
- `subset_answers.json`: `{q_uid: index of the correct option}` for the public subset (500 questions); the answers of
  the other questions are scored on Kaggle (`egoschema-public`) from a CSV `q_uid,answer`.

Fields of [`load_egoschema`]: `q_uid`, `video_uid`, `question`, `options` (5 strings, in `option 0..4` order),
`answer` (int, -1 when unknown), `google_drive_id`, `kind` (`None` when absent) and, with `video_dir`,
`video_path` (`<video_dir>/<video_uid>.mp4`).
"""

import json
import os
from typing import Any

import datasets
from datasets.utils import logging


logger = logging.get_logger(__name__)

NUM_OPTIONS = 5
QUESTION_KEYS = ("q_uid", "question", *(f"option {i}" for i in range(NUM_OPTIONS)))

FEATURES = datasets.Features(
    {
        "q_uid": datasets.Value("string"),
        "video_uid": datasets.Value("string"),
        "question": datasets.Value("string"),
        "options": datasets.Sequence(datasets.Value("string"), length=NUM_OPTIONS),
        "answer": datasets.Value("int32"),
        "google_drive_id": datasets.Value("string"),
        "kind": datasets.Value("string"),
    }
)


class EgoSchemaFormatError(ValueError):
    """A questions or answers file that is not in EgoSchema's format; `str(error)` names the file and the problem."""


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise EgoSchemaFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EgoSchemaFormatError(f"{path}: is a directory, not a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EgoSchemaFormatError(f"{path}: not valid JSON ({error})") from None


def read_egoschema_questions(path: str | os.PathLike) -> list[dict[str, Any]]:
    """
    The entries of an EgoSchema `questions.json`, checked: each has a unique string `q_uid`, a `question` and
    `option 0` .. `option 4` (strings). Raises [`EgoSchemaFormatError`] naming the file and the first bad entry.
    """
    path = os.fspath(path)
    data = _read_json(path)
    if not isinstance(data, list):
        raise EgoSchemaFormatError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
    seen = set()
    for index, entry in enumerate(data):
        where = f"{path}: question {index}"
        if not isinstance(entry, dict):
            raise EgoSchemaFormatError(f"{where} is a {type(entry).__name__}, not an object")
        missing = [key for key in QUESTION_KEYS if key not in entry]
        if missing:
            raise EgoSchemaFormatError(f"{where} has no {', '.join(repr(key) for key in missing)}")
        bad = [key for key in QUESTION_KEYS if not isinstance(entry[key], str)]
        if bad:
            names = ", ".join(repr(key) for key in bad)
            raise EgoSchemaFormatError(f"{where}: {names} must be {'a string' if len(bad) == 1 else 'strings'}")
        for key in ("video_uid", "google_drive_id", "kind"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                raise EgoSchemaFormatError(f"{where}: {key!r} must be a string")
        for key in ("q_uid", "video_uid"):
            if entry.get(key) and (os.sep in entry[key] or "/" in entry[key] or entry[key] in (".", "..")):
                raise EgoSchemaFormatError(f"{where}: {key!r} names a video file and must not be a path")
        if entry["q_uid"] in seen:
            raise EgoSchemaFormatError(f"{where} repeats q_uid {entry['q_uid']!r}")
        seen.add(entry["q_uid"])
    return data


def read_egoschema_answers(path: str | os.PathLike) -> dict[str, int]:
    """
    An EgoSchema answers file (`subset_answers.json`): `{q_uid: index}` with indices 0 to 4 (integers, or strings
    of one digit). Raises [`EgoSchemaFormatError`] naming the file and the first bad entry.
    """
    path = os.fspath(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise EgoSchemaFormatError(f"{path}: expected a JSON object q_uid -> answer index, got {type(data).__name__}")
    answers = {}
    for q_uid, value in data.items():
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < NUM_OPTIONS:
            raise EgoSchemaFormatError(f"{path}: answer of {q_uid!r} must be an option index 0-4, got {value!r}")
        answers[q_uid] = value
    return answers


def load_egoschema(
    questions_file: str | os.PathLike,
    answers_file: str | os.PathLike | None = None,
    video_dir: str | os.PathLike | None = None,
    only_answered: bool = False,
) -> datasets.Dataset:
    """
    EgoSchema questions as a `datasets.Dataset` (fields in the module docstring).

    Args:
        questions_file: `questions.json`.
        answers_file (*optional*): `subset_answers.json`; answers of q_uids not in the questions are ignored (with a
            warning).
        video_dir (*optional*): folder of `<video_uid>.mp4`; adds `video_path` (whether or not the file exists).
        only_answered: keep only the questions with an answer (e.g. the 500-question public subset).
    Raises:
        [`EgoSchemaFormatError`]: a file is missing or not in EgoSchema's format.
    """
    questions = read_egoschema_questions(questions_file)
    answers = read_egoschema_answers(answers_file) if answers_file is not None else {}
    unknown = set(answers) - {entry["q_uid"] for entry in questions}
    if unknown:
        logger.warning(f"{os.fspath(answers_file)}: {len(unknown)} answers are for questions not in {questions_file}")
    rows = []
    for entry in questions:
        answer = answers.get(entry["q_uid"], -1)
        if only_answered and answer < 0:
            continue
        rows.append(
            {
                "q_uid": entry["q_uid"],
                "video_uid": entry.get("video_uid") or entry["q_uid"],
                "question": entry["question"],
                "options": [entry[f"option {i}"] for i in range(NUM_OPTIONS)],
                "answer": answer,
                "google_drive_id": entry.get("google_drive_id"),
                "kind": entry.get("kind"),
            }
        )
    features = FEATURES.copy()
    if video_dir is not None:
        video_dir = os.fspath(video_dir)
        features["video_path"] = datasets.Value("string")
        for row in rows:
            row["video_path"] = os.path.join(video_dir, f"{row['video_uid']}.mp4")
    return datasets.Dataset.from_list(rows, features=features)


__all__ = [
    "EgoSchemaFormatError",
    "load_egoschema",
    "read_egoschema_answers",
    "read_egoschema_questions",
]
