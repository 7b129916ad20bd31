"""examples/evaluate_synthetic_heldout.py on the bundled demo model and one held-out video."""

import json

from transformers_recap.data.synthetic import plan_synthetic_video
from transformers_recap.metrics import compute_caption_metrics

from .test_teacher import load_example, make_tiny_hcap


def test_heldout_scores_are_the_metrics_of_the_written_predictions(tmp_path, capsys):
    make_tiny_hcap(tmp_path / "data")
    script = load_example("evaluate_synthetic_heldout")
    arguments = ["--seeds", "7000", "--model", "demo=demo", "--train-data", str(tmp_path / "data")]
    assert script.main([*arguments, "--work-dir", str(tmp_path / "out")]) == 0
    assert "| demo |" in capsys.readouterr().out
    written = json.loads((tmp_path / "out" / "predictions.json").read_text())
    truth = plan_synthetic_video("synthetic-7000-00000", (7000, 0))
    assert written["references"]["video"] == [truth.summary]
    assert written["references"]["segment"] == [segment.description for segment in truth.segments]
    assert len(written["predictions"]["demo"]["clip"]) == len(truth.clips)
    for name, per_level in written["predictions"].items():
        for level, predictions in per_level.items():
            expected = compute_caption_metrics(predictions, written["references"][level])
            assert abs(written["scores"][name][level]["CIDEr"] - 100 * expected["CIDEr"]) < 1e-9
    baseline = written["predictions"]["most frequent training caption"]["video"]
    assert len(baseline) == 1


def test_seeds_of_the_training_data_are_refused(tmp_path, capsys):
    script = load_example("evaluate_synthetic_heldout")
    assert script.main(["--seeds", "0", "--model", "demo", "--work-dir", str(tmp_path)]) == 2
    assert "seed 0 made training or validation data" in capsys.readouterr().err
