# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Caption tokenisation: whitespace (nlg-eval / the paper) and Stanford PTB (the COCO caption pipeline)."""

from __future__ import annotations

import logging
import re
import subprocess

from .java import find_java, pycocoevalcap_file


logger = logging.getLogger(__name__)

PTB_TOKENIZER_JAR = ("tokenizer", "stanford-corenlp-3.4.1.jar")
PTB_TOKENIZER_CLASS = "edu.stanford.nlp.process.PTBTokenizer"

# Tokens the COCO caption pipeline drops after PTB tokenisation.
PTB_PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)

# Characters the Java tokenizer treats as line breaks; a caption must stay on one line.
_LINE_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\u2028\u2029]")


def ptb_tokenize(texts: list[str]) -> list[str]:
    """PTB-tokenises and lower-cases captions as the COCO caption code does, in one Java call for all of them.

    Each caption becomes its space-joined tokens with the COCO punctuation tokens removed. Line breaks inside a caption
    are read as spaces (the COCO code does this for `\\n` only; other breaks would shift its output lines).
    """
    if not texts:
        return []
    command = [find_java(), "-cp", str(pycocoevalcap_file(*PTB_TOKENIZER_JAR)), PTB_TOKENIZER_CLASS]
    command += ["-preserveLines", "-lowerCase"]
    logger.debug("PTB-tokenising %d captions: %s", len(texts), " ".join(command))
    document = "\n".join(_LINE_BREAKS.sub(" ", text) for text in texts)
    result = subprocess.run(command, input=document.encode("utf-8"), capture_output=True, check=False)
    lines = result.stdout.decode("utf-8").split("\n")
    if result.returncode != 0 or len(lines) != len(texts):
        message = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise RuntimeError(
            f"The Stanford PTB tokenizer failed (exit code {result.returncode}, {len(lines)} lines for {len(texts)} "
            f"captions): {message[-1] if message else 'no error message'}"
        )
    return [" ".join(token for token in line.rstrip().split(" ") if token not in PTB_PUNCTUATIONS) for line in lines]


__all__ = ["PTB_PUNCTUATIONS", "ptb_tokenize"]
