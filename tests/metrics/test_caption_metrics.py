"""compute_caption_metrics against the paper's (nlg-eval) and the COCO pipelines, computed here with pycocoevalcap."""

import numpy as np
import pytest

import transformers_recap.metrics.caption_metrics as caption_metrics
from transformers_recap.metrics import CAPTION_METRIC_NAMES, MeteorScorer, compute_caption_metrics


@pytest.mark.parametrize("mode", ["videorecap", "coco"])
def test_matches_reference_pipeline(corpus, meteor_scorer, reference_metrics, mode):
    predictions, references = corpus
    result = compute_caption_metrics(
        predictions, references, mode=mode, return_per_sample=True, meteor_scorer=meteor_scorer
    )
    expected = reference_metrics(predictions, references, mode)
    assert set(result) == {*CAPTION_METRIC_NAMES, "per_sample"}
    for name in CAPTION_METRIC_NAMES:
        assert isinstance(result[name], float)
        assert abs(result[name] - expected["scores"][name]) <= 1e-9, name
        np.testing.assert_allclose(result["per_sample"][name], expected["per_sample"][name], rtol=0, atol=1e-9)


def test_modes_differ_where_tokenisation_matters(meteor_scorer):
    predictions, references = ["C cuts the bread."], [["c cuts the bread"]]
    videorecap = compute_caption_metrics(predictions, references, meteor_scorer=meteor_scorer)
    coco = compute_caption_metrics(predictions, references, mode="coco", meteor_scorer=meteor_scorer)
    # "bread." is not "bread" on whitespace tokens; PTB tokenisation drops the period.
    assert videorecap["BLEU_1"] < 1.0 and coco["BLEU_1"] == pytest.approx(1.0)
    assert videorecap["rougeL"] == coco["rougeL"] == 1.0


def test_references_may_be_strings_or_lists(meteor_scorer):
    predictions = ["c cuts the bread", "c opens the door"]
    as_lists = compute_caption_metrics(
        predictions, [["c cuts bread"], ["c opens a door"]], meteor_scorer=meteor_scorer
    )
    mixed = compute_caption_metrics(predictions, ["c cuts bread", ("c opens a door",)], meteor_scorer=meteor_scorer)
    assert as_lists == mixed
    assert "per_sample" not in as_lists


def test_starts_and_closes_its_own_meteor(monkeypatch):
    started = []

    class RecordingMeteorScorer(MeteorScorer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(caption_metrics, "MeteorScorer", RecordingMeteorScorer)
    result = compute_caption_metrics(["c cuts the bread"], ["c cuts bread"], return_per_sample=True)
    assert len(started) == 1 and started[0].closed and started[0]._process.returncode == 0
    assert len(result["per_sample"]["METEOR"]) == 1
    with pytest.raises(RuntimeError, match="closed"):
        started[0].score(["a"], [["a"]])


@pytest.mark.parametrize(
    ("predictions", "references", "kwargs", "error", "match"),
    [
        (["a", "b"], ["a"], {}, ValueError, "same length"),
        ([], [], {}, ValueError, "empty"),
        (["a", None], ["a", "b"], {}, TypeError, r"predictions\[1\] must be a str"),
        (["a", 3], ["a", "b"], {}, TypeError, r"predictions\[1\] must be a str"),
        (["a"], [["a", b"b"]], {}, TypeError, r"references\[0\]\[1\] must be a str"),
        (["a"], [7], {}, TypeError, r"references\[0\] must be a str or a list of str"),
        (["a"], [[]], {}, ValueError, r"references\[0\] is an empty list"),
        ("a caption", ["a"], {}, TypeError, "predictions must be a list"),
        (["a"], "a", {}, TypeError, "references must be a list"),
        (["a"], ["a"], {"mode": "nlgeval"}, ValueError, "mode must be one of"),
    ],
)
def test_input_errors_come_before_java_starts(monkeypatch, predictions, references, kwargs, error, match):
    def no_java(*args, **kwargs):
        raise AssertionError("Meteor must not start for invalid input")

    monkeypatch.setattr(caption_metrics, "MeteorScorer", no_java)
    with pytest.raises(error, match=match):
        compute_caption_metrics(predictions, references, **kwargs)
