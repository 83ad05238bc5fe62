"""Sentiment: all-MiniLM-L6-v2's encoder + a fresh DistilBERT classification head on Rotten Tomatoes.

    python examples/finetune_sentiment.py                      # ~15 min on a 2-core CPU
    python examples/finetune_sentiment.py --train-limit 0      # the whole training split (10,202)

Rotten Tomatoes fresh / rotten snippets (the source of SST-2), split 80 / 10 / 10 with seed 0.
By default the first 4,000 training snippets are used, truncated to 64 tokens (99% of snippets
are shorter), for 2 epochs; the model with the best validation accuracy is kept and scored on the
whole test split. A logistic regression on the frozen sentence embeddings reaches about 74%.
"""
import argparse

from minidistil import sources, tasks
from minidistil.finetune import FinetuneConfig, finetune, print_metrics

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out-dir", default="runs/sentiment")
parser.add_argument("--train-limit", type=int, default=4000, help="0: every training example")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--max-length", type=int, default=64)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

task = tasks.load("sentiment")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, batch_size=args.batch_size,
                     max_length=args.max_length, seed=args.seed, train_limit=args.train_limit or None)
print(f"sentiment: {len(task.train)} train / {len(task.validation)} validation / {len(task.test)} test; "
      f"training on {args.train_limit or len(task.train)}")
result = finetune(task, sources.teacher_dir(), cfg)
print_metrics("sentiment", {"validation": result["validation"], "test": result["test"]})
print(f"validation accuracy per epoch: {[round(v, 4) for v in result['validation_history']]}")
print(f"best model kept in {args.out_dir}/best")
