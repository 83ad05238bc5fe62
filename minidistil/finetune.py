"""Fine-tuning on the shared training loop, evaluation, a small grid search, task-time distillation.

    >>> task = tasks.load("sentiment")
    >>> result = finetune(task, sources.teacher_dir(), FinetuneConfig(out_dir="runs/sentiment"))
    >>> result["test"]["accuracy"]

What a run does:
1. Encode the task's examples for its head (`minidistil.features`): snippets are truncated to
   `max_length` tokens; long documents are cut into windows overlapping by `stride` tokens, each
   window a training example with its document's label (the first `max_windows` of each document).
2. Load the encoder from a folder (a BERT folder such as all-MiniLM-L6-v2 converts on load) with a
   fresh head sized to the label set, dropout set to `dropout`.
3. Train with `minidistil.train.train`: AdamW, linear warmup then decay, weight decay on weight
   matrices only. The validation metric is computed `evals_per_epoch` times per epoch; whenever it
   improves the model is saved to `out_dir/best`; after `patience` evaluations without improvement
   the run stops (early stopping). The best model is then scored on the test split.
4. `grid_search` repeats this over learning rates x epochs, picks the pair with the best validation
   metric and reports that run's test metrics: the test split is never used to choose.

Task-time distillation (the DistilBERT (D) of Sanh et al. 2019, section 4.2): pass `teacher=` a
fine-tuned model folder; its softened class probabilities on every training example join the loss,
    loss = alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy(labels).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import features as feats
from . import metrics, tasks
from .convert import load_pretrained
from .heads import (DistilBertForMultipleChoice, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from .losses import distillation_kl
from .tokenizer import copy_tokenizer_files
from .train import TrainConfig, train

HEADS = {"sequence": DistilBertForSequenceClassification, "token": DistilBertForTokenClassification,
         "choice": DistilBertForMultipleChoice, "qa": DistilBertForQuestionAnswering}


@dataclass
class FinetuneConfig:
    out_dir: str = "runs/finetune"  # best/ (the kept model), metrics.jsonl, results.json
    lr: float = 5e-5                # peak learning rate (BERT's fine-tuning range: 2e-5 .. 5e-5)
    epochs: int = 3                 # passes over the training features (the schedule spans all)
    batch_size: int = 32            # examples (or windows of long documents) per optimizer step
    max_length: int = 128           # tokens per input row (at most the model's 512)
    stride: int | None = None       # overlap of consecutive windows over a long text; None: max_length / 4
    max_windows: int = 1            # windows per long document used in training (prediction uses all)
    weight_decay: float = 0.01      # AdamW decay on weight matrices, a regulariser
    dropout: float | None = None    # encoder dropout; None keeps the checkpoint's (0.1)
    freeze_word_embeddings: bool = True  # keep the (V, C) token table fixed (see finetune())
    warmup: float = 0.1             # fraction of the steps with a linear warmup
    evals_per_epoch: int = 1        # validation passes per epoch (each may save a new best)
    patience: int = 2               # evaluations without improvement before stopping early
    seed: int = 42
    train_limit: int | None = None  # use only the first N training examples (a quick run)
    eval_limit: int | None = None   # score only the first N validation and test examples
    max_answer_length: int = 30     # QA: longest answer span, in tokens
    alpha: float = 0.5              # distillation: weight of the teacher's soft labels
    temperature: float = 2.0        # distillation: softening of both distributions
    progress: bool = True

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.evals_per_epoch < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size, evals_per_epoch and patience must be >= 1")
        if self.stride is None:
            self.stride = self.max_length // 4
        if not 8 <= self.max_length <= 512 or not 0 <= self.stride <= self.max_length // 2:
            raise ValueError(f"max_length must lie in [8, 512] and stride in [0, max_length / 2], "
                             f"got {self.max_length} and {self.stride}")
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError("alpha must lie in [0, 1] and temperature be > 0")


class EarlyStop(Exception):
    """Raised from the evaluation hook to end training; the shared loop has no stop signal."""


class Features(list):
    """Encoded features with the `lengths` the shared loop uses to batch similar lengths together."""

    @property
    def lengths(self) -> np.ndarray:
        return np.array([max(map(len, f["input_ids"])) if isinstance(f["input_ids"], list)
                         else len(f["input_ids"]) for f in self])


class FinetuneTask(nn.Module):
    """What the shared loop trains: the head's own loss, plus the distillation term when the batch
    carries a teacher's logits."""

    def __init__(self, model: nn.Module, alpha: float = 0.5, temperature: float = 2.0):
        super().__init__()
        self.model, self.alpha, self.temperature = model, alpha, temperature

    def forward(self, batch: dict) -> dict:
        teacher_logits = batch.pop("teacher_logits", None)
        out = self.model(**batch)
        if teacher_logits is None:
            return {"loss": out.loss}
        kl = distillation_kl(out.logits, teacher_logits, self.temperature)  # (B, Y) each
        return {"loss": self.alpha * kl + (1 - self.alpha) * out.loss, "ce": out.loss.detach(), "kl": kl.detach()}


