"""examples/egoschema_qa.py end to end: a synthetic video captioned by the demo model, answered by a tiny GPT-2."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from tests.utils import train_tiny_tokenizer
from transformers_recap import demo_model_path
from transformers_recap.data.synthetic import SYNTHETIC_SETTINGS_FILE
from transformers_recap.data.synthetic_qa import write_synthetic_egoschema


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "egoschema_qa.py"
SETTINGS = ("clip", "clip+segment", "hierarchical")


def load_example():
    spec = importlib.util.spec_from_file_location("egoschema_qa", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """One 2-minute synthetic video (a seed the demo model never saw) with its questions, and a tiny saved GPT-2."""
    root = tmp_path_factory.mktemp("egoschema_qa")
    layout = json.loads((Path(demo_model_path()) / SYNTHETIC_SETTINGS_FILE).read_text())
    keys = ("size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video")
    data = write_synthetic_egoschema(root / "set", 1, 9001, **{key: layout[key] for key in keys})
    tokenizer = train_tiny_tokenizer()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=4096, n_embd=32, n_layer=2, n_head=2)
    GPT2LMHeadModel(config).save_pretrained(root / "llm")
    tokenizer.save_pretrained(root / "llm")
    return root, data


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_captions_answers_and_reports(workspace, capsys):
    root, data = workspace
    example = load_example()
    output = root / "run"
    arguments = [
        "--model", "demo", "--llm", str(root / "llm"), "--questions", data.questions_file, "--answers",
        data.answers_file, "--videos", str(root / "set" / "videos"), "--output", str(output), "--device", "cpu",
        "--no-progress",
    ]  # fmt: skip
    assert example.main(arguments) == 0
    printed = capsys.readouterr()
    captions = lines(output / "captions.jsonl")
    assert len(captions) == 1 and captions[0]["video_uid"] == data.video_uids[0]
    assert len(captions[0]["clips"]) == 30 and len(captions[0]["segments"]) == 5 and captions[0]["summary"]

    answers = json.loads(Path(data.answers_file).read_text())
    predictions = lines(output / "predictions.jsonl")
    assert len(predictions) == len(answers) * len(SETTINGS)
    assert {(p["q_uid"], p["setting"]) for p in predictions} == {(q, s) for q in answers for s in SETTINGS}
    results = json.loads((output / "results.json").read_text())
    for setting in SETTINGS:
        rows = [p for p in predictions if p["setting"] == setting]
        assert all(isinstance(p["prediction"], int) and len(p["scores"]) == 5 for p in rows)
        assert all(p["prediction"] == max(range(5), key=p["scores"].__getitem__) for p in rows)
        expected = sum(p["prediction"] == answers[p["q_uid"]] for p in rows) / len(rows)
        assert results["settings"][setting]["accuracy"] == pytest.approx(expected)
        assert f"{expected:.1%}" in printed.out
    table = printed.out.splitlines()
    assert any(line.startswith("Clip captions ") for line in table)
    assert any(line.startswith("Hierarchical (clip + segment + video)") for line in table)
    # More captions make longer prompts (the LLM's context holds them all: none is dropped).
    assert not any(p["truncated"] for p in predictions)
    tokens = {s: sum(p["prompt_tokens"] for p in predictions if p["setting"] == s) for s in SETTINGS}
    assert tokens["clip"] < tokens["clip+segment"] < tokens["hierarchical"]

    # A rerun captions nothing and answers nothing again; a run killed mid-line resumes without duplicates.
    text = (output / "predictions.jsonl").read_text()
    kept = "".join(text.splitlines(keepends=True)[:7])
    (output / "predictions.jsonl").write_text(kept + '{"q_uid": "synthetic-9001-00000-q4", "sett')
    assert example.main(arguments) == 0
    assert "captioning" not in capsys.readouterr().err
    assert len(lines(output / "captions.jsonl")) == 1
    again = lines(output / "predictions.jsonl")
    assert again[:7] == predictions[:7] and len(again) == len(predictions)
    assert sorted(again, key=lambda p: (p["q_uid"], p["setting"])) == sorted(
        predictions, key=lambda p: (p["q_uid"], p["setting"])
    )

    # Without answers: saved captions are reused (no captioning model needed) and submissions are written.
    submission_run = root / "submission"
    arguments = [
        "--llm", "text-similarity", "--questions", data.questions_file, "--captions",
        str(output / "captions.jsonl"), "--output", str(submission_run), "--settings", "clip,hierarchical",
    ]  # fmt: skip
    assert example.main(arguments) == 0
    baseline = {(p["q_uid"], p["setting"]): p["prediction"] for p in lines(submission_run / "predictions.jsonl")}
    for setting, name in (("clip", "clip"), ("hierarchical", "hierarchical")):
        with open(submission_run / f"submission_{name}.csv", newline="") as file:
            rows = list(csv.reader(file))
        assert rows[0] == ["q_uid", "answer"]
        assert {q: int(a) for q, a in rows[1:]} == {q: baseline[(q, setting)] for q in answers}


def test_bad_input_gets_one_line_errors(workspace, capsys, tmp_path):
    root, data = workspace
    example = load_example()
    broken = tmp_path / "questions.json"
    broken.write_text(json.dumps([{"q_uid": "x", "question": "?"}]))
    common = ["--llm", "text-similarity", "--output", str(tmp_path / "out")]
    assert example.main([*common, "--questions", str(broken)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"egoschema_qa.py: error: {broken}: question 0 has no 'option 0'") and "\n" not in error
    # No saved captions and no captioning model.
    assert example.main([*common, "--questions", data.questions_file]) == 1
    assert "have no saved captions" in capsys.readouterr().err
    assert example.main([*common, "--questions", data.questions_file, "--settings", "clip+audio"]) == 1
    assert "Unknown caption setting 'clip+audio'" in capsys.readouterr().err


def test_egoschema_questions_get_the_papers_numbers(workspace, capsys, tmp_path):
    root, data = workspace
    entries = json.loads(Path(data.questions_file).read_text())
    for entry in entries:
        del entry["kind"]  # as in EgoSchema's own file
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(entries))
    arguments = [
        "--llm", "text-similarity", "--questions", str(questions), "--answers", data.answers_file, "--captions",
        data.captions_file, "--output", str(tmp_path / "out"),
    ]  # fmt: skip
    assert load_example().main(arguments) == 0
    table = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines() if "  " in line}
    assert table["Caption setting"].split()[-1] == "Paper"
    assert table["Clip captions"].endswith("46.03%")
    assert table["Clip captions + segment descriptions"].endswith(" -")
    assert table["Hierarchical (clip + segment + video)"].endswith("50.23%")
