"""The DistilBERT paper's ablation (Sanh et al. 2019, Table 4) at laptop scale, over three tasks.

    make reproduce               # sets up, then runs this file with --distill-steps 600: the table in RESULTS.md
    python examples/ablation.py  # every variant at the default student's budget (2,400 steps): about 6.5 hours
    python examples/ablation.py --seeds 1 --finetune-examples 500 --distill-steps 20   # a quick look

Time on 2 idle CPU cores: the 15 distillations dominate. At the default student's budget (2,400
steps each, about 20 minutes on the teacher outputs that the default student's build stored) the
whole run is about 6.5 hours, estimated; `make reproduce` cuts every distillation to 600 steps (a
quarter of the budget, the same for every variant) to fit in under 3 hours: 135.5 minutes measured
in RESULTS.md with the former 62-step fine-tunings; the fixed recipe's (up to 279 steps at 1,000
labels, about a minute a run) adds about 30 minutes, estimated, not measured.

One teacher (all-MiniLM-L6-v2 further pretrained with MLM, as in examples/demo.py) is shared by
every variant. Each variant builds a 3-layer student, distils it (or not) on the teacher's training
text, fine-tunes it on three real classification tasks with one recipe, and is scored on their test
splits; the score is the mean of the three accuracies, as GLUE's macro-score averages tasks.
Every variant is distilled as the default student is (`pretrained.StudentSettings`: the same steps,
batch and chunks of the teacher's text), so that all of them read the teacher's outputs stored once
(static masks, top-64 logits); each is also scored before fine-tuning, on the same held-out masks
as the teacher: masked-token perplexity and top-1 agreement with the teacher (`report.json`):

    (a) triple loss              5.0 * KL + 2.0 * MLM + 1.0 * cosine, student taken from teacher layers 0, 2, 5
    (b) without the cosine term  alpha_cos = 0
    (c) without the KL term      alpha_ce = 0
    (d) without the MLM term     alpha_mlm = 0
    (e) random initialisation    the triple loss on a freshly initialised 3-layer student
    (f) no distillation          the extracted student, fine-tuned directly

Like with like: every variant gets the same distillation steps, every fine-tuning the demo's recipe
(at least 250 optimizer steps: 9 epochs of 1,000 labels), and every fine-tuning trains the
token table too (a random student's table holds nothing until it is trained; keeping it frozen, as
the other examples do, would measure a frozen table, not the initialisation).

Each variant is reported with its held-out perplexity and teacher agreement (median and range over
the seeds), and as the change in macro-score against (a), seed by seed (median and range over the
seeds), with a paired-bootstrap interval over the test examples of all three tasks, beside the
paper's change in GLUE macro-score. The table is printed and written to RESULTS.md.
"""
import json
import platform
import shutil
import statistics
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import torch
from tqdm.auto import tqdm

import demo  # examples/demo.py: the demo's settings for each recipe step, shared with `make demo`
from minidistil import DistilBertForMaskedLM
from minidistil.utils import metrics
from minidistil.recipes import pretrained
from minidistil.data import tasks
from minidistil.cli.flags import changed_flags, flat_fields, parse_settings
from minidistil.nn.checkpoint import MODEL_DIR, save_model
from minidistil.training.finetune import load_model
from minidistil.recipes.recipe import extract_student


@dataclass
class Settings(demo.Settings):
    """examples/demo.py's knobs (so that (a) is the demo's student: the default student's steps, batch
    and chunks, another seed), plus the seeds and tasks of the variants and where to write."""
    out: str = "runs/ablation"    # every run's folder: <variant>-seed<n>/, test.json
    finetune_examples: int = 1000  # training examples per task (0: all)
    val_examples: int = 500       # validation examples that pick the best epoch, per task (0: all)
    epochs: int = 2               # fine-tuning epochs, every task
    seeds: str = "1,2,3"          # one distillation + three fine-tunings per variant per seed
    tasks: str = "sentiment,tweets,topics"  # the classification tasks of the macro-score
    threads: int = 2              # torch CPU threads (1 can be faster on a machine busy with other jobs)
    results: str = "RESULTS.md"   # written at the end; "" writes nothing


