"""Shared fixtures: the real weights and vocabulary from the registry packages (see minidistil/data/sources.py)."""
import shutil

import pytest
import torch
import transformers
from transformers import BertTokenizer, BertTokenizerLegacy

import minidistil as md
from minidistil import WordPieceTokenizer
from minidistil.data import sources


@pytest.fixture(scope="session")
def teacher_dir():
    """all-MiniLM-L6-v2 (a 6-layer BERT, no MLM head), fetched once into the cache."""
    return sources.teacher_dir()


@pytest.fixture(scope="session")
def vocab_file():
    """The bert-base-uncased vocabulary."""
    return sources.vocab_file()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def folder(vocab_file):
    """The teacher's folder: vocab.txt with tokenizer_config.json and special_tokens_map.json."""
    return vocab_file.parent


@pytest.fixture(scope="session")
def ours(folder):
    return WordPieceTokenizer.from_pretrained(folder)


@pytest.fixture(scope="session")
def ours_legacy(folder):
    return WordPieceTokenizer.from_pretrained(folder, reference="legacy")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- model folders (checkpoint and convert tests)
# Odd sizes turn transposition bugs into shape errors.
ODD = dict(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2, max_position_embeddings=17)
BERT_ODD = dict(vocab_size=99, hidden_size=36, num_attention_heads=3, intermediate_size=37, num_hidden_layers=2,
                max_position_embeddings=17, type_vocab_size=2)


def randomise(model, std=0.5):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, std)
    return model.eval()


@pytest.fixture
def bert_mlm_dir(tmp_path):
    bert = randomise(transformers.BertForMaskedLM(transformers.BertConfig(**BERT_ODD)))
    bert.save_pretrained(str(tmp_path / "bert"))
    return tmp_path / "bert", bert


@pytest.fixture
def distil_dir(tmp_path):
    model = randomise(md.DistilBertForMaskedLM(md.DistilBertConfig(**ODD)))
    model.save_pretrained(tmp_path / "distil")
    return tmp_path / "distil", model


def batch():
    return torch.randint(1, 99, (2, 13)), torch.tensor([[1] * 13, [1] * 7 + [0] * 6])


# ---------------------------------------------------------------- Hugging Face's two BERT tokenizers

@pytest.fixture(scope="session")
def rust(folder):
    return BertTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def legacy(folder):
    return BertTokenizerLegacy.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, vocab_file):
    """A tiny random DistilBERT with the real vocabulary: odd sizes so that shape bugs fail loudly
    (the fine-tuning and probe tests share it)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny")
    config = md.DistilBertConfig(dim=36, n_heads=4, hidden_dim=37, n_layers=2, max_position_embeddings=96)
    md.DistilBertModel(config).save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return folder
