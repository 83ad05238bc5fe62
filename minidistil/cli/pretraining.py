"""The commands that make a corpus and train on it: prepare-data, pretrain, adapt-teacher, distill.

Each training command is one call of `minidistil.recipe`; its flags are the fields of that step's
settings dataclass and of `TrainConfig` (`minidistil.cli.flags`).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from minidistil.checkpoint import CheckpointError
from minidistil.cli.flags import add_dataclass_flags, dataclass_from_args
from minidistil.cli.output import check_device, check_input_files, check_output_folder, table
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus, read_documents
from minidistil.distill import DistillLoss
from minidistil.finetune import MODEL_DIR
from minidistil.recipe import (DistillSettings, PretrainSettings, TeacherSettings, adapt_teacher, check_corpus,
                               distill, pretrain)
from minidistil.train import TrainConfig

# The training settings each command starts from; every other TrainConfig field keeps its default.
TRAINING_DEFAULTS = {
    "pretrain": dict(batch_size=32, max_steps=500, lr=5e-4),
    "distill": dict(batch_size=32, max_steps=500, lr=5e-4),                     # DistilBERT's peak rate
}

OUT_HELP = "the run's folder: model/ (the trained model with its tokenizer), checkpoint.pt, metrics.jsonl, loss.png"


def add_commands(subparsers) -> None:
    add_prepare_data(subparsers)
    add_pretrain(subparsers)
    add_adapt_teacher(subparsers)
    add_distill(subparsers)


# ---------------------------------------------------------------- prepare-data

def add_prepare_data(subparsers) -> None:
    p = subparsers.add_parser("prepare-data", help="tokenize text into a memory-mapped corpus folder",
                              description="Tokenize documents into model-length chunks (tokens.bin, lengths.bin, "
                                          "counts.npy, meta.json, and the tokenizer's vocab.txt). Default: the "
                                          "registry corpora, with the teacher's vocabulary.")
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--out", required=True, help="the corpus folder to write (pretrain, adapt-teacher and distill "
                                                "read it with --data)")
    p.add_argument("--input", nargs="+", help="your own .txt / .csv / .jsonl files instead of the registry corpora")
    p.add_argument("--column", help="the text column of a .csv, or field of a .jsonl (default: text)")
    p.add_argument("--corpus", help="comma-separated registry corpora (default: all of "
                                    "bbc,speeches,debates,headlines,hamlet)")
    p.add_argument("--vocab", help="a vocab.txt, or a folder holding one (default: the teacher's, bert-base-uncased)")
    add_dataclass_flags(p, PrepareOptions)
    p.set_defaults(func=run_prepare_data)


def run_prepare_data(args) -> None:
    from minidistil import WordPieceTokenizer, sources
    if args.input and args.corpus:
        raise ValueError("give either --input (your files) or --corpus (registry corpora), not both")
    if args.column and not args.input:
        raise ValueError("--column names a column of your --input files; it has no meaning for --corpus")
    check_input_files(args.input or [])
    check_output_folder(args.out)
    vocab = Path(args.vocab) if args.vocab else sources.vocab_file()
    vocab = vocab / "vocab.txt" if vocab.is_dir() else vocab
    if not vocab.is_file():
        raise ValueError(f"{vocab} is not a vocab.txt file; pass --vocab a vocab.txt or a model folder")
    tokenizer = WordPieceTokenizer(vocab)
    if args.input:
        documents, total = (doc for path in args.input for doc in read_documents(path, args.column)), None
    else:
        docs = sources.corpus(tuple(args.corpus.split(",")) if args.corpus else tuple(sources.CORPORA))
        documents, total = docs, len(docs)
    meta = prepare_corpus(documents, tokenizer, args.out, dataclass_from_args(PrepareOptions, args),
                          progress=True, total=total)
    print(table({"documents": meta["n_documents"], "chunks": meta["n_chunks"], "tokens": meta["n_tokens"],
                 "dropped (too short)": meta["dropped"]["too_short"],
                 "dropped (mostly [UNK])": meta["dropped"]["mostly_unknown"], "dtype": meta["dtype"],
                 "folder": args.out}))


# ---------------------------------------------------------------- pretrain / adapt-teacher / distill

def add_training_parser(subparsers, name: str, help: str, description: str):
    """A parser with the flags every training command shares: --config, --out, --data, --eval-chunks
    and TrainConfig's fields (with this command's defaults)."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--out", required=True, help=OUT_HELP)
    p.add_argument("--data", required=True, help="a corpus folder written by prepare-data")
    p.add_argument("--eval-chunks", type=int, default=200,
                   help="chunks held out for the eval pass (MLM perplexity) (default: 200)")
    add_dataclass_flags(p, TrainConfig, skip={"out_dir"}, **TRAINING_DEFAULTS[name])
    return p


def add_pretrain(subparsers) -> None:
    p = add_training_parser(subparsers, "pretrain", "MLM pretraining of a BERT from scratch (or from --init)",
                            "Masked-language-model pretraining on a prepared corpus. A fresh model is a "
                            "small BERT that trains on a CPU (--dim, --n-layers, ...), not DistilBERT's 768 x 6.")
    add_dataclass_flags(p, PretrainSettings)
    p.set_defaults(func=run_pretrain)


