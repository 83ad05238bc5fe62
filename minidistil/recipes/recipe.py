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

import numpy as np
import torch
from torch import nn

from minidistil.utils import builds
from minidistil.recipes import defaults, teacher
from minidistil.data.batching import LengthGroupedBatches, collate
from minidistil.nn.config import DistilBertConfig
from minidistil.data import TokenCorpus, check_corpus
from minidistil.data import check_vocabulary
from minidistil.training.distill import DistillationTask, DistillLoss, extract_student, make_student
from minidistil.nn.checkpoint import MODEL_DIR, save_model
from minidistil.training.finetune import evaluate, finetune
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.data.masking import MLM_SMOOTHING, Masking, MaskingOptions
from minidistil.training.mlm import MLMTask
from minidistil.recipes.teacher import TeacherSettings
from minidistil.training.teacher_outputs import IndexedChunks, TeacherOutputs, compute_teacher_outputs, outputs_key
from minidistil.training.train import TrainConfig, train

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
    student_layers: tuple[int, ...] | None = None          # teacher layers copied into the student; None: distill.STUDENT_LAYERS (0,2,5 of 6)
    student_init: Literal["teacher", "random"] = "teacher"  # copy those teacher layers, or start from random weights
    loss: DistillLoss = field(default_factory=DistillLoss)
    masking: MaskingOptions = field(default_factory=lambda: MaskingOptions(mlm_smoothing=MLM_SMOOTHING))
    teacher_top_k: int | None = None  # store the teacher's top-k logits and last hidden state once per chunk (static masks) and train on them; None: run the teacher every step

    def __post_init__(self):
        if self.teacher_top_k is not None and self.teacher_top_k < 1:
            raise ValueError(f"teacher_top_k is a number of teacher logits kept per token (64 is a good start), "
                             f"or None to run the teacher every step; got {self.teacher_top_k}")
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
                  data: str | Path | None = None, base: str | Path | None = None, progress: bool = True,
                  no_wait: bool = False, keep_checkpoints: bool = False) -> Path:
    """A teacher that knows words: all-MiniLM-L6-v2 (or `base`) further pretrained with MLM, its
    encoder unfrozen (see `minidistil.recipes.teacher` for why). Returns its model folder.

    With `out` None, the teacher of these settings is built into the data cache once per machine
    and reused afterwards (`pretrained.teacher_dir()` is the default one); a damaged cached teacher
    is rebuilt, resuming from its checkpoint when one is there. `data` or `base` need an `out`,
    since the cache is named after the settings alone. The build follows `minidistil.utils.builds`
    (`no_wait`, `keep_checkpoints`).
    """
    settings = settings or TeacherSettings()
    if out is None:
        if data is not None or base is not None:
            raise ValueError("a teacher trained on your own corpus or base model needs an output folder (--out); "
                             "the cache holds teachers made from the registry text only")
        return defaults.build("teacher", settings, no_wait=no_wait, progress=progress, device=device,
                              keep_checkpoints=keep_checkpoints)
    folder = teacher.build(settings, out, progress=progress, device=device, data=data, base=base, no_wait=no_wait,
                           keep_checkpoints=keep_checkpoints)
    return folder / MODEL_DIR


def distill(teacher: nn.Module, train_data: TokenCorpus, config: TrainConfig, settings: DistillSettings | None = None,
            eval_data: TokenCorpus | None = None, device: str = "cpu") -> tuple[nn.Module, dict]:
    """Extract a student from `teacher` (a model with an MLM head) and train it with the triple loss
    on `device` (cpu, cuda). Returns the student in eval mode and the last logged metrics.

    With `settings.teacher_top_k`, the teacher's side of the chunks this run reads is stored once
    beside the corpus (`minidistil.training.teacher_outputs`: static masks, the top-k logits, the last hidden
    state) and every later run on the same chunks, teacher and masking reads it back, whatever its
    loss weights, student or seed: the masks are the same for every training seed (mask seed 0)."""
    settings = settings or DistillSettings()
    check_corpus(train_data)
    check_vocabulary(teacher, train_data, "teacher")
    torch.manual_seed(config.seed)
    student = make_student(teacher, settings.student_layers, settings.student_init == "random").to(device)
    teacher = teacher.to(device)
    masking = Masking.for_corpus(train_data, settings.masking)
    outputs, data = None, train_data
    if settings.teacher_top_k is not None:
        outputs = stored_teacher_outputs(teacher, chunks_read(train_data, config), masking, settings.teacher_top_k,
                                         masked_only=settings.loss.restrict_ce_to_mask, progress=config.progress)
        data = IndexedChunks(train_data)  # batches carry their chunk ids, by which the store finds them
    task = DistillationTask(student, teacher, masking, settings.loss, teacher_outputs=outputs)
    result = _train_and_save(task, student, train_data, eval_data, config, data=data)
    return student.eval(), result


