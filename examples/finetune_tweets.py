"""Three-class sentiment of noisy tweets (negative / neutral / positive), scored by macro-F1.

    python examples/finetune_tweets.py                  # ~10 min on a 2-core CPU

Tweets about self-driving cars and airlines (CrowdFlower), some with garbled characters, split
80 / 10 / 10 with seed 0. The classes are unbalanced (positive is the rarest), so the model is
chosen on validation macro-F1 rather than accuracy. Defaults: 3,000 training tweets, 64 tokens.
"""
import argparse

from minidistil import sources, tasks
from minidistil.finetune import FinetuneConfig, finetune, print_metrics

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out-dir", default="runs/tweets")
parser.add_argument("--train-limit", type=int, default=3000, help="0: every training tweet")
parser.add_argument("--eval-limit", type=int, default=1500, help="0: the whole validation and test splits")
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--lr", type=float, default=1e-4)
parser.add_argument("--max-length", type=int, default=64)
args = parser.parse_args()

task = tasks.load("tweets")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print_metrics("tweets", {"validation": result["validation"], "test": result["test"]})
