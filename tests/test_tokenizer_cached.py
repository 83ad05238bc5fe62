"""The fast path (CachedEncoder: chunks, caches, the ASCII shortcut) against the definition
(basic_tokenize then wordpiece) and against Hugging Face on real text and random Unicode: ids,
offsets and word ids identical to the Rust tokenizer, ids identical to the Python one.

Real text: every labelled and corpus source the project fetches, compared with the Rust tokenizer
in one batch call (fast), and a slice with the pure-Python legacy one (slow)."""
import doctest
import os
import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import normalizers, pre_tokenizers
from transformers import BertTokenizer, BertTokenizerLegacy

from minidistil import WordPieceTokenizer
from minidistil.data import sources
from minidistil.tokenizer import cached
from minidistil.tokenizer.basic import basic_tokenize
from minidistil.tokenizer.cached import CachedEncoder
from minidistil.tokenizer.wordpiece import wordpiece

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

SOURCES = {
    "rotten_tomatoes": lambda: sources.rotten_tomatoes()[0],
    "bbc_news": lambda: sources.bbc_news()[0],
    "tweets": lambda: sources.tweets()[0],
    "political_speeches": lambda: sources.political_speeches()[0],
    "chinese_novels": sources.chinese_novels,
    "guardian_headlines": sources.guardian_headlines,
    "presidential_debates": sources.presidential_debates,
    "hamlet": lambda: [sources.hamlet()],
}


@pytest.fixture(scope="module")
def rust(folder):
    tok = BertTokenizer.from_pretrained(str(folder))._tokenizer
    tok.no_truncation()  # the folder's tokenizer.json switches both on
    tok.no_padding()
    return tok


@pytest.fixture(scope="module")
def legacy(folder):
    return BertTokenizerLegacy.from_pretrained(str(folder))


AWKWARD = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),        # anything
    st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp")),         # control, zero-width, spaces
    st.characters(categories=("Mn", "Mc", "Me")),                     # combining marks
    st.sampled_from("\u200b\u200c\u200d\u2060\ufeff\u00ad\ufffd\x00"),  # zero-width and friends
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),        # CJK
    st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),      # emoji
    st.sampled_from("aeiouAEIOU éÉ.,!?'-[]#"),                        # ordinary text
)
TEXT = st.one_of(
    st.text(AWKWARD, max_size=40),
    st.builds(lambda a, n, b: a + "x" * n + b, st.text(AWKWARD, max_size=5), st.integers(90, 130),
              st.text(AWKWARD, max_size=5)),                          # around max_input_chars_per_word
    st.builds(lambda a, b: a + " [MASK] " + b, st.text(AWKWARD, max_size=10), st.text(AWKWARD, max_size=10)),
)
ASCII_TEXT = st.text(st.characters(max_codepoint=127), max_size=60)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------------ the fast path equals the stages

def by_the_stages(encoder, text):
    """The definition, on the whole text at once: no chunks, no cache, no shortcut."""
    ids, spans, words = [], [], []
    stages = basic_tokenize(text, encoder.rules, encoder.lower, encoder.strip, encoder.chinese)
    for k, (word, where) in enumerate(stages):
        for token_id, a, b in wordpiece(word, encoder.vocab, encoder.unk_id, encoder.max_chars):
            ids.append(token_id)
            spans.append((where[a], where[b - 1] + 1))
            words.append(k)
    return ids, spans, words


@pytest.fixture(scope="module", params=[(True, None), (False, None), (True, False), (False, True)],
                ids=["uncased", "cased", "lower-keep-accents", "cased-strip-accents"])
def encoder(ours, request):
    lower, strip = request.param
    return CachedEncoder(ours.vocab, do_lower_case=lower, strip_accents=strip)


@SETTINGS
@given(text=st.one_of(TEXT, ASCII_TEXT))
def test_cached_encoder_equals_the_stages(encoder, text):
    ids, spans, words, n_words = encoder.encode(text)
    assert (ids, spans, words) == by_the_stages(encoder, text)
    assert encoder.ids(text) == ids
    assert n_words == len(basic_tokenize(text, encoder.rules, encoder.lower, encoder.strip))


@SETTINGS
@given(text=ASCII_TEXT)
def test_ascii_shortcut_equals_the_stages(encoder, text):
    assert encoder.words(text) == [w for w, _ in basic_tokenize(text, encoder.rules, encoder.lower, encoder.strip)]


def test_a_warm_cache_gives_what_a_cold_one_gives(ours):
    texts = sources.guardian_headlines()[:300] + ["naïve café", "你好, 世界", "e\u0301\u0323x"]
    cold = [CachedEncoder(ours.vocab).encode(t) for t in texts]
    warm_encoder = CachedEncoder(ours.vocab)
    for t in texts + texts:
        warm_encoder.encode(t)
    assert [warm_encoder.encode(t) for t in texts] == cold


# ------------------------------------------------------------------ real text

