"""Shared caption cases and Java processes (one Meteor of ours, one of pycocoevalcap) for the metric tests."""

import random

import pytest

from transformers_recap.metrics import MeteorScorer


LONG_SUMMARY = (
    "In this video, c is cooking a meal in the kitchen. c washes the vegetables in the sink, cuts an onion with a "
    "knife on the chopping board and puts the pieces in a pan. Then c stirs the food, adds salt and pepper, tastes "
    "it with a spoon and turns off the stove. Finally, c serves the food on two plates and cleans the table."
)

# (prediction, references): punctuation, casing, multiple references, empty and blank captions, long summaries,
# newlines inside summaries, unicode, quotes and brackets, tabs, repeated words, the Meteor field separator.
EDGE_CASES = [
    ("c picks up a knife from the table", ["c picks up a knife from the table."]),
    ("C Picks Up The Knife.", ["c picks up a knife", "The man picks up the KNIFE from the table", "knife"]),
    ("", ["c opens the door"]),
    ("   ", ["  c washes a cup  "]),
    ("c opens the door", ["", "c opens a door"]),
    ("knife", ["knife"]),
    ("the the the the", ["the cat sat on the mat", "the the"]),
    (LONG_SUMMARY, [LONG_SUMMARY.replace("c ", "the man ").replace("knife", "blade")]),
    (LONG_SUMMARY.lower(), [LONG_SUMMARY.replace(". ", ".\n")]),
    ("c cooks.\nc washes the plates.\n\nc leaves", ["c is cooking.\nthen c washes plates and leaves the kitchen."]),
    (
        "c puts the café crème on the table — naïve 東京 🙂",
        ["c places the café crème on a table", "c puts a cup down"],
    ),
    ('c says "hello" (twice) and leaves', ["c said 'hello' twice, then left!", "c says hello -- and goes away..."]),
    ("c  moves\tthe chair", ["c moves the\u00a0chair"]),
    ("c cuts 3 onions at 10:30", ["c cuts three onions at 10:30am", "c's friend doesn't cut well-known onions"]),
    ("c holds a ||| sign", ["c holds a sign"]),
    ("ÉCOLE İstanbul ǅ", ["école istanbul ǆ"]),
]

SUBJECTS = ["c", "the man", "a woman", "c's friend"]
VERBS = ["picks up", "puts down", "holds", "cuts", "washes", "opens", "looks at", "wipes"]
OBJECTS = ["a knife", "the cup", "a piece of dough", "the laptop", "the door", "a bowl of rice", "the lid"]
PLACES = ["on the table", "in the sink", "with his left hand", "near the stove", ""]


def _caption(rng: random.Random) -> str:
    caption = " ".join(
        filter(None, [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)])
    )
    caption += rng.choice(["", ".", " .", ","])
    return caption.capitalize() if rng.random() < 0.3 else caption


def random_corpus(num_samples: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """Ego4D-style clip captions with 1-3 references and some multi-sentence (sometimes multi-line) summaries."""
    rng = random.Random(seed)
    predictions, references = [], []
    for _ in range(num_samples):
        if rng.random() < 0.15:
            separator = rng.choice([" ", "\n"])
            predictions.append(separator.join(_caption(rng) for _ in range(rng.randint(2, 6))))
            references.append([separator.join(_caption(rng) for _ in range(rng.randint(2, 6)))])
        else:
            predictions.append(_caption(rng))
            references.append([_caption(rng) for _ in range(rng.choice([1, 1, 2, 3]))])
    return predictions, references


@pytest.fixture(scope="session")
def edge_cases() -> list[tuple[str, list[str]]]:
    return EDGE_CASES


@pytest.fixture(scope="session")
def corpus() -> tuple[list[str], list[list[str]]]:
    predictions, references = random_corpus(200, seed=0)
    return [case[0] for case in EDGE_CASES] + predictions, [case[1] for case in EDGE_CASES] + references


@pytest.fixture(scope="session")
def meteor_scorer():
    with MeteorScorer() as scorer:
        yield scorer


@pytest.fixture(scope="session")
def coco_meteor():
    """pycocoevalcap's own Meteor wrapper, the reference for ours."""
    from pycocoevalcap.meteor.meteor import Meteor

    meteor = Meteor()
    yield meteor
    meteor.meteor_p.kill()
    meteor.meteor_p.wait()


def _reference_metrics(predictions, references, mode, coco_meteor) -> dict:
    """The reference numbers, per sample too: nlg-eval's calls to the COCO scorers ("videorecap") or the COCO
    pipeline with pycocoevalcap's PTB tokenizer ("coco"), plus rouge_score's rougeL / rougeLsum."""
    import contextlib
    import io
    import re

    import numpy as np
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    from rouge_score import rouge_scorer

    references = [[refs] if isinstance(refs, str) else refs for refs in references]
    if mode == "videorecap":
        gts = {i: [reference.strip().lower() for reference in refs] for i, refs in enumerate(references)}
        res = {i: [prediction.strip().lower()] for i, prediction in enumerate(predictions)}
        # nlg-eval's Meteor request collapses whitespace runs (pycocoevalcap's would break on a newline).
        meteor_gts = {i: [re.sub(r"\s+", " ", reference) for reference in refs] for i, refs in gts.items()}
        meteor_res = {i: [re.sub(r"\s+", " ", hypothesis[0])] for i, hypothesis in res.items()}
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            tokenizer = PTBTokenizer()
            gts = tokenizer.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
            res = tokenizer.tokenize({i: [{"caption": p}] for i, p in enumerate(predictions)})
        meteor_gts, meteor_res = gts, res
    scores, per_sample = {}, {}
    bleu, bleu_per_sample = Bleu(4).compute_score(gts, res, verbose=0)
    for order in range(4):
        scores[f"BLEU_{order + 1}"], per_sample[f"BLEU_{order + 1}"] = bleu[order], bleu_per_sample[order]
    scores["METEOR"], per_sample["METEOR"] = coco_meteor.compute_score(meteor_gts, meteor_res)
    scores["ROUGE_L"], per_sample["ROUGE_L"] = Rouge().compute_score(gts, res)
    scores["CIDEr"], per_sample["CIDEr"] = Cider().compute_score(gts, res)
    scorer = rouge_scorer.RougeScorer(["rougeL", "rougeLsum"])
    rouge = [scorer.score_multi(refs, prediction) for prediction, refs in zip(predictions, references, strict=True)]
    for key in ("rougeL", "rougeLsum"):
        per_sample[key] = [score[key].fmeasure for score in rouge]
        scores[key] = float(np.mean(per_sample[key]))
    return {"scores": scores, "per_sample": {key: np.asarray(value, dtype=float) for key, value in per_sample.items()}}


@pytest.fixture(scope="session")
def reference_metrics(coco_meteor):
    def compute(predictions, references, mode):
        return _reference_metrics(predictions, references, mode, coco_meteor)

    return compute
