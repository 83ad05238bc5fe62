"""WordPieceTokenizer against Hugging Face's BertTokenizer (Rust) and BertTokenizerLegacy (Python):
every call option on the real bert-base-uncased vocabulary, Google BERT's own unit cases with tiny
inline vocabularies, and every kind of bad input."""
import doctest
import json

import numpy as np
import pytest
import torch
from transformers import BertTokenizer, BertTokenizerLegacy

from minidistil import WordPieceTokenizer, tokenizer, vocab_train, wordpiece

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def rust(folder):
    return BertTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def legacy(folder):
    return BertTokenizerLegacy.from_pretrained(str(folder))


def plain(encoding):
    """HF encodings hold tuples, tensors or lists; compare as plain nested lists."""
    out = {}
    for key, value in encoding.items():
        value = value.tolist() if hasattr(value, "tolist") else value
        out[key] = json.loads(json.dumps(value))  # tuples -> lists
    return out


CONTEXT = ("The Eiffel Tower, completed in 1889, is 330 metres tall. Gustave Eiffel's company "
           "designed and built it; critics called it an eyesore. Today ~7 million people visit.")
QUESTION = "Who built the tower?"
TEXTS = ["Hello, world!", "naïve café déjà-vu", "你好, 世界", "", "a [MASK] b", CONTEXT,
         "İstanbul ΟΔΥΣΣΕΥΣ straße", "e\u0301 \u200bzero\u200dwidth \x00ctrl\x7f"]


# ------------------------------------------------------------------ singles, pairs and options

@pytest.mark.parametrize("text", TEXTS)
def test_single_text_matches_rust_in_every_field(ours, rust, text):
    options = dict(return_special_tokens_mask=True, return_offsets_mapping=True)
    a, b = ours(text, **options), rust(text, **options)
    assert plain(a) == plain(b)
    assert a.word_ids() == b.word_ids() and a.sequence_ids() == b.sequence_ids()


@pytest.mark.parametrize("text", TEXTS)
def test_single_text_ids_match_legacy(ours_legacy, legacy, text):
    assert ours_legacy(text)["input_ids"] == legacy(text)["input_ids"]
    assert ours_legacy.tokenize(text) == legacy.tokenize(text)


# Where Hugging Face's two tokenizers disagree, `reference` picks which one we agree with.
DIFFERENCES = [
    ("ΟΔΥΣΣΕΥΣ", "legacy lowercases whole words: a final sigma becomes ς"),
    ("x\u0378y", "U+0378 is unassigned (Cn): Rust keeps it, legacy drops it"),
    ("a\u2e43b", "U+2E43 is punctuation since Unicode 9: legacy splits there, Rust does not"),
    ("\U0002B820x", "Rust's CJK table starts that block at U+2B920"),
    ("\u0890x", "a Cf character newer than Rust's tables: Rust keeps it"),
]


@pytest.mark.parametrize("text, why", DIFFERENCES)
def test_reference_switch_follows_each_hugging_face_tokenizer(ours, ours_legacy, rust, legacy, text, why):
    assert rust(text)["input_ids"] != legacy(text)["input_ids"], why
    assert ours(text)["input_ids"] == rust(text)["input_ids"]
    assert ours_legacy(text)["input_ids"] == legacy(text)["input_ids"]


def test_legacy_composes_to_nfc_first_for_cased_vocabularies(vocab_file):
    # With a cased vocabulary nothing strips accents, so "e" + U+0301 stays two characters for
    # Rust but becomes "é" for legacy; a tiny vocabulary that knows "é" shows the difference.
    vocab = SPECIALS + ["\u00e9", "e", "##\u0301"]
    text = "e\u0301"
    rust_ids = WordPieceTokenizer(vocab=vocab, do_lower_case=False)(text)["input_ids"]
    legacy_ids = WordPieceTokenizer(vocab=vocab, do_lower_case=False, reference="legacy")(text)["input_ids"]
    assert rust_ids == [2, 6, 7, 3] and legacy_ids == [2, 5, 3]


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


def test_plain_ids_for_many_texts_skip_word_ids_until_asked(ours, rust):
    texts = [CONTEXT, "x y", "Ünïcödé"]
    enc = ours(texts, add_special_tokens=False)
    assert enc["input_ids"] == rust(texts, add_special_tokens=False)["input_ids"]
    assert enc.word_ids(0) == rust(texts, add_special_tokens=False).word_ids(0)


