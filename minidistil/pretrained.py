"""The default models, built once per machine into the data cache and reused: one function each.

    >>> from minidistil import pretrained
    >>> pretrained.teacher_dir()   # all-MiniLM-L6-v2 further pretrained with MLM (about 21 min on 2 cores, once)
    PosixPath('~/.cache/minidistil/teachers/minilm-mlm-<key>/model')
    >>> pretrained.student_dir()   # a 3-layer student distilled from it (about 28 min on 2 cores, once)
    PosixPath('~/.cache/minidistil/students/distil-<key>/model')
    >>> json.loads((pretrained.student_dir().parent / "report.json").read_text())["models"]["student"]["perplexity"]

Each function returns the cached model folder, building it in this process (with a progress bar)
when it is absent, under the rules of `minidistil.builds`: one builder per entry at a time
(`no_wait=True` fails in one sentence instead of waiting), a manifest whose sizes are checked on
every call, resume from the last checkpoint after an interruption, bounded disk. A damaged entry
raises `builds.DamagedEntryError` naming the file and the command that rebuilds it.

Each build's settings are a frozen dataclass whose `key()` names its folder, so other settings
build beside the default and never over it: `TeacherSettings` (in `minidistil.teacher`, beside the
build) and `StudentSettings` (here). A new default model (a Chinese encoder, a translator) is one
more settings class and one more function of the same five lines.

This module sits above the recipe (it calls its steps); nothing below it imports it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from minidistil import builds, recipe, teacher
from minidistil.batching import LengthGroupedBatches
from minidistil.checkpoint import MODEL_DIR
from minidistil.data import TokenCorpus
from minidistil.data.cache import cache_dir
from minidistil.distill import DistillLoss, extract_student
from minidistil.heads import DistilBertForMaskedLM
from minidistil.masking import MLM_SMOOTHING, MaskingOptions
from minidistil.plots import plot_curve
from minidistil.teacher import TeacherSettings
from minidistil.teacher_outputs import TOP_K
from minidistil.train import TrainConfig

__all__ = ["teacher_dir", "student_dir", "chinese_dir", "chinese_student_dir", "translator_dir", "translator_folders",
           "TeacherSettings", "StudentSettings", "student_root", "distill_student", "distillation_report"]


# ---------------------------------------------------------------- the teacher

def teacher_dir(settings: TeacherSettings = TeacherSettings(), *, no_wait: bool = False, progress: bool = True,
                device: str = "cpu") -> Path:
    """The MLM teacher built with `settings` (default: the one every example uses); see `minidistil.teacher`."""
    root = teacher.cached_dir(settings)
    if not builds.finished(root, rebuild=teacher.REBUILD):
        recipe.adapt_teacher(settings, device=device, progress=progress, no_wait=no_wait)
    return root / MODEL_DIR


# ---------------------------------------------------------------- the distilled student

@dataclass(frozen=True)
class StudentSettings:
    """The default student: 3 of the teacher's 6 layers, distilled with the triple loss on the teacher's
    text, on stored teacher outputs. The teacher's outputs for each chunk (top-k at the masked
    positions) are computed once and a step on them costs 0.67x a step running the teacher, so every
    later run on the same chunks (the ablation's variants and seeds) is cheaper. The budget: 2,400
    steps (3.2M tokens) took 20 minutes on 2 idle cores after the stored outputs, and bring the
    student from the 800-step teacher to 1.43x its held-out perplexity (1,200 steps: 1.68x; the
    curve still falls at the end), 0.33x the same student undistilled."""
    teacher: TeacherSettings = field(default_factory=TeacherSettings)  # the teacher: it learns from it, reads its text
    student_layers: str = "0,2,5"     # teacher layers copied into the student
    student_init: str = "teacher"     # "teacher": start from those layers; "random": fresh weights of that shape
    max_steps: int = 2400             # optimizer steps of the triple loss: one pass over max_steps x batch_size chunks
    batch_size: int = 16              # chunks per step
    lr: float = 5e-4                  # peak learning rate (DistilBERT's)
    temperature: float = 2.0          # softmax temperature of the KL term
    alpha_ce: float = 5.0             # weights of the triple loss (DistilBERT's)
    alpha_mlm: float = 2.0
    alpha_cos: float = 1.0
    restrict_ce_to_mask: bool = True  # KL on the masked positions only: 2-3 times faster on a CPU
    teacher_top_k: int | None = TOP_K  # teacher logits stored per token (computed once, shared); None: the teacher runs every step
    heldout_chunks: int = 400         # held-out chunks of the report and the curve (the teacher's report's, with its seed: the same masks)
    bf16: bool = False                # bfloat16 autocast
    seed: int = 42                    # the student's dropout, batch order and the report's masks

    def key(self) -> str:
        """Eight hex digits naming these settings (the teacher's key included)."""
        text = json.dumps({**asdict(self), "teacher": self.teacher.key()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def distill_settings(self) -> recipe.DistillSettings:
        loss = DistillLoss(alpha_ce=self.alpha_ce, alpha_mlm=self.alpha_mlm, alpha_cos=self.alpha_cos,
                           temperature=self.temperature, restrict_ce_to_mask=self.restrict_ce_to_mask)
        return recipe.DistillSettings(student_layers=self.student_layers, student_init=self.student_init, loss=loss,
                                      masking=MaskingOptions(mlm_smoothing=MLM_SMOOTHING),
                                      teacher_top_k=self.teacher_top_k)


STUDENT_REBUILD = "python -m minidistil distill"  # the command that (re)builds the default student


def student_root(settings: StudentSettings = StudentSettings()) -> Path:
    """Where the student built with `settings` lives: `<cache>/students/distil-<key>`."""
    return cache_dir() / "students" / f"distil-{settings.key()}"


def student_dir(settings: StudentSettings = StudentSettings(), *, no_wait: bool = False, progress: bool = True,
                device: str = "cpu") -> Path:
    """A student distilled from `teacher_dir(settings.teacher)` (`distill_student`), with its
    `report.json` and `heldout.png` beside the model; resumes from its checkpoint when interrupted."""
    root = student_root(settings)
    if builds.finished(root, rebuild=STUDENT_REBUILD):
        return root / MODEL_DIR
    teacher_model = teacher_dir(settings.teacher, no_wait=no_wait, progress=progress, device=device)
    estimate = teacher.estimate_bytes(teacher_model) + store_bytes(settings, teacher_model)  # the store: beside the teacher
    with builds.entry(root, estimate_bytes=estimate, no_wait=no_wait, rebuild=STUDENT_REBUILD,
                      what=f"the default student in {root}") as work:
        if work is not None:
            distill_student(settings, teacher_model, work, progress=progress, device=device)
    return root / MODEL_DIR


def distill_student(settings: StudentSettings, teacher_model: str | Path, out: str | Path, *, progress: bool = True,
                    device: str = "cpu") -> dict:
    """Distil a student from the MLM teacher in `teacher_model` (with `corpus/` and `heldout/` beside
    it, as adapt-teacher writes them) into `out`: `model/`, the loop's files, `report.json` (see
    `distillation_report`, plus the held-out curve against tokens seen) and `heldout.png`. Every run
    with the same `max_steps x batch_size` reads the same chunks (spread over the corpus), so that
    their stored teacher outputs are computed once for all of them. Returns the report."""
    teacher_model, out = Path(teacher_model), Path(out)
    corpus = TokenCorpus(teacher_model.parent / "corpus")
    train_data = spread(corpus, settings.max_steps * settings.batch_size)
    heldout = spread(TokenCorpus(teacher_model.parent / "heldout"), settings.heldout_chunks)  # as the teacher's report
    config = TrainConfig(out_dir=str(out), max_steps=settings.max_steps, batch_size=settings.batch_size,
                         lr=settings.lr, seed=settings.seed, bf16=settings.bf16, save_every=50, log_every=10,
                         eval_every=max(settings.max_steps // 8, 1), progress=progress)
    big = DistilBertForMaskedLM.from_pretrained(teacher_model)
    student, _ = recipe.distill(big, train_data, config, settings.distill_settings(), eval_data=heldout,
                                device=device)
    report = {"settings": {**asdict(settings), "teacher": settings.teacher.key()}, "teacher_model": str(teacher_model),
              "train_chunks": len(train_data), "train_tokens": int(train_data.lengths.sum()),
              **distillation_report(student, big, heldout, corpus.counts, settings.seed, settings.student_layers)}
    report["curve"] = heldout_curve(out / "metrics.jsonl", train_data, config,
                                    start=report["models"]["undistilled"] if settings.student_init == "teacher" else None)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    models = report["models"]
    plot_curve([(p["tokens_seen"], p["perplexity"]) for p in report["curve"]], out / "heldout.png",
               xlabel="tokens seen", ylabel="held-out masked-token perplexity",
               lines={"teacher": models["teacher"]["perplexity"], "undistilled": models["undistilled"]["perplexity"]},
               title=f"the student, {settings.max_steps} steps of {settings.batch_size} chunks")
    return report


def store_bytes(settings: StudentSettings, teacher_model: Path) -> int:
    """Disk the stored teacher outputs of the student's chunks take beside the teacher's corpus: per
    token the float16 hidden state and top-k logits, the top-k ids and the masked ids and labels."""
    if settings.teacher_top_k is None:
        return 0
    dim = json.loads((Path(teacher_model) / "config.json").read_text())["dim"]
    tokens = settings.max_steps * settings.batch_size * settings.teacher.max_length
    return tokens * (2 * dim + 4 * settings.teacher_top_k + 6)


def spread(corpus: TokenCorpus, n: int) -> TokenCorpus:
    """`n` chunks spread evenly over `corpus` (all of it when it has no more); the teacher's report
    picks its held-out chunks so, and with its `heldout_chunks` and seed scores the same masks."""
    if n >= len(corpus):
        return corpus
    return TokenCorpus(corpus.folder, corpus.indices[np.linspace(0, len(corpus) - 1, n).round().astype(np.int64)])


@torch.no_grad()
def distillation_report(student, teacher_model, heldout: TokenCorpus, counts: np.ndarray, seed: int,
                        layers=None) -> dict:
    """Held-out masked-token perplexity, top-1 / top-5 and top-1 agreement with the teacher of the
    student, the teacher, and the same student extracted from the teacher with no distillation
    (`layers`), all scored by `teacher.heldout_report` on the same masks (`seed`); and the ratios the
    issue's goals read (student / teacher, student / undistilled perplexity)."""
    if isinstance(layers, str):
        layers = tuple(int(i) for i in layers.split(","))
    device = next(teacher_model.parameters()).device
    undistilled = extract_student(teacher_model, layers).to(device).eval()
    score = lambda m: teacher.heldout_report(m, heldout, counts, seed, reference=teacher_model)  # noqa: E731
    models = {"student": score(student), "teacher": score(teacher_model), "undistilled": score(undistilled)}
    ppl = {name: r["perplexity"] for name, r in models.items()}
    return {"heldout_chunks": len(heldout), "seed": seed, "models": models,
            "student_over_teacher": ppl["student"] / ppl["teacher"],
            "student_over_undistilled": ppl["student"] / ppl["undistilled"]}


def tokens_seen(train_data: TokenCorpus, config: TrainConfig) -> np.ndarray:
    """Real tokens read after each step (index step - 1): the loop's own batch order, replayed."""
    batches = LengthGroupedBatches(train_data.lengths, config.batch_size, config.seed)
    return np.cumsum([int(train_data.lengths[batches.batch(step)].sum()) for step in range(config.max_steps)])


def heldout_curve(metrics_path: Path, train_data: TokenCorpus, config: TrainConfig, start: dict | None = None) -> list:
    """The held-out evaluations of metrics.jsonl against tokens seen; `start`: the score at step 0."""
    seen = tokens_seen(train_data, config)
    curve = [{"step": 0, "tokens_seen": 0, "perplexity": start["perplexity"]}] if start else []
    for line in Path(metrics_path).read_text().splitlines():
        record = json.loads(line)
        if "eval_perplexity" in record:
            curve.append({"step": record["step"], "tokens_seen": int(seen[record["step"] - 1]),
                          "perplexity": record["eval_perplexity"]})
    return curve


# ---------------------------------------------------------------- the Chinese encoder and its student

def chinese_dir(settings=None, *, no_wait: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """The Chinese encoder (an MLM over characters; see `minidistil.chinese` for the two routes)."""
    from minidistil import chinese
    return chinese.teacher_dir(settings or chinese.TEACHER, progress=progress, no_wait=no_wait, device=device)


def chinese_student_dir(settings=None, teacher_settings=None, *, no_wait: bool = False, progress: bool = True,
                        device: str = "cpu") -> Path:
    """The Chinese DistilBERT: a student distilled from `chinese_dir(teacher_settings)` with the triple loss."""
    from minidistil import chinese
    return chinese.student_dir(settings or chinese.STUDENT, teacher_settings or chinese.TEACHER, progress=progress,
                               no_wait=no_wait, device=device)


# ---------------------------------------------------------------- the translator

def translator_folders(settings=None, *, encoder_settings=None, no_wait: bool = False, progress: bool = True,
                       device: str = "cpu") -> dict[str, Path]:
    """The folders `translate.train_translator` starts from, each built into the cache when absent:
    the Chinese encoder (`chinese_dir(encoder_settings)`: its vocabulary and shape always, its weights
    unless `random`), the English encoder for the decoder (the released all-MiniLM-L6-v2, or the MLM
    teacher with `english="teacher"`), and for the student the `warm` translator it learns from."""
    from minidistil.data import sources
    from minidistil.translate import TranslatorSettings
    settings = settings or TranslatorSettings()
    if settings.variant == "student":
        return {"teacher_folder": translator_dir(settings.teacher(), encoder_settings=encoder_settings, no_wait=no_wait,
                                                 progress=progress, device=device)}
    english = sources.teacher_dir() if settings.english == "minilm" else \
        teacher_dir(no_wait=no_wait, progress=progress, device=device)
    return {"encoder_folder": chinese_dir(encoder_settings, no_wait=no_wait, progress=progress, device=device),
            "decoder_folder": english}


def translator_dir(settings=None, *, encoder_settings=None, no_wait: bool = False, progress: bool = True,
                   device: str = "cpu") -> Path:
    """The Chinese -> English translator trained with `settings` (default: the `warm` one) on the Chinese
    encoder built with `encoder_settings` (default: `chinese.TEACHER`), built once per machine under
    `minidistil.builds`' rules (lock, manifest, resume) and reused."""
    from minidistil.translate import REBUILD, TranslatorSettings, train_translator, translator_root
    settings = settings or TranslatorSettings()
    root = translator_root(settings, encoder_settings)
    if not builds.finished(root, rebuild=REBUILD):
        folders = translator_folders(settings, encoder_settings=encoder_settings, no_wait=no_wait, progress=progress,
                                     device=device)
        with builds.entry(root, estimate_bytes=1.0e9, no_wait=no_wait, rebuild=REBUILD,
                          what=f"the {settings.variant} translator") as work:
            if work is not None:
                train_translator(settings, work, **folders, progress=progress, device=device)
    return root / MODEL_DIR
