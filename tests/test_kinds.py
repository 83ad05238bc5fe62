"""One record per task kind: a new kind is one module and one `kinds.register`, nothing else edited."""
import shutil

import numpy as np
import pytest
import torch

from minidistil import DistilBertConfig, DistilBertModel
from minidistil.data import kinds, tasks
from minidistil.training import finetune as ft
from minidistil.nn.heads import DistilBertForSequenceClassification
from minidistil.tokenizer import WordPieceTokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


# ---- the whole new kind, as its own module would hold it: does this pair of texts say the same thing?

class DistilBertForPairClassification(DistilBertForSequenceClassification):
    """The sequence head read over "[CLS] a [SEP] b [SEP]"; its own class, so folders name it."""


def check_pair(example, labels, where):
    kinds.need(example, "text", str, "pair", where)
    kinds.need(example, "text_pair", str, "pair", where)


def encode_pair(task, examples, tokenizer, cfg, training):
    enc = tokenizer([e["text"] for e in examples], [e["text_pair"] for e in examples], truncation=True,
                    max_length=cfg.max_length)
    return [{"input_ids": np.asarray(ids), "labels": np.int64(task.label2id()[e["label"]])}
            for ids, e in zip(enc["input_ids"], examples)]


def decode_pair(task, outputs, found, examples, cfg):
    return [task.labels[i] for i in outputs["logits"].argmax(1).tolist()]


def score_pair(task, predictions, examples):
    return {"accuracy": float(np.mean([p == e["label"] for p, e in zip(predictions, examples)]))}


PAIR = kinds.Kind("pair", DistilBertForPairClassification, check_pair, encode_pair, decode_pair, score_pair,
                  labels_of=lambda examples: [e["label"] for e in examples], pipeline="text-classification")


# ---- the test

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, vocab_file):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny")
    DistilBertModel(DistilBertConfig(dim=36, n_heads=4, hidden_dim=37, n_layers=2,
                                     max_position_embeddings=64)).save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return folder


def test_an_unregistered_kind_is_refused_with_the_registered_ones_named():
    with pytest.raises(ValueError, match=r"task kind must be one of \('sequence', 'token', 'choice', 'qa'"):
        tasks.Task("x", "no-such-kind", [], [], [], [])


def test_a_new_kind_is_one_registration(tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(kinds.KINDS, "pair", PAIR)  # what `kinds.register(PAIR)` in its module does
    examples = [{"text": f"the film {w}", "text_pair": f"a movie {w}", "label": "same"} for w in ("was good", "ran long")]
    examples += [{"text": f"the film {w}", "text_pair": "the bread is stale", "label": "other"} for w in ("won", "lost")]
    task = tasks.Task("paraphrase", "pair", ["other", "same"], examples, examples, examples)
    with pytest.raises(ValueError, match="has no 'text_pair' field; a pair example needs it"):
        tasks.Task("bad", "pair", ["same"], [{"text": "a", "label": "same"}], [], [])

    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), lr=3e-3, epochs=30, batch_size=4, max_length=32,
                            progress=False, patience=100)
    result = ft.finetune(task, tiny_dir, cfg)
    assert result["test"]["accuracy"] == 1.0  # it learned: four examples, overfit
    model = ft.load_model(task, tmp_path / "model")
    assert type(model) is DistilBertForPairClassification and model.config.id2label == {0: "other", 1: "same"}
    tokenizer = WordPieceTokenizer.from_pretrained(tmp_path / "model")
    assert ft.predict(model, tokenizer, task, examples[:1], cfg) == ["same"]

    from minidistil.apps.convert import model_class
    from minidistil.apps.onnx_export import outputs_of
    assert model_class(tmp_path / "model")[0] is DistilBertForPairClassification
    assert outputs_of(DistilBertForPairClassification) == {"logits": ("batch",)}
    assert kinds.for_head(DistilBertForPairClassification) is PAIR


def test_no_module_dispatches_on_task_kind_by_name():
    from pathlib import Path
    import re
    import minidistil
    package = Path(minidistil.__file__).parent
    for path in package.rglob("*.py"):
        found = re.findall(r"task\.kind (?:==|!=|in|not in) \(?\"", path.read_text())
        assert not found, f"{path}: {found}"


def test_a_kind_registered_at_run_time_reaches_the_pipeline_the_cli_and_export(tmp_path, vocab_file, monkeypatch):
    from minidistil.apps import convert, onnx_export, pipelines
    from minidistil.cli import parse_args
    pair = kinds.Kind("pair", DistilBertForPairClassification, check_pair, encode_pair, decode_pair, score_pair,
                      labels_of=PAIR.labels_of, pipeline="text-pair-classification")
    with pytest.raises(SystemExit):  # not registered yet: the CLI refuses it
        parse_args(["finetune", "--model", "m", "--task", "x.csv", "--kind", "pair"])
    monkeypatch.setitem(kinds.KINDS, "pair", pair)
    monkeypatch.setitem(pipelines.PIPELINES, "text-pair-classification",
                        (DistilBertForPairClassification, pipelines.TextClassification))

    assert parse_args(["finetune", "--model", "m", "--task", "x.csv", "--kind", "pair"]).kind == "pair"
    assert onnx_export.outputs_of(DistilBertForPairClassification) == pair.onnx
    assert convert.classes()["DistilBertForPairClassification"] is DistilBertForPairClassification

    torch.manual_seed(0)
    config = DistilBertConfig(dim=36, n_heads=4, hidden_dim=37, n_layers=2, max_position_embeddings=128,
                              id2label={0: "other", 1: "same"}, label2id={"other": 0, "same": 1})
    DistilBertForPairClassification(config).save_pretrained(tmp_path)
    shutil.copy(vocab_file, tmp_path / "vocab.txt")
    classify = pipelines.pipeline(pair.pipeline, model=tmp_path)
    assert type(classify.model) is DistilBertForPairClassification
    assert classify(["the film was good"])[0]["label"] in ("other", "same")


def test_every_kind_names_a_registered_pipeline_and_translation_is_one_of_them():
    from minidistil.apps import pipelines
    from minidistil.cli import parse_args
    named = {k.name: k.pipeline for k in kinds.KINDS.values() if k.pipeline}
    assert set(named.values()) <= set(pipelines.PIPELINES)
    assert named["translation"] == "translation_zh_to_en"
    assert pipelines.PIPELINES["translation_zh_to_en"][0] is kinds.get("translation").head
    with pytest.raises(ValueError, match="train-translator"):
        tasks.Task("x", "translation", [], [], [], [])
    with pytest.raises(SystemExit):  # finetune does not train a translator
        parse_args(["finetune", "--model", "m", "--task", "x.csv", "--kind", "translation"])
