"""A small hyper-parameter search: learning rate x epochs, chosen on validation, reported on test.

    python examples/grid_search.py                      # ~15 min on a 2-core CPU

Each (lr, epochs) pair is a full fine-tuning run of all-MiniLM-L6-v2 on Rotten Tomatoes (its own
warmup and decay over its own number of steps, its best epoch kept). The pair with the best
validation accuracy is chosen; its test accuracy is the number to report. The test column of the
other runs is printed for the curious only: choosing on it would overstate the result.
Defaults keep it short: 1,000 training snippets, validation and test cut to 500 each.
"""
from dataclasses import dataclass

from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, grid_search


@dataclass
class Settings:
    out_dir: str = "runs/grid"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 1000  # training examples used; 0: all of them
    eval_limit: int = 500  # validation and test examples scored; 0: all of them
    lrs: tuple[float, ...] = (3e-5, 1e-4)  # learning rates of the grid
    epochs: tuple[int, ...] = (1, 2)  # epoch counts of the grid


args = parse_settings(Settings, __doc__)

cfg = FinetuneConfig(out_dir=args.out_dir, max_length=64, train_limit=args.train_limit or None,
                     eval_limit=args.eval_limit or None)
summary = grid_search(tasks.load("sentiment"), sources.teacher_dir(), cfg, args.lrs, args.epochs)
print(f"\n{'lr':>8}{'epochs':>8}{'val acc':>10}{'test acc':>10}")
for run in summary["runs"]:
    chosen = "  <- chosen on validation" if run == summary["chosen"] else ""
    print(f"{run['lr']:>8g}{run['epochs']:>8}{run['validation']:>10.4f}{run['test']:>10.4f}{chosen}")
