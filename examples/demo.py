"""The DistilBERT paper's claims, reproduced at laptop scale, in one command.

    make demo                    # sets up, then runs this file on its defaults
    python examples/demo.py --finetune-examples 1000 --epochs 1     # a quick look (a few minutes)
    python examples/demo.py --finetune-examples 0                   # every labelled snippet (about 32 minutes)

Times on an idle 2-core CPU: 8 minutes once the teacher and the student are cached; the first run
on a machine also builds the teacher (about 21 minutes, once; `python -m minidistil adapt-teacher`)
and the default student (about 28 minutes, once; `python -m minidistil distill`).

What it does, with real weights and real text:
1. the teacher: all-MiniLM-L6-v2 (a 6-layer BERT, 22.7M parameters) further pretrained with MLM on
   about 7M tokens of registry text (the released model is a sentence encoder without an MLM head);
   its held-out perplexity and top-1/top-5 against word frequencies, and a fill-in-the-blank test
   on held-out sentences, show that it knows words (`minidistil.recipes.teacher`, `minidistil.training.cloze`);
2. a student with half the layers (teacher layers 0, 2, 5), distilled with the triple loss
   5.0 * KL(T=2) * T^2 + 2.0 * MLM + 1.0 * cosine on the teacher's own training text: the default
   student, `pretrained.student_dir()`, built once per machine (other --distill-* settings or a
   --teacher distil one into OUT/distill); beside it the same student extracted with no distillation,
   both scored on the same held-out masks (perplexity, and agreement with the teacher);
3. teacher, student and the undistilled student fine-tuned on 4,000 labelled Rotten Tomatoes snippets (the source of SST-2)
   with one recipe; then the student once more on the fine-tuned teacher's soft labels over a
   transfer set: the labelled snippets, the other 6,202 training snippets with their labels hidden,
   the file's plot summaries, and copies of each labelled snippet in which the MLM teacher replaced
   words, as TinyBERT does. That is the paper's DistilBERT (D), with task-time distillation, in the
   setting where it pays: few labels, more in-domain text (--finetune-examples 0 labels them all);
4. the paper's table at this scale: parameters, inference speed measured side by side, test accuracy
   with its 95% bootstrap interval beside each model's held-out MLM perplexity, the student's
   retention of the teacher's accuracy, and what distillation adds: the student minus the
   undistilled student, and the gain of task-time distillation, each with its paired-bootstrap
   interval; loss curves as PNGs.

Each step is a call of minidistil.recipes.recipe (adapt_teacher, distill, finetune); every knob is a flag.
The paper (Sanh et al. 2019): 40% fewer parameters, 60% faster, 97% of BERT-base's GLUE score.
"""
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import minidistil
from minidistil import DistilBertForMaskedLM
from minidistil.data import augment, sources, tasks
from minidistil.training import cloze
from minidistil.utils import metrics
from minidistil.recipes import pretrained, teacher
from minidistil.nn.checkpoint import MODEL_DIR, save_model
from minidistil.cli.flags import flat_fields, parse_settings
from minidistil.training.distill import extract_student
from minidistil.training.finetune import FinetuneConfig, load_model, load_tokenizer, predict
from minidistil.data.masking import MLM_SMOOTHING, MaskingOptions
from minidistil.recipes.recipe import DistillSettings, adapt_teacher, finetune

DEFAULT_STUDENT = pretrained.StudentSettings()


@dataclass
class Settings:
    out: str = "runs/demo"         # every step's folder: distill/, sentiment-*/, summary.json
    teacher: str = ""              # a model folder written by adapt-teacher (report.json and corpus/ beside it); "": the cached default
    distill_steps: int = DEFAULT_STUDENT.max_steps  # triple-loss steps on the teacher's training text (the default student's)
    batch_size: int = DEFAULT_STUDENT.batch_size    # distillation batch (chunks of 128 tokens)
    distill_lr: float = DEFAULT_STUDENT.lr          # peak learning rate of the distillation (DistilBERT's)
    max_length: int = 64           # tokens per sentiment snippet
    finetune_examples: int = 4000  # labelled training snippets; the rest join student-D's transfer set unlabelled; 0 labels all 10,202
    eval_examples: int = 0         # validation and test snippets scored (and timed); 0 takes all 1,275 of each
    val_examples: int = 0          # validation snippets that pick the best epoch; 0: as --eval-examples
    epochs: int = 2                # fine-tuning epochs, the same for every model
    finetune_lr: float = 1e-4      # peak learning rate of the fine-tuning, the same for every model
    finetune_min_steps: int = 250  # the fewest optimizer steps of a fine-tuning (whole epochs are added): few labels are few steps
    copies: int = 1                # MLM-rewritten copies of each training snippet in the transfer set
    transfer_examples: int = 0     # at most this many transfer texts (a quick look); 0: all of them
    alpha: float = 0.9             # student-D: weight of the teacher's soft labels (the rest: hard labels)
    heldout_chunks: int = DEFAULT_STUDENT.heldout_chunks  # held-out chunks of 128 tokens: the students' MLM perplexity
    cloze_items: int = 300         # held-out sentences of the fill-in-the-blank test
    seed: int = 42                 # seeds every step: the student, masks, heads, dropout, batch order
    threads: int = 0               # torch threads; 0 keeps torch's default (use 1 on a machine busy with other jobs)
    # The default student's: the KL term on the masked positions only (on a CPU, projecting every
    # real token onto the vocabulary costs more than the rest of the step), on stored teacher outputs.
    distill: DistillSettings = field(default_factory=lambda: DEFAULT_STUDENT.distill_settings())


