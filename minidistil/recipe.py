"""The DistilBERT recipe as library calls: adapt the teacher, extract the student, distil, fine-tune,
evaluate (and MLM pretraining from scratch). The command line, `make demo`, `make reproduce` and the
examples all run these functions; none writes a step out again.

    teacher_dir = adapt_teacher()                                      # cached: built once per machine
    train_data, eval_data = TokenCorpus("runs/corpus").split(200)     # a corpus from `prepare-data`
    teacher = DistilBertForMaskedLM.from_pretrained(teacher_dir)
    student, _ = distill(teacher, train_data, TrainConfig(out_dir="runs/student"), eval_data=eval_data)
    result = finetune(tasks.load("sentiment"), "runs/student/model", FinetuneConfig(out_dir="runs/sentiment"))
    evaluate(load_model(task, "runs/sentiment/model"), load_tokenizer("runs/sentiment/model"), task)

Every step writes the same folder layout into its `out_dir` (adapt_teacher adds `report.json`,
its held-out scores, and the `corpus/` and `heldout/` text it read):

    model/          the final model with its tokenizer files: `from_pretrained` and `pipeline()` load it
    checkpoint.pt   the loop's resume point (a second call with the same out_dir resumes from it;
                    fine-tuning deletes it once its best model is in model/)
    metrics.jsonl   one line per logged step and per evaluation
    loss.png        the loss curves (with matplotlib installed)
    results.json    fine-tuning only: the validation history and the test metrics

Each step seeds torch with its `seed` before it builds a model (a fresh head or student draws its
weights), so two runs with the same settings give bitwise the same weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from minidistil import sources, teacher
from minidistil.batching import collate
from minidistil.config import DistilBertConfig
from minidistil.data import TokenCorpus, check_corpus
from minidistil.distill import DistillationTask, DistillLoss, check_vocabulary, make_student
from minidistil.finetune import MODEL_DIR, evaluate, finetune, save_model
from minidistil.heads import DistilBertForMaskedLM
from minidistil.masking import MLM_SMOOTHING, Masking, MaskingOptions
from minidistil.mlm import MLMTask
from minidistil.sources import TeacherSettings
from minidistil.train import TrainConfig, evaluate_losses, train

__all__ = ["PretrainSettings", "TeacherSettings", "DistillSettings", "pretrain", "fresh_model", "adapt_teacher", "extract_student",
           "distill", "finetune", "evaluate", "check_corpus", "mlm_perplexity"]


@dataclass
class PretrainSettings:
    init: str | None = None        # start from this model folder instead of random weights
    dim: int = 256                 # width C of a fresh model: a small BERT for a CPU, not DistilBERT's 768
    n_layers: int = 4              # transformer blocks of a fresh model
    n_heads: int = 4               # attention heads of a fresh model
    hidden_dim: int = 1024         # FFN size F of a fresh model
    sparse_head: bool = True       # project only the masked positions onto the vocabulary (the same loss, cheaper)
    masking: MaskingOptions = field(default_factory=MaskingOptions)


@dataclass
class DistillSettings:
    student_layers: tuple[int, ...] | None = None          # teacher layers copied into the student; None: convert.STUDENT_LAYERS (0,2,5 of 6)
    student_init: Literal["teacher", "random"] = "teacher"  # copy those teacher layers, or start from random weights
    loss: DistillLoss = field(default_factory=DistillLoss)
    masking: MaskingOptions = field(default_factory=lambda: MaskingOptions(mlm_smoothing=MLM_SMOOTHING))

    def __post_init__(self):
        if isinstance(self.student_layers, str):  # "0,2,5", as a config file or a flag writes it
            try:
                self.student_layers = tuple(int(i) for i in self.student_layers.split(","))
            except ValueError:
                raise ValueError(f"student_layers takes comma-separated teacher layers such as 0,2,5, "
                                 f"got {self.student_layers!r}") from None
        if self.student_layers is not None:
            self.student_layers = tuple(self.student_layers)
        if self.student_init not in ("teacher", "random"):
            raise ValueError(f"student_init is 'teacher' or 'random', got {self.student_init!r}")


# ---------------------------------------------------------------- the steps

def pretrain(train_data: TokenCorpus, config: TrainConfig, settings: PretrainSettings | None = None,
             eval_data: TokenCorpus | None = None) -> tuple[nn.Module, dict]:
    """MLM pretraining of a fresh BERT (or of `settings.init`) on a prepared corpus."""
    settings = settings or PretrainSettings()
    check_corpus(train_data)
    torch.manual_seed(config.seed)
    model = DistilBertForMaskedLM.from_pretrained(settings.init) if settings.init else fresh_model(train_data, settings)
    check_vocabulary(model, train_data)
    task = MLMTask(model, Masking.for_corpus(train_data, settings.masking), sparse=settings.sparse_head)
    return model, _train_and_save(task, model, train_data, eval_data, config)


def fresh_model(train_data: TokenCorpus, settings: PretrainSettings) -> nn.Module:
    """A randomly initialised BERT of the settings' size for the corpus's vocabulary (seed torch first)."""
    return DistilBertForMaskedLM(DistilBertConfig(
        vocab_size=train_data.vocab_size, dim=settings.dim, n_layers=settings.n_layers, n_heads=settings.n_heads,
        hidden_dim=settings.hidden_dim, pad_token_id=train_data.special_ids["pad"],
        max_position_embeddings=max(512, train_data.meta["options"]["max_length"])))


def adapt_teacher(settings: TeacherSettings | None = None, out: str | Path | None = None, *, device: str = "cpu",
                  data: str | Path | None = None, base: str | Path | None = None, progress: bool = True) -> Path:
    """A teacher that knows words: all-MiniLM-L6-v2 (or `base`) further pretrained with MLM, its
    encoder unfrozen (see `minidistil.teacher` for why). Returns its model folder.

    With `out` None, the teacher of these settings is built into the data cache once per machine
    and reused afterwards (`sources.mlm_teacher_dir()` is the default one); `data` or `base` need
    an `out`, since the cache is named after the settings alone.
    """
    settings = settings or TeacherSettings()
    if out is None:
        if data is not None or base is not None:
            raise ValueError("a teacher trained on your own corpus or base model needs an output folder (--out); "
                             "the cache holds teachers made from the registry text only")
        out = sources.mlm_teacher_root(settings)
        if (out / MODEL_DIR / "config.json").exists():
            return out / MODEL_DIR
    return teacher.build(settings, out, progress=progress, device=device, data=data, base=base) / MODEL_DIR


def extract_student(teacher: nn.Module, settings: DistillSettings | None = None) -> nn.Module:
    """The student that `distill` starts from: the teacher's layers `settings.student_layers`, or
    random weights of that shape. Seed torch first (a random student draws its weights)."""
    settings = settings or DistillSettings()
    return make_student(teacher, settings.student_layers, random_init=settings.student_init == "random")


def distill(teacher: nn.Module, train_data: TokenCorpus, config: TrainConfig, settings: DistillSettings | None = None,
            eval_data: TokenCorpus | None = None, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Extract a student from `teacher` (a model with an MLM head) and train it with the triple loss
    on `device` (cpu, cuda). Returns the student in eval mode and the last logged metrics."""
    settings = settings or DistillSettings()
    check_corpus(train_data)
    check_vocabulary(teacher, train_data, "teacher")
    torch.manual_seed(config.seed)
    student = extract_student(teacher, settings).to(device)
    teacher = teacher.to(device)
    task = DistillationTask(student, teacher, Masking.for_corpus(train_data, settings.masking), settings.loss)
    result = _train_and_save(task, student, train_data, eval_data, config)
    return student.eval(), result


