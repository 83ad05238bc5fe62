"""Transfer-set copies: words replaced by an MLM's proposals, the rest of the text kept as it was."""
import pytest
import torch

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.data import augment
from minidistil.tokenizer import WordPieceTokenizer


@pytest.fixture(scope="module")
def tokenizer(vocab_file):
    return WordPieceTokenizer(vocab_file)


@pytest.fixture(scope="module")
def cat_lover(tokenizer):
    """An MLM whose answer at every position is "cat", then "dog": its proposals are known."""
    torch.manual_seed(0)
    model = DistilBertForMaskedLM(DistilBertConfig(dim=16, n_heads=2, hidden_dim=24, n_layers=1))
    with torch.no_grad():
        model.vocab_projector.bias[tokenizer.vocab["cat"]] = 100.0
        model.vocab_projector.bias[tokenizer.vocab["dog"]] = 90.0
    return model


def test_every_chosen_word_becomes_the_mlms_proposal_and_punctuation_stays(cat_lover, tokenizer):
    texts = ["The film, sadly, was slow.", "A cat sat here!"]
    out = augment.replace_words(texts, cat_lover, tokenizer, copies=2, share=1.0, top_k=1)
    assert len(out) == 4 and out[0] == out[1]  # text 0's copies first; share 1 replaces every word alike
    assert out[0] == "cat cat, cat, cat cat."
    assert out[2] == "cat dog cat cat!"  # "cat" is never replaced by itself: the next proposal is taken


def test_a_share_replaces_some_words_and_the_seed_fixes_which(cat_lover, tokenizer):
    texts = ["one two three four five six seven eight nine ten eleven twelve"] * 4
    a = augment.replace_words(texts, cat_lover, tokenizer, share=0.3, seed=3)
    assert a == augment.replace_words(texts, cat_lover, tokenizer, share=0.3, seed=3)
    changed = [sum(w == "cat" for w in t.split()) for t in a]
    assert 0 < sum(changed) < 48 and len(set(a)) > 1
    with pytest.raises(ValueError, match="share"):
        augment.replace_words(texts, cat_lover, tokenizer, share=0)
