"""The commands that make a corpus and train on it: prepare-data, pretrain, adapt-teacher, distill.

Each training command is one call of `minidistil.recipes.recipe`; its flags are the fields of that step's
settings dataclass and of `TrainConfig` (`minidistil.cli.flags`).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from minidistil.nn.checkpoint import MODEL_DIR, CheckpointError
from minidistil.cli.flags import add_dataclass_flags, dataclass_from_args
from minidistil.utils import textio
from minidistil.cli.output import check_device, check_input_files, check_output_folder, table
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus, read_documents
from minidistil.training.distill import DistillLoss
from minidistil.recipes.recipe import (DistillSettings, PretrainSettings, TeacherSettings, adapt_teacher, check_corpus,
                               distill, pretrain)
from minidistil.training.train import TrainConfig

# Where a command's training settings start other than at TrainConfig's defaults.
TRAINING_DEFAULTS = {
    "pretrain": dict(max_steps=500),
    "distill": dict(max_steps=500),
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
    p.add_argument("--encoding", help="the encoding of your --input files when it is not UTF-8 (gbk, big5, latin-1...)")
    p.add_argument("--corpus", help="comma-separated registry corpora (default: all of "
                                    "bbc,speeches,debates,headlines,hamlet)")
    p.add_argument("--vocab", help="a vocab.txt, or a folder holding one (default: the teacher's, bert-base-uncased)")
    add_dataclass_flags(p, PrepareOptions)
    p.set_defaults(func=run_prepare_data)


def run_prepare_data(args) -> None:
    from minidistil.tokenizer import WordPieceTokenizer
    from minidistil.data import sources
    if args.input and args.corpus:
        raise ValueError("give either --input (your files) or --corpus (registry corpora), not both")
    if args.column and not args.input:
        raise ValueError("--column names a column of your --input files; it has no meaning for --corpus")
    if args.encoding and not args.input:
        raise ValueError("--encoding names the encoding of your --input files; it has no meaning for --corpus")
    check_input_files(args.input or [])
    check_output_folder(args.out)
    textio.check_encoding(args.encoding)
    vocab = Path(args.vocab) if args.vocab else sources.vocab_file()
    vocab = vocab / "vocab.txt" if vocab.is_dir() else vocab
    if not vocab.is_file():
        raise ValueError(f"{vocab} is not a vocab.txt file; pass --vocab a vocab.txt or a model folder")
    tokenizer = WordPieceTokenizer(vocab)
    if args.input:
        documents, total = (doc for path in args.input for doc in read_documents(path, args.column, args.encoding)), None
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

def add_training_parser(subparsers, name: str, help: str, description: str, out_help: str = OUT_HELP,
                        required: bool = True):
    """A parser with the flags every training command shares: --config, --out, --data, --eval-chunks
    and TrainConfig's fields (with this command's defaults)."""
    p = subparsers.add_parser(name, help=help, description=description)
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--out", required=required, help=out_help)
    p.add_argument("--data", required=required, help="a corpus folder written by prepare-data")
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
                    "its settings, and reused (about 21 minutes on 2 CPU cores with the defaults).")
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--out", help="the run's folder: model/, report.json, checkpoint.pt, metrics.jsonl, loss.png "
                                 "(default: the data cache, where later runs find it)")
    p.add_argument("--data", help="a corpus folder written by prepare-data, instead of the registry text (needs --out)")
    p.add_argument("--teacher", help="a BERT or DistilBERT folder to start from (default: all-MiniLM-L6-v2; "
                                     "needs --out)")
    p.add_argument("--device", default="cpu", help="where to train: cpu, cuda, cuda:1 (default: cpu)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                   help="a progress bar with the time left (default: on)")
    p.add_argument("--no-wait", action="store_true",
                   help="fail at once, instead of waiting, when another process is building the same teacher")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep checkpoint.pt and checkpoint.prev.pt beside the finished model (default: removed "
                        "once the model is written, to save disk)")
    p.add_argument("--language", choices=["en", "zh"], default="en",
                   help="zh: the Chinese encoder and its distilled student (minidistil.recipes.chinese), built once "
                        "into the data cache with their own settings (default: en)")
    p.add_argument("--preset", choices=["cpu", "gpu"], default="cpu",
                   help="with --language zh: gpu builds the Chinese encoder and student for about six passes over "
                        "the corpus instead of about one (minidistil.recipes.chinese.PRESETS; default: cpu)")
    add_dataclass_flags(p, TeacherSettings)
    p.set_defaults(func=run_adapt_teacher)


def add_distill(subparsers) -> None:
    p = add_training_parser(subparsers, "distill", "distil a teacher with an MLM head into a smaller student",
                            "DistilBERT's triple loss: alpha_ce * KL * T^2 + alpha_mlm * MLM + "
                            "alpha_cos * cosine(hidden states). With no --out, the default student "
                            "(`pretrained.student_dir()`: 3 layers of the cached teacher, about 25 minutes on 2 CPU "
                            "cores) is built once into the data cache, with report.json beside it, and reused.",
                            out_help=OUT_HELP + " (default: build the default student into the data cache; "
                                                "--data, --teacher and the settings flags then need --out)",
                            required=False)
    p.add_argument("--teacher", help="a model folder with an MLM head (the model/ folder that adapt-teacher writes)")
    p.add_argument("--device", default="cpu", help="where to train: cpu, cuda, cuda:1 (default: cpu)")
    p.add_argument("--no-wait", action="store_true",
                   help="with no --out: fail at once, instead of waiting, when another process builds the same student")
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
    if args.language == "zh":
        return run_chinese(args)
    if args.preset != "cpu":
        raise ValueError("--preset applies to --language zh; the English teacher takes its settings flags "
                         "(--max-steps, --batch-size, --bf16) and --device")
    if args.out:
        check_output_folder(args.out)
    folder = adapt_teacher(dataclass_from_args(TeacherSettings, args), args.out, device=args.device,
                           data=args.data, base=args.teacher, progress=args.progress, no_wait=args.no_wait,
                           keep_checkpoints=args.keep_checkpoints)
    report = json.loads((folder.parent / "report.json").read_text())
    before, after = report["released"], report["heldout"]
    print(table({"held-out perplexity": f"{after['perplexity']:.1f} (word frequencies: "
                                        f"{after['unigram_perplexity']:.1f}; before: {before['perplexity']:.1f})",
                 "held-out top-1 / top-5": f"{after['top1']:.3f} / {after['top5']:.3f} (word frequencies: "
                                           f"{after['unigram_top1']:.3f} / {after['unigram_top5']:.3f})",
                 "model": folder, "report": folder.parent / "report.json"}))


def run_distill(args) -> None:
    from minidistil.nn.heads import DistilBertForMaskedLM
    # A flag that only shapes the KL term says nothing once --alpha-ce 0 turns it off: refuse it
    # (DistillLoss itself refuses a temperature with alpha_ce 0, for library callers too).
    if args.restrict_ce_to_mask and args.alpha_ce == 0:
        raise ValueError("--restrict-ce-to-mask restricts the KL term, which --alpha-ce 0 turns off; drop one")
    check_device(args.device)
    if args.out is None:
        return run_default_student(args)
    if args.data is None or args.teacher is None:
        raise ValueError("a student distilled into --out needs --data (a corpus folder) and --teacher (a model "
                         "folder with an MLM head); with no --out, the default student is built into the cache")
    settings = dataclass_from_args(DistillSettings, args)
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


# The distill flags that mean something without --out: where and how the default student is built.
DEFAULT_STUDENT_FLAGS = {"device", "progress", "no_wait", "out", "command", "func", "subparser", "help"}


def run_default_student(args) -> None:
    """`distill` with no --out: build (or find) the default student in the cache and print its report."""
    from minidistil.recipes import pretrained
    sub = args.subparser
    changed = [a.option_strings[0] for a in sub._actions
               if a.dest not in DEFAULT_STUDENT_FLAGS and a.option_strings and getattr(args, a.dest) != sub.get_default(a.dest)]
    if changed:
        raise ValueError(f"{', '.join(changed)} shape a student distilled into a folder of yours: add --out; with no "
                         f"--out the default student is built with the settings of pretrained.StudentSettings")
    folder = pretrained.student_dir(no_wait=args.no_wait, progress=args.progress, device=args.device)
    report = json.loads((folder.parent / "report.json").read_text())
    rows = {}
    for name, r in report["models"].items():
        agreement = f", top-1 agreement with the teacher {r['agreement']:.3f}" if name != "teacher" else ""
        rows[f"{name}: perplexity, top-1 / top-5"] = (f"{r['perplexity']:.1f}, {r['top1']:.3f} / {r['top5']:.3f}"
                                                    f"{agreement}")
    rows["student / teacher perplexity"] = f"{report['student_over_teacher']:.2f} (goal: at most 1.3)"
    rows["student / undistilled perplexity"] = f"{report['student_over_undistilled']:.2f} (goal: at most 0.35)"
    print(table({**rows, "held-out masked tokens": report["models"]["student"]["masked_tokens"], "model": folder,
                 "report": folder.parent / "report.json", "curve": folder.parent / "heldout.png"}))


def train_config(args) -> TrainConfig:
    return dataclass_from_args(TrainConfig, args, out_dir=args.out)


def print_result(result: dict, out) -> None:
    """The last logged metrics and where the run's folder is (process 0 only under torchrun)."""
    if int(os.environ.get("RANK", "0")) == 0:
        shown = {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in result.items()
                 if k not in ("eval_loss", "eval_mlm")}
        print(table({**shown, "model": Path(out) / MODEL_DIR, "metrics": Path(out) / "metrics.jsonl"}))


def run_chinese(args) -> None:
    """`adapt-teacher --language zh`: the cached Chinese encoder, then the student distilled from it."""
    if args.out or args.data or args.teacher:
        raise ValueError("--language zh builds the cached Chinese encoder and student; drop --out, --data and "
                         "--teacher (their settings are minidistil.recipes.chinese.ChineseSettings)")
    from minidistil.recipes import chinese, pretrained
    teacher_settings, student_settings = chinese.PRESETS[args.preset]
    teacher_folder = pretrained.chinese_dir(teacher_settings, no_wait=args.no_wait, progress=args.progress,
                                            device=args.device)
    student_folder = pretrained.chinese_student_dir(student_settings, teacher_settings, no_wait=args.no_wait,
                                                    progress=args.progress, device=args.device)
    report = json.loads((student_folder.parent / "report.json").read_text())
    rows = {name: f"{r['perplexity']:.1f} (characters by frequency: {r['unigram_perplexity']:.1f})"
            for name, r in report.items() if isinstance(r, dict) and "perplexity" in r}
    print(table({**{f"held-out perplexity, {k}": v for k, v in rows.items()},
                 "teacher": teacher_folder, "student": student_folder}))
