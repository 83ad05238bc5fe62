"""What pipelines do with awkward inputs: several masks, text the vocabulary does not cover, empty
lists and blank texts (as transformers), and non-text or out-of-range settings (one sentence)."""
import shutil
import warnings

import pytest
import torch
import transformers
from transformers import DistilBertTokenizerFast

import minidistil
from minidistil.apps import pipelines
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.heads import DistilBertForQuestionAnswering
from minidistil.tokenizer import WordPieceTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)

LABELS = {0: "business", 1: "sport", 2: "tech"}
CHINESE = "我喜欢这部电影非常"  # 9 word pieces in bert-base-uncased, 7 of them [UNK]


def random_hf_model(tmp_path_factory, vocab_file, cls_name, **config):
    """A small random transformers DistilBERT with a large std (its predictions differ from token to
    token), saved with the real vocabulary; returns (folder, the transformers pipeline on it)."""
    torch.manual_seed(0)
    hf_config = transformers.DistilBertConfig(vocab_size=30522, dim=48, n_layers=2, n_heads=4, hidden_dim=37,
                                              max_position_embeddings=128, **config)
    model = getattr(transformers, cls_name)(hf_config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    folder = tmp_path_factory.mktemp(cls_name)
    model.save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    task = "fill-mask" if cls_name.endswith("MaskedLM") else "text-classification"
    return folder, transformers.pipeline(task, model=model, tokenizer=DistilBertTokenizerFast(str(vocab_file)),
                                         device="cpu")


@pytest.fixture(scope="module")
def fill_mask(tmp_path_factory, vocab_file):
    return random_hf_model(tmp_path_factory, vocab_file, "DistilBertForMaskedLM")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, vocab_file):
    return random_hf_model(tmp_path_factory, vocab_file, "DistilBertForSequenceClassification", id2label=LABELS,
                           label2id={v: k for k, v in LABELS.items()})


@pytest.fixture(scope="module")
def embedder(classifier):
    return minidistil.pipeline("embedding", model=classifier[0])


# ---------------------------------------------------------------- several masks

def test_with_two_masks_each_candidate_fills_only_its_own_mask_as_in_hugging_face(fill_mask):
    folder, theirs = fill_mask
    text = "The [MASK] of France is [MASK]."
    ours = minidistil.pipeline("fill-mask", model=folder)(text, top_k=3)
    reference = theirs(text, top_k=3)
    assert len(ours) == len(reference) == 2  # one list of candidates per mask
    for mine, ref in zip(ours, reference):
        assert [(m["token"], m["token_str"], m["sequence"]) for m in mine] == \
               [(r["token"], r["token_str"], r["sequence"]) for r in ref]
        assert [m["score"] for m in mine] == pytest.approx([r["score"] for r in ref], abs=1e-5)
    assert all(m["sequence"].endswith("of france is [MASK]. [SEP]") for m in ours[0])  # the second mask kept
    assert all(m["sequence"].startswith("[CLS] the [MASK] of france is") for m in ours[1])  # the first kept


def test_with_one_mask_the_sequence_is_plain_text(fill_mask):
    folder, theirs = fill_mask
    text = "The capital of France is [MASK]."
    ours = minidistil.pipeline("fill-mask", model=folder)(text, top_k=3)
    assert [m["sequence"] for m in ours] == [r["sequence"] for r in theirs(text, top_k=3)]
    assert all(m["sequence"].startswith("the capital of france is") and "[" not in m["sequence"] for m in ours)


# ---------------------------------------------------------------- text the vocabulary does not cover

def test_text_that_is_mostly_unknown_is_classified_with_a_warning(classifier, embedder):
    classify = minidistil.pipeline("text-classification", model=classifier[0])
    with pytest.warns(UserWarning, match=r"1 input\(s\) are mostly \[UNK\].*their results say little"):
        result = classify(["a fine film", CHINESE])
    assert result[1]["label"] in LABELS.values()
    with pytest.warns(UserWarning, match=r"mostly \[UNK\]"):
        embedder(CHINESE)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classify(["a fine film", "你好 world and more words"])  # some [UNK], not most: no warning


# ---------------------------------------------------------------- empty lists and blank texts

def test_an_empty_list_gives_an_empty_result(fill_mask, classifier, embedder, vocab_file):
    assert minidistil.pipeline("fill-mask", model=fill_mask[0])([]) == []
    assert minidistil.pipeline("text-classification", model=classifier[0])([]) == []
    assert minidistil.pipeline("summarization", model=classifier[0])([]) == []
    ner = pipelines.pipeline("token-classification", transformers_free_ner(), WordPieceTokenizer(vocab_file))
    assert ner([]) == []
    assert embedder([]).shape == (0, 48)


