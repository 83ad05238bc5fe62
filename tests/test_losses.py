"""The distillation losses: zero where they should be, the T^2 scaling, sparse MLM == dense MLM."""
import pytest
import torch
import torch.nn.functional as F

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.nn.losses import distillation_kl, hidden_cosine_loss, logits_mse, mlm_loss, sparse_mlm_loss

N, V, C = 13, 37, 16


def test_kl_of_identical_logits_is_zero():
    z = torch.randn(N, V) * 5
    for T in (0.5, 1.0, 2.0, 8.0):
        assert distillation_kl(z, z.clone(), T).item() == pytest.approx(0.0, abs=1e-6)


def test_kl_matches_the_original_formula_times_t_squared():
    s, t = torch.randn(N, V), torch.randn(N, V)
    T = 2.0
    # DistilBERT's code: nn.KLDivLoss(reduction="batchmean")(log_softmax(s/T), softmax(t/T)) * T**2
    reference = torch.nn.KLDivLoss(reduction="batchmean")(F.log_softmax(s / T, -1), F.softmax(t / T, -1)) * T ** 2
    assert distillation_kl(s, t, T).item() == pytest.approx(reference.item(), rel=1e-5)
    by_hand = (F.softmax(t / T, -1) * (F.log_softmax(t / T, -1) - F.log_softmax(s / T, -1))).sum(-1).mean()
    assert distillation_kl(s, t, T).item() == pytest.approx(4.0 * by_hand.item(), rel=1e-5)


def test_t_squared_keeps_the_gradient_size_independent_of_temperature():
    # For large T the gradient of T^2 * KL tends to (centred student logits - centred teacher logits) / (N V):
    # it no longer depends on T (Hinton et al. 2015). Without the T^2 it would shrink like 1 / T^2.
    t = torch.randn(N, V)
    expected = None
    for T in (100.0, 1000.0):
        s = torch.randn(N, V, generator=torch.Generator().manual_seed(1)).requires_grad_()
        distillation_kl(s, t, T).backward()
        s0 = s.detach()
        expected = ((s0 - s0.mean(-1, keepdim=True)) - (t - t.mean(-1, keepdim=True))) / (N * V)
        torch.testing.assert_close(s.grad, expected, rtol=0.05, atol=1e-5)
    assert expected.abs().max() > 1e-3  # the limit is not trivially zero


def test_cosine_loss_is_zero_for_identical_states_and_ignores_scale():
    h = torch.randn(N, C)
    assert hidden_cosine_loss(h, h.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert hidden_cosine_loss(h, 3.0 * h).item() == pytest.approx(0.0, abs=1e-6)
    assert hidden_cosine_loss(h, -h).item() == pytest.approx(2.0, abs=1e-6)


def test_cosine_loss_refuses_different_widths():
    with pytest.raises(ValueError, match="same hidden width"):
        hidden_cosine_loss(torch.randn(N, C), torch.randn(N, C + 1))


def test_logits_mse_is_zero_for_identical_logits_and_sums_over_the_vocabulary():
    z = torch.randn(N, V)
    assert logits_mse(z, z.clone()).item() == 0.0
    assert logits_mse(z, z + 1.0).item() == pytest.approx(V, rel=1e-6)


def test_sparse_mlm_head_gives_the_dense_loss_and_gradients():
    config = DistilBertConfig(vocab_size=99, dim=C, n_heads=2, hidden_dim=28, n_layers=2, dropout=0.0,
                              attention_dropout=0.0, max_position_embeddings=32)
    dense, sparse = DistilBertForMaskedLM(config), DistilBertForMaskedLM(config)
    sparse.load_state_dict(dense.state_dict())
    ids = torch.randint(5, 99, (3, 11))
    attention = torch.ones_like(ids)
    attention[1, 7:] = 0
    labels = torch.full_like(ids, -100)
    labels[0, [2, 5]] = ids[0, [2, 5]]
    labels[2, 9] = ids[2, 9]

    dense_loss = mlm_loss(dense(ids, attention_mask=attention).logits, labels)
    hidden = sparse.distilbert(ids, attention_mask=attention).last_hidden_state
    sparse_loss = sparse_mlm_loss(sparse.mlm_logits, hidden, labels)
    torch.testing.assert_close(sparse_loss, dense_loss, rtol=1e-6, atol=1e-6)
    dense_loss.backward()
    sparse_loss.backward()
    for (name, p), q in zip(dense.named_parameters(), sparse.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)
