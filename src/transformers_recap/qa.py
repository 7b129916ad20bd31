# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Multiple-choice question answering about a long video from its hierarchical captions (Video ReCap paper, §6.2).

The captions of a video ([`HierarchicalCaptions`], or the JSON the `caption` command saves) are written into a text
prompt with the question, and a text-only model picks one of the options:

- [`LanguageModelQA`] with any local `AutoModelForCausalLM`, in one of two ways:
    - `method="score"`: the log-likelihood of each option's text as the continuation of the prompt (captions,
      question, `"Answer:"`); by default the **mean log-probability per option token** (natural log), see
      [`LanguageModelQA.score_options`]. For base (non-chat) models.
    - `method="generate"`: the options are listed as A-E, the model writes a reply (through the tokenizer's chat
      template when it has one) and [`parse_answer`] reads the option from it. For instruction-tuned models.
- [`TextSimilarityQA`]: no language model; picks the option whose words best match the captions, reading "after X",
  "before X", "first" and "last" in the question as time cues. A baseline that runs anywhere.

`levels` chooses which captions go into the prompt, so the paper's Table 3 ablation (clip captions only against
hierarchical captions) is one argument: `("clip",)`, `("clip", "segment")` or `("clip", "segment", "video")`
([`CAPTION_SETTINGS`] names these `"clip"`, `"clip+segment"` and `"hierarchical"`).

Prompt layout ([`build_qa_prompt`]), coarse to fine:

```
Below are captions of an egocentric video at several levels of detail; C is the camera wearer.

Video summary: C ...

Segment descriptions:
0:00-3:00: C ...

Clip captions:
0:00-0:04: #C C ...

Question: ...
Answer:
```

**Token budget.** When the prompt is longer than `max_tokens`, captions are dropped in this order: clip captions
first, thinned evenly over the video (the `k` kept are those at the middle of `k` equal runs of the clip list, with
the largest `k` that fits, found by bisection); when no clip caption fits, segment descriptions are thinned the same
way; then the summary is cut word by word from its end. The preamble, question and options are never cut: if they
alone exceed the budget, [`PromptBudgetError`] is raised.
"""

import inspect
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging

from . import HierarchicalCaptions, TimedCaption


logger = logging.get_logger(__name__)

QA_LEVELS = ("clip", "segment", "video")
CAPTION_SETTINGS: dict[str, tuple[str, ...]] = {
    "clip": ("clip",),
    "clip+segment": ("clip", "segment"),
    "hierarchical": ("clip", "segment", "video"),
}
"""The caption settings of the paper's Table 3 ablation, by name (any `+`-joined levels are accepted too)."""
SETTING_TITLES: dict[tuple[str, ...], str] = {
    ("clip",): "Clip captions",
    ("clip", "segment"): "Clip captions + segment descriptions",
    ("clip", "segment", "video"): "Hierarchical (clip + segment + video)",
    ("segment",): "Segment descriptions",
    ("video",): "Video summary",
    ("segment", "video"): "Segment descriptions + video summary",
}
PAPER_TABLE_3: dict[tuple[str, ...], float] = {("clip",): 46.03, ("clip", "segment", "video"): 50.23}
"""EgoSchema accuracy (%) the Video ReCap paper reports (Table 3) from clip captions only and hierarchical captions."""
DEFAULT_PREAMBLE = "Below are captions of an egocentric video at several levels of detail; C is the camera wearer."
OPTION_LETTERS = "ABCDEFGHIJ"
SIMILARITY_BASELINE = "text-similarity"
"""The name the example script takes in place of a language model for [`TextSimilarityQA`]."""


class PromptBudgetError(ValueError):
    """The preamble, question and options alone do not fit the token budget."""


class CaptionFileError(ValueError):
    """A saved captions file that cannot be read; `str(error)` is one line naming the file and the problem."""


