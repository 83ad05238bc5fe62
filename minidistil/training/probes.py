"""Frozen-feature linear probes: what an encoder's features hold about a task, without fine-tuning.

    >>> task = tasks.load("sentiment")
    >>> found = extract(task, pretrained.student_dir(), ProbeConfig(max_length=64))  # one forward per split
    >>> result = probe(task, found, "mean")
    >>> result["test"]["accuracy"], result["test"]["wilson"]
    >>> compare(result_of_a, result_of_b)    # b - a on the same test items, with its paired interval

Fine-tuning moves every weight, and its outcome depends on the learning rate, the steps and the
seed; a probe keeps the encoder fixed and asks only whether a linear function of its features
separates the labels. What a probe does:

1. Encode the task's examples as fine-tuning does (`kinds.get(task.kind).encode`'s features), run
   the encoder once in eval mode (no dropout), and keep per item the last hidden state pooled:
   - sequence tasks: "mean", the mean over the non-pad tokens ([CLS] and [SEP] included, as
     sentence-transformers pool), and "cls", position 0, which the sequence head reads; a long
     document's windows are averaged into one vector;
   - token tasks: "token", the state at each labelled word's first piece (one item per word);
   - choice tasks: "mean" and "cls" of each "[CLS] prompt [SEP] choice [SEP]" row; one weight
     vector scores every row and the softmax runs over an example's choices.
2. Standardise every feature with the training items' mean and standard deviation, so that the L2
   grid means the same for every model whatever the scale of its features (the scale itself is
   what `examples/collapse_diagnosis.py` reports).
3. For each L2 weight of `l2_grid`, fit a multinomial logistic regression from zero by full-batch
   L-BFGS (float64, strong-Wolfe line search): mean cross-entropy + l2 / 2 * ||W||^2 (no penalty
   on the bias). The weight with the best validation score (the task's metric; ties: the larger
   weight) is kept and scored once on the test split.
4. Test accuracy comes with its Wilson interval (items taken as independent) and a percentile
   bootstrap that redraws whole examples (`groups`: a passage's words are drawn together).
   `compare` is the paired version: both models' correctness on the same redrawn test items.

The QA task (answer spans) has no class label per item and is not probed here.
Everything is deterministic: the fits start from zeros, the bootstrap draws from `seed`.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minidistil.data import kinds, tasks
from minidistil.data.batching import forward_in_length_order
from minidistil.nn.losses import IGNORE_INDEX
from minidistil.nn.model import DistilBertModel
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.training.finetune import FinetuneConfig
from minidistil.utils import metrics

POOLS = {"sequence": ("mean", "cls"), "token": ("token",), "choice": ("mean", "cls")}
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class ProbeConfig:
    max_length: int = 128            # tokens per input row, as fine-tuning's
    batch_size: int = 64             # rows per forward of the frozen encoder
    l2_grid: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # L2 weights tried, chosen on validation
    max_iter: int = 200              # L-BFGS iterations per fit
    standardize: bool = True         # z-score the features with the training items' statistics
    train_limit: int | None = None   # the first N training examples (None: all)
    eval_limit: int | None = None    # the first N validation and test examples (None: all)
    rounds: int = 1000               # bootstrap redraws
    level: float = 0.95              # interval level
    seed: int = 0                    # the bootstrap's draws
    device: str = "cpu"              # where the encoder runs

    def __post_init__(self):
        if not self.l2_grid or any(not 0 <= l2 < math.inf for l2 in self.l2_grid):
            raise ValueError(f"l2_grid needs at least one finite L2 weight >= 0, got {self.l2_grid}")
        if not 0 < self.level < 1 or self.rounds < 1 or self.max_iter < 1:
            raise ValueError("level must lie in (0, 1), rounds and max_iter be >= 1")


@dataclass
class Split:
    """One split's frozen features (float32): `pools[name]` is (N, C), or (N, K, C) for a choice task's K rows;
    `labels` (N,) class ids; `groups` (N,) the example each item comes from."""
    pools: dict[str, torch.Tensor]
    labels: torch.Tensor
    groups: np.ndarray = field(repr=False)


# ---------------------------------------------------------------- features

def load_encoder(folder) -> nn.Module:
    """The bare encoder of any model folder the project writes (MLM, a fine-tuned head, a BERT folder)."""
    return DistilBertModel.from_pretrained(folder)


def extract(task: tasks.TaskData, folder, cfg: ProbeConfig | None = None, model: nn.Module | None = None,
            splits=SPLITS) -> dict[str, Split]:
    """Every split's frozen features from the encoder in `folder` (or `model`, with the tokenizer of
    `folder`): one forward per row, in eval mode, under no_grad."""
    cfg = cfg or ProbeConfig()
    kind = kinds.get(task.kind).name
    if kind not in POOLS:
        raise ValueError(f"a probe reads one class label per item (sequence, token and choice tasks); "
                         f"the {task.name!r} task is a {kind} task")
    tokenizer = WordPieceTokenizer.from_pretrained(folder)
    encoder = model if model is not None else load_encoder(folder)
    encoder = getattr(encoder, "distilbert", encoder).to(cfg.device)
    was_training = encoder.training
    encoder.eval()
    try:
        out = {}
        for split in splits:
            limit = cfg.train_limit if split == "train" else cfg.eval_limit
            out[split] = _extract_split(task, getattr(task, split)[:limit], encoder, tokenizer, cfg)
        return out
    finally:
        encoder.train(was_training)


@torch.no_grad()
def _extract_split(task, examples, encoder, tokenizer, cfg) -> Split:
    kind = task.kind
    device = next(encoder.parameters()).device
    if kind == "sequence":
        found = kinds.get(kind).encode(task, examples, tokenizer, _encode_cfg(cfg, task), False)
        rows = found
    elif kind == "token":
        found = kinds.get(kind).encode(task, examples, tokenizer, _encode_cfg(cfg, task, stride=0), False)
        rows = found
    else:  # choice: every (prompt, choice) row on its own
        found = kinds.get(kind).encode(task, examples, tokenizer, _encode_cfg(cfg, task), False)
        rows = [{"input_ids": ids} for f in found for ids in f["input_ids"]]

    def forward(input_ids, attention_mask):
        hidden = encoder(input_ids.to(device), attention_mask.to(device)).last_hidden_state.float()  # (B, T, C)
        if kind == "token":
            return (hidden.cpu(),)
        mask = attention_mask.to(device).unsqueeze(-1).float()  # (B, T, 1)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1)  # (B, C)
        return mean.cpu(), hidden[:, 0].cpu()

    outputs = forward_in_length_order(forward, rows, tokenizer.pad_token_id, cfg.batch_size)
    if kind == "token":
        vectors, labels, groups = [], [], []
        for f, (hidden,) in zip(found, outputs):
            where = np.flatnonzero(np.asarray(f["labels"]) != IGNORE_INDEX)
            vectors.append(hidden[torch.as_tensor(where)])
            labels.extend(int(f["labels"][t]) for t in where)
            groups.extend([f["example"]] * len(where))
        return Split({"token": torch.cat(vectors)}, torch.tensor(labels), np.asarray(groups))
    mean = torch.stack([o[0] for o in outputs]).double()  # float64 while a document's windows are averaged
    cls = torch.stack([o[1] for o in outputs]).double()
    if kind == "choice":
        n_choices = {len(f["input_ids"]) for f in found}
        if len(n_choices) != 1:
            raise ValueError(f"a choice probe needs the same number of choices in every example, got {sorted(n_choices)}")
        K = n_choices.pop()
        labels = torch.tensor([int(f["labels"]) for f in found])
        return Split({"mean": mean.float().view(len(found), K, -1), "cls": cls.float().view(len(found), K, -1)},
                     labels, np.arange(len(found)))
    # sequence: average a long document's windows into one vector
    example = torch.tensor([f["example"] for f in found])
    n = len(examples)
    counts = torch.zeros(n, dtype=torch.float64).index_add_(0, example, torch.ones(len(found), dtype=torch.float64))
    pools = {name: (torch.zeros(n, v.shape[1], dtype=torch.float64).index_add_(0, example, v) / counts[:, None]).float()
             for name, v in (("mean", mean), ("cls", cls))}
    label2id = task.label2id()
    return Split(pools, torch.tensor([label2id[e["label"]] for e in examples]), np.arange(n))


def _encode_cfg(cfg: ProbeConfig, task, stride: int | None = None) -> FinetuneConfig:
    """What the kinds' encoders read: fine-tuning's max_length and stride (a token task: no overlap,
    so that no word is counted twice)."""
    return FinetuneConfig(max_length=cfg.max_length, stride=stride, progress=False)


# ---------------------------------------------------------------- the linear classifier

def standardizer(x: torch.Tensor):
    """The training items' per-feature mean and std (a constant feature is divided by a tiny number's
    stand-in, not by zero, and stays zero)."""
    flat = x.reshape(-1, x.shape[-1])
    mean, std = flat.mean(0), flat.std(0)
    return mean, torch.where(std > 1e-12 * std.max().clamp_min(1e-300), std, torch.ones_like(std))


def logits_of(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(N, C) items -> (N, Y) class logits; (N, K, C) choice rows -> (N, K) logits (one weight column)."""
    if x.dim() == 3:
        return x @ weight[:, 0]
    return x @ weight + bias


