"""More text for task-time distillation: copies of the training texts with words replaced by an MLM.

Distilling a fine-tuned teacher into a student on the training set alone gives the student the
teacher's soft labels on the very texts the hard labels already cover. TinyBERT (Jiao et al. 2020,
section 3.1) shows that the transfer works much better on more text from the same distribution:
it makes copies of each training sentence in which words are replaced by what a masked language
model proposes in their place. The teacher labels the copies, and the student learns from those
labels. We do the same, one forward pass per copy: a share of the words (one WordPiece token each)
are masked together, and each is replaced by a word drawn from the MLM's top-k at its position
(the original word excluded).

    >>> copies = augment.replace_words(texts, mlm, tokenizer, copies=2, seed=0)
"""
from __future__ import annotations

import re

import torch

_WORD = re.compile(r"\b[A-Za-z]+\b")


@torch.no_grad()
def replace_words(texts: list[str], mlm, tokenizer, copies: int = 1, share: float = 0.3, top_k: int = 8,
                  seed: int = 0, batch_size: int = 64, max_length: int = 128) -> list[str]:
    """`copies` new versions of each text (text 0's copies first), each with about `share` of its
    single-token words replaced by an MLM's proposals. `mlm` is a DistilBertForMaskedLM."""
    if copies < 0 or not 0 < share <= 1 or top_k < 1:
        raise ValueError(f"need copies >= 0, 0 < share <= 1 and top_k >= 1, got {copies}, {share}, {top_k}")
    generator = torch.Generator().manual_seed(seed)
    was_training = mlm.training
    mlm.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = [text for text in texts[start:start + batch_size] for _ in range(copies)]
        out += _replace_batch(batch, mlm, tokenizer, share, top_k, generator, max_length)
    mlm.train(was_training)
    return out


def _replace_batch(texts, mlm, tokenizer, share, top_k, generator, max_length) -> list[str]:
    # Choose the words to replace: whole words that are one token of the vocabulary.
    chosen = []
    for text in texts:
        words = [m for m in _WORD.finditer(text) if m.group().lower() in tokenizer.vocab]
        pick = torch.rand(len(words), generator=generator) < share
        chosen.append([m for m, p in zip(words, pick.tolist()) if p])
    masked = [_mask(text, words, tokenizer.mask_token) for text, words in zip(texts, chosen)]
    enc = tokenizer(masked, padding=True, truncation=True, max_length=max_length, return_tensors="pt",
                    return_token_type_ids=False)
    hidden = mlm.distilbert(enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    is_mask = enc["input_ids"] == tokenizer.mask_token_id
    # Only the masked positions go through the vocabulary projection: (N, C) -> (N, V).
    top = mlm.mlm_logits(hidden[is_mask]).topk(top_k + 1).indices.tolist()
    per_row = is_mask.sum(1).tolist()
    result = []
    for row, (text, words) in enumerate(zip(texts, chosen)):
        start = sum(per_row[:row])
        pieces, last = [], 0
        for m, proposals in zip(words, top[start:start + per_row[row]]):  # masks past max_length keep their word
            original = tokenizer.vocab[m.group().lower()]
            options = [t for t in proposals if t != original and not tokenizer.convert_ids_to_tokens(t).startswith("##")][:top_k]
            if not options:
                continue
            word = tokenizer.convert_ids_to_tokens(options[int(torch.randint(len(options), (1,), generator=generator))])
            pieces += [text[last:m.start()], word]
            last = m.end()
        result.append("".join(pieces) + text[last:])
    return result


def _mask(text: str, words, mask_token: str) -> str:
    pieces, last = [], 0
    for m in words:
        pieces += [text[last:m.start()], mask_token]
        last = m.end()
    return "".join(pieces) + text[last:]