def main():
    s = parse_settings(Settings, __doc__)
    out = Path(s.out)
    if s.threads:
        torch.set_num_threads(s.threads)
    print("1/4 the teacher: all-MiniLM-L6-v2 further pretrained with MLM (built once per machine, then cached)")
    teacher_dir = teacher_folder(s)
    knows = teacher_knowledge(s, teacher_dir)

    print("2/4 the 3-layer student distilled with the triple loss (the default one is built once per machine)")
    student_dir = distilled_student(s, s.distill, teacher_dir, out / "distill")
    report = json.loads((student_dir.parent / "report.json").read_text())
    undistilled_dir = out / "undistilled"  # the same layers, extracted, not distilled
    save_model(extract_student(DistilBertForMaskedLM.from_pretrained(teacher_dir), s.distill.student_layers).eval(),
               teacher_dir, undistilled_dir)

    print("3/4 fine-tuning teacher, student and undistilled student on Rotten Tomatoes sentiment, "
          "then the student on the teacher's labels")
    task = tasks.load("sentiment")
    results = {name: finetune_task(s, task, folder, out / f"sentiment-{name}")
               for name, folder in (("teacher", teacher_dir), ("student", student_dir),
                                    ("undistilled", undistilled_dir))}
    fine_teacher = out / "sentiment-teacher" / MODEL_DIR
    transfer = transfer_set(s, task, teacher_dir)
    results["student-D"] = finetune_task(s, task, student_dir, out / "sentiment-student-D",
                                              teacher_dir=fine_teacher, transfer_texts=transfer, alpha=s.alpha)

    print("4/4 scoring the test snippets and measuring inference speed side by side")
    models = {name: load_model(task, out / f"sentiment-{name}" / MODEL_DIR) for name in results}
    test = task.test[:s.eval_examples or None]
    correct = {name: test_correctness(s, task, model, test, out / f"sentiment-{name}" / MODEL_DIR)
               for name, model in models.items()}
    speed = tokens_per_second(models, load_tokenizer(teacher_dir), [e["text"] for e in test], s.max_length)
    labelled = len(task.train[:s.finetune_examples or None])
    perplexity = heldout_perplexity(report)
    print_table(models, speed, correct, perplexity, report, knows, len(transfer), labelled, len(task.train))
    summary = {"settings": flat_fields(s), "teacher": knows, "tokens_per_s": speed, "transfer_texts": len(transfer),
               "labelled_examples": labelled, "student": str(student_dir), "heldout_perplexity": perplexity,
               "heldout_report": report["models"],
               "test_accuracy": {k: sum(v) / len(v) for k, v in correct.items()},
               "test_interval": {k: metrics.bootstrap_interval(v) for k, v in correct.items()},
               "student_minus_undistilled": metrics.paired_bootstrap(correct["undistilled"], correct["student"]),
               "student_D_minus_student": metrics.paired_bootstrap(correct["student"], correct["student-D"])}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nloss curves: {', '.join(str(p) for p in sorted(out.glob('*/loss.png')))}")
    print(f"the student's held-out perplexity against tokens seen: {student_dir.parent / 'heldout.png'} "
          f"(its distillation: {student_dir.parent / 'loss.png'})")


# ---------------------------------------------------------------- the demo's settings for each recipe step
# (examples/ablation.py reuses them; the steps themselves are minidistil.recipes.recipe's)

def teacher_folder(s: Settings) -> Path:
    """The teacher's model folder: --teacher, or the default teacher (built into the cache on first use)."""
    return Path(s.teacher) if s.teacher else adapt_teacher()


