"""The converter's library (weights_convert.py is its command line): which class a folder holds,
a student cut out of a teacher, pytorch_model.bin -> model.safetensors, and a check against transformers.

Reading and writing folders, BERT included, is checkpoint.py's job; its names are re-exported here
for code that imports them from minidistil.convert.

    >>> teacher = DistilBertForMaskedLM.from_pretrained(sources.teacher_dir(), new_head=True)
    >>> student = extract_student(teacher)              # 6 -> 3 layers: teacher layers 0, 2, 5
    >>> student.save_pretrained("student")              # loads in transformers as DistilBERT
    >>> check("student")["logits"].passes(tol=1e-4)
    True
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import torch

from .checkpoint import (CheckpointError, load_pretrained, read_state_dict, save_pretrained,  # noqa: F401 (re-exported)
                         write_safetensors)
from .config import read_json
from .heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from .model import DistilBertModel

CLASSES = {c.__name__: c for c in (DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification,
                                   DistilBertForTokenClassification, DistilBertForQuestionAnswering,
                                   DistilBertForMultipleChoice)}


# ------------------------------------------------------------------ student extraction

# Teacher layers copied into the student, in order (Sanh et al. 2019 take every other layer).
# For the 6-layer MiniLM teacher -> 3 layers we keep the first layer (it reads the embeddings that
# the student inherits unchanged), the last (its output is what the cosine loss aligns), and
# layer 2 between them: every other layer from the bottom, then the top, as in 0, 2, 4 | ... 11.
STUDENT_LAYERS = {12: (0, 2, 4, 7, 9, 11), 6: (0, 2, 5)}


def student_layers(n_layers: int, layers=None) -> tuple[int, ...]:
    """The teacher layers a student keeps: `layers` checked, or the default for the teacher's depth."""
    if layers is None:
        if n_layers not in STUDENT_LAYERS:
            raise ValueError(f"no default layer map for a {n_layers}-layer teacher (defaults exist for "
                             f"{' and '.join(map(str, sorted(STUDENT_LAYERS)))} layers); pass the teacher "
                             f"layers to keep, e.g. (0, {n_layers - 1})")
        return STUDENT_LAYERS[n_layers]
    layers = tuple(layers)
    if not layers or any(not isinstance(i, int) or not 0 <= i < n_layers for i in layers) or \
            list(layers) != sorted(set(layers)):
        raise ValueError(f"layers must be distinct increasing teacher layer indices in [0, {n_layers}), "
                         f"got {layers}")
    return layers


def extract_student(teacher, layers=None):
    """A copy of `teacher` (any minidistil class) keeping only the listed layers, renumbered 0..
    (default: STUDENT_LAYERS for the teacher's depth)."""
    layers = student_layers(teacher.config.n_layers, layers)
    student = type(teacher)(replace(teacher.config, n_layers=len(layers)))
    state = {}
    for key, value in teacher.state_dict().items():
        m = re.match(r"(.*transformer\.layer\.)(\d+)(\..*)", key)
        if m is None:
            state[key] = value.clone()
        elif int(m.group(2)) in layers:
            state[m.group(1) + str(layers.index(int(m.group(2)))) + m.group(3)] = value.clone()
    student.load_state_dict(state, strict=True)
    if hasattr(student, "tie_weights"):
        student.tie_weights()
    return student.train(teacher.training)


# ------------------------------------------------------------------ folder tools

def model_class(folder: str | Path):
    """The minidistil class for a folder, from config.json's architectures (BERT maps to ours)."""
    raw = read_json(Path(folder) / "config.json")
    arch = (raw.get("architectures") or ["DistilBertModel"])[0]
    arch = {"BertModel": "DistilBertModel", "BertForMaskedLM": "DistilBertForMaskedLM",
            "BertForPreTraining": "DistilBertForMaskedLM"}.get(arch, arch)
    if arch not in CLASSES:
        raise ValueError(f"{folder}: architecture {arch!r} is not one of {', '.join(CLASSES)}")
    return CLASSES[arch], raw


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
    if cls is DistilBertForMultipleChoice:
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
