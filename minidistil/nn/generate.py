"""Writing a translation token by token: greedy decoding and sampling, then beam search, with the key/value cache.

The loop, as nanoGPT writes it: run the decoder over the target so far, take the logits of the last
position, let the logits processors change them, pick a token, append it, stop at the end token or
at max_length:

    seq = [start]
    while len(seq) < max_length:
        scores = processors(seq, decoder(seq, encoder_states)[-1])
        seq.append(scores.argmax())          # or a draw from softmax(scores) when do_sample
        if seq[-1] in eos: break

`sample` is that loop, batched (a finished row writes padding until all are finished). `beam_search`
keeps the num_beams best partial translations instead of one, scoring a finished one by its summed
log-probability / length ** length_penalty. Its bookkeeping (`beam_step`, `finish_beams`,
`can_still_improve`) follows transformers' `generate` step for step, so tokens, scores and
sequences_scores are the same on the same weights (tests/test_generate*.py), including
early_stopping (True: stop at num_beams finished; False: stop once no running beam can beat the
worst finished one at its current length; "never": only when that is impossible even at max_length).

The settings are one record, `GenerationConfig` (generation_config.py): the model's own
(`model.generation_config`, read from generation_config.json), overridden by keyword. The logits
processors (repetition penalty, n-gram blocking, bad words, minimum length, forced tokens,
temperature, top-k, top-p) are small functions applied in order (generation_processors.py).

The key/value cache (`use_cache=True`, the default) is the fast path beside the recomputing loop:
each step feeds only the newest token and reuses every layer's keys and values of the tokens before
(and the cross-attention's keys and values of the encoder states, computed once per source and
shared by its beams). `DecoderRows` runs the decoder on the rows of the sources still open: where
transformers decodes every row until the whole batch is done, a finished source leaves the batch.

What a step costs besides the matrix products, and how it is kept small: the (rows, V) scores are
the largest tensors a step makes (beam 4 x 32 sources x a 23,675-word vocabulary: 12 MB), so they
are made for the open rows only and the processors and the beam score sum write into them instead
of copying them; beam search moves each row's cache to its parent beam's in the same copy that
appends the new token (decoder.extend), and not at all when every beam kept its place.

max_length counts decoder tokens including the start token, as transformers does: max_length=20
writes at most 19 tokens; max_new_tokens counts after the decoder prefix. Shapes: B batch, K beams,
S source tokens, T target tokens, V vocabulary, N rows decoded (B x K, or B x num_return_sequences).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from minidistil.nn.generation_config import GenerationConfig
from minidistil.nn.generation_outputs import GenerateOutput, Recorder
from minidistil.nn.generation_processors import apply_processors, logits_processors

NEG = -1.0e9  # "not a candidate": added to a score, as transformers does (its ties then break the same way)


def check_generation_args(model, num_beams: int, max_length: int) -> None:
    for name, value in (("num_beams", num_beams), ("max_length", max_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    limit = model.config.decoder.max_position_embeddings + 1
    if max_length > limit:
        raise ValueError(f"max_length {max_length} is longer than the decoder's position table allows "
                         f"({limit} tokens with the start token); lower max_length")


def decoder_step(model, seq, memory, memory_mask, past, config: GenerationConfig, past_rows=None):
    """The decoder's output for the next token after each row of seq (N, T). With the cache, only
    the tokens not yet cached run through the decoder (row i continuing the cache's row past_rows[i]);
    without, all of seq again."""
    new = seq if past is None or not config.use_cache else seq[:, -1:]
    return model.decoder(new, memory, memory_mask, past=past if config.use_cache else None, last_only=True,
                         output_attentions=config.output_attentions, output_hidden_states=config.output_hidden_states,
                         past_rows=past_rows if config.use_cache else None)


class DecoderRows:
    """The decoder run step by step with its key/value cache, on the rows of the sources still open.

    transformers runs every row until the whole batch is done; a source whose rows are all finished
    (greedy: its end token written; beams: no running beam can still beat the finished ones) is
    dropped here instead, with its rows of the cache, so a batch of mixed lengths costs what its
    open rows cost, the full-vocabulary scores included: `step` gives the logits of the open rows
    only (`select` picks the same rows of any (N, ...) tensor, `expand` puts them back). Not when
    sampling (transformers draws for every row, so dropping rows would shift the random draws) or
    when per-step outputs are recorded. copies: the consecutive rows of one source (its beams, or
    its return sequences)."""

    def __init__(self, model, memory, memory_mask, config: GenerationConfig, copies: int):
        self.model, self.memory, self.memory_mask, self.config, self.copies = model, memory, memory_mask, config, copies
        recorded = config.return_dict_in_generate and (config.output_scores or config.output_attentions
                                                       or config.output_hidden_states)
        self.may_drop = not config.do_sample and not recorded
        self.B = memory.shape[0]
        self.open = torch.arange(self.B, device=memory.device)  # the sources decoded; memory holds theirs
        self.past = None
        self.past_rows = None  # the cache row each open row continues at the next step (None: its own)

    def rows(self, sources):
        return (sources[:, None] * self.copies + torch.arange(self.copies, device=sources.device)).flatten()

    def select(self, x):
        """x (N, ...), one entry per row -> the entries of the open sources' rows."""
        return x if len(self.open) == self.B else x[self.rows(self.open)]

    def expand(self, x, fill):
        """The inverse of `select`: the rows of the closed sources hold `fill`."""
        if len(self.open) == self.B:
            return x
        return x.new_full((self.B * self.copies, *x.shape[1:]), fill).index_copy(0, self.rows(self.open), x)

    def step(self, seq):
        """seq (n, T): the open rows (`select`) -> (logits (n, V) of their next token, the decoder's output)."""
        out = decoder_step(self.model, seq, self.memory, self.memory_mask, self.past, self.config, self.past_rows)
        self.past, self.past_rows = out.past if self.config.use_cache else None, None
        return out.logits[:, -1].float(), out

    def advance(self, parents, still_open) -> None:
        """Before the next step: row i continues row parents[i] (flat rows; beams reorder, greedy rows
        continue themselves: parents None); still_open (B,) bool, the sources to keep decoding."""
        stay = still_open[self.open] if self.may_drop else torch.ones_like(self.open, dtype=torch.bool)
        closing = not bool(stay.all())  # closed sources stay closed
        if parents is None and not closing:
            return
        new_open = self.open[stay]
        index = self.rows(new_open) if parents is None else parents[self.rows(new_open)]  # flat rows
        if len(self.open) < self.B:  # flat row -> its row in the cache
            local = torch.full((self.B * self.copies,), -1, dtype=torch.long, device=index.device)
            local[self.rows(self.open)] = torch.arange(len(self.open) * self.copies, device=index.device)
            index = local[index]
        if closing:  # the encoder states and cross-attention cache of the sources kept
            kept = stay.nonzero().squeeze(1)
            self.memory = self.memory[kept]
            self.memory_mask = None if self.memory_mask is None else self.memory_mask[kept]
            if self.past is not None:
                self.past = tuple((kv, None if cross is None else tuple(t[kept] for t in cross))
                                  for kv, cross in self.past)
            self.open = new_open
        if self.past is not None and (closing or not torch.equal(index, torch.arange(len(index), device=index.device))):
            self.past_rows = index  # gathered by the decoder as it appends; often every beam kept its place


def draw(scores, generator):
    """One token per row from softmax(scores) (transformers: torch.multinomial on the same probabilities,
    so the same generator state gives the same tokens)."""
    return torch.multinomial(F.softmax(scores, dim=-1), num_samples=1, generator=generator).squeeze(1)


def sample(model, seq, memory, memory_mask, config: GenerationConfig, max_length: int, generator=None):
    """Greedy decoding (do_sample=False) or sampling: seq (N, P) the prefix -> GenerateOutput."""
    processors = logits_processors(config, seq.shape[1], max_length)
    eos = torch.tensor(config.eos_ids(), dtype=torch.long, device=seq.device)
    unfinished = torch.ones(seq.shape[0], dtype=torch.bool, device=seq.device)
    decoder, record = DecoderRows(model, memory, memory_mask, config, seq.shape[0] // memory.shape[0]), Recorder(config)
    while seq.shape[1] < max_length and unfinished.any():
        ids = decoder.select(seq)  # (n, T): the rows of the sources still open
        logits, out = decoder.step(ids)
        scores = apply_processors(processors, ids, logits)
        record.step(scores, out)
        token = draw(scores, generator) if config.do_sample else scores.argmax(dim=-1)
        token = decoder.expand(token, config.pad_token_id)  # (N,)
        if len(eos):
            token = token.masked_fill(~unfinished, config.pad_token_id)  # a finished row writes padding
            unfinished &= ~torch.isin(token, eos)
        seq = torch.cat([seq, token[:, None]], dim=1)
        decoder.advance(None, unfinished.view(memory.shape[0], -1).any(dim=1))
    return record.output(seq)


def greedy_search(model, input_ids, attention_mask=None, **settings):
    """(B, S) source -> (B, T) target ids by greedy decoding, the start token first."""
    return generate(model, input_ids, attention_mask, **{**settings, "num_beams": 1, "do_sample": False})


# ------------------------------------------------------------------ beam search

def gather_beams(x, index):
    """x: (B, K', ...) -> (B, K, ...), the beams named by index (B, K)."""
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand(*index.shape, *x.shape[2:])
    return x.gather(1, index)


def beam_step(alive, alive_scores, alive_origin, logprobs, sources, cur: int, keep: int, prompt: int, generator=None):
    """Extend every alive beam of the open `sources` by every token (logprobs (B' K, V), their rows)
    and keep the `keep` best (or, sampling, `keep` drawn without replacement): (scores (B, keep),
    sequences (B, keep, max_length), parent beam (B, keep), origins (B, keep, max_length - prompt)).
    keep >= 2K, so that K remain even if K of them end here. A closed source gets candidates that
    score NEG: its finished beams are final."""
    B, K, _ = alive.shape
    V = logprobs.shape[-1]
    # summed log-probabilities, written into logprobs (read no more): a (rows, V) copy saved
    total = logprobs.view(len(sources), K, V).add_(alive_scores[sources, :, None]).view(len(sources), K * V)
    if generator is not None:
        index = torch.multinomial(F.softmax(total, dim=-1), keep, generator=generator)
        scores, order = total.gather(1, index).sort(dim=-1, descending=True)
        index = index.gather(1, order)
    else:
        scores, index = total.topk(keep)
    if len(sources) < B:
        scores = scores.new_full((B, keep), NEG).index_copy(0, sources, scores)
        index = index.new_zeros(B, keep).index_copy(0, sources, index)
    parent, token = index // V, index % V
    seqs = gather_beams(alive, parent).clone()
    seqs[:, :, cur] = token
    origin = gather_beams(alive_origin, parent).clone()
    origin[:, :, cur - prompt] = parent + torch.arange(B, device=parent.device)[:, None] * K  # flat row, as transformers
    return scores, seqs, parent, origin


def finish_beams(done, cand, is_done, ends, may_improve, cur: int, prompt: int, K: int, config: GenerationConfig):
    """Add the candidates that just ended (among the K best) to the K finished translations, scored
    sum(log p) / length ** length_penalty; keep the K best finished. done, cand: (scores, sequences,
    origins), each (B, K, ...) and (B, keep, ...)."""
    ended = ends & (torch.arange(ends.shape[1], device=ends.device) < K)[None, :]
    scores = cand[0] / ((cur + 1 - prompt) ** config.length_penalty)  # tokens written after the prefix
    scores = scores + (is_done.all(dim=-1, keepdim=True) & (config.early_stopping is True)).float() * NEG
    scores = scores + (~may_improve).float() * NEG
    scores = scores + (~ended).float() * NEG
    merged = [torch.cat([d, c], dim=1) for d, c in zip(done, (scores, cand[1], cand[2]))]
    best = merged[0].topk(K).indices
    return tuple(gather_beams(m, best) for m in merged), gather_beams(torch.cat([is_done, ended], dim=1), best)


def can_still_improve(may_improve, alive_scores, done_scores, is_done, length: int, max_length: int,
                      config: GenerationConfig):
    """Whether the best alive beam could still beat the worst finished one. Its best possible length
    is its current one (early_stopping=False), or max_length with "never" and a positive penalty."""
    if config.early_stopping == "never" and config.length_penalty > 0.0:
        length = max_length
    best_alive = alive_scores[:, :1] / (length ** config.length_penalty)
    worst_done = torch.where(is_done, done_scores.min(dim=1, keepdim=True).values, NEG)
    return may_improve & (best_alive > worst_done).any(dim=-1, keepdim=True)


def beam_search(model, prefix, memory, memory_mask, config: GenerationConfig, max_length: int, generator=None):
    """prefix (B*K, P), each source's K rows alike -> GenerateOutput of the num_return_sequences best."""
    K, P, device = config.num_beams, prefix.shape[1], prefix.device
    B, eos = prefix.shape[0] // K, torch.tensor(config.eos_ids(), dtype=torch.long, device=device)
    keep = max(2, 1 + len(eos)) * K
    processors = logits_processors(config, P, max_length)
    alive = torch.full((B, K, max_length), filler(config), dtype=torch.long, device=device)
    alive[:, :, :P] = prefix.view(B, K, P)
    alive_scores = torch.zeros(B, K, device=device)
    alive_scores[:, 1:] = NEG  # the K beams start equal: only the first may expand, or all K would pick alike
    alive_origin = torch.full((B, K, max_length - P), -1, dtype=torch.long, device=device)
    done = (torch.full((B, K), NEG, device=device), alive.clone(), alive_origin.clone())
    is_done = torch.zeros(B, K, dtype=torch.bool, device=device)
    may_improve = torch.ones(B, 1, dtype=torch.bool, device=device)
    decoder, record, cur = DecoderRows(model, memory, memory_mask, config, K), Recorder(config), P
    while cur < max_length:
        ids = decoder.select(alive.view(B * K, max_length)[:, :cur])  # (n, cur): the rows of the open sources
        logits, out = decoder.step(ids)
        logprobs = apply_processors(processors, ids, F.log_softmax(logits, dim=-1))
        record.step(logprobs, out)
        cand_scores, cand, _, cand_origin = beam_step(alive, alive_scores, alive_origin, logprobs, decoder.open, cur,
                                                      keep, P, generator if config.do_sample else None)
        ends = torch.isin(cand[:, :, cur], eos) | (cur + 1 >= max_length)  # (B, keep)
        go_on = cand_scores + ends.float() * NEG  # the K best candidates that did not end go on
        best = go_on.topk(K).indices
        alive, alive_scores, alive_origin = gather_beams(cand, best), gather_beams(go_on, best), gather_beams(cand_origin, best)
        done, is_done = finish_beams(done, (cand_scores, cand, cand_origin), is_done, ends, may_improve, cur, P, K, config)
        cur += 1
        may_improve = can_still_improve(may_improve, alive_scores, done[0], is_done, cur - P, max_length - P, config)
        closed = ~may_improve[:, 0] | (is_done.all(dim=1) & (config.early_stopping is True))  # (B,)
        if closed.all() or ends.all():
            break
        decoder.advance(alive_origin[:, :, cur - 1 - P].flatten(), ~closed)
    return best_beams(done, record, config, P)


def best_beams(done, record, config: GenerationConfig, P: int) -> GenerateOutput:
    """The num_return_sequences best finished beams per source, cut after the longest of them."""
    n = config.num_return_sequences
    scores, seqs, origin = (x[:, :n].flatten(0, 1) for x in done)
    length = int((origin >= 0).sum(dim=1).max())
    return record.output(seqs[:, :P + length], scores if config.output_scores else None, origin[:, :length])


def filler(config: GenerationConfig) -> int:
    """What a beam holds after its end token. transformers writes `pad_token_id or eos_token_id`: the
    end token again when the pad id is 0 (a falsy id), the pad id otherwise; the same here, so that
    sequences equal transformers' (tokenizers skip both when decoding)."""
    eos = config.eos_ids()
    return config.pad_token_id if config.pad_token_id or not eos else eos[0]


# ------------------------------------------------------------------ the entry point

def generation_settings(model, generation_config: GenerationConfig | None, overrides: dict) -> GenerationConfig:
    """The model's generation config (or the one given), overridden by the keywords of this call.
    Special tokens the config leaves at None come from the model's config; eos_token_id=None given
    as a keyword means no end token (rows run to the length limit)."""
    base = generation_config or getattr(model, "generation_config", None) or GenerationConfig.from_model_config(model.config)
    tokens = {k: getattr(model.config, k) for k in ("decoder_start_token_id", "pad_token_id", "eos_token_id")
              if getattr(base, k) is None}
    config = base.update(**tokens, **overrides)
    check_generation_args(model, config.num_beams, config.max_length)
    return config


def decoder_prefix(config: GenerationConfig, decoder_input_ids, B: int, device):
    """(B, P): the start token, or the given decoder_input_ids, with the start token put in front when
    no row begins with it (as transformers)."""
    start = torch.full((B, 1), config.decoder_start_token_id, dtype=torch.long, device=device)
    if decoder_input_ids is None:
        return start
    if decoder_input_ids.shape[0] != B:
        raise ValueError(f"decoder_input_ids has {decoder_input_ids.shape[0]} rows but the source {B}; "
                         f"give one prefix per source")
    if (decoder_input_ids[:, 0] != config.decoder_start_token_id).all():
        decoder_input_ids = torch.cat([start, decoder_input_ids.to(device)], dim=1)
    return decoder_input_ids.to(device)


@torch.no_grad()
def generate(model, input_ids=None, attention_mask=None, *, generation_config: GenerationConfig | None = None,
             decoder_input_ids=None, inputs_embeds=None, generator: torch.Generator | None = None,
             seed: int | None = None, **settings):
    """transformers' `generate` for the translator: (B, S) source -> (N, T) target ids, the start token
    first; or a GenerateOutput with return_dict_in_generate=True. settings: GenerationConfig's fields
    (num_beams, do_sample, max_new_tokens, ...). Sampling draws from `generator`, or from a new one
    seeded with `seed`, or from torch's global generator (as transformers)."""
    config = generation_settings(model, generation_config, settings)
    if generator is None and seed is not None:
        generator = torch.Generator(device=(input_ids if input_ids is not None else inputs_embeds).device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        enc = model.run_encoder(input_ids, attention_mask, inputs_embeds=inputs_embeds,
                                output_attentions=config.output_attentions,
                                output_hidden_states=config.output_hidden_states)
        memory = model.project(enc.last_hidden_state)
        B, device = memory.shape[0], memory.device
        prefix = decoder_prefix(config, decoder_input_ids, B, device)
        max_length = config.max_length if config.max_new_tokens is None else prefix.shape[1] + config.max_new_tokens
        check_generation_args(model, config.num_beams, max_length)
        # The copies of a source (its beams, or its return sequences) share its encoder states: the
        # decoder's cross-attention reads them once per source (decoder.Attention), not once per copy.
        copies = config.num_beams if config.num_beams > 1 else config.num_return_sequences
        prefix = prefix.repeat_interleave(copies, dim=0)
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None  # no source padding: the cross-attention needs no mask (faster kernels)
        search = beam_search if config.num_beams > 1 else sample
        out = search(model, prefix, memory, attention_mask, config, max_length, generator)
    finally:
        model.train(was_training)
    if not config.return_dict_in_generate:
        return out.sequences
    return out._replace(encoder_attentions=enc.attentions, encoder_hidden_states=enc.hidden_states)
