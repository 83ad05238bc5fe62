"""Extractive QA derived from WordNet: which word in these sentences does this definition describe?

    python examples/finetune_qa.py                      # ~15 min on a 2-core CPU

The question is a WordNet definition; the context is that synset's example sentence shuffled
among 3-5 example sentences of other synsets; the answer is the defined word where it occurs. One
question in five has its sentence left out: the answer is then "no answer", as in SQuAD 2.0 (see
minidistil/data/tasks.py). Contexts longer than `--max-length` are read in windows. Reported: SQuAD's
exact match and F1.
"""
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, finetune, metrics_table


FLAGS = ("out_dir", "train_limit", "eval_limit", "epochs", "lr", "max_length")
cfg = parse_settings(FinetuneConfig, __doc__, only=FLAGS,
                     out_dir="runs/qa", train_limit=2000, eval_limit=500, epochs=2, lr=2e-4, max_length=128,
                     stride=32)

task = tasks.load("qa")
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("qa", {"validation": result["validation"], "test": result["test"]}))
