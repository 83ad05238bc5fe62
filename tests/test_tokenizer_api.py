"""WordPieceTokenizer's call API against Hugging Face's BertTokenizer (Rust) and BertTokenizerLegacy
(Python): single texts in every field, the reference switch, decoding, saving and loading, Google
BERT's own unit cases with tiny inline vocabularies (one without [PAD] and [MASK]), and every kind
of bad input."""
import doctest
import warnings

import pytest
import torch
from transformers import BertTokenizer

import minidistil.tokenizer
from minidistil import WordPieceTokenizer
from minidistil.tokenizer import api
from tokenizer_refs import CONTEXT, plain

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["Hello, world!", "naïve café déjà-vu", "你好, 世界", "", "a [MASK] b", CONTEXT,
         "İstanbul ΟΔΥΣΣΕΥΣ straße", "e\u0301 \u200bzero\u200dwidth \x00ctrl\x7f"]



# ------------------------------------------------------------------ single texts and the reference switch

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


def test_google_wordpiece_tokenizer():
    tok = tiny(["want", "##want", "##ed", "wa", "un", "runn", "##ing"])
    assert tok.tokenize("") == []
    assert tok.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert tok.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_words_longer_than_max_input_chars_become_one_unk():
    tok = tiny(["a", "##a"], max_input_chars_per_word=5)
    assert tok.tokenize("aaaaa aaaaaa") == ["a", "##a", "##a", "##a", "##a", "[UNK]"]




def test_google_test_vocabulary_without_pad_or_mask_tokenizes_like_hugging_face(tmp_path):
    # google-research/bert's tokenization_test.py vocabulary: no [PAD], no [MASK].
    tokens = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",", "low", "lowest"]
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    ours, hf = WordPieceTokenizer(tmp_path / "vocab.txt"), BertTokenizer(vocab=str(tmp_path / "vocab.txt"))
    for text in ["UNwant\u00E9d,running", "unwanted running", "lowest low wa", "unwantedX", ""]:
        assert ours(text, return_offsets_mapping=True) == {k: list(map(tuple, v)) if k == "offset_mapping" else v
                                                           for k, v in hf(text, return_offsets_mapping=True).items()}
        assert ours.tokenize(text) == hf.tokenize(text)
    assert ours.decode(ours.encode("unwanted running")) == "[CLS] unwanted running [SEP]"


def test_without_pad_or_mask_padding_and_masking_fail_with_one_sentence(tmp_path):
    tok = WordPieceTokenizer(vocab=["[UNK]", "[CLS]", "[SEP]", "want", "##ed"])
    assert tok(["want", "wanted want"])["input_ids"] == [[1, 3, 2], [1, 3, 4, 3, 2]]
    with pytest.raises(ValueError, match=r"no pad_token '\[PAD\]', which is needed to pad rows"):
        tok(["want", "wanted want"], padding=True)
    with pytest.raises(ValueError, match=r"no mask_token '\[MASK\]', which is needed to mask tokens"):
        tok.mask_token_id
    assert tok("a [MASK] b", add_special_tokens=False)["input_ids"] == [0, 0, 0, 0, 0]  # plain text now
    tok.save_pretrained(tmp_path)
    assert WordPieceTokenizer.from_pretrained(tmp_path).tokenize("wanted") == ["want", "##ed"]


def test_without_cls_and_sep_only_plain_ids_are_possible():
    tok = WordPieceTokenizer(vocab=["[UNK]", "want"])
    assert tok("want it", add_special_tokens=False)["input_ids"] == [1, 0]
    with pytest.raises(ValueError, match="add_special_tokens=False"):
        tok("want it")


def test_a_text_longer_than_the_model_warns_once_as_transformers_does(vocab_file):
    tok = WordPieceTokenizer(vocab_file, model_max_length=8)
    with pytest.warns(UserWarning, match=r"longer than the specified maximum sequence length for this model "
                                         r"\(11 > 8\)\. Running this sequence through the model will result in "
                                         r"indexing errors"):
        tok("one two three four five six seven eight nine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tok("one two three four five six seven eight nine ten")  # once per tokenizer, as in transformers
        WordPieceTokenizer(vocab_file, model_max_length=8)("a b c", truncation=True)  # fits: no warning
        WordPieceTokenizer(vocab_file, model_max_length=8)("a " * 20, truncation=True)  # truncated: no warning


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
    with pytest.raises(ValueError, match="unknown token"):
        WordPieceTokenizer(vocab=[t for t in SPECIALS if t != "[UNK]"] + ["a"])
    with pytest.raises(ValueError, match="exactly one"):
        WordPieceTokenizer()


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




@pytest.mark.parametrize("module", [api, minidistil.tokenizer], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0
