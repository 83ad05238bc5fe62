"""The default student's distillation step in float32 and under bfloat16 autocast, side by side.

    python bench/student_bf16.py               # 40 steps each, 2 threads: about 2 minutes on 2 cores
    python bench/student_bf16.py --steps 2400  # the default student's chunks (their store: 7.5 minutes if absent)

The real step of `python -m minidistil distill` (pretrained.StudentSettings): the cached default
teacher's stored outputs (top-64 at the masked positions, static masks), the 3-layer student taken
from it, batches of 16 chunks in the training loop's order, the triple loss, backward and an AdamW
step. Two students start from the same weights; the float32 and bf16 steps take turns batch by
batch on the same batches, so that load on the machine hits both alike. bf16 pays where the CPU has
bf16 matrix units (AMX); without them it can be slower than float32. What bf16 does to the student,
and to a whole build's time (where this gain did not appear), is measured by distilling with
`StudentSettings(bf16=True)` (RESULTS.md).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch

from minidistil.recipes import pretrained, recipe
from minidistil.data.batching import LengthGroupedBatches
from minidistil.cli.flags import parse_settings
from minidistil.data import TokenCorpus
from minidistil.training.distill import DistillationTask, make_student
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.data.masking import Masking
from minidistil.training.teacher_outputs import IndexedChunks
from minidistil.training.train import TrainConfig

from common import cpu_name  # bench/common.py


@dataclass
class Settings:
    steps: int = 600      # whose chunks are read: `make reproduce`'s runs (their stored outputs: computed if absent)
    timed: int = 40       # steps timed per row, after one untimed step
    threads: int = 2      # torch threads
    seed: int = 1         # the batch order


def main():
    s = parse_settings(Settings, __doc__)
    torch.set_num_threads(s.threads)
    student = pretrained.StudentSettings(max_steps=s.steps, seed=s.seed)
    teacher_dir = pretrained.teacher_dir(student.teacher)
    corpus = pretrained.spread(TokenCorpus(teacher_dir.parent / "corpus"), student.max_steps * student.batch_size)
    config = TrainConfig(out_dir="", max_steps=student.max_steps, batch_size=student.batch_size, seed=s.seed)
    teacher = DistilBertForMaskedLM.from_pretrained(teacher_dir)
    distill = student.distill_settings()
    masking = Masking.for_corpus(corpus, distill.masking)
    outputs = recipe.stored_teacher_outputs(teacher, recipe.chunks_read(corpus, config), masking,
                                            distill.teacher_top_k, masked_only=distill.loss.restrict_ce_to_mask)
    data, collate = IndexedChunks(corpus), recipe.corpus_collate(corpus)
    batches = LengthGroupedBatches(corpus.lengths, student.batch_size, s.seed)
    rows = {}
    for name in ("float32", "bf16 autocast"):
        torch.manual_seed(s.seed)
        model = make_student(teacher, tuple(int(i) for i in student.student_layers.split(",")))
        rows[name] = (DistillationTask(model, teacher, masking, distill.loss, teacher_outputs=outputs),
                      torch.optim.AdamW(model.parameters(), lr=student.lr), [])
    tokens = 0
    for step in range(s.timed + 1):
        batch = collate([data[int(i)] for i in batches.batch(step)])
        for name, (task, optimizer, seconds) in rows.items():
            start = time.perf_counter()
            with torch.autocast("cpu", torch.bfloat16, enabled=name.startswith("bf16")):
                loss = task(batch)["loss"]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if step:  # the first step allocates the optimizer's state
                seconds.append(time.perf_counter() - start)
        tokens += int(batch["attention_mask"].sum()) if step else 0
    print(f"{cpu_name()}, torch {torch.__version__}, {s.threads} thread(s), {s.timed} steps of "
          f"{student.batch_size} chunks ({tokens:,} real tokens)")
    print("| step | median s/step | tokens/s | vs float32 (total time) |\n|---|---:|---:|---:|")
    base = sum(rows["float32"][2])
    for name, (_, _, seconds) in rows.items():
        print(f"| {name} | {statistics.median(seconds):.3f} | {tokens / sum(seconds):,.0f} | {base / sum(seconds):.2f}x |")


if __name__ == "__main__":
    main()
