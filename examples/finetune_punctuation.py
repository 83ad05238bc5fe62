"""Token classification: restore the punctuation of real BBC sentences (a derived task).

    python examples/finetune_punctuation.py             # ~10 min on a 2-core CPU

The input is a passage of BBC sentences, lower-cased, with its punctuation removed; each word is
labelled with the mark that followed it in the article: COMMA (, ; : -), PERIOD (. !), QUESTION (?)
or O (see minidistil/tasks.py). Each word is labelled at its first word piece. Reported: F1 per
label and micro-F1 over the three marks (O is left out of the average, as it is most words).
"""
import argparse

from minidistil import sources, tasks
from minidistil.finetune import FinetuneConfig, finetune

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out-dir", default="runs/punctuation")
parser.add_argument("--train-limit", type=int, default=1500, help="0: every training passage")
parser.add_argument("--eval-limit", type=int, default=500)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=2e-4)
parser.add_argument("--max-length", type=int, default=96)
args = parser.parse_args()

task = tasks.load("punctuation")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print(f"{'label':<10}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
for label, s in result["test"]["per_label"].items():
    print(f"{label:<10}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>8.3f}{s['support']:>9}")
