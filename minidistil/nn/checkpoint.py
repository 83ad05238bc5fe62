"""Model folders in and out: Hugging Face's layout, strict key checks, BERT folders converted on load.

A model folder is `config.json` + `model.safetensors` (or a legacy `pytorch_model.bin`). Our module
names are Hugging Face's, so a DistilBERT checkpoint loads with a strict key check; the only
difference tolerated is the tied MLM projector, which transformers does not save. A BERT folder
(`model_type: bert`) is converted on load through the key table below.

This file knows the file format and the config, not the model classes: `load_pretrained` builds
whichever class it is handed, so the model classes can call it (`DistilBertModel.from_pretrained`).

    >>> model = load_pretrained(DistilBertForMaskedLM, sources.teacher_dir(), new_head=True)
    >>> save_pretrained(model, "teacher")               # loads in transformers as DistilBERT
"""
from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from minidistil.utils import builds
from minidistil.nn.config import DistilBertConfig, read_json
from minidistil.utils.fsutil import replace_folder
from minidistil.tokenizer import copy_tokenizer_files

MODEL_DIR = "model"  # every step of the recipe writes its final model into OUT/model

PREFIX = "distilbert."  # the encoder's keys inside a head model
HEAD_MODULES = ("vocab_transform", "vocab_layer_norm", "vocab_projector", "pre_classifier", "classifier",
                "qa_outputs")  # the built-in heads' top-level modules (old name; `is_head_key` is the rule)
TIED_KEY = "vocab_projector.weight"


def is_head_key(key: str) -> bool:
    """A head's weight: every key outside the encoder (`distilbert.`, once a bare encoder's keys
    are prefixed on load), so a new head needs no list here."""
    return not key.startswith(PREFIX)

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
BERT_REQUIRED = ("vocab_size", "max_position_embeddings", "num_hidden_layers", "num_attention_heads",
                 "hidden_size", "intermediate_size")


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
        return read_bin(bin_)
    raise FileNotFoundError(f"no model.safetensors or pytorch_model.bin in {folder}")


def read_bin(path: Path) -> dict[str, torch.Tensor]:
    """A pytorch_model.bin, unpickled with weights_only=True: tensors are rebuilt, no code runs."""
    head = path.open("rb").read(4)
    # torch.save writes a zip archive (PK..); the legacy format is a pickle (protocol byte 0x80).
    if not (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        what = "is empty" if not head else f"starts with {head!r}, neither a zip archive nor a pickle"
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (it {what}); download or save the model again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):  # malformed opcodes, not a request to run code
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (its pickle is malformed); "
                                  f"download or save the model again") from None
        raise CheckpointError(f"refusing to load {path}: its pickle asks to run code, not just to "
                              f"rebuild tensors (weights_only=True refused: {str(e).splitlines()[0]}); "
                              f"use a trusted file, or model.safetensors") from None
    except (RuntimeError, EOFError, KeyError) as e:
        raise CheckpointError(f"{path} is truncated or corrupted and cannot be read ({e}); "
                              f"download or save the model again") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} holds a {type(state).__name__}, not a dict of named tensors; "
                              f"save the model's state_dict() (or use save_pretrained)")
    return state


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

def save_model(model, source_dir, folder: Path) -> None:
    """save_pretrained, plus the tokenizer files of the source folder so the folder stands alone.
    Written beside `folder` and swapped in whole when complete: a crash or a full disk never
    leaves a half-written model where a good one was."""
    with replace_folder(folder, marker="config.json") as tmp:
        model.save_pretrained(tmp)
        copy_tokenizer_files(source_dir, tmp)


def bert_config(d: dict, **overrides) -> DistilBertConfig:
    """A BERT config.json dict as a DistilBertConfig (same shapes, DistilBERT's field names)."""
    missing = [k for k in BERT_REQUIRED if k not in d]
    if missing:
        raise ValueError(f"this BERT config.json lacks {', '.join(missing)}; use the config.json that came "
                         f"with the weights")
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


def weights_kind(state: dict) -> str:
    """'bert', 'distilbert' or 'unknown', from the key names alone."""
    if any(k.startswith(("bert.", "encoder.layer.")) for k in state):
        return "bert"
    if any(k.startswith((PREFIX, "transformer.layer.")) for k in state):
        return "distilbert"
    return "unknown"


# ------------------------------------------------------------------ loading

def read_config(folder: Path, state: dict, impl: str | None, overrides: dict) -> tuple[DistilBertConfig, bool]:
    """The folder's config as a DistilBertConfig, and whether it describes a BERT (then `state` is too)."""
    path = folder / "config.json"
    try:
        raw = read_json(path)
        is_bert, kind = raw.get("model_type") == "bert", weights_kind(state)
        if kind != "unknown" and kind != ("bert" if is_bert else "distilbert"):
            raise ValueError(f"it says model_type {'bert' if is_bert else 'distilbert'!r} but the weights "
                             f"are {kind}'s; put the config.json that came with the weights beside them")
        if "num_labels" in overrides and "id2label" not in overrides:
            raw.pop("id2label", None), raw.pop("label2id", None)  # the new label count wins
        if is_bert:
            return bert_config(raw, impl=impl, **overrides), True
        return DistilBertConfig.from_dict(raw, impl=impl, **overrides), False
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None


