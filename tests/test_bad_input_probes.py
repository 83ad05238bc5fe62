"""Probes of our own, beyond issue 34: arguments at their edges for every command and pipeline,
every kind of file the project writes damaged (cut at 10%, 50%, 99%; a byte flipped), two commands
on one cache at once, kill -9 at each stage of a build. PROBES.md lists each with its answer:

    PYTHONPATH=. python tests/test_bad_input_probes.py > PROBES.md

Each probe answers one of: "error" (one sentence, exit code 2 at the command line), "warning" (a
result and one `UserWarning` saying what was done), "ok" (a valid input, used as given; only where
the value is legitimate), "130" (Ctrl-C). A probe that raises anything else (a traceback), prints
more than one line, or answers "ok" where it should not (a silent result) fails.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from badinput_helpers import EN, SPECIALS, classifier, cli, masked_lm, translator  # noqa: E402


@dataclass
class Probe:
    surface: str
    what: str
    run: Callable          # (ctx) -> a result, or raises
    kind: str              # error | warning | ok
    expect: str = ""       # a regex the answer must match


PROBES: list[Probe] = []


def probe(surface, what, kind, expect=""):
    def add(run):
        PROBES.append(Probe(surface, what, run, kind, expect))
        return run
    return add


def add(surface, what, run, kind, expect=""):
    PROBES.append(Probe(surface, what, run, kind, expect))


# ---------------------------------------------------------------- the context: tiny folders, built once

class Ctx:
    def __init__(self, root: Path):
        self.root = root
        self.cls = classifier(root)
        self.mlm = masked_lm(root)
        self.tr = translator(root)
        self.qa = self._head(root, "DistilBertForQuestionAnswering", {})
        self.tok = self._head(root, "DistilBertForTokenClassification",
                              dict(id2label={0: "O", 1: "B-X"}, label2id={"O": 0, "B-X": 1}))
        self.vocab = root / "vocab.txt"
        self.vocab.write_text("\n".join(SPECIALS + EN) + "\n", encoding="utf-8")
        self.text = root / "text.txt"
        self.text.write_text("\n\n".join(f"good film {i} a gem of a film bad film the table" for i in range(40)))
        self.csv = root / "task.csv"
        self.csv.write_text("text,label\n" + "".join(f"good film {i},good\nbad film {i},bad\n" for i in range(20)))
        code, _, err = cli(["prepare-data", "--input", self.text, "--vocab", self.vocab, "--out", root / "corpus",
                            "--max-length", "16", "--min-tokens", "2"])
        assert code == 0, err
        self.corpus = root / "corpus"
        code, _, err = cli(["pretrain", "--data", self.corpus, "--out", root / "run", *TINY, "--max-steps", "2",
                            "--save-every", "1"])
        assert code == 0, err
        self.run = root / "run"
        self.n = 0

    @staticmethod
    def _head(root, name, extra):
        import minidistil.nn.heads as heads
        from minidistil import DistilBertConfig, WordPieceTokenizer
        torch.manual_seed(0)
        cfg = DistilBertConfig(vocab_size=len(SPECIALS + EN), dim=12, n_heads=3, hidden_dim=17, n_layers=1,
                               max_position_embeddings=64, **extra)
        getattr(heads, name)(cfg).eval().save_pretrained(root / name)
        WordPieceTokenizer(vocab=SPECIALS + EN).save_pretrained(root / name)
        return root / name

    def fresh(self, name="x") -> Path:
        self.n += 1
        return self.root / f"{name}-{self.n}"

    def copy(self, folder: Path) -> Path:
        import shutil
        out = self.fresh(folder.name)
        shutil.copytree(folder, out)
        return out


TINY = ["--dim", "12", "--n-layers", "1", "--n-heads", "2", "--hidden-dim", "16", "--no-progress", "--eval-chunks", "2"]


class CliAnswer(Exception):
    pass


def command(*argv, stdin=None):
    """Run a command in this process; exit code 2 becomes ValueError(the one line), 0 its output."""
    def run(ctx):
        args = [a(ctx) if callable(a) else a for a in argv]
        code, out, err = cli(args, stdin)
        lines = [l for l in err.replace("\r", "\n").splitlines() if l.strip() and not re.search(r"\d+(it|doc|step)", l)]
        if code == 2:
            errors = [l for l in lines if "error:" in l]
            assert len(errors) == 1 and "Traceback" not in err, err
            usage = [l for l in lines if not l.startswith(("usage:", " ")) and "error:" not in l]
            assert not usage, err  # nothing but argparse's usage beside the one error line
            raise ValueError(errors[0].split("error: ", 1)[1])
        assert code == 0, (code, err)
        for line in lines:
            if "Warning" in line:
                warnings.warn(line.split("Warning: ", 1)[-1], UserWarning)
        return out
    return run


def answer(p: Probe, ctx) -> tuple[str, str]:
    """(kind, text) of what the probe's call answered; anything but a user error propagates."""
    from minidistil.utils.cache import SourceError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = p.run(ctx)
        except (ValueError, TypeError, OSError, SourceError) as e:
            return "error", str(e)
    said = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if said:
        return "warning", said[0]
    return "ok", repr(result)[:100]


