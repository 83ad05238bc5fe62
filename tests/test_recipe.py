"""The recipe's steps as library calls: one folder layout, seeded before any model is built, and
settings that parse what a config file or a flag writes."""
import pytest
import torch

from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer
from minidistil.data import sources
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.training.distill import DistillLoss
from minidistil.recipes.recipe import DistillSettings, PretrainSettings, distill, extract_student, pretrain
from minidistil.training.train import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)

TINY = PretrainSettings(dim=16, n_layers=2, n_heads=2, hidden_dim=32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, vocab_file):
    """Hamlet's first 300 lines in 32-token chunks, with the teacher's vocabulary saved beside them."""
    folder = tmp_path_factory.mktemp("recipe") / "corpus"
    docs = sources.hamlet().splitlines()[:300]
    prepare_corpus(docs, WordPieceTokenizer(vocab_file), folder, PrepareOptions(max_length=32, min_tokens=4))
    return TokenCorpus(folder).split(4)


def quiet(out, **overrides):
    return TrainConfig(**{**dict(out_dir=str(out), max_steps=2, batch_size=4, progress=False, seed=3), **overrides})


def test_a_step_writes_its_model_with_the_tokenizer_beside_checkpoint_and_metrics(corpus, tmp_path):
    train_data, eval_data = corpus
    model, result = pretrain(train_data, quiet(tmp_path), TINY, eval_data)
    assert {"model", "checkpoint.pt", "metrics.jsonl"} <= {p.name for p in tmp_path.iterdir()}
    assert (tmp_path / "model" / "vocab.txt").is_file() and "eval_perplexity" in result
    loaded = DistilBertForMaskedLM.from_pretrained(tmp_path / "model")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_a_fresh_run_is_seeded_before_its_model_is_built(corpus, tmp_path):
    train_data, _ = corpus
    weights = []
    for run in ("a", "b"):
        torch.manual_seed(ord(run))  # a different global state before each run
        model, _ = pretrain(train_data, quiet(tmp_path / run), TINY)
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_distilling_a_random_student_is_reproducible_and_uses_the_loss_settings(corpus, tmp_path):
    train_data, _ = corpus
    torch.manual_seed(0)
    teacher = DistilBertForMaskedLM(DistilBertConfig(vocab_size=train_data.vocab_size, dim=16, n_heads=2,
                                                     hidden_dim=32, n_layers=4)).eval()
    settings = DistillSettings(student_layers="0,3", student_init="random", loss=DistillLoss(alpha_cos=0.0))
    students = []
    for run in ("a", "b"):
        torch.manual_seed(ord(run))
        student, result = distill(teacher, train_data, quiet(tmp_path / run), settings)
        students.append(student.state_dict())
        assert "cos" not in result and {"ce", "mlm"} <= set(result)
    assert all(torch.equal(students[0][k], students[1][k]) for k in students[0])
    assert DistilBertForMaskedLM.from_pretrained(tmp_path / "a" / "model").config.n_layers == 2


def test_student_settings_read_layers_as_a_config_file_writes_them():
    assert DistillSettings(student_layers="0,2,5").student_layers == (0, 2, 5)
    assert DistillSettings(student_layers=[0, 5]).student_layers == (0, 5)
    with pytest.raises(ValueError, match="comma-separated teacher layers such as 0,2,5, got '0,x'"):
        DistillSettings(student_layers="0,x")
    with pytest.raises(ValueError, match="'teacher' or 'random'"):
        DistillSettings(student_init="zeros")


def test_extracting_the_default_student_keeps_the_table_s_layers():
    teacher = DistilBertForMaskedLM(DistilBertConfig(vocab_size=50, dim=16, n_heads=2, hidden_dim=32, n_layers=6))
    assert extract_student(teacher).config.n_layers == 3
