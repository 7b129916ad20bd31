"""METEOR through one persistent Meteor 1.5 process against pycocoevalcap's Meteor wrapper, computed here."""

import re

import numpy as np
import pytest

from transformers_recap.metrics import JavaNotFoundError, MeteorScorer, compute_caption_metrics, ptb_tokenize
from transformers_recap.metrics.meteor import meteor_score_line


def test_meteor_matches_pycocoevalcap(corpus, meteor_scorer, coco_meteor):
    predictions = [p.strip().lower() for p in corpus[0]]
    references = [[r.strip().lower() for r in refs] for refs in corpus[1]]
    corpus_score, per_sample = meteor_scorer.score(predictions, references)
    # pycocoevalcap sends the references unchanged, so give it nlg-eval's collapsed whitespace (no newlines).
    expected, expected_per_sample = coco_meteor.compute_score(
        {i: [re.sub(r"\s+", " ", r) for r in refs] for i, refs in enumerate(references)},
        {i: [re.sub(r"\s+", " ", p)] for i, p in enumerate(predictions)},
    )
    assert abs(corpus_score - expected) <= 1e-12
    np.testing.assert_allclose(per_sample, expected_per_sample, rtol=0, atol=1e-12)
    # The reported number comes from the summed statistics, not the mean of the per-sample scores.
    assert abs(corpus_score - np.mean(per_sample)) > 1e-6


def test_meteor_reuses_its_process(meteor_scorer):
    pid = meteor_scorer._process.pid
    first = meteor_scorer.score(["c cuts the bread"], [["c cuts bread with a knife", "the man cuts bread"]])
    second = meteor_scorer.score(["c cuts the bread"], [["c cuts bread with a knife", "the man cuts bread"]])
    assert first == second
    assert meteor_scorer._process.pid == pid and meteor_scorer._process.poll() is None


def test_meteor_score_line_follows_nlg_eval():
    assert meteor_score_line("c  cuts\nthe ||| bread", ["a\tb", "c"]) == "SCORE ||| a b ||| c ||| c cuts the bread"
    # An empty prediction keeps its (empty) field: Meteor drops trailing empty fields.
    assert meteor_score_line("", ["c cuts bread"]) == "SCORE ||| c cuts bread ||| "
    assert meteor_score_line("x", ["a ||| b"]) == "SCORE ||| a b ||| x"


def test_meteor_input_errors(meteor_scorer):
    with pytest.raises(ValueError, match="same length"):
        meteor_scorer.score(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="empty"):
        meteor_scorer.score([], [])


def test_a_dead_process_is_a_clear_error_and_closes_the_scorer():
    scorer = MeteorScorer()
    scorer._process.kill()
    scorer._process.wait()
    with pytest.raises(RuntimeError, match="Meteor 1.5 exited with code"):
        scorer.score(["a"], ["a"])
    assert scorer.closed
    with pytest.raises(RuntimeError, match="closed"):
        scorer.score(["a"], ["a"])


def test_missing_java_is_one_clear_line(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda *args, **kwargs: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    for call in (MeteorScorer, lambda: ptb_tokenize(["a"]), lambda: compute_caption_metrics(["a"], ["a"])):
        with pytest.raises(JavaNotFoundError) as error:
            call()
        message = str(error.value)
        assert "\n" not in message and "apt-get install -y openjdk-17-jre-headless" in message
