"""The task heads: what they read, their labels and losses, and the sentences bad labels get."""
import warnings

import pytest
import torch
import transformers

import minidistil as md

ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)


def random_model(cls, impl="fast", std=0.5, **kw):
    model = cls(md.DistilBertConfig(**{**ODD, **kw}, impl=impl)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
    return model


def test_mlm_logits_on_selected_positions_equal_full_logits():
    model = random_model(md.DistilBertForMaskedLM)
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


def test_heads_reject_token_type_ids_too():
    model = random_model(md.DistilBertForSequenceClassification)
    ids = torch.randint(1, 99, (2, 5))
    with pytest.raises(ValueError, match="no token type"):
        model(ids, token_type_ids=torch.zeros_like(ids))


def test_question_answering_needs_two_labels():
    with pytest.raises(ValueError, match="num_labels must be 2"):
        md.DistilBertForQuestionAnswering(md.DistilBertConfig(**ODD, num_labels=3))


# ---------------------------------------------------------------- bad labels

IDS = torch.randint(1, 99, (2, 5))


@pytest.mark.parametrize("cls,labels,match", [
    (md.DistilBertForSequenceClassification, torch.tensor([0, 3]), r"class ids in \[0, 3\).*got 3"),
    (md.DistilBertForSequenceClassification, torch.tensor([0, -1]), r"class ids in \[0, 3\).*got -1"),
    (md.DistilBertForSequenceClassification, torch.tensor([[0, 1], [1, 0]]), r"shape \(2,\) or \(2, 1\), got \(2, 2\)"),
    (md.DistilBertForTokenClassification, torch.full((2, 5), 7), r"class ids in \[0, 3\).*got 7"),
    (md.DistilBertForTokenClassification, torch.zeros(2, 4, dtype=torch.long), r"shape \(2, 5\), got \(2, 4\)"),
    (md.DistilBertForTokenClassification, torch.zeros(2, 5), "integer class ids"),
    (md.DistilBertForMaskedLM, torch.full((2, 5), 99), r"class ids in \[0, 99\).*got 99"),
    (md.DistilBertForMaskedLM, torch.zeros(2, 5, dtype=torch.bool), "integer class ids")])
def test_labels_out_of_range_or_of_the_wrong_shape_raise_a_sentence(cls, labels, match):
    model = random_model(cls, num_labels=3)
    with pytest.raises(ValueError, match=match):
        model(IDS, labels=labels)


def test_regression_multi_label_and_multiple_choice_labels_are_checked_too():
    with pytest.raises(ValueError, match=r"regression labels must have shape \(2,\) or \(2, 1\)"):
        random_model(md.DistilBertForSequenceClassification, num_labels=1)(IDS, labels=torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"multi_label_classification labels must have shape \(2, 3\)"):
        random_model(md.DistilBertForSequenceClassification, num_labels=3)(IDS, labels=torch.ones(2))
    mc = random_model(md.DistilBertForMultipleChoice)
    with pytest.raises(ValueError, match=r"class ids in \[0, 4\).*got 4"):
        mc(torch.randint(1, 99, (2, 4, 5)), labels=torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="start_positions must be a \\(batch,\\) tensor"):
        random_model(md.DistilBertForQuestionAnswering)(IDS, start_positions=torch.tensor([1, 2, 3]),
                                                        end_positions=torch.tensor([1, 2]))


def test_int32_labels_work_like_int64():
    model = random_model(md.DistilBertForSequenceClassification)
    labels = torch.tensor([1, 0])
    assert torch.equal(model(IDS, labels=labels.int()).loss, model(IDS, labels=labels).loss)


# ---------------------------------------------------------------- nothing to score

@pytest.mark.parametrize("cls", [md.DistilBertForMaskedLM, md.DistilBertForTokenClassification,
                                 md.DistilBertForSequenceClassification])
def test_a_loss_where_every_label_is_ignored_is_zero_with_a_warning_where_transformers_gives_nan(cls):
    """transformers returns NaN (0 / 0), which turns every weight into NaN at the next optimizer
    step; we return a zero that backward() turns into zero gradients, and warn."""
    model = random_model(cls)
    labels = torch.full((2,) if cls is md.DistilBertForSequenceClassification else (2, 5), -100)
    hf = getattr(transformers, cls.__name__)(transformers.DistilBertConfig(**ODD)).eval()
    hf.load_state_dict(model.state_dict())
    assert hf(input_ids=IDS, labels=labels).loss.isnan()
    with pytest.warns(UserWarning, match="nothing to score"):
        loss = model(IDS, labels=labels).loss
    assert loss.item() == 0.0
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.abs().max() == 0 for g in grads)


def test_question_answering_with_every_answer_outside_the_input_is_zero_with_a_warning():
    model = random_model(md.DistilBertForQuestionAnswering)
    with pytest.warns(UserWarning, match="nothing to score"):
        loss = model(IDS, start_positions=torch.tensor([40, 50]), end_positions=torch.tensor([41, 51])).loss
    assert loss.item() == 0.0


def test_a_partly_ignored_batch_gives_the_ordinary_loss_without_a_warning():
    model = random_model(md.DistilBertForTokenClassification)
    labels = torch.full((2, 5), -100)
    labels[0, 1] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = model(IDS, labels=labels).loss
    logits = model(IDS).logits
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits[0, 1:2], labels[0, 1:2]))
