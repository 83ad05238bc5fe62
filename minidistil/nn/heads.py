"""Task heads on top of DistilBertModel, with Hugging Face's architectures, key names and losses.

Every head keeps the encoder under `self.distilbert`, so its keys start with `distilbert.` as in
Hugging Face checkpoints. Outputs are named tuples with Hugging Face's field names; `loss` is None
unless labels are given. Shapes follow the legend in model.py (K answer choices, Y labels).

    >>> model = DistilBertForSequenceClassification(DistilBertConfig(num_labels=3))
    >>> out = model(input_ids, attention_mask, labels=torch.tensor([2, 0]))
    >>> out.logits.shape, out.loss
    (torch.Size([2, 3]), tensor(1.0986, grad_fn=...))
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from minidistil.nn.config import DistilBertConfig
from minidistil.nn.losses import IGNORE_INDEX
from minidistil.nn.model import DistilBertModel, LayerNorm, PreTrainedModel, activate, check_ids, check_mask


class MaskedLMOutput(NamedTuple):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None          # (B, T, V)
    hidden_states: tuple | None = None
    attentions: tuple | None = None


class SequenceClassifierOutput(NamedTuple):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None          # (B, Y); multiple choice: (B, K)
    hidden_states: tuple | None = None
    attentions: tuple | None = None


class TokenClassifierOutput(NamedTuple):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None          # (B, T, Y)
    hidden_states: tuple | None = None
    attentions: tuple | None = None


class QuestionAnsweringOutput(NamedTuple):
    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None    # (B, T)
    end_logits: torch.Tensor | None = None      # (B, T)
    hidden_states: tuple | None = None
    attentions: tuple | None = None


MultipleChoiceOutput = SequenceClassifierOutput


# ---------------------------------------------------------------- labels and losses

def check_labels(labels, shapes: tuple, n_classes: int, what: str = "labels") -> torch.Tensor:
    """Class ids of one of `shapes`, each in [0, n_classes) or IGNORE_INDEX; returned as int64."""
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"{what} must be a tensor of integer class ids, got "
                         f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if tuple(labels.shape) not in shapes:
        raise ValueError(f"{what} must have shape {' or '.join(map(str, shapes))}, got {tuple(labels.shape)}")
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= n_classes))
    if bad.any():
        raise ValueError(f"{what} must be class ids in [0, {n_classes}) or {IGNORE_INDEX} (not scored), "
                         f"got {int(labels[bad][0])}")
    return labels.long()


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean cross-entropy over the labels that are not `ignore_index`: logits (M, Y), labels (M,).

    When every label is ignored, transformers returns NaN (0 / 0), and one NaN step ruins the
    weights; raising would end a long run over one empty batch. We return a zero that is part of
    the graph (backward gives zero gradients) and warn."""
    if not bool((labels != ignore_index).any()):
        warnings.warn(f"no label in this batch is scored (all are the ignore value {ignore_index}), so the "
                      f"loss has nothing to score; it is 0 here, with zero gradients", stacklevel=3)
        return logits.sum() * 0.0
    return F.cross_entropy(logits, labels, ignore_index=ignore_index)


