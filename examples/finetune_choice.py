"""Multiple choice derived from WordNet: which of four definitions is this word's?

    python examples/finetune_choice.py                  # ~10 min on a 2-core CPU

Each example pairs a WordNet word with four definitions: its own and those of three other synsets
of the same part of speech (see minidistil/tasks.py). Every pair "[CLS] word [SEP] definition [SEP]"
is scored by DistilBertForMultipleChoice and the four scores are softmaxed. Chance is 25%.
WordNet comes from the Debian package wordnet-base, fetched once and pinned by sha256.
"""
from dataclasses import dataclass

from minidistil import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.finetune import FinetuneConfig, finetune, metrics_table


@dataclass
class Settings:
    out_dir: str = "runs/choice"  # the run's folder: model/ (the best model), metrics.jsonl, results.json
    train_limit: int = 1500  # training examples used; 0: all of them
    eval_limit: int = 500  # validation and test examples scored; 0: all of them
    epochs: int = 2  # passes over the training examples
    lr: float = 1e-4  # peak learning rate
    max_length: int = 48  # tokens per input row


args = parse_settings(Settings, __doc__)

task = tasks.load("choice")
cfg = FinetuneConfig(out_dir=args.out_dir, lr=args.lr, epochs=args.epochs, max_length=args.max_length,
                     batch_size=16, train_limit=args.train_limit or None, eval_limit=args.eval_limit or None)
result = finetune(task, sources.teacher_dir(), cfg)
print(metrics_table("choice", {"validation": result["validation"], "test": result["test"]}))
print("chance: 0.25")
