"""BERT's basic tokenization and greedy longest-match WordPiece: text -> token ids and offsets.

This is the engine under `WordPieceTokenizer` (minidistil/tokenizer.py), which adds special
tokens, pairs, truncation, padding and decoding on top. The pipeline is Google BERT's:

    clean      drop control characters (Unicode C*), turn whitespace into " "
    chinese    put spaces around CJK ideographs, so each one is a word of its own
    accents    NFD, then drop non-spacing marks (Mn): "café" -> "cafe"
    lower      "Hello" -> "hello"
    split      on whitespace, and every punctuation character is a word of its own
               (all non-alphanumeric ASCII counts as punctuation, plus Unicode P*)
    wordpiece  each word -> the longest vocabulary prefix, then "##"-pieces, else [UNK]

    >>> vocab = {"[UNK]": 0, "un": 1, "##want": 2, "##ed": 3, ",": 4, "runn": 5, "##ing": 6}
    >>> engine = Engine(vocab)
    >>> engine.ids("UNwant\u00e9d,running")
    [1, 2, 3, 4, 5, 6]
    >>> engine.encode("UNwant\u00e9d,running")[1]     # character spans into the original text
    [(0, 2), (2, 6), (6, 8), (8, 9), (9, 13), (13, 16)]

Speed comes from doing the per-character work once per distinct *chunk* of text, not once per
character: one compiled regex cuts a whole text into chunks (runs of letters, single punctuation
marks, single CJK ideographs), and the finished ids of each chunk are cached. Pure-ASCII text
(most English) takes a shortcut: `str.lower` and a tiny regex, both running in C.

Two references. Hugging Face ships two BERT tokenizers that disagree on rare inputs;
`reference="rust"` (default) matches `tokenizers` (what `transformers.BertTokenizer` runs),
`reference="legacy"` matches the pure-Python `BertTokenizerLegacy`. They differ in:
  * unassigned code points (Cn): Rust keeps them (they become [UNK]), legacy drops them;
  * legacy applies NFC to the whole text before splitting, Rust does not (matters for cased
    vocabularies and decomposed input such as "e\u0301");
  * legacy lowercases whole words, so a final capital sigma becomes "ς"; Rust maps
    every "Σ" to "σ";
  * Rust's Unicode tables are older for categories (Unicode 8-era: ~80 newer Mn ranges are kept,
    ~30 newer punctuation ranges are not split, 13 newer Cf characters are kept), newer for
    lowercasing (Unicode 16 letters), and its CJK table starts the Extension C/D block at U+2B920
    where Google's (and legacy's) starts at U+2B820. `_RUST_*` at the bottom lists them all;
  * decoding: Rust cleans spaces token by token ("it ' s"), legacy on the whole string ("it's").
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

# CJK Unified Ideographs and their extensions, as Google's BERT defines them. "Chinese
# character" here means the CJK block only: Hangul, Hiragana and Katakana are written with
# spaces between words, so they are tokenized like any other script.
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))

_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACE_OUT_PUNCT = {cp: f" {chr(cp)} " for cp in range(33, 127) if not chr(cp).isalnum()}
# BERT's whitespace: space, tab, newline, return and the Unicode space separators (Zs), plus
# the line and paragraph separators (both references split words there).
_WHITESPACE = frozenset(" \t\n\r\u2028\u2029\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                        "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000")


def _in(cp: int, ranges) -> bool:
    for lo, hi in ranges:
        if lo <= cp <= hi:
            return True
    return False


def _expand(ranges) -> set[int]:
    out = set()
    for r in ranges:
        lo, hi = r if isinstance(r, tuple) else (r, r)
        out.update(range(lo, hi + 1))
    return out


class CharRules:
    """What each character is, per reference: dropped, whitespace, punctuation, a mark, its lowercase.

    >>> rules = CharRules("rust")
    >>> rules.is_punct("$"), rules.is_punct("a"), rules.drops("\\u200b"), rules.lower("Σ")
    (True, False, True, 'σ')
    """

    def __init__(self, reference: str = "rust"):
        if reference not in ("rust", "legacy"):
            raise ValueError(f"reference must be 'rust' or 'legacy', got {reference!r}")
        self.rust = reference == "rust"
        self.cjk_ranges = _RUST_CJK_RANGES if self.rust else CJK_RANGES

    def drops(self, c: str) -> bool:
        cp = ord(c)
        if cp == 0 or cp == 0xFFFD:
            return True
        if c in "\t\n\r":  # control characters, but BERT counts them as whitespace
            return False
        cat = unicodedata.category(c)
        if self.rust:
            if cp in _RUST_NOT_OTHER:
                return False
            return cat in ("Cc", "Cf", "Co", "Cs")  # Rust's "other" leaves out Cn (unassigned)
        return cat[0] == "C"

    def is_space(self, c: str) -> bool:
        return c in _WHITESPACE

    def is_punct(self, c: str) -> bool:
        cp = ord(c)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True  # BERT treats all non-alphanumeric ASCII ("$", "^", "`") as punctuation
        if self.rust and cp in _RUST_PUNCT_DIFF:
            return not unicodedata.category(c).startswith("P")
        return unicodedata.category(c).startswith("P")

    def is_mark(self, c: str) -> bool:
        if self.rust and ord(c) in _RUST_MN_DIFF:
            return unicodedata.category(c) != "Mn"
        return unicodedata.category(c) == "Mn"

    def is_cjk(self, c: str) -> bool:
        return _in(ord(c), self.cjk_ranges)

    def nfd(self, c: str) -> str:
        if self.rust and ord(c) == 0x11938:  # decomposes since Unicode 13, after Rust's table
            return c
        return unicodedata.normalize("NFD", c)

    def lower(self, c: str) -> str:
        if self.rust:
            cp = ord(c)
            if cp in _RUST_LOWER:
                return chr(_RUST_LOWER[cp])
        return c.lower()


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
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(parts)


class Engine:
    """Text -> WordPiece ids (and offsets, word indices) for one vocabulary and one set of options.

    `do_lower_case`, `strip_accents` (None: follow `do_lower_case`, as in BERT) and
    `tokenize_chinese_chars` are BERT's options; `reference` picks which Hugging Face tokenizer to
    agree with where they differ (see the module docstring).

    >>> Engine({"[UNK]": 0, "hello": 1, "!": 2}).ids("Hello!! héllo")
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
        space = _char_class(sorted(map(ord, _WHITESPACE)))
        if reference == "rust":
            alone = _alone_class(reference, self.lower, self.strip, self.chinese)
            self.chunk_re = re.compile(f"[{alone}]|[^{alone}{space}]+" if alone else f"[^{space}]+")
        else:  # legacy lowercases whole whitespace-separated words: keep them whole
            self.chunk_re = re.compile(f"[^{space}]+")
        self.ascii_re = re.compile(r"[a-z0-9]+|[^a-z0-9\s]" if self.lower else r"[A-Za-z0-9]+|[^A-Za-z0-9\s]")
        self._ids: dict[str, list[int]] = {}   # chunk -> ids
        self._full: dict[str, tuple] = {}      # chunk -> (ids, spans, word index per token, words)

    # ------------------------------------------------------------ the two public entry points

    def ids(self, text: str) -> list[int]:
        """Token ids of `text`, no special tokens. The fast path: no offsets are tracked."""
        if text.isascii() and not _ASCII_CONTROL.search(text):
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
        if offsets and self.reference == "legacy" and not (text.isascii() and not _ASCII_CONTROL.search(text)):
            # NFC may merge characters (e + U+0301 -> é), so spans would not be exact.
            raise ValueError("character offsets need reference='rust' for non-ASCII text; the legacy "
                             "tokenizer normalizes to NFC first and cannot map tokens back exactly")
        chunks, spans = self._chunks(text, with_spans=True)
        ids, offsets, words, w = [], [], [], first_word
        full = self._full
        for chunk, start in zip(chunks, spans):
            entry = full.get(chunk) or self._add(chunk)
            chunk_ids, chunk_spans, chunk_words, n_words, whole = entry
            p = base + start
            if whole is not None:  # the common case: one token that is the whole chunk, one word
                ids.append(whole)
                offsets.append((p, p + len(chunk)))
                words.append(w)
                w += 1
                continue
            ids += chunk_ids
            offsets += [(p + a, p + b) for a, b in chunk_spans]
            words += [w + k for k in chunk_words]
            w += n_words
        return ids, offsets, words, w - first_word

    # ------------------------------------------------------------ chunking

    def _chunks(self, text: str, with_spans: bool = False):
        if text.isascii() and not _ASCII_CONTROL.search(text):
            # ASCII lowercasing keeps every position, so chunks of the lowered text map 1:1.
            pattern, subject = self.ascii_re, (text.lower() if self.lower else text)
        else:
            pattern, subject = self.chunk_re, text
        if not with_spans:
            return pattern.findall(subject), None
        spans = [m.span() for m in pattern.finditer(subject)]
        return [subject[a:b] for a, b in spans], [a for a, _ in spans]

    def _add(self, chunk: str):
        if len(self._full) > 1_000_000:  # bound memory on endless streams of new words
            self._full.clear()
            self._ids.clear()
        words = self._split(chunk)
        ids, spans, word_index = [], [], []
        for k, (word, src) in enumerate(words):
            for token_id, a, b in self.wordpiece(word):
                ids.append(token_id)
                spans.append((src[a], src[b - 1] + 1))
                word_index.append(k)
        whole = ids[0] if len(ids) == 1 and spans[0] == (0, len(chunk)) and len(words) == 1 else None
        entry = (ids, spans, word_index, len(words), whole)
        self._full[chunk] = entry
        self._ids[chunk] = ids
        return entry

    # ------------------------------------------------------------ normalization, per chunk

    def words(self, text: str) -> list[str]:
        """Basic tokenization only: the normalized words that WordPiece will see.

        >>> Engine({"[UNK]": 0}).words("Héllo,  WORLD! 你好")
        ['hello', ',', 'world', '!', '你', '好']
        """
        return [word for chunk in self._chunks(text)[0] for word, _ in self._split(chunk)]

    def _split(self, chunk: str) -> list[tuple[str, list[int]]]:
        """(normalized word, source position in the chunk of each of its characters) per word."""
        if chunk.isascii() and not _ASCII_CONTROL.search(chunk) and (
                self.reference == "rust" or len(chunk) == 1 or chunk.isalnum()):
            # An ASCII chunk is one word (a run of letters and digits, or one punctuation mark).
            return [(chunk.lower() if self.lower else chunk, range(len(chunk)))]
        if self.reference == "rust":
            return self._words_rust(chunk)
        return self._words_legacy(chunk)

    def _words_rust(self, chunk: str) -> list[tuple[str, list[int]]]:
        """Normalize as `tokenizers`' BertNormalizer does, keeping for each character where it came
        from (`src`), then split on whitespace and punctuation as BertPreTokenizer does."""
        rules = self.rules
        chars, src = [], []
        for i, c in enumerate(chunk):
            if rules.drops(c):
                continue
            if rules.is_space(c):
                chars.append(" ")
                src.append(i)
                continue
            # A CJK ideograph gets a space on both sides (before accents, as in BertNormalizer).
            pieces = rules.nfd(c) if self.strip else c
            if self.chinese and rules.is_cjk(c):
                pieces = f" {pieces} "
            for x in pieces:
                chars.append(x)
                src.append(i)
        if self.strip:
            _canonical_order(chars, src)  # NFD also sorts runs of combining marks
            keep = [k for k, x in enumerate(chars) if not rules.is_mark(x)]
            chars, src = [chars[k] for k in keep], [src[k] for k in keep]
        if self.lower:
            # A character may lowercase to two ("İ" -> "i̇"); both come from the same source.
            pairs = [(y, s) for x, s in zip(chars, src) for y in rules.lower(x)]
            chars, src = [p[0] for p in pairs], [p[1] for p in pairs]
        words, cur, cur_src = [], [], []
        for x, s in zip(chars, src):
            if x.isspace() or rules.is_punct(x):
                if cur:
                    words.append(("".join(cur), cur_src))
                    cur, cur_src = [], []
                if not x.isspace():
                    words.append((x, [s]))
            else:
                cur.append(x)
                cur_src.append(s)
        if cur:
            words.append(("".join(cur), cur_src))
        return words

    def _words_legacy(self, chunk: str) -> list[tuple[str, list[int]]]:
        """`BertTokenizerLegacy`'s BasicTokenizer on one whitespace-free chunk. Offsets are only
        exact for ASCII (see `encode`), so every word points at the whole chunk."""
        rules = self.rules
        text = "".join("" if rules.drops(c) else c for c in chunk)
        if self.chinese:
            text = "".join(f" {c} " if rules.is_cjk(c) else c for c in text)
        # NFC so that the same character typed two ways is one token (legacy BasicTokenizer).
        text = unicodedata.normalize("NFC", text)
        pieces = []
        for token in text.split():
            if self.lower:
                token = token.lower()  # whole word: a final "Σ" becomes "ς"
            if self.strip:
                token = "".join(x for x in unicodedata.normalize("NFD", token) if not rules.is_mark(x))
            pieces += _split_on_punct(token, rules)
        if text == chunk and text.isascii():  # NFC and lower keep positions here: spans are exact
            out, pos, low = [], 0, (text.lower() if self.lower else text)
            for p in " ".join(pieces).split():
                pos = low.index(p, pos)
                out.append((p, list(range(pos, pos + len(p)))))
                pos += len(p)
            return out
        return [(p, [0] * (len(p) - 1) + [len(chunk) - 1]) for p in " ".join(pieces).split()]

    # ------------------------------------------------------------ WordPiece

    def wordpiece(self, word: str) -> list[tuple[int, int, int]]:
        """Greedy longest-match-first: (id, start, end) per piece; the whole word is [UNK] if any
        part cannot be matched or the word is longer than `max_input_chars_per_word`.

        >>> Engine({"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3}).wordpiece("unaffable")
        [(1, 0, 2), (2, 2, 5), (3, 5, 9)]
        """
        n = len(word)
        if n > self.max_chars:
            return [(self.unk_id, 0, n)]
        vocab, pieces, start = self.vocab, [], 0
        while start < n:
            prefix = "##" if start else ""
            end = min(n, start + self.longest)
            while end > start:
                token_id = vocab.get(prefix + word[start:end])
                if token_id is not None:
                    break
                end -= 1
            else:
                return [(self.unk_id, 0, n)]
            pieces.append((token_id, start, end))
            start = end
        return pieces