def parse_levels(setting: str | Sequence[str]) -> tuple[str, ...]:
    """
    Levels of a caption setting: a name of [`CAPTION_SETTINGS`], levels joined by `+` (`"segment+video"`) or a
    sequence of levels. Returned in the order clip, segment, video.
    """
    if isinstance(setting, str):
        names = CAPTION_SETTINGS.get(setting, tuple(part.strip() for part in setting.split("+")))
    else:
        names = tuple(setting)
    unknown = [name for name in names if name not in QA_LEVELS]
    if unknown or not names:
        raise ValueError(
            f"Unknown caption setting {setting!r}: use {sorted(CAPTION_SETTINGS)} or levels from {QA_LEVELS} "
            "joined by '+'."
        )
    return tuple(level for level in QA_LEVELS if level in names)


def setting_title(levels: Sequence[str]) -> str:
    """A readable name of a caption setting, as in the paper's Table 3."""
    levels = parse_levels(levels)
    return SETTING_TITLES.get(levels, " + ".join(levels))


# ---------------------------------------------------------------------------------------------------------------------
# Captions
# ---------------------------------------------------------------------------------------------------------------------


def as_captions(captions: HierarchicalCaptions | Mapping[str, Any] | str | os.PathLike) -> HierarchicalCaptions:
    """
    [`HierarchicalCaptions`] from themselves, from their `to_dict()` form, or from a JSON file written by
    `transformers-recap caption VIDEO --format json`. Raises [`CaptionFileError`] for a file that is not such JSON.
    """
    if isinstance(captions, HierarchicalCaptions):
        return captions
    if isinstance(captions, Mapping):
        return _captions_from_record(captions, "captions")
    path = os.fspath(captions)
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except FileNotFoundError:
        raise CaptionFileError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CaptionFileError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, Mapping):
        raise CaptionFileError(
            f"{path}: expected a JSON object with clips/segments/summary, got {type(data).__name__}"
        )
    return _captions_from_record(data, path)


def _captions_from_record(record: Mapping[str, Any], where: str) -> HierarchicalCaptions:
    for key in ("clips", "segments"):
        entries = record.get(key) or []
        if not isinstance(entries, list) or not all(
            isinstance(entry, Mapping) and {"start", "end", "text"} <= set(entry) for entry in entries
        ):
            raise CaptionFileError(f"{where}: {key!r} must be a list of {{start, end, text}} objects")
    summary = record.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise CaptionFileError(f"{where}: 'summary' must be a string or null")
    try:
        return HierarchicalCaptions.from_dict(record)
    except TypeError as error:
        raise CaptionFileError(f"{where}: {error}") from None


