"""Sentiment: all-MiniLM-L6-v2's encoder + a fresh DistilBERT classification head on Rotten Tomatoes.

    python examples/finetune_sentiment.py                      # ~15 min on a 2-core CPU
    python examples/finetune_sentiment.py --train-limit none   # the whole training split (10,202)

Rotten Tomatoes fresh / rotten snippets (the source of SST-2), split 80 / 10 / 10 with seed 0.
By default the first 4,000 training snippets are used, truncated to 64 tokens (99% of snippets
are shorter), for 2 epochs; the model with the best validation accuracy is kept and scored on the
whole test split. A logistic regression on the frozen sentence embeddings reaches about 74%.
"""
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, finetune, metrics_table


FLAGS = ("out_dir", "train_limit", "epochs", "lr", "max_length", "batch_size", "seed")
cfg = parse_settings(FinetuneConfig, __doc__, only=FLAGS, out_dir="runs/sentiment", train_limit=4000, epochs=2,
                     lr=1e-4, max_length=64)

task = tasks.load("sentiment")
print(f"sentiment: {len(task.train)} train / {len(task.validation)} validation / {len(task.test)} test; "
      f"training on {cfg.train_limit or len(task.train)}")
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("sentiment", {"validation": result["validation"], "test": result["test"]}))
print(f"validation accuracy per epoch: {[round(v, 4) for v in result['validation_history']]}")
print(f"best model kept in {cfg.out_dir}/model")
