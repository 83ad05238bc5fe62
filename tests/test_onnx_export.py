"""ONNX: every head exports with dynamic batch and sequence axes, and onnxruntime's outputs equal
PyTorch's within 1e-4 on padded batches of shapes the trace never saw; bad inputs are refused."""
import json
import sys

import numpy as np
import onnx
import pytest
import torch

from minidistil.data import sources
from minidistil.nn.config import DistilBertConfig
from minidistil.nn.heads import (DistilBertForMaskedLM, DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                              DistilBertForSequenceClassification, DistilBertForTokenClassification)
from minidistil.nn.model import DistilBertModel
from minidistil.apps.onnx_export import outputs_by_class, export_folder, export_onnx, inference_session, math_copy
from minidistil.apps.quantize import quantize

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: small models run fastest on one thread

LABELS = {0: "rotten", 1: "fresh", 2: "neutral"}
# Shapes unlike the traced (2, 8): longer, shorter, one row; the first row is padded in each, and
# the last case has no padding at all.
SHAPES = [(3, 13, True), (1, 5, True), (4, 2, True), (2, 7, False)]


def tiny(cls):
    """Odd sizes, weights re-initialised with std 0.5 so that outputs differ token by token."""
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=99, dim=36, n_heads=3, hidden_dim=37, n_layers=2,
                              **({} if cls is DistilBertForQuestionAnswering else {"id2label": LABELS}))
    model = cls(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.5)
    return model


def padded(cls, B, T, pad):
    ids = torch.randint(1, 99, (B, T))
    mask = torch.ones(B, T, dtype=torch.long)
    if pad:
        mask[0, max(1, T // 2):] = 0
    if cls is DistilBertForMultipleChoice:  # (B, K, T) with K = 2
        return torch.stack([ids, ids.flip(1)], 1), torch.stack([mask, mask], 1)
    return ids, mask


def run(session, ids, mask):
    return session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    return {cls: (model, inference_session(export_onnx(model, folder / f"{cls.__name__}.onnx")))
            for cls, model in ((cls, tiny(cls)) for cls in outputs_by_class())}


@pytest.mark.parametrize("B, T, pad", SHAPES)
@pytest.mark.parametrize("cls", list(outputs_by_class()), ids=lambda c: c.__name__)
def test_onnxruntime_matches_pytorch_on_padded_batches(cls, B, T, pad, exported):
    # The graph is the math path: it equals the PyTorch math path at every position, and the fast
    # path at real positions (the fast path leaves padded positions at zero, see model.py).
    model, session = exported[cls]
    ids, mask = padded(cls, B, T, pad)
    keep = mask.bool().numpy()
    with torch.no_grad():
        fast, math = model(ids, mask), math_copy(model)(ids, mask)
    for name, got in zip(outputs_by_class()[cls], run(session, ids, mask)):
        np.testing.assert_allclose(got, getattr(math, name).numpy(), atol=1e-4, rtol=0)
        want = getattr(fast, name).numpy()
        if want.shape[:keep.ndim] == keep.shape:  # one output per token: compare real tokens
            got, want = got[keep], want[keep]
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_real_minilm_matches_within_1e_4_on_real_padded_text(teacher_dir, ours, tmp_path):
    model = DistilBertModel.from_pretrained(teacher_dir)
    session = inference_session(export_onnx(model, tmp_path / "minilm.onnx"))
    texts, _ = sources.rotten_tomatoes()
    enc = ours(texts[:6], truncation=True, max_length=40)
    T = max(len(ids) for ids in enc["input_ids"])
    ids, mask = torch.zeros(6, T, dtype=torch.long), torch.zeros(6, T, dtype=torch.long)
    for row, tokens in enumerate(enc["input_ids"]):
        ids[row, :len(tokens)], mask[row, :len(tokens)] = torch.tensor(tokens), 1
    assert not mask.all()
    (got,) = run(session, ids, mask)
    with torch.no_grad():
        want = model(ids, mask).last_hidden_state
    keep = mask.bool().numpy()
    np.testing.assert_allclose(got[keep], want.numpy()[keep], atol=1e-4, rtol=0)


def test_export_folder_keeps_architecture_and_labels_and_dynamic_axes(tmp_path):
    tiny(DistilBertForSequenceClassification).save_pretrained(tmp_path / "model")
    path = export_folder(tmp_path / "model", tmp_path / "out" / "model.onnx")
    graph = onnx.load(str(path))
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["architecture"] == "DistilBertForSequenceClassification"
    assert json.loads(meta["id2label"]) == {str(k): v for k, v in LABELS.items()}
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input]
    assert dims == [["batch", "sequence"], ["batch", "sequence"]]


def test_bad_inputs_are_refused_with_a_sentence(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        export_folder(tmp_path, tmp_path / "x.onnx")
    small = quantize(tiny(DistilBertForSequenceClassification))
    with pytest.raises(ValueError, match="int8"):
        export_onnx(small, tmp_path / "x.onnx")
    small.save_pretrained(tmp_path / "int8")
    with pytest.raises(ValueError, match="int8"):
        export_folder(tmp_path / "int8", tmp_path / "x.onnx")
    with pytest.raises(TypeError, match="minidistil model"):
        export_onnx(torch.nn.Linear(3, 4), tmp_path / "x.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the optional extra were not installed
    with pytest.raises(ImportError, match=r"pip install 'minidistil\[onnx\]'"):
        export_onnx(tiny(DistilBertModel), tmp_path / "x.onnx")


def test_export_onnx_command_writes_a_file_and_refuses_bad_input(tmp_path, capsys):
    from minidistil.cli import main
    tiny(DistilBertForTokenClassification).save_pretrained(tmp_path / "model")
    assert main(["export-onnx", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "model.onnx")]) == 0
    assert "model.onnx" in capsys.readouterr().out
    assert inference_session(tmp_path / "model.onnx").get_outputs()[0].name == "logits"
    assert main(["export-onnx", "--model", str(tmp_path), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "not a model folder" in capsys.readouterr().err