# ---------------------------------------------------------------- arguments at their edges: commands

EDGES = {"0": "0", "-1": "-1", "huge": "1e12", "text": "abc", "empty": "", "nan": "nan"}


def edge_kind(flag, name, positive_int=True):
    return "error"


for name, value in EDGES.items():
    add("pretrain", f"--max-steps {value!r}", command("pretrain", "--data", lambda c: c.corpus, "--out",
        lambda c: c.fresh(), *TINY, "--max-steps", value), "error", r"max.steps")
    add("pretrain", f"--lr {value!r}", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(),
        *TINY, "--max-steps", "1", "--lr", value), "error", r"lr")
    add("prepare-data", f"--max-length {value!r}", command("prepare-data", "--input", lambda c: c.text, "--vocab",
        lambda c: c.vocab, "--out", lambda c: c.fresh(), "--max-length", value), "error", r"max.length")
    add("finetune", f"--epochs {value!r}", command("finetune", "--model", lambda c: c.cls, "--task", lambda c: c.csv,
        "--out", lambda c: c.fresh(), "--no-progress", "--epochs", value), "error", r"epochs")
    add("translate", f"--num-beams {value!r}", command("translate", "--model", lambda c: c.tr, "--num-beams", value,
        "打开"), "error", r"num.beams")
    add("predict", f"--model {value!r}", command("predict", "--model", value, "good film"), "error",
        r"config.json|model")
    add("export-onnx", f"--opset {value!r}", command("export-onnx", "--model", lambda c: c.cls, "--out",
        lambda c: c.fresh("o") / "m.onnx", "--opset", value), "error", r"opset|onnx")

add("pretrain", "--batch-size 0", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(), *TINY,
    "--max-steps", "1", "--batch-size", "0"), "error", "batch_size must be a positive integer")
add("pretrain", "--warmup 1", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(), *TINY,
    "--max-steps", "1", "--warmup", "1"), "error", r"warmup is a fraction")
add("pretrain", "--weight-decay nan", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(),
    *TINY, "--max-steps", "1", "--weight-decay", "nan"), "error", r"weight_decay")
add("pretrain", "--max-grad-norm inf", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(),
    *TINY, "--max-steps", "1", "--max-grad-norm", "inf"), "error", r"max_grad_norm")
add("pretrain", "--mlm-probability 0", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(),
    *TINY, "--max-steps", "1", "--mlm-probability", "0"), "error", r"mlm_probability")
add("pretrain", "--dim 0", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(), "--dim", "0",
    "--n-layers", "1", "--n-heads", "2", "--hidden-dim", "16", "--max-steps", "1", "--no-progress", "--eval-chunks", "2"),
    "error", r"dim")
add("pretrain", "--n-heads 5 (does not divide --dim 12)", command("pretrain", "--data", lambda c: c.corpus, "--out",
    lambda c: c.fresh(), "--dim", "12", "--n-layers", "1", "--n-heads", "5", "--hidden-dim", "16", "--max-steps", "1",
    "--no-progress", "--eval-chunks", "2"), "error", r"n_heads|divis")
add("pretrain", "--eval-chunks 0", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.fresh(),
    *TINY[:-2], "--eval-chunks", "0", "--max-steps", "1"), "error", r"eval.chunks")
