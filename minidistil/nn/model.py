"""DistilBERT, written out (Sanh et al. 2019: a 6-layer BERT without token types and pooler).

The file reads bottom-up like the paper: GELU, LayerNorm, attention, the attention and FFN
sublayers, one post-LN block, embeddings, the encoder, the model. Module attribute names are
Hugging Face's, so `state_dict()` keys equal its checkpoint keys.

Two implementations of the same equations sit side by side, chosen by `config.impl`:
  "math"  the equations written out (matmul, softmax, erf, mean and variance); it computes every
          position, padding included, exactly as Hugging Face does.
  "fast"  fused kernels (F.scaled_dot_product_attention, F.layer_norm, F.gelu), and padding is
          removed before the linear layers: the tokens that matter are gathered into one (N, C)
          matrix and scattered back only for attention. Those are the real tokens, and the padding
          a head reads: position 0 (classification reads it, and left padding puts a pad there) and
          every position of an all-padding row. They equal the math path; the other padded
          positions are never computed and come out as zeros.

Shape legend:
    B batch, T tokens (padded length), N computed tokens (fast path: real ones and position 0), C width (dim),
    H heads, D head size (C / H), F FFN size (hidden_dim), V vocabulary, L layers, P positions.

    >>> model = DistilBertModel(DistilBertConfig(dim=36, n_heads=3, hidden_dim=37, vocab_size=99))
    >>> model(torch.tensor([[2, 5, 7]])).last_hidden_state.shape
    torch.Size([1, 3, 36])
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from minidistil.nn import checkpoint
from minidistil.nn.config import DistilBertConfig


def gelu(x: torch.Tensor, impl: str) -> torch.Tensor:
    if impl == "math":
        # GELU(x) = x * Phi(x), Phi the standard normal CDF. Hugging Face uses this exact erf form;
        # the tanh approximation differs by up to 4.7e-4, which a std-0.5 parity test catches.
        return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))
    return F.gelu(x)


def activate(x: torch.Tensor, config: DistilBertConfig) -> torch.Tensor:
    return gelu(x, config.impl) if config.activation == "gelu" else torch.relu(x)


class LayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, over the last dim (biased variance)."""

    def __init__(self, dim: int, impl: str, eps: float = 1e-12):  # DistilBERT hard-codes eps 1e-12
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.impl, self.eps = impl, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.impl == "math":
            # Not torch.var_mean: over the last dim it is ~10x slower than these three reductions.
            x = x - x.mean(-1, keepdim=True)
            var = x.square().mean(-1, keepdim=True)  # (.., C) -> (.., 1)
            return torch.addcmul(self.bias, x * torch.rsqrt(var + self.eps), self.weight)  # x_hat * weight + bias
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


def attention(q, k, v, keep, impl: str, dropout_p: float = 0.0, need_weights: bool = False,
              empty_rows: str = "average"):
    """softmax(q k^T / sqrt(D)) v over the keys where `keep` is True: the one attention of the encoder's
    self-attention and the decoder's self- and cross-attention. q: (B, H, T, D); k, v: (B, H, S, D);
    keep: bool broadcastable to (B, H, T, S) ((B, 1, 1, S) for padding, (B, 1, T, S) with a causal
    mask), or None when every key may be read.

    Masked scores are filled with finfo.min, not -inf (no NaN). A query that may read no key at all:
    `empty_rows="average"` reads every key alike (a softmax of equal scores), as BERT's and
    transformers' encoders do for an all-padding row; `"zero"` reads nothing (output 0), as
    transformers' decoder does when its start token equals the pad id and is masked.

    Returns (output (B, H, T, D), weights (B, H, T, S) when need_weights, else None).
    """
    if impl == "math" or need_weights:
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, D) @ (B, H, D, S) -> (B, H, T, S)
        if keep is not None:
            scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)
        if keep is not None and empty_rows == "zero":
            weights = weights * keep.any(dim=-1, keepdim=True)  # rows with no key to read: 0
        weights = F.dropout(weights, dropout_p, training=dropout_p > 0)
        return weights @ v, (weights if need_weights else None)  # (B, H, T, S) @ (B, H, S, D) -> (B, H, T, D)
    # sdpa on a boolean mask returns 0 for a row with no key; a float finfo.min mask averages it instead.
    mask = keep if keep is None or empty_rows == "zero" else \
        torch.zeros(keep.shape, dtype=q.dtype, device=q.device).masked_fill(~keep, torch.finfo(q.dtype).min)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None


def rows_to_compute(keep: torch.Tensor) -> torch.Tensor:
    """The fast path's flat (B*T) indices: real tokens, and the padding that transformers computes
    and a head reads: position 0 of every row (sequence classification and multiple choice read
    it; with left padding it is a pad), and all of an all-padding row (its position 0 attends to
    every position of the row, uniformly)."""
    need = keep.clone()
    need[:, 0] = True
    need[~keep.any(dim=1)] = True
    return need.flatten().nonzero().squeeze(1)  # (N,)


