# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Video ReCap caption metrics (CIDEr-D, METEOR, ROUGE-L, BLEU-1..4, rougeL/rougeLsum) as an `evaluate` module."""

import datasets
import evaluate

from transformers_recap.metrics import compute_caption_metrics


_CITATION = """\
@inproceedings{islam2024video,
    title={Video ReCap: Recursive Captioning of Hour-Long Videos},
    author={Islam, Md Mohaiminul and Ho, Ngan and Yang, Xitong and Nagarajan, Tushar and Torresani, Lorenzo and
            Bertasius, Gedas},
    booktitle={CVPR},
    year={2024}
}
@inproceedings{vedantam2015cider,
    title={CIDEr: Consensus-based Image Description Evaluation},
    author={Vedantam, Ramakrishna and Zitnick, C. Lawrence and Parikh, Devi},
    booktitle={CVPR},
    year={2015}
}
"""

_DESCRIPTION = """\
The caption metrics of Video ReCap. CIDEr-D, METEOR (Meteor 1.5), ROUGE_L and BLEU_1..4 follow the COCO caption
evaluation code; rougeL and rougeLsum are the means of rouge_score's per-sample F1. In the default "videorecap" mode the
captions are stripped, lower-cased and split on whitespace, as the paper's evaluation (nlg-eval) did; in "coco" mode
they are PTB-tokenised first, as in the COCO caption pipeline. METEOR and PTB tokenisation need Java.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): one generated caption per sample.
    references (`list` of `str` or `list` of `list` of `str`): the reference caption(s) of each sample.
    mode (`str`, defaults to `"videorecap"`): `"videorecap"` (the paper's evaluation) or `"coco"` (PTB tokenisation).
    return_per_sample (`bool`, defaults to `False`): also return `"per_sample"`, each metric's per-sample scores.
    meteor_scorer (`MeteorScorer`, *optional*): a running Meteor process to reuse across calls.
Returns:
    CIDEr, METEOR, ROUGE_L, BLEU_1, BLEU_2, BLEU_3, BLEU_4, rougeL, rougeLsum (`float`, 0-1 scale; CIDEr can exceed 1).
Examples:
    >>> metric = evaluate.load(transformers_recap.metrics.evaluate_module_path("video_recap_captions"))
    >>> results = metric.compute(predictions=["c cuts the bread"], references=[["c cuts bread with a knife"]])
    >>> sorted(results)
    ['BLEU_1', 'BLEU_2', 'BLEU_3', 'BLEU_4', 'CIDEr', 'METEOR', 'ROUGE_L', 'rougeL', 'rougeLsum']
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VideoRecapCaptions(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(datasets.Value("string", id="sequence")),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
            codebase_urls=["https://github.com/salaniz/pycocoevalcap", "https://github.com/Maluuba/nlg-eval"],
            reference_urls=["https://arxiv.org/abs/2402.13250", "https://arxiv.org/abs/1411.5726"],
        )

    def _compute(self, predictions, references, mode="videorecap", return_per_sample=False, meteor_scorer=None):
        return compute_caption_metrics(
            predictions, references, mode=mode, return_per_sample=return_per_sample, meteor_scorer=meteor_scorer
        )
