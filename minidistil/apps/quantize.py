"""int8 inference on the CPU: dynamic quantization of the Linear layers, the embeddings optionally int8.

    >>> model = DistilBertForSequenceClassification.from_pretrained("runs/sentiment/model")
    >>> small = quantize(model)                     # a copy; the float model is left as it was
    >>> small.save_pretrained("runs/sentiment/int8")  # config.json gets a "quantization" entry
    >>> DistilBertForSequenceClassification.from_pretrained("runs/sentiment/int8")  # int8 again

What changes (Jacob et al. 2018, symmetric int8; dynamic quantization as in PyTorch's BERT tutorial):
  Linear      y = x W^T + b becomes y = (s_x s_W) * (q_x q_W^T) + b. W is rounded once to int8 with one
              scale per output channel, s_W = max|W_row| / 127; x is rounded on every call with one
              scale per token, s_x = max|x_row| / 127 ("dynamic": no calibration data). The product
              q_x q_W^T is exact in int32; only the two roundings lose precision.
  Embedding   the (V, C) token table is int8 with one scale per row; a lookup rescales its rows.
              The MLM projector is the same matrix (tied weights), and a row scale of the table is
              an output-channel scale of the projector, so both share one int8 table.
  unchanged   LayerNorm, GELU, softmax, the position table: they stay float. Quantizing them
              statically (one fixed scale for the activations) is what collapses DistilBERT's
              accuracy, because LayerNorm inputs and GELU outputs have outlier channels
              (Bondarenko et al. 2021, "Understanding and overcoming the challenges of efficient
              transformer quantization").

Why an int8 matmul of our own (torch._int_mm) and not a library, measured on this project's 2-core
AVX-512 VNNI CPU, MiniLM's shapes (1024 tokens, 384 -> 1536 and back), one thread:
  - torch.ao.quantization.quantize_dynamic is deprecated in torch 2.13, warns, and stores its
    weights as quantized tensors (qint8), which safetensors cannot write.
  - torchao (0.18) runs on the CPU but was 1.1-1.5x fp32 per Linear, prints failures to load
    its GPU extensions on import, and puts tensor subclasses in the state_dict.
  - an int8 weight-only Linear (dequantize on the fly) shrinks the file but is no faster than
    fp32: the weights are widened on every call; torch's _weight_int8pack_mm was 50x slower.
  - torch._int_mm (int8 x int8 -> int32, oneDNN with VNNI on this CPU) was 3-10x fp32 per Linear,
    is exact, takes any shape on the CPU, and plain int8 tensors save to safetensors. The whole
    model runs 2.46x fp32 at 8 x 128, against 2.56x for torch.ao's fused kernel (BENCHMARKS.md).
onnxruntime's quantizer is the int8 route for ONNX files (see minidistil.apps.onnx_export); this module
keeps the PyTorch model, its pipelines and its checkpoint format.

A quantized folder is a model folder whose config.json carries a "quantization" entry; its
model.safetensors holds int8 `weight` tensors with a float `weight_scale` beside each. The
loaders (from_pretrained, every pipeline) see the entry and rebuild the int8 modules first.
"""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn

from minidistil.nn.checkpoint import (PREFIX, TIED_KEY, CheckpointError, check_keys, is_head_key, read_state_dict,
                         register_format, write_safetensors)
from minidistil.nn.config import DistilBertConfig, read_json

