"""Greedy longest-match-first WordPiece: Google BERT's unit cases, and random words through the
bert-base-uncased vocabulary against transformers' own WordpieceTokenizer."""
import doctest

from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertTokenizerLegacy

from minidistil.tokenizer import wordpiece as wordpiece_module
from minidistil.tokenizer.wordpiece import wordpiece

GOOGLE = {t: i for i, t in enumerate(["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un",
                                      "runn", "##ing"])}


def pieces(word, vocab=GOOGLE, **options):
    ids_to_tokens = {i: t for t, i in vocab.items()}
    return [ids_to_tokens[i] for i, _, _ in wordpiece(word, vocab, vocab["[UNK]"], **options)]


def test_google_wordpiece_tokenizer():
    assert pieces("unwanted") == ["un", "##want", "##ed"]
    assert pieces("running") == ["runn", "##ing"]
    assert pieces("unwantedX") == ["[UNK]"]  # one unmatched piece makes the whole word [UNK]


def test_spans_cover_the_word_piece_by_piece():
    assert wordpiece("unwanted", GOOGLE, 0) == [(7, 0, 2), (4, 2, 6), (5, 6, 8)]


def test_words_longer_than_max_input_chars_become_one_unk():
    vocab = {"[UNK]": 0, "a": 1, "##a": 2}
    assert pieces("aaaaa", vocab, max_input_chars_per_word=5) == ["a", "##a", "##a", "##a", "##a"]
    assert pieces("aaaaaa", vocab, max_input_chars_per_word=5) == ["[UNK]"]


def test_the_longest_entry_bound_changes_nothing():
    vocab = {"[UNK]": 0, "abc": 1, "a": 2, "##bc": 3, "##b": 4, "##c": 5}
    for word in ["abc", "abcbc", "abcb", "acb"]:
        assert wordpiece(word, vocab, 0, longest=max(map(len, vocab))) == wordpiece(word, vocab, 0)


@settings(max_examples=300, deadline=None)
@given(word=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz##éß你"), min_size=1, max_size=30))
def test_random_words_split_as_transformers_wordpiece(folder, word):
    reference = _reference(folder)
    vocab = reference.vocab
    assert pieces(word, vocab) == reference.tokenize(word)


_REFERENCE = {}


def _reference(folder):
    if folder not in _REFERENCE:
        _REFERENCE[folder] = BertTokenizerLegacy.from_pretrained(str(folder)).wordpiece_tokenizer
    return _REFERENCE[folder]


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(wordpiece_module)
    assert attempted > 0 and failed == 0