def chunks_read(train_data: TokenCorpus, config: TrainConfig) -> TokenCorpus:
    """The chunks of `train_data` that `train` reads in `config.max_steps` steps (its batch order is a
    pure function of the step), as a corpus of their own."""
    batches = LengthGroupedBatches(train_data.lengths, config.batch_size, config.seed)
    epochs = -(-config.max_steps // batches.per_epoch)
    if epochs > 1:  # every chunk of the epochs' batches; the few a dropped last batch leaves out cost little
        return train_data
    read = np.unique(np.concatenate([batches.batch(step) for step in range(config.max_steps)]))
    return TokenCorpus(train_data.folder, train_data.indices[read])


def stored_teacher_outputs(teacher: nn.Module, chunks: TokenCorpus, masking: Masking, k: int, *,
                           masked_only: bool = False, progress: bool = True) -> TeacherOutputs:
    """The teacher's stored outputs for `chunks`: computed for the chunks not yet stored (one process
    at a time, under a lock beside the store), read back when every one of them is there. With
    `masked_only`, the top-k at the masked positions only (enough for a KL restricted to them)."""
    key = outputs_key(teacher, chunks, masking, k, seed=0, dtype="float16", masked_only=masked_only)
    folder = Path(chunks.folder) / "teacher-outputs" / key
    if _stored(folder, chunks):
        return TeacherOutputs(folder)
    with builds.lock(folder.with_name(folder.name + ".lock"), what=f"the teacher outputs in {folder}"):
        if _stored(folder, chunks):  # another process computed them while this one waited
            return TeacherOutputs(folder)
        return compute_teacher_outputs(teacher, chunks, masking, k=k, seed=0, dtype="float16", folder=folder,
                                       progress=progress, masked_only=masked_only)


def _stored(folder: Path, chunks: TokenCorpus) -> bool:
    if not (folder / "meta.json").is_file():
        return False
    return bool(np.load(folder / "done.npy", mmap_mode="r")[chunks.indices].all())


# ---------------------------------------------------------------- shared by the steps

def corpus_collate(corpus: TokenCorpus):
    """`collate` with the corpus's own [PAD] id."""
    return partial(collate, pad_token_id=corpus.special_ids["pad"])


def mlm_perplexity(model: nn.Module, train_data: TokenCorpus, eval_data: TokenCorpus, batch_size: int = 32,
                   seed: int = 0) -> dict:
    """Held-out masked-token perplexity and top-1 / top-5 of `model`, beside the unigram model of
    `train_data`: `teacher.heldout_report`, whose masks depend on `seed` and `batch_size` only, so
    that teacher, student and a fresh model scored with the same two compare."""
    return teacher.heldout_report(model, eval_data, train_data.counts, seed, batch_size=batch_size)


def _train_and_save(task: nn.Module, model: nn.Module, train_data: TokenCorpus, eval_data: TokenCorpus | None,
                    config: TrainConfig, data=None) -> dict:
    """Train `task` on `data` (default: `train_data`); evaluate `model`'s MLM perplexity on `eval_data`
    (if given) at each eval, with the masks of `config.seed`; save `model` with the corpus's tokenizer
    to `out_dir/model` (on the first process only)."""
    def eval_fn(_task):
        return mlm_perplexity(model, train_data, eval_data, seed=config.seed)

    result = train(task, train_data if data is None else data, config, collate_fn=corpus_collate(train_data),
                   eval_fn=eval_fn if eval_data is not None else None)
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun: one process writes the folder
        save_model(model, train_data.folder, Path(config.out_dir) / MODEL_DIR)
    return result
