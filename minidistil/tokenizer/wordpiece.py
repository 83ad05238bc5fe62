"""BERT's last stage: greedy longest-match-first WordPiece, one word at a time.

    >>> vocab = {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3}
    >>> wordpiece("unaffable", vocab, unk_id=0)
    [(1, 0, 2), (2, 2, 5), (3, 5, 9)]
    >>> wordpiece("unafable", vocab, unk_id=0)     # "##afable" has no match: the whole word is [UNK]
    [(0, 0, 8)]
"""
from __future__ import annotations


def wordpiece(word: str, vocab: dict[str, int], unk_id: int, max_input_chars_per_word: int = 100,
              longest: int | None = None) -> list[tuple[int, int, int]]:
    """(id, start, end) per piece of `word`: the longest vocabulary entry that starts the word, then
    the longest "##" entry that continues it, and so on. The whole word is one [UNK] if some part
    has no match or the word is longer than `max_input_chars_per_word`. `longest`, the length of
    the longest vocabulary entry, only saves time: no match is tried beyond it."""
    n = len(word)
    if n > max_input_chars_per_word:
        return [(unk_id, 0, n)]
    longest = n if longest is None else longest
    pieces, start = [], 0
    while start < n:
        prefix = "##" if start else ""
        end = min(n, start + longest)
        while end > start:
            token_id = vocab.get(prefix + word[start:end])
            if token_id is not None:
                break
            end -= 1
        else:
            return [(unk_id, 0, n)]
        pieces.append((token_id, start, end))
        start = end
    return pieces
