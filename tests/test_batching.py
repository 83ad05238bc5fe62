"""One batching path: length-grouped training batches, dynamic padding, length-sorted inference."""
import numpy as np
import pytest
import torch

from minidistil.data.batching import (LengthGroupedBatches, collate, example_length, forward_in_length_order,
                                 length_sorted_batches)
from minidistil.nn.losses import IGNORE_INDEX


def test_length_grouped_batches_cover_each_example_once_per_epoch_and_pad_less():
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 129, size=1003)
    batches = LengthGroupedBatches(lengths, batch_size=16, seed=3)
    epoch = batches.epoch(0)
    assert epoch.shape == (1003 // 16, 16)
    assert len(np.unique(epoch)) == epoch.size                  # no example twice
    assert not np.array_equal(epoch, batches.epoch(1))          # a new order each epoch
    np.testing.assert_array_equal(epoch, LengthGroupedBatches(lengths, 16, seed=3).epoch(0))  # reproducible
    assert np.array_equal(batches.batch(0), epoch[0]) and np.array_equal(batches.batch(63), batches.epoch(1)[1])

    def padding(rows):
        return sum(lengths[r].max() * len(r) - lengths[r].sum() for r in rows)

    random_rows = rng.permutation(1003)[:epoch.size].reshape(epoch.shape)
    assert padding(epoch) < 0.2 * padding(random_rows)


def test_collate_pads_each_batch_to_its_own_longest_example():
    batch = collate([{"input_ids": np.array([2, 7, 3]), "label": 1, "tags": np.array([0, 1, 0])},
                     {"input_ids": np.array([2, 3]), "label": 0, "tags": np.array([0, 0])}], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[2, 7, 3], [2, 3, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["tags"].tolist() == [[0, 1, 0], [0, 0, -100]]
    assert batch["label"].tolist() == [1, 0]


def test_too_few_examples_for_a_batch_is_an_error():
    with pytest.raises(ValueError, match="at least that many examples"):
        LengthGroupedBatches(np.ones(3), batch_size=4)


def test_collate_pads_token_labels_with_the_ignore_index_and_keeps_only_the_asked_fields():
    examples = [{"input_ids": np.array([2, 7, 3]), "labels": np.array([IGNORE_INDEX, 1, IGNORE_INDEX]),
                 "example": 0, "offsets": np.zeros((3, 2))},
                {"input_ids": np.array([2, 3]), "labels": np.array([IGNORE_INDEX, IGNORE_INDEX]),
                 "example": 1, "offsets": np.zeros((2, 2))}]
    batch = collate(examples, pad_token_id=0, keys=("labels",))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 1, IGNORE_INDEX], [IGNORE_INDEX] * 3]
    assert batch["input_ids"].dtype == torch.long and batch["attention_mask"].dtype == torch.long


def test_multiple_choice_examples_collate_to_batch_choices_tokens():
    examples = [{"input_ids": [np.array([2, 5, 3]), np.array([2, 3])], "labels": np.int64(1)},
                {"input_ids": [np.array([2, 3]), np.array([2, 5, 6, 7, 3])], "labels": np.int64(0)}]
    batch = collate(examples, pad_token_id=0)
    assert batch["input_ids"].shape == (2, 2, 5) and batch["attention_mask"].shape == (2, 2, 5)
    assert batch["attention_mask"].sum(-1).tolist() == [[3, 2], [2, 5]]
    assert batch["labels"].tolist() == [1, 0]
    assert [example_length(e) for e in examples] == [3, 5]  # the longest choice sets the length


def test_length_sorted_batches_go_longest_first_and_cover_every_example_once():
    examples = [{"input_ids": np.arange(n)} for n in (3, 9, 1, 7, 5)]
    batches = length_sorted_batches(examples, batch_size=2)
    assert batches == [[1, 3], [4, 0], [2]]


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_the_length_sorted_forward_puts_every_output_back_in_its_examples_place(batch_size):
    examples = [{"input_ids": np.array([2] + [5] * n + [3])} for n in (3, 9, 1, 7, 5)]

    def forward(input_ids, attention_mask):  # per row: its real length, and a per-token output
        return attention_mask.sum(1), input_ids * attention_mask

    outputs = forward_in_length_order(forward, examples, pad_token_id=0, batch_size=batch_size)
    assert [int(length) for length, _ in outputs] == [len(e["input_ids"]) for e in examples]
    for (_, tokens), e in zip(outputs, examples):  # rows keep their batch's padding after the real tokens
        assert tokens[:len(e["input_ids"])].tolist() == e["input_ids"].tolist()
        assert (tokens[len(e["input_ids"]):] == 0).all()


# ---- token-budget batches: short rows many to a batch, long ones few, each step about the same cost

def test_token_budget_batches_keep_the_budget_and_cover_every_example_once_an_epoch():
    from minidistil.data.batching import TokenBudgetBatches
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(3, 12, 700), rng.integers(60, 128, 60)])  # UI strings and paragraphs
    batches = TokenBudgetBatches(lengths, max_tokens=512, seed=3, group_size=200)
    epoch = batches.epoch(0)
    assert sorted(np.concatenate(epoch).tolist()) == list(range(len(lengths)))
    assert all(len(b) * lengths[b].max() <= 512 for b in epoch)
    sizes = {int(lengths[b].max()) // 32: len(b) for b in epoch}
    assert max(sizes.values()) > 10 * min(sizes.values())  # short rows come many to a batch, long ones few
    assert len(epoch) < len(lengths) / 4  # and batches are full: far fewer than one per example


def test_token_budget_batches_are_a_pure_function_of_the_step():
    from minidistil.data.batching import TokenBudgetBatches
    lengths = np.random.default_rng(1).integers(2, 40, 300)
    one = TokenBudgetBatches(lengths, 200, seed=5)
    walked = [one.batch(s).tolist() for s in range(200)]  # several epochs, each with its own count
    fresh = TokenBudgetBatches(lengths, 200, seed=5)
    assert fresh.batch(157).tolist() == walked[157]  # a resumed run finds the same batch
    assert TokenBudgetBatches(lengths, 200, seed=6).batch(0).tolist() != walked[0]


def test_token_budget_refuses_an_example_that_fits_no_batch():
    from minidistil.data.batching import TokenBudgetBatches
    with pytest.raises(ValueError, match="max_tokens=50 is less than the longest example"):
        TokenBudgetBatches(np.array([10, 60]), 50)


def test_the_training_loop_runs_on_token_budget_batches(tmp_path):
    from minidistil.training.train import TrainConfig, train

    class Rows:
        lengths = np.array([3] * 40 + [30] * 4)

        def __len__(self):
            return len(self.lengths)

        def __getitem__(self, i):
            return {"input_ids": np.arange(1, self.lengths[i] + 1)}

    class Count(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))
            self.rows = []

        def forward(self, batch):
            self.rows.append(batch["input_ids"].shape)
            return {"loss": self.w * batch["attention_mask"].sum() / 100}

    task = Count()
    train(task, Rows(), TrainConfig(out_dir=str(tmp_path), max_steps=6, max_tokens=60, lr=1e-3, progress=False,
                                    save_every=100))
    assert all(b * t <= 60 for b, t in task.rows) and {t for _, t in task.rows} <= {3, 30}
    assert max(b for b, _ in task.rows) == 20  # twenty 3-token rows in a 60-token batch
