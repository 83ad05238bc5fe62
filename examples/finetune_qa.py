"""Extractive QA derived from WordNet: which word in these sentences does this definition describe?

    python examples/finetune_qa.py                      # ~15 min on a 2-core CPU

The question is a WordNet definition; the context is that synset's example sentence shuffled
among 3-5 example sentences of other synsets; the answer is the defined word where it occurs. One
question in five has its sentence left out: the answer is then "no answer", as in SQuAD 2.0 (see
minidistil/tasks.py). Contexts longer than `--max-length` are read in windows. Reported: SQuAD's
exact match and F1.
"""
from dataclasses import dataclass

from minidistil import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.finetune import FinetuneConfig, finetune, metrics_table


@dataclass
class Settings:
    out_dir: str = "runs/qa"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 2000  # training examples used; 0: all of them
    eval_limit: int = 500  # validation and test examples scored; 0: all of them
    epochs: int = 2  # passes over the training examples
    lr: float = 2e-4  # peak learning rate
    max_length: int = 128  # tokens per input row


args = parse_settings(Settings, __doc__)

task = tasks.load("qa")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     stride=32, train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("qa", {"validation": result["validation"], "test": result["test"]}))
