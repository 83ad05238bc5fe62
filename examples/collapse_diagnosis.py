"""Why a fine-tuned student predicts one class: what differs between models before and during fine-tuning.

    python examples/collapse_diagnosis.py                      # teacher, student, undistilled on sentiment, 1,000 labels
    python examples/collapse_diagnosis.py --models student=runs/ablation/a-seed1/distill/model,undistilled
    python examples/collapse_diagnosis.py --no-finetune        # the measurements before fine-tuning only (minutes)
    python examples/collapse_diagnosis.py --seeds 1,2,3 --min-steps 250   # only the outcome, per seed: the fixed recipe

The ablation's students distilled from the teacher's layers all predicted the larger class on
sentiment with 1,000 labels, the undistilled copy did not. Each model here gets the ablation's
former fine-tuning recipe (examples/ablation.py: 1,000 labels, 2 epochs, lr 1e-4, batch 32, 64 tokens,
500 validation examples, the token table trained; every knob is a flag; `--min-steps 250` is the
recipe the demo and the ablation use now) and this is measured:

1. features, on the training subset, before fine-tuning: the norm of the last hidden state at the
   [CLS] position (what the sequence head reads) and of the mean pool, its mean and spread over the
   examples; how much of it is common to every input (the mean pairwise cosine of the vectors, the
   norm of their mean over the spread around it); the largest mean coordinate (an outlier dimension);
2. the pre-classifier's input scale with the fresh head the run starts from (seeded as fine-tuning
   seeds it): the pre-classifier's output after the ReLU (its norm, the share of dead units), the
   initial logits' spread over the examples against their mean, the initial predicted-class histogram;
3. gradient norms in the first --grad-steps optimizer steps of the real loop (`train`, the same
   batches, dropout and schedule): the total before clipping (clipped to 1 by fine-tuning), and its
   parts in the head, the transformer layers and the embeddings; the loss and the learning rate;
4. the learning-rate schedule against the run's length: steps per epoch, total steps, warmup steps,
   the evaluation steps, the rate at each;
5. after the whole fine-tuning (unless --no-finetune): the validation history, the evaluation kept,
   whether it stopped early, the test accuracy and the predicted-class histogram on the test split.

Printed: one table per measurement, a column per model; written: OUT/diagnosis.json.
Models: `name` alone is one of examples/probes.py's folders (teacher, student, undistilled, random:
the cached defaults, built by their recipes when absent), `name=folder` any model folder.
Time on 2 cores: about a minute per model before fine-tuning, plus the fine-tuning (2-4 minutes each).
"""
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from minidistil.cli.flags import parse_settings
from minidistil.data import tasks
from minidistil.nn.checkpoint import MODEL_DIR
from minidistil.training import probes
from minidistil.training.finetune import (EarlyStop, FinetuneConfig, FinetuneTask, collate_for_training, encode,
                                          finetune, load_model, load_tokenizer, loop_config, predict)
from minidistil.training.train import linear_warmup_decay, train
from minidistil.utils import metrics

import learning_curves  # examples/learning_curves.py: the stratified subsets
import probes as probe_table  # examples/probes.py: the model folders


@dataclass
class Settings:
    out: str = "runs/collapse"      # one folder per model, diagnosis.json
    models: str = "teacher,student,undistilled"  # names (examples/probes.py) or name=folder, comma-separated
    task: str = "sentiment"         # the labelled sequence task
    finetune_examples: int = 1000   # labelled training examples (the ablation's 1,000)
    stratified: bool = False        # a stratified subset (learning_curves.py's); off: the first N, as the ablation takes them
    subset_seed: int = 1            # the stratified subset's seed
    val_examples: int = 500         # validation examples that pick the best evaluation
    epochs: int = 2                 # the ablation's
    lr: float = 1e-4                # the ablation's
    batch_size: int = 32
    max_length: int = 64
    warmup: float = 0.1             # fine-tuning's default fraction of warmup steps
    min_steps: int = 0              # the fewest optimizer steps (FinetuneConfig.min_steps); 0: the former recipe's 2 epochs; 250: the fixed one
    seeds: str = ""                 # e.g. "1,2,3": only the outcome of fine-tuning, once per seed and model (no steps 1-4)
    train_token_table: bool = True  # the ablation trains it
    seed: int = 1                   # the fine-tuning seed (the ablation's first)
    grad_steps: int = 20            # optimizer steps whose gradient norms are recorded
    finetune: bool = True           # run the whole fine-tuning for the history and the test histogram
    teacher: str = ""               # English teacher folder; "": the cached default
    student: str = ""               # English student folder; "": the cached default
    zh_teacher: str = ""            # Chinese teacher folder; "": the cached default
    zh_student: str = ""            # Chinese student folder; "": the cached default
    student_layers: str = ""        # teacher layers of the undistilled copy; "": the student's
    threads: int = 0                # torch threads; 0 keeps torch's default


