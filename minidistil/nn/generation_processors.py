"""Logits processors: small functions `(input_ids, scores) -> scores` applied in order at every step.

transformers' `LogitsProcessorList`, without the classes: each processor is a named function, the
settings bound with `functools.partial`, and `logits_processors(config, prompt_length)` lists the ones
the settings ask for in transformers' order (`GenerationMixin._get_logits_processor`), so that the
same scores come out:

    repetition_penalty, no_repeat_ngram, bad_words, min_length, min_new_tokens, forced_bos, forced_eos,
    and when sampling: temperature, top_k, top_p.

input_ids: (N, T) the decoder tokens so far, the start token first. scores: (N, V) the next token's
logits (greedy, sampling) or log-probabilities (beam search, as transformers: log-softmax first).
A forbidden token gets -inf, as transformers gives it. A processor may write into `scores` and
return it: generate hands each step's scores to the processors and keeps no other reference, and a
copy of a (rows, V) tensor costs as much as what most processors do.
"""
from __future__ import annotations

import math
from functools import partial

import torch

from minidistil.nn.generation_config import GenerationConfig


def repetition_penalty(input_ids, scores, penalty: float):
    """Keskar et al. (2019): a token already in the row has its score divided by `penalty` when
    positive and multiplied when negative, so that it always drops for penalty > 1."""
    seen = scores.gather(1, input_ids)
    seen = torch.where(seen < 0, seen * penalty, seen / penalty)
    return scores.scatter(1, input_ids, seen)


def no_repeat_ngram(input_ids, scores, n: int):
    """No n-gram twice: a token that would complete an n-gram already in the row is forbidden."""
    T = input_ids.shape[1]
    if T < n:
        return scores
    prefix = input_ids[:, T + 1 - n:]  # (N, n - 1): the n-gram the next token would complete
    windows = input_ids.unfold(1, n, 1)  # (N, T - n + 1, n)
    row, start = (windows[..., :-1] == prefix[:, None]).all(dim=-1).nonzero(as_tuple=True)  # the n-grams it matches
    scores[row, windows[row, start, -1]] = -math.inf  # the token that would complete each of them
    return scores


def bad_words(input_ids, scores, bad_words_ids: list):
    """A listed sequence is never completed: its last token is forbidden where the row ends with the
    rest of it (a one-token entry is always forbidden)."""
    for word in bad_words_ids:
        *prefix, last = word
        if not prefix:
            scores = scores.clone()
            scores[:, last] = -math.inf
        elif len(prefix) <= input_ids.shape[1]:
            hit = (input_ids[:, -len(prefix):] == torch.tensor(prefix, device=input_ids.device)).all(dim=1)
            scores = scores.clone()
            scores[hit, last] = -math.inf
    return scores


def forbid_eos_before(input_ids, scores, length: int, eos_ids: list[int]):
    """min_length / min_new_tokens: no end token while the row is shorter than `length` (the prompt
    length is folded into `length` for min_new_tokens)."""
    if input_ids.shape[1] < length:
        scores = scores.clone()
        scores[:, eos_ids] = -math.inf
    return scores


def force_token_at(input_ids, scores, length: int, token_ids: list[int]):
    """forced_bos (length 1) / forced_eos (max_length - 1): at that length only these tokens may come."""
    if input_ids.shape[1] == length:
        scores = torch.full_like(scores, -math.inf)
        scores[:, token_ids] = 0.0
    return scores


def temperature(input_ids, scores, t: float):
    return scores / t


def top_k(input_ids, scores, k: int, min_tokens_to_keep: int = 1):
    """Only the k best tokens stay candidates (Fan et al. 2018)."""
    k = min(max(k, min_tokens_to_keep), scores.shape[-1])
    kth = scores.topk(k).values[..., -1:]
    return scores.masked_fill(scores < kth, -math.inf)


def top_p(input_ids, scores, p: float, min_tokens_to_keep: int = 1):
    """Nucleus sampling (Holtzman et al. 2020): the fewest best tokens whose probabilities sum to p."""
    sorted_scores, order = scores.sort(descending=False)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    drop = cumulative <= (1 - p)  # the worst tokens whose total stays within 1 - p
    drop[..., -min_tokens_to_keep:] = False
    return scores.masked_fill(drop.scatter(1, order, drop), -math.inf)


def logits_processors(config: GenerationConfig, prompt_length: int, max_length: int) -> list:
    """The processors `config` asks for, in transformers' order."""
    eos = config.eos_ids()
    out = []
    if config.repetition_penalty != 1.0:
        out.append(partial(repetition_penalty, penalty=config.repetition_penalty))
    if config.no_repeat_ngram_size > 0:
        out.append(partial(no_repeat_ngram, n=config.no_repeat_ngram_size))
    if config.bad_words_ids:
        # transformers drops an entry that is just an end token: a row must still be able to end
        words = [w for w in config.bad_words_ids if not (len(w) == 1 and w[0] in eos)]
        out.append(partial(bad_words, bad_words_ids=words))
    if config.min_length > 0 and eos:
        out.append(partial(forbid_eos_before, length=config.min_length, eos_ids=eos))
    if config.min_new_tokens and eos:
        out.append(partial(forbid_eos_before, length=prompt_length + config.min_new_tokens, eos_ids=eos))
    if config.forced_bos_token_id is not None:
        out.append(partial(force_token_at, length=1, token_ids=[config.forced_bos_token_id]))
    if config.forced_eos_token_id is not None:
        forced = config.forced_eos_token_id
        out.append(partial(force_token_at, length=max_length - 1,
                           token_ids=[forced] if isinstance(forced, int) else list(forced)))
    if config.do_sample:
        # A beam must keep a token that is not an end token, or every candidate could end at once.
        keep = len(eos) + 1 if config.num_beams > 1 else 1
        if config.temperature != 1.0:
            out.append(partial(temperature, t=config.temperature))
        if config.top_k != 0:
            out.append(partial(top_k, k=config.top_k, min_tokens_to_keep=keep))
        if config.top_p < 1.0:
            out.append(partial(top_p, p=config.top_p, min_tokens_to_keep=keep))
    return out


def apply_processors(processors: list, input_ids, scores):
    for process in processors:
        scores = process(input_ids, scores)
    return scores
