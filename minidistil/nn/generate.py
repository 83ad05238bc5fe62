"""Writing a translation token by token: greedy decoding, then beam search, then the key/value cache.

The loop, as nanoGPT writes it: run the decoder over the target so far, take the logits of the last
position, pick a token, append it, stop at the end token or at max_length:

    seq = [start]
    while len(seq) < max_length:
        logits = decoder(seq, encoder_states)[-1]
        seq.append(logits.argmax())
        if seq[-1] == eos: break

`greedy_search` is that loop, batched (a finished row is padded until all are finished).
`beam_search` keeps the num_beams best partial translations instead of one, scoring a finished one
by its summed log-probability / length ** length_penalty. Its bookkeeping (`beam_step`,
`finish_beams`, `can_still_improve`) follows transformers' `generate` step for step, so the tokens
are the same on the same weights (tests/test_generate.py), including early_stopping (True: stop at
num_beams finished; False: stop once no running beam can beat the worst finished one at its current
length; "never": only when that is impossible even at max_length).

The key/value cache (`use_cache=True`, the default) is the fast path beside the recomputing loop,
as the fused attention sits beside the written-out one: each step feeds only the newest token and
reuses every layer's keys and values of the tokens before (and the cross-attention's keys and
values of the encoder states, computed once). The tests prove both give the same logits and tokens.

max_length counts decoder tokens including the start token, as transformers does: max_length=20
writes at most 19 tokens. Shapes: B batch, K beams, S source tokens, T target tokens, V vocabulary.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

NEG = -1.0e9  # "not a candidate": added to a score, as transformers does (its ties then break the same way)


def check_generation_args(model, num_beams: int, max_length: int) -> None:
    for name, value in (("num_beams", num_beams), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    limit = model.config.decoder.max_position_embeddings + 1
    if max_length > limit:
        raise ValueError(f"max_length {max_length} is longer than the decoder's position table allows "
                         f"({limit} tokens with the start token); lower max_length")


def next_logits(model, seq, memory, memory_mask, past, use_cache: bool):
    """The logits of the next token after each row of seq (N, T): (N, V), and the new cache.
    With the cache, only the newest token runs through the decoder; without, all of seq again."""
    if use_cache:
        new = seq if past is None else seq[:, -1:]
        out = model.decoder(new, memory, memory_mask, past=past, last_only=True)
        return out.logits[:, -1], out.past
    out = model.decoder(seq, memory, memory_mask, last_only=True)
    return out.logits[:, -1], None


@torch.no_grad()
def greedy_search(model, input_ids, attention_mask=None, *, max_length: int = 20, use_cache: bool = True):
    """(B, S) source -> (B, T) target ids, the start token first, padding after the end token."""
    check_generation_args(model, 1, max_length)
    cfg = model.config
    memory = model.encode(input_ids, attention_mask)
    B = input_ids.shape[0]
    seq = torch.full((B, 1), cfg.decoder_start_token_id, dtype=torch.long, device=input_ids.device)
    finished = torch.zeros(B, dtype=torch.bool, device=input_ids.device)
    past = None
    while seq.shape[1] < max_length and not finished.all():
        logits, past = next_logits(model, seq, memory, attention_mask, past, use_cache)
        token = logits.float().argmax(dim=-1)
        token = token.masked_fill(finished, cfg.pad_token_id)  # a finished row writes padding
        seq = torch.cat([seq, token[:, None]], dim=1)
        finished |= token == cfg.eos_token_id
    return seq


# ------------------------------------------------------------------ beam search

def gather_beams(x, index):
    """x: (B, K', ...) -> (B, K, ...), the beams named by index (B, K)."""
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:])
    return x.gather(1, index)


def beam_step(alive, alive_scores, logprobs, cur: int, K: int):
    """Extend every alive beam by every token and keep the 2K best: (scores (B, 2K), sequences
    (B, 2K, max_length), parent beam (B, 2K)). 2K, so that K remain even if K of them end here."""
    B, _, V = logprobs.shape
    total = (logprobs + alive_scores[:, :, None]).view(B, K * V)  # summed log-probabilities
    scores, index = total.topk(2 * K)
    parent, token = index // V, index % V
    seqs = gather_beams(alive, parent).clone()
    seqs[:, :, cur] = token
    return scores, seqs, parent


def finish_beams(done, done_scores, is_done, cand_scores, cand, ends, may_improve, cur: int, K: int,
                 length_penalty: float, early_stopping):
    """Add the candidates that just ended (among the K best) to the K finished translations, scored
    sum(log p) / length ** length_penalty; keep the K best finished."""
    ended = ends & (torch.arange(2 * K, device=ends.device) < K)[None, :]
    scores = cand_scores / (cur ** length_penalty)  # cur tokens written after the start token
    scores = scores + (is_done.all(dim=-1, keepdim=True) & (early_stopping is True)).float() * NEG
    scores = scores + (~may_improve).float() * NEG
    scores = scores + (~ended).float() * NEG
    merged_scores = torch.cat([done_scores, scores], dim=1)
    best = merged_scores.topk(K).indices
    return (gather_beams(torch.cat([done, cand], dim=1), best), gather_beams(merged_scores, best),
            gather_beams(torch.cat([is_done, ended], dim=1), best))


