"""Masked-language-model pretraining as a task for `minidistil.training.train.train`.

    >>> task = MLMTask(DistilBertForMaskedLM(config), Masking.for_corpus(corpus))   # a prepared TokenCorpus
    >>> train(task, corpus, TrainConfig(out_dir="runs/mlm"))
"""
from __future__ import annotations

from torch import nn

from minidistil.nn.losses import mlm_loss, sparse_mlm_loss
from minidistil.data.masking import Masking


class MLMTask(nn.Module):
    """Masked-language-model pretraining: mask the batch, predict the masked tokens.

    `model` is a `DistilBertForMaskedLM`. With `sparse=True` only the masked positions go through
    the vocabulary projection (`sparse_mlm_loss`): the same loss for a fraction of the cost.
    A `masking` with `token_probs` (`Masking.for_corpus(..., mlm_smoothing=0.7)`) picks rare
    tokens more often, as DistilBERT's `mlm_smoothing`.
    """

    def __init__(self, model: nn.Module, masking: Masking, sparse: bool = True):
        super().__init__()
        self.model, self.masking, self.sparse = model, masking, sparse

    def forward(self, batch: dict) -> dict:
        input_ids, labels = self.masking(batch["input_ids"], batch["attention_mask"])
        if self.sparse:
            out = self.model.distilbert(input_ids, attention_mask=batch["attention_mask"])
            loss = sparse_mlm_loss(self.model.mlm_logits, out.last_hidden_state, labels)
        else:
            out = self.model(input_ids, attention_mask=batch["attention_mask"])
            loss = mlm_loss(out.logits, labels)
        return {"loss": loss, "mlm": loss.detach()}
