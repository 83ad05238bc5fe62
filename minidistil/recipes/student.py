"""The default English student: 3 of the teacher's 6 layers distilled with the triple loss on the
teacher's text, on stored teacher outputs; its settings, its build and its report.

    >>> folder = pretrained.student_dir()   # built once per machine into the cache (about 28 min on 2 cores)
    >>> json.loads((folder.parent / "report.json").read_text())["student_over_teacher"]
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from minidistil.data import TokenCorpus
from minidistil.data.batching import LengthGroupedBatches
from minidistil.data.masking import MLM_SMOOTHING, MaskingOptions
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.recipes import defaults, recipe, teacher
from minidistil.recipes.defaults import BuildSettings
from minidistil.recipes.teacher import TeacherSettings
from minidistil.training.distill import DistillLoss, extract_student
from minidistil.training.teacher_outputs import TOP_K
from minidistil.training.train import TrainConfig
from minidistil.utils.plots import plot_curve

REBUILD = "python -m minidistil distill"  # the command that (re)builds the default student


@dataclass(frozen=True)
class StudentSettings(BuildSettings):
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

    def key_inputs(self) -> dict:
        return {"teacher": self.teacher.key()}  # the teacher by its key, which names its folder

    def distill_settings(self) -> recipe.DistillSettings:
        loss = DistillLoss(alpha_ce=self.alpha_ce, alpha_mlm=self.alpha_mlm, alpha_cos=self.alpha_cos,
                           temperature=self.temperature, restrict_ce_to_mask=self.restrict_ce_to_mask)
        return recipe.DistillSettings(student_layers=self.student_layers, student_init=self.student_init, loss=loss,
                                      masking=MaskingOptions(mlm_smoothing=MLM_SMOOTHING),
                                      teacher_top_k=self.teacher_top_k)


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


def _run(settings: StudentSettings, work: Path, *, progress: bool, device: str, teacher_model: Path) -> None:
    distill_student(settings, teacher_model, work, progress=progress, device=device)


def _estimate(settings: StudentSettings, *, teacher_model: Path) -> float:
    # the store of teacher outputs goes beside the teacher's corpus, the student's folder beside it
    return teacher.estimate_bytes(teacher_model) + store_bytes(settings, teacher_model)


defaults.register(defaults.DefaultModel(
    "student", StudentSettings(), folder=lambda s: f"students/distil-{s.key()}", run=_run, rebuild=REBUILD,
    needs=lambda s: {"teacher_model": ("teacher", s.teacher)}, estimate=_estimate))
