"""int8: each Linear stays within its rounding bound, LayerNorm and GELU stay float, the real MiniLM
agrees with its float self on real text, the saved folder round-trips through from_pretrained and the
pipelines at under 0.4x the size, and bad inputs are refused with a sentence."""
import pytest
import torch
import torch.nn as nn

from minidistil import pipeline
from minidistil.data import sources
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                              DistilBertForSequenceClassification, DistilBertForTokenClassification)
from minidistil.nn.model import DistilBertModel, LayerNorm
from minidistil.apps.quantize import Int8Embedding, Int8Linear, quantize, quantize_rows, save_quantized
from minidistil.tokenizer import copy_tokenizer_files

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: small models run fastest on one thread

HEADS = (DistilBertModel, DistilBertForMaskedLM, DistilBertForSequenceClassification,
         DistilBertForTokenClassification, DistilBertForQuestionAnswering, DistilBertForMultipleChoice)


def tiny(cls, std=0.5, **config):
    """Odd sizes (a transposed weight is then a shape error), re-initialised with a large std so that
    the activations have real range and the rounding shows."""
    torch.manual_seed(0)
    model = cls(DistilBertConfig(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, **config)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, std)
    return model


def batch(cls, B=3, T=13):
    ids = torch.randint(1, 99, (B, T))
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 9:], mask[2, 4:] = 0, 0
    if cls is DistilBertForMultipleChoice:
        return ids.view(1, B, T), mask.view(1, B, T)
    return ids, mask


def outputs(model, ids, mask):
    out = model(ids, mask)
    return [t for t in out if isinstance(t, torch.Tensor)]


# ------------------------------------------------------------------ single ops

def test_int8_linear_stays_within_its_rounding_bound():
    # y - y_q = x (W - W_q)^T + (x - x_q) W_q^T, and each rounding is at most half a step, so
    # |y - y_q| <= s_W / 2 * sum|x| + s_x / 2 * sum|W_q|, row by row: a bound, not a guessed tolerance.
    torch.manual_seed(0)
    linear = nn.Linear(37, 99)
    x = torch.randn(13, 37) * 3
    q = Int8Linear.from_float(linear)
    _, x_scale = quantize_rows(x)
    w_dequantized = q.weight.float() * q.weight_scale[:, None]
    bound = (q.weight_scale / 2 * x.abs().sum(1, keepdim=True)
             + x_scale / 2 * w_dequantized.abs().sum(1)) * 1.001 + 1e-6  # float32 round-off on top
    with torch.no_grad():
        assert ((linear(x) - q(x)).abs() <= bound).all()
        assert q(x[:1, None]).shape == (1, 1, 99)  # any leading shape, as nn.Linear


def test_int8_matmul_is_exact_and_zero_rows_stay_zero():
    a = torch.randint(-127, 128, (13, 37), dtype=torch.int8)
    b = torch.randint(-127, 128, (37, 7), dtype=torch.int8)
    assert torch.equal(torch._int_mm(a, b), (a.long() @ b.long()).int())
    q, scale = quantize_rows(torch.zeros(2, 5))
    assert not q.any() and torch.equal(scale, torch.ones(2, 1))


def test_int8_embedding_rows_are_within_half_a_step():
    table = nn.Embedding(99, 36)
    q = Int8Embedding.from_float(table)
    ids = torch.arange(99)[None]
    step = q.weight_scale[ids].unsqueeze(-1)
    assert ((q(ids) - table(ids)).abs() <= step / 2 * 1.001).all()


# ------------------------------------------------------------------ models

@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_every_head_quantizes_and_its_outputs_stay_close(cls):
    # Tolerance: 5% of the output's range. Each rounding is at most half a step, 0.4% of its row's
    # range; eight int8 matmuls in a row add up to 1-2% here (std-0.1 weights, as in trained
    # models; with std 0.5 the attention saturates and one rounding can flip a softmax). A
    # transposed or mis-scaled weight is off by 100%.
    model = tiny(cls, std=0.1)
    ids, mask = batch(cls)
    small = quantize(model)
    with torch.no_grad():
        for a, b in zip(outputs(model, ids, mask), outputs(small, ids, mask)):
            assert (a - b).abs().max() <= 0.05 * a.abs().max()
    assert not any(isinstance(m, (Int8Linear, Int8Embedding)) for m in model.modules())  # a copy


