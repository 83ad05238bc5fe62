"""BERT masking (15%, 80/10/10, never special or pad) and DistilBERT's frequency smoothing."""
import math

import numpy as np
import pytest
import torch

from minidistil.nn.losses import IGNORE_INDEX
from minidistil.data.masking import Masking, MaskingOptions, mask_tokens, smoothed_token_probs

PAD, CLS, SEP, MASK = 0, 101, 102, 103
V = 997  # odd vocabulary size


def random_batch(B=64, T=61, seed=0):
    """[CLS] tokens [SEP] [PAD]..., lengths between 5 and T, tokens drawn above the special ids."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, T + 1, (B,), generator=g)
    ids = torch.randint(200, V, (B, T), generator=g)
    keep = torch.arange(T)[None, :] < lengths[:, None]
    ids[:, 0] = CLS
    ids[torch.arange(B), lengths - 1] = SEP
    ids[~keep] = PAD
    return ids, keep.long()


def test_masking_statistics_over_a_large_sample():
    chosen = candidates = masked = randomised = kept = 0
    for seed in range(12):
        ids, attention = random_batch(seed=seed)
        g = torch.Generator().manual_seed(100 + seed)
        corrupted, labels = mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V,
                                        special_ids=[PAD, CLS, SEP, MASK], generator=g)
        is_target = labels != IGNORE_INDEX
        n_candidates = int((attention.bool() & (ids != CLS) & (ids != SEP)).sum())
        assert int(is_target.sum()) == math.ceil(0.15 * n_candidates)  # exactly 15%, as DistilBERT's code
        assert torch.equal(labels[is_target], ids[is_target])
        assert torch.equal(corrupted[~is_target], ids[~is_target])      # non-targets untouched
        chosen += int(is_target.sum())
        candidates += n_candidates
        masked += int((corrupted[is_target] == MASK).sum())
        kept += int((corrupted[is_target] == ids[is_target]).sum())
        randomised += int(((corrupted[is_target] != MASK) & (corrupted[is_target] != ids[is_target])).sum())
    assert chosen > 3000
    assert masked / chosen == pytest.approx(0.8, abs=0.02)
    assert randomised / chosen == pytest.approx(0.1, abs=0.015)
    assert kept / chosen == pytest.approx(0.1, abs=0.015)


def test_special_and_pad_tokens_are_never_chosen():
    ids, attention = random_batch(B=128, seed=7)
    _, labels = mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V, special_ids=[PAD, CLS, SEP, MASK],
                            mlm_probability=1.0)  # every candidate becomes a target
    assert (labels[~attention.bool()] == IGNORE_INDEX).all()
    assert (labels[(ids == CLS) | (ids == SEP)] == IGNORE_INDEX).all()
    real = attention.bool() & (ids != CLS) & (ids != SEP)
    assert (labels[real] != IGNORE_INDEX).all()


def test_frequency_smoothing_picks_rare_tokens_in_proportion_to_count_to_the_minus_0_7():
    common, rare = 300, 301
    counts = np.ones(V, dtype=np.int64)
    counts[common], counts[rare] = 100, 1
    probs = smoothed_token_probs(counts, [PAD, CLS, SEP, MASK], smoothing=0.7)
    assert probs[CLS] == 0 and probs[PAD] == 0
    ids = torch.tensor([[CLS] + [common, rare] * 100 + [SEP]])
    attention = torch.ones_like(ids)
    g = torch.Generator().manual_seed(0)
    picked_rare = picked_common = 0
    for _ in range(3000):  # one target per call: the per-position odds are exactly the weight ratio
        _, labels = mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V, special_ids=[PAD, CLS, SEP, MASK],
                                mlm_probability=0.004, token_probs=probs, generator=g)
        picked_rare += int((labels == rare).sum())
        picked_common += int((labels == common).sum())
    assert picked_rare / picked_common == pytest.approx(100 ** 0.7, rel=0.2)  # 25.1


def test_bad_masking_options_raise_a_sentence():
    ids, attention = random_batch(B=2)
    with pytest.raises(ValueError, match="mlm_probability"):
        mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V, special_ids=[PAD], mlm_probability=0)
    with pytest.raises(ValueError, match="sum to at most 1"):
        mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V, special_ids=[PAD], mask_fraction=0.95)
    with pytest.raises(ValueError, match="mlm_smoothing"):
        smoothed_token_probs(np.ones(V), [PAD], smoothing=-1)


class Corpus:
    """What `Masking.for_corpus` reads of a prepared TokenCorpus."""
    special_ids = {"pad": PAD, "unk": 100, "cls": CLS, "sep": SEP, "mask": MASK}
    vocab_size = V
    counts = np.arange(V)


def test_masking_for_a_corpus_takes_its_special_ids_and_with_smoothing_its_counts():
    uniform = Masking.for_corpus(Corpus())
    assert (uniform.mask_token_id, uniform.vocab_size, uniform.token_probs) == (MASK, V, None)
    assert set(uniform.special_ids) == {PAD, CLS, SEP, MASK} and uniform.mlm_probability == 0.15
    smoothed = Masking.for_corpus(Corpus(), MaskingOptions(mlm_probability=0.2, mlm_smoothing=0.7))
    assert smoothed.mlm_probability == 0.2
    torch.testing.assert_close(smoothed.token_probs, smoothed_token_probs(Corpus.counts, [PAD, CLS, SEP, MASK], 0.7))


def test_a_masking_draws_what_mask_tokens_draws_with_the_same_settings():
    ids, attention = random_batch(B=8, seed=3)
    masking = Masking(mask_token_id=MASK, vocab_size=V, special_ids=[PAD, CLS, SEP, MASK])
    torch.manual_seed(5)
    by_masking = masking(ids, attention)
    torch.manual_seed(5)
    by_function = mask_tokens(ids, attention, mask_token_id=MASK, vocab_size=V, special_ids=[PAD, CLS, SEP, MASK])
    assert all(torch.equal(a, b) for a, b in zip(by_masking, by_function))


@pytest.mark.parametrize("options, message", [
    (dict(mlm_probability=0.0), "mlm_probability must be in"),
    (dict(mlm_smoothing=-0.5), "mlm_smoothing must be >= 0"),
])
def test_bad_masking_options_are_refused_when_made(options, message):
    with pytest.raises(ValueError, match=message):
        MaskingOptions(**options)