def teacher_knowledge(s: Settings, teacher_dir: Path) -> dict:
    """The teacher's held-out MLM report (written when it was built) and its fill-in-the-blank score."""
    report = json.loads((teacher_dir.parent / "report.json").read_text())
    _, heldout_docs = teacher.documents(teacher.TeacherSettings(**report["settings"]))
    tokenizer = load_tokenizer(teacher_dir)
    items = cloze.make_items(heldout_docs, set(tokenizer.vocab), n=s.cloze_items, seed=s.seed)
    fill_mask = minidistil.pipeline("fill-mask", model=str(teacher_dir), batch_size=64)
    return {"mlm": report["heldout"], "released": report["released"], "cloze": cloze.score(fill_mask, items),
            "cloze_answer_words": cloze.score(fill_mask, items, cloze.answer_words(tokenizer.vocab))}


def student_settings(s: Settings, settings: DistillSettings) -> pretrained.StudentSettings:
    """The demo's distillation knobs as the settings of a `pretrained` student."""
    if settings.masking != MaskingOptions(mlm_smoothing=MLM_SMOOTHING) or settings.loss.alpha_mse:
        raise ValueError("the demo's student is distilled with DistilBERT's masking and without the logits MSE")
    loss = settings.loss
    layers = ",".join(map(str, settings.student_layers)) if settings.student_layers else DEFAULT_STUDENT.student_layers
    return pretrained.StudentSettings(
        student_layers=layers, student_init=settings.student_init, max_steps=s.distill_steps,
        batch_size=s.batch_size, lr=s.distill_lr, temperature=loss.temperature, alpha_ce=loss.alpha_ce,
        alpha_mlm=loss.alpha_mlm, alpha_cos=loss.alpha_cos, restrict_ce_to_mask=loss.restrict_ce_to_mask,
        teacher_top_k=settings.teacher_top_k, heldout_chunks=s.heldout_chunks, seed=s.seed)


def distilled_student(s: Settings, settings: DistillSettings, teacher_dir: Path, out_dir: Path) -> Path:
    """The student's model folder, `report.json` beside it: the default student of this machine
    (`pretrained.student_dir()`, built once) when the demo runs on its defaults, otherwise one
    distilled with these settings into out_dir (`pretrained.distill_student`, resumable)."""
    student = student_settings(s, settings)
    if not s.teacher and student == DEFAULT_STUDENT:
        return pretrained.student_dir()
    pretrained.distill_student(student, teacher_dir, out_dir)  # a finished run in out_dir resumes at its end
    return out_dir / MODEL_DIR


def heldout_perplexity(report: dict) -> dict:
    """Each fine-tuned model's held-out MLM perplexity: that of the model it was fine-tuned from."""
    models = report["models"]
    return {"teacher": models["teacher"]["perplexity"], "student": models["student"]["perplexity"],
            "undistilled": models["undistilled"]["perplexity"], "student-D": models["student"]["perplexity"]}


def finetune_task(s: Settings, task, folder, out_dir: Path, teacher_dir=None, transfer_texts=None,
                  alpha: float = 0.5, train_token_table: bool = False) -> dict:
    """One fine-tuning recipe for every model of the demo (and every task of the ablation). At 1,000
    labels 2 epochs are 62 steps, and in 62 steps no model left the majority class: every run takes
    at least `finetune_min_steps` (RESULTS.md, "Why distilled students collapsed")."""
    cfg = FinetuneConfig(out_dir=str(out_dir), lr=s.finetune_lr, epochs=s.epochs, min_steps=s.finetune_min_steps, batch_size=32,
                         max_length=s.max_length, seed=s.seed, train_limit=s.finetune_examples or None,
                         eval_limit=s.val_examples or s.eval_examples or None, alpha=alpha,
                         freeze_word_embeddings=not train_token_table)
    return finetune(task, folder, cfg, teacher_dir=teacher_dir, transfer_texts=transfer_texts)


def transfer_set(s: Settings, task, teacher_dir: Path) -> list[str]:
    """Unlabelled in-domain text for task-time distillation: the file's plot summaries, the training
    snippets left out by --finetune-examples, and `copies` MLM-rewritten copies of each training snippet."""
    train_texts = [e["text"] for e in task.train]
    used = train_texts[:s.finetune_examples or None]
    mlm = DistilBertForMaskedLM.from_pretrained(teacher_dir)
    copies = augment.replace_words(used[:s.transfer_examples or None], mlm, load_tokenizer(teacher_dir),
                                   copies=s.copies, seed=s.seed, max_length=s.max_length)
    texts = copies + sources.rotten_tomatoes_plots() + train_texts[len(used):]
    return texts[:s.transfer_examples or None]


def test_correctness(s: Settings, task, model, test: list[dict], folder: Path) -> list[int]:
    """1 where the model's test prediction is right, 0 where not: what the bootstrap resamples."""
    cfg = FinetuneConfig(max_length=s.max_length)
    return [int(p == e["label"]) for p, e in zip(predict(model, load_tokenizer(folder), task, test, cfg), test)]


