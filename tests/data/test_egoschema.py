"""The EgoSchema loader on questions and answers files written here in EgoSchema's format."""

import json
import os

import pytest

from transformers_recap.data import EgoSchemaFormatError, load_egoschema, read_egoschema_answers


def question(q_uid: str, **extra) -> dict:
    entry = {"q_uid": q_uid, "google_drive_id": f"drive-{q_uid}", "question": f"What is {q_uid} about?"}
    entry.update({f"option {i}": f"{q_uid} option {i}" for i in range(5)})
    entry.update(extra)
    return entry


@pytest.fixture
def egoschema_files(tmp_path):
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps([question("aaa"), question("bbb"), question("ccc", video_uid="v1", kind="after")]))
    answers = tmp_path / "subset_answers.json"
    answers.write_text(json.dumps({"aaa": 3, "ccc": "0", "zzz": 1}))
    return questions, answers


def test_questions_and_answers(egoschema_files, tmp_path):
    questions, answers = egoschema_files
    dataset = load_egoschema(questions, answers, video_dir=tmp_path / "videos")
    assert dataset["q_uid"] == ["aaa", "bbb", "ccc"]
    assert dataset["answer"] == [3, -1, 0]  # "zzz" is not a question and is ignored
    first = dataset[0]
    assert first["question"] == "What is aaa about?"
    assert first["options"] == [f"aaa option {i}" for i in range(5)]
    assert first["google_drive_id"] == "drive-aaa"
    assert first["video_uid"] == "aaa" and first["kind"] is None
    assert first["video_path"] == os.path.join(str(tmp_path / "videos"), "aaa.mp4")
    assert dataset[2]["video_uid"] == "v1" and dataset[2]["kind"] == "after"
    assert dataset[2]["video_path"].endswith(os.path.join("videos", "v1.mp4"))
    answered = load_egoschema(questions, answers, only_answered=True)
    assert answered["q_uid"] == ["aaa", "ccc"] and "video_path" not in answered.column_names
    unanswered = load_egoschema(questions)
    assert unanswered["answer"] == [-1, -1, -1]
    assert read_egoschema_answers(answers) == {"aaa": 3, "ccc": 0, "zzz": 1}


def bad_option(entries):
    entries[1]["option 2"] = 7
    return entries


def without_option(entries):
    del entries[0]["option 4"]
    return entries


@pytest.mark.parametrize(
    "content, message",
    [
        ("[{", "not valid JSON"),
        (json.dumps({"q_uid": "x"}), "expected a JSON list of questions, got dict"),
        (json.dumps(["text"]), "question 0 is a str, not an object"),
        (json.dumps(without_option([question("a"), question("b")])), "question 0 has no 'option 4'"),
        (json.dumps(bad_option([question("a"), question("b")])), "question 1: 'option 2' must be a string"),
        (json.dumps([question("a"), question("a")]), "question 1 repeats q_uid 'a'"),
        (json.dumps([question("../../x")]), "'q_uid' names a video file and must not be a path"),
        (json.dumps([question("a", kind=3)]), "question 0: 'kind' must be a string"),
    ],
)
def test_bad_questions_files_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "questions.json"
    path.write_text(content)
    with pytest.raises(EgoSchemaFormatError) as error:
        load_egoschema(path)
    text = str(error.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        (json.dumps([1, 2]), "expected a JSON object q_uid -> answer index, got list"),
        (json.dumps({"aaa": 5}), "answer of 'aaa' must be an option index 0-4, got 5"),
        (json.dumps({"aaa": "B"}), "answer of 'aaa' must be an option index 0-4, got 'B'"),
        (json.dumps({"aaa": True}), "answer of 'aaa' must be an option index 0-4, got True"),
    ],
)
def test_bad_answers_files_get_one_line_errors(egoschema_files, content, message):
    questions, answers = egoschema_files
    answers.write_text(content)
    with pytest.raises(EgoSchemaFormatError) as error:
        load_egoschema(questions, answers)
    text = str(error.value)
    assert text.startswith(f"{answers}: ") and message in text and "\n" not in text


def test_missing_files(tmp_path, egoschema_files):
    with pytest.raises(EgoSchemaFormatError, match="no such file"):
        load_egoschema(tmp_path / "nowhere.json")
    with pytest.raises(EgoSchemaFormatError, match="is a directory"):
        load_egoschema(egoschema_files[0], tmp_path)
