"""Greedy and beam search against transformers' `generate` on the same weights; the key/value cache
against recomputation; bad settings."""
import pytest
import torch
import torch.nn.functional as F

from minidistil.nn.generate import generate, greedy_search
from seq2seq_refs import EOS, START, generating_pair, padded_source, tiny_pair

pytestmark = pytest.mark.usefixtures("one_thread")


def until_eos(seqs):
    """Rows as lists, cut after the first end token (transformers fills the rest with pad or eos)."""
    rows = []
    for row in seqs.tolist():
        rows.append(row[:row.index(EOS) + 1] if EOS in row else row)
    return rows


SETTINGS = [  # num_beams, length_penalty, early_stopping, max_length
    (1, 1.0, False, 12),
    (3, 1.0, False, 12),
    (4, 0.5, True, 15),
    (2, 2.0, "never", 10),
    (5, -1.0, False, 9),
    (3, 1.0, True, 3),
]


@pytest.mark.parametrize("seed,eos_bias", [(0, 1.5), (3, 2.0), (7, 2.0)])
def test_same_tokens_as_transformers_generate(seed, eos_bias):
    ours, hf = generating_pair(seed, eos_bias)
    ids, mask = padded_source(seed)
    lengths, outputs = set(), set()
    for num_beams, length_penalty, early_stopping, max_length in SETTINGS:
        kwargs = dict(num_beams=num_beams, max_length=max_length, length_penalty=length_penalty,
                      early_stopping=early_stopping)
        with torch.no_grad():
            theirs = hf.generate(input_ids=ids, attention_mask=mask, do_sample=False, decoder_start_token_id=START,
                                 eos_token_id=EOS, pad_token_id=0, **kwargs)
        mine = generate(ours, ids, mask, **kwargs)
        assert until_eos(mine) == until_eos(theirs), kwargs
        assert mine[:, 0].eq(START).all()
        lengths |= {len(r) for r in until_eos(mine)}
        outputs.add(str(until_eos(mine)))
    assert len(lengths) >= 3  # rows ended at different lengths, not only at max_length
    assert len(outputs) >= 2  # the beam settings chose different translations


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_cached_step_logits_equal_recomputed_logits(impl):
    ours, _ = tiny_pair(impl=impl)
    ids, mask = padded_source()
    target = torch.tensor([[START, 5, 9, 11, 4], [START, 7, 3, 30, 8], [START, 6, 6, 6, 6]])
    with torch.no_grad():
        memory = ours.encode(ids, mask)
        full = ours.decoder(target, memory, mask).logits
        past, steps = None, []
        for t in range(target.shape[1]):
            out = ours.decoder(target[:, t:t + 1], memory, mask, past=past)
            past = out.past
            steps.append(out.logits[:, -1])
    torch.testing.assert_close(torch.stack(steps, dim=1), full, atol=1e-5 * float(full.abs().max()), rtol=0)


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_continuing_other_cached_rows_equals_reordering_the_cache(impl):
    # Beam search: each row continues the cached row of its parent beam (past_rows), gathered while
    # the new token is appended. Two rows per source share its encoder states; rows move within a source.
    ours, _ = tiny_pair(impl=impl)
    ids, mask = padded_source()
    target = torch.tensor([[START, 5, 9], [START, 7, 3], [START, 6, 6],
                           [START, 4, 8], [START, 9, 9], [START, 3, 5]])
    parents = torch.tensor([1, 1, 2, 2, 5, 4])
    with torch.no_grad():
        memory = ours.encode(ids, mask)  # (3, S, C) for 6 rows
        past = ours.decoder(target[:, :2], memory, mask).past
        mine = ours.decoder(target[:, 2:], memory, mask, past=past, past_rows=parents)
        reordered = tuple(((k[parents], v[parents]), cross) for (k, v), cross in past)
        theirs = ours.decoder(target[:, 2:], memory, mask, past=reordered)
        recomputed = ours.decoder(torch.cat([target[parents, :2], target[:, 2:]], dim=1), memory, mask).logits
    assert torch.equal(mine.logits, theirs.logits)
    for (a, b), ((c, d), _) in zip((kv for kv, _ in mine.past), theirs.past):
        assert torch.equal(a, c) and torch.equal(b, d)
    torch.testing.assert_close(mine.logits[:, -1], recomputed[:, -1], atol=1e-5 * float(recomputed.abs().max()), rtol=0)


def test_the_output_layer_at_inference_follows_its_weight():
    # Without gradients the output layer multiplies by a transposed copy of its weight (faster for a
    # few rows); the copy must follow the weight when it changes, as after an optimizer step.
    ours, _ = tiny_pair()
    head = ours.decoder.cls.predictions
    h = torch.randn(5, 1, head.decoder.in_features)
    with torch.no_grad():
        for _ in range(2):
            expected = F.linear(head.transform(h), head.decoder.weight, head.bias)
            assert torch.equal(head(h), expected)  # the same numbers from four rows on
            torch.testing.assert_close(head(h[:1]), expected[:1], atol=1e-5 * float(expected.abs().max()), rtol=0)
            head.decoder.weight.add_(0.5)  # in place, as an optimizer does
    assert torch.equal(head(h), F.linear(head.transform(h), head.decoder.weight, head.bias))  # with gradients: the layer itself


@pytest.mark.parametrize("num_beams", [1, 3])
def test_generate_with_cache_equals_generate_recomputing(num_beams):
    ours, _ = generating_pair(0, 1.5)
    ids, mask = padded_source(0)
    a = generate(ours, ids, mask, num_beams=num_beams, max_length=14, use_cache=True)
    b = generate(ours, ids, mask, num_beams=num_beams, max_length=14, use_cache=False)
    assert torch.equal(a, b)


def test_a_finished_row_is_padded_while_others_go_on():
    ours, _ = generating_pair(7, 2.0)
    ids, mask = padded_source(7)
    out = greedy_search(ours, ids, mask, max_length=12)
    for row in out.tolist():
        if EOS in row:
            assert all(t == 0 for t in row[row.index(EOS) + 1:])


def test_batched_rows_equal_rows_translated_alone():
    ours, _ = generating_pair(0, 1.5)
    ids, mask = padded_source(0)
    together = until_eos(generate(ours, ids, mask, num_beams=3, max_length=10))
    alone = [until_eos(generate(ours, ids[i:i + 1, :int(mask[i].sum())], None, num_beams=3, max_length=10))[0]
             for i in range(3)]
    assert together == alone


def test_max_length_one_writes_nothing_after_the_start_token():  # transformers refuses it instead
    ours, _ = tiny_pair()
    ids, mask = padded_source()
    for num_beams in (1, 2):
        assert generate(ours, ids, mask, num_beams=num_beams, max_length=1).tolist() == [[START]] * 3


@pytest.mark.parametrize("name,value", [("num_beams", 0), ("max_length", 0), ("num_beams", -2), ("max_length", 2.5)])
def test_bad_settings_raise_one_sentence(name, value):
    ours, _ = tiny_pair()
    ids, mask = padded_source()
    with pytest.raises(ValueError, match=f"{name} must be a positive integer") as e:
        generate(ours, ids, mask, **{name: value})
    assert "\n" not in str(e.value)


def test_max_length_beyond_the_position_table_is_refused():
    ours, _ = tiny_pair()
    ids, mask = padded_source()
    with pytest.raises(ValueError, match="position table"):
        generate(ours, ids, mask, max_length=100)
