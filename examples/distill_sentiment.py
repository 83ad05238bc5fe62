"""Task-time distillation (DistilBERT (D)): a 3-layer student learns from a fine-tuned teacher.

    python examples/finetune_sentiment.py               # first: the teacher, in runs/sentiment/best
    python examples/distill_sentiment.py                # ~12 min on a 2-core CPU

The student keeps layers 0, 2 and 5 of all-MiniLM-L6-v2 (half the depth, about 1.6x faster) and a
fresh head. It is fine-tuned twice on the same examples: on the labels alone, and on
    alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy(labels)
with the teacher's softened probabilities (Sanh et al. 2019, section 4.2; Hinton et al. 2015).
"""
import argparse
from pathlib import Path

from minidistil import sources, tasks
from minidistil.convert import extract_student
from minidistil.finetune import FinetuneConfig, evaluate, finetune, load_model, load_tokenizer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--teacher", default="runs/sentiment/best")
parser.add_argument("--out-dir", default="runs/distill")
parser.add_argument("--train-limit", type=int, default=2000)
parser.add_argument("--alpha", type=float, default=0.5)
parser.add_argument("--temperature", type=float, default=2.0)
args = parser.parse_args()
if not (Path(args.teacher) / "config.json").exists():
    raise SystemExit(f"no fine-tuned teacher in {args.teacher}; run examples/finetune_sentiment.py first")

task = tasks.load("sentiment")
rows = []
for name, teacher in (("labels only", None), ("with teacher", args.teacher)):
    student = extract_student(load_model(task, sources.teacher_dir()), (0, 2, 5))
    cfg = FinetuneConfig(out_dir=f"{args.out_dir}/{name.replace(' ', '-')}", lr=1e-4, epochs=2, max_length=64,
                         train_limit=args.train_limit, alpha=args.alpha, temperature=args.temperature)
    result = finetune(task, sources.teacher_dir(), cfg, teacher_dir=teacher, model=student)
    rows.append((f"student, {name}", result["test"]["accuracy"]))
teacher_acc = evaluate(load_model(task, args.teacher), load_tokenizer(sources.teacher_dir()), task, "test",
                       FinetuneConfig(max_length=64))["accuracy"]
rows.append(("teacher (6 layers)", teacher_acc))
print(f"\n{'model':<26}{'test acc':>10}")
for name, acc in rows:
    print(f"{name:<26}{acc:>10.4f}")