def add_adapt_teacher(subparsers) -> None:
    p = subparsers.add_parser(
        "adapt-teacher", help="further pretrain the teacher with MLM, so that its soft targets know words",
        description="The teacher, all-MiniLM-L6-v2, is a sentence-embedding model without an MLM head; "
                    "distillation's KL term needs a distribution over the vocabulary that knows which words "
                    "fit. Continue its MLM pretraining, encoder unfrozen, on the registry text (about 7M "
                    "tokens), and report held-out perplexity and top-1/top-5 accuracy against word "
                    "frequencies. With no --out, the teacher is built once into the data cache, named after "
                    "its settings, and reused (about 20 minutes on 2 CPU cores with the defaults).")
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--out", help="the run's folder: model/, report.json, checkpoint.pt, metrics.jsonl, loss.png "
                                 "(default: the data cache, where later runs find it)")
    p.add_argument("--data", help="a corpus folder written by prepare-data, instead of the registry text (needs --out)")
    p.add_argument("--teacher", help="a BERT or DistilBERT folder to start from (default: all-MiniLM-L6-v2; "
                                     "needs --out)")
    p.add_argument("--device", default="cpu", help="where to train: cpu, cuda, cuda:1 (default: cpu)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="a progress bar with the time left (default: on)")
    add_dataclass_flags(p, TeacherSettings)
    p.set_defaults(func=run_adapt_teacher)


def add_distill(subparsers) -> None:
    p = add_training_parser(subparsers, "distill", "distil a teacher with an MLM head into a smaller student",
                            "DistilBERT's triple loss: alpha_ce * KL * T^2 + alpha_mlm * MLM + "
                            "alpha_cos * cosine(hidden states).")
    p.add_argument("--teacher", required=True, help="a model folder with an MLM head (the model/ folder that "
                                                    "adapt-teacher writes)")
    p.add_argument("--device", default="cpu", help="where to train: cpu, cuda, cuda:1 (default: cpu)")
    add_dataclass_flags(p, DistillSettings)
    p.set_defaults(func=run_distill)


def load_corpus(args) -> tuple[TokenCorpus, TokenCorpus]:
    corpus = TokenCorpus(args.data)
    if not 0 < args.eval_chunks < len(corpus):
        raise ValueError(f"--eval-chunks must be between 1 and {len(corpus) - 1} for this corpus of "
                         f"{len(corpus)} chunks, got {args.eval_chunks}")
    return corpus.split(args.eval_chunks)


def run_pretrain(args) -> None:
    check_output_folder(args.out)
    train_data, eval_data = load_corpus(args)
    _, result = pretrain(train_data, train_config(args), dataclass_from_args(PretrainSettings, args), eval_data)
    print_result(result, args.out)


def run_adapt_teacher(args) -> None:
    check_device(args.device)
    if args.out:
        check_output_folder(args.out)
    folder = adapt_teacher(dataclass_from_args(TeacherSettings, args), args.out, device=args.device,
                           data=args.data, base=args.teacher, progress=args.progress)
    report = json.loads((folder.parent / "report.json").read_text())
    before, after = report["released"], report["heldout"]
    print(table({"held-out perplexity": f"{after['perplexity']:.1f} (word frequencies: "
                                        f"{after['unigram_perplexity']:.1f}; before: {before['perplexity']:.1f})",
                 "held-out top-1 / top-5": f"{after['top1']:.3f} / {after['top5']:.3f} (word frequencies: "
                                           f"{after['unigram_top1']:.3f} / {after['unigram_top5']:.3f})",
                 "model": folder, "report": folder.parent / "report.json"}))


def run_distill(args) -> None:
    from minidistil import DistilBertForMaskedLM
    # Flags that only shape the KL term say nothing once --alpha-ce 0 turns it off: refuse them.
    if args.restrict_ce_to_mask and args.alpha_ce == 0:
        raise ValueError("--restrict-ce-to-mask restricts the KL term, which --alpha-ce 0 turns off; drop one")
    if args.temperature != DistillLoss.temperature and args.alpha_ce == 0:
        raise ValueError("--temperature only affects the KL term, which --alpha-ce 0 turns off; drop one")
    settings = dataclass_from_args(DistillSettings, args)
    check_device(args.device)
    check_output_folder(args.out)
    train_data, eval_data = load_corpus(args)
    check_corpus(train_data)  # before the teacher loads: a corpus problem is found in a second
    try:
        teacher = DistilBertForMaskedLM.from_pretrained(args.teacher)
    except CheckpointError as e:
        raise ValueError(f"{e}\nThe teacher needs an MLM head for its soft targets: run "
                         f"`python -m minidistil adapt-teacher` first and pass its model folder") from None
    _, result = distill(teacher, train_data, train_config(args), settings, eval_data, device=args.device)
    print_result(result, args.out)


def train_config(args) -> TrainConfig:
    return dataclass_from_args(TrainConfig, args, out_dir=args.out)


def print_result(result: dict, out) -> None:
    """The last logged metrics and where the run's folder is (process 0 only under torchrun)."""
    if int(os.environ.get("RANK", "0")) == 0:
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in result.items()
                 if k not in ("eval_loss", "eval_mlm")}
        print(table({**shown, "model": Path(out) / MODEL_DIR, "metrics": Path(out) / "metrics.jsonl"}))
