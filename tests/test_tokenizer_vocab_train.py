"""Vocabulary training: the result is a well-formed WordPiece vocabulary that Hugging Face loads and
tokenizes exactly as we do."""
import doctest

import pytest
from transformers import BertTokenizer

import minidistil.tokenizer.vocab_train
from minidistil import WordPieceTokenizer
from minidistil.data import sources
from minidistil.tokenizer import vocab_train
from minidistil.tokenizer.vocab_train import SPECIALS, basic_words, tokens_per_word, train_vocab


@pytest.fixture(scope="module")
def docs():
    return sources.guardian_headlines()[:3000] + [sources.hamlet()[:60000]]


@pytest.fixture(scope="module")
def trained(docs):
    return train_vocab(docs[1::2], vocab_size=600)


def test_trained_vocabulary_is_well_formed(trained, docs):
    assert trained[:5] == SPECIALS
    assert len(trained) == len(set(trained))
    assert 400 < len(trained) < 900
    assert any(t.startswith("##") and len(t) > 3 for t in trained)  # real continuations were learned
    tok = WordPieceTokenizer(vocab=trained)
    training_ids = [i for row in tok(docs[1::2], add_special_tokens=False)["input_ids"] for i in row]
    assert tok.unk_token_id not in training_ids  # every character seen has both forms


def test_hugging_face_loads_the_trained_vocabulary_and_agrees(trained, docs, tmp_path):
    WordPieceTokenizer(vocab=trained).save_pretrained(tmp_path)
    ours, hf = WordPieceTokenizer.from_pretrained(tmp_path), BertTokenizer.from_pretrained(str(tmp_path))
    held_out = docs[::2][:500] + ["Naïve café, 你好! ###"]
    assert ours(held_out)["input_ids"] == hf(held_out)["input_ids"]


def test_more_units_give_fewer_tokens_per_word(trained, docs):
    bigger = train_vocab(docs[1::2], vocab_size=2000)
    held_out = docs[::2][:500]
    small, large = (tokens_per_word(WordPieceTokenizer(vocab=v), held_out) for v in (trained, bigger))
    assert 1.0 <= large < small


def test_basic_words_are_the_words_wordpiece_sees():
    assert basic_words(["Héllo, WORLD!"]) == [["hello", ",", "world", "!"]]


@pytest.mark.parametrize("texts, size, error", [(["a b"], 5, ValueError), ([""], 100, ValueError),
                                                (["ok", None], 100, TypeError)])
def test_bad_training_input_raises(texts, size, error):
    with pytest.raises(error):
        train_vocab(texts, vocab_size=size)


def test_the_old_import_path_still_works():
    assert minidistil.tokenizer.vocab_train.train_vocab is train_vocab


def test_docstring_examples_run():
    failed, attempted = doctest.testmod(vocab_train)
    assert attempted > 0 and failed == 0