# name, what changes in the distillation settings (the loss weights or the student's start), the
# paper's Table 4 row and its change in GLUE macro-score (None: not in Table 4)
VARIANTS = [
    ("(a) triple loss", {}, "L_ce + L_cos + L_mlm (the reference)", 0.0),
    ("(b) without cosine", {"alpha_cos": 0.0}, "L_ce - ∅ - L_mlm", -1.46),
    ("(c) without KL", {"alpha_ce": 0.0}, "∅ - L_cos - L_mlm", -2.96),
    ("(d) without MLM", {"alpha_mlm": 0.0}, "L_ce - L_cos - ∅", -0.31),
    ("(e) random init", {"student_init": "random"}, "Triple loss + random weights initialization", -3.69),
    ("(f) no distillation", None, "(not in Table 4)", None),
]


def variant_settings(s: Settings, change: dict, seed: int) -> pretrained.StudentSettings:
    """The demo's student settings with a variant's changes (loss weights, the student's start) and `seed`."""
    return replace(demo.student_settings(s, s.distill), seed=seed, **change)


def main():
    s = parse_settings(Settings, __doc__)
    seeds = [int(x) for x in s.seeds.split(",")]
    torch.set_num_threads(s.threads)
    out, started = Path(s.out), time.perf_counter()
    for name in (run_name(v[0], seed) for v in VARIANTS for seed in seeds):
        shutil.rmtree(out / name, ignore_errors=True)  # the loop would otherwise resume an old run

    print("the teacher: all-MiniLM-L6-v2 further pretrained with MLM (built once per machine, then cached)")
    teacher_dir = demo.teacher_folder(s)
    teacher = DistilBertForMaskedLM.from_pretrained(teacher_dir)
    task_list = [tasks.load(name) for name in s.tasks.split(",")]

    correct = {}  # (variant, seed, task) -> 1/0 per test example
    heldout = {}  # (variant, seed) -> held-out report before fine-tuning (perplexity, agreement, ...)
    runs = [(v, seed) for seed in seeds for v in VARIANTS]
    for (name, change, _, _), seed in tqdm(runs, desc="variants", unit="run"):
        tqdm.write(f"\n{name}, seed {seed}")
        run, seeded = out / run_name(name, seed), replace(s, seed=seed)
        if change is None:  # the extracted student, saved as it is; scored in (a)'s report, on its masks
            student_dir = run / "student"
            save_model(extract_student(teacher, s.distill.student_layers).eval(), teacher_dir, student_dir)
            heldout[name, seed] = heldout[VARIANTS[0][0], seed]["models"]["undistilled"]
        else:  # distil() seeds with `seed` before it builds the student: (e)'s random weights come from it
            report = pretrained.distill_student(variant_settings(s, change, seed), teacher_dir, run / "distill")
            heldout[name, seed] = {**report["models"]["student"], "models": report["models"]}
            student_dir = run / "distill" / MODEL_DIR
        for task in task_list:
            folder = run / task.name
            demo.finetune_task(seeded, task, student_dir, folder, train_token_table=True)
            test = task.test[:s.eval_examples or None]
            correct[name, seed, task.name] = demo.test_correctness(s, task, load_model(task, folder / MODEL_DIR),
                                                                   test, folder / MODEL_DIR)
        (out / "test.json").write_text(json.dumps({" / ".join(map(str, k)): sum(v) / len(v)
                                                   for k, v in correct.items()}, indent=1))
        (out / "heldout.json").write_text(json.dumps({" / ".join(map(str, k)): {m: v[m] for m in (
            "perplexity", "top1", "top5", "agreement")} for k, v in heldout.items()}, indent=1))

    minutes = (time.perf_counter() - started) / 60
    rows = summarise(correct, seeds, [t.name for t in task_list], heldout)
    table = markdown_table(rows, [t.name for t in task_list])
    teacher_ppl = spread([heldout[VARIANTS[0][0], seed]["models"]["teacher"]["perplexity"] for seed in seeds])
    print("\n" + table + f"\n\nteacher's held-out perplexity on the same masks: {teacher_ppl}"
          f"\nmeasured run time: {minutes:.1f} minutes")
    if s.results:
        write_section(Path(s.results), results_section(s, seeds, table, minutes, rows, task_list, teacher_ppl))
        print(f"written: the ablation section of {s.results}")


