"""The DistilBERT paper's ablation (Sanh et al. 2019, Table 4) at laptop scale, on sentiment.

    make reproduce               # sets up, then runs this file on its defaults: the table in RESULTS.md
    python examples/ablation.py --seeds 1 --finetune-examples 2000    # one seed, less data: about a third of the time

One teacher (all-MiniLM-L6-v2 with its MLM head trained once, as in examples/demo.py) and one
prepared corpus are shared by every variant. Each variant builds a 3-layer student, distils it
(or not), fine-tunes it on Rotten Tomatoes and scores it on the test split:

    (a) triple loss              5.0 * KL + 2.0 * MLM + 1.0 * cosine, student taken from teacher layers 0, 2, 5
    (b) without the cosine term  alpha_cos = 0
    (c) without the KL term      alpha_ce = 0
    (d) without the MLM term     alpha_mlm = 0
    (e) random initialisation    the triple loss on a freshly initialised 3-layer student
    (f) no distillation          the extracted student, fine-tuned directly

Each variant is reported as the change in test accuracy against (a), seed by seed, beside the
paper's change in GLUE macro-score. The table is printed and written to RESULTS.md.
"""
import json
import platform
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import torch
from tqdm.auto import tqdm

import demo  # examples/demo.py: the steps of the recipe, shared with `make demo`
from minidistil import tasks
from minidistil.distill import make_student


@dataclass
class Settings(demo.Settings):
    """examples/demo.py's knobs, each pinned here at the demo's values (so that (a) is the demo's
    student), plus the seeds."""
    out: str = "runs/ablation"
    corpora: str = "bbc,speeches,debates,headlines,hamlet"  # names in minidistil.sources.CORPORA
    max_length: int = 64          # tokens per pretraining chunk and per sentiment snippet
    batch_size: int = 16          # distillation batch (fine-tuning uses 32)
    adapt_lr: float = 1e-2
    distill_lr: float = 5e-4
    finetune_lr: float = 1e-4
    adapt_steps: int = 60         # MLM-head steps on the frozen teacher (done once, shared)
    distill_steps: int = 100      # triple-loss steps per variant
    finetune_examples: int = 4000  # training snippets for fine-tuning; 0 takes all of them
    eval_examples: int = 0        # validation and test snippets scored; 0 takes all of each
    epochs: int = 2
    seed: int = 42                # the shared teacher's head
    seeds: str = "1,2"            # one distillation + fine-tuning per variant per seed
    threads: int = 2              # torch CPU threads (1 can be faster on a machine busy with other jobs)
    results: str = "RESULTS.md"   # written at the end; "" writes nothing


# name, what changes, the paper's Table 4 row and its change in GLUE macro-score (None: not in Table 4)
VARIANTS = [
    ("(a) triple loss", {}, "L_ce + L_cos + L_mlm (the reference)", 0.0),
    ("(b) without cosine", {"alpha_cos": 0.0}, "L_ce - ∅ - L_mlm", -1.46),
    ("(c) without KL", {"alpha_ce": 0.0}, "∅ - L_cos - L_mlm", -2.96),
    ("(d) without MLM", {"alpha_mlm": 0.0}, "L_ce - L_cos - ∅", -0.31),
    ("(e) random init", {"random_init": True}, "Triple loss + random weights initialization", -3.69),
    ("(f) no distillation", None, "(not in Table 4)", None),
]