def resolve_models(s: Settings) -> dict[str, Path]:
    named, folders = [], {}
    for item in (m for m in s.models.split(",") if m):
        if "=" in item:
            name, folder = item.split("=", 1)
            folders[name] = Path(folder)
        else:
            named.append(item)
            folders[item] = None
    if named:
        probe_s = replace_settings(s)
        found = probe_table.model_folders(probe_s, probe_table.language_of(s.task), named)
        folders.update(found)
    return folders


def replace_settings(s: Settings):
    """examples/probes.py's settings for its `model_folders`: the same folders and OUT/models."""
    return probe_table.Settings(out=s.out, teacher=s.teacher, student=s.student, zh_teacher=s.zh_teacher,
                                zh_student=s.zh_student, student_layers=s.student_layers)


def training_subset(s: Settings, task: tasks.TaskData) -> tasks.TaskData:
    if s.stratified:
        part = learning_curves.subset(task, str(s.finetune_examples), s.subset_seed, s.finetune_examples)
    else:
        part = replace(task, train=task.train[:s.finetune_examples or None])
    return replace(part, validation=part.validation[:s.val_examples or None])


def finetune_config(s: Settings, out_dir: Path) -> FinetuneConfig:
    return FinetuneConfig(out_dir=str(out_dir), lr=s.lr, epochs=s.epochs, batch_size=s.batch_size,
                          max_length=s.max_length, seed=s.seed, warmup=s.warmup, progress=False,
                          min_steps=s.min_steps, freeze_word_embeddings=not s.train_token_table)


# ---------------------------------------------------------------- 1. and 2.: before fine-tuning

def spread_stats(x: torch.Tensor) -> dict:
    """Norms of the rows of x (N, C) and how much of them is common to every row."""
    norms = x.norm(dim=1)
    centre = x.mean(0)
    around = (x - centre).norm(dim=1)
    unit = x / norms.clamp_min(1e-12)[:, None]
    n = len(x)
    # the mean cosine over pairs i != j: (|sum of unit vectors|^2 - n) / (n (n - 1))
    pairwise = float(((unit.sum(0) ** 2).sum() - n) / (n * (n - 1))) if n > 1 else float("nan")
    return {"norm_mean": float(norms.mean()), "norm_std": float(norms.std()),
            "centre_norm": float(centre.norm()), "spread_rms": float(around.pow(2).mean().sqrt()),
            "centre_over_spread": float(centre.norm() / around.pow(2).mean().sqrt().clamp_min(1e-12)),
            "mean_pairwise_cosine": pairwise, "largest_mean_coordinate": float(centre.abs().max()),
            "per_dimension_std_mean": float(x.std(0).mean())}


@torch.no_grad()
def before_finetuning(s: Settings, task: tasks.TaskData, folder: Path) -> dict:
    """Features of the training subset and the fresh head's view of them."""
    cfg = probes.ProbeConfig(max_length=s.max_length)
    found = probes.extract(task, folder, cfg, splits=("train",))["train"]
    out = {"cls": spread_stats(found.pools["cls"].float()), "mean_pool": spread_stats(found.pools["mean"].float())}
    torch.manual_seed(s.seed)  # as finetune() seeds before the fresh head draws its weights
    model = load_model(task, folder).eval()
    cls = found.pools["cls"].float()
    pre = torch.relu(model.pre_classifier(cls))  # (N, C): the classifier's input (dropout off)
    logits = model.classifier(pre)  # (N, Y)
    predicted = logits.argmax(1)
    out["head"] = {"pre_classifier_weight_norm": float(model.pre_classifier.weight.norm()),
                   "pre_classifier_out_norm_mean": float(pre.norm(dim=1).mean()),
                   "dead_relu_share": float((pre == 0).float().mean()),
                   "logits_std_over_examples": float(logits.std(0).mean()),
                   "logits_mean_abs": float(logits.mean(0).abs().mean()),
                   "initial_predicted_histogram": {task.labels[k]: int((predicted == k).sum())
                                                   for k in range(len(task.labels))}}
    out["train_label_histogram"] = {y: int((found.labels == k).sum()) for k, y in enumerate(task.labels)}
    return out


# ---------------------------------------------------------------- 3. and 4.: the first steps and the schedule