# ------------------------------------------------------------------ decode, ids <-> tokens

DECODE_IDS = [[101, 7592, 1010, 2088, 999, 2009, 1005, 1055, 1037, 103, 2079, 1050, 1005, 1056, 1012, 102, 0, 0],
              [2009, 1005, 1049, 1037, 9152, 2015, 1029, 1045, 1005, 2310, 2042, 2182, 1005, 1005],
              [100, 1996, 2171, 1997, 1996, 9152, 14905, 12092, 102]]


@pytest.mark.parametrize("ids", DECODE_IDS)
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("clean", [None, False, True])
def test_decode_matches_rust_and_legacy(folder, ours, rust, legacy, ids, skip, clean):
    assert ours.decode(ids, skip, clean) == rust.decode(ids, skip_special_tokens=skip, clean_up_tokenization_spaces=clean)
    ours_legacy = WordPieceTokenizer.from_pretrained(folder, reference="legacy")
    assert ours_legacy.decode(ids, skip, clean) == legacy.decode(ids, skip_special_tokens=skip,
                                                                  clean_up_tokenization_spaces=clean)


def test_batch_decode_takes_a_tensor(ours, rust):
    ids = torch.tensor([DECODE_IDS[0], DECODE_IDS[0]])
    assert ours.batch_decode(ids, skip_special_tokens=True) == rust.batch_decode(ids, skip_special_tokens=True)


def test_token_id_conversion_and_encode_match_rust(ours, rust):
    assert ours.convert_tokens_to_ids(["hello", "##ing", "zzqqxx"]) == rust.convert_tokens_to_ids(["hello", "##ing", "zzqqxx"])
    assert ours.convert_tokens_to_ids("[MASK]") == 103
    assert ours.convert_ids_to_tokens([101, 7592]) == rust.convert_ids_to_tokens([101, 7592])
    assert ours.convert_ids_to_tokens(7592) == "hello"
    assert ours.encode("Hello world") == rust.encode("Hello world")
    assert ours.encode("Hello", "world") == rust.encode("Hello", "world")
    assert ours.tokenize("Hello [MASK] unaffable") == rust.tokenize("Hello [MASK] unaffable")
    assert (ours.pad_token_id, ours.cls_token_id, ours.sep_token_id, ours.mask_token_id, ours.unk_token_id) == \
        (rust.pad_token_id, rust.cls_token_id, rust.sep_token_id, rust.mask_token_id, rust.unk_token_id)
    assert len(ours) == ours.vocab_size == len(rust) == 30522 and ours.model_max_length == 512


def test_save_pretrained_round_trips_through_hugging_face(ours, tmp_path):
    ours.save_pretrained(tmp_path)
    hf = BertTokenizer.from_pretrained(str(tmp_path))
    again = WordPieceTokenizer.from_pretrained(tmp_path)
    for text in TEXTS:
        assert hf(text)["input_ids"] == ours(text)["input_ids"] == again(text)["input_ids"]
    assert hf.model_max_length == 512 and hf.do_lower_case


def test_cased_options_match_rust(vocab_file):
    # The uncased vocabulary still shows whether case and accents were kept: "Hello" -> [UNK]-free pieces differ.
    for lower, strip in [(False, None), (True, False), (False, True)]:
        ours = WordPieceTokenizer(vocab_file, do_lower_case=lower, strip_accents=strip)
        hf = BertTokenizer(vocab=str(vocab_file), do_lower_case=lower, strip_accents=strip)
        for text in TEXTS:
            assert ours(text)["input_ids"] == hf(text)["input_ids"], (lower, strip, text)


def test_tokenize_chinese_chars_off_matches_rust(vocab_file):
    ours = WordPieceTokenizer(vocab_file, tokenize_chinese_chars=False)
    hf = BertTokenizer(vocab=str(vocab_file), tokenize_chinese_chars=False)
    for text in ["你好世界", "a你b 好", "東京タワー"]:
        assert ours(text)["input_ids"] == hf(text)["input_ids"]


# ------------------------------------------------------------------ Google BERT's tokenization_test.py

def tiny(tokens, **options):
    return WordPieceTokenizer(vocab=SPECIALS + tokens, **options)


