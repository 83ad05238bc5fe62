"""Parity with transformers, number for number: key sets, every class on random weights (both paths,
odd sizes, padded batches, every hidden state and attention map), sinusoidal positions, the real
all-MiniLM-L6-v2 BERT, and round trips through save_pretrained in both directions."""
import pytest
import torch
import torch.nn.functional as F
import transformers

import minidistil as md
from minidistil.apps.convert import classes

ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)
PAIRS = [(cls, getattr(transformers, name)) for name, cls in classes().items()]
LENGTHS = (13, 9, 4)  # one full row, two padded ones


def batch(B=3, T=13, V=99, lengths=LENGTHS):
    ids = torch.randint(1, V, (B, T))
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
    return ids, mask


def hf_model(hf_cls, std=0.5, **kw):
    """A transformers model with every parameter redrawn from N(0, std): at std 0.5 the tanh GELU,
    a transposed head split or a wrong LayerNorm eps all show up in the outputs."""
    config = transformers.DistilBertConfig(**{**ODD, **kw}, attn_implementation="eager")
    model = hf_cls(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "position_embeddings" not in name or not config.sinusoidal_pos_embds:
                p.normal_(0, std)
    return model


def ours_like(hf, cls, impl, **kw):
    model = cls(md.DistilBertConfig(**{**ODD, **kw}, impl=impl)).eval()
    model.load_state_dict(hf.state_dict(), strict=True)
    return model


def assert_close(ours, theirs, keep=None, what=""):
    """Within 1e-5 of the output's scale (fp32); on the fast path only real tokens are compared."""
    if keep is not None:
        ours, theirs = ours[keep], theirs[keep]
    scale = max(1.0, theirs.abs().max().item())
    diff = (ours - theirs).abs().max().item()
    assert diff <= 1e-5 * scale, f"{what}: max |diff| {diff:.2e} at scale {scale:.1f}"


def inputs_for(cls, ids, mask):
    if cls is md.DistilBertForMultipleChoice:  # 3 examples -> 1 question with 3 choices
        return ids[None], mask[None]
    return ids, mask


def labels_for(cls, ids, mask, num_labels=2, float_labels=False):
    B, T = ids.shape
    if cls is md.DistilBertForMaskedLM or cls is md.DistilBertForTokenClassification:
        labels = torch.randint(0, 99 if cls is md.DistilBertForMaskedLM else num_labels, (B, T))
        return dict(labels=labels.masked_fill(mask == 0, -100))
    if cls is md.DistilBertForQuestionAnswering:
        return dict(start_positions=torch.tensor([1, 5, 40]), end_positions=torch.tensor([3, 8, 2]))
    if cls is md.DistilBertForMultipleChoice:
        return dict(labels=torch.tensor([2]))
    if cls is md.DistilBertForSequenceClassification:
        if num_labels == 1:
            return dict(labels=torch.randn(B))
        if float_labels:
            return dict(labels=torch.randint(0, 2, (B, num_labels)).float())
        return dict(labels=torch.randint(0, num_labels, (B,)))
    return {}


def test_state_dict_keys_equal_transformers_for_every_class():
    for ours_cls, hf_cls in PAIRS:
        hf = hf_cls(transformers.DistilBertConfig(**ODD))
        ours = ours_cls(md.DistilBertConfig(**ODD))
        assert list(ours.state_dict()) == list(hf.state_dict()), ours_cls.__name__
        for (name, a), b in zip(ours.state_dict().items(), hf.state_dict().values()):
            assert a.shape == b.shape, name


@pytest.mark.parametrize("impl", ["math", "fast"])
@pytest.mark.parametrize("ours_cls,hf_cls", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_every_class_matches_transformers_on_random_weights(ours_cls, hf_cls, impl):
    hf = hf_model(hf_cls)
    ours = ours_like(hf, ours_cls, impl)
    ids, mask = inputs_for(ours_cls, *batch())
    labels = labels_for(ours_cls, ids.view(-1, 13), mask.view(-1, 13))
    with torch.no_grad():
        a = ours(ids, mask, **labels, output_hidden_states=True, output_attentions=True)
        b = hf(input_ids=ids, attention_mask=mask, **labels, output_hidden_states=True, output_attentions=True)
    # The math path computes padded positions as transformers does; the fast path skips them.
    keep = None if impl == "math" else mask.view(-1, 13).bool()
    for name in ("last_hidden_state", "logits", "start_logits", "end_logits"):
        if name in a._fields:
            per_token = getattr(a, name).dim() >= 2 and getattr(a, name).shape[:2] == (3, 13)
            assert_close(getattr(a, name), getattr(b, name), keep if per_token else None, name)
    if "loss" in a._fields and (impl == "math" or ours_cls is not md.DistilBertForQuestionAnswering):
        assert_close(a.loss, b.loss, what="loss")  # QA on the fast path: see the test below
    assert len(a.hidden_states) == len(b.hidden_states) == ODD["n_layers"] + 1
    for i, (x, y) in enumerate(zip(a.hidden_states, b.hidden_states)):
        assert_close(x, y, keep, f"hidden_states[{i}]")
    assert len(a.attentions) == len(b.attentions) == ODD["n_layers"]
    for i, (x, y) in enumerate(zip(a.attentions, b.attentions)):
        x, y = x.transpose(1, 2), y.transpose(1, 2)  # (B, T_query, H, T_key): rows indexed by query
        assert_close(x, y, keep, f"attentions[{i}]")


@pytest.mark.parametrize("num_labels,float_labels,problem",
                         [(1, True, "regression"), (3, False, "single_label_classification"),
                          (3, True, "multi_label_classification")])
def test_sequence_classification_losses_match_for_each_problem_type(num_labels, float_labels, problem):
    hf = hf_model(transformers.DistilBertForSequenceClassification, num_labels=num_labels)
    ours = ours_like(hf, md.DistilBertForSequenceClassification, "fast", num_labels=num_labels)
    ids, mask = batch()
    labels = labels_for(md.DistilBertForSequenceClassification, ids, mask, num_labels, float_labels)
    with torch.no_grad():
        a, b = ours(ids, mask, **labels), hf(input_ids=ids, attention_mask=mask, **labels)
    assert ours.config.problem_type == hf.config.problem_type == problem
    assert_close(a.logits, b.logits, what="logits")
    assert_close(a.loss, b.loss, what="loss")


def test_question_answering_fast_path_loss_matches_on_unpadded_batches():
    """transformers lets padded positions compete in the start/end softmax, so its QA loss depends
    on outputs at padding. The fast path never computes those, so its loss equals transformers'
    when the batch has no padding (and the math path's equals it always, tested above)."""
    hf = hf_model(transformers.DistilBertForQuestionAnswering)
    ours = ours_like(hf, md.DistilBertForQuestionAnswering, "fast")
    ids, mask = batch(lengths=(13, 13, 13))
    labels = labels_for(md.DistilBertForQuestionAnswering, ids, mask)
    with torch.no_grad():
        a, b = ours(ids, mask, **labels), hf(input_ids=ids, attention_mask=mask, **labels)
    assert_close(a.loss, b.loss, what="loss")


@pytest.mark.parametrize("impl", ["math", "fast"])
@pytest.mark.parametrize("dim,n_heads", [(38, 2), (35, 5)])  # an odd width ends on a lone sin channel
def test_sinusoidal_positions_match_transformers(impl, dim, n_heads):
    hf = hf_model(transformers.DistilBertModel, sinusoidal_pos_embds=True, dim=dim, n_heads=n_heads)
    ours = md.DistilBertModel(md.DistilBertConfig(**{**ODD, "dim": dim, "n_heads": n_heads}, sinusoidal_pos_embds=True,
                                                  impl=impl)).eval()
    table = hf.state_dict()["embeddings.position_embeddings.weight"]
    assert torch.equal(ours.embeddings.position_embeddings.weight, table)  # our own table, not a copy
    ours.load_state_dict(hf.state_dict())
    ids, mask = batch()
    with torch.no_grad():
        a, b = ours(ids, mask, output_hidden_states=True), hf(input_ids=ids, attention_mask=mask,
                                                               output_hidden_states=True)
    for x, y in zip(a.hidden_states, b.hidden_states):
        assert_close(x, y, mask.bool())


# ---------------------------------------------------------------- what a head reads from padding

def padded_at_position_0(with_empty_row=True):
    """Left padding puts a pad at position 0, which classification reads; an all-padding row too."""
    ids, mask = batch(B=4, lengths=(13, 9, 4, 0 if with_empty_row else 6))
    mask[1] = mask[1].flip(0)  # left padding
    return ids, mask


@pytest.mark.parametrize("impl", ["math", "fast"])
@pytest.mark.parametrize("cls", [md.DistilBertForSequenceClassification, md.DistilBertForMultipleChoice])
def test_classification_of_rows_padded_at_position_0_matches_transformers(cls, impl):
    hf = hf_model(getattr(transformers, cls.__name__), num_labels=3)
    ours = ours_like(hf, cls, impl, num_labels=3)
    ids, mask = padded_at_position_0()
    if cls is md.DistilBertForMultipleChoice:  # 2 questions with 2 choices each
        ids, mask = ids.view(2, 2, 13), mask.view(2, 2, 13)
    with torch.no_grad():
        a, b = ours(ids, mask).logits, hf(input_ids=ids, attention_mask=mask).logits
    assert_close(a, b, what="logits")
    assert torch.equal(a.argmax(-1), b.argmax(-1))


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_left_padding_matches_transformers_sdpa_attention_too(impl):
    """transformers' default attention. (Its sdpa and eager attention disagree on an all-padding
    row; ours follows eager there, tested above.)"""
    hf = hf_model(transformers.DistilBertForSequenceClassification)
    hf.set_attn_implementation("sdpa")
    ours = ours_like(hf, md.DistilBertForSequenceClassification, impl)
    ids, mask = padded_at_position_0(with_empty_row=False)
    with torch.no_grad():
        assert_close(ours(ids, mask).logits, hf(input_ids=ids, attention_mask=mask).logits, what="logits")


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_returned_hidden_states_get_the_gradients_transformers_gives_them(impl):
    """Attribution methods call retain_grad() on the returned states and read .grad after backward."""
    hf = hf_model(transformers.DistilBertForSequenceClassification)
    ours = ours_like(hf, md.DistilBertForSequenceClassification, impl)
    ids, mask = padded_at_position_0()
    grads = []
    for model, kw in ((ours, {}), (hf, dict(input_ids=ids, attention_mask=mask))):
        out = model(**kw, output_hidden_states=True) if kw else model(ids, mask, output_hidden_states=True)
        for h in out.hidden_states:
            h.retain_grad()
        out.logits[:, 1].sum().backward()
        grads.append([h.grad for h in out.hidden_states])
    # The all-padding row is left out: its uniform attention does not depend on the scores, but
    # transformers' additive mask still passes them a gradient (ours: none on the math path).
    for i, (x, y) in enumerate(zip(*grads)):
        assert x is not None and x.isfinite().all(), f"hidden_states[{i}] has no gradient"
        assert_close(x[:3], y[:3], what=f"grad of hidden_states[{i}]")  # padding too: 0 where no head reads


# ---------------------------------------------------------------- the real BERT teacher

SENTENCES = ["A man is eating food.", "A man is eating a piece of bread.",
             "The girl is carrying a baby.", "A man is riding a horse.",
             "Two men pushed carts through the woods, and the film never recovers from its slow start."]


@pytest.fixture(scope="module")
def minilm(teacher_dir, vocab_file):
    tokenizer = transformers.BertTokenizer(str(vocab_file))
    enc = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    bert = transformers.BertModel.from_pretrained(str(teacher_dir)).eval()
    with torch.no_grad():
        ref = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                   token_type_ids=torch.zeros_like(enc["input_ids"])).last_hidden_state
    return enc["input_ids"], enc["attention_mask"], ref


def mean_pool(hidden, mask):
    """all-MiniLM-L6-v2's model-card recipe: average the real tokens, then L2-normalise."""
    m = mask[..., None].float()
    return F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)


