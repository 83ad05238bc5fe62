"""The decoder of the translator, written out like model.py: BERT with causal self-attention,
cross-attention over the encoder's states, and its MLM head as the output layer.

This is what Rothe, Narayan and Severyn (2020) warm-start from a BERT checkpoint, and what
transformers builds as `BertLMHeadModel(is_decoder=True, add_cross_attention=True)`. One block:

    x = LN(x + SelfAttention(x, causal))            keys: attention.self.*, attention.output.*
    x = LN(x + CrossAttention(x, encoder states))   keys: crossattention.self.*, crossattention.output.*
    x = LN(x + FFN(x))                              keys: intermediate.dense, output.dense, output.LayerNorm

post-LN as BERT. Module names are transformers' (`bert.encoder.layer.0.crossattention.self.query`,
`cls.predictions.transform.dense`: the stack is called "encoder" inside BERT even when it decodes),
so `state_dict()` keys equal `BertLMHeadModel`'s and a BERT checkpoint loads by name. Only the
cross-attention is new when warm-starting.

The key/value cache (`past`) is the fast path of generation: each layer keeps the keys and values
of the tokens already decoded, and the cross-attention's keys and values of the encoder states,
computed once. `minidistil.nn.generate` proves it equal to recomputing every position each step.

Shape legend (as model.py): B batch, T decoder tokens, S encoder tokens, P past tokens, C width,
H heads, D head size, F FFN size, V output vocabulary, L layers.

    >>> dec = BertDecoder(DecoderConfig(vocab_size=41, hidden_size=12, num_attention_heads=3))
    >>> memory = torch.randn(2, 5, 12)
    >>> dec(torch.tensor([[1, 7], [1, 9]]), memory).logits.shape
    torch.Size([2, 2, 41])
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

from minidistil.nn.model import LayerNorm, attention, gelu, init_bert_weights


@dataclass
class DecoderConfig:
    """A BERT decoder's settings, under BERT's config.json names (transformers' BertConfig)."""
    vocab_size: int = 30522               # V, the output (target-language) vocabulary
    hidden_size: int = 768                # C, the width
    num_hidden_layers: int = 6            # L, decoder blocks
    num_attention_heads: int = 12         # H; must divide hidden_size
    intermediate_size: int = 3072         # F, the FFN's inner size (not the width)
    hidden_act: str = "gelu"              # "gelu" (exact erf, as transformers) or "relu"
    hidden_dropout_prob: float = 0.1      # on embeddings and each sublayer's output
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512    # longest target the position table covers
    type_vocab_size: int = 2              # BERT's segment table; the decoder always adds row 0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    tie_word_embeddings: bool = True      # the output projection shares the token embedding
    cross_attention_hidden_size: int | None = None  # the encoder's width, when it differs (None: the same)
    impl: str = "fast"                    # ours: "math" (equations written out) or "fast" (fused kernels)

    def __post_init__(self):
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                     "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"decoder config.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"decoder config.num_attention_heads ({self.num_attention_heads}) must divide "
                             f"hidden_size ({self.hidden_size}) evenly")
        if self.hidden_act not in ("gelu", "relu"):
            raise ValueError(f"decoder config.hidden_act must be 'gelu' or 'relu', got {self.hidden_act!r}")
        if self.impl not in ("math", "fast"):
            raise ValueError(f"decoder config.impl must be 'math' or 'fast', got {self.impl!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"decoder config.pad_token_id must be below vocab_size ({self.vocab_size}), "
                             f"got {self.pad_token_id}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def to_dict(self) -> dict:
        """config.json as transformers reads a BERT decoder with cross-attention."""
        return {**asdict(self), "model_type": "bert", "is_decoder": True, "add_cross_attention": True,
                "architectures": ["BertLMHeadModel"]}

    @classmethod
    def from_dict(cls, d: dict, **overrides) -> "DecoderConfig":
        if d.get("model_type", "bert") != "bert":
            raise ValueError(f"a decoder config has model_type 'bert', got {d['model_type']!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in known},
                      **{k: v for k, v in overrides.items() if v is not None}})

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def activate(x: torch.Tensor, config: DecoderConfig) -> torch.Tensor:
    return gelu(x, config.impl) if config.hidden_act == "gelu" else torch.relu(x)


