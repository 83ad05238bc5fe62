"""The vocabulary trainer lives in minidistil/tokenizer/vocab_train.py; this name keeps
`from minidistil.vocab_train import train_vocab` working."""
from .tokenizer.vocab_train import SPECIALS, basic_words, tokens_per_word, train_vocab

__all__ = ["SPECIALS", "basic_words", "tokens_per_word", "train_vocab"]