def unpad(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)[rows]  # (B, T, C) -> (N, C)


def pad(x: torch.Tensor, rows: torch.Tensor, B: int, T: int) -> torch.Tensor:
    out = x.new_zeros(B * T, x.size(-1)).index_copy(0, rows, x)  # (N, C) -> (B*T, C), zeros elsewhere
    return out.view(B, T, -1)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)

    def forward(self, x, keep, rows=None, output_attentions=False):
        """x: (B, T, C), or (N, C) when the fast path has removed padding (then `rows` holds the
        flat indices of the N computed tokens). keep: (B, T) bool, True at real tokens; None if no padding."""
        B, T = x.shape[:2] if rows is None else keep.shape
        H, D = self.config.n_heads, self.config.head_dim
        q, k, v = self.q_lin(x), self.k_lin(x), self.v_lin(x)
        if rows is not None:  # one scatter for the three: (N, 3C) -> (B, T, 3C)
            q, k, v = pad(torch.cat([q, k, v], dim=-1), rows, B, T).split(H * D, dim=-1)
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # (B, T, C) -> (B, H, T, D)
        p = self.config.attention_dropout if self.training else 0.0
        keep = None if keep is None else keep[:, None, None, :]  # (B, T) -> (B, 1, 1, T): over heads and queries
        y, weights = attention(q, k, v, keep, self.config.impl, p, output_attentions)
        y = y.transpose(1, 2).reshape(B, T, H * D)  # (B, H, T, D) -> (B, T, C)
        if rows is not None:
            y = unpad(y, rows)  # (B, T, C) -> (N, C)
        return self.out_lin(y), weights


class FFN(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.lin2(activate(self.lin1(x), self.config)))  # (.., C) -> (.., F) -> (.., C)


