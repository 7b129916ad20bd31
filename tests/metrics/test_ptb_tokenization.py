"""PTB tokenisation through the Stanford jar against pycocoevalcap's PTBTokenizer, computed here."""

import contextlib
import io

from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from transformers_recap.metrics import ptb_tokenize


EXTRA_CAPTIONS = [
    "etc.",
    "U.S. troops (and allies) arrived at 5 p.m.",
    "He said: 'don't' -- then `left`...",
    "{braces} [brackets] & <tags>",
    "",
]


def test_ptb_tokenize_matches_pycocoevalcap(edge_cases):
    captions = [text for prediction, references in edge_cases for text in [prediction, *references]] + EXTRA_CAPTIONS
    with contextlib.redirect_stdout(io.StringIO()):
        expected = PTBTokenizer().tokenize({i: [{"caption": caption}] for i, caption in enumerate(captions)})
    assert ptb_tokenize(captions) == [expected[i][0] for i in range(len(captions))]


def test_ptb_tokenize_keeps_one_line_per_caption():
    # pycocoevalcap only replaces "\n"; the Java tokenizer also breaks lines at these characters.
    captions = ["a\rb", "c\u2028d", "e\r\nf", "g\x0ch", "last"]
    assert ptb_tokenize(captions) == ["a b", "c d", "e f", "g h", "last"]
    assert ptb_tokenize([]) == []
