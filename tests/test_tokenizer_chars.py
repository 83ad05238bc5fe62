"""BERT's character classes: Google BERT's own table tests, and every code point whose answer
depends on the Unicode version checked against `tokenizers` (its tables are not Python's)."""
import doctest
import unicodedata

import pytest
from tokenizers import normalizers

from minidistil.tokenizer import chars
from minidistil.tokenizer.basic import _canonical_order
from minidistil.tokenizer.chars import CharRules

RUST = CharRules("rust")
CODE_POINTS = [cp for cp in range(1, 0x110000) if not 0xD800 <= cp <= 0xDFFF]


@pytest.mark.parametrize("char, is_space", [(" ", True), ("\t", True), ("\r", True), ("\n", True),
                                            ("\u00A0", True), ("A", False), ("-", False)])
def test_google_whitespace_table(char, is_space):
    assert RUST.is_space(char) == is_space


@pytest.mark.parametrize("char, drops", [("\u0005", True), ("A", False), (" ", False), ("\t", False),
                                         ("\r", False), ("\U0001F4A9", False)])
def test_google_control_table(char, drops):
    assert RUST.drops(char) == drops


@pytest.mark.parametrize("char, is_punct", [("-", True), ("$", True), ("`", True), (".", True),
                                            ("A", False), (" ", False)])
def test_google_punctuation_table(char, is_punct):
    assert RUST.is_punct(char) == is_punct


def test_every_decomposition_equals_rusts_nfd():
    text = "\x00".join(map(chr, CODE_POINTS))  # NUL decomposes to itself: a safe separator
    rust = normalizers.NFD().normalize_str(text).split("\x00")
    assert [RUST.nfd(chr(cp)) for cp in CODE_POINTS] == rust


def test_every_combining_class_orders_marks_as_rusts_nfd():
    # A mark of class k after one of class c is moved in front of it exactly when 0 < k < c. Probe
    # every mark against one mark of every class Rust knows, in both orders.
    marks = [chr(cp) for cp in CODE_POINTS if unicodedata.combining(chr(cp))]
    probes = {}
    for m in marks:
        if RUST.combining(m):
            probes.setdefault(RUST.combining(m), m)
    pairs = [m + p for m in marks for p in probes.values()] + [p + m for m in marks for p in probes.values()]
    rust = normalizers.NFD().normalize_str("\x00".join("a" + pair for pair in pairs)).split("\x00")
    ours = []
    for pair in pairs:
        pieces = [(x, True) for c in pair for x in RUST.nfd(c)]
        _canonical_order(pieces, RUST)
        ours.append("a" + "".join(x for x, _ in pieces))
    assert ours == rust


def test_unknown_reference_raises():
    with pytest.raises(ValueError, match="reference"):
        CharRules("c++")


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(chars)
    assert attempted > 0 and failed == 0
