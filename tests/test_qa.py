"""Question answering from hierarchical captions: prompts and their budget, the LM scorer and generator, the baseline."""

import json
import re

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from tests.utils import train_tiny_tokenizer
from transformers_recap import HierarchicalCaptions, TimedCaption
from transformers_recap.qa import (
    CaptionFileError,
    LanguageModelQA,
    PromptBudgetError,
    TextSimilarityQA,
    as_captions,
    build_qa_prompt,
    parse_answer,
    parse_levels,
    read_saved_captions,
)


QUESTION = "What did C do after picking up the red cup?"
OPTIONS = [
    "C puts down the blue box",
    "C opens the yellow box",
    "C moves the green ball to the left",
    "C picks up the red cup",
    "C tidies the table",
]


def make_captions(num_clips: int = 10, num_segments: int = 4) -> HierarchicalCaptions:
    clips = [TimedCaption(4.0 * i, 4.0 * (i + 1), f"#C C clipword{i}") for i in range(num_clips)]
    length = 4.0 * num_clips / num_segments
    segments = [TimedCaption(length * i, length * (i + 1), f"C segword{i} here.") for i in range(num_segments)]
    summary = " ".join(f"sumword{i}" for i in range(8))
    return HierarchicalCaptions(clips=clips, segments=segments, summary=summary, duration=4.0 * num_clips)


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def tokenizer():
    return train_tiny_tokenizer()


def tiny_gpt2(tokenizer, n_positions: int = 512) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return GPT2LMHeadModel(config).eval()


def tiny_llama(tokenizer) -> LlamaForCausalLM:
    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config).eval()


def reference_log_likelihood(model, tokenizer, prompt: str, option: str) -> tuple[float, int]:
    """Sum of log p(option tokens | prompt) from one plain forward pass over the whole text, and the token count."""
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = tokenizer(prompt + " " + option)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids  # the boundary does not merge for these texts
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    total = sum(log_probs[t - 1, ids[t]].item() for t in range(len(prompt_ids), len(ids)))
    return total, len(ids) - len(prompt_ids)


# ---------------------------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["gpt2", "llama"])
@pytest.mark.parametrize("share_prompt", [True, False])
def test_option_log_likelihoods_match_a_direct_computation(tokenizer, architecture, share_prompt):
    model = tiny_gpt2(tokenizer) if architecture == "gpt2" else tiny_llama(tokenizer)
    qa = LanguageModelQA(model, tokenizer, share_prompt=share_prompt)
    prompt = build_qa_prompt(make_captions(6, 2), QUESTION, levels="hierarchical").text
    assert prompt.endswith(f"Question: {QUESTION}\nAnswer:")
    scores = qa.score_options(prompt, OPTIONS)
    expected = [reference_log_likelihood(model, tokenizer, prompt, option) for option in OPTIONS]
    assert scores.num_tokens == [count for _, count in expected]
    for got, (want, _) in zip(scores.log_likelihoods, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)
    means = [total / count for total, count in expected]
    assert scores.scores == pytest.approx(means, abs=1e-4)
    assert scores.prediction == max(range(len(means)), key=means.__getitem__)


def test_answer_scores_every_option_and_normalizations(tokenizer):
    model = tiny_gpt2(tokenizer)
    captions = make_captions(6, 2)
    expected_prompt = build_qa_prompt(captions, QUESTION, levels=("clip", "segment")).text
    expected = [reference_log_likelihood(model, tokenizer, expected_prompt, option) for option in OPTIONS]
    for normalization, values in [
        ("token", [total / count for total, count in expected]),
        ("none", [total for total, _ in expected]),
        ("char", [total / len(" " + option) for (total, _), option in zip(expected, OPTIONS, strict=True)]),
    ]:
        qa = LanguageModelQA(model, tokenizer, normalization=normalization)
        answer = qa.answer(captions.to_dict(), QUESTION, OPTIONS, levels="clip+segment")
        assert answer.prompt.text == expected_prompt and not answer.prompt.truncated
        assert answer.scores == pytest.approx(values, abs=1e-4)
        assert answer.prediction == max(range(len(values)), key=values.__getitem__)
        assert answer.prompt.num_tokens == len(tokenizer(expected_prompt)["input_ids"])


