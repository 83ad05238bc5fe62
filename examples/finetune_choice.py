"""Multiple choice derived from WordNet: which of four definitions is this word's?

    python examples/finetune_choice.py                  # ~10 min on a 2-core CPU

Each example pairs a WordNet word with four definitions: its own and those of three other synsets
of the same part of speech (see minidistil/data/tasks.py). Every pair "[CLS] word [SEP] definition [SEP]"
is scored by DistilBertForMultipleChoice and the four scores are softmaxed. Chance is 25%.
WordNet comes from the Debian package wordnet-base, fetched once and pinned by sha256.
"""
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.training.finetune import FinetuneConfig, finetune, metrics_table


FLAGS = ("out_dir", "train_limit", "eval_limit", "epochs", "lr", "max_length")
cfg = parse_settings(FinetuneConfig, __doc__, only=FLAGS,
                     out_dir="runs/choice", train_limit=1500, eval_limit=500, epochs=2, lr=1e-4, max_length=48,
                     batch_size=16)

task = tasks.load("choice")
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("choice", {"validation": result["validation"], "test": result["test"]}))
print("chance: 0.25")
