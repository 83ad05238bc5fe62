"""The losses of the DistilBERT recipe (Sanh et al. 2019, section 2).

    L = alpha_ce * L_ce + alpha_mlm * L_mlm + alpha_cos * L_cos   (+ alpha_mse * L_mse)

- `distillation_kl`: L_ce, the student's distribution against the teacher's soft targets, both
  softened by a temperature T (Hinton et al. 2015), multiplied by T^2.
- `mlm_loss` / `sparse_mlm_loss`: L_mlm, ordinary cross-entropy on the masked positions.
- `hidden_cosine_loss`: L_cos, aligns the directions of the student's and teacher's last hidden states.
- `logits_mse`: an optional MSE on the raw logits, as in DistilBERT's training code.

The distillation terms compare positions already gathered by the caller: (N, V) logits or (N, C)
hidden states of the N positions that count (the real, non-padding tokens, or the masked ones only).
Gathering first means the vocabulary projection runs only where a loss reads it.
Shapes: B batch, T tokens, C width, V vocabulary, N gathered positions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# The label of positions that a loss skips: padding, unmasked tokens, a word's continuation pieces.
# PyTorch's cross-entropy skips -100 by default, and Hugging Face labels its data with it.
IGNORE_INDEX = -100


def distillation_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                    temperature: float = 2.0) -> torch.Tensor:
    """KL(teacher/T || student/T) * T^2, averaged over the N positions of the (N, V) logits.

    Why T^2: the gradient of the softened KL with respect to the student's logits is
    (p_student - p_teacher) / T, and for large T that difference itself shrinks like 1/T, so the
    gradient shrinks like 1/T^2. Multiplying by T^2 keeps its size independent of T, so the
    alphas keep their meaning when T changes (Hinton et al. 2015, section 2).
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    s = student_logits.float() / temperature
    t = teacher_logits.float() / temperature
    # sum_v p_t (log p_t - log p_s), then the mean over the N positions ("batchmean").
    kl = F.kl_div(F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), reduction="batchmean",
                  log_target=True)
    return kl * temperature ** 2


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the positions whose label is not IGNORE_INDEX (the dense head: logits (B, T, V))."""
    return F.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(), ignore_index=IGNORE_INDEX)


def sparse_mlm_loss(mlm_head, hidden_states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The same loss as `mlm_loss`, projecting only the masked positions onto the vocabulary.

    `mlm_head` maps hidden states (..., C) to logits (..., V), e.g. `DistilBertForMaskedLM.mlm_logits`.
    The vocabulary projection costs C * V per position, a third of DistilBERT's forward FLOPs;
    with 15% of the positions masked this skips 85% of it. The loss is the same number as the
    dense one, because cross-entropy ignores every unmasked position anyway.
    """
    is_target = labels != IGNORE_INDEX
    logits = mlm_head(hidden_states[is_target])  # (B, T, C) -> (N, C) -> (N, V)
    return F.cross_entropy(logits.float(), labels[is_target])


def hidden_cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos(student, teacher) over the N positions of (N, C) states: 0 when directions agree."""
    s, t = student_hidden.float(), teacher_hidden.float()
    if s.shape[-1] != t.shape[-1]:
        raise ValueError(f"the cosine loss needs the same hidden width in student and teacher, got "
                         f"{s.shape[-1]} and {t.shape[-1]}; set alpha_cos=0 for a narrower student")
    return (1.0 - F.cosine_similarity(s, t, dim=-1)).mean()


def logits_mse(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Squared error between (N, V) raw logits, summed over the vocabulary, averaged over positions."""
    s, t = student_logits.float(), teacher_logits.float()
    return F.mse_loss(s, t, reduction="sum") / s.shape[0]
