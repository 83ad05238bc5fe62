"""The DistilBERT recipe (Sanh et al. 2019): a frozen teacher, a student taken from it, the triple loss.

Three steps:

1. A teacher that knows words (`minidistil.teacher`). Distillation's main term compares the
   student's and the teacher's distributions over the vocabulary at each position, so the teacher
   needs an MLM head whose distribution says which words fit. Our real teacher, all-MiniLM-L6-v2,
   is a sentence-embedding model that ships without one, and a head trained on its frozen encoder
   predicts little more than word frequencies; so the teacher is the released encoder further
   pretrained with MLM, as DistilBERT's teacher BERT was pretrained.
2. `make_student`: copy the embeddings, the head and every other layer of the teacher
   (`minidistil.convert.extract_student` and its table `STUDENT_LAYERS`), or start from random weights.
3. `DistillationTask`: the recipe in one method, `forward`, weighted by a `DistillLoss`.

`minidistil.recipe` runs the three steps on a prepared corpus and saves each model folder.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from minidistil.convert import extract_student
from minidistil.losses import IGNORE_INDEX, distillation_kl, hidden_cosine_loss, logits_mse, mlm_loss
from minidistil.masking import Masking


@dataclass
class DistillLoss:
    """The weights of the triple loss; the defaults are DistilBERT's training code's."""
    alpha_ce: float = 5.0              # weight of KL(teacher/T || student/T) * T^2
    alpha_mlm: float = 2.0             # weight of the MLM loss on the masked tokens
    alpha_cos: float = 1.0             # weight of the hidden-state cosine loss
    alpha_mse: float = 0.0             # weight of the MSE between raw logits (off in the paper)
    temperature: float = 2.0           # softmax temperature T of the KL term
    restrict_ce_to_mask: bool = False  # KL on the masked positions only, instead of on every real token

    def __post_init__(self):
        alphas = (self.alpha_ce, self.alpha_mlm, self.alpha_cos, self.alpha_mse)
        if min(alphas) < 0 or sum(alphas) == 0:
            raise ValueError("the alphas must be >= 0 and at least one > 0, got "
                             f"ce={self.alpha_ce}, mlm={self.alpha_mlm}, cos={self.alpha_cos}, mse={self.alpha_mse}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")


def make_student(teacher: nn.Module, layers: tuple[int, ...] | None = None, random_init: bool = False) -> nn.Module:
    """A student with the teacher's width: its layers `layers` copied (default: the table
    `convert.STUDENT_LAYERS`, chosen by `extract_student`), or, with `random_init`, a freshly
    initialised model of that shape. Seed torch first: a fresh model draws its weights."""
    student = extract_student(teacher, layers)
    if random_init:
        student = type(teacher)(student.config)
    return student.train()


class DistillationTask(nn.Module):
    """The DistilBERT recipe: the student learns from the teacher's soft targets, the masked tokens
    and the direction of the teacher's last hidden states, all on the same corrupted input.

    The teacher is kept out of the module tree on purpose: it is not trained, not saved in the
    checkpoint, not wrapped by DistributedDataParallel, and `task.train()` never switches it out of
    eval mode (dropout off: its soft targets are deterministic).
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, masking: Masking, loss: DistillLoss | None = None):
        super().__init__()
        loss = loss or DistillLoss()
        if student.config.vocab_size != teacher.config.vocab_size:
            raise ValueError(f"student and teacher must share the vocabulary, got {student.config.vocab_size} "
                             f"and {teacher.config.vocab_size} tokens")
        if loss.alpha_cos > 0 and student.config.dim != teacher.config.dim:
            raise ValueError(f"the cosine loss needs the teacher's width, but the student has dim "
                             f"{student.config.dim} and the teacher {teacher.config.dim}; set alpha_cos to 0")
        self.student, self.masking = student, masking
        object.__setattr__(self, "teacher", teacher.eval().requires_grad_(False))  # not a submodule
        self.alpha = {"ce": loss.alpha_ce, "mlm": loss.alpha_mlm, "cos": loss.alpha_cos, "mse": loss.alpha_mse}
        self.temperature, self.restrict_ce_to_mask = loss.temperature, loss.restrict_ce_to_mask

    def forward(self, batch: dict) -> dict:
        attention_mask = batch["attention_mask"]
        input_ids, labels = self.masking(batch["input_ids"], attention_mask)
        with torch.no_grad():
            t_hidden = self.teacher.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state
        s_hidden = self.student.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state

        # The positions the vocabulary terms read: every real token, or only the masked ones.
        is_real = attention_mask.bool()
        select = (labels != IGNORE_INDEX) if self.restrict_ce_to_mask else is_real
        s_logits = self.student.mlm_logits(s_hidden[select])  # (B, T, C) -> (N, C) -> (N, V)
        with torch.no_grad():
            t_logits = self.teacher.mlm_logits(t_hidden[select])

        terms = {
            "ce": distillation_kl(s_logits, t_logits, self.temperature),
            "mlm": mlm_loss(s_logits, labels[select]),   # the masked positions are among the selected ones
            "cos": hidden_cosine_loss(s_hidden[is_real], t_hidden[is_real]) if self.alpha["cos"] else None,
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

