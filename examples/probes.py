"""What distillation put into the features: linear probes on frozen encoders, every labelled task.

    python examples/probes.py                                   # every task, every model (see the time below)
    python examples/probes.py --tasks sentiment --train-limit 1000     # a quick look
    python examples/probes.py --teacher T/model --student S/model      # other English models than the cached ones

For each task and each model, the encoder runs once over the task's examples with its weights
fixed, and a logistic regression reads its features (`minidistil.training.probes`: the mean pool
and the [CLS] position for text and choice tasks, the word's first piece for punctuation; L2 chosen
on validation; test accuracy with its 95% Wilson interval). No fine-tuning: no learning rate, no
steps, no seed to get wrong, so a difference here is in the features.

The models, English (sentiment, tweets, topics, punctuation, WordNet choice):
- `teacher`: `pretrained.teacher_dir()`, all-MiniLM-L6-v2 further pretrained with MLM;
- `student`: `pretrained.student_dir()`, its layers 0, 2, 5 distilled with the triple loss;
- `undistilled`: the same layers copied from the teacher with no distillation (`extract_student`,
  as examples/demo.py and the ablation's (f) build it), saved once into OUT/models;
- `random`: a freshly initialised model of the student's shape (seed --seed), saved once into OUT/models.
Chinese (`sentiment-zh`): the same four from `pretrained.chinese_dir()` and `pretrained.chinese_student_dir()`.
The WordNet QA task (answer spans, no class per item) is not probed; `speeches` (19 test documents, too
few to tell models apart) is left out of the defaults (`--tasks speeches` adds it).

**Models that are not cached are built by their recipes first**, into the data cache, once per
machine: the English teacher (about 21 minutes on 2 cores), the English student (about 28), the
Chinese encoder and student (about 32 in all). Once they are there, the probes themselves take
minutes per task on 2 cores (one forward per example and model; the features are kept in
OUT/features, so a rerun only fits the probes).

Printed: one Markdown table (a row per task and pool, a column per model, and the paired
differences student - undistilled, student - random, teacher - student with their 95% paired
bootstrap intervals on the same test items); written: OUT/probes.json with every figure.
"""
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from minidistil import DistilBertForMaskedLM
from minidistil.cli.flags import parse_settings
from minidistil.data import tasks
from minidistil.nn.checkpoint import save_model
from minidistil.recipes import chinese, pretrained
from minidistil.training import probes
from minidistil.training.distill import extract_student

MODELS = ("teacher", "student", "undistilled", "random")
# (b, a): the table's paired differences b - a
COMPARISONS = (("student", "undistilled"), ("student", "random"), ("teacher", "student"))


@dataclass
class Settings:
    out: str = "runs/probes"        # features/, models/, probes.json
    tasks: str = "sentiment,tweets,topics,punctuation,choice,sentiment-zh"  # the labelled tasks probed
    models: str = ",".join(MODELS)  # the columns (teacher, student, undistilled, random)
    teacher: str = ""               # an English MLM teacher folder; "": the cached default (built when absent)
    student: str = ""               # an English student folder; "": the cached default (built when absent)
    zh_teacher: str = ""            # the Chinese teacher folder; "": the cached default
    zh_student: str = ""            # the Chinese student folder; "": the cached default
    student_layers: str = ""        # teacher layers of the undistilled copy; "": the default student's (0,2,5)
    max_length: int = 128           # tokens per input row
    train_limit: int = 5000         # training examples the probe is fitted on (0: all)
    eval_limit: int = 2000          # validation and test examples (0: all)
    token_train_limit: int = 600    # punctuation: training passages (about 30 words each, every word an item)
    token_eval_limit: int = 400     # punctuation: validation and test passages
    l2_grid: tuple[float, ...] = probes.ProbeConfig.l2_grid  # L2 weights tried, chosen on validation
    seed: int = 0                   # the random model's weights and the bootstrap's draws
    threads: int = 0                # torch threads; 0 keeps torch's default


def language_of(task_name: str) -> str:
    return "zh" if task_name.endswith("-zh") else "en"


def model_folders(s, language: str, names=MODELS) -> dict[str, Path]:
    """The folders of `names` for `language` ("en", "zh"): the cached default teacher and student
    (built by their recipes when absent) or the ones `s` names, and the undistilled copy and the
    random model of the student's shape, derived from the teacher once into `s.out`/models."""
    if language == "zh":
        teacher = Path(s.zh_teacher) if s.zh_teacher else pretrained.chinese_dir()
        student = (lambda: Path(s.zh_student) if s.zh_student else pretrained.chinese_student_dir())
        layers = chinese.STUDENT.layers
    else:
        teacher = Path(s.teacher) if s.teacher else pretrained.teacher_dir()
        student = (lambda: Path(s.student) if s.student else pretrained.student_dir())
        layers = pretrained.StudentSettings().student_layers
    if s.student_layers:
        layers = s.student_layers
    if isinstance(layers, str):
        layers = tuple(int(i) for i in layers.split(","))
    tag = f"{language}-{'-'.join(map(str, layers))}-{teacher_tag(teacher)}"
    folders = {}
    for name in names:
        if name == "teacher":
            folders[name] = teacher
        elif name == "student":
            folders[name] = student()
        elif name in ("undistilled", "random"):
            folder = Path(s.out) / "models" / (f"{name}-{tag}" + (f"-seed{s.seed}" if name == "random" else ""))
            if not (folder / "config.json").is_file():
                big = DistilBertForMaskedLM.from_pretrained(teacher)
                torch.manual_seed(s.seed)  # extract_student draws the random model's weights after it
                save_model(extract_student(big, layers, random_init=name == "random").eval(), teacher, folder)
            folders[name] = folder
        else:
            raise ValueError(f"unknown model {name!r}; choose among {', '.join(MODELS)}")
    return folders