def can_still_improve(may_improve, alive_scores, done_scores, is_done, length: int, max_length: int,
                      length_penalty: float, early_stopping):
    """Whether the best alive beam could still beat the worst finished one. Its best possible length
    is its current one (early_stopping=False), or max_length with "never" and a positive penalty."""
    if early_stopping == "never" and length_penalty > 0.0:
        length = max_length - 1
    best_alive = alive_scores[:, :1] / (length ** length_penalty)
    worst_done = torch.where(is_done, done_scores.min(dim=1, keepdim=True).values, NEG)
    return may_improve & (best_alive > worst_done).any(dim=-1, keepdim=True)


def reorder_cache(past, index):
    """Keep the self-attention keys and values of the beams that survived (index: (B*K,) flat rows).
    The cross-attention's stay: every beam of a sentence reads the same encoder states."""
    return tuple(((k.index_select(0, index), v.index_select(0, index)), cross) for (k, v), cross in past)


@torch.no_grad()
def beam_search(model, input_ids, attention_mask=None, *, num_beams: int = 4, max_length: int = 20,
                length_penalty: float = 1.0, early_stopping: bool | str = False, use_cache: bool = True):
    """(B, S) source -> (B, T) best translation per row: the start token first, padding after the end."""
    check_generation_args(model, num_beams, max_length)
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    cfg = model.config
    B, K, device = input_ids.shape[0], num_beams, input_ids.device
    memory = model.encode(input_ids, attention_mask).repeat_interleave(K, dim=0)  # (B*K, S, C)
    memory_mask = None if attention_mask is None else attention_mask.repeat_interleave(K, dim=0)

    alive = torch.full((B, K, max_length), cfg.pad_token_id, dtype=torch.long, device=device)
    alive[:, :, 0] = cfg.decoder_start_token_id
    alive_scores = torch.zeros(B, K, device=device)
    alive_scores[:, 1:] = NEG  # the K beams start equal: only the first may expand, or all K would pick alike
    done, done_scores = alive.clone(), torch.full((B, K), NEG, device=device)
    is_done = torch.zeros(B, K, dtype=torch.bool, device=device)
    may_improve = torch.ones(B, 1, dtype=torch.bool, device=device)
    past, cur = None, 1
    while cur < max_length:
        logits, past = next_logits(model, alive.view(B * K, max_length)[:, :cur], memory, memory_mask, past, use_cache)
        logprobs = F.log_softmax(logits.float(), dim=-1).view(B, K, -1)  # (B*K, V) -> (B, K, V)
        cand_scores, cand, parent = beam_step(alive, alive_scores, logprobs, cur, K)
        ends = (cand[:, :, cur] == cfg.eos_token_id) | (cur + 1 >= max_length)  # (B, 2K)
        # The K best candidates that did not end go on.
        go_on = cand_scores + ends.float() * NEG
        keep = go_on.topk(K).indices
        alive, alive_scores, kept_parent = gather_beams(cand, keep), gather_beams(go_on, keep), gather_beams(parent, keep)
        done, done_scores, is_done = finish_beams(done, done_scores, is_done, cand_scores, cand, ends,
                                                  may_improve, cur, K, length_penalty, early_stopping)
        if use_cache:
            past = reorder_cache(past, (kept_parent + torch.arange(B, device=device)[:, None] * K).flatten())
        cur += 1
        may_improve = can_still_improve(may_improve, alive_scores, done_scores, is_done, cur - 1, max_length,
                                        length_penalty, early_stopping)
        if not may_improve.any() or (is_done.all() and early_stopping is True) or ends.all():
            break
    return trim(done[:, 0], cfg.eos_token_id, cfg.pad_token_id)


def trim(seqs, eos_id: int, pad_id: int):
    """(B, max_length) -> (B, T): padding after each row's first end token, cut to the longest row."""
    is_eos = seqs == eos_id
    after = (is_eos.cumsum(dim=1) - is_eos.long()) > 0  # positions after the first end token
    seqs = seqs.masked_fill(after, pad_id)
    ends = torch.where(is_eos.any(dim=1), is_eos.float().argmax(dim=1) + 1, seqs.shape[1])
    return seqs[:, :int(ends.max())]


def generate(model, input_ids, attention_mask=None, *, num_beams: int = 1, max_length: int = 20,
             length_penalty: float = 1.0, early_stopping: bool | str = False, use_cache: bool = True):
    """Greedy decoding for num_beams=1, beam search otherwise (transformers' `generate` settings)."""
    check_generation_args(model, num_beams, max_length)
    was_training = model.training
    model.eval()
    try:
        if num_beams == 1:
            return greedy_search(model, input_ids, attention_mask, max_length=max_length, use_cache=use_cache)
        return beam_search(model, input_ids, attention_mask, num_beams=num_beams, max_length=max_length,
                           length_penalty=length_penalty, early_stopping=early_stopping, use_cache=use_cache)
    finally:
        model.train(was_training)