# ---------------------------------------------------------------- encode, predict, score

def load_tokenizer(folder):
    from .tokenizer import WordPieceTokenizer
    return WordPieceTokenizer.from_pretrained(folder)


def load_model(task: tasks.Task, folder, dropout: float | None = None) -> nn.Module:
    """The task's head on the encoder in `folder`; a head that does not fit the labels starts fresh."""
    overrides = {"dropout": dropout} if dropout is not None else {}
    if task.kind in ("sequence", "token"):
        overrides["id2label"] = dict(enumerate(task.labels))
        overrides["label2id"] = task.label2id()
    raw = json.loads((Path(folder) / "config.json").read_text())
    fits = raw.get("architectures", [None])[0] == HEADS[task.kind].__name__ and (
        task.kind not in ("sequence", "token") or list(raw.get("id2label", {}).values()) == task.labels)
    return load_pretrained(HEADS[task.kind], folder, new_head=not fits, **overrides)


def encode(task: tasks.Task, examples, tokenizer, cfg: FinetuneConfig, training: bool) -> Features:
    if task.kind == "sequence":
        windows = (cfg.max_windows if training else None) if task.long_documents else 1
        found = feats.encode_sequence(tokenizer, examples, task.label2id(), cfg.max_length,
                                      cfg.stride if task.long_documents else 0, windows)
    elif task.kind == "token":
        found = feats.encode_token(tokenizer, examples, task.label2id(), cfg.max_length, cfg.stride)
    elif task.kind == "choice":
        found = feats.encode_choice(tokenizer, examples, cfg.max_length)
    else:
        found = feats.encode_qa(tokenizer, examples, cfg.max_length, cfg.stride)
    return Features(found)


def model_inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels",
                                                   "start_positions", "end_positions", "teacher_logits")}