add("pretrain", "--data a model folder", command("pretrain", "--data", lambda c: c.cls, "--out", lambda c: c.fresh(),
    *TINY, "--max-steps", "1"), "error", r"corpus|meta.json")
add("pretrain", "--out an existing file", command("pretrain", "--data", lambda c: c.corpus, "--out", lambda c: c.text,
    *TINY, "--max-steps", "1"), "error", r"is a file|folder")
add("pretrain", "--config a list, not an object", command("pretrain", "--config", lambda c: _write(c, "[1, 2]"),
    "--data", "d", "--out", "o"),
    "error", r"JSON object")
add("pretrain", "--config an unknown key", command("pretrain", "--config", lambda c: _write(c, '{"max_stepz": 3}'),
    "--data", "d", "--out", "o"), "error", r"unknown setting")
add("pretrain", "--config in GBK", command("pretrain", "--config", lambda c: _write(c, '{"out": "打开"}', "gbk"),
    "--data", "d", "--out", "o"),
    "error", r"is not UTF-8: byte 0x.. at offset 9")
add("prepare-data", "--min-tokens 0", command("prepare-data", "--input", lambda c: c.text, "--vocab", lambda c: c.vocab,
    "--out", lambda c: c.fresh(), "--min-tokens", "0"), "error", r"min_tokens")
add("prepare-data", "--max-unk-fraction nan", command("prepare-data", "--input", lambda c: c.text, "--vocab",
    lambda c: c.vocab, "--out", lambda c: c.fresh(), "--max-unk-fraction", "nan"), "error", r"max_unk_fraction")
add("prepare-data", "--input an empty file", command("prepare-data", "--input", lambda c: _write(c, "", suffix=".txt"),
    "--vocab", lambda c: c.vocab, "--out", lambda c: c.fresh()), "error", r"no|empty")
add("prepare-data", "--input a folder", command("prepare-data", "--input", lambda c: c.root, "--vocab",
    lambda c: c.vocab, "--out", lambda c: c.fresh()), "error", r"is a folder")
add("prepare-data", "--input .docx", command("prepare-data", "--input", lambda c: _write(c, "x", suffix=".docx"),
    "--vocab", lambda c: c.vocab, "--out", lambda c: c.fresh()), "error", r"suffix")
add("prepare-data", "--input Latin-1 text", command("prepare-data", "--input",
    lambda c: _write(c, "café déjà vu", "latin-1", ".txt"), "--vocab", lambda c: c.vocab, "--out", lambda c: c.fresh()),
    "error", r"is not UTF-8: byte 0xe9 at offset 3 is invalid; convert it with `iconv -f ENCODING")
add("prepare-data", "--input Latin-1 text --encoding latin-1", command("prepare-data", "--input",
    lambda c: _write(c, "café good film a gem of a film " * 5, "latin-1", ".txt"), "--vocab", lambda c: c.vocab, "--out",
    lambda c: c.fresh(), "--encoding", "latin-1", "--min-tokens", "2"), "ok")
add("prepare-data", "--encoding klingon", command("prepare-data", "--input", lambda c: c.text, "--vocab",
    lambda c: c.vocab, "--out", lambda c: c.fresh(), "--encoding", "klingon"), "error", r"not an encoding Python knows")
add("prepare-data", "--encoding without --input", command("prepare-data", "--vocab", lambda c: c.vocab, "--out",
    lambda c: c.fresh(), "--encoding", "gbk"), "error", r"--encoding names the encoding of your --input")
add("prepare-data", "--input .csv without a text column", command("prepare-data", "--input",
    lambda c: _write(c, "a,b\n1,2\n", suffix=".csv"), "--vocab", lambda c: c.vocab, "--out", lambda c: c.fresh()),
    "error", r"no column 'text'")
add("prepare-data", "--input .jsonl with a broken line", command("prepare-data", "--input",
    lambda c: _write(c, '{"text": "good"}\n{"text": \n', suffix=".jsonl"), "--vocab", lambda c: c.vocab, "--out",
    lambda c: c.fresh()), "error", r"line 2 of .* is not valid JSON")