def test_layer_norm_gelu_and_positions_stay_float():
    model = quantize(tiny(DistilBertForMaskedLM))
    norms = [m for m in model.modules() if isinstance(m, LayerNorm)]
    assert len(norms) == 2 * 2 + 2  # two per block, the embeddings', the MLM head's
    assert all(m.weight.dtype == torch.float32 for m in norms)
    assert model.distilbert.embeddings.position_embeddings.weight.dtype == torch.float32
    assert not any(isinstance(m, nn.Linear) and m is not model.vocab_projector for m in model.modules())
    # GELU is a function of float tensors: a block's FFN input and output are float.
    with torch.no_grad():
        ids, mask = batch(DistilBertForMaskedLM)
        h = model.distilbert(ids, mask).last_hidden_state
        assert h.dtype == torch.float32 and model.distilbert.transformer.layer[0].ffn(h).dtype == torch.float32


def test_tied_projector_shares_the_int8_table_or_stays_float_and_tied():
    small = quantize(tiny(DistilBertForMaskedLM))
    assert small.vocab_projector.weight is small.distilbert.embeddings.word_embeddings.weight
    assert small.vocab_projector.weight.dtype == torch.int8
    float_table = quantize(tiny(DistilBertForMaskedLM), int8_embeddings=False)
    assert float_table.vocab_projector.weight is float_table.distilbert.embeddings.word_embeddings.weight
    assert float_table.vocab_projector.weight.dtype == torch.float32


@pytest.fixture(scope="module")
def minilm(teacher_dir):
    return DistilBertModel.from_pretrained(teacher_dir)


