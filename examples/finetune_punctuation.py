"""Token classification: restore the punctuation of real BBC sentences (a derived task).

    python examples/finetune_punctuation.py             # ~10 min on a 2-core CPU

The input is a passage of BBC sentences, lower-cased, with its punctuation removed; each word is
labelled with the mark that followed it in the article: COMMA (, ; : -), PERIOD (. !), QUESTION (?)
or O (see minidistil/tasks.py). Each word is labelled at its first word piece. Reported: F1 per
label and micro-F1 over the three marks (O is left out of the average, as it is most words).
"""
from dataclasses import dataclass

from minidistil import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.finetune import FinetuneConfig, finetune


@dataclass
class Settings:
    out_dir: str = "runs/punctuation"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 1500  # training examples used; 0: every training passage
    eval_limit: int = 500  # validation and test examples scored; 0: all of them
    epochs: int = 2  # passes over the training examples
    lr: float = 2e-4  # peak learning rate
    max_length: int = 96  # tokens per input row


args = parse_settings(Settings, __doc__)

task = tasks.load("punctuation")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print(f"{'label':<10}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
for label, s in result["test"]["per_label"].items():
    print(f"{label:<10}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>8.3f}{s['support']:>9}")
