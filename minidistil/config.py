"""The DistilBERT configuration: Hugging Face's field names and defaults, one dataclass.

    >>> cfg = DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=3)
    >>> cfg.save("folder")                        # writes folder/config.json, readable by transformers
    >>> DistilBertConfig.load("folder").n_layers
    3
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ACTIVATIONS = ("gelu", "relu")  # DistilBERT's own choices; "gelu" is the exact erf form
IMPLS = ("math", "fast")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")


@dataclass
class DistilBertConfig:
    vocab_size: int = 30522               # V, rows of the token embedding and of the MLM projector
    max_position_embeddings: int = 512    # longest sequence the position table covers
    sinusoidal_pos_embds: bool = False    # fixed sin/cos positions instead of a learned table
    n_layers: int = 6                     # L, transformer blocks
    n_heads: int = 12                     # H, attention heads; must divide dim
    dim: int = 768                        # C, the model width (the residual stream)
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
            # JSON object keys are strings; labels are indexed by int.
            self.id2label = {int(k): str(v) for k, v in self.id2label.items()}
            self.num_labels = len(self.id2label)
        else:
            self.id2label = {i: f"LABEL_{i}" for i in range(self.num_labels)}
        if self.label2id is None or len(self.label2id) != len(self.id2label):
            self.label2id = {v: k for k, v in self.id2label.items()}
        self.label2id = {str(k): int(v) for k, v in self.label2id.items()}
        for name in ("vocab_size", "max_position_embeddings", "n_layers", "n_heads", "dim", "hidden_dim",
                     "num_labels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
        if self.dim % self.n_heads != 0:
            raise ValueError(f"config.n_heads ({self.n_heads}) must divide config.dim ({self.dim}) evenly: "
                             f"each head gets dim / n_heads channels")
        for name in ("dropout", "attention_dropout", "qa_dropout", "seq_classif_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"config.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"config.activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.impl not in IMPLS:
            raise ValueError(f"config.impl must be 'math' or 'fast', got {self.impl!r}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"config.problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"config.pad_token_id ({self.pad_token_id}) must be a token id below "
                             f"vocab_size ({self.vocab_size})")
        if self.sinusoidal_pos_embds and self.dim % 2:
            raise ValueError(f"sinusoidal positions pair a sin and a cos channel, so dim must be even, got {self.dim}")

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
        `transformers_version` or `dtype`) are left out; `model_type`, if present, must be distilbert."""
        if d.get("model_type", "distilbert") != "distilbert":
            raise ValueError(f"config.json has model_type {d['model_type']!r}, expected 'distilbert' "
                             f"(a BERT folder is converted by minidistil.convert)")
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
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"no config.json in {folder}; a model folder holds config.json "
                                    f"and model.safetensors (or pytorch_model.bin)")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON ({e})") from None
        return cls.from_dict(d, **overrides)