@torch.no_grad()
def forward_all(model, features, pad_token_id: int, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Logits for every feature in its order (length-sorted batches inside). Token-level logits are
    padded to the longest feature."""
    was_training = model.training
    model.eval()
    outputs = {}
    T = max(len(f["input_ids"]) if not isinstance(f["input_ids"], list) else 0 for f in features)
    for batch_ids in feats.length_sorted_batches(features, batch_size):
        batch = feats.collate([features[i] for i in batch_ids], pad_token_id)
        out = model(batch["input_ids"], attention_mask=batch["attention_mask"])
        for name in ("logits", "start_logits", "end_logits"):
            value = getattr(out, name, None)
            if value is None:
                continue
            if name != "logits" or value.dim() == 3:  # per-token outputs: pad to the longest feature
                value = nn.functional.pad(value, [0, 0] * (value.dim() - 2) + [0, T - value.shape[1]])
            if name not in outputs:
                outputs[name] = torch.zeros((len(features), *value.shape[1:]))
            outputs[name][batch_ids] = value.float()
    model.train(was_training)
    return outputs


def predict(model, tokenizer, task: tasks.Task, examples, cfg: FinetuneConfig) -> list:
    """One prediction per example: a label, a list of word tags, a choice index or an answer string."""
    found = encode(task, examples, tokenizer, cfg, training=False)
    out = forward_all(model, found, tokenizer.pad_token_id)
    if task.kind == "sequence":
        probs = feats.decode_sequence(out["logits"], found, len(examples))
        return [task.labels[i] for i in probs.argmax(1)]
    if task.kind == "token":
        return feats.decode_token(out["logits"], found, examples, dict(enumerate(task.labels)))
    if task.kind == "choice":
        return out["logits"].argmax(1).tolist()
    answers = feats.decode_qa(out["start_logits"], out["end_logits"], found, examples, cfg.max_answer_length,
                              handle_impossible_answer=True)
    return [a[0]["answer"] for a in answers]


def score(task: tasks.Task, predictions: list, examples) -> dict:
    """The task's metrics; the key named `task.metric` is the one model selection uses."""
    if task.kind == "sequence":
        return metrics.classification_report(predictions, [e["label"] for e in examples], task.labels)
    if task.kind == "token":
        golds = [e["tags"] for e in examples]
        report = metrics.token_f1(predictions, golds)
        result = {"f1": report["overall"]["f1"], "per_label": report}
        if any(t[:2] in ("B-", "I-") for t in task.labels):
            result["entity_f1"] = metrics.entity_f1(predictions, golds)["overall"]["f1"]
        return result
    if task.kind == "choice":
        return {"accuracy": metrics.accuracy(predictions, [e["label"] for e in examples])}
    return metrics.squad_scores(predictions, [e["answers"] for e in examples])


def evaluate(model, tokenizer, task: tasks.Task, split: str = "test", cfg: FinetuneConfig | None = None) -> dict:
    cfg = cfg or FinetuneConfig()
    examples = getattr(task, split)[:cfg.eval_limit]
    return score(task, predict(model, tokenizer, task, examples, cfg), examples)


# ---------------------------------------------------------------- fine-tuning

def finetune(task: tasks.Task, model_dir, cfg: FinetuneConfig, teacher_dir=None, model: nn.Module | None = None) -> dict:
    """Fine-tune the encoder in `model_dir` (or `model`, already built) on `task`; keep the best
    model in `cfg.out_dir/best`; return the validation history and the best model's test metrics."""
    out = Path(cfg.out_dir)
    tokenizer = load_tokenizer(model_dir)
    model = model if model is not None else load_model(task, model_dir, cfg.dropout)
    model.train()
    # The token table is half of a small model's weights (30,522 x 384 of MiniLM's 22.7M); a few
    # thousand labelled examples touch few of its rows, and its gradient and AdamW state cost as
    # much time as the rest. Freezing it is cheap regularisation.
    model.distilbert.embeddings.word_embeddings.weight.requires_grad_(not cfg.freeze_word_embeddings)
    train_features = encode(task, task.train[:cfg.train_limit], tokenizer, cfg, training=True)
    if teacher_dir is not None:
        if task.kind not in ("sequence", "choice"):
            raise ValueError(f"task-time distillation here distils class probabilities (sequence and "
                             f"choice tasks), not {task.kind} outputs")
        teacher = load_model(task, teacher_dir)
        logits = forward_all(teacher, train_features, tokenizer.pad_token_id)["logits"]
        for f, row in zip(train_features, logits):
            f["teacher_logits"] = row.numpy()
    steps_per_epoch = len(train_features) // cfg.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train_features)} training rows cannot fill one batch of {cfg.batch_size}")
    max_steps = steps_per_epoch * cfg.epochs
    train_config = TrainConfig(out_dir=str(out), max_steps=max_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                               betas=(0.9, 0.999), eps=1e-8, weight_decay=cfg.weight_decay, warmup=cfg.warmup,
                               max_grad_norm=1.0, seed=cfg.seed, save_every=max_steps, log_every=10,
                               eval_every=max(1, steps_per_epoch // cfg.evals_per_epoch), progress=cfg.progress)
    validation = task.validation[:cfg.eval_limit]
    history, best = [], {"value": -float("inf"), "evals_since": 0}

    def eval_fn(wrapped: FinetuneTask) -> dict:
        result = score(task, predict(wrapped.model, tokenizer, task, validation, cfg), validation)
        value = result[task.metric]
        history.append(value)
        if value > best["value"]:
            best.update(value=value, evals_since=0, step=len(history))
            save_model(wrapped.model, model_dir, out / "best")
        else:
            best["evals_since"] += 1
            if best["evals_since"] >= cfg.patience:
                raise EarlyStop
        return {task.metric: value}

    torch.manual_seed(cfg.seed)
    stopped_early = False
    try:
        train(FinetuneTask(model, cfg.alpha, cfg.temperature), train_features, train_config,
              collate_fn=lambda rows: model_inputs(collate_with_teacher(rows, tokenizer.pad_token_id)),
              eval_fn=eval_fn)
    except EarlyStop:
        stopped_early = True
    # The loop's resume checkpoint (weights + optimizer state) is not needed once the run is over.
    (out / "checkpoint.pt").unlink(missing_ok=True)
    best_model = load_model(task, out / "best")
    result = {"task": task.name, "config": asdict(cfg), "validation_history": history,
              "best_validation": best["value"], "stopped_early": stopped_early,
              "validation": evaluate(best_model, tokenizer, task, "validation", cfg),
              "test": evaluate(best_model, tokenizer, task, "test", cfg)}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def collate_with_teacher(rows: list[dict], pad_token_id: int) -> dict:
    batch = feats.collate(rows, pad_token_id)
    if "teacher_logits" in rows[0]:
        batch["teacher_logits"] = torch.tensor(np.stack([r["teacher_logits"] for r in rows]))
    return batch


def save_model(model, source_dir, folder: Path) -> None:
    """save_pretrained, plus the tokenizer files of the source folder so the folder stands alone."""
    folder = Path(folder)
    model.save_pretrained(folder)
    copy_tokenizer_files(source_dir, folder)


def grid_search(task: tasks.Task, model_dir, cfg: FinetuneConfig, lrs=(3e-5, 1e-4), epochs=(1, 2)) -> dict:
    """Fine-tune once per (lr, epochs); choose on validation; report the chosen run's test metrics."""
    runs = []
    for lr in lrs:
        for n in epochs:
            run_cfg = FinetuneConfig(**{**asdict(cfg), "lr": lr, "epochs": n,
                                        "out_dir": str(Path(cfg.out_dir) / f"lr{lr:g}-ep{n}")})
            result = finetune(task, model_dir, run_cfg)
            runs.append({"lr": lr, "epochs": n, "validation": result["best_validation"],
                         "test": result["test"][task.metric], "folder": str(Path(run_cfg.out_dir) / "best")})
    chosen = max(runs, key=lambda r: r["validation"])
    summary = {"task": task.name, "metric": task.metric, "runs": runs, "chosen": chosen}
    (Path(cfg.out_dir) / "grid.json").write_text(json.dumps(summary, indent=1))
    return summary


# ---------------------------------------------------------------- command line

def add_subcommands(subparsers) -> None:
    """Register finetune / evaluate / predict on the `python -m minidistil` parser."""
    p = subparsers.add_parser("finetune", help="fine-tune a model folder on a task; keep the best checkpoint")
    _task_args(p)
    p.add_argument("--model", required=True, help="model folder to start from (a BERT folder works)")
    p.add_argument("--teacher", help="a fine-tuned model folder whose soft labels are distilled")
    p.add_argument("--grid", action="store_true", help="grid over --lrs x --epoch-grid, chosen on validation")
    p.add_argument("--lrs", type=float, nargs="+", default=[3e-5, 1e-4])
    p.add_argument("--epoch-grid", type=int, nargs="+", default=[1, 2])
    p.add_argument("--train-word-embeddings", dest="freeze_word_embeddings", action="store_false",
                   help="also train the token embedding table (frozen by default)")
    from .cli import field_help  # the trailing comment of each FinetuneConfig field
    helps = field_help(FinetuneConfig)
    for f in ("out_dir", "lr", "epochs", "batch_size", "max_length", "stride", "max_windows", "weight_decay",
              "dropout", "patience", "evals_per_epoch", "seed", "train_limit", "eval_limit", "alpha", "temperature"):
        default = FinetuneConfig.__dataclass_fields__[f].default
        kind = float if isinstance(default, float) or f == "dropout" else str if f == "out_dir" else int
        p.add_argument("--" + f.replace("_", "-"), type=kind, default=default,
                       help=f"{helps.get(f, '')} (default: {default})")
    p.set_defaults(func=_cmd_finetune)

    p = subparsers.add_parser("evaluate", help="score a fine-tuned model folder on a task split")
    _task_args(p)
    p.add_argument("--model", required=True)
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--eval-limit", type=int, default=None)
    p.set_defaults(func=_cmd_evaluate)

    p = subparsers.add_parser("predict", help="label texts (arguments, or one per line on stdin)")
    p.add_argument("--model", required=True)
    p.add_argument("texts", nargs="*")
    p.set_defaults(func=_cmd_predict)


def _task_args(p) -> None:
    p.add_argument("--task", default="sentiment", help=f"one of {sorted(tasks.REGISTRY)}, or a .csv/.jsonl file")
    p.add_argument("--kind", default="sequence", choices=tasks.KINDS, help="for a file: which head")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--split-seed", type=int, default=0)


def _load_task(args) -> tasks.Task:
    if Path(args.task).suffix in (".csv", ".tsv", ".jsonl", ".json"):
        return tasks.from_file(args.task, args.kind, args.text_column, args.label_column, seed=args.split_seed)
    return tasks.load(args.task, seed=args.split_seed)


def _cmd_finetune(args) -> None:
    task = _load_task(args)
    cfg = FinetuneConfig(**{f: getattr(args, f) for f in FinetuneConfig.__dataclass_fields__ if hasattr(args, f)})
    if args.grid:
        summary = grid_search(task, args.model, cfg, args.lrs, args.epoch_grid)
        print(f"{'lr':>8} {'epochs':>6} {'val ' + task.metric:>14} {'test ' + task.metric:>14}")
        for r in summary["runs"]:
            mark = "  <- chosen on validation" if r is summary["chosen"] else ""
            print(f"{r['lr']:>8g} {r['epochs']:>6} {r['validation']:>14.4f} {r['test']:>14.4f}{mark}")
        return
    result = finetune(task, args.model, cfg, teacher_dir=args.teacher)
    print_metrics(task.name, {"validation": result["validation"], "test": result["test"]})
    print(f"best model: {Path(cfg.out_dir) / 'best'}")


def _cmd_evaluate(args) -> None:
    task = _load_task(args)
    cfg = FinetuneConfig(max_length=args.max_length, eval_limit=args.eval_limit)
    model = load_model(task, args.model)
    print_metrics(task.name, {args.split: evaluate(model, load_tokenizer(args.model), task, args.split, cfg)})


def _cmd_predict(args) -> None:
    import sys
    from .pipelines import pipeline
    texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
    architecture = json.loads((Path(args.model) / "config.json").read_text()).get("architectures", [""])[0]
    if architecture == DistilBertForSequenceClassification.__name__:
        for text, result in zip(texts, pipeline("text-classification", model=args.model)(texts)):
            print(f"{result['label']}\t{result['score']:.3f}\t{text}")
    elif architecture == DistilBertForTokenClassification.__name__:
        tag = pipeline("token-classification", model=args.model)
        for text, found in zip(texts, tag(texts, aggregation_strategy="first")):
            print(text + "\n" + "".join(f"  {e['word']}\t{e['entity_group']}\t{e['score']:.3f}\n" for e in found))
    else:
        raise ValueError(f"predict labels texts with a sequence or token classifier; {args.model} holds "
                         f"{architecture or 'no architecture'} (use minidistil.pipeline for other tasks)")


def print_metrics(name: str, results: dict[str, dict]) -> None:
    """A small table: one row per split, one column per scalar metric."""
    keys = [k for k, v in next(iter(results.values())).items() if isinstance(v, float)]
    print(f"{name:<12}" + "".join(f"{k:>12}" for k in keys))
    for split, values in results.items():
        print(f"{split:<12}" + "".join(f"{values[k]:>12.4f}" for k in keys))
