"""BERT's basic tokenization, one function per stage, in the order BERT applies them:

    clean_text                    drop control characters, turn every whitespace into " "
    tokenize_chinese_chars        a space on both sides of each CJK ideograph: each is a word
    lowercase_and_strip_accents   NFD, drop non-spacing marks ("café" -> "cafe"), lowercase
    split_on_punctuation          split on whitespace; each punctuation mark is a word of its own

then greedy WordPiece on each word (wordpiece.py). `basic_tokenize` runs the four in a row:

    >>> rules = CharRules("rust")
    >>> [word for word, _ in basic_tokenize(" \\tHäLLo!how  \\n Are yoU?  ", rules)]
    ['hallo', '!', 'how', 'are', 'you', '?']

The text travels between stages as (character, position) pairs, the position being where the
character came from in the original text, so that each token can point back at its span (offsets):

    >>> basic_tokenize("Café!", rules)
    [('cafe', [0, 1, 2, 3]), ('!', [4])]

These functions are the definition; they run on every character and are slow. cached.py runs the
same stages once per distinct chunk of text, with a shortcut for ASCII, and its tests prove it
equal to `basic_tokenize` followed by `wordpiece`.

The stages follow `tokenizers`' BertNormalizer and BertPreTokenizer (reference="rust"): accents are
stripped before lowercasing, character by character. `BertTokenizerLegacy` (reference="legacy",
Google's original) composes the text to NFC first and lowercases whole words, so a final "Σ"
becomes "ς"; `basic_tokenize` runs its order when `rules.reference == "legacy"`.
"""
from __future__ import annotations

import unicodedata

from .chars import CharRules

Chars = list[tuple[str, int]]   # the text so far: (character, its position in the original text)
Words = list[tuple[str, list[int]]]  # words, each with the original position of every character


def clean_text(chars: Chars, rules: CharRules) -> Chars:
    """Drop control characters, NUL and U+FFFD; every whitespace character becomes a space.

    >>> clean_text(list(zip("a\\x00b\\tc", range(5))), CharRules())
    [('a', 0), ('b', 2), (' ', 3), ('c', 4)]
    """
    return [(" " if rules.is_space(c) else c, i) for c, i in chars if not rules.drops(c)]


def tokenize_chinese_chars(chars: Chars, rules: CharRules) -> Chars:
    """Put a space on both sides of each CJK ideograph. Chinese is written without spaces, so BERT
    makes every ideograph a word of its own (its vocabulary holds them one by one).

    >>> "".join(c for c, _ in tokenize_chinese_chars(list(zip("ah博推zz", range(6))), CharRules()))
    'ah 博  推 zz'
    """
    out = []
    for c, i in chars:
        if rules.is_cjk(c):
            out += [(" ", i), (c, i), (" ", i)]
        else:
            out.append((c, i))
    return out


def strip_accents(chars: Chars, rules: CharRules) -> Chars:
    """NFD, then drop the non-spacing marks (Mn): "é" is "e" + U+0301, and U+0301 goes.

    NFD also sorts each run of combining marks by combining class, which can move a mark before
    another that came first. Positions then follow the order of the text, as `tokenizers` aligns
    them: the first piece of each decomposition takes the position of the next source character,
    the other pieces that of the last one taken. So positions never decrease along the text.

    >>> strip_accents(list(zip("né\\u0323", range(3))), CharRules())
    [('n', 0), ('e', 1)]
    """
    pieces = [(x, k == 0) for c, _ in chars for k, x in enumerate(rules.nfd(c))]
    _canonical_order(pieces, rules)
    out, taken = [], -1
    for x, takes_next in pieces:
        taken += takes_next
        if not rules.is_mark(x):
            out.append((x, chars[taken][1]))
    return out


