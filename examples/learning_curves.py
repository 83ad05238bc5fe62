"""Where pretraining distillation pays: fine-tuning at 250, 1,000, 4,000 and all labels, 3 seeds each.

    python examples/learning_curves.py                               # sentiment and tweets (hours: see below)
    python examples/learning_curves.py --task sentiment-zh           # the Chinese student, teacher and undistilled copy
    python examples/learning_curves.py --budgets 250,1000 --seeds 1 --task sentiment   # a quick look

The claim tested (Turc et al. 2019, "Well-Read Students Learn Better"): a student distilled during
pretraining beats the same layers undistilled most when labels are few. For each task, model
(`student`, `undistilled`, `teacher`: the folders of examples/probes.py, the cached defaults built
by their recipes when absent), label budget and seed, one fine-tuning with one recipe for every
model (`minidistil.training.finetune`, the demo's settings: lr 1e-4, batch 32, 64 tokens, 2 epochs,
raised so that every run takes at least --min-steps optimizer steps: 250 labels are 7 batches),
then its test predictions.

The labelled subsets are stratified and nested: each seed orders the training split so that every
prefix holds each class in its share (within one example), and a budget is a prefix, so the 250
labels of a seed are inside its 1,000, which are inside its 4,000. Every model of a seed reads the
same subset and the same seed (head, dropout, batch order), so the comparison per budget is paired:
student - undistilled and student - teacher, the mean over seeds with its 95% paired bootstrap
interval on the same test items (`metrics.macro_paired_bootstrap`, each seed's pair redrawn).
"all" is the whole training split capped at --all-cap examples (tweets have about 30,000; the cap
keeps the teacher's run under an hour on 2 cores).

Resumable: each run writes OUT/<task>/<model>-<budget>-seed<seed>.json (test accuracy, macro-F1,
per-item correctness, the predicted-class histogram, the validation history) and is skipped when
that file is there; its fine-tuned model is deleted once scored. A run that predicts one class for
(nearly) every test item is marked collapsed.

Printed and written (OUT/<task>.md, OUT/<task>.png): per budget the mean test accuracy of each model
over the seeds [min, max], the collapsed runs, and the paired differences.

Time, not measured: about 1.5 to 2 hours per task on 2 idle cores, estimated from the demo's fine-tunings
(4,000 snippets, 2 epochs: about a minute for a student, two for the teacher) for the 36 runs of a task
(sentiment: about 1,400 optimizer steps per model and seed over the four budgets, each budget at least
250); tweets' "all" is capped. A student's 1,000-label run (279 steps at most, early stopping) took about a minute.
"""
import json
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from minidistil.cli.flags import parse_settings
from minidistil.data import tasks
from minidistil.nn.checkpoint import MODEL_DIR
from minidistil.training.finetune import FinetuneConfig, finetune, load_model, load_tokenizer, predict, run_epochs
from minidistil.utils import metrics
from minidistil.utils.plots import plot_series

import probes as probe_table  # examples/probes.py: the model folders

PAIRS = (("student", "undistilled"), ("student", "teacher"))  # (b, a): b - a per budget
COLLAPSED = 0.98  # a run predicting one class for this share of the test items has collapsed


@dataclass
class Settings:
    out: str = "runs/curves"        # <task>/<model>-<budget>-seed<seed>.json, <task>.md, <task>.png, models/
    task: str = "sentiment,tweets"  # the tasks (sentiment-zh: the Chinese models)
    models: str = "student,undistilled,teacher"  # the models compared
    budgets: str = "250,1000,4000,all"  # labelled training examples; "all": the training split up to --all-cap
    all_cap: int = 12000            # the most examples "all" uses (one run under an hour on 2 cores)
    seeds: str = "1,2,3"            # one stratified subset and one fine-tuning seed each
    lr: float = 1e-4                # peak learning rate, every model and budget
    epochs: int = 2                 # passes over the subset (raised to reach --min-steps)
    min_steps: int = 250            # the fewest optimizer steps of a run (the demo's recipe: FinetuneConfig.min_steps)
    batch_size: int = 32            # examples per step
    max_length: int = 64            # tokens per text
    val_examples: int = 500         # validation examples that pick the best evaluation (0: all)
    eval_examples: int = 0          # test examples scored (0: all)
    train_token_table: bool = False  # also train the token table (the ablation does; the demo does not)
    teacher: str = ""               # English teacher folder; "": the cached default
    student: str = ""               # English student folder; "": the cached default
    zh_teacher: str = ""            # Chinese teacher folder; "": the cached default
    zh_student: str = ""            # Chinese student folder; "": the cached default
    student_layers: str = ""        # teacher layers of the undistilled copy; "": the student's
    seed: int = 0                   # unused by the runs (each has its own seed); kept for model_folders
    threads: int = 0                # torch threads; 0 keeps torch's default