add("prepare-data", "--input UTF-8 with a byte-order mark", command("prepare-data", "--input",
    lambda c: _write(c, "\ufeff" + "good film a gem " * 5, suffix=".txt"), "--vocab", lambda c: c.vocab, "--out",
    lambda c: c.fresh(), "--min-tokens", "2"), "ok")
add("prepare-data", "--vocab an empty file", command("prepare-data", "--input", lambda c: c.text, "--vocab",
    lambda c: _write(c, "", suffix=".txt"), "--out", lambda c: c.fresh()), "error", r"vocab")
add("finetune", "--task a missing file", command("finetune", "--model", lambda c: c.cls, "--task",
    lambda c: c.root / "missing.csv", "--out", lambda c: c.fresh()), "error", r"does not exist")
add("finetune", "--task a CSV without a label column", command("finetune", "--model", lambda c: c.cls, "--task",
    lambda c: _write(c, "text\nx\n", suffix=".csv"), "--out", lambda c: c.fresh()), "error", r"no column named 'label'")
add("finetune", "--task a JSONL line that is a list", command("finetune", "--model", lambda c: c.cls, "--task",
    lambda c: _write(c, '["good", "x"]\n', suffix=".jsonl"), "--out", lambda c: c.fresh()), "error",
    r"line 1 of .* is a JSON list, not an object")
add("finetune", "--task a CSV in GBK --encoding gbk", command("finetune", "--model", lambda c: c.cls, "--task",
    lambda c: _write(c, "text,label\n" + "".join(f"好 film {i},good\n坏 film {i},bad\n" for i in range(10)), "gbk",
                     ".csv"), "--out", lambda c: c.fresh(), "--epochs", "1", "--no-progress", "--encoding", "gbk", "--batch-size",
    "4"), "ok")
add("finetune", "--max-length 7", command("finetune", "--model", lambda c: c.cls, "--task", lambda c: c.csv, "--out",
    lambda c: c.fresh(), "--max-length", "7"), "error", r"max_length must lie in \[8, 512\]")
add("finetune", "--dropout nan", command("finetune", "--model", lambda c: c.cls, "--task", lambda c: c.csv, "--out",
    lambda c: c.fresh(), "--dropout", "nan"), "error", r"dropout")
add("finetune", "--model a corpus folder", command("finetune", "--model", lambda c: c.corpus, "--task", lambda c: c.csv,
    "--out", lambda c: c.fresh()), "error", r"config.json|model folder")
add("finetune", "--split-seed -1 (any integer is a seed)", command("finetune", "--model", lambda c: c.cls, "--task",
    lambda c: c.csv, "--out", lambda c: c.fresh(), "--epochs", "1", "--no-progress", "--split-seed", "-1"), "ok")
add("evaluate", "--split nonsense", command("evaluate", "--model", lambda c: c.cls, "--task", lambda c: c.csv,
    "--split", "dev"), "error", r"invalid choice")
add("evaluate", "--max-length 100000", command("evaluate", "--model", lambda c: c.cls, "--task", lambda c: c.csv,
    "--max-length", "100000"), "error", r"max_length")
add("predict", "no text at all", command("predict", "--model", lambda c: c.cls, stdin=b""), "error", r"got no text")
add("predict", "a masked-LM folder", command("predict", "--model", lambda c: c.mlm, "good"), "error",
    r"predict labels texts with a model of one of")
add("predict", "Latin-1 bytes in an argument", command("predict", "--model", lambda c: c.cls,
    b"caf\xe9".decode("utf-8", "surrogateescape")), "error", r"text argument 1 is not UTF-8: byte 0xe9 at offset 3")
add("predict", "--encoding nonsense", command("predict", "--model", lambda c: c.cls, "--encoding", "nonsense",
    stdin=b"good\n"), "error", r"not an encoding")
add("translate", "--max-length 0", command("translate", "--model", lambda c: c.tr, "--max-length", "0", "打开"), "error",
    r"max_length must be a positive integer")
add("translate", "--max-length 1000 (beyond the decoder)", command("translate", "--model", lambda c: c.tr,
    "--max-length", "1000", "打开"), "error", r"longer than the decoder's position table")
add("translate", "--batch-size 0", command("translate", "--model", lambda c: c.tr, "--batch-size", "0", "打开"),
    "error", r"batch_size must be a positive integer")
