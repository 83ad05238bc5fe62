"""`python -m minidistil <command>` (or the `minidistil` console script).

    python -m minidistil prepare-data --out runs/corpus                  # the registry corpora, teacher vocab
    python -m minidistil adapt-teacher --data runs/corpus --out runs/teacher
    python -m minidistil distill --teacher runs/teacher/model --data runs/corpus --out runs/student
    python -m minidistil pretrain --data runs/corpus --out runs/tiny --dim 128 --n-layers 2
    torchrun --nproc-per-node 2 -m minidistil distill ...                 # the same, on 2 processes

Every command takes its settings as flags or from `--config settings.json`, a JSON object whose keys
are the flag names with underscores (`{"max_steps": 200, "alpha_ce": 5.0}`); flags given on the
command line win over the file.

A module adds commands with one function, `add_subcommands(subparsers)`, that creates its parsers
and sets `func` (called with the parsed arguments) on each; list that function in `REGISTRARS`.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus, read_documents
from minidistil.mlm import mlm_task_for
from minidistil.tokenizer import copy_tokenizer_files
from minidistil.train import TrainConfig, evaluate_losses, train


# ---------------------------------------------------------------- settings from a dataclass

def field_help(cls) -> dict[str, str]:
    """The trailing comment of each field of a dataclass: one source for the code and for --help."""
    return dict(re.findall(r"^\s+(\w+): [^=]+=.*?#\s*(.+)$", inspect.getsource(cls), re.M))


def add_dataclass_flags(parser, cls, skip=(), **defaults) -> None:
    """One flag per field of `cls`: --max-steps for max_steps. Booleans get --x / --no-x."""
    helps = field_help(cls)
    for f in fields(cls):
        if f.name in skip:
            continue
        default = defaults.get(f.name, f.default if f.default is not MISSING else None)
        flag = "--" + f.name.replace("_", "-")
        text = f"{helps.get(f.name, '')} (default: {default})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        elif isinstance(default, tuple):
            parser.add_argument(flag, type=type(default[0]), nargs=len(default), default=default, help=text)
        else:
            parser.add_argument(flag, type=type(default), default=default, help=text)


def dataclass_from_args(cls, args, **extra):
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}, **extra)


def add_common_flags(parser, data: bool = True) -> None:
    parser.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    parser.add_argument("--out", required=True, help="the output folder (checkpoint, metrics, model)")
    if data:
        parser.add_argument("--data", required=True, help="a corpus folder written by prepare-data")
        parser.add_argument("--eval-chunks", type=int, default=200,
                            help="chunks held out for the eval pass (MLM perplexity) (default: 200)")


# ---------------------------------------------------------------- prepare-data

def add_prepare_data(subparsers) -> None:
    p = subparsers.add_parser("prepare-data", help="tokenize text into a memory-mapped corpus folder",
                              description="Tokenize documents into model-length chunks (tokens.bin, lengths.bin, "
                                          "counts.npy, meta.json). Default: the registry corpora.")
    add_common_flags(p, data=False)
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

# The model settings of `pretrain`: a small BERT that trains on a CPU, not DistilBERT's 768 x 6.
PRETRAIN_MODEL = {"dim": 256, "n_layers": 4, "n_heads": 4, "hidden_dim": 1024}


def add_pretrain(subparsers) -> None:
    p = subparsers.add_parser("pretrain", help="MLM pretraining of a BERT from scratch (or from --init)",
                              description="Masked-language-model pretraining on a prepared corpus.")
    add_common_flags(p)
    p.add_argument("--init", help="start from this model folder instead of random weights")
    for name, default in PRETRAIN_MODEL.items():
        p.add_argument("--" + name.replace("_", "-"), type=int, default=default,
                       help=f"model {name} for a fresh model (default: {default})")
    add_mlm_flags(p, smoothing=0.0, sparse=True)
    add_dataclass_flags(p, TrainConfig, skip={"out_dir"}, batch_size=32, max_steps=500, lr=5e-4)
    p.set_defaults(func=run_pretrain)


def add_adapt_teacher(subparsers) -> None:
    p = subparsers.add_parser("adapt-teacher", help="train an MLM head on the frozen teacher encoder",
                              description="The teacher (all-MiniLM-L6-v2) has no MLM head; distillation needs its "
                                          "soft targets. Train the tied MLM head on the frozen encoder with MLM.")
    add_common_flags(p)
    p.add_argument("--teacher", help="a BERT or DistilBERT folder (default: all-MiniLM-L6-v2 from the registry)")
    add_mlm_flags(p, smoothing=0.0)
    add_dataclass_flags(p, TrainConfig, skip={"out_dir"}, batch_size=32, max_steps=300, lr=2e-3, warmup=0.02)
    p.set_defaults(func=run_adapt_teacher)


def add_distill(subparsers) -> None:
    p = subparsers.add_parser("distill", help="distil a teacher with an MLM head into a smaller student",
                              description="DistilBERT's triple loss: alpha_ce * KL * T^2 + alpha_mlm * MLM + "
                                          "alpha_cos * cosine(hidden states).")
    add_common_flags(p)
    p.add_argument("--teacher", required=True, help="a model folder with an MLM head (the output of adapt-teacher)")
    p.add_argument("--student-layers", help="comma-separated teacher layers copied into the student "
                                            "(default: minidistil.convert.STUDENT_LAYERS, 0,2,5 for 6 layers)")
    p.add_argument("--student-init", choices=("teacher", "random"), default="teacher",
                   help="copy the teacher's layers, or start from random weights (default: teacher)")
    p.add_argument("--alpha-ce", type=float, default=5.0, help="weight of KL(teacher || student) * T^2 (default: 5.0)")
    p.add_argument("--alpha-mlm", type=float, default=2.0, help="weight of the MLM loss (default: 2.0)")
    p.add_argument("--alpha-cos", type=float, default=1.0, help="weight of the hidden-state cosine loss (default: 1.0)")
    p.add_argument("--alpha-mse", type=float, default=0.0, help="weight of the logits MSE (default: 0.0)")
    p.add_argument("--temperature", type=float, default=2.0, help="softmax temperature T (default: 2.0)")
    p.add_argument("--restrict-ce-to-mask", action=argparse.BooleanOptionalAction, default=False,
                   help="compute the KL term on masked positions only (default: every real token)")
    add_mlm_flags(p, smoothing=0.7)
    add_dataclass_flags(p, TrainConfig, skip={"out_dir"}, batch_size=32, max_steps=500, lr=5e-4)
    p.set_defaults(func=run_distill)


def add_mlm_flags(p, smoothing: float, sparse: bool = False) -> None:
    p.add_argument("--mlm-probability", type=float, default=0.15, help="share of tokens predicted (default: 0.15)")
    p.add_argument("--mlm-smoothing", type=float, default=smoothing,
                   help=f"pick masked positions by frequency ** -x; 0 for uniform (default: {smoothing}; "
                        f"DistilBERT used 0.7)")
    if sparse:  # distillation reads the logits of every real token; adapt-teacher is always sparse
        p.add_argument("--sparse-head", action=argparse.BooleanOptionalAction, default=True,
                       help="project only masked positions onto the vocabulary (default: on)")


def load_corpus(args) -> tuple[TokenCorpus, TokenCorpus]:
    corpus = TokenCorpus(args.data)
    if not 0 < args.eval_chunks < len(corpus):
        raise ValueError(f"--eval-chunks must be between 1 and {len(corpus) - 1} for this corpus of "
                         f"{len(corpus)} chunks, got {args.eval_chunks}")
    return corpus.split(args.eval_chunks)


def train_config(args) -> TrainConfig:
    return dataclass_from_args(TrainConfig, args, out_dir=args.out)


def corpus_collate(corpus):
    from functools import partial

    from minidistil.data import collate
    return partial(collate, pad_token_id=corpus.special_ids["pad"])


def run_pretrain(args) -> None:
    from minidistil import DistilBertConfig, DistilBertForMaskedLM
    train_data, eval_data = load_corpus(args)
    if args.init:
        model = DistilBertForMaskedLM.from_pretrained(args.init)
    else:
        config = DistilBertConfig(vocab_size=train_data.vocab_size, dim=args.dim, n_layers=args.n_layers,
                                  n_heads=args.n_heads, hidden_dim=args.hidden_dim,
                                  max_position_embeddings=max(512, train_data.meta["options"]["max_length"]),
                                  pad_token_id=train_data.special_ids["pad"])
        model = DistilBertForMaskedLM(config)
    from minidistil.distill import check_vocabulary
    check_vocabulary(model, train_data)
    task = mlm_task_for(model, train_data, mlm_smoothing=args.mlm_smoothing, sparse=args.sparse_head,
                        mlm_probability=args.mlm_probability)
    run_training(args, task, model, train_data, eval_data)


def run_adapt_teacher(args) -> None:
    from minidistil import DistilBertForMaskedLM, sources
    from minidistil.distill import TeacherHeadTask, check_vocabulary, init_teacher_head
    train_data, eval_data = load_corpus(args)
    teacher = DistilBertForMaskedLM.from_pretrained(args.teacher or sources.teacher_dir(), new_head=True)
    check_vocabulary(teacher, train_data, "teacher")
    init_teacher_head(teacher, train_data.counts)
    masking = mlm_task_for(teacher, train_data, mlm_smoothing=args.mlm_smoothing,
                           mlm_probability=args.mlm_probability).masking
    run_training(args, TeacherHeadTask(teacher, masking), teacher, train_data, eval_data)


def run_distill(args) -> None:
    from minidistil import DistilBertForMaskedLM
    from minidistil.convert import CheckpointError
    from minidistil.distill import DistillationTask, check_vocabulary, make_student
    if args.restrict_ce_to_mask and args.alpha_ce == 0:
        raise ValueError("--restrict-ce-to-mask restricts the KL term, which --alpha-ce 0 turns off; drop one")
    if args.temperature != 2.0 and args.alpha_ce == 0:
        raise ValueError("--temperature only affects the KL term, which --alpha-ce 0 turns off; drop one")
    train_data, eval_data = load_corpus(args)
    try:
        teacher = DistilBertForMaskedLM.from_pretrained(args.teacher)
    except CheckpointError as e:
        raise ValueError(f"{e}\nThe teacher needs an MLM head for its soft targets: run "
                         f"`python -m minidistil adapt-teacher` first and pass its model folder") from None
    check_vocabulary(teacher, train_data, "teacher")
    layers = tuple(int(i) for i in args.student_layers.split(",")) if args.student_layers else None
    student = make_student(teacher, layers, random_init=args.student_init == "random")
    masking = mlm_task_for(student, train_data, mlm_smoothing=args.mlm_smoothing,
                           mlm_probability=args.mlm_probability).masking
    task = DistillationTask(student, teacher, masking, alpha_ce=args.alpha_ce, alpha_mlm=args.alpha_mlm,
                            alpha_cos=args.alpha_cos, alpha_mse=args.alpha_mse, temperature=args.temperature,
                            restrict_ce_to_mask=args.restrict_ce_to_mask)
    run_training(args, task, student, train_data, eval_data)


def run_training(args, task, model, train_data, eval_data) -> None:
    """Train, evaluate (MLM perplexity of `model` on the held-out chunks), save `out/model`, print a table."""
    config = train_config(args)
    collate_fn = corpus_collate(train_data)
    eval_task = mlm_task_for(model, train_data, sparse=True)

    def eval_fn(_task):
        return evaluate_losses(eval_task, eval_data, batch_size=config.batch_size, collate_fn=collate_fn,
                               seed=config.seed)

    result = train(task, train_data, config, collate_fn=collate_fn, eval_fn=eval_fn)
    if int(os.environ.get("RANK", "0")) == 0:
        folder = Path(model.save_pretrained(Path(args.out) / "model"))
        copy_tokenizer_files(args.data, folder)  # prepare_corpus saved the tokenizer beside the ids
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in result.items()
                 if k not in ("eval_loss", "eval_mlm")}
        print(table({**shown, "model": folder, "metrics": Path(args.out) / "metrics.jsonl"}))


# ---------------------------------------------------------------- main

def table(rows: dict) -> str:
    width = max(len(str(k)) for k in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows.items())


def add_subcommands(subparsers) -> None:
    """The data, pretraining and distillation commands."""
    add_prepare_data(subparsers)
    add_pretrain(subparsers)
    add_adapt_teacher(subparsers)
    add_distill(subparsers)


def add_finetune_subcommands(subparsers) -> None:
    from minidistil.finetune import add_subcommands as add
    add(subparsers)


# Each entry adds its commands to the parser; a new module registers here with one line.
REGISTRARS = [add_subcommands, add_finetune_subcommands]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidistil", description="DistilBERT from scratch: data, "
                                     "pretraining, distillation and fine-tuning.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for register in REGISTRARS:
        register(subparsers)
    for name, sub in subparsers.choices.items():
        sub.set_defaults(subparser=sub)
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        sub = args.subparser
        settings = read_config_file(args.config)
        known = {a.dest for a in sub._actions} - {"help", "config", "func", "subparser"}
        unknown = sorted(set(settings) - known)
        if unknown:
            sub.error(f"{args.config} has unknown setting(s) {unknown}; known: {sorted(known)}")
        sub.set_defaults(**settings)  # flags on the command line still win
        for action in sub._actions:
            if action.dest in settings:
                action.required = False
        args = parser.parse_args(argv)
    return args


def read_config_file(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path} must hold a JSON object of settings, like {{\"max_steps\": 200}}")
    return {k.replace("-", "_"): v for k, v in settings.items()}


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
        args.func(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"minidistil: error: {e}", file=sys.stderr)
        return 2
    return 0