# ---------------------------------------------------------------- subsets

def stratified_order(labels: list, seed: int) -> list[int]:
    """An order of the indices of `labels` whose every prefix holds each class in its share, within
    one example: class c's i-th example (in a seeded shuffle) is placed at (i + 1/2) / n_c, and the
    examples are sorted by place. A budget is a prefix, so smaller budgets sit inside larger ones."""
    rng = np.random.default_rng(seed)
    places = []
    for k, label in enumerate(sorted(set(labels), key=str)):
        members = [i for i, y in enumerate(labels) if y == label]
        members = [members[j] for j in rng.permutation(len(members))]
        places += [((r + 0.5) / len(members), k, i) for r, i in enumerate(members)]
    return [i for _, _, i in sorted(places)]


def budget_size(budget: str, n_train: int, cap: int) -> int:
    if budget == "all":
        return min(n_train, cap)
    n = int(budget)
    if not 1 <= n <= n_train:
        raise ValueError(f"a budget is between 1 and the {n_train:,} training examples (or 'all'), got {budget}")
    return n


def subset(task: tasks.TaskData, budget: str, seed: int, cap: int) -> tasks.TaskData:
    """The task with its training split cut to the seed's stratified prefix of the budget's size."""
    order = stratified_order([e["label"] for e in task.train], seed)
    return replace(task, train=[task.train[i] for i in order[:budget_size(budget, len(task.train), cap)]])


# ---------------------------------------------------------------- one run

def run_path(out: Path, task_name: str, model: str, budget: str, seed: int) -> Path:
    return out / task_name / f"{model}-{budget}-seed{seed}.json"


def finetune_config(s: Settings, seed: int, out_dir: Path) -> FinetuneConfig:
    """The one recipe; `finetune` raises its epochs so that a run takes at least `min_steps` steps."""
    return FinetuneConfig(out_dir=str(out_dir), lr=s.lr, epochs=s.epochs, min_steps=s.min_steps, batch_size=s.batch_size,
                          max_length=s.max_length, seed=seed, progress=False,
                          freeze_word_embeddings=not s.train_token_table)


def run_one(s: Settings, task: tasks.TaskData, model: str, folder, budget: str, seed: int) -> dict:
    """Fine-tune `folder` on the seed's subset of `budget` labels, score the test split, write the
    run's JSON; a run whose JSON exists is read back, not run again."""
    path = run_path(Path(s.out), task.name, model, budget, seed)
    if path.is_file():
        return json.loads(path.read_text())
    started = time.perf_counter()
    part = subset(task, budget, seed, s.all_cap)
    part = replace(part, validation=part.validation[:s.val_examples or None])
    work = path.with_suffix("")  # the run's folder while it runs
    shutil.rmtree(work, ignore_errors=True)  # a run killed midway starts over
    cfg = finetune_config(s, seed, work)
    result = finetune(part, folder, cfg)
    test = task.test[:s.eval_examples or None]
    predicted = predict(load_model(task, work / MODEL_DIR), load_tokenizer(work / MODEL_DIR), task, test,
                        FinetuneConfig(max_length=s.max_length))
    gold = [e["label"] for e in test]
    histogram = {label: predicted.count(label) for label in task.labels}
    record = {"task": task.name, "model": model, "folder": str(folder), "budget": budget, "seed": seed,
              "n_train": len(part.train), "train_labels": {y: sum(e["label"] == y for e in part.train) for y in task.labels},
              "epochs": run_epochs(cfg, len(part.train)), "accuracy": metrics.accuracy(predicted, gold),
              "macro_f1": metrics.macro_f1(predicted, gold, task.labels),
              "predicted_histogram": histogram, "collapsed": max(histogram.values()) >= COLLAPSED * len(test),
              "correct": [int(p == g) for p, g in zip(predicted, gold)],
              "validation_history": result["validation_history"], "stopped_early": result["stopped_early"],
              "seconds": round(time.perf_counter() - started, 1)}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)  # written whole: a kill never leaves a half file that a rerun would skip
    shutil.rmtree(work, ignore_errors=True)  # the model (about 70-90 MB) is not kept
    return record


# ---------------------------------------------------------------- summary