add("translate", "--model a classifier", command("translate", "--model", lambda c: c.cls, "打开"), "error",
    r"translator")
add("translate", "an empty line among texts", command("translate", "--model", lambda c: c.tr, stdin="打开\n\n关闭\n".encode()),
    "ok")
add("translate", "Big5 on stdin", command("translate", "--model", lambda c: c.tr,
    stdin="我喜歡這部電影，打開文件，關閉窗口。".encode("big5")), "error", r"looks like BIG5.*iconv -f BIG5")
add("quantize", "--out the same folder as --model", command("quantize", "--model", lambda c: c.cls, "--out",
    lambda c: c.cls), "error", r"--out must differ")
add("quantize", "an int8 folder quantized again", lambda c: (command("quantize", "--model", c.cls, "--out", c.root / "q8")(c),
    command("quantize", "--model", c.root / "q8", "--out", c.fresh())(c)), "error", r"int8|quantiz")
add("quantize", "--model a missing folder", command("quantize", "--model", "/nonexistent", "--out", lambda c: c.fresh()),
    "error", r"not a model folder")
add("cache", "remove without a name", command("cache", "remove"), "error", r"say which entry")
add("cache", "remove an unknown name", command("cache", "remove", "teachers/nope"), "error", r"has no entry")
add("cache", "remove ../../etc", command("cache", "remove", "../../etc"), "error", r"has no entry")
add("cache", "an unknown action", command("cache", "purge"), "error", r"invalid choice")
add("train-translator", "--variant bigger", command("train-translator", "--variant", "bigger", "--out",
    lambda c: c.fresh()), "error", r"variant must be one of")
add("train-translator", "--decoder-layers first", command("train-translator", "--decoder-layers", "first", "--out",
    lambda c: c.fresh()), "error", r"comma-separated")
add("(any)", "an unknown command", command("fine-tune"), "error", r"invalid choice")


def _write(ctx, text, encoding="utf-8", suffix=".json"):
    path = ctx.fresh("file").with_suffix(suffix)
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- arguments at their edges: pipelines

def pipe(task, folder_attr, *args, build=None, **kwargs):
    def run(ctx):
        from minidistil import pipeline
        p = pipeline(task, model=getattr(ctx, folder_attr), **(build or {}))
        return p(*args, **kwargs)
    return run


for label, value in {"0": 0, "-1": -1, "huge": 10**12, "nan": math.nan, "a string": "3", "True": True,
                     "1.5": 1.5}.items():
    add("fill-mask", f"top_k={label}", pipe("fill-mask", "mlm", "a [MASK] film", top_k=value), "error", r"top_k")
    add("text-classification", f"top_k={label}" + (" (every label, as transformers)" if label == "huge" else ""),
        pipe("text-classification", "cls", "good film", top_k=value), "ok" if label == "huge" else "error", r"top_k")
    add("translation", f"num_beams={label}", pipe("translation_zh_to_en", "tr", "打开", num_beams=value), "error",
        r"num_beams")
    add("(every pipeline)", f"batch_size={label}", pipe("embedding", "cls", "good", build=dict(batch_size=value)),
        "ok" if label == "huge" else "error", r"batch_size")

for label, value in {"None": None, "3": 3, "bytes": b"good", "a dict": {"text": "x"}, "[None]": [None],
                     "nested list": [["good"]]}.items():
    for task, attr in (("text-classification", "cls"), ("fill-mask", "mlm"), ("embedding", "cls"),
                       ("translation_zh_to_en", "tr"), ("token-classification", "tok"), ("summarization", "cls")):
        add(task, f"inputs={label}", pipe(task, attr, value), "error", r"string|text|bytes|decode")

add("fill-mask", "no [MASK] in the text", pipe("fill-mask", "mlm", "a good film"), "error", r"\[MASK\]")
add("fill-mask", "targets=[] ", pipe("fill-mask", "mlm", "a [MASK] film", targets=[]), "error", r"targets")
add("fill-mask", "emoji only with a mask", pipe("fill-mask", "mlm", "😀 [MASK] 😀"), "warning", r"mostly \[UNK\]")
add("text-classification", "stride=-1", pipe("text-classification", "cls", "good", stride=-1), "error", r"stride")
add("text-classification", "max_length=0 at creation", pipe("text-classification", "cls", "good",
    build=dict(max_length=0)), "error", r"max_length must be a positive integer")
