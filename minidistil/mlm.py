"""Masked-language-model pretraining as a task for `minidistil.train.train`.

    >>> task = mlm_task_for(DistilBertForMaskedLM(config), corpus)   # corpus: a prepared TokenCorpus
    >>> train(task, corpus, TrainConfig(out_dir="runs/mlm"))
"""
from __future__ import annotations

import torch
from torch import nn

from minidistil.losses import mlm_loss, sparse_mlm_loss
from minidistil.masking import mask_tokens, smoothed_token_probs


class MLMTask(nn.Module):
    """Masked-language-model pretraining: mask the batch, predict the masked tokens.

    `model` is a `DistilBertForMaskedLM`. With `sparse=True` only the masked positions go through
    the vocabulary projection (`sparse_mlm_loss`): the same loss for a fraction of the cost.
    `token_probs` (from `masking.smoothed_token_probs`) turns on DistilBERT's `mlm_smoothing`.
    """

    def __init__(self, model: nn.Module, *, mask_token_id: int, special_ids, vocab_size: int,
                 mlm_probability: float = 0.15, sparse: bool = True, token_probs: torch.Tensor | None = None):
        super().__init__()
        self.model, self.sparse = model, sparse
        self.masking = dict(mask_token_id=mask_token_id, special_ids=list(special_ids),
                            vocab_size=vocab_size, mlm_probability=mlm_probability, token_probs=token_probs)

    def forward(self, batch: dict) -> dict:
        input_ids, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], **self.masking)
        if self.sparse:
            out = self.model.distilbert(input_ids, attention_mask=batch["attention_mask"])
            loss = sparse_mlm_loss(self.model.mlm_logits, out.last_hidden_state, labels)
        else:
            out = self.model(input_ids, attention_mask=batch["attention_mask"])
            loss = mlm_loss(out.logits, labels)
        return {"loss": loss, "mlm": loss.detach()}


def mlm_task_for(model: nn.Module, corpus, *, mlm_smoothing: float = 0.0, sparse: bool = True,
                 mlm_probability: float = 0.15) -> MLMTask:
    """An `MLMTask` whose special tokens and vocabulary come from a prepared `TokenCorpus`."""
    ids = corpus.special_ids
    probs = smoothed_token_probs(corpus.counts, _special(ids), mlm_smoothing) if mlm_smoothing else None
    return MLMTask(model, mask_token_id=ids["mask"], special_ids=_special(ids), vocab_size=corpus.vocab_size,
                   mlm_probability=mlm_probability, sparse=sparse, token_probs=probs)


def _special(ids: dict) -> list[int]:
    return [ids["cls"], ids["sep"], ids["pad"], ids["mask"]]