def summarise(correct: dict, seeds: list[int], task_names: list[str], heldout: dict) -> dict:
    """Per variant: the held-out perplexity and teacher agreement per seed, the macro-score per seed,
    the change against (a) per seed (median and range), the change per task, and the paired-bootstrap
    interval of the change over every seed and task."""
    reference = VARIANTS[0][0]
    accuracy = {k: sum(v) / len(v) for k, v in correct.items()}
    rows = {}
    for name, *_ in VARIANTS:
        macro = [statistics.mean(accuracy[name, seed, t] for t in task_names) for seed in seeds]
        delta = [m - statistics.mean(accuracy[reference, seed, t] for t in task_names) for seed, m in zip(seeds, macro)]
        per_task = {t: statistics.mean(accuracy[name, seed, t] - accuracy[reference, seed, t] for seed in seeds)
                    for t in task_names}
        pairs = [(correct[reference, seed, t], correct[name, seed, t]) for seed in seeds for t in task_names]
        rows[name] = {"perplexity": [heldout[name, seed]["perplexity"] for seed in seeds],
                      "agreement": [heldout[name, seed]["agreement"] for seed in seeds],
                      "macro": macro, "delta": delta, "per_task": per_task,
                      "interval": metrics.macro_paired_bootstrap(pairs) if name != reference else None}
    return rows


def run_name(variant: str, seed: int) -> str:
    """'(b) without cosine', 2 -> 'b-seed2'."""
    return f"{variant[1]}-seed{seed}"


def median_range(values: list[float]) -> str:
    """Median [min, max] in points."""
    points = [100 * v for v in values]
    if len(points) == 1:
        return f"{points[0]:+.2f}"
    return f"{statistics.median(points):+.2f} [{min(points):+.2f}, {max(points):+.2f}]"


def spread(values: list[float], digits: int = 1, scale: float = 1.0) -> str:
    """Median [min, max] of a score over the seeds."""
    v = [scale * x for x in values]
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.median(v):.{digits}f} [{min(v):.{digits}f}, {max(v):.{digits}f}]"


def markdown_table(rows: dict, task_names: list[str]) -> str:
    lines = ["| variant | paper's Table 4 row | held-out MLM perplexity, median [range] | top-1 agreement with "
             "the teacher (%), median [range] | paper: Δ GLUE macro-score | macro-score (%), median of seeds | "
             "Δ macro-score vs (a), median [range] | paired 95% interval | beyond noise? | "
             + " | ".join(f"Δ {t}" for t in task_names) + " |",
             "|---|---|---:|---:|---:|---:|---:|---:|:---:|" + "---:|" * len(task_names)]
    for name, _, paper_row, paper in VARIANTS:
        r = rows[name]
        paper_text = "0 (reference)" if paper == 0.0 else "n/a" if paper is None else f"{paper:+.2f}"
        macro = f"{100 * statistics.median(r['macro']):.2f}"
        if r["interval"] is None:
            delta, interval, beyond = "0 (reference)", "", ""
        else:
            i = r["interval"]
            delta = median_range(r["delta"])
            interval = f"[{100 * i['low']:+.2f}, {100 * i['high']:+.2f}]"
            beyond = "yes" if i["exceeds"] else "no"
        per_task = " | ".join(f"{100 * r['per_task'][t]:+.2f}" for t in task_names)
        lines.append(f"| {name} | {paper_row} | {spread(r['perplexity'])} | {spread(r['agreement'], 1, 100)} | "
                     f"{paper_text} | {macro} | {delta} | {interval} | {beyond} | {per_task} |")
    return "\n".join(lines)


SECTION = "## The ablation at laptop scale"


def budget_note(s: Settings) -> str:
    """A line saying the distillations were cut, when they ran fewer steps than the default student's."""
    full = demo.DEFAULT_STUDENT.max_steps
    if s.distill_steps >= full:
        return ""
    return (f"\n- **Cut to fit:** {s.distill_steps} distillation steps a variant, {s.distill_steps / full:.2f} of the "
            f"default student's {full:,}\n  (`python examples/ablation.py` without `--distill-steps` runs the whole budget).")