def test_google_full_tokenizer():
    tok = tiny(["want", "##want", "##ed", "wa", "un", "runn", "##ing", ","])
    assert tok.tokenize("UNwant\u00E9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tok("UNwant\u00E9d,running", add_special_tokens=False)["input_ids"] == [9, 6, 7, 12, 10, 11]


def test_google_chinese():
    assert tiny([]).engine.words("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]


@pytest.mark.parametrize("lower, strip, expected", [
    (True, None, ["hallo", "!", "how", "are", "you", "?"]),
    (False, None, ["HäLLo", "!", "how", "Are", "yoU", "?"]),
    (True, False, ["hällo", "!", "how", "are", "you", "?"]),
    (True, True, ["hallo", "!", "how", "are", "you", "?"]),
    (False, True, ["HaLLo", "!", "how", "Are", "yoU", "?"]),
    (False, False, ["HäLLo", "!", "how", "Are", "yoU", "?"]),
])
def test_google_basic_tokenizer_lower_and_accents(lower, strip, expected):
    text = " \tHäLLo!how  \n Are yoU?  "
    assert tiny([], do_lower_case=lower, strip_accents=strip).engine.words(text) == expected


def test_google_wordpiece_tokenizer():
    tok = tiny(["want", "##want", "##ed", "wa", "un", "runn", "##ing"])
    assert tok.tokenize("") == []
    assert tok.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert tok.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


@pytest.mark.parametrize("char, is_space", [(" ", True), ("\t", True), ("\r", True), ("\n", True),
                                            ("\u00A0", True), ("A", False), ("-", False)])
def test_google_whitespace_table(char, is_space):
    assert tiny([]).engine.rules.is_space(char) == is_space


@pytest.mark.parametrize("char, drops", [("\u0005", True), ("A", False), (" ", False), ("\t", False),
                                         ("\r", False), ("\U0001F4A9", False)])
def test_google_control_table(char, drops):
    assert tiny([]).engine.rules.drops(char) == drops


@pytest.mark.parametrize("char, is_punct", [("-", True), ("$", True), ("`", True), (".", True),
                                            ("A", False), (" ", False)])
def test_google_punctuation_table(char, is_punct):
    assert tiny([]).engine.rules.is_punct(char) == is_punct


def test_words_longer_than_max_input_chars_become_one_unk():
    tok = tiny(["a", "##a"], max_input_chars_per_word=5)
    assert tok.tokenize("aaaaa aaaaaa") == ["a", "##a", "##a", "##a", "##a", "[UNK]"]


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("bad", [None, 3, b"bytes", ["ok", None], [["nested"]], {"a": 1}])
def test_non_strings_raise_type_error(ours, bad):
    with pytest.raises(TypeError):
        ours(bad)


def test_text_pair_must_match_the_batch(ours):
    with pytest.raises(TypeError):
        ours("a", ["b"])
    with pytest.raises(ValueError, match="one pair per text"):
        ours(["a", "b"], ["c"])


def test_empty_string_and_empty_batch_are_documented(ours, rust):
    assert ours("")["input_ids"] == rust("")["input_ids"] == [101, 102]
    assert ours([])["input_ids"] == []
    assert ours([], return_tensors="pt")["input_ids"].shape == (0, 0)


def test_missing_or_malformed_vocabulary_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        WordPieceTokenizer.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError):
        WordPieceTokenizer(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="appears twice"):
        WordPieceTokenizer(vocab=SPECIALS + ["a", "a"])
    for missing in SPECIALS:
        with pytest.raises(ValueError, match="special tokens"):
            WordPieceTokenizer(vocab=[t for t in SPECIALS if t != missing] + ["a"])
    with pytest.raises(ValueError, match="exactly one"):
        WordPieceTokenizer()


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


def test_out_of_range_ids_do_not_decode_silently(ours):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        ours.decode([101, 30522])


def test_unknown_reference_raises(vocab_file):
    with pytest.raises(ValueError, match="reference"):
        WordPieceTokenizer(vocab_file, reference="c++")


def test_legacy_reference_refuses_inexact_offsets(folder):
    tok = WordPieceTokenizer.from_pretrained(folder, reference="legacy")
    assert tok("hello world", return_offsets_mapping=True)["offset_mapping"] == [(0, 0), (0, 5), (6, 11), (0, 0)]
    with pytest.raises(ValueError, match="offsets"):
        tok("café", return_offsets_mapping=True)


@pytest.mark.parametrize("module", [wordpiece, tokenizer, vocab_train], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0
