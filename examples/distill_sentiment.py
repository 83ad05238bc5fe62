"""Task-time distillation (DistilBERT (D)): a 3-layer student learns from a fine-tuned teacher.

    python examples/finetune_sentiment.py               # first: the teacher, in runs/sentiment/model
    python examples/distill_sentiment.py                # ~12 min on a 2-core CPU

The student keeps layers 0, 2 and 5 of all-MiniLM-L6-v2 (half the depth, about 1.6x faster) and a
fresh head. It is fine-tuned twice on the same examples: on the labels alone, and on
    alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * cross-entropy(labels)
with the teacher's softened probabilities (Sanh et al. 2019, section 4.2; Hinton et al. 2015).
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, evaluate, finetune, load_model, load_tokenizer
from minidistil.recipes.recipe import extract_student


@dataclass
class Settings:
    teacher: str = "runs/sentiment/model"  # a fine-tuned teacher folder (examples/finetune_sentiment.py writes one)
    out_dir: str = "runs/distill"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 2000  # training examples used; 0: all of them
    alpha: float = 0.5  # weight of the teacher's soft labels
    temperature: float = 2.0  # softening of both distributions


args = parse_settings(Settings, __doc__)
if not (Path(args.teacher) / "config.json").exists():
    raise SystemExit(f"no fine-tuned teacher in {args.teacher}; run examples/finetune_sentiment.py first")

task = tasks.load("sentiment")
rows = []
for name, teacher in (("labels only", None), ("with teacher", args.teacher)):
    cfg = FinetuneConfig(out_dir=f"{args.out_dir}/{name.replace(' ', '-')}", lr=1e-4, epochs=2, max_length=64,
                         train_limit=args.train_limit or None, alpha=args.alpha, temperature=args.temperature)
    torch.manual_seed(cfg.seed)  # the fresh head draws its weights: the same head in both runs
    student = extract_student(load_model(task, sources.teacher_dir()))  # teacher layers 0, 2, 5
    result = finetune(task, sources.teacher_dir(), cfg, teacher_dir=teacher, model=student)
    rows.append((f"student, {name}", result["test"]["accuracy"]))
teacher_acc = evaluate(load_model(task, args.teacher), load_tokenizer(sources.teacher_dir()), task, "test",
                       FinetuneConfig(max_length=64))["accuracy"]
rows.append(("teacher (6 layers)", teacher_acc))
print(f"\n{'model':<26}{'test acc':>10}")
for name, acc in rows:
    print(f"{name:<26}{acc:>10.4f}")