@torch.no_grad()
def tokens_per_second(models: dict, tokenizer, texts: list[str], max_length: int, repeats: int = 3) -> dict:
    """Real tokens per second over the same batches, the models alternating so load hits both alike."""
    batches = [tokenizer(texts[i:i + 32], truncation=True, max_length=max_length, padding=True,
                         return_tensors="pt", return_token_type_ids=False) for i in range(0, len(texts), 32)]
    n_tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            model.eval()
            start = time.perf_counter()
            for b in batches:
                model(b["input_ids"], attention_mask=b["attention_mask"])
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n_tokens / seconds for name, seconds in best.items()}


def print_table(models, speed, correct, perplexity, report, knows, n_transfer, labelled, n_train):
    mlm, released, found, typed = knows["mlm"], knows["released"], knows["cloze"], knows["cloze_answer_words"]
    print(f"\nteacher, held-out text: MLM perplexity {mlm['perplexity']:.1f} (word frequencies "
          f"{mlm['unigram_perplexity']:.1f}, the released encoder with a fresh head {released['perplexity']:.1f}); "
          f"top-1 / top-5 {mlm['top1']:.3f} / {mlm['top5']:.3f} (word frequencies {mlm['unigram_top1']:.3f} / "
          f"{mlm['unigram_top5']:.3f})")
    print(f"fill in the blank, {found['items']} held-out sentences: top-5 {found['top5']:.3f}, top-1 {found['top1']:.3f}; "
          f"guesses limited to answer words: top-5 {typed['top5']:.3f}, top-1 {typed['top1']:.3f} "
          f"(always the 5 most frequent answers: {found['baseline_top5']:.3f})")
    n = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    layers = {name: sum(p.numel() for p in m.distilbert.transformer.parameters()) for name, m in models.items()}
    acc = {name: sum(v) / len(v) for name, v in correct.items()}
    print(f"\nfine-tuned on {labelled:,} labelled training snippets of {n_train:,} (every model, one recipe); "
          f"student-D also on {n_transfer:,} transfer texts labelled by the fine-tuned teacher")
    agreement = {name: report["models"][name]["agreement"] for name in ("student", "undistilled")}
    print("\n| model | layers | parameters | transformer-layer parameters | tokens/s | held-out MLM perplexity "
          "(before fine-tuning) | test accuracy [95% interval] |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in models.items():
        low, high = metrics.bootstrap_interval(correct[name])
        print(f"| {name} | {m.config.n_layers} | {n[name]:,} | {layers[name]:,} | {speed[name]:,.0f} | "
              f"{perplexity[name]:.1f} | {100 * acc[name]:.2f}% [{100 * low:.1f}, {100 * high:.1f}] |")
    print(f"\nheld-out perplexity on the same {report['models']['student']['masked_tokens']:,} masked tokens: student "
          f"{report['student_over_teacher']:.2f}x the teacher's (goal: at most 1.3x), "
          f"{report['student_over_undistilled']:.2f}x the undistilled student's (goal: at most 0.35x); top-1 "
          f"agreement with the teacher: student {agreement['student']:.3f}, undistilled {agreement['undistilled']:.3f}")
    added = metrics.paired_bootstrap(correct["undistilled"], correct["student"])
    print(f"pretraining distillation (student - undistilled student, one fine-tuning recipe): "
          f"{100 * added['difference']:+.2f} points, paired 95% interval [{100 * added['low']:+.2f}, "
          f"{100 * added['high']:+.2f}]: {'beyond' if added['exceeds'] else 'within'} the noise of this test split")
    gain = metrics.paired_bootstrap(correct["student"], correct["student-D"])
    print(f"\nstudent vs teacher: {100 * (1 - n['student'] / n['teacher']):.0f}% fewer parameters "
          f"({100 * (1 - layers['student'] / layers['teacher']):.0f}% fewer outside the embeddings; paper: 40%), "
          f"{speed['student'] / speed['teacher']:.2f}x the speed (paper: 1.6x), "
          f"{100 * acc['student'] / acc['teacher']:.1f}% of the teacher's accuracy, "
          f"{100 * acc['student-D'] / acc['teacher']:.1f}% with task-time distillation (paper: 97%)")
    print(f"task-time distillation (student-D - student, {n_transfer:,} transfer texts): "
          f"{100 * gain['difference']:+.2f} points, paired 95% interval [{100 * gain['low']:+.2f}, "
          f"{100 * gain['high']:+.2f}]: {'beyond' if gain['exceeds'] else 'within'} the noise of this test split")


if __name__ == "__main__":
    main()
