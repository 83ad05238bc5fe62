"""Rows as Hugging Face lays them out, against BertTokenizer (Rust) and BertTokenizerLegacy (Python):
pairs, batches, truncation with overflow windows and stride, padding, tensors, and the options
refused up front."""
import doctest

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertTokenizer

from minidistil.tokenizer import rows
from tokenizer_refs import CONTEXT, QUESTION, plain


PAIR_OPTIONS = [
    {},
    {"add_special_tokens": False},
    {"truncation": True, "max_length": 24},
    {"truncation": "longest_first", "max_length": 17},
    {"truncation": "only_first", "max_length": 20},
    {"truncation": "only_second", "max_length": 12},
    {"max_length": 16},  # no truncation flag: transformers truncates longest_first
    {"padding": True},
    {"padding": "longest", "pad_to_multiple_of": 8},
    {"padding": "max_length", "max_length": 64},
    {"padding": "max_length", "truncation": True, "max_length": 21, "pad_to_multiple_of": 7},
    {"truncation": "only_first", "max_length": 20, "stride": 4, "return_overflowing_tokens": True},
    {"truncation": "only_second", "max_length": 25, "stride": 3, "return_overflowing_tokens": True,
     "padding": True},
    {"truncation": "longest_first", "max_length": 13, "stride": 2, "return_overflowing_tokens": True},
    {"truncation": True, "max_length": 9, "stride": 0, "return_overflowing_tokens": True,
     "add_special_tokens": False},
]


@pytest.mark.parametrize("options", PAIR_OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_pairs_batches_truncation_padding_and_overflow_match_rust(ours, rust, options):
    firsts = [QUESTION, CONTEXT, "short one", "Ünïcödé 你好 text, twice as long as the question " * 2]
    seconds = [CONTEXT, QUESTION, "x", "the second sequence of this pair is here"]
    if options.get("truncation") == "only_second":  # the first sequence must fit on its own
        firsts, seconds = [QUESTION] * 4, seconds[:1] * 4
    if options.get("truncation") == "only_first":  # and the other way round
        firsts, seconds = [CONTEXT] * 4, [QUESTION] * 4
    full = dict(options, return_special_tokens_mask=True, return_offsets_mapping=True)
    a, b = ours(firsts, seconds, **full), rust(firsts, seconds, **full)
    assert plain(a) == plain(b)
    for i in range(len(a["input_ids"])):
        assert a.word_ids(i) == b.word_ids(i) and a.sequence_ids(i) == b.sequence_ids(i)
    single = {k: v for k, v in full.items() if k not in ("stride",) and v != "only_second"}
    assert plain(ours(firsts, **single)) == plain(rust(firsts, **single))


@pytest.mark.parametrize("options", PAIR_OPTIONS[:11], ids=str)
def test_pairs_ids_and_masks_match_legacy(ours_legacy, legacy, options):
    firsts, seconds = [QUESTION, "short one"], [CONTEXT, "x"]
    if options.get("truncation") == "only_second":
        seconds = [CONTEXT, CONTEXT]
    if options.get("truncation") == "only_first":
        firsts, seconds = [CONTEXT, CONTEXT], [QUESTION, "x"]
    a = ours_legacy(firsts, seconds, return_token_type_ids=False, return_special_tokens_mask=True, **options)
    b = legacy(firsts, seconds, return_special_tokens_mask=True, **options)
    assert plain(a) == plain(b)


def test_question_answering_windows_cover_the_context_with_stride_overlap(ours, rust):
    long_context = " ".join([CONTEXT] * 12)
    options = dict(truncation="only_second", max_length=64, stride=16, return_overflowing_tokens=True,
                   return_offsets_mapping=True, padding="max_length")
    a, b = ours([QUESTION] * 2, [long_context, CONTEXT], **options), rust([QUESTION] * 2, [long_context, CONTEXT], **options)
    assert plain(a) == plain(b)
    assert a["overflow_to_sample_mapping"][0] == 0 and a["overflow_to_sample_mapping"][-1] == 1
    # Consecutive windows of the first sample overlap by exactly `stride` context tokens.
    w0 = [t for t, s in zip(a["input_ids"][0], a.sequence_ids(0)) if s == 1]
    w1 = [t for t, s in zip(a["input_ids"][1], a.sequence_ids(1)) if s == 1]
    assert w0[-16:] == w1[:16]


@pytest.mark.parametrize("kind", ["pt", "np"])
def test_return_tensors_match_rust(ours, rust, kind):
    a = ours(["a b c", "d"], padding=True, return_tensors=kind, return_offsets_mapping=True)
    b = rust(["a b c", "d"], padding=True, return_tensors=kind, return_offsets_mapping=True)
    for key in b:
        assert type(a[key]) is type(b[key]) and a[key].shape == b[key].shape
        assert np.array_equal(np.asarray(a[key]), np.asarray(b[key]))
    assert ours("one text", return_tensors="pt")["input_ids"].shape == (1, 4)
    assert ours("x", return_tensors="pt").input_ids.dtype == torch.long


def test_max_length_below_special_tokens_raises(ours):
    with pytest.raises(ValueError, match="special tokens"):
        ours("hello", truncation=True, max_length=1)
    with pytest.raises(ValueError, match="special tokens"):
        ours("hello", "there", truncation=True, max_length=2)


def test_stride_too_large_for_max_length_raises(ours):
    with pytest.raises(ValueError, match="stride"):
        ours("a b c d e f g h", truncation=True, max_length=6, stride=4, return_overflowing_tokens=True)


@pytest.mark.parametrize("options", [{"padding": "left"}, {"truncation": "middle"}, {"max_length": -1},
                                     {"return_tensors": "tf", "padding": True}, {"pad_to_multiple_of": 0,
                                                                               "padding": True},
                                     {"truncation": "only_second", "max_length": 5},
                                     {"padding": "max_length", "truncation": True, "max_length": 20,
                                      "pad_to_multiple_of": 7}])
def test_bad_options_raise_value_error(ours, options):
    with pytest.raises(ValueError):
        ours(["hello world"], **options)


def test_only_first_on_a_too_short_first_sequence_raises_like_rust(ours, rust):
    with pytest.raises(Exception, match="too short"):
        rust(QUESTION, CONTEXT, truncation="only_first", max_length=10)
    with pytest.raises(ValueError, match="only_first"):
        ours(QUESTION, CONTEXT, truncation="only_first", max_length=10)


def test_unequal_rows_cannot_become_tensors(ours):
    with pytest.raises(ValueError, match="padding"):
        ours(["a", "b c d"], return_tensors="pt")



# ------------------------------------------------------------------ random pairs

AWKWARD = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.characters(categories=("Mn", "Mc", "Me")),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("aeiouAEIOU éÉ.,!?'-[]#"),
)
TEXT = st.text(AWKWARD, max_size=40)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


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


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(rows)
    assert attempted > 0 and failed == 0
