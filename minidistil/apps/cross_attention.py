"""Which source characters each English word looked at: the translator's cross-attention, one sentence.

Translate the sentence (the model's generation settings), then run the decoder once over its own
translation with `output_attentions=True` and read the cross-attention weights: per layer (H, T, S),
averaged over heads and layers into one (T, S) table. WordPiece rows are merged into words (the
mean of a word's pieces: "trans ##lation" is one row); the [CLS] and [SEP] columns of the source
and the end token's row are left out, so the picture is characters x words, as a reader sees the
sentence. `plots.plot_attention` draws it, the same picture `examples/look_inside.py` draws for the
encoder's self-attention.

    >>> plot_translation_attention(model, src_tok, tgt_tok, "打开文件", "runs/attention.png")
"""
from __future__ import annotations

from pathlib import Path

import torch


def merge_word_pieces(tokens: list[str], weights: torch.Tensor) -> tuple[list[str], torch.Tensor]:
    """WordPiece tokens and their rows (T, S) -> words and rows (W, S), a word's row the mean of its pieces'."""
    words, rows = [], []
    for token, row in zip(tokens, weights):
        if token.startswith("##") and words:
            words[-1] += token[2:]
            rows[-1].append(row)
        else:
            words.append(token)
            rows.append([row])
    return words, torch.stack([torch.stack(r).mean(dim=0) for r in rows]) if rows else weights[:0]


@torch.no_grad()
def translation_attention(model, source_tokenizer, target_tokenizer, text: str, **settings):
    """(source characters, target words, weights (W, S'), mean over heads and layers) for one text."""
    from minidistil.nn.generate import generate
    enc = source_tokenizer([text], return_token_type_ids=False)
    ids = torch.tensor(enc["input_ids"], device=next(model.parameters()).device)
    seq = generate(model, ids, **{k: v for k, v in settings.items() if v is not None})
    out = model(ids, decoder_input_ids=seq[:, :-1], output_attentions=True)  # row t: the token written at step t
    weights = torch.stack(out.cross_attentions).mean(dim=(0, 2))[0]  # L x (1, H, T, S) -> (T, S)
    source = source_tokenizer.convert_ids_to_tokens(ids[0].tolist())
    target = target_tokenizer.convert_ids_to_tokens(seq[0, 1:].tolist())
    specials = set(source_tokenizer.all_special_tokens) | set(target_tokenizer.all_special_tokens)
    cols = [j for j, t in enumerate(source) if t not in specials]
    rows = [i for i, t in enumerate(target) if t not in specials]
    words, table = merge_word_pieces([target[i] for i in rows], weights[rows][:, cols])
    return [source[j] for j in cols], words, table


def plot_translation_attention(model, source_tokenizer, target_tokenizer, text: str, png_path, **settings):
    """Draw the cross-attention of one translated text as a PNG; the path, or None without matplotlib."""
    from minidistil.utils.plots import plot_attention
    source, words, table = translation_attention(model, source_tokenizer, target_tokenizer, text, **settings)
    return plot_attention(table, columns=source, rows=words, png_path=Path(png_path),
                          title="cross-attention, mean of heads and layers", xlabel="source", ylabel="translation")
