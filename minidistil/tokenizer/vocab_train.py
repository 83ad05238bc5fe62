"""Train a WordPiece vocabulary from text, with sentencepiece doing the learning.

The method, step by step:
  1. BERT's basic tokenization first (lowercase, strip accents, split punctuation and CJK), with
     the very `CachedEncoder` that will later use the vocabulary, so the units are learned on
     exactly the words WordPiece will see. Words are written one line per ~64 words, separated by spaces.
  2. sentencepiece learns BPE units on those lines, with the identity normalization (the text is
     already normalized) and full character coverage. It marks a piece that starts a word with
     "▁"; pieces never cross a space, so every piece lies inside one BERT word.
  3. Conversion to WordPiece: "▁piece" -> "piece" (starts a word), "piece" -> "##piece" (continues
     one). Every character seen gets both forms, so a word made of known characters never becomes
     [UNK]. The five special tokens go first: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4.

    >>> tokens = train_vocab(["the cat sat on the mat"] * 50, vocab_size=40)
    >>> tokens[:5], "##at" in tokens or "at" in tokens
    (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], True)

Run it from the command line with `python examples/train_vocab.py` (see that file).
"""
from __future__ import annotations

import io

from .cached import CachedEncoder

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def basic_words(texts, do_lower_case: bool = True) -> list[list[str]]:
    """BERT's basic tokenization of each text: the words WordPiece will be asked to split."""
    encoder = CachedEncoder({"[UNK]": 0}, do_lower_case=do_lower_case)
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
        out.append(encoder.words(text))
    return out


def train_vocab(texts, vocab_size: int = 30522, do_lower_case: bool = True, words_per_line: int = 64) -> list[str]:
    """Learn a WordPiece vocabulary of about `vocab_size` tokens from `texts` (a list of str)."""
    import sentencepiece as spm

    if vocab_size < len(SPECIALS) + 10:
        raise ValueError(f"vocab_size={vocab_size} is too small; use at least {len(SPECIALS) + 10}")
    lines = []
    for words in basic_words(texts, do_lower_case):
        for start in range(0, len(words), words_per_line):
            lines.append(" ".join(words[start:start + words_per_line]))
    if not lines:
        raise ValueError("no words to learn from: the texts are empty")
    chars = sorted({c for line in lines for c in line if not c.isspace()})
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="bpe",
        # Room for the special tokens and the "##" twin of every character, added below.
        vocab_size=max(len(chars) + 4, vocab_size - len(SPECIALS) - len(chars)),
        normalization_rule_name="identity", character_coverage=1.0, split_digits=False,
        byte_fallback=False, bos_id=-1, eos_id=-1, pad_id=-1, unk_id=0, num_threads=2,
        max_sentence_length=1 << 16, hard_vocab_limit=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())

    tokens, seen = list(SPECIALS), set(SPECIALS)

    def add(token):
        if token and token not in seen:
            seen.add(token)
            tokens.append(token)

    for c in chars:  # every character, alone and as a continuation
        add(c)
        add("##" + c)
    for i in range(sp.get_piece_size()):
        if sp.is_unknown(i) or sp.is_control(i):
            continue
        piece = sp.id_to_piece(i)
        if piece.startswith("\u2581"):
            add(piece[1:])
        else:
            add("##" + piece)
    return tokens


def tokens_per_word(tokenizer, texts) -> float:
    """WordPiece tokens per basic word on `texts`: 1.0 would mean every word is one token."""
    words = sum(len(w) for w in basic_words(texts, tokenizer.do_lower_case))
    pieces = sum(len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"])
    return pieces / max(words, 1)
