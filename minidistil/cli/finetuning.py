"""The commands that use a task: finetune, evaluate, predict (the library is minidistil.training.finetune)."""
from __future__ import annotations

import json
from pathlib import Path

from minidistil.data import kinds, tasks
from minidistil.cli.flags import add_dataclass_flags, dataclass_from_args
from minidistil.cli.output import check_device, check_output_folder
from minidistil.training.finetune import (MODEL_DIR, FinetuneConfig, cross_validate, evaluate, finetune, grid_search,
                                 load_model, load_tokenizer, metrics_table)

# The FinetuneConfig fields that change how examples are read and scored, not how a model trains.
READING_FIELDS = ("max_length", "stride", "max_windows", "eval_limit", "max_answer_length")


def add_commands(subparsers) -> None:
    add_finetune(subparsers)
    add_evaluate(subparsers)
    add_predict(subparsers)


def add_task_flags(p) -> None:
    p.add_argument("--task", default="sentiment",
                   help=f"a registered task, one of {sorted(tasks.REGISTRY)}, or your own .csv/.jsonl file "
                        f"(default: sentiment)")
    p.add_argument("--kind", default="sequence", choices=kinds.Names(finetuned=True),
                   help="for a file: which head reads it (default: sequence)")
    p.add_argument("--text-column", default="text", help="for a file: the column of the text (default: text)")
    p.add_argument("--label-column", default="label", help="for a file: the column of the label (default: label)")
    p.add_argument("--split-seed", type=int, default=0,
                   help="seed of the fixed train / validation / test split (default: 0)")
    p.add_argument("--encoding", help="the encoding of your text files or stdin when it is not UTF-8 (gbk, big5, latin-1...)")


def load_task(args) -> tasks.TaskData:
    if Path(args.task).suffix in (".csv", ".tsv", ".jsonl", ".json"):
        return tasks.from_file(args.task, args.kind, args.text_column, args.label_column, seed=args.split_seed,
                               encoding=getattr(args, "encoding", None))
    return tasks.load(args.task, seed=args.split_seed)


# ---------------------------------------------------------------- finetune

def add_finetune(subparsers) -> None:
    p = subparsers.add_parser("finetune", help="fine-tune a model folder on a task; keep the best model",
                              description="Fine-tune an encoder with a fresh head on a task's training split, "
                                          "keep the model with the best validation score in OUT/model, and "
                                          "score it on the test split. With --teacher, a fine-tuned model's "
                                          "soft labels join the loss (task-time distillation).")
    add_task_flags(p)
    p.add_argument("--config", help="a JSON file of settings (keys: the flag names with underscores)")
    p.add_argument("--model", required=True, help="the model folder to start from (a BERT folder works)")
    p.add_argument("--out", "--out-dir", dest="out_dir", default=FinetuneConfig.out_dir,
                   help=f"the run's folder: model/ (the best model with its tokenizer), metrics.jsonl, "
                        f"results.json (default: {FinetuneConfig.out_dir})")
    p.add_argument("--teacher", help="a fine-tuned model folder whose soft labels are distilled into the model")
    p.add_argument("--grid", action="store_true",
                   help="one run per --lrs x --epoch-grid, each in OUT/lr<lr>-ep<epochs>; chosen on validation")
    p.add_argument("--lrs", type=float, nargs="+", default=[3e-5, 1e-4],
                   help="learning rates of the grid (default: 3e-5 1e-4)")
    p.add_argument("--epoch-grid", type=int, nargs="+", default=[1, 2],
                   help="epoch counts of the grid (default: 1 2)")
    p.add_argument("--folds", type=int, default=0,
                   help="with --grid: choose by k-fold cross-validation on the training split, then fine-tune "
                        "the chosen setting once and score the test split once (default: 0, choose on the "
                        "validation split)")
    p.add_argument("--train-word-embeddings", dest="freeze_word_embeddings", action="store_false",
                   help="also train the token embedding table (the same as --no-freeze-word-embeddings)")
    add_dataclass_flags(p, FinetuneConfig, skip={"out_dir"})
    p.set_defaults(func=run_finetune)