class DistilBertForMaskedLM(PreTrainedModel):
    """Predict masked tokens: vocab_transform -> activation -> vocab_layer_norm -> vocab_projector,
    the projector sharing its weight with the token embedding (config.tie_word_embeddings)."""

    head_keys = ("vocab_transform", "vocab_layer_norm", "vocab_projector")

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = LayerNorm(config.dim, config.impl)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)
        self.init_weights()

    def tie_weights(self):
        if self.config.tie_word_embeddings:
            self.vocab_projector.weight = self.distilbert.embeddings.word_embeddings.weight

    def mlm_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(..., C) -> (..., V). Training projects only the masked positions: (M, C) -> (M, V)."""
        h = activate(self.vocab_transform(hidden_states), self.config)
        return self.vocab_projector(self.vocab_layer_norm(h))

    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=False,
                output_attentions=False, token_type_ids=None) -> MaskedLMOutput:
        """labels: (B, T) token ids to predict, -100 where no prediction is scored."""
        out = self.distilbert(input_ids, attention_mask, output_hidden_states, output_attentions, token_type_ids)
        logits = self.mlm_logits(out.last_hidden_state)  # (B, T, C) -> (B, T, V)
        loss = None
        if labels is not None:
            labels = check_labels(labels, (tuple(input_ids.shape),), self.config.vocab_size)
            loss = cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss, logits, out.hidden_states, out.attentions)


def classification_loss(config: DistilBertConfig, logits, labels):
    """Hugging Face's rule: one label -> regression (MSE); integer labels -> single-label cross
    entropy; float labels over several outputs -> multi-label (sigmoid + binary cross entropy)."""
    B, Y = logits.shape
    if not isinstance(labels, torch.Tensor):
        raise ValueError(f"labels must be a tensor, got a {type(labels).__name__}")
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "single_label_classification":
        return cross_entropy(logits, check_labels(labels, ((B,), (B, 1)), Y).view(-1))
    shapes = ((B,), (B, 1)) if Y == 1 else ((B, Y),)
    if tuple(labels.shape) not in shapes:
        raise ValueError(f"{config.problem_type} labels must have shape {' or '.join(map(str, shapes))}, "
                         f"got {tuple(labels.shape)}")
    if config.problem_type == "regression":
        return F.mse_loss(logits.view(labels.shape), labels.to(logits.dtype))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class DistilBertForSequenceClassification(PreTrainedModel):
    """Classify (or regress) a whole sequence from its first token ([CLS]):
    pre_classifier -> ReLU -> dropout -> classifier."""

    head_keys = ("pre_classifier", "classifier")

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=False,
                output_attentions=False, token_type_ids=None) -> SequenceClassifierOutput:
        """labels: (B,) class ids, (B,) or (B, Y) floats for regression, (B, Y) 0/1 floats for multi-label."""
        out = self.distilbert(input_ids, attention_mask, output_hidden_states, output_attentions, token_type_ids)
        cls = out.last_hidden_state[:, 0]  # (B, T, C) -> (B, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))  # (B, C) -> (B, Y)
        loss = None if labels is None else classification_loss(self.config, logits, labels)
        return SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions)


class DistilBertForTokenClassification(PreTrainedModel):
    """One label per token (NER-style): dropout -> classifier on every position."""

    head_keys = ("classifier",)

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=False,
                output_attentions=False, token_type_ids=None) -> TokenClassifierOutput:
        """labels: (B, T) class ids, -100 at positions not scored (padding, continuation pieces)."""
        out = self.distilbert(input_ids, attention_mask, output_hidden_states, output_attentions, token_type_ids)
        logits = self.classifier(self.dropout(out.last_hidden_state))  # (B, T, C) -> (B, T, Y)
        loss = None
        if labels is not None:
            labels = check_labels(labels, (tuple(input_ids.shape),), self.config.num_labels)
            loss = cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        return TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions)


def check_positions(positions, B: int, what: str) -> torch.Tensor:
    """(B,) or (B, 1) integer token indices; any value is allowed (out of range means: not in the input)."""
    if not isinstance(positions, torch.Tensor) or positions.is_floating_point() or positions.numel() != B or \
            positions.dim() > 2:
        raise ValueError(f"{what} must be a (batch,) tensor of integer token indices, got "
                         f"{getattr(positions, 'dtype', type(positions).__name__)} of shape "
                         f"{tuple(getattr(positions, 'shape', ()))}")
    return positions.view(-1).long()


class DistilBertForQuestionAnswering(PreTrainedModel):
    """Extractive QA: each token gets a start score and an end score (qa_outputs: C -> 2).

    As in transformers, the start/end softmax runs over all T positions, padding included. The fast
    path never computes padded positions (their logits are the bias alone), so with padded batches
    its loss differs from transformers'; impl="math" reproduces it exactly."""

    head_keys = ("qa_outputs",)

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        if config.num_labels != 2:
            raise ValueError(f"question answering predicts a start and an end logit, so config.num_labels "
                             f"must be 2, got {config.num_labels}")
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.qa_dropout)
        self.qa_outputs = nn.Linear(config.dim, 2)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, start_positions=None, end_positions=None,
                output_hidden_states=False, output_attentions=False, token_type_ids=None) -> QuestionAnsweringOutput:
        """start_positions, end_positions: (B,) token indices of the answer span."""
        out = self.distilbert(input_ids, attention_mask, output_hidden_states, output_attentions, token_type_ids)
        logits = self.qa_outputs(self.dropout(out.last_hidden_state))  # (B, T, C) -> (B, T, 2)
        start_logits, end_logits = logits[..., 0].contiguous(), logits[..., 1].contiguous()  # (B, T) each
        loss = None
        if start_positions is not None and end_positions is not None:
            # A position outside the input (truncated answer) is clamped to T and ignored, as in
            # Hugging Face; the loss is the mean of the start and end cross entropies.
            B, T = start_logits.shape
            start = check_positions(start_positions, B, "start_positions").clamp(0, T)
            end = check_positions(end_positions, B, "end_positions").clamp(0, T)
            loss = (cross_entropy(start_logits, start, ignore_index=T) +
                    cross_entropy(end_logits, end, ignore_index=T)) / 2
        return QuestionAnsweringOutput(loss, start_logits, end_logits, out.hidden_states, out.attentions)


class DistilBertForMultipleChoice(PreTrainedModel):
    """Score K candidate sequences per example and pick one: each (B*K) sequence is encoded
    alone, scored from its first token like sequence classification, then softmaxed over K."""

    head_keys = ("pre_classifier", "classifier")

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.config = config
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, 1)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, labels=None, output_hidden_states=False,
                output_attentions=False, token_type_ids=None) -> SequenceClassifierOutput:
        """input_ids, attention_mask: (B, K, T); labels: (B,) the index of the right choice."""
        check_ids(input_ids, ("batch", "choices", "tokens"))
        B, K, T = input_ids.shape
        check_mask(attention_mask, (B, K, T))
        if attention_mask is not None:
            attention_mask = attention_mask.view(B * K, T)
        out = self.distilbert(input_ids.view(B * K, T), attention_mask, output_hidden_states,
                              output_attentions, token_type_ids)
        cls = out.last_hidden_state[:, 0]  # (B*K, T, C) -> (B*K, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))  # (B*K, C) -> (B*K, 1)
        logits = logits.view(B, K)
        loss = None if labels is None else cross_entropy(logits, check_labels(labels, ((B,),), K))
        return SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions)
