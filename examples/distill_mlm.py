"""Distil the real teacher, all-MiniLM-L6-v2, into a 3-layer DistilBERT-style student on our corpora.

    python examples/distill_mlm.py                        # a few minutes once the teacher is cached
    python examples/distill_mlm.py --distill-steps 1000   # better, slower

The DistilBERT recipe, step by step, each one call of minidistil.recipes.recipe:
1. prepare the registry corpora with the teacher's vocabulary into 64-token chunks, some held out;
2. the teacher (`adapt_teacher`): all-MiniLM-L6-v2 further pretrained with MLM, built once per
   machine into the data cache (about 20 minutes on 2 cores) and reused;
3. extract the student (`extract_student`): the embeddings, the head and teacher layers 0, 2, 5;
4. distil (`distill`): 5.0 * KL(teacher/T || student/T) * T^2 + 2.0 * MLM + 1.0 * cosine(hidden states), T = 2.

To fit a few CPU minutes this example restricts the KL term to the masked positions
(`restrict_ce_to_mask`): the vocabulary projection of every real token, for teacher and student,
would cost more than the rest of the step together. Pass --no-restrict-ce-to-mask for the paper's
choice (the same flag as `python -m minidistil distill`, where it is off by default).
The table reports held-out MLM perplexity (the same uniform masks for every model), size and speed.

What to expect on the defaults: the extracted student, before distilling, has lost most of what
the teacher knows (its perplexity is far above the teacher's); the distillation steps bring it
back part of the way. The student keeps half the teacher's encoder and runs about 2x faster.
Longer runs (the second command) bring it closer.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from minidistil import DistilBertForMaskedLM, WordPieceTokenizer
from minidistil.data import sources
from minidistil.data.batching import collate
from minidistil.cli.flags import parse_settings
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.training.distill import DistillLoss
from minidistil.nn.checkpoint import MODEL_DIR
from minidistil.recipes.recipe import DistillSettings, adapt_teacher, distill, extract_student, mlm_perplexity
from minidistil.training.train import TrainConfig


@dataclass
class Settings:
    out: str = "runs/distill"     # corpus/ and distill/ (with its model/)
    corpora: str = "speeches,debates,headlines,hamlet"  # names in minidistil.data.sources.CORPORA
    max_length: int = 64          # tokens per chunk
    eval_chunks: int = 64         # chunks held out for the perplexity
    distill_steps: int = 80       # triple-loss steps
    distill_batch_size: int = 8   # chunks per distillation step
    distill_lr: float = 5e-4      # peak learning rate of the distillation
    threads: int = 1              # on a busy 2-core machine one thread per process is the fastest
    distill: DistillSettings = field(default_factory=lambda: DistillSettings(loss=DistillLoss(restrict_ce_to_mask=True)))


def main():
    s = parse_settings(Settings, __doc__)
    torch.set_num_threads(s.threads)
    out = Path(s.out)

    # 1. Data, tokenized with the teacher's own vocabulary.
    tokenizer = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    docs = sources.corpus(tuple(s.corpora.split(",")))
    prepare_corpus(docs, tokenizer, out / "corpus", PrepareOptions(max_length=s.max_length), progress=True,
                   total=len(docs))
    train_data, eval_data = TokenCorpus(out / "corpus").split(s.eval_chunks)

    def perplexity(model):  # uniform masking, seeded: the same masks for every model
        return mlm_perplexity(model, train_data, eval_data, batch_size=32)["perplexity"]

    def train_config(name, steps, batch_size, lr):
        return TrainConfig(out_dir=str(out / name), max_steps=steps, batch_size=batch_size, lr=lr,
                           warmup=0.02, log_every=5, save_every=steps)

    # 2. The teacher: MiniLM further pretrained with MLM (cached after its first build).
    teacher = DistilBertForMaskedLM.from_pretrained(adapt_teacher())

    # 3. Extract the student (here only to measure it before distilling), 4. distil.
    student_before = perplexity(extract_student(teacher, s.distill.student_layers, s.distill.student_init == "random"))
    start = time.time()
    student, result = distill(teacher, train_data, train_config("distill", s.distill_steps, s.distill_batch_size,
                                                                s.distill_lr), s.distill)
    distill_seconds = time.time() - start

    teacher_ppl, student_ppl = perplexity(teacher), perplexity(student)
    batch = collate([eval_data[i] for i in range(32)], pad_token_id=tokenizer.pad_token_id)
    rows = [("", "teacher (MiniLM + MLM)", "student"),
            ("layers", teacher.config.n_layers, student.config.n_layers),
            ("parameters", f"{n_params(teacher):,}", f"{n_params(student):,}"),
            ("encoder layers' parameters", f"{n_params(teacher.distilbert.transformer):,}",
             f"{n_params(student.distilbert.transformer):,}"),
            ("forward tokens/s (32 chunks)", f"{tokens_per_s(teacher, batch):,.0f}",
             f"{tokens_per_s(student, batch):,.0f}"),
            ("held-out MLM perplexity", f"{teacher_ppl:,.1f}", f"{student_ppl:,.1f}"),
            ("student perplexity before distilling", "", f"{student_before:,.1f}"),
            ("training", "built once (see its report.json)", f"{s.distill_steps} steps, {distill_seconds:.0f} s"),
            ("last distillation loss terms", "",
             ", ".join(f"{k} {result[k]:.3f}" for k in ("ce", "mlm", "cos") if k in result))]
    print()
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(f"\nsaved: {out / 'distill' / MODEL_DIR}")


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
