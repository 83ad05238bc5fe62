"""BERT's masked-language-model corruption, and DistilBERT's frequency-smoothed variant.

BERT (Devlin et al. 2019, section 3.1) picks 15% of the tokens as prediction targets; of those,
80% are replaced by `[MASK]`, 10% by a random token and 10% are left as they are, so that the model
cannot learn that only `[MASK]` positions matter. Special tokens (`[CLS]`, `[SEP]`) and padding are
never picked.

DistilBERT's training code adds `mlm_smoothing`: instead of picking positions uniformly, it picks
them with probability proportional to `count(token) ** -0.7` (the word2vec trick, Mikolov et al.
2013), so that rare tokens are predicted more often than "the" and ",".

    >>> ids = torch.tensor([[101, 7592, 2088, 102, 0]])          # [CLS] hello world [SEP] [PAD]
    >>> inputs, labels = mask_tokens(ids, torch.tensor([[1, 1, 1, 1, 0]]), mask_token_id=103,
    ...                              vocab_size=30522, special_ids=[0, 101, 102])
    >>> labels                                                   # -100: not a target
    tensor([[-100, 7592, -100, -100, -100]])

Training tasks hold these settings as one `Masking`, built for a prepared corpus with
`Masking.for_corpus(corpus, MaskingOptions(mlm_smoothing=0.7))` and applied as
`masking(input_ids, attention_mask)`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from minidistil.nn.losses import IGNORE_INDEX


MLM_PROBABILITY = 0.15  # BERT's share of the tokens that become prediction targets
MLM_SMOOTHING = 0.7     # DistilBERT's code: positions picked in proportion to count(token) ** -0.7


@dataclass
class MaskingOptions:
    """The masking knobs a run chooses (the command line's --mlm-probability and --mlm-smoothing)."""
    mlm_probability: float = MLM_PROBABILITY  # share of tokens predicted
    mlm_smoothing: float = 0.0                # pick masked positions by frequency ** -x; 0: uniform (DistilBERT: 0.7)

    def __post_init__(self):
        if not 0.0 < self.mlm_probability <= 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1], got {self.mlm_probability}")
        if self.mlm_smoothing < 0:
            raise ValueError(f"mlm_smoothing must be >= 0, got {self.mlm_smoothing}; DistilBERT used {MLM_SMOOTHING}")


@dataclass
class Masking:
    """What `mask_tokens` needs besides the batch: the vocabulary's special ids and the rates."""
    mask_token_id: int
    vocab_size: int
    special_ids: tuple[int, ...]                # never picked as targets ([CLS], [SEP], [PAD], [MASK])
    mlm_probability: float = MLM_PROBABILITY    # share of the candidate tokens predicted
    token_probs: torch.Tensor | None = None     # (V,) weight per token id (`smoothed_token_probs`); None: uniform

    def __post_init__(self):
        self.special_ids = tuple(self.special_ids)
        if not 0.0 < self.mlm_probability <= 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1], got {self.mlm_probability}")

    @classmethod
    def for_corpus(cls, corpus, options: MaskingOptions | None = None) -> "Masking":
        """The masking of a prepared `TokenCorpus`: its special ids and vocabulary, and with
        `options.mlm_smoothing` > 0 DistilBERT's frequency weights from its token counts."""
        options = options or MaskingOptions()
        ids = corpus.special_ids
        special = (ids["cls"], ids["sep"], ids["pad"], ids["mask"])
        smoothing = options.mlm_smoothing
        probs = smoothed_token_probs(corpus.counts, special, smoothing) if smoothing else None
        return cls(ids["mask"], corpus.vocab_size, special, options.mlm_probability, probs)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`(corrupted input_ids, labels)` for one batch, as `mask_tokens`."""
        return mask_tokens(input_ids, attention_mask, mask_token_id=self.mask_token_id, vocab_size=self.vocab_size,
                           special_ids=self.special_ids, mlm_probability=self.mlm_probability,
                           token_probs=self.token_probs, generator=generator)


def smoothed_token_probs(counts: np.ndarray, special_ids, smoothing: float = MLM_SMOOTHING) -> torch.Tensor:
    """Per-token-id weights `max(count, 1) ** -smoothing`, zero for special tokens.

    `counts` is the token frequency table written by `minidistil.data.prepare_corpus`. Tokens never
    seen count as seen once, so that they do not get an infinite weight.
    """
    if smoothing < 0:
        raise ValueError(f"mlm_smoothing must be >= 0, got {smoothing}; DistilBERT used {MLM_SMOOTHING}")
    probs = np.maximum(np.asarray(counts, dtype=np.float64), 1.0) ** -smoothing
    probs[list(special_ids)] = 0.0
    return torch.tensor(probs, dtype=torch.float32)


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, *, mask_token_id: int,
                vocab_size: int, special_ids, mlm_probability: float = MLM_PROBABILITY,
                mask_fraction: float = 0.8, random_fraction: float = 0.1,
                token_probs: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `(corrupted input_ids, labels)` for one batch; labels are IGNORE_INDEX (-100) off target.

    input_ids, attention_mask: (B, T) ints, attention_mask 1 for real tokens and 0 for padding.
    Exactly `ceil(mlm_probability * n)` targets are drawn without replacement over the whole batch,
    where n is the number of candidate positions (real, non-special tokens), as DistilBERT's code
    does. With `token_probs` (a (V,) weight per token id, see `smoothed_token_probs`) a position is
    drawn in proportion to the weight of its token; without it, uniformly.
    """
    if not 0.0 < mlm_probability <= 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1], got {mlm_probability}")
    if mask_fraction < 0 or random_fraction < 0 or mask_fraction + random_fraction > 1:
        raise ValueError("mask_fraction and random_fraction must be >= 0 and sum to at most 1, "
                         f"got {mask_fraction} and {random_fraction}")
    B, T = input_ids.shape
    is_special = torch.isin(input_ids, torch.as_tensor(list(special_ids), dtype=input_ids.dtype))
    candidate = attention_mask.bool() & ~is_special

    weights = candidate.flatten().float()
    if token_probs is not None:
        weights = weights * token_probs.to(weights.device)[input_ids.flatten()]
    n_targets = math.ceil(mlm_probability * int(candidate.sum()))
    n_targets = min(n_targets, int((weights > 0).sum()))
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    if n_targets == 0:
        return input_ids.clone(), labels
    targets = torch.multinomial(weights, n_targets, replacement=False, generator=generator)

    is_target = torch.zeros(B * T, dtype=torch.bool, device=input_ids.device)
    is_target[targets] = True
    is_target = is_target.view(B, T)
    labels[is_target] = input_ids[is_target]

    # One draw per position decides its fate: [MASK] (80%), a random token (10%), unchanged (10%).
    fate = torch.rand(B, T, generator=generator, device=input_ids.device)
    to_mask = is_target & (fate < mask_fraction)
    to_random = is_target & (fate >= mask_fraction) & (fate < mask_fraction + random_fraction)
    random_ids = torch.randint(vocab_size, (B, T), generator=generator, device=input_ids.device)
    corrupted = input_ids.clone()
    corrupted[to_mask] = mask_token_id
    corrupted[to_random] = random_ids[to_random].to(input_ids.dtype)
    return corrupted, labels
