"""Checkpoint IO: Hugging Face folders in and out, BERT -> DistilBERT, student extraction, parity check.

A model folder is Hugging Face's layout: `config.json` + `model.safetensors` (or a legacy
`pytorch_model.bin`). Our module names are Hugging Face's, so a DistilBERT checkpoint loads with a
strict key check; the only difference tolerated is the tied MLM projector, which transformers does
not save. A BERT folder (`model_type: bert`) is converted on load through the key table below.

    >>> teacher = DistilBertForMaskedLM.from_pretrained(sources.teacher_dir(), new_head=True)
    >>> student = extract_student(teacher, (0, 2, 5))   # 6 -> 3 layers
    >>> student.save_pretrained("student")              # loads in transformers as DistilBERT
"""
from __future__ import annotations

import json
import pickle
import re
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import DistilBertConfig
from .heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from .model import DistilBertModel

CLASSES = {c.__name__: c for c in (DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification,
                                   DistilBertForTokenClassification, DistilBertForQuestionAnswering,
                                   DistilBertForMultipleChoice)}
PREFIX = "distilbert."
HEAD_MODULES = ("vocab_transform", "vocab_layer_norm", "vocab_projector", "pre_classifier", "classifier",
                "qa_outputs")  # top-level modules of the heads; anything else must be encoder
TIED_KEY = "vocab_projector.weight"

# BERT -> DistilBERT. Regexes over BERT keys (the `bert.` prefix already removed); {0} is the layer.
BERT_KEY_TABLE = {
    r"embeddings\.word_embeddings\.(weight)": "distilbert.embeddings.word_embeddings.{0}",
    r"embeddings\.position_embeddings\.(weight)": "distilbert.embeddings.position_embeddings.{0}",
    r"embeddings\.LayerNorm\.(weight|bias)": "distilbert.embeddings.LayerNorm.{0}",
    r"encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)": "distilbert.transformer.layer.{0}.attention.q_lin.{1}",
    r"encoder\.layer\.(\d+)\.attention\.self\.key\.(weight|bias)": "distilbert.transformer.layer.{0}.attention.k_lin.{1}",
    r"encoder\.layer\.(\d+)\.attention\.self\.value\.(weight|bias)": "distilbert.transformer.layer.{0}.attention.v_lin.{1}",
    r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)": "distilbert.transformer.layer.{0}.attention.out_lin.{1}",
    r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)": "distilbert.transformer.layer.{0}.sa_layer_norm.{1}",
    r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)": "distilbert.transformer.layer.{0}.ffn.lin1.{1}",
    r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)": "distilbert.transformer.layer.{0}.ffn.lin2.{1}",
    r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)": "distilbert.transformer.layer.{0}.output_layer_norm.{1}",
    r"cls\.predictions\.transform\.dense\.(weight|bias)": "vocab_transform.{0}",
    r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)": "vocab_layer_norm.{0}",
    r"cls\.predictions\.decoder\.(weight)": "vocab_projector.{0}",
    r"cls\.predictions\.(bias)": "vocab_projector.{0}",
}
# Folded into the position table rather than mapped (token type 0 is added to every token).
BERT_TOKEN_TYPES = "embeddings.token_type_embeddings.weight"
# What DistilBERT has no place for: the pooler and the next-sentence head, an old position-id
# buffer, and a duplicate of the MLM bias. Named here so that any other key is an error.
BERT_DROPPED = (r"pooler\.dense\.(weight|bias)", r"cls\.seq_relationship\.(weight|bias)",
                r"embeddings\.position_ids", r"cls\.predictions\.decoder\.bias")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model."""


# ------------------------------------------------------------------ reading and writing files

def read_state_dict(folder: str | Path) -> dict[str, torch.Tensor]:
    folder = Path(folder)
    st, bin_ = folder / "model.safetensors", folder / "pytorch_model.bin"
    if st.is_file():
        try:
            return load_file(st)
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"{st} is truncated or corrupted and cannot be read ({e}); "
                                  f"save or download it again") from None
    if bin_.is_file():
        try:
            return torch.load(bin_, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            raise CheckpointError(f"refusing to load {bin_}: its pickle asks to run code, not just to "
                                  f"rebuild tensors (weights_only=True refused: {str(e).splitlines()[0]}); "
                                  f"use a trusted file, or model.safetensors") from None
        except (RuntimeError, EOFError) as e:
            raise CheckpointError(f"{bin_} is truncated or corrupted and cannot be read ({e})") from None
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {folder}")


def write_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    # safetensors refuses tensors that share memory; each entry gets its own contiguous copy.
    save_file({k: v.detach().contiguous().clone() for k, v in state.items()}, str(path), metadata={"format": "pt"})


def save_pretrained(model, folder: str | Path) -> Path:
    """Write config.json and model.safetensors, as transformers does (the tied projector left out)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    replace(model.config, architectures=[type(model).__name__]).save(folder)
    state = model.state_dict()
    if model.config.tie_word_embeddings:
        state.pop(TIED_KEY, None)
    write_safetensors(state, folder / "model.safetensors")
    return folder


