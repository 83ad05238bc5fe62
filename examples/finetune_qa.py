"""Extractive QA derived from WordNet: which word in these sentences does this definition describe?

    python examples/finetune_qa.py                      # ~15 min on a 2-core CPU

The question is a WordNet definition; the context is that synset's example sentence shuffled
among 3-5 example sentences of other synsets; the answer is the defined word where it occurs. One
question in five has its sentence left out: the answer is then "no answer", as in SQuAD 2.0 (see
minidistil/tasks.py). Contexts longer than `--max-length` are read in windows. Reported: SQuAD's
exact match and F1.
"""
import argparse

from minidistil import sources, tasks
from minidistil.finetune import FinetuneConfig, finetune, print_metrics

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out-dir", default="runs/qa")
parser.add_argument("--train-limit", type=int, default=2000)
parser.add_argument("--eval-limit", type=int, default=500)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=2e-4)
parser.add_argument("--max-length", type=int, default=128)
args = parser.parse_args()

task = tasks.load("qa")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     stride=32, train_limit=args.train_limit, eval_limit=args.eval_limit)
result = finetune(task, sources.teacher_dir(), cfg)
print_metrics("qa", {"validation": result["validation"], "test": result["test"]})