def main():
    s = demo.parse(Settings, __doc__)
    seeds = [int(x) for x in s.seeds.split(",")]
    torch.set_num_threads(s.threads)
    out, started = Path(s.out), time.perf_counter()
    for name in ("adapt-teacher", *(run_name(v[0], seed) for v in VARIANTS for seed in seeds)):
        shutil.rmtree(out / name, ignore_errors=True)  # the loop would otherwise resume an old run

    print("fetching the teacher and the corpora; giving the teacher an MLM head (once, for every variant)")
    torch.manual_seed(s.seed)
    tokenizer, corpus = demo.prepare_corpus_for(s)
    teacher = demo.adapt_teacher(s, corpus)
    task = tasks.load("sentiment")

    test = {}  # (variant, seed) -> test metrics: accuracy, macro_f1, mcc, per_label
    runs = [(v, seed) for seed in seeds for v in VARIANTS]
    for (name, change, _, _), seed in tqdm(runs, desc="variants", unit="run"):
        tqdm.write(f"\n{name}, seed {seed}")
        run = out / run_name(name, seed)
        torch.manual_seed(seed)  # the random student of (e) draws its weights here
        if change is None:
            student = make_student(teacher).eval()
        else:
            student, _ = demo.distill(replace(s, seed=seed), teacher, corpus, run / "distill", **change)
        demo.save_with_tokenizer(student, tokenizer, run / "student")
        result = demo.finetune_sentiment(replace(s, seed=seed), task, run / "student", run / "sentiment")
        test[name, seed] = result["test"]
        (out / "test.json").write_text(json.dumps({f"{k[0]} / seed {k[1]}": v for k, v in test.items()}, indent=1))

    minutes = (time.perf_counter() - started) / 60
    table = markdown_table(test, seeds)
    print("\n" + table + f"\n\nmeasured run time: {minutes:.1f} minutes")
    if s.results:
        n_test = len(task.test[:s.eval_examples or None])
        write_section(Path(s.results), results_section(s, seeds, table, minutes, test, n_test))
        print(f"written: the ablation section of {s.results}")


def run_name(variant: str, seed: int) -> str:
    """'(b) without cosine', 2 -> 'b-seed2'."""
    return f"{variant[1]}-seed{seed}"


def mean_spread(values: list[float]) -> str:
    """Mean ± half the range, in points: with two seeds, the two values are mean - spread and mean + spread."""
    mean, spread = statistics.mean(values), (max(values) - min(values)) / 2
    return f"{mean:+.2f} ± {spread:.2f}" if len(values) > 1 else f"{mean:+.2f}"