add("text-classification", "an empty list", pipe("text-classification", "cls", []), "ok")
add("question-answering", "doc_stride larger than the window", pipe("question-answering", "qa", question="what",
    context="good film " * 50, doc_stride=1000), "error", r"doc_stride")
add("question-answering", "an empty context", pipe("question-answering", "qa", question="what", context=""), "error",
    r"context")
add("question-answering", "max_answer_len=0", pipe("question-answering", "qa", question="what", context="good film",
    max_answer_len=0), "error", r"max_answer_len")
add("token-classification", "aggregation_strategy='best'", pipe("token-classification", "tok", "good film",
    aggregation_strategy="best"), "error", r"aggregation_strategy")
add("summarization", "num_sentences=0", pipe("summarization", "cls", "Good film. Bad film.", num_sentences=0), "error",
    r"num_sentences")
add("translation", "max_length=NaN", pipe("translation_zh_to_en", "tr", "打开", max_length=math.nan), "error",
    r"max_length must be a positive integer")
add("translation", "batch_size=0", pipe("translation_zh_to_en", "tr", "打开", batch_size=0), "error", r"batch_size")
add("(any)", "an unknown task", lambda c: __import__("minidistil").pipeline("sentiment", model=c.cls), "error",
    r"unknown task")


# ---------------------------------------------------------------- damaged files of every kind we write

def damage(path: Path, how: str, at: float | None = None) -> None:
    raw = path.read_bytes()
    if how == "flip":
        i = int(len(raw) * (0.5 if at is None else at))
        path.write_bytes(raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1:])
    else:
        path.write_bytes(raw[: int(len(raw) * float(how.rstrip("%")) / 100)])


CUTS = ["10%", "50%", "99%", "flip"]


def damaged(folder_attr, name, reader, flip_at=None):
    def run(ctx, how):
        folder = ctx.copy(getattr(ctx, folder_attr))
        damage(folder / name, how, flip_at)
        return reader(folder)
    return run


def read_model(folder):
    from minidistil.apps.convert import model_class
    cls, _ = model_class(folder)
    return cls.from_pretrained(folder)


def read_tokenizer(folder):
    from minidistil import WordPieceTokenizer
    return WordPieceTokenizer.from_pretrained(folder)("good film")["input_ids"]


def read_corpus(folder):
    from minidistil.data import TokenCorpus, check_corpus
    corpus = TokenCorpus(folder)
    check_corpus(corpus)
    return [corpus[i]["input_ids"].tolist() for i in range(len(corpus))]


def read_pipeline(folder):
    from minidistil import pipeline
    return pipeline("text-classification", model=folder)("good film")


def resume(folder):
    code, out, err = cli(["pretrain", "--data", folder.parent / "corpus", "--out", folder, *TINY, "--max-steps", "2",
                          "--save-every", "1"])
    if code == 2:
        raise ValueError(err.strip().splitlines()[-1].split("error: ", 1)[1])
    if "Warning" in err:
        warnings.warn(err.split("Warning: ", 1)[1].splitlines()[0])
    return out


def translator_pipeline(folder):
    from minidistil import pipeline
    return pipeline("translation_zh_to_en", model=folder)("打开")


