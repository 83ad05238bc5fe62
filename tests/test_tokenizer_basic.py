"""BERT's basic tokenization stage by stage, against both Hugging Face tokenizers: each stage alone
against `tokenizers`' BertNormalizer switched down to that one stage (and BertPreTokenizer), and
against the BertTokenizerLegacy method of the same name; then the four in a row on every code point."""
import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import normalizers, pre_tokenizers
from transformers import BertTokenizerLegacy

from minidistil.tokenizer import basic
from minidistil.tokenizer.basic import (basic_tokenize, clean_text, lowercase, lowercase_and_strip_accents,
                                        split_on_punctuation, strip_accents, tokenize_chinese_chars)
from minidistil.tokenizer.chars import CharRules

RUST, LEGACY = CharRules("rust"), CharRules("legacy")

AWKWARD = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),        # anything
    st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp")),         # control, zero-width, spaces
    st.characters(categories=("Mn", "Mc", "Me")),                     # combining marks
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),        # CJK
    st.sampled_from("aeiouAEIOU éÉİΣß.,!?'-[]#\u0301\u0323\ufffd\x00"),  # ordinary and tricky text
)
TEXT = st.text(AWKWARD, max_size=30)
SETTINGS = settings(max_examples=200, deadline=None)


def chars(text):
    return list(zip(text, range(len(text))))


def text_of(pairs):
    return "".join(c for c, _ in pairs)


def rust_stage(**on):
    """BertNormalizer with every stage off except those named."""
    stages = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    return normalizers.BertNormalizer(**{**stages, **on})


@pytest.fixture(scope="module")
def legacy(folder):
    return BertTokenizerLegacy.from_pretrained(str(folder)).basic_tokenizer


# ------------------------------------------------------------------ each stage alone

@SETTINGS
@given(text=TEXT)
def test_clean_text_matches_both_references(legacy, text):
    assert text_of(clean_text(chars(text), RUST)) == rust_stage(clean_text=True).normalize_str(text)
    assert text_of(clean_text(chars(text), LEGACY)) == legacy._clean_text(text)


@SETTINGS
@given(text=TEXT)
def test_tokenize_chinese_chars_matches_both_references(legacy, text):
    assert text_of(tokenize_chinese_chars(chars(text), RUST)) == rust_stage(handle_chinese_chars=True).normalize_str(text)
    assert text_of(tokenize_chinese_chars(chars(text), LEGACY)) == legacy._tokenize_chinese_chars(text)


@SETTINGS
@given(text=TEXT)
def test_strip_accents_matches_both_references(legacy, text):
    assert text_of(strip_accents(chars(text), RUST)) == rust_stage(strip_accents=True).normalize_str(text)
    assert text_of(strip_accents(chars(text), LEGACY)) == legacy._run_strip_accents(text)


@SETTINGS
@given(text=TEXT)
def test_lowercase_matches_rust_character_by_character(text):
    assert text_of(lowercase(chars(text), RUST)) == rust_stage(lowercase=True).normalize_str(text)


@SETTINGS
@given(text=TEXT)
def test_split_on_punctuation_matches_both_references(legacy, text):
    # The stage sees cleaned text, never a control character (Python and Rust disagree whether
    # U+001F is whitespace, but clean_text has dropped it by then).
    cleaned = rust_stage(clean_text=True).normalize_str(text)
    rust_words = [w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(cleaned)]
    assert [w for w, _ in split_on_punctuation(chars(cleaned), RUST)] == rust_words
    cleaned = legacy._clean_text(text)
    legacy_words = [w for token in cleaned.split() for w in legacy._run_split_on_punc(token)]
    assert [w for w, _ in split_on_punctuation(chars(cleaned), LEGACY)] == legacy_words


@SETTINGS
@given(text=TEXT)
def test_positions_point_into_the_text_and_never_go_back(text):
    words = basic_tokenize(text, RUST)
    where = [i for _, positions in words for i in positions]
    assert where == sorted(where) and all(0 <= i < len(text) for i in where)


def test_strip_accents_keeps_positions_in_text_order_when_nfd_reorders_marks():
    # U+0323 (class 220) sorts before U+0301 (230): the kept "e" and the marks take positions in
    # order, as `tokenizers` aligns them, so no span can end before it starts.
    assert strip_accents(chars("xe\u0301\u0323y"), RUST) == [("x", 0), ("e", 1), ("y", 4)]
    kept = lowercase_and_strip_accents(chars("a\u0898\u0301"), RUST)  # U+0898: Rust keeps it, class 0 there
    assert kept == [("a", 0), ("\u0898", 1)]


# ------------------------------------------------------------------ Google BERT's tokenization_test.py

@pytest.mark.parametrize("lower, strip, expected", [
    (True, None, ["hallo", "!", "how", "are", "you", "?"]),
    (False, None, ["HäLLo", "!", "how", "Are", "yoU", "?"]),
    (True, False, ["hällo", "!", "how", "are", "you", "?"]),
    (True, True, ["hallo", "!", "how", "are", "you", "?"]),
    (False, True, ["HaLLo", "!", "how", "Are", "yoU", "?"]),
    (False, False, ["HäLLo", "!", "how", "Are", "yoU", "?"]),
])
@pytest.mark.parametrize("rules", [RUST, LEGACY], ids=["rust", "legacy"])
def test_google_basic_tokenizer_lower_and_accents(rules, lower, strip, expected):
    words = basic_tokenize(" \tHäLLo!how  \n Are yoU?  ", rules, lower=lower, strip=strip)
    assert [w for w, _ in words] == expected


def test_google_chinese():
    assert [w for w, _ in basic_tokenize("ah\u535A\u63A8zz", RUST)] == ["ah", "\u535A", "\u63A8", "zz"]


def test_legacy_lowercases_whole_words_so_a_final_sigma_differs():
    assert [w for w, _ in basic_tokenize("ΟΔΥΣΣΕΥΣ", RUST)] == ["οδυσσευσ"]
    assert [w for w, _ in basic_tokenize("ΟΔΥΣΣΕΥΣ", LEGACY)] == ["οδυσσευς"]


# ------------------------------------------------------------------ every code point, four stages in a row

ALL_CODE_POINTS = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def test_every_code_point_goes_through_the_stages_as_in_rust():
    text = " ".join(ALL_CODE_POINTS[:0x30000])  # above U+2FFFF only unassigned and private use
    normalized = normalizers.BertNormalizer(lowercase=True).normalize_str(text)
    expected = [w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(normalized)]
    assert [w for w, _ in basic_tokenize(text, RUST)] == expected


def test_every_code_point_goes_through_the_stages_as_in_legacy(legacy):
    text = " ".join(ALL_CODE_POINTS)
    assert [w for w, _ in basic_tokenize(text, LEGACY)] == legacy.tokenize(text)


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(basic)
    assert attempted > 0 and failed == 0