def fit_logistic(x: torch.Tensor, y: torch.Tensor, n_classes: int, l2: float, max_iter: int = 200):
    """Minimise mean cross-entropy + l2 / 2 * ||W||^2 by full-batch L-BFGS from zero; (W, b) in float64.
    For (N, K, C) choice rows W is (C, 1) and the softmax runs over the K rows."""
    x = x.double()
    columns = 1 if x.dim() == 3 else n_classes
    weight = torch.zeros(x.shape[-1], columns, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(columns, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(logits_of(x, weight, bias), y) + 0.5 * l2 * (weight ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def scores(task: tasks.TaskData, predicted: torch.Tensor, gold: torch.Tensor) -> dict:
    """Accuracy, and the task's own metric: macro-F1 (tweets), micro-F1 over the non-O tags (punctuation)."""
    p, g = predicted.tolist(), gold.tolist()
    out = {"accuracy": metrics.accuracy(p, g)}
    kind = kinds.get(task.kind)  # the registered record, not its name (tests/test_kinds.py)
    if kind is kinds.SEQUENCE:
        out["macro_f1"] = metrics.macro_f1(p, g, list(range(len(task.labels))))
    if kind is kinds.TOKEN:  # micro-F1 over the tags that are not O
        names = task.labels
        out["f1"] = metrics.token_f1([[names[i] for i in p]], [[names[i] for i in g]])["overall"]["f1"]
    return out


def probe(task: tasks.TaskData, found: dict[str, Split], pool: str, cfg: ProbeConfig | None = None) -> dict:
    """Fit the probe on `found["train"]`'s `pool` features for every L2 weight, choose on validation,
    score the test split. Returns the chosen L2, every weight's validation score, the test scores
    with intervals, and per test item `correct` (1/0) and `groups` for `compare`."""
    cfg = cfg or ProbeConfig()
    train, validation, test = (found[s] for s in SPLITS)
    if pool not in train.pools:
        raise ValueError(f"the {task.kind} features have the pools {sorted(train.pools)}, not {pool!r}")
    mean, std = standardizer(train.pools[pool].double()) if cfg.standardize else (0.0, 1.0)
    x = {s: (found[s].pools[pool].double() - mean) / std for s in SPLITS}  # float32 kept, float64 fitted
    n_classes = max(len(task.labels), 1)
    metric = task.metric if task.metric in ("accuracy", "macro_f1", "f1") else "accuracy"
    grid = []
    for l2 in cfg.l2_grid:
        weight, bias = fit_logistic(x["train"], train.labels, n_classes, l2, cfg.max_iter)
        predicted = logits_of(x["validation"], weight, bias).argmax(-1)
        grid.append({"l2": l2, "validation": scores(task, predicted, validation.labels)[metric],
                     "weight": weight, "bias": bias})
    best = max(grid, key=lambda g: (g["validation"], g["l2"]))
    predicted = logits_of(x["test"], best["weight"], best["bias"]).argmax(-1)
    train_predicted = logits_of(x["train"], best["weight"], best["bias"]).argmax(-1)
    correct = (predicted == test.labels).long().tolist()
    low, high = wilson_interval(sum(correct), len(correct), cfg.level)
    return {"task": task.name, "pool": pool, "metric": metric, "l2": best["l2"],
            "grid": [{"l2": g["l2"], "validation": g["validation"]} for g in grid],
            "train": scores(task, train_predicted, train.labels),
            "validation": scores(task, logits_of(x["validation"], best["weight"], best["bias"]).argmax(-1),
                                 validation.labels),
            "test": {**scores(task, predicted, test.labels), "items": len(correct), "wilson": [low, high],
                     "bootstrap": list(bootstrap_mean(correct, test.groups, cfg.rounds, cfg.level, cfg.seed))},
            "predicted_histogram": np.bincount(predicted.numpy(), minlength=n_classes if test.pools[pool].dim() == 2
                                               else test.pools[pool].shape[1]).tolist(),
            "correct": correct, "groups": test.groups.tolist()}


# ---------------------------------------------------------------- intervals

def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927): good near 0 and 1, where the normal one is not."""
    if n < 1:
        raise ValueError("a proportion of no items has no interval")
    z = statistics.NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _group_sums(values, groups) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    _, index = np.unique(np.asarray(groups), return_inverse=True)
    return np.bincount(index, weights=values), np.bincount(index).astype(np.float64)


def bootstrap_mean(values, groups=None, rounds: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap of a mean over items, redrawing whole groups (None: every item its own)."""
    if len(values) == 0:
        raise ValueError("cannot bootstrap an empty list of scores")
    sums, counts = _group_sums(values, np.arange(len(values)) if groups is None else groups)
    draws = np.random.default_rng(seed).integers(0, len(sums), size=(rounds, len(sums)))
    means = np.sort(sums[draws].sum(1) / counts[draws].sum(1))
    cut = (1 - level) / 2
    return float(means[int(cut * rounds)]), float(means[min(int((1 - cut) * rounds), rounds - 1)])


def paired_difference(correct_a, correct_b, groups=None, rounds: int = 1000, level: float = 0.95,
                      seed: int = 0) -> dict:
    """mean(b) - mean(a) on the same items, with the paired bootstrap interval (both scored on every
    redrawn test set; whole groups redrawn together); `exceeds`: the interval leaves out 0."""
    if len(correct_a) != len(correct_b):
        raise ValueError(f"a paired comparison needs the same test items, got {len(correct_a)} and {len(correct_b)}")
    diff = np.asarray(correct_b, dtype=np.float64) - np.asarray(correct_a, dtype=np.float64)
    low, high = bootstrap_mean(diff, groups, rounds, level, seed)
    return {"difference": float(diff.mean()), "low": low, "high": high, "exceeds": low > 0 or high < 0}


def compare(a: dict, b: dict, rounds: int = 1000, level: float = 0.95, seed: int = 0) -> dict:
    """`b` - `a` for two `probe` results on the same task's test items."""
    if a["task"] != b["task"] or a["groups"] != b["groups"]:
        raise ValueError("compare two probes of the same task and test items")
    return paired_difference(a["correct"], b["correct"], a["groups"], rounds, level, seed)


def save_features(found: dict[str, Split], path) -> None:
    """Write extracted features (a cache: extraction is the costly part)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(str(path) + ".tmp")
    torch.save({s: {"pools": f.pools, "labels": f.labels, "groups": torch.as_tensor(f.groups)} for s, f in found.items()},
               tmp)
    tmp.replace(path)


def load_features(path) -> dict[str, Split]:
    saved = torch.load(path, weights_only=True)
    return {s: Split(f["pools"], f["labels"], f["groups"].numpy()) for s, f in saved.items()}