def head_or_body(name: str) -> str:
    if name.startswith("model.pre_classifier") or name.startswith("model.classifier"):
        return "head"
    return "embeddings" if ".embeddings." in name else "layers"


def first_steps(s: Settings, task: tasks.TaskData, folder: Path, work: Path) -> dict:
    """The first `grad_steps` steps of the real loop, with the run's own schedule (its full length),
    recording per step the gradient norm (before clipping) of the head, the layers and the embeddings."""
    shutil.rmtree(work, ignore_errors=True)
    cfg = finetune_config(s, work)
    tokenizer = load_tokenizer(folder)
    torch.manual_seed(cfg.seed)
    model = load_model(task, folder, cfg.dropout)
    model.distilbert.embeddings.word_embeddings.weight.requires_grad_(not cfg.freeze_word_embeddings)
    rows = encode(task, task.train, tokenizer, cfg, training=True)
    wrapped = FinetuneTask(model)
    squares: dict[str, float] = {}
    for name, p in wrapped.named_parameters():
        if p.requires_grad:
            part = head_or_body(name)
            p.register_hook(lambda g, part=part: squares.__setitem__(part, squares.get(part, 0.0) + float(g.pow(2).sum())))
    steps = []

    def after_step(_task):
        steps.append({part: math.sqrt(v) for part, v in squares.items()})
        squares.clear()
        if len(steps) >= s.grad_steps:
            raise EarlyStop
        return {}

    loop = replace(loop_config(cfg, len(rows)), log_every=1, eval_every=1, save_every=10 ** 9)
    try:
        train(wrapped, rows, loop, collate_fn=partial(collate_for_training, pad_token_id=tokenizer.pad_token_id),
              eval_fn=after_step)
    except EarlyStop:
        pass
    logged = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if "loss" in r]
    for record, parts in zip(logged, steps):
        parts.update(step=record["step"], loss=record["loss"], lr=record["lr"], total=record["grad_norm"])
    shutil.rmtree(work, ignore_errors=True)
    return {"steps": steps, "schedule": schedule(cfg, len(rows))}


def schedule(cfg: FinetuneConfig, n_rows: int) -> dict:
    """The run's length and its learning rate at the steps that matter."""
    loop = loop_config(cfg, n_rows)
    warmup = int(loop.warmup * loop.max_steps)
    evals = list(range(loop.eval_every, loop.max_steps + 1, loop.eval_every))
    if loop.max_steps not in evals:
        evals.append(loop.max_steps)
    rate = lambda step: loop.lr * linear_warmup_decay(step, warmup, loop.max_steps)  # noqa: E731 (the rate step `step` uses)
    return {"rows": n_rows, "steps_per_epoch": n_rows // cfg.batch_size, "max_steps": loop.max_steps,
            "warmup_steps": warmup, "peak_lr": loop.lr, "eval_steps": evals,
            "lr_at_eval_steps": [rate(e - 1) for e in evals],
            "mean_lr": float(np.mean([rate(k) for k in range(loop.max_steps)])),
            "max_grad_norm": loop.max_grad_norm}


# ---------------------------------------------------------------- 5.: after fine-tuning