# ------------------------------------------------------------------ BERT -> DistilBERT

def bert_config(d: dict, **overrides) -> DistilBertConfig:
    """A BERT config.json dict as a DistilBertConfig (same shapes, DistilBERT's field names)."""
    if d.get("hidden_act", "gelu") not in ("gelu", "relu"):
        raise ValueError(f"BERT activation {d['hidden_act']!r} has no DistilBERT equivalent (gelu or relu)")
    if d.get("layer_norm_eps", 1e-12) != 1e-12:
        raise ValueError(f"DistilBERT's LayerNorm eps is fixed at 1e-12, this BERT uses {d['layer_norm_eps']}")
    if d.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only BERT with absolute position embeddings converts to DistilBERT")
    return DistilBertConfig(
        vocab_size=d["vocab_size"], max_position_embeddings=d["max_position_embeddings"],
        n_layers=d["num_hidden_layers"], n_heads=d["num_attention_heads"], dim=d["hidden_size"],
        hidden_dim=d["intermediate_size"], dropout=d.get("hidden_dropout_prob", 0.1),
        attention_dropout=d.get("attention_probs_dropout_prob", 0.1), activation=d.get("hidden_act", "gelu"),
        initializer_range=d.get("initializer_range", 0.02), pad_token_id=d.get("pad_token_id") or 0,
        **{k: v for k, v in overrides.items() if v is not None})


def convert_bert_state_dict(bert: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BERT keys -> DistilBERT keys (encoder under `distilbert.`, MLM head if BERT has one)."""
    bert = {k.removeprefix("bert."): v for k, v in bert.items()}
    out, unknown = {}, []
    for key, value in bert.items():
        if key == BERT_TOKEN_TYPES or any(re.fullmatch(p, key) for p in BERT_DROPPED):
            continue
        for pattern, target in BERT_KEY_TABLE.items():
            m = re.fullmatch(pattern, key)
            if m:
                out[target.format(*m.groups())] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"BERT keys with no DistilBERT counterpart: {', '.join(sorted(unknown))}")
    if BERT_TOKEN_TYPES in bert:
        # DistilBERT has no token types; a BERT input with all types 0 adds row 0 to every token,
        # which is the same as adding it to every position.
        out["distilbert.embeddings.position_embeddings.weight"] = (
            out["distilbert.embeddings.position_embeddings.weight"] + bert[BERT_TOKEN_TYPES][0])
    return out


# ------------------------------------------------------------------ loading

def load_pretrained(cls, folder: str | Path, impl: str | None = None, new_head: bool = False, **overrides):
    """Build `cls` from a DistilBERT or BERT folder with a strict key check (see the module doc)."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}; a model folder holds config.json and "
                                f"model.safetensors (or pytorch_model.bin)")
    raw = json.loads(config_path.read_text())
    if "num_labels" in overrides and "id2label" not in overrides:
        raw.pop("id2label", None), raw.pop("label2id", None)  # the new label count wins
    state = read_state_dict(folder)
    if raw.get("model_type") == "bert":
        config, state = bert_config(raw, impl=impl, **overrides), convert_bert_state_dict(state)
    else:
        config = DistilBertConfig.from_dict(raw, impl=impl, **overrides)
        if not any(k.startswith(PREFIX) for k in state):  # saved from a bare DistilBertModel
            state = {PREFIX + k: v for k, v in state.items()}
    model = cls(config)
    expected = {(k if cls is not DistilBertModel else PREFIX + k): v for k, v in model.state_dict().items()}
    own_head = {k for k in expected if not k.startswith(PREFIX)}
    if cls is DistilBertModel or (new_head and not own_head & state.keys()):
        # The encoder alone is wanted, or a fresh head: any head in the file is left behind.
        state = {k: v for k, v in state.items() if k.split(".")[0] not in HEAD_MODULES}
        expected = {k: v for k, v in expected.items() if k not in own_head}
    if config.tie_word_embeddings and TIED_KEY in expected:
        tied = state.pop(TIED_KEY, None)
        word = state.get(PREFIX + "embeddings.word_embeddings.weight")
        if tied is not None and word is not None and not torch.equal(tied, word):
            raise CheckpointError(f"{folder}: config ties the MLM projector to the token embedding, "
                                  f"but the checkpoint holds different weights for the two")
        expected.pop(TIED_KEY)
    check_keys(folder, expected, state, has_head=bool(own_head), new_head=new_head)
    strip = cls is DistilBertModel
    missing, _ = model.load_state_dict({(k[len(PREFIX):] if strip else k): v for k, v in state.items()},
                                       strict=False)
    assert set(missing) <= own_head | {TIED_KEY}, missing  # check_keys let through only these
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    return model.eval()