class AttentionProjections(nn.Module):
    """transformers' `BertSelfAttention`: the query, key and value projections (the attention itself is
    `model.attention`). Keys and values may come from another sequence (cross-attention)."""

    def __init__(self, config: DecoderConfig, kv_width: int):
        super().__init__()
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(kv_width, config.hidden_size)
        self.value = nn.Linear(kv_width, config.hidden_size)
        self.fused = None  # (the weights' versions, W_qkv (3C, C), b_qkv (3C,)): see `qkv`

    def qkv(self, x):
        """The three projections of x (self-attention) as one matmul, at inference: a decoding step
        multiplies a few rows, where one (3C, C) product costs less than three (C, C) ones. The joined
        matrix is rebuilt when a weight changes (an optimizer step, load_state_dict); with gradients
        on, the three layers run as they are."""
        parts = (self.query, self.key, self.value)
        if torch.is_grad_enabled():
            return tuple(p(x) for p in parts)
        versions = tuple((t.data_ptr(), t._version) for p in parts for t in (p.weight, p.bias))
        if self.fused is None or self.fused[0] != versions:
            self.fused = (versions, torch.cat([p.weight for p in parts]), torch.cat([p.bias for p in parts]))
        return F.linear(x, self.fused[1], self.fused[2]).chunk(3, dim=-1)


class SublayerOutput(nn.Module):
    """transformers' `BertSelfOutput` / `BertOutput`: LN(x + dropout(dense(y))), the post-LN residual."""

    def __init__(self, config: DecoderConfig, width_in: int):
        super().__init__()
        self.dense = nn.Linear(width_in, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, config.impl, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, y, x):
        return self.LayerNorm(x + self.dropout(self.dense(y)))


def extend(cached, new, rows=None):
    """torch.cat([cached[rows], new], dim=2): the cached keys (or values) (B', H, P, D) of the rows
    `rows` (None: all, in order), then the new ones (B, H, T, D). Beam search continues each row from
    the cached row of its parent beam; gathering those rows while appending writes the cache once a
    step, where a reorder then a cat would copy it twice (at a batch of beams, after the weights, the
    cache is most of what a step reads and writes)."""
    if rows is None:
        return torch.cat([cached, new], dim=2)
    P = cached.shape[2]
    out = cached.new_empty(len(rows), cached.shape[1], P + new.shape[2], cached.shape[3])
    torch.index_select(cached, 0, rows, out=out[:, :, :P])
    out[:, :, P:] = new
    return out


