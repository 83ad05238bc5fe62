"""Fine-tuning on the shared training loop, evaluation, a small grid search, task-time distillation.

    >>> task = tasks.load("sentiment")
    >>> result = finetune(task, sources.teacher_dir(), FinetuneConfig(out_dir="runs/sentiment"))
    >>> result["test"]["accuracy"]

What a run does:
1. Encode the task's examples for its head (`minidistil.data.features`): snippets are truncated to
   `max_length` tokens; long documents are cut into windows overlapping by `stride` tokens, each
   window a training example with its document's label (the first `max_windows` of each document).
2. Load the encoder from a folder (a BERT folder such as all-MiniLM-L6-v2 converts on load) with a
   fresh head sized to the label set, dropout set to `dropout`.
3. Train with `minidistil.training.train.train`: AdamW, linear warmup then decay, weight decay on weight
   matrices only. The validation metric is computed `evals_per_epoch` times per epoch; whenever it
   improves the model is saved to `out_dir/model`; after `patience` evaluations without improvement
   the run stops (early stopping), counted only once `min_steps` optimizer steps are done. The best
   model is then scored on the test split.
4. `grid_search` repeats this over learning rates x epochs, picks the pair with the best validation
   metric and reports that run's test metrics: the test split is never used to choose.

Task-time distillation (the DistilBERT (D) of Sanh et al. 2019, section 4.2): pass `teacher=` a
fine-tuned model folder; its softened class probabilities on every training example join the loss,
    loss = alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy(labels).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minidistil.data import features as feats
from minidistil.data import kinds, tasks
from minidistil.nn.checkpoint import MODEL_DIR, save_model
from minidistil.data.batching import collate, example_length, forward_in_length_order
from minidistil.nn.losses import IGNORE_INDEX, distillation_kl
from minidistil.training.resume import delete_checkpoint
from minidistil.tokenizer import WordPieceTokenizer, copy_tokenizer_files
from minidistil.training.train import TrainConfig, TrainSettings, train

# Every run keeps its final model in `out_dir/model` (the folder layout of minidistil.recipes.recipe).
# The batch fields the heads read as labels; the other fields of a feature are for decoding.
LABEL_FIELDS = ("labels", "start_positions", "end_positions")



@dataclass(frozen=True)
class FinetuneConfig(TrainSettings):
    """Fine-tuning's settings: the shared training settings (`TrainSettings`: lr, batch_size, seed,
    bf16) with fine-tuning's defaults, and its own."""
    lr: float = 5e-5                # peak learning rate (BERT's fine-tuning range: 2e-5 .. 5e-5)
    seed: int = 42                  # seeds the fresh head, dropout and the batch order
    out_dir: str = "runs/finetune"  # model/ (the best model), metrics.jsonl, results.json
    epochs: int = 3                 # passes over the training features (the schedule spans all)
    min_steps: int = 0              # the fewest optimizer steps: epochs are raised to reach it (few labels make few batches)
    max_length: int = 128           # tokens per input row (at most the model's 512)
    stride: int | None = None       # overlap of consecutive windows over a long text; None: max_length / 4
    max_windows: int = 1            # windows per long document used in training (prediction uses all)
    weight_decay: float = 0.01      # AdamW decay on weight matrices, a regulariser
    dropout: float | None = None    # encoder dropout; None keeps the checkpoint's (0.1)
    freeze_word_embeddings: bool = True  # keep the (V, C) token table fixed (see finetune())
    warmup: float = 0.1             # fraction of the steps with a linear warmup
    evals_per_epoch: int = 1        # validation passes per epoch (each may save a new best)
    patience: int = 2               # evaluations without improvement before stopping early
    train_limit: int | None = None  # use only the first N training examples (a quick run); none: all
    eval_limit: int | None = None   # score only the first N validation and test examples; none: all
    max_answer_length: int = 30     # QA: longest answer span, in tokens
    alpha: float = 0.5              # distillation: weight of the teacher's soft labels
    temperature: float = 2.0        # distillation: softening of both distributions
    progress: bool = True           # a tqdm bar on the console
    device: str = "cpu"             # where to train and predict: cpu, cuda, cuda:1

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.evals_per_epoch < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size, evals_per_epoch and patience must be >= 1")
        if self.min_steps < 0:
            raise ValueError(f"min_steps counts optimizer steps and must be >= 0, got {self.min_steps}")
        if self.stride is None:
            object.__setattr__(self, "stride", self.max_length // 4)
        if not 8 <= self.max_length <= 512 or not 0 <= self.stride <= self.max_length // 2:
            raise ValueError(f"max_length must lie in [8, 512] and stride in [0, max_length / 2], "
                             f"got {self.max_length} and {self.stride}")
        if not 0.0 <= self.alpha <= 1.0 or self.temperature <= 0:
            raise ValueError("alpha must lie in [0, 1] and temperature be > 0")
        for name in ("train_limit", "eval_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} counts examples and must be >= 1 (or None for all), "
                                 f"got {getattr(self, name)}")


class EarlyStop(Exception):
    """Raised from the evaluation hook to end training; the shared loop has no stop signal."""


class Features(list):
    """Encoded features with the `lengths` the shared loop uses to batch similar lengths together."""

    @property
    def lengths(self) -> np.ndarray:
        return np.array([example_length(f) for f in self])


class FinetuneTask(nn.Module):
    """What the shared loop trains: the head's own loss, plus the distillation term when the batch
    carries a teacher's logits."""

    def __init__(self, model: nn.Module, alpha: float = 0.5, temperature: float = 2.0):
        super().__init__()
        self.model, self.alpha, self.temperature = model, alpha, temperature

    def forward(self, batch: dict) -> dict:
        teacher_logits = batch.pop("teacher_logits", None)
        if teacher_logits is None:
            return {"loss": self.model(**batch).loss}
        # Rows of a transfer set carry only the teacher's labels (label IGNORE_INDEX): the hard-label
        # term reads the labelled rows, the KL term every row.
        labels = batch.pop("labels")
        logits = self.model(**batch).logits  # (B, Y)
        labelled = labels != IGNORE_INDEX
        ce = nn.functional.cross_entropy(logits[labelled], labels[labelled]) if labelled.any() else logits.sum() * 0
        kl = distillation_kl(logits, teacher_logits, self.temperature)  # (B, Y) each
        return {"loss": self.alpha * kl + (1 - self.alpha) * ce, "ce": ce.detach(), "kl": kl.detach()}


# ---------------------------------------------------------------- encode, predict, score

def load_tokenizer(folder) -> WordPieceTokenizer:
    return WordPieceTokenizer.from_pretrained(folder)


def load_model(task: tasks.TaskData, folder, dropout: float | None = None) -> nn.Module:
    """The task's head on the encoder in `folder`; a head that does not fit the labels starts fresh."""
    kind = kinds.get(task.kind)
    overrides = {"dropout": dropout} if dropout is not None else {}
    if kind.labelled:
        overrides["id2label"] = dict(enumerate(task.labels))
        overrides["label2id"] = task.label2id()
    raw = json.loads((Path(folder) / "config.json").read_text())
    fits = raw.get("architectures", [None])[0] == kind.head.__name__ and (
        not kind.labelled or list(raw.get("id2label", {}).values()) == task.labels)
    return kind.head.from_pretrained(folder, new_head=not fits, **overrides)  # int8 folders too


def encode(task: tasks.TaskData, examples, tokenizer, cfg: FinetuneConfig, training: bool) -> Features:
    return Features(kinds.get(task.kind).encode(task, examples, tokenizer, cfg, training))


@torch.no_grad()
def forward_all(model, features, pad_token_id: int, batch_size: int = 64,
                names: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """The outputs `names` (default: those of the model's kind) for every feature in its order
    (length-sorted batches inside). Token-level outputs are padded to the longest feature."""
    was_training = model.training
    model.eval()
    kind = kinds.for_head(type(model))
    names = names or (kind.outputs if kind else ("logits",))

    device = next(model.parameters()).device

    def forward(input_ids, attention_mask):  # on the model's device; the rows come back to the CPU
        out = model(input_ids.to(device), attention_mask=attention_mask.to(device))
        return tuple(getattr(out, n).float().cpu() for n in names)

    rows = forward_in_length_order(forward, features, pad_token_id, batch_size)
    T = max(example_length(f) for f in features)
    outputs = {}
    for k, name in enumerate(names):
        values = [r[k] for r in rows]
        if name != "logits" or values[0].dim() == 2:  # per-token outputs: pad to the longest feature
            values = [nn.functional.pad(v, [0, 0] * (v.dim() - 1) + [0, T - v.shape[0]]) for v in values]
        outputs[name] = torch.stack(values).float()
    model.train(was_training)
    return outputs


def predict(model, tokenizer, task: tasks.TaskData, examples, cfg: FinetuneConfig) -> list:
    """One prediction per example: a label, a list of word tags, a choice index or an answer string."""
    kind = kinds.get(task.kind)
    found = encode(task, examples, tokenizer, cfg, training=False)
    outputs = forward_all(model, found, tokenizer.pad_token_id, names=kind.outputs)
    return kind.decode(task, outputs, found, examples, cfg)


def score(task: tasks.TaskData, predictions: list, examples) -> dict:
    """The task's metrics; the key named `task.metric` is the one model selection uses."""
    return kinds.get(task.kind).score(task, predictions, examples)


def evaluate(model, tokenizer, task: tasks.TaskData, split: str = "test", cfg: FinetuneConfig | None = None) -> dict:
    cfg = cfg or FinetuneConfig()
    examples = getattr(task, split)[:cfg.eval_limit]
    return score(task, predict(model, tokenizer, task, examples, cfg), examples)


# ---------------------------------------------------------------- fine-tuning

def finetune(task: tasks.TaskData, model_dir, cfg: FinetuneConfig, teacher_dir=None, model: nn.Module | None = None,
             transfer_texts: list[str] | None = None) -> dict:
    """Fine-tune the encoder in `model_dir` (or `model`, already built) on `task`; keep the best
    model in `cfg.out_dir/model`; return the validation history and the best model's test metrics.
    With `teacher_dir`, a fine-tuned model folder, its soft labels join the loss (see the module
    docstring); `transfer_texts`, unlabelled texts of the task's kind, are added to the training
    rows with the teacher's labels alone (a transfer set, as in TinyBERT)."""
    out = Path(cfg.out_dir)
    tokenizer = load_tokenizer(model_dir)
    torch.manual_seed(cfg.seed)  # before the fresh head draws its weights: a run is reproducible
    model = model if model is not None else load_model(task, model_dir, cfg.dropout)
    model.to(cfg.device).train()
    # The token table is half of a small model's weights (30,522 x 384 of MiniLM's 22.7M); a few
    # thousand labelled examples touch few of its rows, and its gradient and AdamW state cost as
    # much time as the rest. Freezing it is cheap regularisation.
    model.distilbert.embeddings.word_embeddings.weight.requires_grad_(not cfg.freeze_word_embeddings)
    train_features = encode(task, task.train[:cfg.train_limit], tokenizer, cfg, training=True)
    if transfer_texts:
        train_features += transfer_features(task, transfer_texts, tokenizer, cfg, teacher_dir)
    if teacher_dir is not None:
        add_teacher_logits(train_features, task, teacher_dir, tokenizer.pad_token_id, cfg.device)
    validation = task.validation[:cfg.eval_limit]
    history, best = [], {"value": -float("inf"), "evals_since": 0}
    loop = loop_config(cfg, len(train_features))
    # Patience starts counting only once min_steps are done: with few labels the first evaluations
    # all sit at the majority class, and stopping there is the collapse min_steps exists to prevent.
    grace = -(-cfg.min_steps // loop.eval_every)

    def eval_fn(wrapped: FinetuneTask) -> dict:
        value = score(task, predict(wrapped.model, tokenizer, task, validation, cfg), validation)[task.metric]
        history.append(value)
        if value > best["value"]:
            best.update(value=value, evals_since=0)
            save_model(wrapped.model, model_dir, out / MODEL_DIR)
        elif len(history) > grace:
            best["evals_since"] += 1
            if best["evals_since"] >= cfg.patience:
                raise EarlyStop
        return {task.metric: value}

    stopped_early = False
    try:
        train(FinetuneTask(model, cfg.alpha, cfg.temperature), train_features, loop,
              collate_fn=partial(collate_for_training, pad_token_id=tokenizer.pad_token_id), eval_fn=eval_fn)
    except EarlyStop:
        stopped_early = True
    # The loop's resume checkpoint (weights + optimizer state) is not needed once the run is over.
    delete_checkpoint(out / "checkpoint.pt")
    best_model = load_model(task, out / MODEL_DIR).to(cfg.device)
    result = {"task": task.name, "config": asdict(cfg), "validation_history": history,
              "best_validation": best["value"], "stopped_early": stopped_early,
              "validation": evaluate(best_model, tokenizer, task, "validation", cfg),
              "test": evaluate(best_model, tokenizer, task, "test", cfg)}
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def run_epochs(cfg: FinetuneConfig, n_rows: int) -> int:
    """The epochs a run over `n_rows` training rows takes: cfg.epochs, or more to reach cfg.min_steps.
    A run of few labels is a handful of steps, most of them spent in the warmup and the decay; whole
    extra epochs (not extra steps) keep the evaluations at epoch ends."""
    steps_per_epoch = n_rows // cfg.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{n_rows} training rows cannot fill one batch of {cfg.batch_size}")
    return max(cfg.epochs, -(-cfg.min_steps // steps_per_epoch))


def loop_config(cfg: FinetuneConfig, n_rows: int) -> TrainConfig:
    """The shared loop's settings for a fine-tuning run over `n_rows` training rows: BERT's
    fine-tuning optimizer (betas (0.9, 0.999), eps 1e-8, clipping at 1), epochs turned into steps."""
    steps_per_epoch = n_rows // cfg.batch_size
    max_steps = steps_per_epoch * run_epochs(cfg, n_rows)
    return TrainConfig(**cfg.shared(), out_dir=cfg.out_dir, max_steps=max_steps, betas=(0.9, 0.999), eps=1e-8,
                       weight_decay=cfg.weight_decay, warmup=cfg.warmup, max_grad_norm=1.0, save_every=max_steps,
                       log_every=10, eval_every=max(1, steps_per_epoch // cfg.evals_per_epoch), progress=cfg.progress)


def add_teacher_logits(features: Features, task: tasks.TaskData, teacher_dir, pad_token_id: int,
                       device: str = "cpu") -> None:
    """Store the fine-tuned teacher's logits in each training feature, for the distillation term."""
    if not kinds.get(task.kind).distils:
        raise ValueError(f"task-time distillation here distils class probabilities (sequence and "
                         f"choice tasks), not {task.kind} outputs")
    logits = forward_all(load_model(task, teacher_dir).to(device), features, pad_token_id)["logits"]
    for f, row in zip(features, logits):
        f["teacher_logits"] = row.numpy()


def transfer_features(task: tasks.TaskData, texts: list[str], tokenizer, cfg: FinetuneConfig, teacher_dir) -> Features:
    """Unlabelled texts as training rows whose label is IGNORE_INDEX: only the teacher labels them."""
    if teacher_dir is None or not kinds.get(task.kind).plain_text:
        raise ValueError("a transfer set is labelled by a fine-tuned teacher alone: give teacher_dir, "
                         f"on a sequence-classification task (this task is {task.kind!r})")
    found = encode(task, [{"text": t} for t in texts], tokenizer, cfg, training=True)
    for f in found:
        f["labels"] = np.int64(IGNORE_INDEX)
    return found


def collate_for_training(rows: list[dict], pad_token_id: int) -> dict:
    """A batch of the head's inputs and labels, plus the teacher's logits when the rows carry them."""
    batch = collate(rows, pad_token_id, keys=LABEL_FIELDS)
    if "teacher_logits" in rows[0]:
        batch["teacher_logits"] = torch.tensor(np.stack([r["teacher_logits"] for r in rows]))
    return batch


def grid_search(task: tasks.TaskData, model_dir, cfg: FinetuneConfig, lrs=(3e-5, 1e-4), epochs=(1, 2),
                teacher_dir=None) -> dict:
    """Fine-tune once per (lr, epochs), each run in `out_dir/lr<lr>-ep<epochs>`; choose on validation;
    report the chosen run's test metrics. `teacher_dir` distils into every run, as in `finetune`."""
    runs = []
    for lr in lrs:
        for n in epochs:
            run_cfg = replace(cfg, lr=lr, epochs=n, out_dir=str(Path(cfg.out_dir) / f"lr{lr:g}-ep{n}"))
            result = finetune(task, model_dir, run_cfg, teacher_dir=teacher_dir)
            runs.append({"lr": lr, "epochs": n, "validation": result["best_validation"],
                         "test": result["test"][task.metric], "folder": str(Path(run_cfg.out_dir) / MODEL_DIR)})
    chosen = max(runs, key=lambda r: r["validation"])
    summary = {"task": task.name, "metric": task.metric, "runs": runs, "chosen": chosen}
    (Path(cfg.out_dir) / "grid.json").write_text(json.dumps(summary, indent=1))
    return summary


def cross_validate(task: tasks.TaskData, model_dir, cfg: FinetuneConfig, lrs=(3e-5, 1e-4), epochs=(1, 2),
                   folds: int = 5, teacher_dir=None) -> dict:
    """Choose (lr, epochs) by k-fold cross-validation on the training split, then fine-tune once on
    the whole training split with the chosen setting and score the test split once, at the end.

    The training examples are dealt into `folds` parts (example i goes to part i mod k); each
    setting is fine-tuned k times, on k - 1 parts, and scored on the part left out (which also
    picks that run's best checkpoint, the same for every setting). The mean over the folds
    chooses; validation and test splits are not read until the final run.
    """
    if not 2 <= folds <= len(task.train):
        raise ValueError(f"folds must be between 2 and the {len(task.train)} training examples, got {folds}")
    parts = [task.train[i::folds] for i in range(folds)]
    runs = []
    for lr in lrs:
        for n in epochs:
            scores = []
            for k in range(folds):
                rest = [e for j, part in enumerate(parts) if j != k for e in part]
                fold = replace(task, train=rest, validation=parts[k], test=parts[k])
                fold_cfg = replace(cfg, lr=lr, epochs=n, train_limit=None, eval_limit=None,
                                   out_dir=str(Path(cfg.out_dir) / f"lr{lr:g}-ep{n}" / f"fold{k}"))
                scores.append(finetune(fold, model_dir, fold_cfg, teacher_dir=teacher_dir)["best_validation"])
            runs.append({"lr": lr, "epochs": n, "folds": scores, "mean": float(np.mean(scores)),
                         "std": float(np.std(scores))})
    chosen = max(runs, key=lambda r: r["mean"])
    final_cfg = replace(cfg, lr=chosen["lr"], epochs=chosen["epochs"], out_dir=str(Path(cfg.out_dir) / "chosen"))
    final = finetune(task, model_dir, final_cfg, teacher_dir=teacher_dir)
    summary = {"task": task.name, "metric": task.metric, "folds": folds, "runs": runs, "chosen": chosen,
               "test": final["test"], "folder": str(Path(final_cfg.out_dir) / MODEL_DIR)}
    (Path(cfg.out_dir) / "cross_validation.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary


def metrics_table(name: str, results: dict[str, dict]) -> str:
    """A small table: one row per split, one column per scalar metric."""
    keys = [k for k, v in next(iter(results.values())).items() if isinstance(v, float)]
    lines = [f"{name:<12}" + "".join(f"{k:>12}" for k in keys)]
    lines += [f"{split:<12}" + "".join(f"{values[k]:>12.4f}" for k in keys) for split, values in results.items()]
    return "\n".join(lines)