def after_finetuning(s: Settings, part: tasks.TaskData, task: tasks.TaskData, folder: Path, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    cfg = finetune_config(s, work)
    result = finetune(part, folder, cfg)
    history = result["validation_history"]
    predicted = predict(load_model(task, work / MODEL_DIR), load_tokenizer(work / MODEL_DIR), task, task.test,
                        FinetuneConfig(max_length=s.max_length))
    gold = [e["label"] for e in task.test]
    loop = loop_config(cfg, len(encode(part, part.train, load_tokenizer(folder), cfg, training=True)))
    at = lambda k: min(k * loop.eval_every, loop.max_steps)  # noqa: E731 (the step of the k-th evaluation)
    kept = int(np.argmax(history)) + 1 if history else None  # the first best: finetune keeps a strictly better one only
    return {"validation_history": history, "kept_evaluation": kept, "kept_step": at(kept) if kept else None,
            "stopped_early": result["stopped_early"], "steps_taken": at(len(history)),
            "test_accuracy": metrics.accuracy(predicted, gold),
            "test_predicted_histogram": {y: predicted.count(y) for y in task.labels},
            "test_label_histogram": {y: gold.count(y) for y in task.labels},
            "correct": [int(p == g) for p, g in zip(predicted, gold)]}  # per test item: paired comparisons


# ---------------------------------------------------------------- the report

def diagnose(s: Settings) -> dict:
    task = tasks.load(s.task)
    if task.kind != "sequence":
        raise ValueError(f"the diagnosis reads a sequence head; {s.task!r} is a {task.kind} task")
    part = training_subset(s, task)
    out = Path(s.out)
    report = {"settings": asdict(s), "models": {}}
    for name, folder in resolve_models(s).items():
        started = time.perf_counter()
        entry = {"folder": str(folder), "before": before_finetuning(s, part, folder)}
        entry.update(first_steps(s, part, folder, out / name / "first-steps"))
        if s.finetune:
            entry["after"] = after_finetuning(s, part, task, folder, out / name / "finetune")
        entry["seconds"] = round(time.perf_counter() - started, 1)
        report["models"][name] = entry
        out.mkdir(parents=True, exist_ok=True)
        (out / "diagnosis.json").write_text(json.dumps(report, indent=1))
    return report


def outcomes(s: Settings) -> dict:
    """Step 5 alone, for every model and seed: does the run predict one class?"""
    task = tasks.load(s.task)
    part = training_subset(s, task)
    out, report = Path(s.out), {"settings": asdict(s), "runs": {}}
    out.mkdir(parents=True, exist_ok=True)
    for name, folder in resolve_models(s).items():
        for seed in (int(x) for x in s.seeds.split(",")):
            found = after_finetuning(replace(s, seed=seed), part, task, folder, out / name / f"finetune-seed{seed}")
            shutil.rmtree(out / name / f"finetune-seed{seed}", ignore_errors=True)
            report["runs"][f"{name} / {seed}"] = found
            (out / "outcomes.json").write_text(json.dumps(report, indent=1))
    return report


def outcome_table(report: dict) -> str:
    lines = ["| model / seed | test accuracy | predicted classes on test | validation history | kept step | collapsed? |",
             "|---|---:|---|---|---:|:---:|"]
    for key, r in report["runs"].items():
        counts = r["test_predicted_histogram"]
        collapsed = max(counts.values()) >= learning_curves.COLLAPSED * sum(counts.values())
        lines.append(f"| {key} | {100 * r['test_accuracy']:.2f} | {counts} | "
                     f"{', '.join(f'{v:.3f}' for v in r['validation_history'])} | {r['kept_step']} | "
                     f"{'yes' if collapsed else 'no'} |")
    return "\n".join(lines)


def tables(report: dict) -> str:
    models = report["models"]
    names = list(models)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names)

    def rows(title: str, values: dict[str, list]) -> str:
        lines = [f"\n**{title}**\n", head]
        for label, cells in values.items():
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    text = []
    for pool in ("cls", "mean_pool"):
        keys = models[names[0]]["before"][pool].keys()
        text.append(rows(f"last hidden state, {pool}, over the training subset",
                         {k: [fmt(models[n]["before"][pool][k]) for n in names] for k in keys}))
    keys = models[names[0]]["before"]["head"].keys()
    text.append(rows("the fresh head on those [CLS] states (before any step)",
                     {k: [fmt(models[n]["before"]["head"][k]) for n in names] for k in keys}))
    keys = models[names[0]]["schedule"].keys()
    text.append(rows("the schedule", {k: [fmt(models[n]["schedule"][k]) for n in names] for k in keys}))
    n_steps = max(len(models[n]["steps"]) for n in names)
    grads = {}
    for i in range(n_steps):
        cells = []
        for n in names:
            st = models[n]["steps"]
            if i < len(st):
                r = st[i]
                cells.append(f"{r.get('total', float('nan')):.3g} (head {r.get('head', 0):.3g}, layers "
                             f"{r.get('layers', 0):.3g}, emb {r.get('embeddings', 0):.3g}); loss {r.get('loss', float('nan')):.3f}, "
                             f"lr {r.get('lr', float('nan')):.2e}")
            else:
                cells.append("")
        grads[f"step {i + 1}"] = cells
    text.append(rows("gradient norm before clipping (its parts), loss, learning rate", grads))
    if all("after" in models[n] for n in names):
        keys = [k for k in models[names[0]]["after"] if k != "correct"]
        text.append(rows("after fine-tuning", {k: [fmt(models[n]["after"][k]) for n in names] for k in keys}))
    return "\n".join(text)


def main():
    s = parse_settings(Settings, __doc__)
    if s.threads:
        torch.set_num_threads(s.threads)
    if s.seeds:
        print(outcome_table(outcomes(s)))
        print(f"\nwritten: {Path(s.out) / 'outcomes.json'}")
        return
    report = diagnose(s)
    print(tables(report))
    print(f"\nwritten: {Path(s.out) / 'diagnosis.json'}")


if __name__ == "__main__":
    main()