def transformers_free_ner():
    from minidistil.nn.heads import DistilBertForTokenClassification
    torch.manual_seed(0)
    return DistilBertForTokenClassification(DistilBertConfig(dim=8, n_heads=2, hidden_dim=13, n_layers=1,
                                                             num_labels=3))


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_a_blank_text_is_an_empty_text_as_in_hugging_face(blank, classifier, embedder, vocab_file):
    folder, theirs = classifier
    classify = minidistil.pipeline("text-classification", model=folder)
    ours, reference = classify(blank), theirs(blank)[0]
    assert ours["label"] == reference["label"] and ours["score"] == pytest.approx(reference["score"], abs=1e-5)
    assert classify([blank]) == [ours] == [classify("")] == classify(t for t in [blank])  # a generator too
    assert torch.equal(embedder([blank]), embedder([""]))
    ner = pipelines.pipeline("token-classification", transformers_free_ner(), WordPieceTokenizer(vocab_file))
    assert ner(blank) == []
    assert minidistil.pipeline("summarization", model=folder)(blank) == {"summary_text": "", "sentences": []}


# ---------------------------------------------------------------- what is not text is refused

@pytest.mark.parametrize("inputs, message", [
    (None, "must be a string or a list of strings, got NoneType"),
    (5, "must be a string or a list of strings, got int"),
    (2.5, "got float"),
    ({"text": "a film"}, "got dict"),
    (b"a film", "are bytes; decode them to a string first"),
    ([None], "item 0 is NoneType None"),
    (["a film", 3], "item 1 is int 3"),
    (["a film", b"bytes"], "item 1 is bytes"),
])
def test_inputs_that_are_not_text_raise_a_type_error(inputs, message, classifier, embedder):
    classify = minidistil.pipeline("text-classification", model=classifier[0])
    for pipe in (classify, embedder):
        with pytest.raises(TypeError, match=message):
            pipe(inputs)


# ---------------------------------------------------------------- settings out of range

@pytest.mark.parametrize("top_k", [0, -1, 1.5, True, "3"])
def test_top_k_must_be_a_positive_integer(top_k, fill_mask, classifier):
    with pytest.raises(ValueError, match=f"top_k must be a positive integer, got {top_k!r}"):
        minidistil.pipeline("fill-mask", model=fill_mask[0])("a [MASK] film", top_k=top_k)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        minidistil.pipeline("text-classification", model=classifier[0])("a film", top_k=top_k)


def test_top_k_beyond_the_vocabulary_is_an_error_beyond_the_labels_gives_every_label(fill_mask, classifier):
    with pytest.raises(ValueError, match="top_k=30523 is more than the 30522 there are to choose from"):
        minidistil.pipeline("fill-mask", model=fill_mask[0])("a [MASK] film", top_k=30523)
    folder, theirs = classifier
    ours = minidistil.pipeline("text-classification", model=folder)("a film", top_k=10)
    assert [r["label"] for r in ours] == [r["label"] for r in theirs("a film", top_k=10)]  # all 3, as transformers
    assert len(ours) == 3


@pytest.mark.parametrize("num_sentences", [0, -2])
def test_num_sentences_must_be_positive(num_sentences, classifier):
    summarize = minidistil.pipeline("summarization", model=classifier[0])
    with pytest.raises(ValueError, match=f"num_sentences must be a positive integer, got {num_sentences}"):
        summarize("One sentence. Another one.", num_sentences=num_sentences)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0])
def test_batch_size_must_be_positive(batch_size, classifier):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {batch_size}"):
        minidistil.pipeline("text-classification", model=classifier[0], batch_size=batch_size)


@pytest.fixture(scope="module")
def qa(vocab_file):
    model = DistilBertForQuestionAnswering(DistilBertConfig(dim=8, n_heads=2, hidden_dim=13, n_layers=1))
    return pipelines.pipeline("question-answering", model, WordPieceTokenizer(vocab_file))


@pytest.mark.parametrize("question, context, settings, error, message", [
    ([], [], {}, ValueError, "got 0 questions and 0 contexts; pass at least one question and one context"),
    ("Who?", [], {}, ValueError, "got 1 questions and 0 contexts"),
    ([], "The cat sat.", {}, ValueError, "got 0 questions and 1 contexts"),
    ("", "The cat sat.", {}, ValueError, "question 0 is empty; every question needs some text"),
    (["Who?", "  "], ["The cat sat.", "A dog ran."], {}, ValueError, "question 1 is empty"),
    ("Who?", "", {}, ValueError, "context 0 is empty"),
    (["Who?", "Where?"], ["a", "b", "c"], {}, ValueError, "got 2 questions for 3 contexts; pass one question per"),
    ("Who?", "The cat sat.", {"top_k": 0}, ValueError, "top_k must be a positive integer, got 0"),
    ("Who?", "The cat sat.", {"max_answer_len": 0}, ValueError, "max_answer_len must be a positive integer"),
    (None, "The cat sat.", {}, TypeError, "questions must be a string or a list of strings, got NoneType"),
    ("Who?", b"The cat sat.", {}, TypeError, "contexts are bytes"),
])
def test_question_answering_refuses_what_has_no_answer(qa, question, context, settings, error, message):
    with pytest.raises(error, match=message):
        qa(question, context, **settings)


def test_question_answering_still_answers_a_plain_question(qa):
    answer = qa("Who sat?", "The cat sat on the mat.")
    assert set(answer) == {"score", "start", "end", "answer"}
