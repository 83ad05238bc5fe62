"""Examples in, padded batches out: the one batching path of training, evaluation and the pipelines.

An example is a dict with `input_ids` (a 1-D array, or for multiple choice a list of 1-D arrays,
one per choice) and any label fields. Batches are cut so that their rows have similar lengths,
and each batch is padded only to its own longest row (dynamic padding): fewer pad tokens, the
same examples.

- `example_length`: the length rule (the longest row of an example) that every sort below uses.
- `collate`: a list of examples -> one dict of tensors, with `attention_mask` (1 real, 0 pad).
- `LengthGroupedBatches`: the training order, shuffled yet length-grouped, a pure function of the step.
- `length_sorted_batches` and `forward_in_length_order`: inference over every example, longest
  first, with each output put back in its example's place.

    >>> collate([{"input_ids": np.array([2, 7, 3]), "labels": 1}, {"input_ids": np.array([2, 3]), "labels": 0}])
    {'input_ids': tensor([[2, 7, 3], [2, 3, 0]]), 'attention_mask': tensor([[1, 1, 1], [1, 1, 0]]),
     'labels': tensor([1, 0])}
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from minidistil.nn.losses import IGNORE_INDEX


def example_length(example: dict) -> int:
    """Tokens in the example's longest row: the row count of its padded batch."""
    ids = example["input_ids"]
    return max(len(row) for row in ids) if isinstance(ids, list) else len(ids)


def collate(examples: list[dict], pad_token_id: int = 0, *, keys: Iterable[str] | None = None,
            label_pad: int = IGNORE_INDEX) -> dict[str, torch.Tensor]:
    """Stack examples into a batch padded to its own longest `input_ids`; add `attention_mask`.

    `keys` names the fields batched besides `input_ids` (default: every field of the first
    example). A scalar field (a class label, an answer position) is stacked; a 1-D field is taken to
    be per token (token labels) and padded with `label_pad`, the label the losses skip.
    Multiple-choice examples hold one row per choice and come out as (B, n_choices, T).
    """
    rows = [e["input_ids"] for e in examples]
    is_choice = isinstance(rows[0], list)
    flat = [r for choices in rows for r in choices] if is_choice else rows
    T = max(len(r) for r in flat)
    ids = np.full((len(flat), T), pad_token_id, dtype=np.int64)
    for row, r in zip(ids, flat):
        row[:len(r)] = r
    lengths = torch.tensor([len(r) for r in flat])
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    ids = torch.from_numpy(ids)
    if is_choice:
        ids, mask = ids.view(len(rows), -1, T), mask.view(len(rows), -1, T)
    batch = {"input_ids": ids, "attention_mask": mask}
    for key in (k for k in examples[0] if k != "input_ids") if keys is None else keys:
        if key not in examples[0]:
            continue
        values = [e[key] for e in examples]
        if np.ndim(values[0]) == 0:
            batch[key] = torch.tensor(np.array(values))
            continue
        dtype = np.float32 if np.issubdtype(np.asarray(values[0]).dtype, np.floating) else np.int64
        padded = np.full((len(values), T), label_pad, dtype=dtype)
        for row, v in zip(padded, values):
            row[:len(v)] = v
        batch[key] = torch.from_numpy(padded)
    return batch


class LengthGroupedBatches:
    """Batches of examples of similar length, in a fixed order for each (seed, epoch).

    Each epoch: shuffle all examples, cut the shuffled list into groups of `group_batches`
    batches, sort each group by length and cut it into batches, then shuffle the batches.
    A batch then holds examples of similar length (little padding), yet which lengths end up
    together still changes from epoch to epoch. The last incomplete batch of an epoch is dropped,
    so every step sees exactly `batch_size` examples.

    `batch(step)` is a pure function of the step number: a resumed run, or each process of a
    distributed run, finds the same batch for the same step without replaying the ones before.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int = 0, group_batches: int = 50):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(lengths) < batch_size:
            raise ValueError(f"a batch of {batch_size} needs at least that many examples, the data has "
                             f"{len(lengths)}; lower the batch size or add data")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.seed, self.group_batches = batch_size, seed, group_batches
        self.per_epoch = len(self.lengths) // batch_size
        self._epoch, self._order = -1, None

    def epoch(self, epoch: int) -> np.ndarray:
        """The batches of one epoch: (per_epoch, batch_size) example indices."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        group = self.group_batches * self.batch_size
        for start in range(0, len(order), group):
            chunk = order[start:start + group]
            order[start:start + group] = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
        batches = order[:self.per_epoch * self.batch_size].reshape(self.per_epoch, self.batch_size)
        return batches[rng.permutation(self.per_epoch)]

    def batch(self, step: int) -> np.ndarray:
        epoch = step // self.per_epoch
        if epoch != self._epoch:
            self._epoch, self._order = epoch, self.epoch(epoch)
        return self._order[step % self.per_epoch]


