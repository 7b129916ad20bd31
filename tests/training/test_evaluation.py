"""Evaluating a model on an Ego4D-HCap split (examples/evaluate_hcap.py) and the paper's Table 2 layout."""

import importlib.util
import json
from pathlib import Path

import pytest

from tests.video_fixtures import load_tiny, save_tiny_model
from transformers_recap import HierarchicalCaptioner
from transformers_recap.data.synthetic import generate_synthetic_hcap
from transformers_recap.metrics import compute_caption_metrics
from transformers_recap.training.evaluation import PAPER_TABLE_2, format_table, most_frequent_caption
from transformers_recap.training.extraction import extract_videos


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_table_has_the_paper_layout():
    table = format_table({"ours": {"clip": {"CIDEr": 1.0, "ROUGE_L": 2.0, "METEOR": 3.0}}})
    lines = table.splitlines()
    assert lines[0] == (
        "| model | clip C | clip R | clip M | segment C | segment R | segment M | video C | video R | video M |"
    )
    assert (
        lines[2] == "| Video ReCap (paper) | 98.35 | 48.77 | 28.28 | 46.88 | 39.73 | 18.55 | 29.34 | 32.64 | 14.45 |"
    )
    assert lines[-1] == "| ours | 1.00 | 2.00 | 3.00 | - | - | - | - | - | - |"
    assert len(lines) == 2 + len(PAPER_TABLE_2) + 1
    assert most_frequent_caption(["a", "b", "b", "a", "c", "b"]) == "b"
    with pytest.raises(ValueError, match="No training captions"):
        most_frequent_caption([])


def test_evaluate_hcap_script_scores_every_level(tmp_path, capsys):
    data_dir = tmp_path / "hcap"
    generate_synthetic_hcap(data_dir, 2, seed=7, split="validation", size=32, fps=4, clips_per_segment=4,
                            segments_per_video=2)  # fmt: skip
    model_dir = save_tiny_model(tmp_path / "model")
    model, processor = load_tiny(model_dir)
    captioner = HierarchicalCaptioner(model, processor, levels=("clip",), progress=False)
    videos = {path.stem: str(path) for path in (data_dir / "videos").glob("*.mp4")}
    features_dir = tmp_path / "features"
    assert extract_videos(captioner, videos, features_dir, caption_clips=False, progress=False) == []

    output = tmp_path / "predictions.json"
    script = load_example("evaluate_hcap")
    code = script.main(
        ["--model", str(model_dir), "--data-dir", str(data_dir), "--video-dir", str(data_dir / "videos"),
         "--features-dir", str(features_dir), "--split", "validation", "--clip-every", "3", "--batch-size", "4",
         "--device", "cpu", "--name", "tiny", "--output", str(output)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| tiny |" in printed and "| Video ReCap-U (paper) |" in printed

    results = json.loads(output.read_text())
    assert [len(results[level]["predictions"]) for level in ("clip", "segment", "video")] == [6, 4, 2]  # 16 clips
    for result in results.values():
        predictions = [item["prediction"] for item in result["predictions"]]
        references = [item["reference"] for item in result["predictions"]]
        scores = compute_caption_metrics(predictions, references)
        assert result["scores"]["CIDEr"] == pytest.approx(100 * scores["CIDEr"])
        assert result["scores"]["ROUGE_L"] == pytest.approx(100 * scores["rougeLsum"])
        assert result["scores"]["METEOR"] == pytest.approx(100 * scores["METEOR"], abs=1e-6)
        assert f"{result['scores']['CIDEr']:.2f}" in printed
    assert results["video"]["predictions"][0]["reference"].startswith(("C ", "First C", "In this video C"))


def test_evaluate_hcap_script_rejects_unknown_levels(tmp_path, capsys):
    script = load_example("evaluate_hcap")
    assert script.main(["--model", str(tmp_path), "--data-dir", str(tmp_path), "--levels", "clip,scene"]) == 2
    assert "unknown level" in capsys.readouterr().err
