"""The DistilBERT recipe (Sanh et al. 2019): a frozen teacher, a student taken from it, the triple loss.

Three steps, each a task for `minidistil.train.train`:

1. `TeacherHeadTask` (adapt-teacher). Distillation's main term compares the student's and the
   teacher's distributions over the vocabulary at each position, so the teacher needs an MLM head.
   Our real teacher, all-MiniLM-L6-v2, ships without one: it is a sentence-embedding model, and its
   training kept only the encoder. We give it one by training the (tied) MLM head with MLM on our
   corpus while the encoder stays frozen. Freezing matters: the encoder's hidden states are the
   targets of the cosine term, and they stay exactly the released model's; only the new head, which
   reads them, is learned. The projector's weight is tied to the frozen token embedding, so the
   trainable part is small: `vocab_transform`, `vocab_layer_norm` and the projector's bias (see
   `init_teacher_head` for where they start).
2. `make_student`: copy the embeddings, the head and every other layer of the teacher
   (`minidistil.convert.STUDENT_LAYERS`), or start from random weights.
3. `DistillationTask`: the recipe in one method, `forward`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch import nn

from minidistil.convert import STUDENT_LAYERS, extract_student
from minidistil.losses import distillation_kl, hidden_cosine_loss, logits_mse, mlm_loss, sparse_mlm_loss
from minidistil.masking import IGNORE_INDEX, mask_tokens


class TeacherHeadTask(nn.Module):
    """MLM on a frozen encoder: only the MLM head learns (see the module docstring for why)."""

    def __init__(self, teacher: nn.Module, masking: dict):
        super().__init__()
        self.teacher, self.masking = teacher, masking
        for p in teacher.distilbert.parameters():  # includes the token embedding, hence the tied projector weight
            p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.distilbert.eval()  # the head learns to read the states the teacher gives in eval mode
        return self

    def forward(self, batch: dict) -> dict:
        input_ids, labels = mask_tokens(batch["input_ids"], batch["attention_mask"], **self.masking)
        with torch.no_grad():  # no activations kept for a backward pass through the encoder
            hidden = self.teacher.distilbert(input_ids, attention_mask=batch["attention_mask"]).last_hidden_state
        loss = sparse_mlm_loss(self.teacher.mlm_logits, hidden, labels)
        return {"loss": loss, "mlm": loss.detach()}


def init_teacher_head(model: nn.Module, counts: np.ndarray) -> None:
    """Start the new MLM head where it can only improve: the projector's bias at log p(token), the
    unigram distribution of the corpus (the best guess without reading the state), and
    `vocab_transform` at the identity, so that the head first compares the hidden state itself with
    every token embedding through the tied projector."""
    probs = (np.asarray(counts, dtype=np.float64) + 1.0) / (np.sum(counts) + len(counts))  # add-one smoothing
    with torch.no_grad():
        model.vocab_projector.bias.copy_(torch.from_numpy(np.log(probs)).float())
        model.vocab_transform.weight.copy_(torch.eye(model.config.dim))
        model.vocab_transform.bias.zero_()


def make_student(teacher: nn.Module, layers: tuple[int, ...] | None = None, random_init: bool = False) -> nn.Module:
    """A student with the teacher's width: its layers `layers` copied (default: STUDENT_LAYERS),
    or, with `random_init`, a freshly initialised model with that many layers."""
    n = teacher.config.n_layers
    layers = tuple(layers) if layers is not None else STUDENT_LAYERS.get(n)
    if layers is None:
        raise ValueError(f"no default layer map for a {n}-layer teacher (known: {sorted(STUDENT_LAYERS)}); "
                         f"pass the teacher layers to copy, e.g. --student-layers 0,{n - 1}")
    if random_init:
        student = type(teacher)(replace(teacher.config, n_layers=len(layers)))
    else:
        student = extract_student(teacher, layers)
    return student.train()


class DistillationTask(nn.Module):
    """The DistilBERT recipe: the student learns from the teacher's soft targets, the masked tokens
    and the direction of the teacher's last hidden states, all on the same corrupted input.

    The teacher is kept out of the module tree on purpose: it is not trained, not saved in the
    checkpoint, not wrapped by DistributedDataParallel, and `task.train()` never switches it out of
    eval mode (dropout off: its soft targets are deterministic).
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, masking: dict, *, alpha_ce: float = 5.0,
                 alpha_mlm: float = 2.0, alpha_cos: float = 1.0, alpha_mse: float = 0.0,
                 temperature: float = 2.0, restrict_ce_to_mask: bool = False):
        super().__init__()
        if min(alpha_ce, alpha_mlm, alpha_cos, alpha_mse) < 0 or alpha_ce + alpha_mlm + alpha_cos + alpha_mse == 0:
            raise ValueError("the alphas must be >= 0 and at least one > 0, got "
                             f"ce={alpha_ce}, mlm={alpha_mlm}, cos={alpha_cos}, mse={alpha_mse}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if student.config.vocab_size != teacher.config.vocab_size:
            raise ValueError(f"student and teacher must share the vocabulary, got {student.config.vocab_size} "
                             f"and {teacher.config.vocab_size} tokens")
        if alpha_cos > 0 and student.config.dim != teacher.config.dim:
            raise ValueError(f"the cosine loss needs the teacher's width, but the student has dim "
                             f"{student.config.dim} and the teacher {teacher.config.dim}; set alpha_cos to 0")
        self.student, self.masking = student, masking
        object.__setattr__(self, "teacher", teacher.eval().requires_grad_(False))  # not a submodule
        self.alpha = {"ce": alpha_ce, "mlm": alpha_mlm, "cos": alpha_cos, "mse": alpha_mse}
        self.temperature, self.restrict_ce_to_mask = temperature, restrict_ce_to_mask

    def forward(self, batch: dict) -> dict:
        attention_mask = batch["attention_mask"]
        input_ids, labels = mask_tokens(batch["input_ids"], attention_mask, **self.masking)
        with torch.no_grad():
            t_hidden = self.teacher.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state
        s_hidden = self.student.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state

        # The positions the vocabulary terms read: every real token, or only the masked ones.
        real = attention_mask.bool()
        select = (labels != IGNORE_INDEX) if self.restrict_ce_to_mask else real
        s_logits = self.student.mlm_logits(s_hidden[select])  # (B, T, C) -> (N, C) -> (N, V)
        with torch.no_grad():
            t_logits = self.teacher.mlm_logits(t_hidden[select])

        terms = {
            "ce": distillation_kl(s_logits, t_logits, self.temperature),
            "mlm": mlm_loss(s_logits, labels[select]),   # the masked positions are among the selected ones
            "cos": hidden_cosine_loss(s_hidden[real], t_hidden[real]) if self.alpha["cos"] else None,
            "mse": logits_mse(s_logits, t_logits) if self.alpha["mse"] else None,
        }
        loss = sum(self.alpha[k] * v for k, v in terms.items() if v is not None)
        return {"loss": loss, **{k: v.detach() for k, v in terms.items() if v is not None}}


def check_vocabulary(model: nn.Module, corpus, what: str = "model") -> None:
    """A corpus tokenized with another vocabulary would silently train on garbage: refuse it."""
    if corpus.vocab_size != model.config.vocab_size:
        raise ValueError(f"the corpus in {corpus.folder} was prepared with a {corpus.vocab_size}-token vocabulary "
                         f"but the {what} has {model.config.vocab_size}; prepare the corpus with the "
                         f"{what}'s vocab.txt")