def test_prompt_fits_the_model_context(tokenizer):
    model = tiny_gpt2(tokenizer, n_positions=512)
    captions = make_captions(60, 4)
    assert len(tokenizer(build_qa_prompt(captions, QUESTION).text)["input_ids"]) > 512
    answer = LanguageModelQA(model, tokenizer).answer(captions, QUESTION, OPTIONS)
    longest = max(len(tokenizer(" " + option)["input_ids"]) for option in OPTIONS)
    assert answer.prompt.truncated
    assert answer.prompt.num_tokens + longest <= 512
    assert answer.prompt.num_tokens == len(tokenizer(answer.prompt.text)["input_ids"])
    # Clip captions go first: the segment descriptions and the summary are all still there.
    assert answer.prompt.kept["segment"] == 4 and answer.prompt.kept["video"] == 8
    assert 0 < answer.prompt.kept["clip"] < 60
    with pytest.raises(PromptBudgetError, match="more than the budget of 10"):
        LanguageModelQA(model, tokenizer, max_prompt_tokens=10).answer(captions, QUESTION, OPTIONS)


# ---------------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------------


def greedy_reply(model, tokenizer, text: str, steps: int) -> str:
    """Greedy decoding by repeated full forward passes (no cache), as an independent reference."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    new = []
    with torch.no_grad():
        for _ in range(steps):
            token = int(model(torch.tensor([ids + new])).logits[0, -1].argmax())
            new.append(token)
            if token == tokenizer.eos_token_id:
                break
    return tokenizer.decode(new, skip_special_tokens=True)


def test_generation_uses_the_chat_template_and_parses_the_reply(tokenizer):
    model = tiny_gpt2(tokenizer)
    chat_tokenizer = train_tiny_tokenizer()
    chat_tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    qa = LanguageModelQA(model, chat_tokenizer, method="generate", max_new_tokens=4, system_prompt="Be brief.")
    captions = make_captions(4, 1)
    answer = qa.answer(captions, QUESTION, OPTIONS, levels="clip")
    prompt = build_qa_prompt(captions, QUESTION, OPTIONS, levels="clip").text
    assert answer.prompt.text == prompt
    assert "\nOptions:\nA. C puts down the blue box\nB. C opens the yellow box\n" in prompt
    assert prompt.endswith("Answer with the letter (A, B, C, D or E) of the correct option.")
    assert "segword" not in prompt and "sumword" not in prompt and "clipword3" in prompt
    assert answer.model_input == f"<system>Be brief.</system><user>{prompt}</user><assistant>"
    assert answer.generated == greedy_reply(model, chat_tokenizer, answer.model_input, 4)
    assert answer.prediction == parse_answer(answer.generated, OPTIONS)


def test_generation_without_a_chat_template_ends_with_an_answer_cue(tokenizer):
    model = tiny_gpt2(tokenizer)
    qa = LanguageModelQA(model, tokenizer, method="generate", max_new_tokens=3)
    answer = qa.answer(make_captions(4, 1), QUESTION, OPTIONS, levels="clip")
    assert answer.model_input == answer.prompt.text + "\nAnswer:"
    assert answer.generated == greedy_reply(model, tokenizer, answer.model_input, 3)


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("B", 1),
        (" (C) because", 2),
        ("E. C tidies the table", 4),
        ("D) it is", 3),
        ("The answer is B.", 1),
        ("answer: (A)", 0),
        ("I think option D", 3),
        ("C opens the yellow box.", 1),  # no letter: the one option whose text it contains
        ("A man walks", None),  # an article, not a letter
        ("F", None),
        ("no idea", None),
    ],
)
def test_parse_answer(reply, expected):
    assert parse_answer(reply, OPTIONS) == expected


# ---------------------------------------------------------------------------------------------------------------------
# Prompts and the token budget
# ---------------------------------------------------------------------------------------------------------------------


def test_prompt_layout_and_levels():
    captions = make_captions(10, 4)
    text = build_qa_prompt(captions, QUESTION).text
    # Coarse to fine, each caption with its time.
    assert text.index("Video summary: sumword0") < text.index("Segment descriptions:\n0:00-0:10: C segword0 here.")
    assert text.index("0:30-0:40: C segword3 here.") < text.index("Clip captions:\n0:00-0:04: #C C clipword0")
    assert "0:36-0:40: #C C clipword9" in text
    only_clips = build_qa_prompt(captions, QUESTION, levels="clip").text
    assert "clipword0" in only_clips and "segword" not in only_clips and "Video summary" not in only_clips
    assert "Segment descriptions" in build_qa_prompt(captions, QUESTION, levels="segment+video").text
    assert parse_levels("hierarchical") == ("clip", "segment", "video")
    assert parse_levels(["video", "clip"]) == ("clip", "video")
    with pytest.raises(ValueError, match="Unknown caption setting"):
        parse_levels("clip+frames")


def test_budget_thins_clip_captions_evenly_first():
    captions = make_captions(10, 4)
    no_clips = HierarchicalCaptions(segments=captions.segments, summary=captions.summary)
    base = words(build_qa_prompt(no_clips, QUESTION, OPTIONS).text)
    # "Clip captions:" is 2 words and each clip line 4 ("0:00-0:04:", "#C", "C", "clipwordN"): room for 5 lines.
    prompt = build_qa_prompt(captions, QUESTION, OPTIONS, count_tokens=words, max_tokens=base + 2 + 5 * 4 + 3)
    kept = [i for i in range(10) if f"clipword{i}\n" in prompt.text + "\n"]
    assert kept == [1, 3, 5, 7, 9]
    assert prompt.kept == {"clip": 5, "segment": 4, "video": 8}
    assert prompt.available == {"clip": 10, "segment": 4, "video": 8} and prompt.truncated
    assert prompt.num_tokens == words(prompt.text) <= base + 25
    assert all(option in prompt.text for option in OPTIONS) and QUESTION in prompt.text


def test_budget_then_thins_segments_then_cuts_the_summary():
    captions = make_captions(10, 4)
    summary_only = HierarchicalCaptions(summary=captions.summary)
    base = words(build_qa_prompt(summary_only, QUESTION).text)
    # "Segment descriptions:" is 2 words and each segment line 4: room for one segment (the middle one, index 2).
    prompt = build_qa_prompt(captions, QUESTION, count_tokens=words, max_tokens=base + 2 + 4 + 1)
    assert prompt.kept == {"clip": 0, "segment": 1, "video": 8}
    assert "segword2" in prompt.text and "segword1" not in prompt.text and "clipword" not in prompt.text
    empty = words(build_qa_prompt(HierarchicalCaptions(), QUESTION).text)
    # "Video summary:" is 2 words: room for 3 summary words, cut from the end.
    prompt = build_qa_prompt(captions, QUESTION, count_tokens=words, max_tokens=empty + 2 + 3)
    assert prompt.kept == {"clip": 0, "segment": 0, "video": 3}
    assert "Video summary: sumword0 sumword1 sumword2\n" in prompt.text
    with pytest.raises(PromptBudgetError, match=f"takes {empty} tokens, more than the budget of {empty - 1}"):
        build_qa_prompt(captions, QUESTION, count_tokens=words, max_tokens=empty - 1)
    with pytest.raises(ValueError, match="needs count_tokens"):
        build_qa_prompt(captions, QUESTION, max_tokens=100)


# ---------------------------------------------------------------------------------------------------------------------
# Saved captions
# ---------------------------------------------------------------------------------------------------------------------


def test_saved_captions_from_the_caption_command(tmp_path):
    captions = make_captions(3, 1)
    single = tmp_path / "kitchen.json"
    single.write_text(captions.to_json())
    assert read_saved_captions(single) == {"kitchen": captions}
    assert as_captions(single) == captions
    results = tmp_path / "results.jsonl"
    lines = [
        json.dumps({"video": "/videos/abc.mp4", **captions.to_dict()}),
        json.dumps({"video": "/videos/broken.mp4", "error": "has no video stream"}),
        json.dumps({"video": "/videos/other.mp4", "video_uid": "uid-2", **captions.to_dict()}),
    ]
    results.write_text("\n".join(lines) + '\n{"video": "/videos/cut.mp4", "cli')  # the last line was cut by a kill
    assert read_saved_captions(results) == {"abc": captions, "uid-2": captions}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"clips": [{"start": 0}]}', "'clips' must be a list of {start, end, text} objects"),
        ('{"summary": 3}', "'summary' must be a string or null"),
    ],
)
def test_bad_caption_files_get_one_line_errors(tmp_path, content, message):
    path = tmp_path / "captions.json"
    path.write_text(content)
    with pytest.raises(CaptionFileError) as error:
        as_captions(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value) and "\n" not in str(error.value)
    lines = tmp_path / "captions.jsonl"
    lines.write_text('{"video": "a.mp4"}\n[oops\n')
    with pytest.raises(CaptionFileError, match=f"^{re.escape(str(lines))}:2: not valid JSON"):
        read_saved_captions(lines)
    with pytest.raises(CaptionFileError, match="no such file"):
        read_saved_captions(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------------------------------------------------------------
# The baseline without a language model
# ---------------------------------------------------------------------------------------------------------------------


def activity_video() -> HierarchicalCaptions:
    """Two 8-s segments: a swap of the red ball and the blue box, then an inspection of the green bottle."""
    return HierarchicalCaptions(
        clips=[
            TimedCaption(0, 4, "#C C lifts the red ball"),
            TimedCaption(4, 8, "#C C slides the blue box to the left"),
            TimedCaption(8, 12, "#C C picks up the green bottle"),
            TimedCaption(12, 16, "#C C puts down the green bottle"),
        ],
        segments=[
            TimedCaption(0, 8, "C exchanges the positions of the red ball and the blue box."),
            TimedCaption(8, 16, "C examines the green bottle."),
        ],
        summary="First C switches the places of the red ball and the blue box. Finally C inspects the green bottle.",
        duration=16.0,
    )


def test_similarity_words_and_cosine():
    qa = TextSimilarityQA()
    assert qa.words("C was swapping the red balls") == {"swap", "red", "ball"}
    assert qa.similarity(qa.words("red ball"), qa.words("the red box")) == pytest.approx(1 / 2)
    assert qa.similarity(frozenset(), qa.words("red")) == 0.0


def test_similarity_baseline_reads_time_cues_at_the_right_level():
    qa = TextSimilarityQA()
    captions = activity_video()
    options = [
        "C swaps the red ball and the blue box",
        "C inspects the green bottle",
        "C slides the yellow bowl back and forth",
        "C pushes the blue box to the right",
        "C carries the red ball to the left",
    ]
    after = "What did C do right after swapping the red ball and the blue box?"
    # The segment descriptions anchor the swap at 0-8 s, and the next segment is the inspection.
    assert qa.answer(captions, after, options, "clip+segment").prediction == 1
    assert qa.answer(captions, after, options, "segment").prediction == 1
    # With clip captions only, the anchor is the red-ball clip and the next 4 s are still part of the swap: the
    # blue-box clip there makes a wrong option win.
    assert qa.answer(captions, after, options, "clip").prediction == 3
    before = "What did C do right before inspecting the green bottle?"
    assert qa.answer(captions, before, options, "segment").prediction == 0
    # The summary alone: its two sentences are taken as the two halves of the video.
    assert qa.answer(captions, "What did C do last?", options, "video").prediction == 1
    assert qa.answer(captions, "What did C do first?", options, "video").prediction == 0
    answer = qa.answer(captions, "Which of these did C do?", options, "clip")
    # No time cue: each option's best match over all clips.
    # {push, blue, box, right} vs {slide, blue, box, left}, and {carri, red, ball, left} vs {lift, red, ball}:
    assert answer.scores[3] == pytest.approx(2 / (4 * 4) ** 0.5)
    assert answer.scores[4] == pytest.approx(2 / (4 * 3) ** 0.5)
