"""Three-class sentiment of noisy tweets (negative / neutral / positive), scored by macro-F1.

    python examples/finetune_tweets.py                  # ~10 min on a 2-core CPU

Tweets about self-driving cars and airlines (CrowdFlower), some with garbled characters, split
80 / 10 / 10 with seed 0. The classes are unbalanced (positive is the rarest), so the model is
chosen on validation macro-F1 rather than accuracy. Defaults: 3,000 training tweets, 64 tokens.
"""
from dataclasses import dataclass

from minidistil import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.finetune import FinetuneConfig, finetune, metrics_table


@dataclass
class Settings:
    out_dir: str = "runs/tweets"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 3000  # training examples used; 0: every training tweet
    eval_limit: int = 1500  # validation and test examples scored; 0: the whole validation and test splits
    epochs: int = 2  # passes over the training examples
    lr: float = 1e-4  # peak learning rate
    max_length: int = 64  # tokens per input row


args = parse_settings(Settings, __doc__)

task = tasks.load("tweets")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("tweets", {"validation": result["validation"], "test": result["test"]}))