class TokenBudgetBatches:
    """Batches of similar length holding at most `max_tokens` padded tokens each, in a fixed order for
    each (seed, epoch): short rows (a UI string) come many to a batch, long ones (a paragraph) few, and
    every step costs about the same. Fairseq's `--max-tokens`.

    Each epoch: shuffle, sort each group of `group_size` examples by length (longest first), cut the
    sorted run greedily so that rows x longest row <= max_tokens, then shuffle the batches. Epochs
    differ in their number of batches; `batch(step)` walks them from the first, so it stays a pure
    function of the step (a resumed run finds the same batch).

    `lengths` is what a row costs (for a pair: its longer side).
    """

    def __init__(self, lengths: np.ndarray, max_tokens: int, seed: int = 0, group_size: int = 2000):
        self.lengths = np.asarray(lengths)
        if len(self.lengths) == 0:
            raise ValueError("token-budget batches need at least one example; the data is empty")
        if max_tokens < int(self.lengths.max()):
            raise ValueError(f"max_tokens={max_tokens} is less than the longest example ({int(self.lengths.max())} "
                             f"tokens), which then fits no batch; raise max_tokens or cut the examples shorter")
        self.max_tokens, self.seed, self.group_size = max_tokens, seed, group_size
        self._epochs: list[list[np.ndarray]] = []
        self._starts: list[int] = [0]  # the first step of each epoch computed so far

    def epoch(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        for start in range(0, len(order), self.group_size):
            chunk = order[start:start + self.group_size]
            order[start:start + self.group_size] = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
        batches, current, longest = [], [], 0
        for i in order:
            length = int(self.lengths[i])
            if current and max(longest, length) * (len(current) + 1) > self.max_tokens:
                batches.append(np.array(current))
                current, longest = [], 0
            current.append(i)
            longest = max(longest, length)
        batches.append(np.array(current))
        return [batches[j] for j in rng.permutation(len(batches))]

    def batch(self, step: int) -> np.ndarray:
        while self._starts[-1] <= step:
            self._epochs.append(self.epoch(len(self._epochs)))
            self._starts.append(self._starts[-1] + len(self._epochs[-1]))
        epoch = int(np.searchsorted(self._starts, step, side="right")) - 1
        return self._epochs[epoch][step - self._starts[epoch]]


def training_batches(lengths, batch_size: int, max_tokens: int = 0, seed: int = 0):
    """The training order: `TokenBudgetBatches` when `max_tokens` > 0, else `LengthGroupedBatches`."""
    if max_tokens:
        return TokenBudgetBatches(lengths, max_tokens, seed)
    return LengthGroupedBatches(lengths, batch_size, seed)


def sorted_batches(lengths, batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (little padding): the one
    length sort of inference (pipelines, translation, the teacher's beams for sequence-level KD)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def length_sorted_batches(examples: list[dict], batch_size: int) -> list[list[int]]:
    """Example indices grouped into batches of similar length, longest first (little padding)."""
    return sorted_batches([example_length(e) for e in examples], batch_size)


@torch.no_grad()
def forward_in_length_order(forward: Callable, examples: list[dict], pad_token_id: int,
                            batch_size: int) -> list[tuple[torch.Tensor, ...]]:
    """`forward(input_ids, attention_mask) -> tuple of (B, ...) tensors` over every example in
    length-sorted batches; returns each example's rows, in the examples' order.

    A per-token row keeps its batch's padding: it is (T_batch, ...) long, and only the first
    `len(input_ids)` positions are the example's.
    """
    outputs: list = [None] * len(examples)
    for batch_ids in length_sorted_batches(examples, batch_size):
        batch = collate([examples[i] for i in batch_ids], pad_token_id, keys=())
        out = forward(batch["input_ids"], batch["attention_mask"])
        for row, i in enumerate(batch_ids):
            outputs[i] = tuple(o[row] for o in out)
    return outputs


def collate_pairs(examples: list[dict], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Sources padded with pad_id (attention_mask 1 real, 0 pad); labels padded with -100."""
    S = max(len(e["input_ids"]) for e in examples)
    T = max(len(e["labels"]) for e in examples)
    ids = torch.full((len(examples), S), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE_INDEX, dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, :len(e["input_ids"])] = torch.as_tensor(e["input_ids"])
        labels[i, :len(e["labels"])] = torch.as_tensor(e["labels"])
    mask = (torch.arange(S)[None, :] < torch.tensor([len(e["input_ids"]) for e in examples])[:, None]).long()
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
