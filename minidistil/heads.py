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

from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import DistilBertConfig
from .model import DistilBertModel, LayerNorm, PreTrainedModel, activate


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
        loss = None if labels is None else F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return MaskedLMOutput(loss, logits, out.hidden_states, out.attentions)


def classification_loss(config: DistilBertConfig, logits, labels):
    """Hugging Face's rule: one label -> regression (MSE); integer labels -> single-label cross
    entropy; float labels over several outputs -> multi-label (sigmoid + binary cross entropy)."""
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if config.num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, config.num_labels), labels.view(-1))
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
            loss = F.cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        return TokenClassifierOutput(loss, logits, out.hidden_states, out.attentions)


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
            T = start_logits.size(1)
            start = start_positions.view(-1).clamp(0, T)
            end = end_positions.view(-1).clamp(0, T)
            loss = (F.cross_entropy(start_logits, start, ignore_index=T) +
                    F.cross_entropy(end_logits, end, ignore_index=T)) / 2
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
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 3:
            raise ValueError(f"multiple choice takes input_ids of shape (batch, choices, tokens), got "
                             f"{tuple(getattr(input_ids, 'shape', ()))}")
        B, K, T = input_ids.shape
        if attention_mask is not None:
            if tuple(attention_mask.shape) != (B, K, T):
                raise ValueError(f"attention_mask must have the shape of input_ids {(B, K, T)}, "
                                 f"got {tuple(attention_mask.shape)}")
            attention_mask = attention_mask.view(B * K, T)
        out = self.distilbert(input_ids.view(B * K, T), attention_mask, output_hidden_states,
                              output_attentions, token_type_ids)
        cls = out.last_hidden_state[:, 0]  # (B*K, T, C) -> (B*K, C)
        logits = self.classifier(self.dropout(torch.relu(self.pre_classifier(cls))))  # (B*K, C) -> (B*K, 1)
        logits = logits.view(B, K)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss, logits, out.hidden_states, out.attentions)
