"""Token classification: restore the punctuation of real BBC sentences (a derived task).

    python examples/finetune_punctuation.py             # ~10 min on a 2-core CPU

The input is a passage of BBC sentences, lower-cased, with its punctuation removed; each word is
labelled with the mark that followed it in the article: COMMA (, ; : -), PERIOD (. !), QUESTION (?)
or O (see minidistil/data/tasks.py). Each word is labelled at its first word piece. Reported: F1 per
label and micro-F1 over the three marks (O is left out of the average, as it is most words).
"""
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, finetune


FLAGS = ("out_dir", "train_limit", "eval_limit", "epochs", "lr", "max_length")
cfg = parse_settings(FinetuneConfig, __doc__, only=FLAGS,
                     out_dir="runs/punctuation", train_limit=1500, eval_limit=500, epochs=2, lr=2e-4,
                     max_length=96)

task = tasks.load("punctuation")
result = finetune(task, sources.teacher_dir(), cfg)
print(f"{'label':<10}{'precision':>10}{'recall':>10}{'f1':>8}{'support':>9}")
for label, s in result["test"]["per_label"].items():
    print(f"{label:<10}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>8.3f}{s['support']:>9}")
