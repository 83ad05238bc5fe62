"""Generation arguments checked against the model and the memory before any work is done.

A beam search holds, for each of the batch's texts and each beam, the scores of every word of the
vocabulary at each step (twice: logits and log-probabilities) and the decoder's keys and values for
every layer and every written token; the cross-attention's keys and values are per source token.
`num_beams=10000` on a 30,000-word vocabulary asks for gigabytes in a single step, and the allocator
then fails deep inside torch with a traceback. `check_generation` multiplies it out first:

    bytes ~ texts x beams x (2 x vocab + layers x 2 x hidden x (max_length + source tokens)) x 4

and refuses, in one sentence naming the largest `num_beams` that fits, anything above half of the
memory free now (the model, the encoder's states and torch's own working space need the rest).
Independently of memory, `num_beams` above `MAX_BEAMS` is refused: past it a wider beam only finds
longer, blander sentences (the "beam search curse"), and it makes a typo such as 10000 fail at once.
"""
from __future__ import annotations

import os

MAX_BEAMS = 256        # the largest num_beams accepted at all (see the module docstring)
FLOAT_BYTES = 4        # scores and states are float32 during generation
USABLE_SHARE = 0.5     # of the free memory, what one generation call may plan to use


def available_bytes(device: str = "cpu") -> int:
    """Memory free now on `device`: MemAvailable on Linux, the free GPU memory on CUDA."""
    if str(device).startswith("cuda"):
        import torch
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def beam_bytes(texts: int, num_beams: int, max_length: int, source_length: int, vocab: int, layers: int,
               hidden: int) -> int:
    """The working memory of one generation call, by the formula of the module docstring."""
    per_beam = 2 * vocab + layers * 2 * hidden * (max_length + source_length)
    return texts * num_beams * per_beam * FLOAT_BYTES


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"


def check_generation(model, num_beams: int, max_length: int, texts: int, source_length: int,
                     device: str = "cpu") -> None:
    """Refuse, in one sentence, a generation the memory cannot hold (see the module docstring).
    `num_beams` and `max_length` are already positive integers (`generate.check_generation_args`)."""
    if num_beams > MAX_BEAMS:
        raise ValueError(f"num_beams={num_beams:,} is more than minidistil accepts ({MAX_BEAMS}); beams beyond a "
                         f"few dozen only lengthen the search, 4 to 8 is usual")
    cfg = model.config.decoder
    shape = dict(vocab=cfg.vocab_size, layers=cfg.num_hidden_layers, hidden=cfg.hidden_size)
    texts = max(texts, 1)
    need = beam_bytes(texts, num_beams, max_length, source_length, **shape)
    free = available_bytes(device) * USABLE_SHARE
    if need <= free:
        return
    fits = min(int(free // beam_bytes(texts, 1, max_length, source_length, **shape)), num_beams - 1)  # linear in beams
    advice = f"num_beams={fits} fits" if fits else "lower --batch-size or max_length"
    raise ValueError(f"num_beams={num_beams:,} x max_length={max_length} x {texts} text(s) x a vocabulary of "
                     f"{shape['vocab']:,} needs about {_gb(need)} for the beam search, more than half of the "
                     f"{_gb(free / USABLE_SHARE)} free now; {advice}")
