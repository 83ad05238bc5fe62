"""One batching path: length-grouped training batches, dynamic padding, length-sorted inference."""
import numpy as np
import pytest
import torch

from minidistil.batching import (LengthGroupedBatches, collate, example_length, forward_in_length_order,
                                 length_sorted_batches)
from minidistil.losses import IGNORE_INDEX


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
