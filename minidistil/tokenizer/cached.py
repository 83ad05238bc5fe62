"""The fast path beside BERT's stages: text -> WordPiece ids, offsets and word indices, quickly.

basic.py and wordpiece.py define the tokenizer and run per character. This file gets the same
answer much faster by doing that work once per distinct *chunk* of text:

  * one compiled regex cuts a text into chunks that the stages cannot join or split differently
    (runs of non-space characters, each punctuation mark that normalizes to itself, each CJK
    ideograph), so each chunk is tokenized on its own;
  * the finished ids (and spans) of each chunk are cached: real text repeats its words;
  * pure-ASCII text, most of English, takes a shortcut: `str.lower` and a `str.translate` that puts
    spaces around punctuation, both running in C, reproduce the four stages exactly on ASCII.

tests/test_tokenizer_cached.py proves the result equal to `basic_tokenize` then `wordpiece`.

    >>> vocab = {"[UNK]": 0, "un": 1, "##want": 2, "##ed": 3, ",": 4, "runn": 5, "##ing": 6}
    >>> encoder = CachedEncoder(vocab)
    >>> encoder.ids("UNwant\\u00e9d,running")
    [1, 2, 3, 4, 5, 6]
    >>> encoder.encode("UNwant\\u00e9d,running")[1]     # character spans into the original text
    [(0, 2), (2, 6), (6, 8), (8, 9), (9, 13), (13, 16)]
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

from .basic import basic_tokenize
from .chars import WHITESPACE, CharRules
from .wordpiece import wordpiece

_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_OUT_PUNCT = {cp: f" {chr(cp)} " for cp in range(33, 127) if not chr(cp).isalnum()}
_CACHE_LIMIT = 1_000_000  # chunks; bounds memory on endless streams of new words


def _is_plain_ascii(text: str) -> bool:
    """ASCII without control characters: the four stages reduce to lowercasing and splitting."""
    return text.isascii() and not _ASCII_CONTROL.search(text)


class CachedEncoder:
    """Text -> WordPiece ids (and offsets, word indices) for one vocabulary and one set of options.

    `do_lower_case`, `strip_accents` (None: follow `do_lower_case`, as in BERT) and
    `tokenize_chinese_chars` are BERT's options; `reference` picks which Hugging Face tokenizer to
    agree with where they differ (see chars.py).

    >>> CachedEncoder({"[UNK]": 0, "hello": 1, "!": 2}).ids("Hello!! héllo")
    [1, 2, 2, 1]
    """

    def __init__(self, vocab: dict[str, int], unk_token: str = "[UNK]", do_lower_case: bool = True,
                 strip_accents: bool | None = None, tokenize_chinese_chars: bool = True,
                 max_input_chars_per_word: int = 100, reference: str = "rust"):
        if unk_token not in vocab:
            raise ValueError(f"the unknown token {unk_token!r} is not in the vocabulary; add it to vocab.txt")
        self.vocab, self.unk_id = vocab, vocab[unk_token]
        self.lower = do_lower_case
        self.strip = do_lower_case if strip_accents is None else strip_accents
        self.chinese = tokenize_chinese_chars
        self.max_chars = max_input_chars_per_word
        self.reference = reference
        self.rules = CharRules(reference)
        # No vocabulary entry is longer than this, so no match needs to be tried beyond it.
        self.longest = max(len(t) for t in vocab)
        space = _char_class(sorted(map(ord, WHITESPACE)))
        if reference == "rust":
            alone = _alone_class(reference, self.lower, self.strip, self.chinese)
            self.chunk_re = re.compile(f"[{alone}]|[^{alone}{space}]+" if alone else f"[^{space}]+")
        else:  # legacy lowercases whole whitespace-separated words: keep them whole
            self.chunk_re = re.compile(f"[^{space}]+")
        self.ascii_re = re.compile(r"[a-z0-9]+|[^a-z0-9\s]" if self.lower else r"[A-Za-z0-9]+|[^A-Za-z0-9\s]")
        self._ids: dict[str, list[int]] = {}   # chunk -> ids
        self._full: dict[str, tuple] = {}      # chunk -> (ids, spans, word index per token, words, whole)

    def ids(self, text: str) -> list[int]:
        """Token ids of `text`, no special tokens. The fastest path: no offsets are tracked."""
        if _is_plain_ascii(text):
            # Spaces around every ASCII punctuation mark, then split: all in C, no regex.
            chunks = (text.lower() if self.lower else text).translate(_SPACE_OUT_PUNCT).split()
        else:
            chunks = self.chunk_re.findall(text)
        cache = self._ids
        try:
            parts = list(map(cache.__getitem__, chunks))
        except KeyError:
            for chunk in set(chunks).difference(cache):
                self._add(chunk)
            parts = list(map(cache.__getitem__, chunks))
        return list(chain.from_iterable(parts))

    def encode(self, text: str, base: int = 0, first_word: int = 0, offsets: bool = True):
        """(ids, (start, end) character spans shifted by `base`, word index per token, words used)."""
        if offsets and self.reference == "legacy" and not _is_plain_ascii(text):
            # NFC may merge characters (e + U+0301 -> é), so spans would not be exact.
            raise ValueError("character offsets need reference='rust' for non-ASCII text; the legacy "
                             "tokenizer normalizes to NFC first and cannot map tokens back exactly")
        chunks, starts = self._chunks(text, with_starts=True)
        ids, spans, words, w = [], [], [], first_word
        full = self._full
        for chunk, start in zip(chunks, starts):
            chunk_ids, chunk_spans, chunk_words, n_words, whole = full.get(chunk) or self._add(chunk)
            p = base + start
            if whole is not None:  # the common case: one token that is the whole chunk, one word
                ids.append(whole)
                spans.append((p, p + len(chunk)))
                words.append(w)
                w += 1
                continue
            ids += chunk_ids
            spans += [(p + a, p + b) for a, b in chunk_spans]
            words += [w + k for k in chunk_words]
            w += n_words
        return ids, spans, words, w - first_word

    def words(self, text: str) -> list[str]:
        """Basic tokenization only: the normalized words that WordPiece will see.

        >>> CachedEncoder({"[UNK]": 0}).words("Héllo,  WORLD! 你好")
        ['hello', ',', 'world', '!', '你', '好']
        """
        return [word for chunk in self._chunks(text)[0] for word, _ in self._split(chunk)]

    def _chunks(self, text: str, with_starts: bool = False):
        if _is_plain_ascii(text):
            # ASCII lowercasing keeps every position, so chunks of the lowered text map 1:1.
            pattern, subject = self.ascii_re, (text.lower() if self.lower else text)
        else:
            pattern, subject = self.chunk_re, text
        if not with_starts:
            return pattern.findall(subject), None
        spans = [m.span() for m in pattern.finditer(subject)]
        return [subject[a:b] for a, b in spans], [a for a, _ in spans]

    def _split(self, chunk: str) -> list[tuple[str, list[int]]]:
        """The stages on one chunk: (normalized word, source position of each character) per word."""
        if _is_plain_ascii(chunk) and (self.reference == "rust" or len(chunk) == 1 or chunk.isalnum()):
            # An ASCII chunk is one word (a run of letters and digits, or one punctuation mark).
            return [(chunk.lower() if self.lower else chunk, range(len(chunk)))]
        return basic_tokenize(chunk, self.rules, self.lower, self.strip, self.chinese)

    def _add(self, chunk: str):
        """Tokenize a chunk not seen before and cache the result."""
        if len(self._full) > _CACHE_LIMIT:
            self._full.clear()
            self._ids.clear()
        words = self._split(chunk)
        ids, spans, word_index = [], [], []
        for k, (word, where) in enumerate(words):
            for token_id, a, b in wordpiece(word, self.vocab, self.unk_id, self.max_chars, self.longest):
                ids.append(token_id)
                spans.append((where[a], where[b - 1] + 1))
                word_index.append(k)
        whole = ids[0] if len(ids) == 1 and spans[0] == (0, len(chunk)) and len(words) == 1 else None
        entry = (ids, spans, word_index, len(words), whole)
        self._full[chunk] = entry
        self._ids[chunk] = ids
        return entry


@lru_cache(maxsize=None)
def _alone_class(reference: str, lower: bool, strip: bool, chinese: bool) -> str:
    """Regex class of characters that are always a chunk of their own: punctuation that
    normalizes to itself (cutting there cannot change the result), and CJK ideographs.
    No punctuation lives above U+1FFFF, so the scan stops there."""
    rules = CharRules(reference)
    alone = []
    for cp in range(0x20000):
        c = chr(cp)
        if rules.is_punct(c) and not unicodedata.combining(c) and not 0xD800 <= cp <= 0xDFFF:
            n = rules.nfd(c) if strip else c
            n = "".join(rules.lower(x) for x in n) if lower else n
            if n == c:
                alone.append(cp)
    cjk = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in rules.cjk_ranges) if chinese else ""
    return _char_class(alone) + cjk


def _char_class(cps: list[int]) -> str:
    """Code points -> the inside of a regex class, consecutive runs written as ranges."""
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(parts)
