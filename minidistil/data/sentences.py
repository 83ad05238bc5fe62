"""Text cut into sentences: the one splitter that the summarization pipeline, the cloze test and the
punctuation task use.

A sentence ends at . ! or ? followed by whitespace and a character that may open the next one, and no
sentence runs over a line break. "Dr. Smith" stays whole only by luck ("Dr." is followed by a
capital), so this is a rule of thumb for real prose, not a parser:

    >>> sentences('It rained. "Why?" she asked.\\nThe end')
    ['It rained.', '"Why?" she asked.', 'The end']

`starts` is what may open the next sentence, as the inside of a regex character class. Its default
(quotes, an opening parenthesis, a capital or a digit) is what the summarization pipeline splits
with; a caller whose results a seed fixes passes the rule its results were drawn with (the cloze test
and the punctuation task do), so that the same seed gives the same sentences.
"""
from __future__ import annotations

import re
from functools import lru_cache

SENTENCE_STARTS = "\"'“(A-Z0-9"  # what may open the next sentence: a quote, "(", a capital, a digit


def sentences(text: str, starts: str = SENTENCE_STARTS, *, newline_only: bool = False) -> list[str]:
    """The sentences of `text`, stripped, in order (see the module docstring). Lines are those of
    `str.splitlines` ("\\n", "\\r", "\\u2028", ...); `newline_only` breaks lines at "\\n" alone, the
    other breaks then counting as spaces (the cloze test's rule)."""
    lines = text.split("\n") if newline_only else text.splitlines()
    boundary = _boundary(starts)
    return [s.strip() for line in lines for s in boundary.split(line) if s.strip()]


@lru_cache(maxsize=None)
def _boundary(starts: str) -> re.Pattern:
    """The whitespace after . ! ? when a character of `starts` follows it."""
    return re.compile(rf"(?<=[.!?])\s+(?=[{starts}])")


CHINESE_END = re.compile(r"(?<=[。！？；!?;])(?![。！？；!?;”’」』）)])|(?<=[。！？；][”’」』）)])")


def chinese_sentences(text: str, most: int = 0) -> list[str]:
    """A Chinese text cut after 。！？； (a closing quote or bracket stays with its sentence) and at line
    breaks, stripped, in order: the pieces a translator reads one at a time, so that a long text is
    translated whole instead of cut at the encoder's length. `most` > 0: a piece still longer than `most`
    characters is cut again after its last ，、：before that point (or at `most`).

    >>> chinese_sentences("今天天气很好。我们去公园吧！“好的。”他说")
    ['今天天气很好。', '我们去公园吧！', '“好的。”', '他说']
    """
    pieces = [p.strip() for line in text.splitlines() for p in CHINESE_END.split(line)]
    pieces = [p for p in pieces if p]
    if most <= 0:
        return pieces
    out = []
    for piece in pieces:
        while len(piece) > most:
            cut = max(piece.rfind(mark, 0, most) for mark in "，、：,:") + 1 or most
            out.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            out.append(piece)
    return out