FILES = [
    # (what, folder, file, reader, expected regex for cuts, expected for a flipped byte, where to flip)
    ("model weights", "cls", "model.safetensors", read_model, r"model.safetensors", r"model.safetensors", 0.02),
    ("model config", "cls", "config.json", read_model, r"config.json", r"config.json", None),
    ("vocabulary", "cls", "vocab.txt", read_pipeline, r"vocab.txt|vocabulary", r"vocab.txt", None),
    ("tokenizer settings", "cls", "tokenizer_config.json", read_tokenizer, r"tokenizer_config.json",
     r"tokenizer_config.json", None),
    ("corpus tokens", "corpus", "tokens.bin", read_corpus, r"tokens.bin", r"tokens.bin", None),
    ("corpus lengths", "corpus", "lengths.bin", read_corpus, r"lengths.bin", r"lengths.bin", None),
    ("corpus counts", "corpus", "counts.npy", read_corpus, r"counts.npy", r"counts.npy", None),
    ("corpus meta", "corpus", "meta.json", read_corpus, r"meta.json", r"meta.json", None),
    ("resume checkpoint", "run", "checkpoint.pt", resume, r"checkpoint", r"checkpoint", None),
    ("translator settings", "tr", "translator.json", translator_pipeline, r"translator.json", r"translator.json", None),
    ("training log", "run", "metrics.jsonl", resume, r"metrics.jsonl", r"metrics.jsonl", None),
]
for what, folder_attr, name, reader, cut_expect, flip_expect, flip_at in FILES:
    run = damaged(folder_attr, name, reader, flip_at)
    for how in CUTS:
        add(f"damaged {what}", f"{name} {'cut at ' + how if how != 'flip' else 'a byte flipped'}",
            (lambda r, h: lambda c: r(c, h))(run, how), "error|warning", flip_expect if how == "flip" else cut_expect)


def damaged_mo(how):
    def run(ctx):
        from test_gettext_mo import demo_catalogue, write_mo
        from minidistil.data.gettext_mo import read_mo
        path = ctx.fresh("mo").with_suffix(".mo")
        path.write_bytes(write_mo(demo_catalogue("UTF-8", b"n != 1", 2)))
        damage(path, how, 0.9)
        return read_mo(path.read_bytes(), str(path)).messages
    return run


for how in CUTS:
    add("damaged .mo catalogue", f"cut at {how}" if how != "flip" else "a byte flipped in a translation",
        damaged_mo(how), "error", r"\.mo")


def fresh_cache(ctx) -> Path:
    os.environ["MINIDISTIL_CACHE"] = str(ctx.fresh("cache"))
    return Path(os.environ["MINIDISTIL_CACHE"])


def cached_entry(ctx, how, name):
    from minidistil.utils import builds
    root = fresh_cache(ctx) / "teachers" / "minilm-mlm-1a2b3c4d"
    with builds.entry(root, rebuild="python -m minidistil adapt-teacher", message=lambda m: None) as work:
        read_model_folder = ctx.copy(ctx.cls)
        import shutil
        shutil.copytree(read_model_folder, work / "model")
    damage(root / "model" / name, how)
    code, out, err = cli(["cache", "verify"])
    if code == 2:
        raise ValueError(err.strip().splitlines()[-1].split("error: ", 1)[1])
    return out


for how in CUTS:
    add("damaged cached model", f"model.safetensors {'cut at ' + how if how != 'flip' else 'a byte flipped'}, "
        f"then `cache verify`", (lambda h: lambda c: cached_entry(c, h, "model.safetensors"))(how), "error",
        r"1 damaged entry \(teachers/minilm-mlm-1a2b3c4d\); remove each with .*cache remove")


def manifest_cut(ctx):
    from minidistil.utils import builds
    root = Path(os.environ["MINIDISTIL_CACHE"]) / f"pkg-{ctx.fresh().name}"
    with builds.entry(root, message=lambda m: None) as work:
        (work / "a.txt").write_text("a")
    damage(root / "manifest.json", "50%")
    said = []
    assert not builds.finished(root, message=said.append)
    return command("cache")(ctx)


def garbage_lock(ctx):
    from minidistil.utils import builds
    root = fresh_cache(ctx) / "teachers" / "minilm-mlm-1a2b3c4d"
    root.parent.mkdir(parents=True)
    builds.lock_path(root).write_bytes(b"\x00\xffnot a record")  # left by a killed holder, then damaged
    said = []
    with builds.entry(root, message=said.append) as work:
        (work / "a.txt").write_text("a")
    return said or "built"


add("damaged lock file", "garbage in NAME.lock, then a build", garbage_lock, "ok")
add("damaged cache manifest", "manifest.json cut at 50%, then `cache list`", manifest_cut, "ok")


# ---------------------------------------------------------------- two commands on one cache, kill -9 in a build

