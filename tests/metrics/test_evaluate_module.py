"""The bundled `evaluate` module loads from its local path offline and returns compute_caption_metrics' numbers."""

import evaluate
import pytest

from transformers_recap.metrics import compute_caption_metrics, evaluate_module_path


@pytest.fixture(scope="module")
def metric():
    return evaluate.load(evaluate_module_path("video_recap_captions"))


@pytest.mark.parametrize("mode", ["videorecap", "coco"])
def test_evaluate_module_matches_compute_caption_metrics(metric, corpus, meteor_scorer, mode):
    predictions, references = corpus
    result = metric.compute(
        predictions=predictions,
        references=references,
        mode=mode,
        return_per_sample=True,
        meteor_scorer=meteor_scorer,
    )
    expected = compute_caption_metrics(
        predictions, references, mode=mode, return_per_sample=True, meteor_scorer=meteor_scorer
    )
    assert result == expected


def test_evaluate_module_takes_one_reference_string_per_prediction(metric, meteor_scorer):
    predictions, references = ["c cuts the bread", "c opens the door."], ["c cuts bread", "C opens a door"]
    result = metric.compute(predictions=predictions, references=references, meteor_scorer=meteor_scorer)
    assert result == compute_caption_metrics(predictions, references, meteor_scorer=meteor_scorer)


def test_unknown_module_name():
    with pytest.raises(ValueError, match="video_recap_captions"):
        evaluate_module_path("cider")
