"""The settings of `generate`, one record, under transformers' `GenerationConfig` names and defaults.

A model folder may hold `generation_config.json` beside `config.json` (transformers reads and writes
the same file); `DistilBertEncoderDecoder.from_pretrained` reads it into `model.generation_config`,
and `generate(model, ..., num_beams=2)` overrides a field for one call. The translator's beam size,
length penalty and length limit live there, not in the pipeline or the command line.

    >>> cfg = GenerationConfig(num_beams=4, max_length=65)
    >>> cfg.update(num_beams=1).num_beams
    1
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

FILE = "generation_config.json"


@dataclass(frozen=True)
class GenerationConfig:
    # length
    max_length: int = 20                  # decoder tokens, the start token (and any prefix) included
    max_new_tokens: int | None = None     # tokens written after the decoder prefix; wins over max_length
    min_length: int = 0                   # the end token is forbidden before this many decoder tokens
    min_new_tokens: int | None = None     # ... before this many tokens after the prefix
    early_stopping: bool | str = False    # beams: True, False or "never" (see generate.beam_search)
    # strategy
    do_sample: bool = False
    num_beams: int = 1
    num_return_sequences: int = 1         # rows per source (the best ones for beams)
    use_cache: bool = True
    # the logits processors, applied in this order (generation_processors.logits_processors)
    repetition_penalty: float = 1.0       # > 1 lowers tokens already written (Keskar et al. 2019)
    no_repeat_ngram_size: int = 0         # > 0: no n-gram of this size twice
    bad_words_ids: list | None = None     # token sequences never to write
    forced_bos_token_id: int | None = None  # the first token written
    forced_eos_token_id: int | list | None = None  # the token written at max_length - 1
    temperature: float = 1.0              # sampling only, as top_k and top_p
    top_k: int = 50
    top_p: float = 1.0
    length_penalty: float = 1.0           # beams: a finished score is sum(log p) / length ** length_penalty
    # special tokens (None: the model config's)
    decoder_start_token_id: int | None = None
    eos_token_id: int | list | None = None  # an id, a list of ids, or None through `update` (no end token)
    pad_token_id: int | None = None
    # outputs
    return_dict_in_generate: bool = False
    output_scores: bool = False
    output_attentions: bool = False
    output_hidden_states: bool = False

    def __post_init__(self):
        for name in ("max_length", "num_beams", "num_return_sequences"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_new_tokens", "min_new_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative integer or None, got {value!r}")
        if self.early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}")
        if self.num_return_sequences > self.num_beams and self.num_beams > 1:
            raise ValueError(f"num_return_sequences ({self.num_return_sequences}) must be at most num_beams "
                             f"({self.num_beams}): a beam search keeps num_beams translations")
        if self.num_return_sequences > 1 and self.num_beams == 1 and not self.do_sample:
            raise ValueError("greedy decoding gives one translation per source; num_return_sequences > 1 "
                             "needs do_sample=True or num_beams >= num_return_sequences")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise ValueError(f"top_k must be a non-negative integer (0: off), got {self.top_k!r}")
        if not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0 (1: off), got {self.repetition_penalty}")
        if self.bad_words_ids is not None and not all(
                isinstance(w, (list, tuple)) and w and all(isinstance(t, int) for t in w) for w in self.bad_words_ids):
            raise ValueError(f"bad_words_ids is a list of token id lists, like [[5], [7, 8]], got {self.bad_words_ids!r}")

    def update(self, **overrides) -> "GenerationConfig":
        """A copy with `overrides` (keyword names of generate); an unknown name is an error."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"generate got unknown setting(s) {', '.join(unknown)}; the settings are "
                            f"GenerationConfig's fields ({', '.join(sorted(known))})")
        return replace(self, **overrides)

    def eos_ids(self) -> list[int]:
        """The end tokens as a list ([] with eos_token_id None: rows run to the length limit)."""
        eos = self.eos_token_id
        return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)

    def to_dict(self) -> dict:
        """Only the fields that differ from the defaults, as transformers writes the file."""
        default = GenerationConfig()
        return {k: v for k, v in asdict(self).items() if v != getattr(default, k)}

    def save_pretrained(self, folder) -> Path:
        path = Path(folder) / FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def from_pretrained(cls, folder) -> "GenerationConfig | None":
        """The folder's generation_config.json, or None without one. Keys transformers writes that
        minidistil does not use (`transformers_version`, `_from_model_config`, ...) are skipped."""
        path = Path(folder) / FILE
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in raw.items() if k in known})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_model_config(cls, config) -> "GenerationConfig":
        """The special tokens of an EncoderDecoderConfig, everything else at the defaults."""
        return cls(decoder_start_token_id=config.decoder_start_token_id, eos_token_id=config.eos_token_id,
                   pad_token_id=config.pad_token_id)
