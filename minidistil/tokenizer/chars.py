"""What each character is to BERT: dropped, whitespace, punctuation, a CJK ideograph, a mark, its
lowercase. The stages in basic.py ask these questions; this file answers them per reference.

Hugging Face ships two BERT tokenizers that disagree on rare characters: `reference="rust"`
(default) answers as `tokenizers` does (what `transformers.BertTokenizer` runs), `reference="legacy"`
as the pure-Python `BertTokenizerLegacy`, which follows Google's BERT and Python's own Unicode tables.
Rust's tables are of other Unicode versions: older for categories (Unicode 8-era: ~80 newer Mn
ranges are kept, ~30 newer punctuation ranges are not split, 13 newer Cf characters are kept), for
combining classes (98 newer marks are never reordered by NFD), newer for lowercasing (Unicode 16
letters), and its CJK table starts the Extension C/D block at U+2B920 where Google's starts at
U+2B820. `_RUST_*` at the bottom lists them all; tests/test_tokenizer_chars.py re-checks every
code point against `tokenizers`.

    >>> rules = CharRules("rust")
    >>> rules.is_punct("$"), rules.is_punct("a"), rules.drops("\\u200b"), rules.lower("Σ")
    (True, False, True, 'σ')
"""
from __future__ import annotations

import unicodedata

# CJK Unified Ideographs and their extensions, as Google's BERT defines them. "Chinese
# character" here means the CJK block only: Hangul, Hiragana and Katakana are written with
# spaces between words, so they are tokenized like any other script.
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))

# BERT's whitespace: space, tab, newline, return and the Unicode space separators (Zs), plus
# the line and paragraph separators (both references split words there).
WHITESPACE = frozenset(" \t\n\r\u2028\u2029\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                       "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000")

REFERENCES = ("rust", "legacy")


class CharRules:
    """BERT's character classes for one reference ("rust" or "legacy", see the module docstring)."""

    def __init__(self, reference: str = "rust"):
        if reference not in REFERENCES:
            raise ValueError(f"reference must be 'rust' or 'legacy', got {reference!r}")
        self.reference = reference
        self.rust = reference == "rust"
        self.cjk_ranges = _RUST_CJK_RANGES if self.rust else CJK_RANGES

    def drops(self, c: str) -> bool:
        """Control characters (Unicode C*), NUL and U+FFFD are removed before anything else."""
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
        """Whitespace that cleaning turns into " ". Legacy keeps the line and paragraph separators
        (Zl, Zp) as they are, but splits words there all the same."""
        return c in WHITESPACE if self.rust else (c in WHITESPACE and c not in "\u2028\u2029")

    def is_punct(self, c: str) -> bool:
        cp = ord(c)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True  # BERT treats all non-alphanumeric ASCII ("$", "^", "`") as punctuation
        if self.rust and cp in _RUST_PUNCT_DIFF:
            return not unicodedata.category(c).startswith("P")
        return unicodedata.category(c).startswith("P")

    def is_mark(self, c: str) -> bool:
        """A non-spacing mark (Mn): what stripping accents removes after NFD."""
        if self.rust and ord(c) in _RUST_MN_DIFF:
            return unicodedata.category(c) != "Mn"
        return unicodedata.category(c) == "Mn"

    def is_cjk(self, c: str) -> bool:
        cp = ord(c)
        for lo, hi in self.cjk_ranges:
            if lo <= cp <= hi:
                return True
        return False

    def nfd(self, c: str) -> str:
        """The canonical decomposition of one character ("é" -> "e" + U+0301)."""
        if self.rust and ord(c) == 0x11938:  # decomposes since Unicode 13, after Rust's table
            return c
        return unicodedata.normalize("NFD", c)

    def combining(self, c: str) -> int:
        """Canonical combining class: NFD sorts each run of non-zero classes by it."""
        if self.rust and ord(c) in _RUST_NOT_COMBINING:
            return 0
        return unicodedata.combining(c)

    def lower(self, c: str) -> str:
        if self.rust:
            cp = ord(c)
            if cp in _RUST_LOWER:
                return chr(_RUST_LOWER[cp])
        return c.lower()


def _expand(ranges) -> frozenset[int]:
    out = set()
    for r in ranges:
        lo, hi = r if isinstance(r, tuple) else (r, r)
        out.update(range(lo, hi + 1))
    return frozenset(out)


# ---------------------------------------------------------------- where `tokenizers` sees Unicode differently
# Measured against tokenizers 0.23 on every code point, relative to Python 3.11's unicodedata
# (Unicode 14.0).

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

# Marks with a non-zero combining class that Rust's normalization table does not know yet: class 0
# there, so NFD never moves them (every other class equals Python's).
_RUST_NOT_COMBINING = _expand([
    0x7FD, (0x898, 0x89F), (0x8CA, 0x8D3), 0x9FE, 0xC3C, (0xD3B, 0xD3C), 0xEBA, 0x1715, (0x1ABF, 0x1ACE),
    (0x1DF6, 0x1DFA), 0xA82C, (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10F46, 0x10F50),
    (0x10F82, 0x10F85), 0x11070, 0x1133B, 0x1145E, (0x11839, 0x1183A), (0x1193D, 0x1193E), 0x11943,
    0x119E0, 0x11A34, 0x11A47, 0x11A99, 0x11D42, (0x11D44, 0x11D45), 0x11D97, (0x16FF0, 0x16FF1),
    (0x1E130, 0x1E136), 0x1E2AE, (0x1E2EC, 0x1E2EF)])

# Capital letters from Unicode 15-16 (unassigned for Python 3.11) that Rust's std lowercases.
_RUST_LOWER = {0x1C89: 0x1C8A, 0xA7CB: 0x0264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3,
               0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB, 0xA7DC: 0x019B,
               **{cp: cp + 0x20 for cp in range(0x10D50, 0x10D66)},
               **{cp: cp + 0x1B for cp in range(0x16EA0, 0x16EB9)}}
