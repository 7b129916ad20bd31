# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Times the Video ReCap caption metric set against pycocoevalcap + rouge_score on the same captions, in one run.

Both sides compute BLEU-1..4, METEOR (including starting Meteor 1.5), ROUGE_L, CIDEr-D and rouge_score's
rougeL / rougeLsum for synthetic Ego4D-style captions: clip captions (some with several references), segment
descriptions and multi-sentence video summaries (some with newlines).

    python benchmarks/benchmark_metrics.py --num-samples 10000 --mode videorecap --repeats 3

Most of either side's time is Meteor 1.5 (Java), so other load on the machine shows up directly in the timings.
"""

from __future__ import annotations

import argparse
import random
import re
import time

import numpy as np


SUBJECTS = ["c", "the man", "the woman", "c's friend", "the person x"]
VERBS = [
    "picks up", "puts down", "holds", "cuts", "washes", "opens", "closes", "moves", "looks at", "adjusts", "wipes",
    "places", "stirs", "pours water into", "folds", "drops", "carries", "touches", "turns on", "scrolls through",
]  # fmt: skip
OBJECTS = [
    "a knife", "the cup", "a piece of dough", "the laptop", "a paint brush", "the door", "a bowl of rice", "the phone",
    "a towel", "the lid", "a wooden plank", "the tap", "a shirt", "the chopping board", "an onion", "the drill",
    "a plastic bag", "the car key", "a card", "the remote",
]  # fmt: skip
PLACES = [
    "on the table", "in the sink", "with his left hand", "with her right hand", "near the stove", "in the kitchen",
    "on the shelf", "from the fridge", "in the garage", "on the floor", "",
]  # fmt: skip
ACTIVITIES = [
    "cooking a meal in the kitchen", "cleaning the house", "repairing a bicycle", "playing cards with friends",
    "working on a laptop", "doing laundry", "painting a wall", "gardening in the backyard", "baking bread",
]  # fmt: skip


def clip_caption(rng: random.Random) -> str:
    caption = " ".join(
        filter(None, [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(PLACES)])
    )
    if rng.random() < 0.3:
        caption += "."
    return caption.capitalize() if rng.random() < 0.2 else caption


def segment_description(rng: random.Random) -> str:
    steps = [clip_caption(rng).rstrip(".") for _ in range(rng.randint(2, 4))]
    return f"c is {rng.choice(ACTIVITIES)}. c " + ", then ".join(steps) + "."


def video_summary(rng: random.Random) -> str:
    sentences = [f"In this video, c is {rng.choice(ACTIVITIES)}."]
    sentences += [segment_description(rng) for _ in range(rng.randint(2, 5))]
    return ("\n" if rng.random() < 0.2 else " ").join(sentences)


def perturb(rng: random.Random, caption: str) -> str:
    """A plausible model output: the reference with words dropped, swapped for others, or a different caption."""
    words = caption.split()
    pool = " ".join(VERBS + OBJECTS + PLACES).split()
    kept = [word if rng.random() > 0.2 else rng.choice(pool) for word in words if rng.random() > 0.15]
    return " ".join(kept)


def make_corpus(num_samples: int, seed: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    predictions, references = [], []
    for _ in range(num_samples):
        level = rng.random()
        if level < 0.8:
            sample_references = [clip_caption(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
        elif level < 0.95:
            sample_references = [segment_description(rng)]
        else:
            sample_references = [video_summary(rng)]
        prediction = perturb(rng, sample_references[0]) if rng.random() < 0.8 else clip_caption(rng)
        predictions.append(prediction)
        references.append(sample_references)
    return predictions, references


def run_ours(predictions: list[str], references: list[list[str]], mode: str) -> dict[str, float]:
    from transformers_recap.metrics import compute_caption_metrics

    return compute_caption_metrics(predictions, references, mode=mode)


def run_pycocoevalcap(predictions: list[str], references: list[list[str]], mode: str) -> dict[str, float]:
    """The paper's pipeline (nlg-eval's calls to the COCO scorers) or the COCO one (PTB tokenizer first)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    from rouge_score import rouge_scorer

    if mode == "videorecap":
        gts = {i: [reference.strip().lower() for reference in refs] for i, refs in enumerate(references)}
        res = {i: [prediction.strip().lower()] for i, prediction in enumerate(predictions)}
        # nlg-eval's Meteor request collapses whitespace runs; pycocoevalcap's would break on a newline.
        meteor_gts = {i: [re.sub(r"\s+", " ", reference) for reference in refs] for i, refs in gts.items()}
        meteor_res = {i: [re.sub(r"\s+", " ", hypothesis[0])] for i, hypothesis in res.items()}
    else:
        tokenizer = PTBTokenizer()
        gts = tokenizer.tokenize({i: [{"caption": r} for r in refs] for i, refs in enumerate(references)})
        res = tokenizer.tokenize({i: [{"caption": p}] for i, p in enumerate(predictions)})
        meteor_gts, meteor_res = gts, res
    scores = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    scores.update({f"BLEU_{order + 1}": value for order, value in enumerate(bleu)})
    meteor = Meteor()
    scores["METEOR"], _ = meteor.compute_score(meteor_gts, meteor_res)
    del meteor
    scores["ROUGE_L"], _ = Rouge().compute_score(gts, res)
    scores["CIDEr"], _ = Cider().compute_score(gts, res)
    scorer = rouge_scorer.RougeScorer(["rougeL", "rougeLsum"])
    rouge = [scorer.score_multi(refs, prediction) for prediction, refs in zip(predictions, references, strict=True)]
    for key in ("rougeL", "rougeLsum"):
        scores[key] = float(np.mean([score[key].fmeasure for score in rouge]))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--mode", choices=["videorecap", "coco"], default="videorecap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side; best and median shown")
    args = parser.parse_args()

    predictions, references = make_corpus(args.num_samples, args.seed)
    num_references = sum(map(len, references))
    print(f"{args.num_samples} predictions, {num_references} references, mode={args.mode}, repeats={args.repeats}")

    ours_seconds, reference_seconds = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = run_ours(predictions, references, args.mode)
        ours_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference = run_pycocoevalcap(predictions, references, args.mode)
        reference_seconds.append(time.perf_counter() - start)

    print(f"{'metric':<10} {'transformers_recap':>20} {'pycocoevalcap':>20} {'abs diff':>10}")
    for name, value in reference.items():
        print(f"{name:<10} {ours[name]:>20.10f} {value:>20.10f} {abs(ours[name] - value):>10.1e}")
    for label, seconds in (
        ("transformers_recap.metrics", ours_seconds),
        ("pycocoevalcap + rouge_score", reference_seconds),
    ):
        runs = ", ".join(f"{value:.2f}" for value in seconds)
        print(f"{label:<28} best {min(seconds):6.2f} s, median {np.median(seconds):6.2f} s ({runs})")
    print(
        f"speed-up: {min(reference_seconds) / min(ours_seconds):.2f}x best-to-best, "
        f"{np.median(reference_seconds) / np.median(ours_seconds):.2f}x median-to-median"
    )


if __name__ == "__main__":
    main()
