"""Pipelines: the same answers as Hugging Face's on the same weights, input order kept whatever the
batching, long inputs windowed or truncated with a warning, bad inputs refused with a sentence."""
import shutil
from typing import NamedTuple

import pytest
import torch
import transformers
from transformers import DistilBertTokenizerFast

import minidistil
from minidistil.apps import pipelines
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.model import DistilBertModel
from minidistil.tokenizer import WordPieceTokenizer

SENTENCES = [
    "Hugging Face Inc. is a company based in New York City.",
    "Its headquarters are in DUMBO, therefore very close to the Manhattan Bridge.",
    "Ok.",
    "The BBC reported that Tesco's profits rose 11% to £1.1bn in the year to February.",
    "Unbelievably, the tokenizer splits unaffordable into several pieces.",
]
ENTITIES = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-ORG", 4: "I-ORG", 5: "B-LOC", 6: "I-LOC"}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)


def hf_folder(tmp_path_factory, vocab_file, cls_name, **config):
    """A small random transformers DistilBERT, re-initialised with a large std so that its
    predictions differ from token to token, saved with the real vocabulary."""
    torch.manual_seed(0)
    hf_config = transformers.DistilBertConfig(vocab_size=30522, dim=48, n_layers=2, n_heads=4, hidden_dim=37,
                                              max_position_embeddings=128, **config)
    model = getattr(transformers, cls_name)(hf_config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                p.normal_(0, 0.3)
    folder = tmp_path_factory.mktemp(cls_name)
    model.save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return folder, model


@pytest.fixture(scope="module")
def ner_folder(tmp_path_factory, vocab_file):
    return hf_folder(tmp_path_factory, vocab_file, "DistilBertForTokenClassification", id2label=ENTITIES,
                     label2id={v: k for k, v in ENTITIES.items()})


@pytest.fixture(scope="module")
def classifier_folder(tmp_path_factory, vocab_file):
    labels = {0: "business", 1: "sport", 2: "tech"}
    return hf_folder(tmp_path_factory, vocab_file, "DistilBertForSequenceClassification", id2label=labels,
                     label2id={v: k for k, v in labels.items()})


def hf_pipeline(task, folder, model, vocab_file):
    return transformers.pipeline(task, model=model, tokenizer=DistilBertTokenizerFast(str(vocab_file)),
                                 device="cpu")


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_aggregation_matches_hugging_face(strategy, ner_folder, vocab_file):
    folder, hf_model = ner_folder
    ours = minidistil.pipeline("token-classification", model=folder)(SENTENCES, aggregation_strategy=strategy)
    theirs = hf_pipeline("token-classification", folder, hf_model, vocab_file)(SENTENCES, aggregation_strategy=strategy)
    assert sum(map(len, theirs)) > 5  # the random model does find entities to compare
    for mine, ref in zip(ours, theirs):
        assert len(mine) == len(ref)
        for a, b in zip(mine, ref):
            key = "entity" if strategy == "none" else "entity_group"
            assert (a[key], a["word"], a["start"], a["end"]) == (b[key], b["word"], b["start"], b["end"])
            assert a["score"] == pytest.approx(float(b["score"]), abs=1e-4)
            if strategy == "none":
                assert a["index"] == b["index"]


def test_text_classification_matches_hugging_face(classifier_folder, vocab_file):
    folder, hf_model = classifier_folder
    ours = minidistil.pipeline("text-classification", model=folder)(SENTENCES, top_k=None)
    theirs = hf_pipeline("text-classification", folder, hf_model, vocab_file)(SENTENCES, top_k=None)
    for mine, ref in zip(ours, theirs):
        assert [r["label"] for r in mine] == [r["label"] for r in ref]
        assert [r["score"] for r in mine] == pytest.approx([r["score"] for r in ref], abs=1e-5)


def test_fill_mask_matches_hugging_face(tmp_path_factory, vocab_file):
    folder, hf_model = hf_folder(tmp_path_factory, vocab_file, "DistilBertForMaskedLM")
    texts = ["The capital of France is [MASK].", "I [MASK] this film."]
    ours = minidistil.pipeline("fill-mask", model=folder)(texts, top_k=4)
    theirs = hf_pipeline("fill-mask", folder, hf_model, vocab_file)(texts, top_k=4)
    for mine, ref in zip(ours, theirs):
        assert [m["token"] for m in mine] == [r["token"] for r in ref]
        assert [m["token_str"] for m in mine] == [r["token_str"] for r in ref]
        assert [m["score"] for m in mine] == pytest.approx([r["score"] for r in ref], abs=1e-5)
        assert [m["sequence"] for m in mine] == [r["sequence"] for r in ref]


def test_fill_mask_targets_match_hugging_face(tmp_path_factory, vocab_file):
    folder, hf_model = hf_folder(tmp_path_factory, vocab_file, "DistilBertForMaskedLM")
    texts = ["The capital of France is [MASK].", "I [MASK] this film."]
    targets = ["paris", "london", "love", "hate", "film", "the"]
    ours = minidistil.pipeline("fill-mask", model=folder)(texts, top_k=4, targets=targets)
    theirs = hf_pipeline("fill-mask", folder, hf_model, vocab_file)(texts, top_k=4, targets=targets)
    for mine, ref in zip(ours, theirs):
        assert {m["token_str"] for m in mine} <= set(targets)
        assert [m["token"] for m in mine] == [r["token"] for r in ref]
        assert [m["score"] for m in mine] == pytest.approx([r["score"] for r in ref], abs=1e-5)
        assert [m["sequence"] for m in mine] == [r["sequence"] for r in ref]
    # top_k above the number of targets is capped, as in transformers
    assert len(minidistil.pipeline("fill-mask", model=folder)(texts[0], top_k=10, targets=["paris", "love"])) == 2


def test_embedding_is_sentence_transformers_recipe_on_all_minilm(teacher_dir):
    from transformers import BertModel, BertTokenizerFast
    ours = minidistil.pipeline("embedding", model=teacher_dir, batch_size=2)(SENTENCES)
    tok = BertTokenizerFast.from_pretrained(teacher_dir)
    bert = BertModel.from_pretrained(teacher_dir).eval()
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = bert(**enc).last_hidden_state
    keep = enc["attention_mask"].unsqueeze(-1).float()
    reference = torch.nn.functional.normalize((hidden * keep).sum(1) / keep.sum(1), dim=-1)
    assert ours.shape == (len(SENTENCES), 384)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(ours.norm(dim=-1), torch.ones(len(SENTENCES)))


@pytest.mark.parametrize("batch_size", [1, 2, 3, 16])
def test_results_come_back_in_input_order_whatever_the_batching(batch_size, classifier_folder):
    folder, _ = classifier_folder
    texts = SENTENCES + [s.upper() for s in SENTENCES] + ["short", "a rather longer sentence " * 5]
    one_by_one = [minidistil.pipeline("text-classification", model=folder)(t, top_k=None) for t in texts]
    batched = minidistil.pipeline("text-classification", model=folder, batch_size=batch_size)(texts, top_k=None)
    for a, b in zip(one_by_one, batched):
        assert [r["label"] for r in a] == [r["label"] for r in b]
        assert [r["score"] for r in a] == pytest.approx([r["score"] for r in b], abs=1e-5)
    embed = minidistil.pipeline("embedding", model=folder, batch_size=batch_size)
    singles = torch.cat([embed([t]) for t in texts])
    assert torch.allclose(embed(texts), singles, atol=1e-5)


class QAOutput(NamedTuple):
    start_logits: torch.Tensor
    end_logits: torch.Tensor


class SpotTheWord(torch.nn.Module):
    """A stand-in QA model: start and end logits are high (8) on one chosen token id, lower (4) on
    [CLS] ("no answer"), 0 elsewhere. The right answer is known, so any miss is the pipeline's
    windowing or span selection at fault."""

    def __init__(self, token_id):
        super().__init__()
        self.token_id = token_id
        self.config = DistilBertConfig(max_position_embeddings=512)

    def forward(self, input_ids, attention_mask=None):
        hit = (input_ids == self.token_id).float() * 8.0
        hit[:, 0] = 4.0
        return QAOutput(hit, hit)


def test_windowed_qa_finds_an_answer_beyond_the_first_window(vocab_file):
    tok = WordPieceTokenizer(vocab_file)
    zebra = tok.convert_tokens_to_ids("zebra")
    filler = "The committee met on Tuesday to discuss the budget for the coming year. " * 12
    context = filler + "Only one animal escaped: the zebra ran away. " + filler
    qa = pipelines.pipeline("question-answering", SpotTheWord(zebra), tok, batch_size=2)
    with pytest.warns(UserWarning, match="windows that overlap by 32 tokens"):
        answer = qa("Which animal escaped?", context, max_seq_len=64, doc_stride=32)
    assert len(tok(context)["input_ids"]) > 5 * 64  # the answer is several windows in
    assert answer["answer"] == "zebra"
    assert context[answer["start"]:answer["end"]] == "zebra"
    # No window holds the word: with handle_impossible_answer the pipeline says "no answer".
    with pytest.warns(UserWarning, match="windows"):
        empty = qa("Which animal escaped?", filler, max_seq_len=64, doc_stride=32, handle_impossible_answer=True)
    assert empty["answer"] == ""


def test_qa_respects_max_answer_length(vocab_file):
    tok = WordPieceTokenizer(vocab_file)

    class StartHereEndThere(SpotTheWord):
        def forward(self, input_ids, attention_mask=None):
            start = (input_ids == tok.convert_tokens_to_ids("alpha")).float() * 8.0
            end = (input_ids == tok.convert_tokens_to_ids("omega")).float() * 8.0
            return QAOutput(start, end)

    qa = pipelines.pipeline("question-answering", StartHereEndThere(0), tok)
    context = "from alpha to the very last letter omega"
    assert qa("span?", context, max_answer_len=15)["answer"] == "alpha to the very last letter omega"
    assert qa("span?", context, max_answer_len=3)["answer"] != "alpha to the very last letter omega"


def test_long_inputs_are_windowed_or_truncated_with_a_warning(classifier_folder, ner_folder):
    folder, _ = classifier_folder
    long_text = "The match ended in a draw after extra time. " * 80  # ~800 tokens, the table holds 128
    with pytest.warns(UserWarning, match="overlapping windows"):
        result = minidistil.pipeline("text-classification", model=folder)([long_text, "short"])
    assert len(result) == 2 and result[0]["label"] in ("business", "sport", "tech")
    for task, model in (("token-classification", ner_folder[0]), ("embedding", folder)):
        with pytest.warns(UserWarning, match="truncated"):
            minidistil.pipeline(task, model=model)([long_text])


def test_summarization_keeps_the_central_sentences_in_document_order(teacher_dir):
    text = ("Tesco reported record profits on Tuesday. Sales rose in every region of the country. "
            "My cat likes to sleep in the sun. Profits at the supermarket grew by a tenth. "
            "Analysts expect Tesco's sales to keep growing next year.")
    summary = minidistil.pipeline("summarization", model=teacher_dir)(text, num_sentences=2)
    assert summary["sentences"] == sorted(summary["sentences"]) and len(summary["sentences"]) == 2
    assert 2 not in summary["sentences"]  # the sentence about the cat is the odd one out
    assert summary["summary_text"].startswith(("Tesco", "Sales", "Profits", "Analysts"))


def test_bad_inputs_are_refused_with_a_sentence(classifier_folder, ner_folder, vocab_file):
    folder, _ = classifier_folder
    with pytest.raises(ValueError, match="unknown task"):
        minidistil.pipeline("translation", model=folder)
    with pytest.raises(ValueError, match=r"no \[MASK\] token"):
        pipelines.pipeline("fill-mask", DistilBertModel(DistilBertConfig(dim=8, n_heads=2, hidden_dim=8, n_layers=1)),
                           WordPieceTokenizer(vocab_file))(["no mask here"])
    with pytest.raises(ValueError, match="aggregation_strategy"):
        minidistil.pipeline("token-classification", model=ner_folder[0])("text", aggregation_strategy="mean")


def test_qa_tokenizes_each_pair_once_and_says_when_the_stride_leaves_no_room(vocab_file):
    class CountingTokenizer(WordPieceTokenizer):
        calls = 0

        def __call__(self, *args, **kwargs):
            CountingTokenizer.calls += 1
            return super().__call__(*args, **kwargs)

    tok = CountingTokenizer(vocab_file)
    qa = pipelines.pipeline("question-answering", SpotTheWord(tok.convert_tokens_to_ids("zebra")), tok)
    assert qa(["Which animal?", "Which animal escaped?"], ["the zebra ran.", "a zebra"])[1]["answer"] == "zebra"
    assert CountingTokenizer.calls == 1  # the questions are not tokenized apart from their contexts
    long_context = "The committee met on Tuesday to discuss the budget. " * 20
    # [CLS] which animal escaped ? [SEP] ... [SEP]: 64 - 3 - 4 = 57 tokens of room, with or without windows
    for context in ("a short context", long_context):
        with pytest.raises(ValueError, match=r"doc_stride \(57\) must be smaller than the 57 tokens"):
            qa("Which animal escaped?", context, max_seq_len=64, doc_stride=57)
