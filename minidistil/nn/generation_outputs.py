"""What `generate(..., return_dict_in_generate=True)` gives back, under transformers' names, and
`compute_transition_scores`, the score of each written token recovered from them.

    >>> out = generate(model, ids, mask, num_beams=4, return_dict_in_generate=True, output_scores=True)
    >>> out.sequences, out.sequences_scores, out.beam_indices
    >>> compute_transition_scores(out.sequences, out.scores, out.beam_indices).sum(1)  # == sequences_scores * length ** length_penalty
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F


class GenerateOutput(NamedTuple):
    """transformers' `GenerateEncoderDecoderOutput` / `GenerateBeamEncoderDecoderOutput` fields. N rows:
    batch x num_return_sequences. Per-step tuples hold one entry per written token."""
    sequences: torch.Tensor                       # (N, T): the start token (and prefix) first
    scores: tuple | None = None                   # per step (rows x beams, V): the processed scores
    sequences_scores: torch.Tensor | None = None  # beams, with output_scores: (N,) sum(log p) / length ** length_penalty
    beam_indices: torch.Tensor | None = None      # beams: (N, T - prefix), the flat beam row each token came from; -1 after the end
    encoder_attentions: tuple | None = None       # L tensors (B, H, S, S)
    encoder_hidden_states: tuple | None = None    # L + 1 tensors (B, S, C)
    decoder_attentions: tuple | None = None       # per step, L tensors (rows, H, new tokens, tokens so far)
    cross_attentions: tuple | None = None         # per step, L tensors (rows, H, new tokens, S)
    decoder_hidden_states: tuple | None = None    # per step, L + 1 tensors (rows, new tokens, C)


class Recorder:
    """Collects the per-step outputs that return_dict_in_generate asks for; does nothing otherwise."""

    def __init__(self, config):
        on = config.return_dict_in_generate
        self.scores = [] if on and config.output_scores else None
        self.attentions = [] if on and config.output_attentions else None
        self.hidden_states = [] if on and config.output_hidden_states else None

    def step(self, scores, out) -> None:
        if self.scores is not None:
            self.scores.append(scores.clone())
        if self.attentions is not None:
            self.attentions.append((out.attentions, out.cross_attentions))
        if self.hidden_states is not None:
            self.hidden_states.append(out.hidden_states)

    def output(self, sequences, sequences_scores=None, beam_indices=None) -> GenerateOutput:
        a = self.attentions
        return GenerateOutput(sequences, None if self.scores is None else tuple(self.scores),
                              sequences_scores, beam_indices,
                              decoder_attentions=None if a is None else tuple(s for s, _ in a),
                              cross_attentions=None if a is None else tuple(c for _, c in a),
                              decoder_hidden_states=None if self.hidden_states is None else tuple(self.hidden_states))


def compute_transition_scores(sequences, scores, beam_indices=None, normalize_logits: bool = False):
    """(N, steps): the score each written token got at its step, read from `scores` along the beam it
    came from (transformers' `compute_transition_scores`); 0 after a beam ended. For beam search the
    row sums are the summed log-probabilities of `sequences_scores` before the length penalty."""
    steps = len(scores)
    if beam_indices is None:  # greedy or sampling: row i always continued row i
        beam_indices = torch.arange(scores[0].shape[0], device=sequences.device)[:, None].expand(-1, steps)
    stacked = torch.stack(scores, dim=1)  # (rows, steps, V)
    if normalize_logits:
        stacked = F.log_softmax(stacked, dim=-1)
    ended = beam_indices < 0
    length = int((~ended).sum(dim=1).max())
    rows, ended = beam_indices[:, :length].clamp(min=0), ended[:, :length]
    tokens = sequences[:, sequences.shape[1] - length:]
    step = torch.arange(length, device=sequences.device)[None, :].expand_as(rows)
    out = stacked[rows, step, tokens]  # (N, length)
    return out.masked_fill(ended, 0.0)