class TransformerBlock(nn.Module):
    """Post-LN, as in BERT: x = LN(x + attention(x)); x = LN(x + FFN(x))."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.attention = MultiHeadSelfAttention(config)
        self.sa_layer_norm = LayerNorm(config.dim, config.impl)
        self.ffn = FFN(config)
        self.output_layer_norm = LayerNorm(config.dim, config.impl)

    def forward(self, x, keep, rows=None, output_attentions=False):
        a, weights = self.attention(x, keep, rows, output_attentions)
        x = self.sa_layer_norm(x + a)
        x = self.output_layer_norm(x + self.ffn(x))
        return x, weights


def sinusoidal_table(P: int, C: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/C)), PE[pos, 2i+1] = cos(same angle) (Vaswani et al. 2017, 3.5).
    Computed in float64 and rounded once, as Hugging Face does with numpy. An odd C ends on a sin
    channel with no cos partner, as in Hugging Face."""
    pos = torch.arange(P, dtype=torch.float64)[:, None]
    angle = pos / 10000 ** (torch.arange(0, C, 2, dtype=torch.float64) / C)  # (P, ceil(C/2))
    table = torch.empty(P, C, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = angle.sin(), angle[:, : C // 2].cos()
    return table.float()


class Embeddings(nn.Module):
    """token embedding + position embedding, then LayerNorm and dropout. No token types:
    DistilBERT dropped them (a BERT teacher's type-0 row is folded into the positions on conversion)."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        if config.sinusoidal_pos_embds:
            self.position_embeddings.weight.data.copy_(sinusoidal_table(config.max_position_embeddings, config.dim))
            self.position_embeddings.weight.requires_grad = False  # a fixed function of the position
        self.LayerNorm = LayerNorm(config.dim, config.impl)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids):
        B, T = input_ids.shape
        positions = torch.arange(T, device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)  # (B, T, C) + (T, C)
        return self.dropout(self.LayerNorm(x))


class BaseModelOutput(NamedTuple):
    last_hidden_state: torch.Tensor                 # (B, T, C)
    hidden_states: tuple | None = None              # L + 1 tensors (B, T, C): embeddings, then each block
    attentions: tuple | None = None                 # L tensors (B, H, T, T)


class Transformer(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layers))
        self.gradient_checkpointing = False

    def forward(self, x, keep, output_hidden_states=False, output_attentions=False):
        """x: (B, T, C) embeddings; keep: (B, T) bool, True at real tokens."""
        B, T, C = x.shape
        rows, keep = None, None if bool(keep.all()) else keep
        if self.config.impl == "fast" and keep is not None:
            # Padding only pads: drop it before the linear layers, which dominate the cost.
            rows = rows_to_compute(keep)
        h = x if rows is None else unpad(x, rows)  # (B, T, C) -> (N, C)
        states, attentions = [x], []
        for block in self.layer:
            if self.gradient_checkpointing and self.training:  # recompute in the backward pass: less memory
                h, weights = torch.utils.checkpoint.checkpoint(block, h, keep, rows, output_attentions,
                                                               use_reentrant=False)
            else:
                h, weights = block(h, keep, rows, output_attentions)
            if rows is not None and output_hidden_states:
                # Hand back (B, T, C) and feed the next block from that very tensor: every returned
                # state then lies on the path to the output, so retain_grad() gets its gradient.
                states.append(pad(h, rows, B, T))
                h = unpad(states[-1], rows)
            else:
                states.append(h)
            attentions.append(weights)
        if rows is not None and not output_hidden_states:
            states[-1] = pad(h, rows, B, T)  # (N, C) -> (B, T, C), zeros at the padding not computed
        return BaseModelOutput(states[-1],
                               tuple(states) if output_hidden_states else None,
                               tuple(attentions) if output_attentions else None)


def init_bert_weights(module: nn.Module, std: float) -> None:
    """Hugging Face's BERT init: normal(0, std) weights, zero biases and padding row, LayerNorm at (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding) and m.weight.requires_grad:  # sinusoidal tables stay fixed
            nn.init.normal_(m.weight, std=std)
            if m.padding_idx is not None:
                nn.init.zeros_(m.weight[m.padding_idx])
        elif isinstance(m, LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class PreTrainedModel(nn.Module):
    """What every class shares: Hugging Face's weight init and the checkpoint IO (in checkpoint.py)."""

    config_class = DistilBertConfig

    def init_weights(self):
        init_bert_weights(self, self.config.initializer_range)
        if hasattr(self, "tie_weights"):
            self.tie_weights()

    @classmethod
    def from_pretrained(cls, folder: str | Path, impl: str | None = None, new_head: bool = False, **overrides):
        """Load a Hugging Face DistilBERT or BERT folder (config.json + model.safetensors or
        pytorch_model.bin). new_head=True starts the task head fresh when the folder has none;
        overrides replace config fields, e.g. num_labels=3 or id2label={...} for a new head."""
        # Other formats (int8 folders, quantize.py) are read by the reader they register in checkpoint.
        return checkpoint.load_folder(cls, folder, impl=impl, new_head=new_head, **overrides)

    def save_pretrained(self, folder: str | Path) -> Path:
        return checkpoint.save_folder(self, folder)


class DistilBertModel(PreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, output_hidden_states=False, output_attentions=False,
                token_type_ids=None) -> BaseModelOutput:
        """input_ids: (B, T) token ids; attention_mask: (B, T), 1 for real tokens and 0 for padding."""
        check_inputs(self.config, input_ids, attention_mask, token_type_ids)
        keep = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        x = self.embeddings(input_ids)  # (B, T) -> (B, T, C)
        return self.transformer(x, keep, output_hidden_states, output_attentions)


def check_inputs(config: DistilBertConfig, input_ids, attention_mask, token_type_ids):
    """Turn the usual mistakes into a sentence instead of an IndexError deep inside."""
    if token_type_ids is not None:
        raise ValueError("DistilBERT has no token type (segment) embeddings, so token_type_ids cannot be "
                         "used; drop them and separate sentence pairs with the [SEP] token")
    check_ids(input_ids, ("batch", "tokens"))
    B, T = input_ids.shape
    if T == 0:
        raise ValueError(f"input_ids has rows of zero tokens (shape {(B, T)}); every row needs at least "
                         f"one token, e.g. the tokenizer's [CLS] [SEP]")
    if T > config.max_position_embeddings:
        raise ValueError(f"the input has {T} tokens but the position table holds "
                         f"{config.max_position_embeddings}; truncate or split the text")
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= config.vocab_size):
        raise ValueError(f"token ids must lie in [0, {config.vocab_size}) for this vocabulary, got ids from "
                         f"{int(input_ids.min())} to {int(input_ids.max())}; was the text tokenized "
                         f"with another vocabulary?")
    check_mask(attention_mask, (B, T))


def check_ids(input_ids, dims: tuple[str, ...]) -> None:
    # nn.Embedding indexes with int64 or int32 only; bool, uint8 or int16 ids are almost always a
    # mask or a dtype slip, so they are refused rather than cast.
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != len(dims) or \
            input_ids.dtype not in (torch.long, torch.int):
        raise ValueError(f"input_ids must be a ({', '.join(dims)}) tensor of integer ids (int64 or int32), got "
                         f"{getattr(input_ids, 'dtype', type(input_ids).__name__)} of shape "
                         f"{tuple(getattr(input_ids, 'shape', ()))}; convert token ids with .long()")


def check_mask(attention_mask, shape: tuple) -> None:
    if attention_mask is None:
        return
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(f"attention_mask must be a tensor like input_ids, got a {type(attention_mask).__name__}; "
                        f"wrap it with torch.tensor(...)")
    if tuple(attention_mask.shape) != shape:
        raise ValueError(f"attention_mask must have the shape of input_ids {shape}, got "
                         f"{tuple(attention_mask.shape)}")
