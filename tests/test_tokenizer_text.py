"""WordPieceTokenizer on real text and random Unicode: ids identical to Hugging Face's.

Real text: every labelled and corpus source the project fetches, compared with the Rust tokenizer
in one batch call (fast), and a slice with the pure-Python legacy one (slow). Unicode: every code
point through both references, then hypothesis strings built from the awkward classes."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import normalizers, pre_tokenizers
from transformers import BertTokenizer, BertTokenizerLegacy

from minidistil import WordPieceTokenizer, sources

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
    engine = WordPieceTokenizer(vocab_file, do_lower_case=lower).engine
    for start in range(0, len(ALL_CODE_POINTS), 1 << 16):
        block = ALL_CODE_POINTS[start:start + (1 << 16)]
        alone = " ".join(block)
        between = " ".join("a" + c + "b" for c in block[:: 7 if start >= 0x20000 else 1])
        for text in (alone, between):
            assert engine.words(text) == _rust_words(text, lower), f"block from U+{start:04X}"


def test_every_code_point_basic_tokenizes_like_legacy(vocab_file, legacy):
    engine = WordPieceTokenizer(vocab_file, reference="legacy").engine
    text = " ".join(ALL_CODE_POINTS)
    assert engine.words(text) == legacy.basic_tokenizer.tokenize(text)


# ------------------------------------------------------------------ hypothesis

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
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(text=TEXT)
def test_random_unicode_gives_rust_ids_offsets_and_word_ids(ours, rust, text):
    expected = rust.encode(text)
    enc = ours(text, return_offsets_mapping=True)
    assert enc["input_ids"] == expected.ids
    assert enc["offset_mapping"] == expected.offsets
    assert enc.word_ids() == expected.word_ids
    assert all(0 <= a <= b <= len(text) for a, b in enc["offset_mapping"])


@SETTINGS
@given(text=TEXT)
def test_random_unicode_gives_legacy_ids(ours_legacy, legacy, text):
    assert ours_legacy(text)["input_ids"] == legacy(text)["input_ids"]


@SETTINGS
@given(a=TEXT, b=TEXT, max_length=st.integers(5, 40), stride=st.integers(0, 2),
       strategy=st.sampled_from(["longest_first", "only_second"]))
def test_random_pairs_truncate_into_the_same_windows_as_rust(ours, folder, a, b, max_length, stride, strategy):
    hf = _hf(folder)
    if strategy == "only_second" and not b:  # an empty pair means no pair; we refuse up front
        with pytest.raises(ValueError, match="pairs"):
            ours(a, b, truncation=strategy, max_length=max_length)
        return
    if stride >= max_length - (3 if b else 2):  # we refuse a too-large stride up front, Rust only
        with pytest.raises(ValueError, match="stride"):  # once it truncates (then it panics)
            ours(a, b, truncation=strategy, max_length=max_length, stride=stride)
        return
    options = dict(truncation=strategy, max_length=max_length, stride=stride, return_overflowing_tokens=True,
                   return_offsets_mapping=True)
    try:
        expected = hf(a, b, **options)
    except BaseException as refusal:  # a Rust panic is a BaseException (pyo3's PanicException)
        # Rust refuses (a sequence too short, or a stride it panics on): so must we, with a ValueError.
        if isinstance(refusal, KeyboardInterrupt):
            raise
        with pytest.raises(ValueError):
            ours(a, b, **options)
        return
    got = ours(a, b, **options)
    assert got["input_ids"] == expected["input_ids"]
    assert got["offset_mapping"] == [[tuple(o) for o in row] for row in expected["offset_mapping"]]


_HF = {}


def _hf(folder):
    if folder not in _HF:
        _HF[folder] = BertTokenizer.from_pretrained(str(folder))
    return _HF[folder]