def summarise(runs: dict, models: list[str], budgets: list[str], seeds: list[int]) -> dict:
    """Per budget: each model's accuracies over the seeds, its collapsed runs, and the paired
    differences of PAIRS (mean over seeds, interval redrawing the test items of every seed's pair)."""
    table = {}
    for budget in budgets:
        row = {"models": {}, "pairs": {}}
        for m in models:
            found = [runs[m, budget, seed] for seed in seeds if (m, budget, seed) in runs]
            row["models"][m] = {"accuracy": [r["accuracy"] for r in found], "macro_f1": [r["macro_f1"] for r in found],
                                "collapsed": sum(r["collapsed"] for r in found), "n_train": found[0]["n_train"] if found else 0}
        for b, a in PAIRS:
            pairs = [(runs[a, budget, seed]["correct"], runs[b, budget, seed]["correct"]) for seed in seeds
                     if (a, budget, seed) in runs and (b, budget, seed) in runs]
            if pairs:
                row["pairs"][f"{b} - {a}"] = metrics.macro_paired_bootstrap(pairs)
        table[budget] = row
    return table


def spread(values: list[float]) -> str:
    if not values:
        return ""
    v = [100 * x for x in values]
    return f"{statistics.mean(v):.1f} [{min(v):.1f}, {max(v):.1f}]" if len(v) > 1 else f"{v[0]:.1f}"


def markdown_table(task_name: str, table: dict, models: list[str]) -> str:
    pair_names = [f"{b} - {a}" for b, a in PAIRS if a in models and b in models]
    lines = [f"| {task_name}: labels | " + " | ".join(f"{m} accuracy (%)" for m in models) + " | collapsed runs | "
             + " | ".join(f"Δ {p} (points)" for p in pair_names) + " |",
             "|---:|" + "---:|" * len(models) + "---|" + "---:|" * len(pair_names)]
    for budget, row in table.items():
        n = max(r["n_train"] for r in row["models"].values())
        collapsed = ", ".join(f"{m} {r['collapsed']}" for m, r in row["models"].items() if r["collapsed"]) or "none"
        cells = [spread(row["models"][m]["accuracy"]) for m in models]
        for p in pair_names:
            d = row["pairs"].get(p)
            cells.append("" if d is None else f"{100 * d['difference']:+.2f} [{100 * d['low']:+.2f}, "
                         f"{100 * d['high']:+.2f}]" + (" *" if d["exceeds"] else ""))
        lines.append(f"| {budget} ({n:,}) | " + " | ".join(cells[:len(models)]) + f" | {collapsed} | "
                     + " | ".join(cells[len(models):]) + " |")
    return "\n".join(lines)


def plot(task_name: str, table: dict, models: list[str], png: Path) -> Path | None:
    series = {}
    for m in models:
        points = []
        for budget, row in table.items():
            acc = row["models"][m]["accuracy"]
            if acc:
                points.append((row["models"][m]["n_train"], 100 * statistics.mean(acc), 100 * min(acc), 100 * max(acc)))
        series[m] = points
    return plot_series(series, png, xlabel="labelled training examples (log scale)", ylabel="test accuracy (%)",
                       title=f"{task_name}: mean of the seeds, bars from the lowest to the highest")


def curves(s: Settings, task_name: str) -> dict:
    """Every run of one task (resumed), its table and its PNG."""
    out = Path(s.out)
    task = tasks.load(task_name)
    models = [m for m in s.models.split(",") if m]
    budgets = [b for b in s.budgets.split(",") if b]
    seeds = [int(x) for x in s.seeds.split(",")]
    for b in budgets:
        budget_size(b, len(task.train), s.all_cap)  # a wrong budget fails before hours of runs
    folders = probe_table.model_folders(s, probe_table.language_of(task_name), models)
    runs = {}
    for budget in budgets:
        for seed in seeds:
            for m in models:
                runs[m, budget, seed] = r = run_one(s, task, m, folders[m], budget, seed)
                print(f"{task_name} {m} {budget} seed {seed}: {100 * r['accuracy']:.2f}%"
                      + (" (collapsed)" if r["collapsed"] else ""), flush=True)
    table = summarise(runs, models, budgets, seeds)
    text = markdown_table(task_name, table, models)
    (out / f"{task_name}.md").write_text(text + "\n")
    (out / f"{task_name}.json").write_text(json.dumps({"settings": asdict(s), "table": table}, indent=1))
    plot(task_name, table, models, out / f"{task_name}.png")
    return {"table": table, "markdown": text}


def main():
    s = parse_settings(Settings, __doc__)
    if s.threads:
        torch.set_num_threads(s.threads)
    started = time.perf_counter()
    for task_name in s.task.split(","):
        found = curves(s, task_name)
        print("\n" + found["markdown"] + "\n")
    print("accuracy: mean over the seeds [lowest, highest]; Δ: mean over the seeds of b - a on the same test items "
          "[95% paired bootstrap], * where it leaves out 0; collapsed: runs predicting one class for "
          f"{100 * COLLAPSED:.0f}% of the test items. {(time.perf_counter() - started) / 60:.1f} minutes; "
          f"written: {s.out}/<task>.md, .json, .png")


if __name__ == "__main__":
    main()