def teacher_tag(teacher: Path) -> str:
    """A short name for the teacher a derived model comes from: its cache folder (which holds its settings' key)."""
    return teacher.parent.name if teacher.name == "model" else teacher.name


def run(s: Settings) -> dict:
    """Every (task, model) probe and the paired comparisons; the features are cached in OUT/features."""
    out = Path(s.out)
    names = [m for m in s.models.split(",") if m]
    report = {"settings": asdict(s), "tasks": {}}
    for task_name in [t for t in s.tasks.split(",") if t]:
        task = tasks.load(task_name)
        token = task.kind == "token"
        cfg = probes.ProbeConfig(max_length=s.max_length, seed=s.seed, l2_grid=tuple(s.l2_grid),
                                 train_limit=(s.token_train_limit if token else s.train_limit) or None,
                                 eval_limit=(s.token_eval_limit if token else s.eval_limit) or None)
        folders = model_folders(s, language_of(task_name), names)
        results = {}
        for name, folder in folders.items():
            path = (out / "features" / f"{task_name}-{name}-{teacher_tag(Path(folder))}-{s.max_length}-"
                    f"{cfg.train_limit}-{cfg.eval_limit}.pt")
            if path.is_file():
                found = probes.load_features(path)
            else:
                started = time.perf_counter()
                found = probes.extract(task, folder, cfg)
                probes.save_features(found, path)
                print(f"{task_name} / {name}: features in {time.perf_counter() - started:.0f} s")
            results[name] = {pool: probes.probe(task, found, pool, cfg) for pool in found["train"].pools}
        gold = [e for e in task.test[:cfg.eval_limit]]
        entry = {"folders": {k: str(v) for k, v in folders.items()}, "majority": majority_share(task, gold),
                 "pools": {}}
        for pool in next(iter(results.values())):
            entry["pools"][pool] = {
                "models": {name: {k: v for k, v in r[pool].items() if k not in ("correct", "groups")}
                           for name, r in results.items()},
                "comparisons": {f"{b} - {a}": probes.compare(results[a][pool], results[b][pool], seed=s.seed)
                                for b, a in COMPARISONS if a in results and b in results}}
        report["tasks"][task_name] = entry
        (out / "probes.json").write_text(json.dumps(report, indent=1))  # after every task: a partial run is read too
    return report


def majority_share(task, examples) -> float | None:
    """The share of the most frequent test label: the accuracy of always saying it (sequence tasks)."""
    if task.kind != "sequence" or not examples:
        return None
    labels = [e["label"] for e in examples]
    return max(labels.count(y) for y in set(labels)) / len(labels)


def markdown_table(report: dict) -> str:
    names = next(iter(next(iter(report["tasks"].values()))["pools"].values()))["models"].keys()
    comparisons = [f"{b} - {a}" for b, a in COMPARISONS if a in names and b in names]
    lines = ["| task | features | majority class | " + " | ".join(f"{n} (%)" for n in names) + " | "
             + " | ".join(f"Δ {c} (points)" for c in comparisons) + " |",
             "|---|---|---:|" + "---:|" * (len(names) + len(comparisons))]
    for task_name, entry in report["tasks"].items():
        majority = f"{100 * entry['majority']:.1f}" if entry["majority"] is not None else ""
        for pool, found in entry["pools"].items():
            cells = []
            for n in names:
                r = found["models"][n]["test"]
                cells.append(f"{100 * r['accuracy']:.1f} [{100 * r['wilson'][0]:.1f}, {100 * r['wilson'][1]:.1f}]")
            for c in comparisons:
                d = found["comparisons"][c]
                star = " *" if d["exceeds"] else ""
                cells.append(f"{100 * d['difference']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]{star}")
            lines.append(f"| {task_name} | {pool} | {majority} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    s = parse_settings(Settings, __doc__)
    if s.threads:
        torch.set_num_threads(s.threads)
    started = time.perf_counter()
    report = run(s)
    print("\n" + markdown_table(report))
    print("\ntest accuracy of a logistic regression on frozen features [95% Wilson interval]; Δ: paired "
          "difference on the same test items [95% paired bootstrap; punctuation redraws whole passages], "
          "* where it leaves out 0. L2 chosen on the validation split.")
    print(f"written: {Path(s.out) / 'probes.json'}; {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