def read_saved_captions(path: str | os.PathLike) -> dict[str, HierarchicalCaptions]:
    """
    Saved captions by video: a JSON lines file of `transformers-recap caption DIR --output RESULTS.jsonl` (one record
    `{"video": path, "clips", "segments", "summary", "duration"}` per video) or one JSON file of a single video.

    Returns:
        `{video_uid: captions}` with the video uid taken as the file name of `"video"` without extension (or the
        record's `"video_uid"` when it has one; the JSON file's own stem for a single-video file). Records of videos
        that failed (`"error"`) are left out; a last line cut short by a kill is ignored.
    Raises:
        [`CaptionFileError`] for a file that cannot be read or a record that is not captions.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CaptionFileError(f"{path}: no such file")
    if not path.endswith(".jsonl"):
        return {Path(path).stem: as_captions(path)}
    result = {}
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    # The text after the last newline is a line a kill cut short (or nothing).
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CaptionFileError(f"{path}:{number}: not valid JSON ({error})") from None
        if not isinstance(record, Mapping) or not ({"video", "video_uid"} & set(record)):
            raise CaptionFileError(f"{path}:{number}: expected an object with 'video' or 'video_uid'")
        if "error" in record:
            continue
        uid = record.get("video_uid") or Path(str(record["video"])).stem
        result[str(uid)] = _captions_from_record(record, f"{path}:{number}")
    return result


# ---------------------------------------------------------------------------------------------------------------------
# Prompts
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class QAPrompt:
    """
    A question-answering prompt and what of the captions it holds.

    Attributes:
        text (`str`): the prompt (before any chat template).
        levels (`tuple[str, ...]`): the caption levels asked for.
        kept (`dict[str, int]`): per level, the clip captions / segment descriptions kept, and for `"video"` the
            words of the summary kept.
        available (`dict[str, int]`): the same counts before the budget was applied.
        num_tokens (`int`, *optional*): tokens of the prompt as the model reads it, when a tokenizer counted them.
    """

    text: str
    levels: tuple[str, ...]
    kept: dict[str, int] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=dict)
    num_tokens: int | None = None

    @property
    def truncated(self) -> bool:
        """Whether the budget dropped any caption (or summary word)."""
        return self.kept != self.available


def _clock(seconds: float) -> str:
    """`M:SS`, or `H:MM:SS` from one hour."""
    hours, rest = divmod(max(0, round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _clean(text: str) -> str:
    return " ".join(text.split())


def _caption_lines(captions: Sequence[TimedCaption]) -> list[str]:
    return [f"{_clock(c.start)}-{_clock(c.end)}: {_clean(c.text)}" for c in captions if c.text and c.text.strip()]


def _evenly(count: int, keep: int) -> list[int]:
    """Indices of `keep` of `count` items spread evenly: the middle item of each of `keep` equal runs."""
    return [math.floor((i + 0.5) * count / keep) for i in range(keep)]


def _render_prompt(
    preamble: str,
    clip_lines: Sequence[str],
    segment_lines: Sequence[str],
    summary_words: Sequence[str],
    question: str,
    options: Sequence[str] | None,
) -> str:
    sections = [preamble] if preamble else []
    if summary_words:
        sections.append("Video summary: " + " ".join(summary_words))
    if segment_lines:
        sections.append("Segment descriptions:\n" + "\n".join(segment_lines))
    if clip_lines:
        sections.append("Clip captions:\n" + "\n".join(clip_lines))
    tail = f"Question: {_clean(question)}\n"
    if options is None:
        tail += "Answer:"
    else:
        letters = OPTION_LETTERS[: len(options)]
        tail += "Options:\n" + "".join(f"{letter}. {_clean(o)}\n" for letter, o in zip(letters, options, strict=True))
        tail += f"Answer with the letter ({', '.join(letters[:-1])} or {letters[-1]}) of the correct option."
    sections.append(tail)
    return "\n\n".join(sections)


def _largest_fitting(count: int, fits: Callable[[int], bool]) -> int | None:
    """The largest `k` in `[0, count]` with `fits(k)`, by bisection (assumes `fits` holds below a threshold)."""
    if not fits(0):
        return None
    low, high = 0, count  # fits(low) holds
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def build_qa_prompt(
    captions: HierarchicalCaptions | Mapping[str, Any] | str | os.PathLike,
    question: str,
    options: Sequence[str] | None = None,
    levels: str | Sequence[str] = "hierarchical",
    *,
    preamble: str = DEFAULT_PREAMBLE,
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int | None = None,
) -> QAPrompt:
    """
    The prompt for one question (layout and truncation rule in the module docstring).

    Args:
        captions: the video's [`HierarchicalCaptions`] (or their dict / saved JSON file).
        question (`str`): the question.
        options (`Sequence[str]`, *optional*): listed as `A. ...` with an instruction to answer with a letter (for
            generation); without them the prompt ends with `"Answer:"` and the options are scored as continuations.
        levels: the caption levels to include (see [`parse_levels`]).
        preamble (`str`): the first paragraph.
        count_tokens (`Callable[[str], int]`, *optional*): the number of tokens the model reads for a prompt text
            (chat template and special tokens included). Needed with `max_tokens`.
        max_tokens (`int`, *optional*): the token budget of the prompt.
    Raises:
        [`PromptBudgetError`]: the prompt without any caption exceeds `max_tokens`.
    """
    captions = as_captions(captions)
    levels = parse_levels(levels)
    clip_lines = _caption_lines(captions.clips) if "clip" in levels else []
    segment_lines = _caption_lines(captions.segments) if "segment" in levels else []
    summary_words = (captions.summary or "").split() if "video" in levels else []
    available = {"clip": len(clip_lines), "segment": len(segment_lines), "video": len(summary_words)}
    available = {level: available[level] for level in levels}

    def render(clips: Sequence[str], segments: Sequence[str], words: Sequence[str]) -> str:
        return _render_prompt(preamble, clips, segments, words, question, options)

    def result(clips: Sequence[str], segments: Sequence[str], words: Sequence[str]) -> QAPrompt:
        text = render(clips, segments, words)
        kept = {"clip": len(clips), "segment": len(segments), "video": len(words)}
        return QAPrompt(
            text=text,
            levels=levels,
            kept={level: kept[level] for level in levels},
            available=available,
            num_tokens=count_tokens(text) if count_tokens is not None else None,
        )

    if max_tokens is None:
        return result(clip_lines, segment_lines, summary_words)
    if count_tokens is None:
        raise ValueError("max_tokens needs count_tokens, the token count of a prompt text.")

    def fits(text: str) -> bool:
        return count_tokens(text) <= max_tokens

    def thinned(lines: Sequence[str], keep: int) -> list[str]:
        return [lines[i] for i in _evenly(len(lines), keep)]

    if fits(render(clip_lines, segment_lines, summary_words)):
        return result(clip_lines, segment_lines, summary_words)
    # 1. Thin the clip captions.
    keep = _largest_fitting(
        len(clip_lines), lambda k: fits(render(thinned(clip_lines, k), segment_lines, summary_words))
    )
    if keep is not None:
        return result(thinned(clip_lines, keep), segment_lines, summary_words)
    # 2. No clip captions; thin the segment descriptions.
    keep = _largest_fitting(len(segment_lines), lambda k: fits(render([], thinned(segment_lines, k), summary_words)))
    if keep is not None:
        return result([], thinned(segment_lines, keep), summary_words)
    # 3. Nothing but the summary; cut it from the end.
    keep = _largest_fitting(len(summary_words), lambda k: fits(render([], [], summary_words[:k])))
    if keep is not None:
        return result([], [], summary_words[:keep])
    raise PromptBudgetError(
        f"The prompt without captions takes {count_tokens(render([], [], []))} tokens, more than the budget of "
        f"{max_tokens}; shorten the question or raise max_tokens."
    )


# ---------------------------------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class OptionScores:
    """
    Log-likelihoods of each option as the continuation of a prompt.

    Attributes:
        log_likelihoods (`list[float]`): per option, the sum of the natural-log probabilities of its tokens.
        num_tokens (`list[int]`): per option, its number of tokens.
        num_chars (`list[int]`): per option, the characters of its continuation text (leading space included).
        normalization (`str`): how `scores` is made from the sums: `"token"` (mean per token), `"char"` (per
            character) or `"none"` (the sum).
    """

    log_likelihoods: list[float]
    num_tokens: list[int]
    num_chars: list[int]
    normalization: str = "token"

    @property
    def scores(self) -> list[float]:
        """The option scores (higher is better)."""
        if self.normalization == "none":
            return list(self.log_likelihoods)
        lengths = self.num_tokens if self.normalization == "token" else self.num_chars
        return [total / length for total, length in zip(self.log_likelihoods, lengths, strict=True)]

    @property
    def prediction(self) -> int:
        """The index of the best option (the first on ties)."""
        scores = self.scores
        return max(range(len(scores)), key=lambda i: (scores[i], -i))


@dataclass
class QAAnswer:
    """
    One answered question.

    Attributes:
        prediction (`int`, *optional*): the chosen option's index; `None` when a generated reply names no option.
        scores (`list[float]`, *optional*): per option score (scoring and similarity methods).
        generated (`str`, *optional*): the model's reply (generation method).
        prompt ([`QAPrompt`], *optional*): the prompt the model read.
        model_input (`str`, *optional*): the exact text given to the tokenizer (after the chat template).
    """

    prediction: int | None
    scores: list[float] | None = None
    generated: str | None = None
    prompt: QAPrompt | None = None
    model_input: str | None = None


def parse_answer(text: str, options: Sequence[str]) -> int | None:
    """
    The option a generated reply chooses, or `None`. Read in this order: a reply that starts with a letter (`"B"`,
    `"B."`, `"(B)"`, `"B) ..."`, `"B: ..."`); `"answer is B"`, `"Answer: (B)"`, `"option B"`; the one option whose
    full text the reply contains. Letters are upper case `A`, `B`, ... for the options in order.
    """
    letters = OPTION_LETTERS[: len(options)]
    reply = text.strip()
    match = re.match(rf"[\(\[]?([{letters}])(?:[\)\]\.:,]|$)", reply)
    if match is None:
        match = re.search(rf"(?i:answer|option|choice)\s*(?:(?i:is)|:|=)?\s*[\(\[]?([{letters}])\b", reply)
    if match is not None:
        return letters.index(match.group(1))
    normalized = _clean(reply).lower()
    contained = [i for i, option in enumerate(options) if _clean(option).lower().rstrip(".") in normalized]
    return contained[0] if len(contained) == 1 else None


def _context_length(model, tokenizer) -> int | None:
    """The model's maximum sequence length, when its config or tokenizer says it."""
    config = getattr(model.config, "text_config", None) or model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**7 else None


