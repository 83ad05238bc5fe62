"""BERT's WordPiece tokenizer, in plain Python, with the ids and offsets of Hugging Face's.

    >>> from minidistil import WordPieceTokenizer, sources
    >>> tok = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    >>> tok("Hello, world!")["input_ids"]
    [101, 7592, 1010, 2088, 999, 102]
    >>> tok.decode([101, 7592, 1010, 2088, 999, 102], skip_special_tokens=True)
    'hello, world!'

Read it in this order:

    chars.py        what each character is to BERT (and where Rust's Unicode tables differ)
    basic.py        BERT's basic tokenization, one function per stage: clean_text,
                    tokenize_chinese_chars, lowercase_and_strip_accents, split_on_punctuation
    wordpiece.py    greedy longest-match-first WordPiece on one word
    cached.py       the same stages, fast: once per distinct chunk of text, an ASCII shortcut
    rows.py         special tokens, truncation windows, padding, tensors
    api.py          WordPieceTokenizer: Hugging Face's call API, decode, from/save_pretrained
    vocab_train.py  a new WordPiece vocabulary from text
"""
from .api import TOKENIZER_FILES, WordPieceTokenizer, copy_tokenizer_files, load_vocab
from .rows import Encoding

__all__ = ["TOKENIZER_FILES", "Encoding", "WordPieceTokenizer", "copy_tokenizer_files", "load_vocab"]
