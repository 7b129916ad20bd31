"""The teacher's denoising pretraining: span masking against hand-worked examples, the corpus, and a tiny run."""

import json

import numpy as np
import pytest

from transformers_recap.training.teacher import TeacherConfigError, load_teacher_config, teacher_config_from_dict
from transformers_recap.training.teacher.options import PretrainingOptions
from transformers_recap.training.teacher.pairs import read_annotation_split
from transformers_recap.training.teacher.pretraining import (
    denoising_examples,
    mask_spans,
    pretraining_corpus,
    sample_mask_spans,
)

from .test_teacher import TINY_T5, load_example, make_tiny_hcap, tiny_teacher_config, training_losses, write_config


def test_mask_spans_replaces_each_span_by_one_mask():
    words = "C picks up the red cube and puts it down".split()
    assert mask_spans(words, [(1, 3), (4, 5)]) == "C <mask> the <mask> cube and puts it down"
    assert mask_spans(words, [(8, 10), (0, 1)], mask_token="_") == "_ picks up the red cube and puts _"
    assert mask_spans(words, []) == " ".join(words)


@pytest.mark.parametrize("num_words, ratio", [(20, 0.3), (7, 0.5), (40, 0.15), (3, 0.01)])
def test_sampled_spans_cover_the_ratio_apart_from_each_other(num_words, ratio):
    rng = np.random.default_rng(0)
    for _ in range(50):
        spans = sample_mask_spans(num_words, ratio, 3.0, rng)
        covered = [index for start, end in spans for index in range(start, end)]
        assert len(covered) == len(set(covered))
        assert all(0 <= start < end <= num_words for start, end in spans)
        # Sorted, and a word apart (two adjacent spans would read as one mask).
        assert all(previous[1] < following[0] for previous, following in zip(spans, spans[1:], strict=False))
        expected = max(int(round(ratio * num_words)), 1)
        # The rejection sampler may fall short only when the free room is fragmented.
        assert 1 <= len(covered) <= expected


def test_no_masking_copies_the_text():
    options = PretrainingOptions(num_examples=5, mask_ratio=0.0, min_sentences=2, max_sentences=2, prefix="P: ")
    corpus = ["C picks up the cup", "C puts down the cup", "C pushes the box to the left"]
    for corrupted, original in denoising_examples(corpus, options, seed=0):
        sentences = original[:-1].split(". ")
        assert len(sentences) == 2 and all(sentence in corpus for sentence in sentences)
        assert corrupted == "P: " + original


def test_examples_mask_the_ratio_and_keep_the_rest_in_order():
    options = PretrainingOptions(num_examples=20, mask_ratio=0.3, mean_span=2.0)
    corpus = [f"C moves object{index} to place{index}" for index in range(30)]
    examples = denoising_examples(corpus, options, seed=1)
    assert examples == denoising_examples(corpus, options, seed=1)  # seeded
    for corrupted, original in examples:
        words, kept = original.split(), corrupted.removeprefix(options.prefix).split()
        # Reading the kept words in order consumes the original words in order (a subsequence).
        position = 0
        for word in (word for word in kept if word != "<mask>"):
            position = words.index(word, position) + 1
        masked = len(words) - sum(word != "<mask>" for word in kept)
        assert masked <= max(round(0.3 * len(words)), 1)


def test_corpus_holds_the_distinct_training_texts(tmp_path):
    make_tiny_hcap(tmp_path)
    split = read_annotation_split(tmp_path, "train")
    captions = pretraining_corpus(split, ["clip_captions"])
    every = {clip.text.removeprefix("#C ").strip(" .") for clips in split.clips.values() for clip in clips.clips}
    assert set(captions) == every and len(captions) == len(every)
    everything = pretraining_corpus(split, ["clip_captions", "segment_descriptions", "video_summaries"])
    assert set(everything) == (
        every | {row["text"].strip(" .") for row in split.segments} | {row["text"].strip(" .") for row in split.videos}
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sources": ["pixels"]}, "pretraining.sources must name some of"),
        ({"mask_ratio": 1.0}, r"pretraining.mask_ratio must be in \[0, 1\)"),
        ({"min_sentences": 3, "max_sentences": 2}, "pretraining.max_sentences must be at least"),
        ({"training": {"output_dir": "x"}}, "'pretraining.training.output_dir' is set by the teacher"),
        ({"training": {"epochs": 1}}, "unknown key 'pretraining.training.epochs'"),
        ({"mask": 0.1}, "unknown key 'pretraining.mask'"),
    ],
)
def test_pretraining_config_errors(tmp_path, change, message):
    path = write_config(
        tmp_path / "teacher.yaml",
        tiny_teacher_config(tmp_path / "run", tmp_path / "data", TINY_T5, pretraining=change),
    )
    with pytest.raises(TeacherConfigError, match=message) as error:
        load_teacher_config(path)
    assert str(path) in str(error.value)


def test_pretraining_section_is_typed(tmp_path):
    config = teacher_config_from_dict(tiny_teacher_config(tmp_path, tmp_path, TINY_T5), source="x.yaml")
    assert config.pretraining is None
    section = {"num_examples": 10, "training": {"num_train_epochs": 2}}
    config = teacher_config_from_dict(tiny_teacher_config(tmp_path, tmp_path, TINY_T5, pretraining=section), "x")
    assert config.pretraining.num_examples == 10 and config.pretraining.training == {"num_train_epochs": 2}
    assert config.pretraining.sources == ["clip_captions", "segment_descriptions", "video_summaries"]


def test_t5_teacher_with_pretraining_end_to_end(tmp_path, capsys):
    data_dir = tmp_path / "data"
    make_tiny_hcap(data_dir)
    run_dir = tmp_path / "run"
    pretraining = {"num_examples": 48, "max_sentences": 3, "max_input_tokens": 96, "max_target_tokens": 96,
                   "training": {"max_steps": 12}}  # fmt: skip
    config = tiny_teacher_config(run_dir, data_dir, TINY_T5, pretraining=pretraining)
    path = write_config(tmp_path / "teacher.yaml", config)
    assert load_example("train_llm_teacher").main(["--config", str(path)]) == 0
    assert "| t5 from config (" in capsys.readouterr().out
    # The mask token is a special token of the trained tokenizer, one id.
    tokenizer_config = json.loads((run_dir / "tokenizer" / "tokenizer_config.json").read_text())
    assert tokenizer_config["mask_token"] == "<mask>"
    pretraining_losses = [entry["loss"] for entry in json.loads((run_dir / "pretrain_log_teacher.json").read_text())]
    assert len(pretraining_losses) == 12 and np.mean(pretraining_losses[-3:]) < np.mean(pretraining_losses[:3])
    assert (run_dir / "pretrained" / "teacher" / "model.safetensors").is_file()
    assert len(training_losses(run_dir, "teacher")) == 24
    # Fine-tuning started from the pretrained weights, not from a fresh initialisation: its first loss is below the
    # first loss of pretraining (a random model's).
    assert training_losses(run_dir, "teacher")[0] < pretraining_losses[0]

    # A forced rerun fine-tunes again from the kept pretrained weights without pretraining again.
    pretrained = (run_dir / "pretrained" / "teacher" / "model.safetensors").stat().st_mtime_ns
    assert load_example("train_llm_teacher").main(["--config", str(path), "--force", "--no-eval"]) == 0
    assert (run_dir / "pretrained" / "teacher" / "model.safetensors").stat().st_mtime_ns == pretrained
    assert training_losses(run_dir, "teacher")[0] < pretraining_losses[0]
