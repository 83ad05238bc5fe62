"""Distil the real teacher, all-MiniLM-L6-v2, into a 3-layer DistilBERT-style student on our corpora.

    python examples/distill.py                                         # about 6 minutes on a busy 2-core CPU
    python examples/distill.py --adapt-steps 2000 --distill-steps 1000   # better, slower

The DistilBERT recipe, step by step (minidistil/distill.py):
1. prepare the registry corpora with the teacher's vocabulary into 64-token chunks, some held out;
2. adapt the teacher: it ships without an MLM head, so train one on its frozen encoder (MLM);
3. extract the student: the embeddings, the head and teacher layers 0, 2, 5;
4. distil: 5.0 * KL(teacher/T || student/T) * T^2 + 2.0 * MLM + 1.0 * cosine(hidden states), T = 2.

To fit a few CPU minutes this example restricts the KL term to the masked positions
(`restrict_ce_to_mask`): the vocabulary projection of every real token, for teacher and student,
would cost more than the rest of the step together. Pass --kl-on-all-tokens for the paper's choice.
The table reports held-out MLM perplexity (the same uniform masks for every model), size and speed.

What to expect on the defaults: a few minutes of CPU give the teacher's new head about the
perplexity of the unigram frequencies (~700 on this held-out text), and the student lands near the
teacher; 80 distillation steps show the recipe running, not its result. The student keeps half the
teacher's encoder and runs about 1.5-2x faster. Longer runs (the second command) move the numbers.
"""
import argparse
import time
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path

import torch

from minidistil import DistilBertForMaskedLM, WordPieceTokenizer, sources
from minidistil.data import PrepareOptions, TokenCorpus, collate, prepare_corpus
from minidistil.distill import DistillationTask, TeacherHeadTask, init_teacher_head, make_student
from minidistil.mlm import mlm_task_for
from minidistil.train import TrainConfig, evaluate_losses, train


@dataclass
class Settings:
    out: str = "runs/distill"
    corpora: str = "speeches,debates,headlines,hamlet"  # from minidistil.sources.corpus
    max_length: int = 64
    eval_chunks: int = 64
    adapt_steps: int = 200
    adapt_batch_size: int = 16  # the encoder runs without gradients here: larger batches are cheap
    adapt_lr: float = 3e-3
    distill_steps: int = 80
    distill_batch_size: int = 8
    distill_lr: float = 5e-4
    kl_on_all_tokens: bool = False
    threads: int = 1  # on a busy 2-core machine one thread per process is the fastest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(Settings):
        if isinstance(f.default, bool):
            parser.add_argument("--" + f.name.replace("_", "-"), action="store_true")
        else:
            parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    s = Settings(**vars(parser.parse_args()))
    torch.set_num_threads(s.threads)
    out = Path(s.out)

    # 1. Data, tokenized with the teacher's own vocabulary.
    tokenizer = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    docs = sources.corpus(tuple(s.corpora.split(",")))
    prepare_corpus(docs, tokenizer, out / "corpus", PrepareOptions(max_length=s.max_length), progress=True,
                   total=len(docs))
    train_data, eval_data = TokenCorpus(out / "corpus").split(s.eval_chunks)
    collate_fn = partial(collate, pad_token_id=tokenizer.pad_token_id)

    def perplexity(model):
        task = mlm_task_for(model, train_data)  # uniform masking, seeded: the same masks for every model
        return evaluate_losses(task, eval_data, batch_size=32, collate_fn=collate_fn)["perplexity"]

    def settings(name, steps, batch_size, lr):
        return TrainConfig(out_dir=str(out / name), max_steps=steps, batch_size=batch_size, lr=lr,
                           warmup=0.02, log_every=5, save_every=steps)

    # 2. Adapt the teacher: an MLM head trained on the frozen encoder.
    teacher = DistilBertForMaskedLM.from_pretrained(sources.teacher_dir(), new_head=True)
    init_teacher_head(teacher, train_data.counts)
    masking = mlm_task_for(teacher, train_data).masking
    start = time.time()
    train(TeacherHeadTask(teacher, masking), train_data, settings("adapt-teacher", s.adapt_steps, s.adapt_batch_size, s.adapt_lr),
          collate_fn=collate_fn)
    adapt_seconds = time.time() - start
    teacher.eval()
    teacher.save_pretrained(out / "teacher")

    # 3. Extract the student, 4. distil.
    student = make_student(teacher)
    student_before = perplexity(student)
    masking = mlm_task_for(student, train_data, mlm_smoothing=0.7).masking  # DistilBERT's mlm_smoothing
    task = DistillationTask(student, teacher, masking, restrict_ce_to_mask=not s.kl_on_all_tokens)
    start = time.time()
    result = train(task, train_data, settings("distill", s.distill_steps, s.distill_batch_size, s.distill_lr), collate_fn=collate_fn)
    distill_seconds = time.time() - start
    student.eval()
    student.save_pretrained(out / "student")

    teacher_ppl, student_ppl = perplexity(teacher), perplexity(student)
    batch = collate_fn([eval_data[i] for i in range(32)])
    rows = [("", "teacher (MiniLM + head)", "student"),
            ("layers", teacher.config.n_layers, student.config.n_layers),
            ("parameters", f"{n_params(teacher):,}", f"{n_params(student):,}"),
            ("encoder layers' parameters", f"{n_params(teacher.distilbert.transformer):,}",
             f"{n_params(student.distilbert.transformer):,}"),
            ("forward tokens/s (32 chunks)", f"{tokens_per_s(teacher, batch):,.0f}",
             f"{tokens_per_s(student, batch):,.0f}"),
            ("held-out MLM perplexity", f"{teacher_ppl:,.1f}", f"{student_ppl:,.1f}"),
            ("student perplexity before distilling", "", f"{student_before:,.1f}"),
            ("training", f"head: {s.adapt_steps} steps, {adapt_seconds:.0f} s",
             f"{s.distill_steps} steps, {distill_seconds:.0f} s"),
            ("last distillation loss terms", "",
             ", ".join(f"{k} {result[k]:.3f}" for k in ("ce", "mlm", "cos") if k in result))]
    print()
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(f"\nsaved: {out / 'teacher'} and {out / 'student'}")


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def tokens_per_s(model, batch, repeats: int = 3) -> float:
    model.eval()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.distilbert(batch["input_ids"], attention_mask=batch["attention_mask"])
        times.append(time.perf_counter() - start)
    return int(batch["attention_mask"].sum()) / min(times)


if __name__ == "__main__":
    main()