def check_keys(folder, expected: dict, state: dict, has_head: bool, new_head: bool) -> None:
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    shapes = sorted(f"{k} {tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
                    for k in expected.keys() & state.keys() if state[k].shape != expected[k].shape)
    if not (missing or unexpected or shapes):
        return
    lines = [f"the checkpoint in {folder} does not fit the model:"]
    head_only = has_head and all(k.split(".")[0] in HEAD_MODULES for k in missing)
    if missing and head_only and not new_head and not unexpected and not shapes:
        lines.append("it has no weights for this task head (pass new_head=True to start the head fresh)")
    if missing:
        lines.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        lines.append(f"unexpected keys: {', '.join(unexpected)}")
    if shapes:
        lines.append(f"mis-shaped keys (does config.json match the weights?): {'; '.join(shapes)}")
    raise CheckpointError("\n  ".join(lines))


# ------------------------------------------------------------------ student extraction

# Teacher layers copied into the student, in order (Sanh et al. 2019 take every other layer).
# For the 6-layer MiniLM teacher -> 3 layers we keep the first layer (it reads the embeddings that
# the student inherits unchanged), the last (its output is what the cosine loss aligns), and
# layer 2 between them: every other layer from the bottom, then the top, as in 0, 2, 4 | ... 11.
STUDENT_LAYERS = {12: (0, 2, 4, 7, 9, 11), 6: (0, 2, 5)}


def extract_student(teacher, layers=None):
    """A copy of `teacher` (any minidistil class) keeping only the listed layers, renumbered 0.."""
    n = teacher.config.n_layers
    layers = tuple(STUDENT_LAYERS[n] if layers is None and n in STUDENT_LAYERS else layers or ())
    if not layers:
        raise ValueError(f"no default layer map for a {n}-layer teacher; pass layers, e.g. (0, {n - 1})")
    if any(not isinstance(i, int) or not 0 <= i < n for i in layers) or list(layers) != sorted(set(layers)):
        raise ValueError(f"layers must be distinct increasing teacher layer indices in [0, {n}), got {layers}")
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
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {folder}; is it a model folder?")
    raw = json.loads(path.read_text())
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
    state = read_state_dict(folder) if not (folder / "model.safetensors").exists() else None
    if state is None:
        raise FileExistsError(f"{folder} already has model.safetensors; remove it to convert again")
    write_safetensors(state, folder / "model.safetensors")
    return folder / "model.safetensors"


def check(folder: str | Path, impl: str = "math", seed: int = 0) -> dict[str, float]:
    """Run the folder in minidistil and in transformers on one padded batch; return the largest
    absolute difference per output, over real (non-padding) positions."""
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
    diffs = {}
    for name in ("last_hidden_state", "logits", "start_logits", "end_logits"):
        if name in a._fields:
            x, y = getattr(a, name), getattr(b, name)
            per_token = name != "logits" or x.dim() == 3  # (B, T, ...) outputs: compare real tokens
            diffs[name] = ((x - y)[keep] if per_token else x - y).abs().max()
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        diffs[f"hidden_states[{i}]"] = (x - y)[keep].abs().max()
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        diffs[f"attentions[{i}]"] = (x - y).transpose(1, 2)[keep].abs().max()  # real query rows
    return {k: float(v) for k, v in diffs.items()}
