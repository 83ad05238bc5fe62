"""The DistilBERT recipe (Sanh et al. 2019): a frozen teacher, a student taken from it, the triple loss.

Three steps:

1. A teacher that knows words (`minidistil.recipes.teacher`). Distillation's main term compares the
   student's and the teacher's distributions over the vocabulary at each position, so the teacher
   needs an MLM head whose distribution says which words fit. Our real teacher, all-MiniLM-L6-v2,
   is a sentence-embedding model that ships without one, and a head trained on its frozen encoder
   predicts little more than word frequencies; so the teacher is the released encoder further
   pretrained with MLM, as DistilBERT's teacher BERT was pretrained.
2. `extract_student`: copy the embeddings, the head and every other layer of the teacher (the
   table `STUDENT_LAYERS`), or start from random weights of that shape (`make_student`: the same,
   in train mode).
3. `DistillationTask`: the recipe in one method, `forward`, weighted by a `DistillLoss`.

`minidistil.recipes.recipe` runs the three steps on a prepared corpus and saves each model folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch
from torch import nn

from minidistil.nn.losses import IGNORE_INDEX, distillation_kl, hidden_cosine_loss, logits_mse, mlm_loss
from minidistil.data.masking import Masking


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
        # A temperature shapes the KL term only; once alpha_ce = 0 turns it off, it says nothing.
        # (restrict_ce_to_mask also picks the positions of the MLM logits, so it stays allowed.)
        if self.alpha_ce == 0 and self.temperature != 2.0:
            raise ValueError("temperature (--temperature) only affects the KL term, which alpha_ce = 0 "
                             "(--alpha-ce 0) turns off; drop one")


# ---------------------------------------------------------------- the student's initialisation

# Teacher layers copied into the student, in order (Sanh et al. 2019 take every other layer).
# For the 6-layer MiniLM teacher -> 3 layers we keep the first layer (it reads the embeddings that
# the student inherits unchanged), the last (its output is what the cosine loss aligns), and
# layer 2 between them: every other layer from the bottom, then the top, as in 0, 2, 4 | ... 11.
STUDENT_LAYERS = {12: (0, 2, 4, 7, 9, 11), 6: (0, 2, 5)}


def student_layers(n_layers: int, layers=None) -> tuple[int, ...]:
    """The teacher layers a student keeps: `layers` checked, or the default for the teacher's depth."""
    if layers is None:
        if n_layers not in STUDENT_LAYERS:
            raise ValueError(f"no default layer map for a {n_layers}-layer teacher (defaults exist for "
                             f"{' and '.join(map(str, sorted(STUDENT_LAYERS)))} layers); pass the teacher "
                             f"layers to keep, e.g. (0, {n_layers - 1})")
        return STUDENT_LAYERS[n_layers]
    layers = tuple(layers)
    if not layers or any(not isinstance(i, int) or not 0 <= i < n_layers for i in layers) or \
            list(layers) != sorted(set(layers)):
        raise ValueError(f"layers must be distinct increasing teacher layer indices in [0, {n_layers}), "
                         f"got {layers}")
    return layers


def extract_student(teacher, layers=None, random_init: bool = False):
    """A copy of `teacher` (any minidistil class) keeping only the listed layers, renumbered 0..
    (default: STUDENT_LAYERS for the teacher's depth), in the teacher's train/eval mode; with
    `random_init`, a freshly initialised model of that shape (seed torch first: it draws weights)."""
    layers = student_layers(teacher.config.n_layers, layers)
    student = type(teacher)(replace(teacher.config, n_layers=len(layers)))
    state = {}
    for key, value in teacher.state_dict().items():
        m = re.match(r"(.*transformer\.layer\.)(\d+)(\..*)", key)
        if m is None:
            state[key] = value.clone()
        elif int(m.group(2)) in layers:
            state[m.group(1) + str(layers.index(int(m.group(2)))) + m.group(3)] = value.clone()
    student.load_state_dict(state, strict=True)
    if hasattr(student, "tie_weights"):
        student.tie_weights()
    if random_init:  # drawn after the copy, as always: the same seed gives the same random student
        student = type(teacher)(student.config)
    return student.train(teacher.training)


def make_student(teacher: nn.Module, layers: tuple[int, ...] | None = None, random_init: bool = False) -> nn.Module:
    """`extract_student` in train mode: the student that distillation starts from."""
    return extract_student(teacher, layers, random_init).train()


class DistillationTask(nn.Module):
    """The DistilBERT recipe: the student learns from the teacher's soft targets, the masked tokens
    and the direction of the teacher's last hidden states, all on the same corrupted input.

    The teacher is kept out of the module tree on purpose: it is not trained, not saved in the
    checkpoint, not wrapped by DistributedDataParallel, and `task.train()` never switches it out of
    eval mode (dropout off: its soft targets are deterministic).
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, masking: Masking, loss: DistillLoss | None = None,
                 teacher_outputs=None):
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
        # Optional: the teacher's side stored once per chunk (`minidistil.training.teacher_outputs`); batches
        # then carry their `chunk` ids (train on `IndexedChunks(corpus)`), and the teacher does not run.
        self.teacher_outputs = teacher_outputs
        if teacher_outputs is not None:
            teacher_outputs.check(self)

    def forward(self, batch: dict) -> dict:
        if self.teacher_outputs is not None:
            return self.teacher_outputs.distill_forward(self, batch)
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