def _canonical_order(pieces: list, rules: CharRules) -> None:
    """Stable-sort each run of combining characters by combining class, in place (NFD's last step)."""
    i, n = 0, len(pieces)
    while i < n:
        if not rules.combining(pieces[i][0]):
            i += 1
            continue
        j = i
        while j < n and rules.combining(pieces[j][0]):
            j += 1
        if j - i > 1:
            pieces[i:j] = sorted(pieces[i:j], key=lambda piece: rules.combining(piece[0]))
        i = j


def lowercase(chars: Chars, rules: CharRules) -> Chars:
    """Lowercase character by character; one may become two ("İ" -> "i̇"), both from the same place."""
    return [(y, i) for c, i in chars for y in rules.lower(c)]


def lowercase_and_strip_accents(chars: Chars, rules: CharRules, lower: bool = True,
                                strip: bool | None = None) -> Chars:
    """BERT's third stage. `strip` None follows `lower`, as in BERT (an uncased model strips accents).

    >>> "".join(c for c, _ in lowercase_and_strip_accents(list(zip("HäLLo", range(5))), CharRules()))
    'hallo'
    """
    if strip if strip is not None else lower:
        chars = strip_accents(chars, rules)
    if lower:
        chars = lowercase(chars, rules)
    return chars


def split_on_punctuation(chars: Chars, rules: CharRules) -> Words:
    """Split on whitespace; each punctuation character is a word of its own. BERT counts every
    non-alphanumeric ASCII character ("$", "^", "`") as punctuation, plus Unicode P*.

    >>> split_on_punctuation(list(zip("hi, yo", range(6))), CharRules())
    [('hi', [0, 1]), (',', [2]), ('yo', [4, 5])]
    """
    words, word, where = [], [], []
    for c, i in chars:
        if c.isspace() or rules.is_punct(c):
            if word:
                words.append(("".join(word), where))
                word, where = [], []
            if not c.isspace():
                words.append((c, [i]))
        else:
            word.append(c)
            where.append(i)
    if word:
        words.append(("".join(word), where))
    return words


def basic_tokenize(text: str, rules: CharRules, lower: bool = True, strip: bool | None = None,
                   chinese: bool = True) -> Words:
    """The four stages in BERT's order: the words WordPiece will see, with their positions in `text`."""
    if not rules.rust:
        return _basic_tokenize_legacy(text, rules, lower, strip, chinese)
    chars = clean_text(list(zip(text, range(len(text)))), rules)
    if chinese:
        chars = tokenize_chinese_chars(chars, rules)
    chars = lowercase_and_strip_accents(chars, rules, lower, strip)
    return split_on_punctuation(chars, rules)


def _basic_tokenize_legacy(text: str, rules: CharRules, lower: bool, strip: bool | None, chinese: bool) -> Words:
    """`BertTokenizerLegacy`'s order: NFC after the first two stages, then lowercase and strip
    accents word by word. NFC and whole-word lowercasing change lengths, so positions are exact only
    for ASCII text; elsewhere each word points at the whole text (legacy offsets are refused)."""
    chars = clean_text(list(zip(text, range(len(text)))), rules)
    if chinese:
        chars = tokenize_chinese_chars(chars, rules)
    # NFC so that the same character typed two ways is one token.
    cleaned = unicodedata.normalize("NFC", "".join(c for c, _ in chars))
    strip = lower if strip is None else strip
    words = []
    for token in cleaned.split():
        if lower:
            token = token.lower()  # the whole word: a final "Σ" becomes "ς"
        if strip:
            token = "".join(x for x in unicodedata.normalize("NFD", token) if not rules.is_mark(x))
        words += split_on_punctuation(list(zip(token, range(len(token)))), rules)
    if cleaned == text and text.isascii():  # nothing changed length: find each word in the text
        out, pos, subject = [], 0, (text.lower() if lower else text)
        for word, _ in words:
            pos = subject.index(word, pos)
            out.append((word, list(range(pos, pos + len(word)))))
            pos += len(word)
        return out
    return [(word, [0] * (len(word) - 1) + [len(text) - 1]) for word, _ in words]
