"""Export any minidistil model to ONNX, for onnxruntime and the runtimes that read ONNX.

    >>> export_onnx(DistilBertForSequenceClassification.from_pretrained("runs/sentiment/best"), "sentiment.onnx")
    >>> session = inference_session("sentiment.onnx", threads=1)
    >>> logits, = session.run(None, {"input_ids": ids, "attention_mask": mask})   # numpy int64 (B, T)

The graph takes `input_ids` and `attention_mask`, int64, (B, T) with both axes dynamic ((B, K, T)
for multiple choice), and returns the head's outputs under Hugging Face's names (`outputs_by_class()`).
config.json's architecture and label names travel in the file's metadata.

How: torch.onnx's TorchScript exporter (`dynamo=False`) traces the "math" implementation. The fast
path removes padding with a data-dependent gather and takes LayerNorm's shape from its input, which
a trace cannot keep dynamic; the math path computes every position with fixed-shape ops, and
onnxruntime fuses the matmuls and the softmax itself. The trace runs on a padded batch, so the
masking ops are in the graph (a batch with no padding would take the branch that skips them).

onnx and onnxruntime are an optional extra, imported only here: pip install 'minidistil[onnx]'.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn

from minidistil.data import kinds
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.nn.model import DistilBertModel

# What each class returns, by Hugging Face's output names, and their dynamic axes: the two models
# without a task head here, each task kind's head from its record (`minidistil.data.kinds`).
BASE_OUTPUTS = {DistilBertModel: {"last_hidden_state": ("batch", "sequence")},
                DistilBertForMaskedLM: {"logits": ("batch", "sequence")}}


def outputs_by_class() -> dict[type, dict]:
    """Every exportable class and its ONNX outputs, read from the live registry."""
    return {**BASE_OUTPUTS, **{k.head: k.onnx for k in kinds.KINDS.values() if k.onnx is not None}}


def outputs_of(cls: type) -> dict | None:
    """The ONNX outputs of `cls`, kinds registered after this import included."""
    kind = kinds.for_head(cls)
    return kind.onnx if kind else BASE_OUTPUTS.get(cls)


def input_axes(cls: type) -> tuple[str, ...]:
    kind = kinds.for_head(cls)
    return kind.input_axes if kind else ("batch", "sequence")
INSTALL = "pip install 'minidistil[onnx]'"


def require(module: str):
    """Import onnx or onnxruntime, or say how to install them."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"ONNX export and inference need {module}, an optional extra: {INSTALL}") from None


class Exportable(nn.Module):
    """The model with a plain (input_ids, attention_mask) -> tensors forward, which tracing needs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.names = tuple(outputs_of(type(model)))

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids, attention_mask)
        return tuple(getattr(out, name) for name in self.names)


def math_copy(model: nn.Module) -> nn.Module:
    """The same weights in a model built with impl="math" (see the module doc for why)."""
    copy = type(model)(replace(model.config, impl="math"))
    copy.load_state_dict(model.state_dict())
    if hasattr(copy, "tie_weights"):
        copy.tie_weights()
    return copy.eval()


def example_inputs(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A small batch with one padded row, so that the trace keeps the masking ops."""
    B, T = 2, min(8, model.config.max_position_embeddings)
    ids = torch.full((B, T), min(101, model.config.vocab_size - 1))
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, T // 2:] = 0
    if len(input_axes(type(model))) == 3:  # a choice model: (B, K, T), K = 2
        return ids.expand(2, B, T).contiguous(), mask.expand(2, B, T).contiguous()
    return ids, mask


MIN_OPSET, MAX_OPSET = 7, 20  # what torch's TorchScript exporter writes


def export_onnx(model: nn.Module, path: str | Path, opset: int = 17) -> Path:
    """Write `model` (DistilBertModel or any head) to an ONNX file with dynamic batch and sequence axes."""
    onnx = require("onnx")
    if outputs_of(type(model)) is None:
        kind = kinds.for_head(type(model))
        if kind is not None:
            raise TypeError(f"a {type(model).__name__} ({kind.name!r} kind) has no ONNX export here; "
                            f"export one of {', '.join(c.__name__ for c in outputs_by_class())}")
        known = outputs_by_class()
        raise TypeError(f"export_onnx takes a minidistil model ({', '.join(c.__name__ for c in known)}), "
                        f"got {type(model).__name__}")
    if hasattr(model, "quantization"):
        raise ValueError("this model is int8 (minidistil.apps.quantize), which ONNX export does not support; export "
                         "the float model, and quantize the ONNX file with onnxruntime.quantization if needed")
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be a whole number from {MIN_OPSET} to {MAX_OPSET} (the exporter's range), "
                         f"got {opset!r}; 17, the default, is the one tested")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = Exportable(math_copy(model))
    axes = {name: dict(enumerate(input_axes(type(model)))) for name in ("input_ids", "attention_mask")}
    axes.update({name: dict(enumerate(names)) for name, names in outputs_of(type(model)).items()})
    with warnings.catch_warnings(), torch.no_grad():
        # The trace warns where Python reads a tensor (the padding check, a size); the graph is
        # checked against PyTorch on other shapes in tests/test_onnx_export.py.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        try:
            torch.onnx.export(wrapper, example_inputs(model), str(path), dynamo=False, opset_version=opset,
                              input_names=["input_ids", "attention_mask"], output_names=list(wrapper.names),
                              dynamic_axes=axes)
        except RuntimeError as e:  # an operator this opset lacks: torch's message carries the whole graph
            path.unlink(missing_ok=True)
            raise ValueError(f"the export with opset {opset} failed ({str(e).splitlines()[0][:200]}); "
                             f"use opset 17, the default") from None
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    labels = {str(k): v for k, v in model.config.id2label.items()}
    for key, value in (("architecture", type(model).__name__), ("id2label", json.dumps(labels))):
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


def export_folder(model_dir: str | Path, out_file: str | Path, opset: int = 17) -> Path:
    """Export the model in a folder (its class from config.json's architectures) to one ONNX file."""
    from minidistil.apps.convert import model_class
    from minidistil.apps.quantize import quantization_entry
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a model folder (no config.json); pass a folder written "
                                f"by save_pretrained")
    if quantization_entry(model_dir) is not None:
        raise ValueError(f"{model_dir} holds an int8 model, which ONNX export does not support; export the "
                         f"float model it came from")
    cls, _ = model_class(model_dir)
    return export_onnx(cls.from_pretrained(model_dir), out_file, opset)


def inference_session(path: str | Path, threads: int = 1):
    """An onnxruntime CPU session with every graph optimization and `threads` threads per operator."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
