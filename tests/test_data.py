"""User files and corpus preparation into a memory-mapped id file."""
import json
import tracemalloc

import numpy as np
import pytest

from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus, read_documents
from minidistil.tokenizer import WordPieceTokenizer


class WordTokenizer:
    """A stand-in tokenizer with an inline vocabulary: one id per known word, [UNK] for the rest."""
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 1, 2, 3, 4

    def __init__(self, words="the a cat dog sat on mat and ran far away".split()):
        self.vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}

    def __len__(self):
        return len(self.vocab)

    def __call__(self, texts, add_special_tokens=True, verbose=True):
        assert not add_special_tokens
        return {"input_ids": [[self.vocab.get(w, 1) for w in t.lower().split()] for t in texts]}


@pytest.fixture
def tok():
    return WordTokenizer()


# ---------------------------------------------------------------- user files

def test_text_file_documents_are_separated_by_blank_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("the cat sat\non the mat\n\n\nthe dog ran\n")
    assert list(read_documents(path)) == ["the cat sat on the mat", "the dog ran"]


def test_csv_and_jsonl_read_the_named_column(tmp_path):
    (tmp_path / "a.csv").write_text('id,body\n1,"the cat, the dog"\n2,\n3,a mat\n')
    assert list(read_documents(tmp_path / "a.csv", column="body")) == ["the cat, the dog", "a mat"]
    (tmp_path / "a.jsonl").write_text('{"text": "the cat"}\n\n{"text": "ran far"}\n')
    assert list(read_documents(tmp_path / "a.jsonl")) == ["the cat", "ran far"]


