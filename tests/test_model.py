"""The model on its own: single ops against references, invariants, and every bad input."""
import math

import pytest
import torch
import torch.nn.functional as F
from transformers.activations import get_activation
from transformers.models.distilbert.modeling_distilbert import _create_sinusoidal_embeddings

import minidistil as md
from minidistil.model import LayerNorm, attention, gelu, sinusoidal_table

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
    keep = torch.tensor([[1] * 7, [1] * 4 + [0] * 3]).bool()
    y_math, w = attention(q, k, v, keep, "math")
    y_fast, _ = attention(q, k, v, keep, "fast")
    assert (y_math - y_fast).abs().max() < 1e-5
    assert w[1, :, :, 4:].abs().max() == 0  # no attention to padded keys
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7))
    by_hand = torch.softmax(q[1, 0] @ k[1, 0, :4].T / math.sqrt(12), -1) @ v[1, 0, :4]
    assert (y_math[1, 0] - by_hand).abs().max() < 1e-5


def test_sinusoidal_table_equals_transformers_numpy_table():
    ref = _create_sinusoidal_embeddings(50, 38, torch.empty(50, 38))
    assert torch.equal(sinusoidal_table(50, 38), ref)


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


def test_math_and_fast_paths_agree_and_fast_leaves_padding_at_zero():
    math_model = random_model(impl="math")
    fast_model = md.DistilBertModel(md.DistilBertConfig(**ODD, impl="fast")).eval()
    fast_model.load_state_dict(math_model.state_dict())
    ids, mask = torch.randint(1, 99, (3, 13)), torch.ones(3, 13, dtype=torch.long)
    mask[1, 8:], mask[2, 2:] = 0, 0
    a = math_model(ids, mask, output_hidden_states=True, output_attentions=True)
    b = fast_model(ids, mask, output_hidden_states=True, output_attentions=True)
    keep = mask.bool()
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert (x[keep] - y[keep]).abs().max() < 1e-4
    for x, y in zip(a.attentions, b.attentions):  # real query rows
        assert (x.transpose(1, 2)[keep] - y.transpose(1, 2)[keep]).abs().max() < 1e-5
    assert b.last_hidden_state[~keep].abs().max() == 0


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


def test_mlm_logits_on_selected_positions_equal_full_logits():
    model = random_model(md.DistilBertForMaskedLM, impl="fast")
    ids = torch.randint(1, 99, (2, 13))
    out = model(ids, output_hidden_states=True)
    picked = torch.tensor([[0, 3], [1, 12]])
    h = out.hidden_states[-1][picked[:, 0], picked[:, 1]]  # (M, C)
    assert torch.allclose(model.mlm_logits(h), out.logits[picked[:, 0], picked[:, 1]], atol=1e-5)


def test_tie_survives_loading_and_training(tmp_path):
    model = random_model(md.DistilBertForMaskedLM)
    model.save_pretrained(tmp_path)
    loaded = md.DistilBertForMaskedLM.from_pretrained(tmp_path)
    assert loaded.vocab_projector.weight is loaded.distilbert.embeddings.word_embeddings.weight
    loaded.train()
    opt = torch.optim.SGD(loaded.parameters(), lr=0.1)
    loaded(torch.randint(1, 99, (2, 5)), labels=torch.randint(0, 99, (2, 5))).loss.backward()
    opt.step()
    assert loaded.vocab_projector.weight is loaded.distilbert.embeddings.word_embeddings.weight


def test_multiple_choice_scores_each_choice_alone():
    model = random_model(md.DistilBertForMultipleChoice, impl="math")
    ids = torch.randint(1, 99, (2, 3, 13))
    logits = model(ids).logits
    assert logits.shape == (2, 3)
    alone = md.DistilBertForMultipleChoice.forward(model, ids[1:, 2:]).logits
    assert torch.allclose(logits[1, 2], alone[0, 0], atol=1e-5)


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


def test_heads_reject_token_type_ids_too():
    model = random_model(md.DistilBertForSequenceClassification)
    ids = torch.randint(1, 99, (2, 5))
    with pytest.raises(ValueError, match="no token type"):
        model(ids, token_type_ids=torch.zeros_like(ids))


@pytest.mark.parametrize("bad,match", [
    (dict(dim=36, n_heads=5), "must divide"), (dict(impl="cuda"), "impl"), (dict(activation="gelu_new"), "activation"),
    (dict(dropout=1.5), "dropout"), (dict(n_layers=0), "n_layers"), (dict(pad_token_id=99), "pad_token_id"),
    (dict(problem_type="ranking"), "problem_type"), (dict(sinusoidal_pos_embds=True, dim=35, n_heads=5), "even")])
def test_bad_config_raises_a_sentence(bad, match):
    with pytest.raises(ValueError, match=match):
        md.DistilBertConfig(**{**ODD, **bad})


def test_question_answering_needs_two_labels():
    with pytest.raises(ValueError, match="num_labels must be 2"):
        md.DistilBertForQuestionAnswering(md.DistilBertConfig(**ODD, num_labels=3))


def test_config_round_trips_through_json(tmp_path):
    config = md.DistilBertConfig(**ODD, id2label={0: "neg", 1: "neu", 2: "pos"}, impl="math")
    config.save(tmp_path)
    loaded = md.DistilBertConfig.load(tmp_path)
    assert loaded == config and loaded.num_labels == 3 and loaded.label2id["pos"] == 2