def markdown_table(test: dict, seeds: list[int]) -> str:
    accuracy = {key: metrics["accuracy"] for key, metrics in test.items()}
    reference = {seed: accuracy[VARIANTS[0][0], seed] for seed in seeds}
    lines = ["| variant | paper's Table 4 row | paper: Δ GLUE macro-score | test accuracy (%) | "
             "Δ accuracy vs (a), points | Δ per seed | test MCC |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, _, row, paper in VARIANTS:
        acc = [100 * accuracy[name, seed] for seed in seeds]
        delta = [100 * (accuracy[name, seed] - reference[seed]) for seed in seeds]  # paired by seed
        acc_text = mean_spread(acc).lstrip("+")
        delta_text = "0 (reference)" if name == VARIANTS[0][0] else mean_spread(delta)
        per_seed = ", ".join(f"{d:+.2f}" for d in delta)
        paper_text = "0 (reference)" if paper == 0.0 else "n/a" if paper is None else f"{paper:+.2f}"
        mcc = statistics.mean(test[name, seed]["mcc"] for seed in seeds)
        lines.append(f"| {name} | {row} | {paper_text} | {acc_text} | {delta_text} | {per_seed} | {mcc:.3f} |")
    return "\n".join(lines)


SECTION = "## The ablation at laptop scale"


def write_section(path: Path, section: str) -> None:
    """Replace the ablation section of the results page (everything from its heading on), keeping
    what comes before it (the demo's table); start the page if there is none."""
    page = path.read_text() if path.exists() else "# Results\n\n"
    before = page.split(SECTION)[0].rstrip("\n") + "\n\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(before + section)
    tmp.replace(path)  # a crash mid-write leaves the old page whole


def results_section(s: Settings, seeds: list[int], table: str, minutes: float, test: dict, n_test: int) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in asdict(s).items()
                     if v != getattr(Settings, k))
    command = "python examples/ablation.py" + (f" {flags}" if flags else "")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor() or "unknown CPU") if Path("/proc/cpuinfo").exists() else platform.processor()
    settings = "\n".join(f"| `{k}` | {v} |" for k, v in asdict(s).items())
    spread = (f"`± x` is half the range over the seeds {', '.join(map(str, seeds))} (with two seeds, the two "
              f"values are mean - x and mean + x)" if len(seeds) > 1 else
              f"one seed ({seeds[0]}), so no spread over seeds is shown")
    p = statistics.mean(test[VARIANTS[0][0], seed]["accuracy"] for seed in seeds)  # the reference's level
    # A classifier that answers one class for every snippet has MCC 0: its accuracy is the class's share.
    one_class = [(name, seed) for (name, seed), metrics in test.items() if metrics["mcc"] == 0]
    warning = ""
    if one_class:
        runs = ", ".join(f"{name} (seed {seed})" for name, seed in one_class)
        why = ("A student that starts from random weights, token table included, gets the same "
               f"{s.distill_steps} distillation steps as the others: too few to learn anything the "
               "fine-tuning can build on (which keeps the token table frozen), so it answers the "
               "majority class. The paper's random student was pretrained as long as the others."
               if all(name == VARIANTS[4][0] for name, _ in one_class) else
               "Fine-tuning was too short for those students to learn the task; rerun with more "
               "fine-tuning steps (--finetune-examples, --epochs).")
        warning = (f"\n**Read this first.** These runs answered one class for every test snippet (MCC 0), so "
                   f"their accuracy is the share of that class, the majority-class baseline: {runs}. {why}\n")
    # Binomial sampling error of one accuracy on the test split, and of a difference of two.
    error = 100 * (p * (1 - p) / n_test) ** 0.5
    return f"""{SECTION}

The paper's Table 4 (Sanh et al. 2019, "DistilBERT, a distilled version of BERT") removes one
term of the triple loss at a time, or replaces the teacher-layer initialisation with random
weights, and reports the change in GLUE macro-score. Here the same variants are distilled from
all-MiniLM-L6-v2 (6 layers, with an MLM head trained once on its frozen encoder and shared by every
variant) into a 3-layer student, fine-tuned on Rotten Tomatoes sentiment and scored on its test
split. Row (f) adds what the paper does not list: the extracted student fine-tuned with no
distillation at all.

Regenerate with `make reproduce`, or:

    {command}

### Table
{warning}
{table}

- MCC is the Matthews correlation of the test predictions: 0 for a classifier that answers one class.
- Δ accuracy is in test-accuracy points (percent) against (a) with the same seed, then averaged;
  {spread}.
- The test split has {n_test:,} snippets: one snippet is {100 / n_test:.2f} points, and at (a)'s accuracy
  of {100 * p:.0f}% the sampling error of one score is about {error:.1f} points, of a difference up to about
  {error * 2 ** 0.5:.1f} points. A change smaller than that is not told apart from noise by this run.
- The paper's figures are changes in GLUE macro-score after a full-scale distillation of
  BERT-base; they are printed beside ours for their sign and order, not as the same unit.
  The paper's rows read "L_ce - L_cos - L_mlm" with ∅ in place of the term removed: ∅ - L_cos - L_mlm
  is without the KL term (-2.96), L_ce - ∅ - L_mlm without the cosine term (-1.46), L_ce - L_cos - ∅
  without the MLM term (-0.31), and the last row is the triple loss from random weights (-3.69).
- The seed sets the distillation's masking and batch order, the fine-tuning's head, dropout and
  order, and the random student of (e); the teacher's head is trained once with seed {s.seed}.

### Settings

| knob | value |
|---|---|
{settings}

### Machine and run

- 2-core CPU ({cpu}), shared with other jobs; torch {torch.__version__}, {s.threads} thread(s)
- date: {datetime.now().astimezone().strftime("%a %d %b %Y %H:%M %Z")}
- measured run time: {minutes:.1f} minutes for the whole script (corpus, teacher head, every variant)
"""


if __name__ == "__main__":
    main()
