"""One record per task kind: everything a kind of labelled task needs, in one place.

A *kind* is what a task asks of the model: one label per text (`sequence`), one tag per word
(`token`), one of several answers (`choice`), a span of a context (`qa`). Its record says

    head       the head class (heads.py) that fine-tuning builds; its state_dict keys are the
               checkpoint's, so loading, saving, conversion and ONNX export need nothing else
    check      the fields an example must have (ValueError with a sentence naming the example)
    encode     examples -> model inputs (`minidistil.data.features`): windows, label alignment, spans
    outputs    the model outputs that `predict` reads, by Hugging Face's names
    decode     those outputs -> one prediction per example (a label, word tags, an index, an answer)
    score      predictions -> the metrics (`minidistil.utils.metrics`); `TaskData.metric` picks one of them
    labels_of  examples -> the labels they use, for kinds whose label set is the head's
               (id2label / label2id in config.json); None for the others
    pipeline   the `minidistil.pipeline` name that serves a model of this kind, and (`show`) how
               `python -m minidistil predict` prints one of its results
    onnx       the ONNX outputs and their dynamic axes, and the input's axes (`minidistil.apps.onnx_export`)
    distils    whether task-time distillation of its class probabilities applies, and
               (`plain_text`) whether unlabelled plain text can serve as its transfer set

Adding a kind (a Chinese sentiment task, a translation task) is one new module that builds a
`Kind` and calls `register` once; `tasks.TaskData`, `finetune`, `predict`, `evaluate`, the CLI's
`--kind`, `predict` and `export-onnx` find it here. Import that module before the task is built
(a task loader in `tasks.REGISTRY` imports it). Nothing else is edited: no if/elif on `task.kind`
exists anywhere else. The four built-in kinds are at the bottom of this file, as examples.

    >>> kinds.get("sequence").head.__name__
    'DistilBertForSequenceClassification'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from minidistil.data import features as feats
from minidistil.utils import metrics
from minidistil.nn.seq2seq import DistilBertEncoderDecoder
from minidistil.nn.heads import (DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)


@dataclass(frozen=True)
class Kind:
    """Everything about one kind of task (see the module docstring)."""
    name: str
    head: type                      # the model class with this kind's head
    check: Callable | None = None   # check(example, labels, where) -> None, or ValueError
    encode: Callable | None = None  # encode(task, examples, tokenizer, cfg, training) -> list of feature dicts
    decode: Callable | None = None  # decode(task, outputs, features, examples, cfg) -> predictions
    score: Callable | None = None   # score(task, predictions, examples) -> dict of metrics
    outputs: tuple[str, ...] = ("logits",)  # the model outputs decode reads
    labels_of: Callable | None = None  # examples -> their labels, when the task's labels are the head's id2label
    pipeline: str | None = None     # the minidistil.pipeline task name for a model of this kind
    onnx: dict = field(default_factory=lambda: {"logits": ("batch",)})  # ONNX output -> dynamic axes
    input_axes: tuple[str, ...] = ("batch", "sequence")  # the axes of input_ids (a choice adds "choices")
    predict_call: dict = field(default_factory=dict)  # keywords of the pipeline call of `predict`
    show: Callable | None = None    # show(text, result) -> the lines `python -m minidistil predict` prints
    distils: bool = False           # task-time distillation of class probabilities applies
    plain_text: bool = False        # an example can be {"text": ...} alone (a transfer set of unlabelled text)
    trained_by: str | None = None   # the command that trains this kind's model when `finetune` does not


    @property
    def labelled(self) -> bool:
        return self.labels_of is not None


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Add `kind` to the registry (once per name; registering the same record again is harmless)."""
    if kind.name in KINDS and KINDS[kind.name] != kind:
        raise ValueError(f"a task kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"task kind must be one of {tuple(KINDS)}, got {name!r}")
    return KINDS[name]


def finetuned(name: str) -> Kind:
    """The kind `name`, which `finetune` trains on labelled examples (it has check/encode/decode/score)."""
    kind = get(name)
    if kind.encode is None:
        raise ValueError(f"the {name!r} kind is not trained by finetune on labelled examples; "
                         f"its model is trained by `{kind.trained_by}`")
    return kind


class Names:
    """The registered kinds' names, read at each use, not copied: argparse's `choices=kinds.Names()`
    accepts a kind registered after the parser was built. `finetuned=True`: only the kinds `finetune` trains."""

    def __init__(self, finetuned: bool = False):
        self.finetuned = finetuned

    def _names(self) -> list[str]:
        return [k.name for k in KINDS.values() if not self.finetuned or k.encode is not None]

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def heads() -> dict[str, type]:
    """Each kind's model class, by kind name (live: kinds registered later included)."""
    return {name: kind.head for name, kind in KINDS.items()}


def for_head(cls: type) -> Kind | None:
    """The kind whose head is `cls` (None for the bare encoder and the MLM model)."""
    return next((k for k in KINDS.values() if k.head is cls), None)


def need(example: dict, key: str, types, kind: str, where: str) -> None:
    """A field check shared by the kinds' `check` functions."""
    if key not in example:
        raise ValueError(f"{where} has no {key!r} field; a {kind} example needs it")
    if not isinstance(example[key], types):
        raise ValueError(f"{where}: {key!r} should be {types}, got {type(example[key]).__name__}")


# ---------------------------------------------------------------- sequence: one label per text

def _check_sequence(example, labels, where):
    need(example, "text", str, "sequence", where)
    if not example["text"].strip():
        raise ValueError(f"{where} has an empty text; remove it or give it some words")
    if labels and "label" in example and example["label"] not in labels:
        raise ValueError(f"{where} has label {example['label']!r}, which is not in the label "
                         f"set {labels}; fix the label or add it to the label set")


def _encode_sequence(task, examples, tokenizer, cfg, training):
    windows = (cfg.max_windows if training else None) if task.long_documents else 1
    return feats.encode_sequence(tokenizer, examples, task.label2id(), cfg.max_length,
                                 cfg.stride if task.long_documents else 0, windows)


def _decode_sequence(task, outputs, found, examples, cfg):
    probs = feats.decode_sequence(outputs["logits"], found, len(examples))
    return [task.labels[i] for i in probs.argmax(1)]


def _score_sequence(task, predictions, examples):
    return metrics.classification_report(predictions, [e["label"] for e in examples], task.labels)


SEQUENCE = register(Kind("sequence", DistilBertForSequenceClassification, _check_sequence, _encode_sequence,
                         _decode_sequence, _score_sequence, labels_of=lambda examples: [e["label"] for e in examples],
                         pipeline="text-classification", distils=True, plain_text=True,
                         show=lambda text, r: f"{r['label']}\t{r['score']:.3f}\t{text}"))


# ---------------------------------------------------------------- token: one tag per word

def _check_token(example, labels, where):
    need(example, "words", list, "token", where)
    need(example, "tags", list, "token", where)
    if not example["words"] or len(example["words"]) != len(example["tags"]):
        raise ValueError(f"{where} needs one tag per word and at least one word, got "
                         f"{len(example['words'])} words and {len(example['tags'])} tags")
    unknown = set(example["tags"]) - set(labels) if labels else set()
    if unknown:
        raise ValueError(f"{where} has tags {sorted(unknown)} not in the label set {labels}")


def _encode_token(task, examples, tokenizer, cfg, training):
    return feats.encode_token(tokenizer, examples, task.label2id(), cfg.max_length, cfg.stride)


def _decode_token(task, outputs, found, examples, cfg):
    return feats.decode_token(outputs["logits"], found, examples, dict(enumerate(task.labels)))


def _score_token(task, predictions, examples):
    golds = [e["tags"] for e in examples]
    report = metrics.token_f1(predictions, golds)
    result = {"f1": report["overall"]["f1"], "per_label": report}
    if any(t[:2] in ("B-", "I-") for t in task.labels):
        result["entity_f1"] = metrics.entity_f1(predictions, golds)["overall"]["f1"]
    return result


TOKEN = register(Kind("token", DistilBertForTokenClassification, _check_token, _encode_token, _decode_token,
                      _score_token, labels_of=lambda examples: [t for e in examples for t in e["tags"]],
                      pipeline="token-classification", onnx={"logits": ("batch", "sequence")},
                      predict_call={"aggregation_strategy": "first"},
                      show=lambda text, found: text + "\n" + "".join(
                          f"  {e['word']}\t{e['entity_group']}\t{e['score']:.3f}\n" for e in found)))


# ---------------------------------------------------------------- choice: one of several answers

def _check_choice(example, labels, where):
    need(example, "prompt", str, "choice", where)
    need(example, "choices", list, "choice", where)
    need(example, "label", int, "choice", where)
    if not 0 <= example["label"] < len(example["choices"]):
        raise ValueError(f"{where}: label {example['label']} is not the index of one of its "
                         f"{len(example['choices'])} choices")


def _encode_choice(task, examples, tokenizer, cfg, training):
    return feats.encode_choice(tokenizer, examples, cfg.max_length)


def _decode_choice(task, outputs, found, examples, cfg):
    return outputs["logits"].argmax(1).tolist()


def _score_choice(task, predictions, examples):
    return {"accuracy": metrics.accuracy(predictions, [e["label"] for e in examples])}


CHOICE = register(Kind("choice", DistilBertForMultipleChoice, _check_choice, _encode_choice, _decode_choice,
                       _score_choice, onnx={"logits": ("batch", "choices")},
                       input_axes=("batch", "choices", "sequence"),
                       distils=True))


# ---------------------------------------------------------------- qa: a span of the context

def _check_qa(example, labels, where):
    need(example, "question", str, "qa", where)
    need(example, "context", str, "qa", where)
    need(example, "answers", list, "qa", where)
    if not example["question"].strip() or not example["context"].strip():
        raise ValueError(f"{where} has an empty question or context")
    if example["answers"]:
        start = example.get("answer_start", -1)
        if example["context"][start:start + len(example["answers"][0])] != example["answers"][0]:
            raise ValueError(f"{where}: answer_start {start} does not point at the answer "
                             f"{example['answers'][0]!r} in the context")


def _encode_qa(task, examples, tokenizer, cfg, training):
    return feats.encode_qa(tokenizer, examples, cfg.max_length, cfg.stride)


def _decode_qa(task, outputs, found, examples, cfg):
    answers = feats.decode_qa(outputs["start_logits"], outputs["end_logits"], found, examples,
                              cfg.max_answer_length, handle_impossible_answer=True)
    return [a[0]["answer"] for a in answers]


def _score_qa(task, predictions, examples):
    return metrics.squad_scores(predictions, [e["answers"] for e in examples])


QA = register(Kind("qa", DistilBertForQuestionAnswering, _check_qa, _encode_qa, _decode_qa, _score_qa,
                   outputs=("start_logits", "end_logits"), pipeline="question-answering",
                   onnx={"start_logits": ("batch", "sequence"), "end_logits": ("batch", "sequence")}))


# ---------------------------------------------------------------- translation: a text in another language

# Its model writes text (`minidistil.nn.generate`) instead of labelling it, so it has no labelled-example
# functions and no ONNX graph; the pipeline it names and the recipe that trains it are its whole record.
TRANSLATION = register(Kind("translation", DistilBertEncoderDecoder, outputs=("sequences",),
                            pipeline="translation_zh_to_en", onnx=None,
                            trained_by="python -m minidistil train-translator"))