# ---------------------------------------------------------------- shared by the steps

def corpus_collate(corpus: TokenCorpus):
    """`collate` with the corpus's own [PAD] id."""
    return partial(collate, pad_token_id=corpus.special_ids["pad"])


def mlm_perplexity(model: nn.Module, train_data: TokenCorpus, eval_data: TokenCorpus, batch_size: int = 32,
                   seed: int = 0) -> dict:
    """Held-out MLM losses and perplexity of `model`, with the same uniform masks for every model
    (seeded), so that teacher, student and a fresh model compare."""
    task = MLMTask(model, Masking.for_corpus(train_data), sparse=True)
    return evaluate_losses(task, eval_data, batch_size=batch_size, collate_fn=corpus_collate(train_data), seed=seed)


def _train_and_save(task: nn.Module, model: nn.Module, train_data: TokenCorpus, eval_data: TokenCorpus | None,
                    config: TrainConfig) -> dict:
    """Train `task`; evaluate `model`'s MLM perplexity on `eval_data` (if given) at each eval;
    save `model` with the corpus's tokenizer to `out_dir/model` (on the first process only)."""
    def eval_fn(_task):
        return mlm_perplexity(model, train_data, eval_data, config.batch_size, config.seed)

    result = train(task, train_data, config, collate_fn=corpus_collate(train_data),
                   eval_fn=eval_fn if eval_data is not None else None)
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: one process writes the folder
        save_model(model, train_data.folder, Path(config.out_dir) / MODEL_DIR)
    return result
