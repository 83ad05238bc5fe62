"""English as a reader writes it: the uncased decoder's text detokenized and truecased.

The check is a round trip through the real tokenizer: a sentence, encoded and decoded by the
bert-base-uncased vocabulary the translator's decoder writes with, gives exactly the text the decoder
would print; `detokenize` must give the sentence back (lower-cased), and the truecaser its case."""
import pytest

from minidistil.data.english import Truecaser, detokenize
from minidistil.tokenizer import WordPieceTokenizer

SENTENCES = [
    "They're sure Tom can't come, I think.",
    "Run apt-get install (as root) to install \"dpkg\".",
    "It costs $3.50, i.e. 20% of 1,000 yen!",
    "See /usr/share/doc/foo-bar for e.g. the well-known --help option.",
    "Don't say \"no\"; it's Mary's book: [1] and {x}.",
    "Cannot open %s: permission denied.",
    "We'll meet at 10:30 a.m. in Beijing.",
    "Use the -v option, or edit ~/.config/app.conf.",
    "Read and/or write the file /etc/apt/sources.list now.",
    "I'd say he's gone. Then we left.",
    "You've got mail, haven't you?",
    "The package (version 2.6.2) was removed.",
    "Press Ctrl+Z to undo the last step.",
    "I'm not sure what you mean.",
    "Set the variable to \"true\" and restart.",
    "Tom's dog isn't here; it's at Mary's.",
    "In 1998, 3,500 people lived there.",
    "Files ending in .deb are Debian packages.",
]


@pytest.fixture(scope="module")
def tokenizer(folder):
    return WordPieceTokenizer.from_pretrained(folder)


def decoder_output(tokenizer, text: str) -> str:
    return tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True)


@pytest.mark.parametrize("sentence", SENTENCES)
def test_detokenize_gives_back_what_the_uncased_tokenizer_split(tokenizer, sentence):
    assert detokenize(decoder_output(tokenizer, sentence)) == sentence.lower()


def test_the_round_trip_is_not_already_the_identity(tokenizer):
    changed = [s for s in SENTENCES if decoder_output(tokenizer, s) != s.lower()]
    assert len(changed) >= len(SENTENCES) - 2  # the decoder's spaces are real: detokenize has work to do


def test_truecaser_restores_names_i_and_sentence_starts(tokenizer):
    truecase = Truecaser.learn(SENTENCES + ["Yesterday Tom and Mary went to Beijing, and I stayed."])
    out = truecase(detokenize(decoder_output(tokenizer, "Tom said I was in Beijing. Mary's dog isn't.")))
    assert out == "Tom said I was in Beijing. Mary's dog isn't."
    assert truecase("the shell runs it.") == "The shell runs it."   # a word seen lower-case stays so


def test_a_word_of_the_source_keeps_the_sources_case():
    assert Truecaser({})("cannot close basic while calc runs.", "无法关闭 BASIC，Calc 正在运行。") == \
        "Cannot close BASIC while Calc runs."


def test_the_first_word_of_a_sentence_does_not_count(tmp_path):
    truecase = Truecaser.learn(["The cat sat.", "The dog ran.", "So the cat ran.", "And the dog sat."])
    assert "the" not in truecase.forms   # always capitalised at the start, lower-case inside
    truecase.save(tmp_path / "truecase.json")
    assert Truecaser.load(tmp_path / "truecase.json").forms == truecase.forms
