"""Shared fixtures: the real weights and vocabulary from the registry packages (see minidistil/sources.py)."""
import pytest
import torch

from minidistil import WordPieceTokenizer, sources


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
