"""The DistilBERT configuration: Hugging Face's field names and defaults, one dataclass.

    >>> cfg = DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=3)
    >>> cfg.save("folder")                        # writes folder/config.json, readable by transformers
    >>> DistilBertConfig.load("folder").n_layers
    3
    >>> cfg.num_labels = 3                        # as in transformers, the label names follow
    >>> cfg.id2label
    {0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2'}
    >>> DistilBertConfig(hidden_size=384, num_attention_heads=12, num_hidden_layers=3).dim   # transformers' names
    384
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ACTIVATIONS = ("gelu", "relu")  # DistilBERT's own choices; "gelu" is the exact erf form
IMPLS = ("math", "fast")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")
# transformers' generic names for three DistilBERT fields (its DistilBertConfig.attribute_map).
ALIASES = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}


def default_labels(n: int) -> dict[int, str]:
    return {i: f"LABEL_{i}" for i in range(n)}


@dataclass
class DistilBertConfig:
    vocab_size: int = 30522               # V, rows of the token embedding and of the MLM projector
    max_position_embeddings: int = 512    # longest sequence the position table covers
    sinusoidal_pos_embds: bool = False    # fixed sin/cos positions instead of a learned table
    n_layers: int = 6                     # L, transformer blocks (alias: num_hidden_layers)
    n_heads: int = 12                     # H, attention heads; must divide dim (alias: num_attention_heads)
    dim: int = 768                        # C, the model width, the residual stream (alias: hidden_size)
    hidden_dim: int = 4 * 768             # F, the FFN's inner size. Trap: NOT the model width (that is dim)
    dropout: float = 0.1                  # on embeddings, FFN output, token-classification head
    attention_dropout: float = 0.1        # on the attention probabilities
    activation: str = "gelu"              # FFN and MLM-head activation: "gelu" (exact erf) or "relu"
    initializer_range: float = 0.02       # std of the normal init of Linear and Embedding weights
    qa_dropout: float = 0.1               # before the question-answering projection
    seq_classif_dropout: float = 0.2      # in the sequence-classification and multiple-choice heads
    pad_token_id: int = 0                 # its embedding row starts at zero and gets no gradient
    tie_word_embeddings: bool = True      # the MLM projector shares the token embedding matrix
    # Head fields that Hugging Face keeps on its base PretrainedConfig.
    id2label: dict[int, str] | None = None  # label names; default LABEL_0 .. LABEL_{num_labels-1}
    label2id: dict[str, int] | None = None
    num_labels: int = 2                   # outputs of the classification heads (2 for QA: start, end)
    problem_type: str | None = None       # None: decided from num_labels and the labels' dtype
    # Ours, not Hugging Face's: which implementation of the ops runs (see model.py).
    impl: str = "fast"                    # "math" (equations written out) or "fast" (fused kernels)
    architectures: list[str] | None = field(default=None, repr=False)  # written by save_pretrained

    def __post_init__(self):
        if self.id2label is not None:
            self.id2label = label_names(self.id2label)
            self.num_labels = len(self.id2label)
        else:
            check_positive_int("num_labels", self.num_labels)
            self.id2label = default_labels(self.num_labels)
        if not isinstance(self.label2id, dict) or len(self.label2id) != len(self.id2label):
            self.label2id = {v: k for k, v in self.id2label.items()}
        try:
            self.label2id = {str(k): int(v) for k, v in self.label2id.items()}
        except (TypeError, ValueError):
            raise ValueError(f"config.label2id must map label names to class ids, got {self.label2id!r}") from None
        for name in ("vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim"):
            check_positive_int(name, getattr(self, name))
        if self.dim % self.n_heads != 0:
            raise ValueError(f"config.n_heads ({self.n_heads}) must divide config.dim ({self.dim}) evenly: "
                             f"each head gets dim / n_heads channels")
        for name in ("dropout", "attention_dropout", "qa_dropout", "seq_classif_dropout", "initializer_range"):
            value = getattr(self, name)
            top = float("inf") if name == "initializer_range" else 1.0
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < top:
                raise ValueError(f"config.{name} must be a number in [0, {top:g}), got {value!r}")
        for name in ("sinusoidal_pos_embds", "tie_word_embeddings"):
            if not isinstance(getattr(self, name), bool):  # the string "false" would read as True
                raise ValueError(f"config.{name} must be true or false, got {getattr(self, name)!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"config.activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.impl not in IMPLS:
            raise ValueError(f"config.impl must be 'math' or 'fast', got {self.impl!r}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"config.problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if isinstance(self.pad_token_id, bool) or not isinstance(self.pad_token_id, int) or \
                not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"config.pad_token_id must be a token id below vocab_size ({self.vocab_size}), "
                             f"got {self.pad_token_id!r}")
        self._ready = True  # from here on, __setattr__ keeps num_labels and the label maps in step

    def __setattr__(self, name, value):
        # transformers derives num_labels from id2label: setting a new count resets the label names
        # (LABEL_0 ..), and new names give the count. Without this, `config.num_labels = 3` builds a
        # 3-class head whose saved config still says 2 labels.
        if self.__dict__.get("_ready") and name == "num_labels" and value != self.num_labels:
            check_positive_int("num_labels", value)
            self.id2label = default_labels(value)
            return
        if self.__dict__.get("_ready") and name == "id2label":
            value = label_names(value)
            super().__setattr__("num_labels", len(value))
            super().__setattr__("label2id", {v: k for k, v in value.items()})
        super().__setattr__(name, value)

    # transformers' generic names, read and write (see ALIASES).
    hidden_size = property(lambda self: self.dim, lambda self, v: setattr(self, "dim", v))
    num_attention_heads = property(lambda self: self.n_heads, lambda self, v: setattr(self, "n_heads", v))
    num_hidden_layers = property(lambda self: self.n_layers, lambda self, v: setattr(self, "n_layers", v))

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    # -------------------------------------------------------------- config.json

    def to_dict(self) -> dict:
        d = asdict(self)
        d["id2label"] = {str(k): v for k, v in self.id2label.items()}
        d["model_type"] = "distilbert"
        return d

    @classmethod
    def from_dict(cls, d: dict, **overrides) -> "DistilBertConfig":
        """Build from a config.json dict. Keys we have no field for (Hugging Face bookkeeping such as
        `transformers_version` or `dtype`) are left out; `model_type`, if present, must be distilbert;
        transformers' aliases (hidden_size, ...) stand for our names when those are absent."""
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a JSON object of field names and values, got {json_kind(d)}")
        if d.get("model_type", "distilbert") != "distilbert":
            raise ValueError(f"config.json has model_type {d['model_type']!r}, expected 'distilbert' "
                             f"(a BERT folder is converted by minidistil.nn.checkpoint)")
        d = {**{ALIASES[k]: v for k, v in d.items() if k in ALIASES}, **d}
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / "config.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path, **overrides) -> "DistilBertConfig":
        return cls.from_dict(read_json(Path(folder) / "config.json"), **overrides)