def _split_on_punct(token: str, rules: CharRules) -> list[str]:
    out, cur = [], ""
    for c in token:
        if rules.is_punct(c):
            out += [cur, c] if cur else [c]
            cur = ""
        else:
            cur += c
    return out + [cur] if cur else out


def _canonical_order(chars: list[str], src: list[int]) -> None:
    """Stable-sort each run of combining characters by combining class, in place (as NFD does)."""
    i, n = 0, len(chars)
    while i < n:
        if not unicodedata.combining(chars[i]):
            i += 1
            continue
        j = i
        while j < n and unicodedata.combining(chars[j]):
            j += 1
        if j - i > 1:
            order = sorted(range(i, j), key=lambda k: unicodedata.combining(chars[k]))
            chars[i:j] = [chars[k] for k in order]
            src[i:j] = [src[k] for k in order]
        i = j


# ---------------------------------------------------------------- where `tokenizers` sees Unicode differently
# Measured against tokenizers 0.23 on every code point, relative to Python 3.11's unicodedata
# (Unicode 14.0); tests/test_tokenizer_text.py re-checks every code point.

# The Extension C/D start is U+2B920 in `tokenizers` (U+2B820 in Google's BERT).
_RUST_CJK_RANGES = CJK_RANGES[:5] + ((0x2B920, 0x2CEAF),) + CJK_RANGES[6:]