# Other folder formats register a reader and a writer here, so that `from_pretrained` and
# `save_pretrained` serve them without the model knowing them: the int8 folders of quantize.py.
# reader: (detect(folder) -> bool, load(cls, folder, impl, new_head, **overrides)); writer: (detect(model), save).
READERS: list[tuple] = []
WRITERS: list[tuple] = []


def register_format(detect_folder, load, detect_model, save) -> None:
    READERS.append((detect_folder, load))
    WRITERS.append((detect_model, save))


def load_folder(cls, folder: str | Path, impl: str | None = None, new_head: bool = False, **overrides):
    """`load_pretrained`, or the reader of a registered format that recognises the folder. When a
    folder of a cached build (`minidistil.utils.builds`) fails to load, its manifest says which file is damaged."""
    try:
        for detect, load in READERS:
            if detect(folder):
                return load(cls, folder, impl=impl, new_head=new_head, **overrides)
        return load_pretrained(cls, folder, impl=impl, new_head=new_head, **overrides)
    except CheckpointError as e:
        for root in (Path(folder), Path(folder).parent):
            if builds.read_manifest(root) is not None and (wrong := builds.problem(root, hashes=True)):
                # A file of the wrong size makes its build command rebuild the entry; one of the right size
                # but other bytes passes that cheap check, so only removing the entry repairs it.
                advice = builds.rebuild_advice(root, remove=builds.problem(root) is None)
                raise CheckpointError(f"{root} is a cached build whose files differ from its manifest ({wrong}): "
                                      f"{advice}; the load failed with: {e}") from None
        raise


def save_folder(model, folder: str | Path) -> Path:
    """`save_pretrained`, or the writer of a registered format that the model is in."""
    for detect, save in WRITERS:
        if detect(model):
            return save(model, folder)
    return save_pretrained(model, folder)


def load_pretrained(cls, folder: str | Path, impl: str | None = None, new_head: bool = False, **overrides):
    """Build `cls` from a DistilBERT or BERT folder with a strict key check (see the module doc)."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {folder}; a model folder holds config.json and "
                                f"model.safetensors (or pytorch_model.bin)")
    state = read_state_dict(folder)
    config, is_bert = read_config(folder, state, impl, overrides)
    if is_bert:
        state = convert_bert_state_dict(state)
    elif not any(k.startswith(PREFIX) for k in state):  # saved from a bare DistilBertModel
        state = {PREFIX + k: v for k, v in state.items()}
    model = cls(config)
    bare = not hasattr(model, "distilbert")  # DistilBertModel itself: its own keys carry no prefix
    expected = {(PREFIX + k if bare else k): v for k, v in model.state_dict().items()}
    own_head = {k for k in expected if not k.startswith(PREFIX)}
    if bare or (new_head and not own_head & state.keys()):
        # The encoder alone is wanted, or a fresh head: any head in the file is left behind.
        state = {k: v for k, v in state.items() if not is_head_key(k)}
        expected = {k: v for k, v in expected.items() if k not in own_head}
    if config.tie_word_embeddings and TIED_KEY in expected:
        tied = state.pop(TIED_KEY, None)
        word = state.get(PREFIX + "embeddings.word_embeddings.weight")
        if tied is not None and word is not None and not torch.equal(tied, word):
            raise CheckpointError(f"{folder}: config ties the MLM projector to the token embedding, "
                                  f"but the checkpoint holds different weights for the two")
        expected.pop(TIED_KEY)
    check_keys(folder, expected, state, has_head=bool(own_head), new_head=new_head)
    missing, _ = model.load_state_dict({(k[len(PREFIX):] if bare else k): v for k, v in state.items()},
                                       strict=False)
    assert set(missing) <= own_head | {TIED_KEY}, missing  # check_keys let through only these
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    return model.eval()


def check_keys(folder, expected: dict, state: dict, has_head: bool, new_head: bool) -> None:
    """Raise one CheckpointError listing every key that is missing, unexpected, mis-shaped, or holds
    integers where the model has float weights (load_state_dict would cast them silently)."""
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    common = sorted(expected.keys() & state.keys())
    shapes = [f"{k} {tuple(state[k].shape)} in the file, {tuple(expected[k].shape)} in the model"
              for k in common if state[k].shape != expected[k].shape]
    dtypes = [f"{k} ({state[k].dtype})" for k in common
              if expected[k].is_floating_point() and not state[k].is_floating_point()]
    if not (missing or unexpected or shapes or dtypes):
        return
    lines = [f"the checkpoint in {folder} does not fit the model:"]
    head_only = has_head and all(is_head_key(k) for k in missing)
    if missing and head_only and not new_head and not unexpected and not shapes:
        lines.append("it has no weights for this task head (pass new_head=True to start the head fresh)")
    if missing:
        lines.append(f"missing keys: {', '.join(missing)}")
    if unexpected:
        lines.append(f"unexpected keys: {', '.join(unexpected)}")
    if shapes:
        lines.append(f"mis-shaped keys (does config.json match the weights?): {'; '.join(shapes)}")
    if dtypes:
        lines.append(f"integer or boolean tensors where the model has float weights, refused rather than "
                     f"cast (was the file written by another program?): {', '.join(dtypes)}")
    raise CheckpointError("\n  ".join(lines))
