"""Multiple choice derived from WordNet: which of four definitions is this word's?

    python examples/finetune_choice.py                  # ~10 min on a 2-core CPU

Each example pairs a WordNet word with four definitions: its own and those of three other synsets
of the same part of speech (see minidistil/tasks.py). Every pair "[CLS] word [SEP] definition [SEP]"
is scored by DistilBertForMultipleChoice and the four scores are softmaxed. Chance is 25%.
WordNet comes from the Debian package wordnet-base, fetched once and pinned by sha256.
"""
import argparse

from minidistil import sources, tasks
from minidistil.finetune import FinetuneConfig, finetune, print_metrics

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out-dir", default="runs/choice")
parser.add_argument("--train-limit", type=int, default=1500)
parser.add_argument("--eval-limit", type=int, default=500)
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--max-length", type=int, default=48)
args = parser.parse_args()

task = tasks.load("choice")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     batch_size=16, train_limit=args.train_limit, eval_limit=args.eval_limit)
result = finetune(task, sources.teacher_dir(), cfg)
print_metrics("choice", {"validation": result["validation"], "test": result["test"]})
print("chance: 0.25")
