"""Tiny folders for the bad-input probes (tests/test_bad_input*.py): a translator, a classifier and
a masked LM small enough to build in well under a second, and an in-process CLI runner."""
from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ZH = list("打开关闭保存删除文件窗口表格图片我喜欢这部电影")
EN = ["open", "close", "save", "delete", "the", "file", "window", "table", "picture", ".", "good", "bad",
      "a", "film", "gem", "of", "##s"]


def translator(root: Path) -> Path:
    """A one-step translator (random-ish weights; only its shapes and tokenizers matter here)."""
    from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer
    from minidistil.recipes.translator import TranslatorSettings, train_translator
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(SPECIALS + EN), hidden_size=12, num_attention_heads=3,
                               intermediate_size=19, num_hidden_layers=2, max_position_embeddings=40)
                    ).save_pretrained(root / "en")
    WordPieceTokenizer(vocab=SPECIALS + EN).save_pretrained(root / "en")
    DistilBertForMaskedLM(DistilBertConfig(vocab_size=len(SPECIALS + ZH), dim=12, n_heads=3, hidden_dim=17,
                                           n_layers=2, max_position_embeddings=40)).save_pretrained(root / "zh")
    WordPieceTokenizer(vocab=SPECIALS + ZH).save_pretrained(root / "zh")
    records = {"train": [{"zh": "打开文件", "en": "open the file.", "source": "t"}] * 4,
               "validation": [{"zh": "关闭窗口", "en": "close the window.", "source": "t"}]}
    settings = TranslatorSettings(variant="warm", max_steps=1, minutes=0.0, batch_size=4, lr=1e-3, eval_sentences=0,
                                  num_beams=2, max_target_length=8, max_source_length=12, seq_kd_beams=2)
    train_translator(settings, root / "t", records=records, progress=False, encoder_folder=root / "zh",
                     decoder_folder=root / "en")
    return root / "t" / "model"


def classifier(root: Path, max_positions: int = 128) -> Path:
    """A random 2-label sequence classifier over the tiny English vocabulary."""
    from minidistil import DistilBertConfig, WordPieceTokenizer
    from minidistil.nn.heads import DistilBertForSequenceClassification
    torch.manual_seed(0)
    cfg = DistilBertConfig(vocab_size=len(SPECIALS + EN), dim=12, n_heads=3, hidden_dim=17, n_layers=1,
                           max_position_embeddings=max_positions, id2label={0: "bad", 1: "good"},
                           label2id={"bad": 0, "good": 1})
    DistilBertForSequenceClassification(cfg).eval().save_pretrained(root / "cls")
    WordPieceTokenizer(vocab=SPECIALS + EN).save_pretrained(root / "cls")
    return root / "cls"


def masked_lm(root: Path) -> Path:
    from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer
    torch.manual_seed(0)
    DistilBertForMaskedLM(DistilBertConfig(vocab_size=len(SPECIALS + EN), dim=12, n_heads=3, hidden_dim=17,
                                           n_layers=1, max_position_embeddings=64)).save_pretrained(root / "mlm")
    WordPieceTokenizer(vocab=SPECIALS + EN).save_pretrained(root / "mlm")
    return root / "mlm"


class Stdin(io.TextIOWrapper):
    """sys.stdin over raw bytes, decoded the way a terminal's locale would (UTF-8, surrogateescape)."""

    def __init__(self, raw: bytes):
        super().__init__(io.BytesIO(raw), encoding="utf-8", errors="surrogateescape")


def cli(argv, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """Run `python -m minidistil ARGV` in this process: (exit code, stdout, stderr)."""
    from minidistil.cli import main
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    if stdin is not None:
        sys.stdin = Stdin(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in argv])
            except SystemExit as e:  # argparse's own errors
                code = e.code
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()