QUANTIZATION_KEY = "quantization"  # the config.json entry that marks an int8 folder
METHOD = "int8-dynamic"
TIED_SCALE_KEY = "vocab_projector.weight_scale"  # with int8 embeddings the projector's scale is tied too


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one scale per row: x ~= q * scale, q in [-127, 127].

    (R, K) float -> (R, K) int8 and (R, 1) float. -128 is left out so that the range is symmetric
    and q = round(x / scale) never overflows. An all-zero row gets scale 1 (any scale gives q = 0).
    """
    # max and -min instead of abs().amax(): two reads of x, no (R, K) temporary; 2-3x faster here.
    amax = torch.maximum(x.amax(dim=-1, keepdim=True), x.amin(dim=-1, keepdim=True).neg()).float()
    scale = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
    # Multiply by the inverse and round in place: half the time of round(x / scale).
    return (x * scale.reciprocal()).round_().to(torch.int8), scale


class Int8Linear(nn.Module):
    """y = (s_x s_W) * (q_x q_W^T) + b: int8 weight with per-output-channel scales, activations
    quantized per token on each call. Same state_dict names as nn.Linear, plus `weight_scale`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features))
        self.register_buffer("bias", torch.zeros(out_features) if bias else None)

    @classmethod
    def from_float(cls, linear: nn.Linear) -> "Int8Linear":
        q = cls(linear.in_features, linear.out_features, linear.bias is not None)
        weight, scale = quantize_rows(linear.weight.detach())
        q.weight.copy_(weight)
        q.weight_scale.copy_(scale.squeeze(1))
        if linear.bias is not None:
            q.bias.copy_(linear.bias.detach())
        return q

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *lead, K = x.shape
        x_q, x_scale = quantize_rows(x.reshape(-1, K))  # (.., K) -> (R, K) int8, (R, 1)
        acc = torch._int_mm(x_q, self.weight.t())  # (R, K) @ (K, O) -> (R, O), exact in int32
        y = acc.float().mul_(x_scale).mul_(self.weight_scale)  # rescale: row scale, then channel scale
        if self.bias is not None:
            y.add_(self.bias)
        return y.view(*lead, self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class Int8Embedding(nn.Module):
    """A lookup table stored as int8 rows with one float scale per row."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        super().__init__()
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.register_buffer("weight", torch.zeros(num_embeddings, embedding_dim, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(num_embeddings))

    @classmethod
    def from_float(cls, embedding: nn.Embedding) -> "Int8Embedding":
        q = cls(embedding.num_embeddings, embedding.embedding_dim, embedding.padding_idx)
        weight, scale = quantize_rows(embedding.weight.detach())
        q.weight.copy_(weight)
        q.weight_scale.copy_(scale.squeeze(1))
        return q

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.weight[input_ids] * self.weight_scale[input_ids].unsqueeze(-1)  # (B, T) -> (B, T, C)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


# ------------------------------------------------------------------ model -> int8 model

def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(m, (Int8Linear, Int8Embedding)) for m in model.modules())


def quantize(model: nn.Module, int8_embeddings: bool = True) -> nn.Module:
    """An int8 copy of a minidistil model (any head), in eval mode; `model` itself is not changed.

    Every nn.Linear becomes an Int8Linear. With int8_embeddings the token table becomes an
    Int8Embedding (and a tied MLM projector shares it); without, the table and a tied projector
    stay float, which keeps the file about 2.5x larger for a MiniLM-sized vocabulary.
    """
    config = getattr(model, "config", None)
    if not isinstance(model, nn.Module) or not isinstance(config, DistilBertConfig):
        raise TypeError(f"quantize takes a minidistil model (DistilBertModel or a head), got {type(model).__name__}")
    if is_quantized(model):
        raise ValueError("this model is already int8; quantize the float model it came from")
    return to_int8(copy.deepcopy(model).eval(), int8_embeddings)


def to_int8(model: nn.Module, int8_embeddings: bool) -> nn.Module:
    """Swap the modules of `model` in place (see quantize)."""
    encoder = model.distilbert if hasattr(model, "distilbert") else model
    projector = getattr(model, "vocab_projector", None)
    tied = model.config.tie_word_embeddings and projector is not None
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and not (tied and child is projector):
                setattr(parent, name, Int8Linear.from_float(child))
    if int8_embeddings:
        table = Int8Embedding.from_float(encoder.embeddings.word_embeddings)
        encoder.embeddings.word_embeddings = table
        if tied:
            model.vocab_projector = tie_projector(table, projector.bias)
    model.quantization = {"method": METHOD, "int8_embeddings": int8_embeddings}
    return model


def tie_projector(table: Int8Embedding, bias: torch.Tensor) -> Int8Linear:
    """The MLM projector (C -> V) over the int8 token table: the same int8 matrix and row scales."""
    projector = Int8Linear(table.embedding_dim, table.num_embeddings, bias is not None)
    projector.weight, projector.weight_scale = table.weight, table.weight_scale  # shared, not copied
    if bias is not None:
        projector.bias = bias.detach().clone()
    return projector


# ------------------------------------------------------------------ folders

def save_quantized(model: nn.Module, folder: str | Path) -> Path:
    """Write config.json (with its "quantization" entry) and model.safetensors (int8 weights)."""
    if not hasattr(model, "quantization"):
        raise ValueError("this model is not int8; quantize(model) first, or use save_pretrained for a float model")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = replace(model.config, architectures=[type(model).__name__]).to_dict()
    config[QUANTIZATION_KEY] = model.quantization
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    state = model.state_dict()
    if model.config.tie_word_embeddings:  # written once, as the token table
        state.pop(TIED_KEY, None), state.pop(TIED_SCALE_KEY, None)
    write_safetensors(state, folder / "model.safetensors")
    return folder


def quantization_entry(folder: str | Path) -> dict | None:
    """The "quantization" entry of a folder's config.json, or None for a float model."""
    try:
        return read_json(Path(folder) / "config.json").get(QUANTIZATION_KEY)
    except (OSError, ValueError):
        return None  # no readable config.json: the float loader says what is wrong with it


def load_quantized(cls, folder: str | Path, impl: str | None = None, new_head: bool = False, **overrides):
    """Build `cls` from an int8 folder: the float skeleton, quantized, then filled with the saved
    int8 weights under a strict key check. A bare DistilBertModel may be read out of a head's folder."""
    folder = Path(folder)
    raw = read_json(folder / "config.json")
    entry = raw.get(QUANTIZATION_KEY)
    if not isinstance(entry, dict) or entry.get("method") != METHOD:
        raise CheckpointError(f"{folder / 'config.json'} has quantization {entry!r}; this version of "
                              f"minidistil reads only {{'method': '{METHOD}', ...}}")
    if new_head:
        raise ValueError(f"{folder} holds an int8 model, which cannot be trained; fine-tune the float "
                         f"model and quantize the result")
    try:
        config = DistilBertConfig.from_dict(raw, impl=impl, **overrides)
    except ValueError as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from None
    model = to_int8(cls(config).eval(), int8_embeddings=bool(entry.get("int8_embeddings", True)))
    state = read_state_dict(folder)
    if not any(k.startswith(PREFIX) for k in state):  # saved from a bare DistilBertModel
        state = {PREFIX + k: v for k, v in state.items()}
    bare = not hasattr(model, "distilbert")
    expected = {(PREFIX + k if bare else k): v for k, v in model.state_dict().items()}
    if bare:  # the encoder alone is wanted: any head in the file is left behind
        state = {k: v for k, v in state.items() if not is_head_key(k)}
    tied = {TIED_KEY, TIED_SCALE_KEY} if config.tie_word_embeddings else set()
    expected = {k: v for k, v in expected.items() if k not in tied}
    check_keys(folder, expected, state, has_head=not bare, new_head=False)
    missing, _ = model.load_state_dict({(k[len(PREFIX):] if bare else k): v for k, v in state.items()},
                                       strict=False)
    assert set(missing) <= tied, missing  # check_keys let through only the tied projector
    return model


# An int8 folder (config.json has "quantization") loads through from_pretrained, an int8 model saves
# through save_pretrained: the model classes reach this module only through this registration.
checkpoint_format = (lambda folder: quantization_entry(folder) is not None, load_quantized,
                     lambda model: hasattr(model, "quantization"), save_quantized)
register_format(*checkpoint_format)
