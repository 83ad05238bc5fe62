"""A corpus folder is never destroyed by a failed preparation, and a broken one is refused with a sentence."""
import errno
import json
import os
import pickle

import numpy as np
import pytest

from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus, read_documents
from minidistil.utils.fsutil import replace_folder

OPTIONS = PrepareOptions(max_length=16, min_tokens=6)
DOCS = ["the cat sat on the mat and the dog ran far away",
        "a dog sat on a mat and a cat ran away",
        "the cat and the dog sat on the mat far away and ran"]


class WordTokenizer:
    """One id per known word, [UNK] for the rest: enough to prepare a corpus in milliseconds."""
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3, 4
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"the a cat dog sat on mat and ran far away".split()]

    def __len__(self):
        return len(self.words)

    def __call__(self, texts, add_special_tokens=True, verbose=True):
        return {"input_ids": [[self.words.index(w) if w in self.words else 1 for w in t.split()] for t in texts]}


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    prepare_corpus(DOCS, WordTokenizer(), folder, OPTIONS)
    return folder


def documents_then(error):
    yield from DOCS
    raise error


# ---------------------------------------------------------------- a failed preparation changes nothing

@pytest.mark.parametrize("documents, error", [
    ([], "no chunk survived"),                                       # an empty input file
    (["the cat"], "no chunk survived"),                              # nothing long enough
    (documents_then(OSError(errno.ENOSPC, "No space left on device")),
     "disk holding .* is full, so .*corpus was not written and the folder already there is left as it was"),
    (documents_then(KeyboardInterrupt()), None),                     # Ctrl-C half-way
])
def test_a_failed_preparation_leaves_the_existing_corpus_untouched(corpus, documents, error):
    before = snapshot(corpus)
    with pytest.raises(KeyboardInterrupt if error is None else (ValueError, OSError), match=error):
        prepare_corpus(documents, WordTokenizer(), corpus, OPTIONS)
    assert snapshot(corpus) == before
    assert [p.name for p in corpus.parent.iterdir()] == ["corpus"]  # the temporary sibling is gone
    assert len(TokenCorpus(corpus)) == 3


def test_a_failed_first_preparation_leaves_no_folder_behind(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist"):
        prepare_corpus(read_documents(tmp_path / "missing.txt"), WordTokenizer(), tmp_path / "runs" / "corpus")
    assert list(tmp_path.iterdir()) == []  # neither the corpus nor the parent made for it


def test_the_command_line_keeps_the_corpus_when_the_input_is_empty(tmp_path, vocab_file, capsys):
    from minidistil.cli import main
    text = tmp_path / "a.txt"
    text.write_text("\n\n".join(DOCS * 4))
    flags = ["--vocab", str(vocab_file), "--out", str(tmp_path / "corpus"), "--max-length", "16",
             "--min-tokens", "6"]
    assert main(["prepare-data", "--input", str(text), *flags]) == 0
    before = snapshot(tmp_path / "corpus")
    (tmp_path / "empty.txt").write_text("")
    assert main(["prepare-data", "--input", str(tmp_path / "empty.txt"), *flags]) == 2
    assert "no chunk survived" in capsys.readouterr().err
    assert snapshot(tmp_path / "corpus") == before


def test_a_successful_preparation_replaces_the_corpus_whole(corpus):
    (corpus / "stale.bin").write_bytes(b"from an older preparation")
    meta = prepare_corpus(DOCS * 2, WordTokenizer(), corpus, OPTIONS)
    assert meta["n_chunks"] == 6 and len(TokenCorpus(corpus)) == 6
    assert not (corpus / "stale.bin").exists()
    assert [p.name for p in corpus.parent.iterdir()] == ["corpus"]
    umask = os.umask(0)
    os.umask(umask)
    assert corpus.stat().st_mode & 0o777 == 0o777 & ~umask  # the usual permissions, not a temp folder's 0o700


def test_a_folder_that_is_not_a_corpus_is_never_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="none of them is meta.json.*choose a new or empty folder"):
        prepare_corpus(DOCS, WordTokenizer(), tmp_path, OPTIONS)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError, match="is a file, not a folder"):
        prepare_corpus(DOCS, WordTokenizer(), tmp_path / "notes.txt", OPTIONS)


def test_replace_folder_swaps_in_only_a_folder_whose_block_finished(tmp_path):
    target = tmp_path / "model"
    with replace_folder(target, marker="config.json") as tmp:
        (tmp / "config.json").write_text("{}")
        assert tmp.parent == target.parent and not target.exists()  # beside it, not in it
    assert (target / "config.json").read_text() == "{}"
    with pytest.raises(RuntimeError, match="half-way"):
        with replace_folder(target, marker="config.json") as tmp:
            (tmp / "config.json").write_text('{"new": 1}')
            raise RuntimeError("failed half-way")
    assert (target / "config.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


# ---------------------------------------------------------------- a broken folder: one sentence

def edit_meta(corpus, change):
    meta = json.loads((corpus / "meta.json").read_text())
    (corpus / "meta.json").write_text(json.dumps(change(meta)))


@pytest.mark.parametrize("broken, message", [
    (lambda c: (c / "meta.json").write_text("{not json"), "meta.json is not valid JSON"),
    (lambda c: (c / "meta.json").write_bytes(b"\xff\xfe{}"), "meta.json is not valid JSON"),
    (lambda c: (c / "meta.json").write_text("[]"), "meta.json holds a JSON list"),
    (lambda c: edit_meta(c, lambda m: {k: v for k, v in m.items() if k != "n_tokens"}),
     "meta.json has n_tokens=None, expected a non-negative integer"),
    (lambda c: edit_meta(c, lambda m: {**m, "n_chunks": "3"}), "meta.json has n_chunks='3'"),
    (lambda c: edit_meta(c, lambda m: {**m, "vocab_size": True}), "meta.json has vocab_size=True"),
    (lambda c: edit_meta(c, lambda m: {**m, "dtype": "float64"}), "meta.json has dtype='float64'"),
    (lambda c: edit_meta(c, lambda m: {**m, "special_ids": {"cls": 2}}), "meta.json has no integer special_ids"),
    (lambda c: (c / "counts.npy").unlink(), "counts.npy is missing"),
    (lambda c: (c / "counts.npy").write_bytes(b"garbage"), "counts.npy is not a readable .npy file"),
    (lambda c: (c / "counts.npy").write_bytes((c / "counts.npy").read_bytes()[:-8]),
     "counts.npy is not a readable .npy file"),
    (lambda c: np.save(c / "counts.npy", np.zeros(3, dtype=np.int64)), "counts.npy should hold 16 integer"),
    (lambda c: np.save(c / "counts.npy", np.zeros(16)), "counts.npy should hold 16 integer"),
    (lambda c: (c / "counts.npy").write_bytes(pickle.dumps([1, 2])), "counts.npy is not a readable .npy file"),
])
def test_a_broken_corpus_file_is_named_with_what_to_do(corpus, broken, message):
    broken(corpus)
    with pytest.raises(ValueError, match=f"{message}.*prepare the corpus again with `python -m minidistil "
                                         f"prepare-data`") as error:
        TokenCorpus(corpus)
    assert "\n" not in str(error.value)
