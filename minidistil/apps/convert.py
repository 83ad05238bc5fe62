"""The converter's library (weights_convert.py is its command line): which class a folder holds,
pytorch_model.bin -> model.safetensors, and a check against transformers. Reading and writing folders,
BERT included, is `minidistil.nn.checkpoint`'s job; cutting a student out of a teacher is
`minidistil.training.distill.extract_student`'s.

    >>> teacher = DistilBertForMaskedLM.from_pretrained(sources.teacher_dir(), new_head=True)
    >>> student = extract_student(teacher)              # 6 -> 3 layers: teacher layers 0, 2, 5
    >>> student.save_pretrained("student")              # loads in transformers as DistilBERT
    >>> check("student")["logits"].passes(tol=1e-4)
    True
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from minidistil.nn.checkpoint import read_state_dict, write_safetensors
from minidistil.nn.config import read_json
from minidistil.data import kinds
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.nn.model import DistilBertModel


def classes() -> dict[str, type]:
    """Every model class by its architecture name: the encoder, the MLM model, each kind's head."""
    heads = (k.head for k in kinds.KINDS.values() if k.onnx is not None)  # the encoder's heads, not the translator
    return {c.__name__: c for c in (DistilBertModel, DistilBertForMaskedLM, *heads)}


# ------------------------------------------------------------------ folder tools

def model_class(folder: str | Path):
    """The minidistil class for a folder, from config.json's architectures (BERT maps to ours)."""
    raw = read_json(Path(folder) / "config.json")
    arch = (raw.get("architectures") or ["DistilBertModel"])[0]
    arch = {"BertModel": "DistilBertModel", "BertForMaskedLM": "DistilBertForMaskedLM",
            "BertForPreTraining": "DistilBertForMaskedLM"}.get(arch, arch)
    known = classes()
    if arch not in known:
        raise ValueError(f"{folder}: architecture {arch!r} is not one of {', '.join(known)}")
    return known[arch], raw


def bin_to_safetensors(folder: str | Path) -> Path:
    """Rewrite pytorch_model.bin as model.safetensors beside it (the pickle loaded weights-only)."""
    folder = Path(folder)
    if not (folder / "pytorch_model.bin").is_file():
        raise FileNotFoundError(f"no pytorch_model.bin in {folder}")
    if (folder / "model.safetensors").exists():
        raise FileExistsError(f"{folder} already has model.safetensors; remove it to convert again")
    write_safetensors(read_state_dict(folder), folder / "model.safetensors")
    return folder / "model.safetensors"


class Difference(NamedTuple):
    """How far one output of ours is from transformers'."""
    diff: float    # largest |ours - theirs| over real (non-padding) positions
    scale: float   # max(1, largest |theirs|): fp32 rounding grows with the size of the numbers

    def passes(self, tol: float) -> bool:
        return self.diff <= tol * self.scale


def check(folder: str | Path, impl: str = "math", seed: int = 0) -> dict[str, Difference]:
    """Run the folder in minidistil and in transformers (eager attention) on one padded batch; return,
    per output, the largest absolute difference over real positions and the output's scale."""
    try:
        import transformers
    except ImportError:
        raise ImportError("check compares against transformers; install it with pip install transformers") from None
    cls, raw = model_class(folder)
    ours = cls.from_pretrained(folder, impl=impl)
    hf_arch = (raw.get("architectures") or ["DistilBertModel"])[0] if raw.get("model_type") == "distilbert" else (
        "BertForMaskedLM" if cls is DistilBertForMaskedLM else "BertModel")
    theirs = getattr(transformers, hf_arch).from_pretrained(str(folder), attn_implementation="eager").eval()
    g = torch.Generator().manual_seed(seed)
    T = min(16, ours.config.max_position_embeddings)
    ids = torch.randint(0, ours.config.vocab_size, (2, T), generator=g)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, T // 2:] = 0
    kind = kinds.for_head(cls)
    if kind and len(kind.input_axes) == 3:  # a choice model reads (B, K, T)
        ids, mask = ids[None], mask[None]
    with torch.no_grad():
        a = ours(ids, mask, output_hidden_states=True, output_attentions=True)
        b = theirs(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True)
    keep = mask.view(-1, T).bool()
    pairs = {}  # name -> (ours, theirs), restricted to real positions where the output has them
    for name in ("last_hidden_state", "logits", "start_logits", "end_logits"):
        if name in a._fields:
            x, y = getattr(a, name), getattr(b, name)
            per_token = name != "logits" or x.dim() == 3  # (B, T, ...) outputs: compare real tokens
            pairs[name] = (x[keep], y[keep]) if per_token else (x, y)
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        pairs[f"hidden_states[{i}]"] = x[keep], y[keep]
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        pairs[f"attentions[{i}]"] = x.transpose(1, 2)[keep], y.transpose(1, 2)[keep]  # real query rows
    return {name: Difference(float((x - y).abs().max()), max(1.0, float(y.abs().max())))
            for name, (x, y) in pairs.items()}