def write_section(path: Path, section: str) -> None:
    """Replace the ablation section of the results page (from its heading to the next `## ` heading),
    keeping the sections before and after it; append it when the page has none; start the page if
    there is none."""
    page = path.read_text() if path.exists() else "# Results\n\n"
    before, _, rest = page.partition(SECTION)  # rest: "" when the page has no ablation section
    after = rest[rest.index("\n## ") + 1:] if "\n## " in rest else ""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(before.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n" + ("\n" + after if after else ""))
    tmp.replace(path)  # a crash mid-write leaves the old page whole


def results_section(s: Settings, seeds: list[int], table: str, minutes: float, rows: dict, task_list,
                    teacher_ppl: str) -> str:
    flags = changed_flags(s, Settings())
    command = "python examples/ablation.py" + (f" {flags}" if flags else "")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown CPU") if Path("/proc/cpuinfo").exists() else platform.processor()
    settings = "\n".join(f"| `{k}` | {v} |" for k, v in flat_fields(s).items())
    beyond = [name for name, r in rows.items() if r["interval"] and r["interval"]["exceeds"]]
    within = [name for name, r in rows.items() if r["interval"] and not r["interval"]["exceeds"]]
    sizes = ", ".join(f"{t.name} {len(t.test[:s.eval_examples or None]):,}" for t in task_list)
    return f"""{SECTION}

The paper's Table 4 (Sanh et al. 2019, "DistilBERT, a distilled version of BERT") removes one
term of the triple loss at a time, or replaces the teacher-layer initialisation with random
weights, and reports the change in GLUE macro-score. Here the same variants are distilled from
the teacher of `make demo` (all-MiniLM-L6-v2 further pretrained with MLM) into a 3-layer student,
fine-tuned with one recipe on {len(task_list)} real classification tasks ({", ".join(t.name for t in task_list)}), and
scored by the mean of their test accuracies (a macro-score, as GLUE's). Row (f) adds what the
paper does not list: the extracted student fine-tuned with no distillation at all.

Regenerate with `make reproduce`, or:

    {command}

### Table

{table}

- **Beyond the noise of these test sets** (the paired 95% interval leaves out 0): {", ".join(beyond) or "none"}.
  **Within it** (not told apart from (a) by this run): {", ".join(within) or "none"}.
- Δ is in macro-score points against (a) with the same seed: the median over the seeds
  {", ".join(map(str, seeds))} and, in brackets, the smallest and largest. The per-task columns are means over seeds.
- The paired interval redraws each task's test set {1000} times, with every seed's pair of runs
  scored on the same redrawn examples; it measures the test sets' sampling error, the seed range
  the training's. Test examples: {sizes}.
- The held-out columns score each student before fine-tuning on {s.heldout_chunks} held-out chunks of the
  teacher's text, every model of a seed on the same masks: masked-token perplexity (the teacher's:
  {teacher_ppl}) and how often its top-1 guess is the teacher's. Median [min, max] over the seeds.
- Like with like: every variant is distilled for the same {s.distill_steps} steps (batch {s.batch_size}), on the
  same chunks and the teacher's outputs stored once for all of them (top-{s.distill.teacher_top_k}, static masks), and every
  fine-tuning trains the token table too, so that (e)'s randomly initialised table can learn.{budget_note(s)}
- Every fine-tuning takes at least {s.finetune_min_steps} optimizer steps ({s.epochs} epochs, raised by whole epochs): with
  {s.finetune_examples or "all the"} labels, 2 epochs alone left every model near the majority class (RESULTS.md,
  "Why distilled students collapsed").
- The paper's figures are changes in GLUE macro-score after a full-scale distillation of
  BERT-base; they are printed beside ours for their sign and order, not as the same unit.
  The paper's rows read "L_ce - L_cos - L_mlm" with ∅ in place of the term removed.
- The seed sets the distillation's batch order and dropout (its masks are static, the same for every
  seed: they come with the stored teacher outputs), the held-out masks of its row, the fine-tuning's
  head, dropout and order, and the random student of (e).

### Settings

| knob | value |
|---|---|
{settings}

### Machine and run

- 2-core CPU ({cpu}); torch {torch.__version__}, {s.threads} thread(s)
- date: {datetime.now().astimezone().strftime("%a %d %b %Y %H:%M %Z")}
- measured run time: {minutes:.1f} minutes for the whole script (the teacher was already cached)
"""


if __name__ == "__main__":
    main()