@pytest.mark.parametrize("impl", ["math", "fast"])
def test_converted_minilm_matches_bert_model_on_real_sentences(minilm, teacher_dir, impl):
    ids, mask, ref = minilm
    model = md.DistilBertModel.from_pretrained(teacher_dir, impl=impl)
    with torch.no_grad():
        out = model(ids, mask).last_hidden_state
    keep = mask.bool()
    assert (out - ref)[keep].abs().max() < 1e-5
    if impl == "math":  # padded positions too
        assert (out - ref).abs().max() < 1e-5
    ours, theirs = mean_pool(out, mask), mean_pool(ref, mask)
    assert (ours - theirs).abs().max() < 1e-5
    sims = ours @ ours.T  # one level up: a paraphrase is closer than an unrelated sentence
    assert sims[0, 1] > 0.5 > sims[0, 2]


# ---------------------------------------------------------------- round trips

@pytest.mark.parametrize("ours_cls,hf_cls", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_our_folder_loads_in_transformers_with_the_same_outputs(ours_cls, hf_cls, tmp_path):
    ours = ours_cls(md.DistilBertConfig(**ODD, num_labels=2, impl="math")).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.5)
    ours.save_pretrained(tmp_path)
    hf = hf_cls.from_pretrained(str(tmp_path)).eval()
    ids, mask = inputs_for(ours_cls, *batch())
    with torch.no_grad():
        a, b = ours(ids, mask), hf(input_ids=ids, attention_mask=mask)
    for name in a._fields:
        if getattr(a, name) is not None:
            assert_close(getattr(a, name), getattr(b, name), what=name)
    if ours_cls is md.DistilBertForMaskedLM:
        assert hf.vocab_projector.weight.data_ptr() == hf.distilbert.embeddings.word_embeddings.weight.data_ptr()


@pytest.mark.parametrize("ours_cls,hf_cls", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_transformers_folder_loads_in_minidistil_with_the_same_outputs(ours_cls, hf_cls, tmp_path):
    hf = hf_model(hf_cls, num_labels=2)
    hf.save_pretrained(str(tmp_path))
    ours = ours_cls.from_pretrained(tmp_path, impl="math")
    ids, mask = inputs_for(ours_cls, *batch())
    with torch.no_grad():
        a, b = ours(ids, mask), hf(input_ids=ids, attention_mask=mask)
    for name in a._fields:
        if getattr(a, name) is not None:
            assert_close(getattr(a, name), getattr(b, name), what=name)