# Format characters (Cf) added after the Rust tables: kept, not dropped.
_RUST_NOT_OTHER = _expand([0x890, 0x891, 0x8E2, 0x110CD, (0x13430, 0x13438)])

# Punctuation whose status differs: newer P* characters Rust does not split, and two it does.
_RUST_PUNCT_DIFF = _expand([
    0x61D, 0x9FD, 0xA76, 0xC77, 0xC84, 0x166D, 0x111C9, (0x1B7D, 0x1B7E), (0x2E43, 0x2E4F),
    (0x2E52, 0x2E5D), 0x10EAD, (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x1144B, 0x1144F),
    (0x1145A, 0x1145B), 0x1145D, (0x11660, 0x1166C), 0x116B9, 0x1183B, (0x11944, 0x11946), 0x119E2,
    (0x11A3F, 0x11A46), (0x11A9A, 0x11A9C), (0x11A9E, 0x11AA2), (0x11C41, 0x11C45),
    (0x11C70, 0x11C71), (0x11EF7, 0x11EF8), 0x11FFF, (0x12FF1, 0x12FF2), (0x16E97, 0x16E9A),
    0x16FE2, (0x1E95E, 0x1E95F)])

# Non-spacing marks whose status differs: newer Mn that Rust keeps, and U+1734 (Mn before 14.0).
_RUST_MN_DIFF = _expand([
    0x1734, 0x7FD, (0x898, 0x89F), (0x8CA, 0x8E1), 0x9FE, (0xAFA, 0xAFF), 0xB55, 0xC04, 0xC3C,
    0xD00, (0xD3B, 0xD3C), 0xD81, 0xEBA, 0x180F, (0x1885, 0x1886), (0x1ABF, 0x1ACE),
    (0x1DF6, 0x1DFB), 0xA82C, 0xA8C5, 0xA8FF, 0xA9BD, (0x10D24, 0x10D27), (0x10EAB, 0x10EAC),
    (0x10F46, 0x10F50), (0x10F82, 0x10F85), 0x11070, (0x11073, 0x11074), 0x110C2, 0x111C9, 0x111CF,
    0x1123E, 0x1133B, (0x11438, 0x1143F), (0x11442, 0x11444), 0x11446, 0x1145E, (0x1182F, 0x11837),
    (0x11839, 0x1183A), (0x1193B, 0x1193C), 0x1193E, 0x11943, (0x119D4, 0x119D7), (0x119DA, 0x119DB),
    0x119E0, (0x11A01, 0x11A0A), (0x11A33, 0x11A38), (0x11A3B, 0x11A3E), 0x11A47, (0x11A51, 0x11A56),
    (0x11A59, 0x11A5B), (0x11A8A, 0x11A96), (0x11A98, 0x11A99), (0x11C30, 0x11C36),
    (0x11C38, 0x11C3D), 0x11C3F, (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3),
    (0x11CB5, 0x11CB6), (0x11D31, 0x11D36), 0x11D3A, (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), 0x11D47,
    (0x11D90, 0x11D91), 0x11D95, 0x11D97, (0x11EF3, 0x11EF4), 0x16F4F, 0x16FE4, (0x1CF00, 0x1CF2D),
    (0x1CF30, 0x1CF46), (0x1E000, 0x1E006), (0x1E008, 0x1E018), (0x1E01B, 0x1E021),
    (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136), 0x1E2AE, (0x1E2EC, 0x1E2EF),
    (0x1E944, 0x1E94A)])

# Capital letters from Unicode 15-16 (unassigned for Python 3.11) that Rust's std lowercases.
_RUST_LOWER = {0x1C89: 0x1C8A, 0xA7CB: 0x0264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3,
               0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB, 0xA7DC: 0x019B,
               **{cp: cp + 0x20 for cp in range(0x10D50, 0x10D66)},
               **{cp: cp + 0x1B for cp in range(0x16EA0, 0x16EB9)}}