@pytest.mark.parametrize("name", SOURCES)
def test_every_text_of_every_source_gives_rust_ids(ours, rust, name):
    texts = SOURCES[name]()
    assert len(texts) > 0
    expected = [e.ids for e in rust.encode_batch_fast(texts, add_special_tokens=False)]
    got = ours(texts, add_special_tokens=False)["input_ids"]
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    assert not wrong, f"{len(wrong)} of {len(texts)} texts differ, first: {texts[wrong[0]][:200]!r}"


@pytest.mark.parametrize("name", SOURCES)
def test_offsets_on_real_text_match_rust(ours, rust, name):
    texts = SOURCES[name]()[::25]  # a sample: offsets take the slower path on both sides
    expected = rust.encode_batch(texts, add_special_tokens=False)
    enc = ours(texts, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["offset_mapping"] == [e.offsets for e in expected]
    assert [enc.word_ids(i) for i in range(len(texts))] == [e.word_ids for e in expected]


@pytest.mark.parametrize("name", SOURCES)
def test_a_slice_of_every_source_gives_legacy_ids(ours_legacy, legacy, name):
    texts = SOURCES[name]()
    texts = texts[:: max(1, len(texts) // 40)]  # the Python reference runs at ~0.3 MB/s
    texts = [t[:3000] for t in texts]
    assert ours_legacy(texts)["input_ids"] == legacy(texts)["input_ids"]


# ------------------------------------------------------------------ every code point

def _rust_words(text, lower):
    normalized = normalizers.BertNormalizer(lowercase=lower).normalize_str(text)
    return [w for w, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(normalized)]


ALL_CODE_POINTS = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


@pytest.mark.parametrize("lower", [True, False])
def test_every_code_point_normalizes_and_splits_like_rust(vocab_file, lower):
    encoder = WordPieceTokenizer(vocab_file, do_lower_case=lower).encoder
    for start in range(0, len(ALL_CODE_POINTS), 1 << 16):
        block = ALL_CODE_POINTS[start:start + (1 << 16)]
        alone = " ".join(block)
        between = " ".join("a" + c + "b" for c in block[:: 7 if start >= 0x20000 else 1])
        for text in (alone, between):
            assert encoder.words(text) == _rust_words(text, lower), f"block from U+{start:04X}"


def test_every_code_point_basic_tokenizes_like_legacy(vocab_file, legacy):
    encoder = WordPieceTokenizer(vocab_file, reference="legacy").encoder
    text = " ".join(ALL_CODE_POINTS)
    assert encoder.words(text) == legacy.basic_tokenizer.tokenize(text)


# ------------------------------------------------------------------ random Unicode

def assert_real_spans_are_proper(offsets, text):
    """Every real token covers at least one character, front to back (special tokens are (0, 0))."""
    real = [(a, b) for a, b in offsets if (a, b) != (0, 0)]
    assert all(0 <= a < b <= len(text) for a, b in real), real


@SETTINGS
@given(text=TEXT)
def test_random_unicode_gives_rust_ids_offsets_and_word_ids(ours, rust, text):
    expected = rust.encode(text)
    enc = ours(text, return_offsets_mapping=True)
    assert enc["input_ids"] == expected.ids
    assert enc["offset_mapping"] == expected.offsets
    assert enc.word_ids() == expected.word_ids
    assert_real_spans_are_proper(enc["offset_mapping"][1:-1], text)


@SETTINGS
@given(text=TEXT)
def test_random_unicode_gives_legacy_ids(ours_legacy, legacy, text):
    assert ours_legacy(text)["input_ids"] == legacy(text)["input_ids"]


# Runs of combining marks are where NFD reorders characters, so where offsets can go wrong.
MARKS = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
         and (unicodedata.category(chr(cp))[0] == "M" or unicodedata.combining(chr(cp)))]
BASES = list("aeioAEIOU xy,.") + ["你", "\uf900", "İ", "ß", "é", "Å", "ǖ", "ṩ", "ᾇ", "\u0344", "\u0f73", "\u200b"]
MARKED = st.text(st.one_of(st.sampled_from(MARKS), st.sampled_from(BASES)), min_size=1, max_size=12)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=MARKED)
def test_offsets_on_reordered_combining_marks_equal_rusts(ours, rust, text):
    expected = rust.encode(text, add_special_tokens=False)
    enc = ours(text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == expected.ids
    assert enc["offset_mapping"] == expected.offsets
    assert_real_spans_are_proper(enc["offset_mapping"], text)


def test_ten_thousand_strings_of_combining_marks_give_rusts_offsets(ours, rust):
    rng = random.Random(0)
    texts = ["".join(rng.choice(MARKS if rng.random() < 0.6 else BASES) for _ in range(rng.randint(1, 12)))
             for _ in range(10_000)]
    expected = rust.encode_batch(texts, add_special_tokens=False)
    enc = ours(texts, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == [e.ids for e in expected]
    wrong = [t for t, got, e in zip(texts, enc["offset_mapping"], expected) if got != e.offsets]
    assert not wrong, f"{len(wrong)} of 10,000 differ, first: {wrong[0]!r}"
    for text, offsets in zip(texts, enc["offset_mapping"]):
        assert_real_spans_are_proper(offsets, text)


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(cached)
    assert attempted > 0 and failed == 0
