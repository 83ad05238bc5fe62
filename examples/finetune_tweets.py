"""Three-class sentiment of noisy tweets (negative / neutral / positive), scored by macro-F1.

    python examples/finetune_tweets.py                  # ~10 min on a 2-core CPU

Tweets about self-driving cars and airlines (CrowdFlower), some with garbled characters, split
80 / 10 / 10 with seed 0. The classes are unbalanced (positive is the rarest), so the model is
chosen on validation macro-F1 rather than accuracy. Defaults: 3,000 training tweets, 64 tokens.
"""
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, finetune, metrics_table


FLAGS = ("out_dir", "train_limit", "eval_limit", "epochs", "lr", "max_length")
cfg = parse_settings(FinetuneConfig, __doc__, only=FLAGS,
                     out_dir="runs/tweets", train_limit=3000, eval_limit=1500, epochs=2, lr=1e-4, max_length=64)

task = tasks.load("tweets")
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("tweets", {"validation": result["validation"], "test": result["test"]}))
