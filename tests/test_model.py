"""The model on its own: single ops against references, invariants, and every bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from transformers.activations import get_activation
from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings

import minidistil as md
from minidistil.nn.model import LayerNorm, attention, gelu, sinusoidal_table

ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)


def random_model(cls=md.DistilBertModel, impl="fast", std=0.5, **kw):
    model = cls(md.DistilBertConfig(**{**ODD, **kw}, impl=impl)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
    return model


# ---------------------------------------------------------------- single ops

def test_gelu_is_the_exact_erf_form_on_both_paths():
    x = torch.linspace(-6, 6, 1001)
    by_hand = torch.tensor([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()])
    for impl in ("math", "fast"):
        assert (gelu(x, impl) - by_hand).abs().max() < 1e-6
        assert (gelu(x, impl) - get_activation("gelu")(x)).abs().max() < 1e-6
    tanh_form = F.gelu(x, approximate="tanh")
    assert (tanh_form - by_hand).abs().max() > 1e-4  # what a large-std parity test can tell apart


def test_layer_norm_math_and_fast_equal_torch_layer_norm():
    x = torch.randn(3, 13, 36) * 4 + 2
    ref = torch.nn.LayerNorm(36, eps=1e-12)
    with torch.no_grad():
        ref.weight.normal_(), ref.bias.normal_()
    for impl in ("math", "fast"):
        ln = LayerNorm(36, impl)
        ln.load_state_dict(ref.state_dict())
        assert (ln(x) - ref(x)).abs().max() < 1e-5


def test_attention_math_equals_sdpa_and_masks_padding():
    q, k, v = (torch.randn(2, 3, 7, 12) for _ in range(3))
    keep = torch.tensor([[1] * 7, [1] * 4 + [0] * 3]).bool()[:, None, None, :]  # (B, 1, 1, T)
    y_math, w = attention(q, k, v, keep, "math", need_weights=True)
    y_fast, _ = attention(q, k, v, keep, "fast")
    assert (y_math - y_fast).abs().max() < 1e-5
    assert w[1, :, :, 4:].abs().max() == 0  # no attention to padded keys
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7))
    by_hand = torch.softmax(q[1, 0] @ k[1, 0, :4].T / math.sqrt(12), -1) @ v[1, 0, :4]
    assert (y_math[1, 0] - by_hand).abs().max() < 1e-5


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_attention_of_an_all_padding_row_is_uniform_as_in_transformers(impl):
    """Every key masked: finfo.min everywhere, so the softmax is uniform (transformers' eager
    attention does the same); a boolean mask in sdpa would give zeros here instead."""
    q, k, v = (torch.randn(1, 3, 7, 12) for _ in range(3))
    y, _ = attention(q, k, v, torch.zeros(1, 1, 1, 7, dtype=torch.bool), impl)
    assert (y - v.mean(dim=2, keepdim=True)).abs().max() < 1e-6


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_the_same_attention_serves_the_decoder_a_causal_mask_and_rows_that_read_nothing(impl):
    """The decoder's mask is (B, 1, T, S); a query with no key to read gives 0 (transformers' decoder)."""
    q, k, v = (torch.randn(2, 3, 5, 12) for _ in range(3))
    causal = torch.ones(5, 5, dtype=torch.bool).tril()[None, None]   # (1, 1, T, S)
    keep = causal & torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]]).bool()[:, None, None, :]
    y, _ = attention(q, k, v, keep, impl, empty_rows="zero")
    assert y[0, :, 0].abs().max() == 0  # row 0 of the first source may read no key
    by_hand = torch.softmax(q[0, 1, 2] @ k[0, 1, 1:3].T / math.sqrt(12), -1) @ v[0, 1, 1:3]
    assert (y[0, 1, 2] - by_hand).abs().max() < 1e-5  # query 2 reads keys 1 and 2 only


@pytest.mark.parametrize("dim", [38, 35])  # an odd width ends on a sin channel with no cos partner
def test_sinusoidal_table_equals_transformers_numpy_table(dim):
    ref = _create_sinusoidal_embeddings(50, dim, torch.empty(50, dim))
    assert torch.equal(sinusoidal_table(50, dim), ref)


# ---------------------------------------------------------------- invariants

@pytest.mark.parametrize("impl", ["math", "fast"])
def test_padding_does_not_change_real_token_outputs(impl):
    model = random_model(impl=impl)
    ids = torch.randint(1, 99, (1, 6))
    alone = model(ids).last_hidden_state
    padded = torch.cat([ids, torch.zeros(1, 7, dtype=torch.long)], 1)
    other = torch.randint(1, 99, (1, 13))
    out = model(torch.cat([padded, other]), torch.tensor([[1] * 6 + [0] * 7, [1] * 13])).last_hidden_state
    assert (out[0, :6] - alone[0]).abs().max() < 1e-5 * max(1, alone.abs().max())


def test_math_and_fast_paths_agree_where_fast_computes_and_fast_leaves_other_padding_at_zero():
    math_model = random_model(impl="math")
    fast_model = md.DistilBertModel(md.DistilBertConfig(**ODD, impl="fast")).eval()
    fast_model.load_state_dict(math_model.state_dict())
    ids, mask = torch.randint(1, 99, (4, 13)), torch.ones(4, 13, dtype=torch.long)
    mask[1, 8:], mask[2, :6], mask[3] = 0, 0, 0  # right padding, left padding, all padding
    a = math_model(ids, mask, output_hidden_states=True, output_attentions=True)
    b = fast_model(ids, mask, output_hidden_states=True, output_attentions=True)
    computed = mask.bool()
    computed[:, 0], computed[3] = True, True  # position 0 (a head reads it), and the all-padding row
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert (x[computed] - y[computed]).abs().max() < 1e-4
    for x, y in zip(a.attentions, b.attentions):  # computed query rows
        assert (x.transpose(1, 2)[computed] - y.transpose(1, 2)[computed]).abs().max() < 1e-5
    assert b.last_hidden_state[~computed].abs().max() == 0
    assert (b.hidden_states[0] - a.hidden_states[0]).abs().max() < 1e-5  # the embeddings, padding included


def test_math_and_fast_paths_give_the_same_gradients():
    grads = []
    for impl in ("math", "fast"):
        torch.manual_seed(1)
        model = md.DistilBertForMaskedLM(md.DistilBertConfig(**ODD, impl=impl, dropout=0.0, attention_dropout=0.0))
        ids = torch.randint(1, 99, (2, 13))
        mask = torch.tensor([[1] * 13, [1] * 5 + [0] * 8])
        labels = ids.masked_fill(mask == 0, -100)
        model(ids, mask, labels=labels).loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert (grads[0][name] - grads[1][name]).abs().max() < 1e-5, name


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_eval_is_deterministic_and_train_applies_dropout(impl):
    model = random_model(md.DistilBertForMaskedLM, impl=impl, std=0.1, dropout=0.3)
    ids = torch.randint(1, 99, (2, 13))
    assert torch.equal(model(ids).logits, model(ids).logits)
    model.train()
    assert not torch.equal(model(ids).logits, model(ids).logits)


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_an_all_padding_row_gives_no_nan(impl):
    model = random_model(md.DistilBertForSequenceClassification, impl=impl)
    out = model(torch.randint(1, 99, (2, 5)), torch.tensor([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]]),
                output_attentions=True)
    assert not out.logits.isnan().any() and not any(a.isnan().any() for a in out.attentions)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("impl", ["math", "fast"])
def test_bad_inputs_raise_a_sentence(impl):
    model = random_model(impl=impl)
    ids = torch.randint(1, 99, (2, 5))
    with pytest.raises(ValueError, match="no token type"):
        model(ids, token_type_ids=torch.zeros_like(ids))
    with pytest.raises(ValueError, match="position table holds 17"):
        model(torch.randint(1, 99, (1, 18)))
    with pytest.raises(ValueError, match=r"\[0, 99\)"):
        model(torch.tensor([[1, 2, 99]]))
    with pytest.raises(ValueError, match=r"\[0, 99\)"):
        model(torch.tensor([[1, -1, 3]]))
    with pytest.raises(ValueError, match="shape of input_ids"):
        model(ids, torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer ids"):
        model(ids.float())
    with pytest.raises(ValueError, match="integer ids"):
        model(ids[0])
    with pytest.raises(ValueError, match="choices"):
        random_model(md.DistilBertForMultipleChoice, impl=impl)(ids)
    for dtype in (torch.bool, torch.uint8, torch.int16):  # nn.Embedding takes int64 or int32 only
        with pytest.raises(ValueError, match=r"integer ids \(int64 or int32\), got torch\.(bool|uint8|int16)"):
            model(ids.to(dtype))
    with pytest.raises(ValueError, match="zero tokens"):
        model(ids[:, :0])
    with pytest.raises(TypeError, match="attention_mask must be a tensor.*got a list"):
        model(ids, [[1] * 5, [1] * 5])
    with pytest.raises(TypeError, match="attention_mask must be a tensor"):
        random_model(md.DistilBertForMultipleChoice, impl=impl)(ids[None], [[[1] * 5] * 2])


def test_int32_ids_and_an_empty_batch_are_accepted():
    model = random_model()
    ids = torch.randint(1, 99, (2, 5))
    assert torch.equal(model(ids.int()).last_hidden_state, model(ids).last_hidden_state)
    assert model(ids[:0]).last_hidden_state.shape == (0, 5, 36)