@pytest.fixture(scope="module")
def snippets(ours):
    """128 real Rotten Tomatoes snippets, tokenized and padded to one batch."""
    texts, labels = sources.rotten_tomatoes()
    enc = ours(texts[:128], truncation=True, max_length=48)
    T = max(len(ids) for ids in enc["input_ids"])
    ids = torch.zeros(len(texts[:128]), T, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, tokens in enumerate(enc["input_ids"]):
        ids[row, :len(tokens)], mask[row, :len(tokens)] = torch.tensor(tokens), 1
    return ids, mask, torch.tensor([labels[0] == label for label in labels[:128]], dtype=torch.float)


def sentence_embeddings(model, ids, mask):
    with torch.no_grad():
        h = model(ids, mask).last_hidden_state
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # mean over real tokens


def test_int8_minilm_agrees_with_float_on_real_text(minilm, snippets):
    # The trap: LayerNorm inputs and GELU outputs have outlier channels, and quantizing them with
    # fixed scales collapses DistilBERT's accuracy. Ours keeps them float, so the sentence
    # embeddings stay nearly parallel and a sentiment probe fitted on the float embeddings gives
    # the same answer on >= 95% of real snippets.
    ids, mask, labels = snippets
    exact = sentence_embeddings(minilm, ids, mask)
    rounded = sentence_embeddings(quantize(minilm), ids, mask)
    assert torch.nn.functional.cosine_similarity(exact, rounded).min() > 0.98
    features = torch.cat([exact, torch.ones(len(exact), 1)], 1)  # least-squares probe with a bias
    probe = torch.linalg.lstsq(features, labels[:, None] * 2 - 1).solution
    predict = lambda e: (torch.cat([e, torch.ones(len(e), 1)], 1) @ probe).squeeze(1) > 0  # noqa: E731
    assert (predict(exact) == predict(rounded)).float().mean() >= 0.95


# ------------------------------------------------------------------ folders

@pytest.mark.parametrize("int8_embeddings", [True, False])
@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_saved_int8_folder_round_trips_through_from_pretrained(cls, int8_embeddings, tmp_path):
    small = quantize(tiny(cls), int8_embeddings=int8_embeddings)
    small.save_pretrained(tmp_path)  # through the model, as a user saves
    loaded = cls.from_pretrained(tmp_path)
    ids, mask = batch(cls)
    with torch.no_grad():
        for a, b in zip(outputs(small, ids, mask), outputs(loaded, ids, mask)):
            assert torch.equal(a, b)
    if cls is not DistilBertModel:  # the encoder alone reads out of any head's folder
        assert isinstance(DistilBertModel.from_pretrained(tmp_path).transformer.layer[0].ffn.lin1, Int8Linear)


def test_minilm_folder_is_under_0_4x_and_the_embedding_pipeline_reads_it(minilm, teacher_dir, tmp_path):
    minilm.save_pretrained(tmp_path / "float")
    out = quantize(minilm).save_pretrained(tmp_path / "int8")
    copy_tokenizer_files(teacher_dir, out)
    size = (out / "model.safetensors").stat().st_size / (tmp_path / "float" / "model.safetensors").stat().st_size
    assert size <= 0.4  # the int8 token table is most of the saving: 30522 x 384 of 22.7M weights
    texts = ["a gem of a film", "two hours I will never get back"]
    exact, rounded = pipeline("embedding", model=teacher_dir)(texts), pipeline("embedding", model=out)(texts)
    assert torch.nn.functional.cosine_similarity(exact, rounded).min() > 0.98


@pytest.mark.parametrize("task, cls", [("fill-mask", DistilBertForMaskedLM),
                                       ("text-classification", DistilBertForSequenceClassification),
                                       ("token-classification", DistilBertForTokenClassification),
                                       ("question-answering", DistilBertForQuestionAnswering),
                                       ("summarization", DistilBertModel)])
def test_pipelines_load_int8_folders(task, cls, tmp_path, folder):
    model = cls(DistilBertConfig(vocab_size=30522, dim=48, n_heads=4, hidden_dim=37, n_layers=2)).eval()
    quantize(model).save_pretrained(tmp_path)
    copy_tokenizer_files(folder, tmp_path)
    run = pipeline(task, model=tmp_path)
    assert any(isinstance(m, Int8Linear) for m in run.model.modules())
    if task == "fill-mask":
        assert len(run("the film was [MASK].", top_k=3)) == 3
    elif task == "question-answering":
        assert "answer" in run("where?", "the film was shot in Paris.")
    elif task == "summarization":
        assert run("One sentence. Another one here. And a third.")
    else:
        assert run(["a gem of a film"])


# ------------------------------------------------------------------ refusals

def test_bad_inputs_are_refused_with_a_sentence(tmp_path):
    small = quantize(tiny(DistilBertForSequenceClassification))
    with pytest.raises(ValueError, match="already int8"):
        quantize(small)
    small.save_pretrained(tmp_path / "int8")
    with pytest.raises(ValueError, match="already int8"):
        quantize(DistilBertForSequenceClassification.from_pretrained(tmp_path / "int8"))
    with pytest.raises(ValueError, match="cannot be trained"):
        DistilBertForSequenceClassification.from_pretrained(tmp_path / "int8", new_head=True)
    with pytest.raises(TypeError, match="minidistil model"):
        quantize(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="not int8"):
        save_quantized(tiny(DistilBertModel), tmp_path / "nope")


def test_quantize_command_writes_a_loadable_folder_and_refuses_bad_input(tmp_path, folder, capsys):
    from minidistil.cli import main
    model = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=30522, dim=48, n_heads=4,
                                                                 hidden_dim=37, n_layers=2))
    model.save_pretrained(tmp_path / "float")
    copy_tokenizer_files(folder, tmp_path / "float")
    assert main(["quantize", "--model", str(tmp_path / "float"), "--out", str(tmp_path / "int8")]) == 0
    assert "int8 weights (MB)" in capsys.readouterr().out
    assert pipeline("text-classification", model=tmp_path / "int8")("a gem of a film")["label"]
    refused = {"already int8": ["--model", str(tmp_path / "int8"), "--out", str(tmp_path / "again")],
               "is not a model folder": ["--model", str(tmp_path), "--out", str(tmp_path / "again")],
               "must differ": ["--model", str(tmp_path / "float"), "--out", str(tmp_path / "float")]}
    for message, flags in refused.items():
        assert main(["quantize", *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