def while_building(*argv):
    def run(ctx):
        from minidistil.utils import builds
        root = fresh_cache(ctx) / "students" / "distil-1a2b3c4d"
        with builds.entry(root, message=lambda m: None) as work:
            (work / "checkpoint.pt").write_bytes(b"step 5")
            try:
                return command(*[a.replace("NAME", f"students/{root.name}") for a in argv])(ctx)
            finally:
                assert (work / "checkpoint.pt").read_bytes() == b"step 5"  # nothing lost under the build
    return run


add("two commands", "`cache remove NAME.partial` while NAME builds", while_building("cache", "remove", "NAME.partial"),
    "error", r"is in use: its build is running as pid \d+")
add("two commands", "`cache list` while a build runs", while_building("cache"), "ok")
add("two commands", "`cache verify` while a build runs", while_building("cache", "verify"), "ok")


def second_builder(ctx):
    from minidistil.utils import builds
    root = Path(os.environ["MINIDISTIL_CACHE"]) / "teachers" / f"b{ctx.fresh().name}"
    with builds.entry(root, message=lambda m: None):
        with builds.entry(root, no_wait=True, message=lambda m: None):
            pass


add("two commands", "a second build of the same entry with --no-wait", second_builder, "error",
    r"is being built by pid \d+ on .*; wait for it to finish")


def killed_at(stage):
    def run(ctx):
        from minidistil.utils import builds
        root = Path(os.environ["MINIDISTIL_CACHE"]) / "teachers" / f"k{ctx.fresh().name}"
        if stage == "build:swap":  # a damaged entry being replaced
            with builds.entry(root, message=lambda m: None) as work:
                (work / "model.bin").write_bytes(b"old")
            (root / "model.bin").write_bytes(b"damaged!")
        pid = os.fork()
        if pid == 0:  # the child builds and is killed at the stage (minidistil.utils.interrupts)
            os.environ["MINIDISTIL_SIGKILL_AT"] = stage
            try:
                with builds.entry(root, message=lambda m: None) as work:
                    (work / "model.bin").write_bytes(b"new")
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        said = []
        if not builds.finished(root, message=said.append):
            with builds.entry(root, message=said.append) as work:  # the rerun
                if work is not None:  # None: the killed build had finished it (swapped in now)
                    (work / "model.bin").write_bytes(b"new")
        assert (root / "model.bin").read_bytes() == b"new" and builds.problem(root, hashes=True) is None
        assert not builds.partial_dir(root).exists() and not any(root.parent.glob(f".{root.name}.old"))
        return "; ".join(said) or "the rerun finished the entry"
    return run


for stage in ("build:locked", "build:written", "build:manifest", "build:swap"):
    add("kill -9 in a build", f"at {stage.split(':')[1]}, then the same build again", killed_at(stage), "ok")


# ---------------------------------------------------------------- the test

@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("probes")
    cache = os.environ.get("MINIDISTIL_CACHE")
    os.environ["MINIDISTIL_CACHE"] = str(root / "cache")
    yield Ctx(root)
    torch.set_num_threads(before)
    if cache is None:
        os.environ.pop("MINIDISTIL_CACHE")
    else:
        os.environ["MINIDISTIL_CACHE"] = cache


@pytest.mark.parametrize("p", PROBES, ids=[f"{p.surface}: {p.what}" for p in PROBES])
def test_probe(p, ctx):
    kind, text = answer(p, ctx)
    assert kind in p.kind.split("|"), (kind, text)
    if kind in ("error", "warning"):
        assert "\n" not in text.strip() and "Traceback" not in text, text
        assert re.search(p.expect, text), text


def test_at_least_100_probes():
    assert len(PROBES) >= 100


if __name__ == "__main__":  # the table of PROBES.md
    import tempfile
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp())
    os.environ["MINIDISTIL_CACHE"] = str(root / "cache")
    c = Ctx(root)
    rows = []
    for p in PROBES:
        try:
            kind, text = answer(p, c)
        except Exception as e:  # a traceback: shown as such in the table
            kind, text = "TRACEBACK", f"{type(e).__name__}: {e}"
        text = " ".join(text.split()).replace(str(root), "…").replace("|", "\\|")
        rows.append(f"| {p.surface} | {p.what.replace('|', '/')} | {kind} | {text[:400]} |")
    print("\n".join(rows))
