"""Helpers shared by the bench scripts: the CPU's name, a ratio shown with its rounds, one timer,
and the two input batches the model benchmarks run (8 x 128, and real ragged text).

The scripts run as `python bench/x.py`; Python then puts bench/ first on sys.path, so
`from common import cpu_name` finds this file.
"""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import torch

from minidistil.data.batching import collate
from minidistil.data import sources


def cpu_name() -> str:
    """The CPU's model name: what `lscpu` shows on its "Model name" line. Read from the "model name"
    field of /proc/cpuinfo (Linux), which needs no external program; elsewhere from
    platform.processor(), which may only name the architecture."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or "CPU"


def median_and_rounds(values) -> str:
    """Ratios formatted as `1.23x (1.20, 1.23, 1.30)`: their median, then every round's ratio in the
    order the rounds ran, so that a reader sees how far the median can be trusted."""
    values = list(values)
    return f"{statistics.median(values):.2f}x ({', '.join(f'{v:.2f}' for v in values)})"


def timed(fn, sync=None) -> tuple[float, object]:
    """(seconds, result) of one call of `fn`; `sync` (say torch.cuda.synchronize) runs before and
    after, so that queued device work is inside the measurement and none from before is."""
    if sync:
        sync()
    start = time.perf_counter()
    out = fn()
    if sync:
        sync()
    return time.perf_counter() - start, out


def speed_batches(tokenizer) -> dict:
    """8 x 128 random ids, and the first 32 Rotten Tomatoes snippets padded by the library's `collate`."""
    ids = torch.randint(1000, 30000, (8, 128), generator=torch.Generator().manual_seed(0))
    texts, _ = sources.rotten_tomatoes()
    enc = tokenizer(texts[:32], truncation=True, max_length=128)
    batch = collate([{"input_ids": np.asarray(row)} for row in enc["input_ids"]], pad_token_id=0)
    ragged, mask = batch["input_ids"], batch["attention_mask"]
    return {"8 x 128": (ids, torch.ones_like(ids)), f"ragged 32 x {ragged.shape[1]}": (ragged, mask)}