class Attention(nn.Module):
    """Multi-head attention and its residual: causal self-attention, or cross-attention over `memory`."""

    def __init__(self, config: DecoderConfig, kv_width: int):
        super().__init__()
        self.config = config
        self.self = AttentionProjections(config, kv_width)  # transformers' name, hence `self.self`
        self.output = SublayerOutput(config, config.hidden_size)

    def split_heads(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.config.num_attention_heads, self.config.head_dim).transpose(1, 2)  # -> (B, H, T, D)

    def forward(self, x, keep, memory=None, cache=None, need_weights=False, cache_rows=None):
        """x: (B, T, C). Self-attention when memory is None: keys and values from x, appended to the
        cached (k, v) of the P tokens before (of the rows `cache_rows`, see `extend`). Cross-attention
        otherwise: keys and values of memory (B, S, C_enc), or the cached ones. keep: bool broadcastable
        to (B, 1, T, P + T) or (B, 1, 1, S). Returns (output (B, T, C), the (k, v) to cache, the weights
        (B, H, T, *) when need_weights)."""
        B, T, C = x.shape
        if memory is None:
            q, k, v = (self.split_heads(t) for t in self.self.qkv(x))
            if cache is not None:
                k, v = extend(cache[0], k, cache_rows), extend(cache[1], v, cache_rows)  # (B, H, P + T, D)
        elif cache is not None:
            q, (k, v) = self.split_heads(self.self.query(x)), cache  # the encoder states do not change: projected once
        else:
            q = self.split_heads(self.self.query(x))
            k, v = self.split_heads(self.self.key(memory)), self.split_heads(self.self.value(memory))  # (B, H, S, D)
        p = self.config.attention_probs_dropout_prob if self.training else 0.0
        G = B // k.shape[0]
        if G > 1:
            # G consecutive rows (the beams of one source) read the same encoder states: their queries
            # go in as G x T queries of one row, so the keys and values are projected and read once.
            H, D = q.shape[1], q.shape[3]
            q = q.view(B // G, G, H, T, D).transpose(1, 2).reshape(B // G, H, G * T, D)
        y, weights = attention(q, k, v, keep, self.config.impl, p, need_weights, empty_rows="zero")
        if G > 1:
            y = y.view(B // G, H, G, T, D).transpose(1, 2).reshape(B, H, T, D)
            weights = None if weights is None else \
                weights.view(B // G, H, G, T, -1).transpose(1, 2).reshape(B, H, T, -1)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, H, T, D) -> (B, T, C)
        return self.output(y, x), (k, v), weights


class FFNIn(nn.Module):
    """transformers' `BertIntermediate`: activation(dense(x)), (.., C) -> (.., F)."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, x):
        return activate(self.dense(x), self.config)


class DecoderBlock(nn.Module):
    """Post-LN: x = LN(x + SelfAttn(x)); x = LN(x + CrossAttn(x, memory)); x = LN(x + FFN(x))."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.attention = Attention(config, config.hidden_size)
        self.crossattention = Attention(config, config.cross_attention_hidden_size or config.hidden_size)
        self.intermediate = FFNIn(config)
        self.output = SublayerOutput(config, config.intermediate_size)

    def forward(self, x, self_keep, memory, memory_keep, cache=None, need_weights=False, cache_rows=None):
        """-> (x, ((self k, v), (cross k, v)), (self-attention weights, cross-attention weights)).
        Without memory (the decoder as a causal LM alone) the cross-attention is skipped."""
        x, self_kv, self_w = self.attention(x, self_keep, cache=None if cache is None else cache[0],
                                            need_weights=need_weights, cache_rows=cache_rows)
        cross_kv = cross_w = None
        if memory is not None or (cache is not None and cache[1] is not None):
            x, cross_kv, cross_w = self.crossattention(x, memory_keep, memory=memory, need_weights=need_weights,
                                                       cache=None if cache is None else cache[1])
        x = self.output(self.intermediate(x), x)
        return x, (self_kv, cross_kv), (self_w, cross_w)


class DecoderEmbeddings(nn.Module):
    """token + position + token type 0 (BERT's segment table, kept so that BERT weights load by
    name), then LayerNorm and dropout. Positions continue after the P cached tokens."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, config.impl, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids, past_length: int = 0, inputs_embeds=None):
        """input_ids (B, T), or inputs_embeds (B, T, C) given in place of the token embeddings."""
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        B, T, _ = x.shape
        positions = torch.arange(past_length, past_length + T, device=x.device)
        x = x + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(x))


class DecoderStack(nn.Module):
    """transformers' `BertEncoder` (its name even in a decoder): the list of blocks."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.layer = nn.ModuleList(DecoderBlock(config) for _ in range(config.num_hidden_layers))


class DecoderBody(nn.Module):
    """transformers' `BertModel` without the pooler: embeddings and the blocks."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.embeddings = DecoderEmbeddings(config)
        self.encoder = DecoderStack(config)


class PredictionTransform(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, config.impl, config.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(activate(self.dense(x), self.config))


class Predictions(nn.Module):
    """BERT's MLM head, here the next-token head: decoder(LN(act(dense(h)))) + bias. `bias` and
    `decoder.bias` are one parameter (transformers saves both keys); `decoder.weight` is tied to the
    token embedding when config.tie_word_embeddings."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.transform = PredictionTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias
        self.transposed = None  # (the weight's version, W^T (C, V)): see `forward`

    def forward(self, h):
        h = self.transform(h)
        if torch.is_grad_enabled():
            return self.decoder(h)  # (.., C) -> (.., V)
        # At inference, a decoding step multiplies a few rows by the (V, C) output matrix, the largest
        # product of the step. On CPU that product runs up to twice as fast with the matrix stored as
        # (C, V) (one row, or a beam's four), with the same numbers from four rows on (below that the
        # two layouts take different kernels, equal to about 1e-6). The copy is kept and remade when
        # the weight changes, as `qkv` does.
        W = self.decoder.weight
        version = (W.data_ptr(), W._version)
        if self.transposed is None or self.transposed[0] != version:
            self.transposed = (version, W.t().contiguous())
        return torch.addmm(self.bias, h.flatten(0, -2), self.transposed[1]).view(*h.shape[:-1], -1)


class LMHead(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.predictions = Predictions(config)


class DecoderOutput(NamedTuple):
    logits: torch.Tensor                  # (B, T, V), or (B, 1, V) with last_only
    past: tuple | None = None             # per layer ((self k, v), (cross k, v)), each (B, H, *, D)
    last_hidden_state: torch.Tensor | None = None  # (B, T, C)
    loss: torch.Tensor | None = None      # with labels: next-token cross-entropy (the decoder alone as a causal LM)
    hidden_states: tuple | None = None    # L + 1 tensors (B, T, C): embeddings, then each block
    attentions: tuple | None = None       # L tensors (B, H, T, P + T): causal self-attention
    cross_attentions: tuple | None = None  # L tensors (B, H, T, S)


class BertDecoder(nn.Module):
    """transformers' `BertLMHeadModel(is_decoder=True, add_cross_attention=True)`, its keys included.
    Without `memory` it is a causal language model alone (the cross-attention is skipped, as
    transformers skips it without encoder states)."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.bert = DecoderBody(config)
        self.cls = LMHead(config)
        self.gradient_checkpointing = False  # recompute each block in the backward pass: less memory
        init_bert_weights(self, config.initializer_range)
        nn.init.zeros_(self.cls.predictions.bias)
        self.tie_weights()

    def tie_weights(self) -> None:
        if self.config.tie_word_embeddings:
            self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def forward(self, input_ids=None, memory=None, memory_mask=None, attention_mask=None, past=None,
                last_only: bool = False, *, inputs_embeds=None, labels=None, output_attentions: bool = False,
                output_hidden_states: bool = False, past_rows=None) -> DecoderOutput:
        """input_ids: (B, T) target tokens (with past: only the new ones), or inputs_embeds (B, T, C)
        in their place; memory: (B, S, C) encoder states (None: no cross-attention), or
        (B / G, S, C) shared by each G consecutive rows (the beams of one source); memory_mask: (B or B / G, S),
        (B, S), 1 real, 0 pad; attention_mask: (B, P + T) over the decoder tokens, 1 real, 0 pad (None:
        all real). last_only projects only the last position onto the vocabulary, all that a decoding
        step reads. labels (B, T): the loss of predicting token t + 1 from position t, as
        transformers' BertLMHeadModel (it shifts inside; -100 is not scored). past_rows (B,): the row of
        past's self-attention cache each row continues (beam search), None: row i continues row i."""
        B, T = (input_ids if inputs_embeds is None else inputs_embeds[..., 0]).shape
        P = 0 if past is None else past[0][0][0].shape[2]
        if P + T > self.config.max_position_embeddings:
            raise ValueError(f"the decoder input has {P + T} tokens but the position table holds "
                             f"{self.config.max_position_embeddings}; lower max_length")
        device = (input_ids if inputs_embeds is None else inputs_embeds).device
        # Token i sees tokens 0..i (causal) that are not padding; the encoder's padding is never seen.
        causal = torch.ones(T, P + T, dtype=torch.bool, device=device).tril(diagonal=P)  # (T, P + T)
        self_keep = causal[None, None] if attention_mask is None else \
            causal[None, None] & attention_mask.bool()[:, None, None, :]  # (B, 1, T, P + T)
        if past is not None and T == 1 and attention_mask is None:
            self_keep = None  # one new token may see everything before it
        memory_keep = None if memory_mask is None else memory_mask.bool()[:, None, None, :]  # (B, 1, 1, S)
        x = self.bert.embeddings(input_ids, P, inputs_embeds)  # (B, T) -> (B, T, C)
        states, attentions, crosses, new_past = [x], [], [], []
        for i, block in enumerate(self.bert.encoder.layer):
            args = (x, self_keep, memory, memory_keep, None if past is None else past[i], output_attentions, past_rows)
            if self.gradient_checkpointing and self.training:
                x, kv, weights = torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False)
            else:
                x, kv, weights = block(*args)
            new_past.append(kv)
            states.append(x)
            attentions.append(weights[0])
            crosses.append(weights[1])
        h = x[:, -1:] if last_only else x
        logits = self.cls.predictions(h)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100)
        return DecoderOutput(logits, tuple(new_past), x, loss, tuple(states) if output_hidden_states else None,
                             tuple(attentions) if output_attentions else None,
                             tuple(crosses) if output_attentions and memory is not None else None)