def accept_aliases(init):
    """The dataclass's __init__, also taking transformers' generic names as keywords (see ALIASES):
    `DistilBertConfig(hidden_size=384)` is `DistilBertConfig(dim=384)`, as in transformers."""
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if "intermediate_size" in kwargs:
            # transformers has no such alias: it keeps intermediate_size as an unused extra and builds
            # the default 3072-wide FFN, so a BERT-style config silently gets the wrong FFN there.
            raise ValueError(f"DistilBERT calls the FFN size hidden_dim: pass hidden_dim="
                             f"{kwargs['intermediate_size']!r} (transformers' DistilBertConfig ignores "
                             f"intermediate_size and keeps hidden_dim=3072)")
        for alias, name in ALIASES.items():
            if alias in kwargs:
                if name in kwargs and kwargs[name] != kwargs[alias]:
                    raise ValueError(f"{alias} is another name for {name}; pass one of them, got "
                                     f"{alias}={kwargs[alias]!r} and {name}={kwargs[name]!r}")
                kwargs[name] = kwargs.pop(alias)
        init(self, *args, **kwargs)
    return __init__


DistilBertConfig.__init__ = accept_aliases(DistilBertConfig.__init__)


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config.{name} must be a positive integer, got {value!r}")


def label_names(id2label) -> dict[int, str]:
    """id2label with int keys (JSON object keys are strings)."""
    try:
        return {int(k): str(v) for k, v in id2label.items()}
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"config.id2label must map class ids to label names, e.g. {{0: 'neg', 1: 'pos'}}, "
                         f"got {id2label!r}") from None


def read_json(path: Path) -> dict:
    """A config.json as a dict, or a sentence saying why it is not one."""
    if not path.is_file():
        raise FileNotFoundError(f"no config.json in {path.parent}; a model folder holds config.json "
                                f"and model.safetensors (or pytorch_model.bin)")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is {'empty' if not path.stat().st_size else f'not valid JSON ({e})'}; "
                         f"restore it from the original model folder or save the model again") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path} holds {json_kind(d)}, not an object of field names and values; "
                         f"restore it from the original model folder or save the model again")
    return d


def json_kind(value) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}
    return f"a JSON {names.get(type(value), type(value).__name__)}"