def run_finetune(args) -> None:
    check_device(args.device)
    check_output_folder(args.out_dir)
    task = load_task(args)
    cfg = dataclass_from_args(FinetuneConfig, args)
    if args.folds and not args.grid:
        raise ValueError("--folds chooses among the --grid settings; add --grid")
    if args.grid and args.folds:
        summary = cross_validate(task, args.model, cfg, args.lrs, args.epoch_grid, args.folds, teacher_dir=args.teacher)
        print(f"{'lr':>8} {'epochs':>6} " + " ".join(f"{'fold ' + str(k):>8}" for k in range(args.folds))
              + f" {'mean':>8}")
        for r in summary["runs"]:
            mark = "  <- chosen" if r is summary["chosen"] else ""
            print(f"{r['lr']:>8g} {r['epochs']:>6} " + " ".join(f"{v:>8.4f}" for v in r["folds"])
                  + f" {r['mean']:>8.4f}{mark}")
        print(f"test {task.metric} of the chosen setting, fine-tuned on the whole training split: "
              f"{summary['test'][task.metric]:.4f}\nchosen model: {summary['folder']}")
        return
    if args.grid:
        summary = grid_search(task, args.model, cfg, args.lrs, args.epoch_grid, teacher_dir=args.teacher)
        print(f"{'lr':>8} {'epochs':>6} {'val ' + task.metric:>14} {'test ' + task.metric:>14}")
        for r in summary["runs"]:
            mark = "  <- chosen on validation" if r is summary["chosen"] else ""
            print(f"{r['lr']:>8g} {r['epochs']:>6} {r['validation']:>14.4f} {r['test']:>14.4f}{mark}")
        print(f"chosen model: {summary['chosen']['folder']}")
        return
    result = finetune(task, args.model, cfg, teacher_dir=args.teacher)
    print(metrics_table(task.name, {"validation": result["validation"], "test": result["test"]}))
    print(f"best model: {Path(cfg.out_dir) / MODEL_DIR}")


# ---------------------------------------------------------------- evaluate

def add_evaluate(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="score a fine-tuned model folder on a task split",
                              description="Predict every example of one split of a task with a fine-tuned "
                                          "model folder and print the task's metrics.")
    add_task_flags(p)
    p.add_argument("--model", required=True, help="a fine-tuned model folder (the model/ folder finetune writes)")
    p.add_argument("--split", default="test", choices=("train", "validation", "test"),
                   help="the split to score (default: test)")
    add_dataclass_flags(p, FinetuneConfig, only=READING_FIELDS)
    p.set_defaults(func=run_evaluate)


def run_evaluate(args) -> None:
    cfg = dataclass_from_args(FinetuneConfig, args)
    task = load_task(args)
    model = load_model(task, args.model)
    print(metrics_table(task.name, {args.split: evaluate(model, load_tokenizer(args.model), task, args.split, cfg)}))


# ---------------------------------------------------------------- predict

def add_predict(subparsers) -> None:
    p = subparsers.add_parser("predict", help="label texts (arguments, or one per line on stdin)",
                              description="Label each text with a fine-tuned sequence classifier (label and "
                                          "probability) or token classifier (tagged words).")
    p.add_argument("--model", required=True, help="a fine-tuned classifier folder (the model/ folder finetune writes)")
    p.add_argument("texts", nargs="*", help="the texts to label; none: read one text per line from stdin")
    p.add_argument("--encoding", help="the encoding of your text files or stdin when it is not UTF-8 (gbk, big5, latin-1...)")
    p.set_defaults(func=run_predict)


def run_predict(args) -> None:
    from minidistil.apps.convert import model_class
    from minidistil.apps.pipelines import pipeline
    from minidistil.utils import textio
    lines = textio.arguments(args.texts, args.encoding) if args.texts else textio.stdin_lines(args.encoding)
    texts = [line.strip() for line in lines if line.strip()]
    if not texts:
        raise ValueError("predict got no text: pass texts as arguments, or one per line on stdin")
    if not (Path(args.model) / "config.json").is_file():
        raise ValueError(f"{args.model} holds no config.json; pass a model folder written by finetune")
    cls, _ = model_class(args.model)
    kind = kinds.for_head(cls)
    if kind is None or kind.show is None:
        shown = [k.head.__name__ for k in kinds.KINDS.values() if k.show]
        raise ValueError(f"predict labels texts with a model of one of {shown}; {args.model} holds "
                         f"{cls.__name__} (use minidistil.pipeline for other tasks)")
    results = pipeline(kind.pipeline, model=args.model)(texts, **kind.predict_call)
    for text, result in zip(texts, results):
        print(kind.show(text, result))