@pytest.mark.parametrize("name, content, column, message", [
    ("a.csv", "id,body\n1,x\n", None, "no column 'text'.*columns are \\['id', 'body'\\]"),
    ("a.jsonl", '{"text": "ok"}\n{broken\n', None, "line 2 of .* is not valid JSON"),
    ("a.jsonl", '{"body": "ok"}\n', None, "line 1 of .* has no field 'text'"),
    ("a.parquet", "", None, "expected .txt"),
])
def test_bad_user_files_raise_a_sentence(tmp_path, name, content, column, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        list(read_documents(tmp_path / name, column=column))


def test_missing_user_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt does not exist"):
        list(read_documents(tmp_path / "nope.txt"))


def test_a_folder_given_as_a_user_file_is_named_as_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder; pass the .txt, .csv or .jsonl files in it"):
        list(read_documents(tmp_path))


# ---------------------------------------------------------------- preparation

DOCS = ["the cat sat on the mat and the dog ran far away " * 3,  # 36 words: 3 chunks of 14 + 1 of 8 at max_length 16
        "the cat sat",                                           # too short
        "zebra yak gnu ox the cat sat on the mat and ran",       # 4 [UNK] of 12: kept
        "zebra yak gnu ox emu owl the cat sat on mat and ran"]   # 6 [UNK] of 13: kept at 0.5, 7 would drop


def test_prepare_chunks_documents_into_cls_sep_pieces_of_model_length(tmp_path, tok):
    meta = prepare_corpus(DOCS, tok, tmp_path, PrepareOptions(max_length=16, min_tokens=6))
    corpus = TokenCorpus(tmp_path)
    assert corpus.tokens.dtype == np.uint16 and meta["dtype"] == "uint16"
    chunks = [corpus[i]["input_ids"] for i in range(len(corpus))]
    assert all(c[0] == tok.cls_token_id and c[-1] == tok.sep_token_id and len(c) <= 16 for c in chunks)
    words = tok([DOCS[0]], add_special_tokens=False)["input_ids"][0]
    assert [list(c[1:-1]) for c in chunks[:3]] == [words[0:14], words[14:28], words[28:36]]
    assert meta["dropped"] == {"too_short": 1, "mostly_unknown": 0}
    assert list(corpus.lengths) == [len(c) for c in chunks]


def test_prepare_saves_the_tokenizer_that_made_the_ids(tmp_path, ours):
    prepare_corpus(DOCS, ours, tmp_path, PrepareOptions(max_length=16, min_tokens=6))
    saved = WordPieceTokenizer.from_pretrained(tmp_path)
    assert saved.vocab == ours.vocab and saved.do_lower_case == ours.do_lower_case
    assert saved(DOCS)["input_ids"] == ours(DOCS)["input_ids"]


def test_prepare_drops_mostly_unknown_chunks_by_a_named_threshold(tmp_path, tok):
    meta = prepare_corpus(DOCS, tok, tmp_path, PrepareOptions(max_length=64, min_tokens=6, max_unk_fraction=0.4))
    assert meta["dropped"] == {"too_short": 1, "mostly_unknown": 1}


def test_token_counts_are_the_frequencies_of_the_stored_ids(tmp_path, tok):
    prepare_corpus(DOCS, tok, tmp_path, PrepareOptions(max_length=16, min_tokens=6))
    corpus = TokenCorpus(tmp_path)
    every_id = np.concatenate([corpus[i]["input_ids"] for i in range(len(corpus))])
    np.testing.assert_array_equal(corpus.counts, np.bincount(every_id, minlength=len(tok)))


def test_large_vocabularies_are_stored_as_uint32(tmp_path):
    class BigTokenizer(WordTokenizer):
        def __len__(self):
            return 70001

    big = BigTokenizer()
    big.vocab["zebra"] = 70000
    prepare_corpus(["zebra the cat sat on the mat and ran far"], big, tmp_path, PrepareOptions(min_tokens=3))
    corpus = TokenCorpus(tmp_path)
    assert corpus.tokens.dtype == np.uint32 and corpus[0]["input_ids"][1] == 70000


def test_preparation_streams_memory_stays_flat_as_the_corpus_grows(tmp_path, tok):
    def peak(n_docs):
        docs = ("the cat sat on the mat and the dog ran far away " * 20 for _ in range(n_docs))
        tracemalloc.start()
        prepare_corpus(docs, tok, tmp_path / str(n_docs), PrepareOptions(max_length=32, batch_documents=64))
        peak_bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak_bytes

    small, large = peak(500), peak(4000)
    assert TokenCorpus(tmp_path / "4000").meta["n_chunks"] == 8 * TokenCorpus(tmp_path / "500").meta["n_chunks"]
    assert large < 1.3 * small


def test_no_surviving_chunk_is_an_error(tmp_path, tok):
    with pytest.raises(ValueError, match="no chunk survived"):
        prepare_corpus(["the cat"], tok, tmp_path)


def test_bad_preparation_options_raise_a_sentence():
    with pytest.raises(ValueError, match="min_tokens"):
        PrepareOptions(max_length=16, min_tokens=20)
    with pytest.raises(ValueError, match="max_unk_fraction"):
        PrepareOptions(max_unk_fraction=1.5)


def test_missing_or_corrupt_corpus_gives_a_clear_error(tmp_path, tok):
    with pytest.raises(ValueError, match="not a prepared corpus.*prepare-data"):
        TokenCorpus(tmp_path)
    prepare_corpus(DOCS, tok, tmp_path, PrepareOptions(max_length=16, min_tokens=6))
    tokens = tmp_path / "tokens.bin"
    tokens.write_bytes(tokens.read_bytes()[:-6])  # a truncated copy
    with pytest.raises(ValueError, match="tokens.bin should hold .* bytes.*prepare it again"):
        TokenCorpus(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        TokenCorpus(tmp_path)


def test_split_holds_out_chunks_without_overlap(tmp_path, tok):
    prepare_corpus(DOCS * 5, tok, tmp_path, PrepareOptions(max_length=16, min_tokens=6))
    corpus = TokenCorpus(tmp_path)
    train, held = corpus.split(4)
    assert len(train) + len(held) == len(corpus) and len(held) == 4
    assert not set(train.indices) & set(held.indices)
    assert json.loads((tmp_path / "meta.json").read_text())["n_chunks"] == len(corpus)