class LanguageModelQA:
    r"""
    Answers multiple-choice questions from hierarchical captions with a local causal language model.

    Args:
        model: any `AutoModelForCausalLM` (on any device).
        tokenizer: its tokenizer.
        method (`str`, *optional*, defaults to `"score"`):
            - `"score"`: each option is scored as the continuation `" " + option` of the prompt ending in `"Answer:"`
              (see [`score_options`]); the best score wins.
            - `"generate"`: the prompt lists the options as A-E; the model answers greedily in up to
              `max_new_tokens` tokens (prompt rendered with the tokenizer's chat template when it has one and
              `use_chat_template` is set) and [`parse_answer`] reads the letter.
        normalization (`str`, *optional*, defaults to `"token"`): the score of an option: `"token"` is the mean
            log-likelihood per option token, `"char"` the sum divided by the option's characters, `"none"` the sum.
        max_prompt_tokens (`int`, *optional*): the prompt's token budget. Defaults to the model's context length
            minus the longest option (scoring) or minus `max_new_tokens` (generation); no budget when the context
            length is unknown.
        max_new_tokens (`int`, *optional*, defaults to 16): reply length for generation.
        preamble (`str`, *optional*): the prompt's first paragraph.
        use_chat_template (`bool`, *optional*, defaults to `True`), system_prompt (`str`, *optional*),
        chat_template_kwargs (`dict`, *optional*): chat rendering for generation, e.g. `{"enable_thinking": False}`.
        share_prompt (`bool`, *optional*, defaults to `True`): score the options of a question from one forward pass
            over the prompt, whose cache is repeated for the options (instead of one full sequence per option). Falls
            back to full sequences for a model that returns no cache.
    """

    def __init__(
        self,
        model,
        tokenizer,
        method: str = "score",
        normalization: str = "token",
        max_prompt_tokens: int | None = None,
        max_new_tokens: int = 16,
        preamble: str = DEFAULT_PREAMBLE,
        use_chat_template: bool = True,
        system_prompt: str | None = None,
        chat_template_kwargs: Mapping[str, Any] | None = None,
        share_prompt: bool = True,
    ):
        if method not in ("score", "generate"):
            raise ValueError(f"method must be 'score' or 'generate', got {method!r}.")
        if normalization not in ("token", "char", "none"):
            raise ValueError(f"normalization must be 'token', 'char' or 'none', got {normalization!r}.")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}.")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.method = method
        self.normalization = normalization
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.preamble = preamble
        self.use_chat_template = use_chat_template and bool(getattr(tokenizer, "chat_template", None))
        self.system_prompt = system_prompt
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.share_prompt = share_prompt
        self.context_length = _context_length(model, tokenizer)
        parameters = inspect.signature(model.forward).parameters
        # transformers >= 5.24 calls the argument `cache`; remote-code models may still call it `past_key_values`.
        self._cache_argument = next((name for name in ("cache", "past_key_values") if name in parameters), None)
        self._keeps_logits = "logits_to_keep" in parameters

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | os.PathLike, device: str | None = None, dtype: str | torch.dtype = "auto", **kwargs
    ) -> "LanguageModelQA":
        """Loads a causal language model and its tokenizer (a local directory or a cached Hub id) for QA."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        if isinstance(dtype, str) and dtype != "auto":
            dtype = getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(model.to(device), tokenizer, **kwargs)

    # ------------------------------------------------------------------------------------------------------------

    def _model_input(self, text: str) -> tuple[str, bool]:
        """The text the tokenizer reads for a generation prompt, and whether to add special tokens to it."""
        if self.method == "generate" and self.use_chat_template:
            messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
            messages.append({"role": "user", "content": text})
            rendered = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False, **self.chat_template_kwargs
            )
            return rendered, False
        if self.method == "generate":
            return text + "\nAnswer:", True
        return text, True

    def _encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]

    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for a prompt text (chat template and special tokens included)."""
        return len(self._encode(*self._model_input(text)))

    def _continuations(self, prompt: str, options: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """
        Prompt ids and each option's ids. As lm-evaluation-harness does, an option's ids are those of
        `prompt + " " + option` after the prompt's own ids (its separately encoded ids when the two tokenisations
        differ at the boundary), so every option follows the same prompt ids.
        """
        prompt_ids = self._encode(prompt)
        continuations = []
        for option in options:
            text = " " + _clean(option)
            whole = self._encode(prompt + text)
            if whole[: len(prompt_ids)] == prompt_ids and len(whole) > len(prompt_ids):
                continuations.append(whole[len(prompt_ids) :])
            else:
                continuations.append(self._encode(text, add_special_tokens=False))
            if not continuations[-1]:
                raise ValueError(f"Option {option!r} has no tokens.")
        return prompt_ids, continuations

    @torch.inference_mode()
    def score_options(self, prompt: str, options: Sequence[str]) -> OptionScores:
        r"""
        Log-likelihood of each option as the continuation of `prompt`.

        For option tokens $y_1..y_n$ after prompt tokens $x$: $\log p(y) = \sum_t \log p(y_t \mid x, y_{<t})$ (natural
        log, from the model's logits in float32). `OptionScores.scores` is this sum divided by $n$ by default
        (`normalization="token"`: the mean log-likelihood per option token), so long options are not penalised for
        their length.
        """
        if not options:
            raise ValueError("There are no options to score.")
        prompt_ids, continuations = self._continuations(prompt, options)
        if self.share_prompt and self._cache_argument is not None:
            sums = self._shared_prompt_log_likelihoods(prompt_ids, continuations)
        else:
            sums = None
        if sums is None:
            sums = self._full_sequence_log_likelihoods(prompt_ids, continuations)
        return OptionScores(
            log_likelihoods=sums,
            num_tokens=[len(ids) for ids in continuations],
            num_chars=[len(" " + _clean(option)) for option in options],
            normalization=self.normalization,
        )

    def _padded(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        """Right-padded ids `(len(rows), max_len)`; pads sit after every real token, so causal attention never
        reads them and their logits are not used."""
        width = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else 0
        padded = torch.full((len(rows), width), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            padded[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return padded.to(self.model.device)

    @staticmethod
    def _gather(log_probs: torch.Tensor, continuations: Sequence[Sequence[int]]) -> list[float]:
        """Sums of `log_probs[i, t, y_t]` over each continuation's tokens; `log_probs` `(num_options, length, vocab)`
        holds at `t` the distribution of continuation token `t`."""
        sums = []
        for i, ids in enumerate(continuations):
            targets = torch.tensor(ids, device=log_probs.device)
            sums.append(log_probs[i, torch.arange(len(ids), device=log_probs.device), targets].sum().item())
        return sums

    def _shared_prompt_log_likelihoods(
        self, prompt_ids: list[int], continuations: list[list[int]]
    ) -> list[float] | None:
        device = self.model.device
        kwargs = {"logits_to_keep": 1} if self._keeps_logits else {}
        prompt = torch.tensor([prompt_ids], device=device)
        outputs = self.model(input_ids=prompt, use_cache=True, **kwargs)
        cache = getattr(outputs, "cache", None) or getattr(outputs, "past_key_values", None)
        if cache is None or not hasattr(cache, "batch_repeat_interleave"):
            return None
        first = outputs.logits[:, -1:].float()  # (1, 1, vocab): distribution of every option's first token
        cache.batch_repeat_interleave(len(continuations))
        # The last token of each continuation predicts nothing that is scored.
        inputs = self._padded([ids[:-1] or ids[:1] for ids in continuations])
        rest = self.model(input_ids=inputs, use_cache=True, **{self._cache_argument: cache}).logits.float()
        logits = torch.cat([first.expand(len(continuations), -1, -1), rest], dim=1)
        return self._gather(torch.log_softmax(logits, dim=-1), continuations)

    def _full_sequence_log_likelihoods(self, prompt_ids: list[int], continuations: list[list[int]]) -> list[float]:
        inputs = self._padded([prompt_ids + ids for ids in continuations])
        width = max(len(ids) for ids in continuations)
        # Positions len(prompt) - 1 .. len(prompt) + width - 2 predict the continuation tokens.
        kwargs = {"logits_to_keep": inputs.shape[1] - len(prompt_ids) + 1} if self._keeps_logits else {}
        logits = self.model(input_ids=inputs, use_cache=False, **kwargs).logits
        logits = logits[:, -(inputs.shape[1] - len(prompt_ids) + 1) :]
        logits = logits[:, :width].float()
        return self._gather(torch.log_softmax(logits, dim=-1), continuations)

    @torch.inference_mode()
    def generate_reply(self, text: str) -> tuple[str, str]:
        """Greedy reply to a generation prompt text; returns `(reply, model_input)`."""
        model_input, special = self._model_input(text)
        ids = torch.tensor([self._encode(model_input, special)], device=self.model.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        output = self.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            pad_token_id=pad,
        )
        return self.tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True), model_input

    def _budget(self, option_lengths: Iterable[int]) -> int | None:
        if self.max_prompt_tokens is not None:
            return self.max_prompt_tokens
        if self.context_length is None:
            return None
        reserve = self.max_new_tokens if self.method == "generate" else max(option_lengths, default=0)
        return self.context_length - reserve

    def answer(
        self,
        captions: HierarchicalCaptions | Mapping[str, Any] | str | os.PathLike,
        question: str,
        options: Sequence[str],
        levels: str | Sequence[str] = "hierarchical",
    ) -> QAAnswer:
        """
        Answers one question from the captions of `levels` (see the class docstring for the two methods).

        Raises:
            [`PromptBudgetError`]: the question and options alone exceed the token budget.
        """
        if len(options) < 2 or len(options) > len(OPTION_LETTERS):
            raise ValueError(f"Expected 2 to {len(OPTION_LETTERS)} options, got {len(options)}.")
        generate = self.method == "generate"
        lengths = [len(self._encode(" " + _clean(o), add_special_tokens=False)) for o in options]
        prompt = build_qa_prompt(
            captions,
            question,
            options if generate else None,
            levels,
            preamble=self.preamble,
            count_tokens=self.count_tokens,
            max_tokens=self._budget(lengths),
        )
        if prompt.truncated:
            logger.info(f"Prompt over budget: kept {prompt.kept} of {prompt.available}.")
        if generate:
            reply, model_input = self.generate_reply(prompt.text)
            return QAAnswer(parse_answer(reply, options), generated=reply, prompt=prompt, model_input=model_input)
        scores = self.score_options(prompt.text, options)
        return QAAnswer(scores.prediction, scores=scores.scores, prompt=prompt, model_input=prompt.text)


# ---------------------------------------------------------------------------------------------------------------------
# The baseline without a language model
# ---------------------------------------------------------------------------------------------------------------------

# Function words that carry no content for matching (hand-written: a dozen words need no stop-word corpus download).
_STOP_WORDS = frozenset(
    "a an and are as at be by c did do does doing for from he her his how in into is it its of on or she that the "
    "their then they this to was were what when which while who why with".split()
)
_CLAUSE_BREAK = re.compile(r"[.!?;]+\s+|,\s+(?:and\s+)?(?:then\s+|finally\s+)*|\s+then\s+")


@dataclass(frozen=True)
class _Unit:
    start: float
    end: float
    words: frozenset[str]


class TextSimilarityQA:
    r"""
    A baseline that needs no language model: it picks the option whose words best match the captions.

    Text is lower-cased, split into words, stripped of function words and Porter-stemmed (nltk); two texts match by
    the cosine of their word sets, $|A \cap B| / \sqrt{|A||B|}$. The captions of `levels` form a timeline: clip
    captions and segment descriptions with their times, and the summary split into clauses (at sentence ends,
    `", then"`, `", and finally"`, ...) taken to be in time order and spread evenly over the video. An option's score
    is its best match over a region of the timeline chosen from the question:

    - `"... after X?"` / `"... before X?"`: the caption that best matches X is the anchor (on ties the earliest, then
      the longest); the region is the captions that start within one anchor length after its end (or end within one
      anchor length before its start), i.e. the next caption at the anchor's level;
    - a question with `first`/`beginning` or `last`/`finally`/`end`: the captions that start the video (or end it);
    - otherwise, and when the region is empty, every caption.

    The first best option wins on ties.
    """

    def __init__(self):
        from nltk.stem.porter import PorterStemmer

        self._stemmer = PorterStemmer()
        self._stems: dict[str, str] = {}

    def words(self, text: str) -> frozenset[str]:
        """The stemmed content words of a text."""
        result = set()
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in _STOP_WORDS:
                continue
            if word not in self._stems:
                self._stems[word] = self._stemmer.stem(word)
            result.add(self._stems[word])
        return frozenset(result)

    @staticmethod
    def similarity(first: frozenset[str], second: frozenset[str]) -> float:
        """Cosine similarity of two word sets (0 when either is empty)."""
        if not first or not second:
            return 0.0
        return len(first & second) / math.sqrt(len(first) * len(second))

    def timeline(self, captions: HierarchicalCaptions, levels: Sequence[str]) -> list[_Unit]:
        """The captions of `levels` as timed word sets (summary clauses spread evenly over the video)."""
        units = []
        if "clip" in levels:
            units += [_Unit(c.start, c.end, self.words(c.text)) for c in captions.clips if c.text.strip()]
        if "segment" in levels:
            units += [_Unit(c.start, c.end, self.words(c.text)) for c in captions.segments if c.text.strip()]
        if "video" in levels and captions.summary:
            clauses = [clause for clause in _CLAUSE_BREAK.split(captions.summary.strip()) if self.words(clause)]
            end = captions.duration or max((c.end for c in captions.clips + captions.segments), default=1.0)
            step = end / max(1, len(clauses))
            units += [_Unit(i * step, (i + 1) * step, self.words(clause)) for i, clause in enumerate(clauses)]
        return units

    def _region(self, question: str, units: list[_Unit]) -> list[_Unit]:
        text = question.lower()
        relation = re.search(r"\b(after|before)\b\s+(.+)", text)
        if relation:
            cue = self.words(relation.group(2))
            anchor = max(units, key=lambda u: (self.similarity(cue, u.words), -u.start, u.end - u.start))
            length, eps = anchor.end - anchor.start, 1e-6
            if relation.group(1) == "after":
                region = [u for u in units if anchor.end - eps <= u.start < anchor.end + length - eps]
            else:
                region = [u for u in units if anchor.start - length + eps < u.end <= anchor.start + eps]
            return region or units
        if re.search(r"\b(first|beginning|start)\b", text):
            start = min(u.start for u in units)
            return [u for u in units if u.start <= start + 1e-6]
        if re.search(r"\b(last|finally|end)\b", text):
            end = max(u.end for u in units)
            return [u for u in units if u.end >= end - 1e-6]
        return units

    def answer(
        self,
        captions: HierarchicalCaptions | Mapping[str, Any] | str | os.PathLike,
        question: str,
        options: Sequence[str],
        levels: str | Sequence[str] = "hierarchical",
    ) -> QAAnswer:
        """Answers one question from the captions of `levels` (see the class docstring)."""
        captions = as_captions(captions)
        levels = parse_levels(levels)
        units = self.timeline(captions, levels)
        if not units:
            return QAAnswer(0, scores=[0.0] * len(options))
        region = self._region(question, units)
        scores = []
        for option in options:
            words = self.words(option)
            scores.append(max(self.similarity(words, unit.words) for unit in region))
        prediction = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return QAAnswer(prediction, scores=scores)


__all__ = [
    "CAPTION_SETTINGS",
    "DEFAULT_PREAMBLE",
    "PAPER_TABLE_3",
    "QA_LEVELS",
    "SIMILARITY_BASELINE",
    "CaptionFileError",
    "LanguageModelQA",
    "OptionScores",
    "PromptBudgetError",
    "QAAnswer",
    "QAPrompt",
    "TextSimilarityQA",
    "as_captions",
    "build_qa_prompt",
    "parse_answer",
    "parse_levels",
    "read_saved_captions",
    "setting_title",
]
