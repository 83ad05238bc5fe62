"""Where a distillation step's time goes, and what stored teacher outputs and bf16 save.

    python bench/distill_step.py --part breakdown      # default sizes, random weights: about a minute on 2 cores
    python bench/distill_step.py --part steps          # tokens/s beside transformers: about two minutes
    python bench/distill_step.py --teacher DIR --k 32  # a real MLM teacher: the top-k KL's gap becomes meaningful

The default sizes of `python -m minidistil distill`: an all-MiniLM-L6-v2-shaped MLM teacher (6 layers,
width 384, 12 heads, FFN 1536, vocabulary 30522), the 3-layer student taken from it, 16 chunks of
128 tokens, the triple loss with the KL on every real token. One step = masking, forwards, losses,
backward, AdamW step, on the same weights and the same masks for every row.

1. The breakdown: one step cut into phases (each phase timed alone, the median over `--repeats`
   steps): our step as shipped (`DistillationTask`: the teacher runs each step), and the step on
   stored teacher outputs (`minidistil.training.teacher_outputs`: the top-k logits and the last hidden state
   read back; the student's projection onto the batch's stored tokens plus the full vocabulary at
   the masked positions only), in float32, and bf16 autocast on stored outputs. The backward is split in two by
   detaching the student's last hidden state: the head and losses, then the encoder.
2. tokens/s of the whole step, the rows taking turns step by step (no warm-up turn: the first
   step's optimizer-state allocation is small beside a step): transformers' DistilBertForMaskedLM
   as teacher and student doing the same step (full (B, T, V) logits from both, as DistilBERT's
   training code), ours as shipped, ours on stored outputs in fp32 and bf16.
3. The one-off cost of computing the stored outputs, per chunk, and the top-k KL beside the full KL.

The student's top-k projection runs over U, the distinct stored ids of the batch (printed). A trained
teacher's top-k sets overlap (frequent words), so U is a few thousand; random weights give a flat
teacher whose top-k sets are spread over nearly all of V: the worst case for that projection.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import transformers

from minidistil import DistilBertConfig, DistilBertForMaskedLM
from minidistil.data.batching import collate
from minidistil.cli.flags import parse_settings
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.training.distill import DistillationTask, DistillLoss, make_student
from minidistil.nn.losses import IGNORE_INDEX, distillation_kl, hidden_cosine_loss, mlm_loss
from minidistil.data.masking import Masking
from minidistil.training.teacher_outputs import IndexedChunks, compute_teacher_outputs, logits_at, mlm_features
from minidistil.training.train import TrainConfig, make_optimizer

from common import cpu_name  # bench/common.py


@dataclass
class Settings:
    batch: int = 16               # chunks per step
    length: int = 128             # tokens per chunk
    repeats: int = 2              # timed steps per row (after one warm-up step)
    k: int = 64                   # teacher logits stored per position
    threads: int = 0              # torch threads (0: torch's default)
    part: str = "all"             # breakdown, steps or all
    teacher: str | None = None    # an MLM teacher folder; default: random weights of the default shape


class WordIds:
    """A tokenizer for numbers: the text "2003 2017" is the ids 2003, 2017 (BERT's special ids)."""
    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 100, 101, 102, 103

    def __len__(self):
        return 30522

    def __call__(self, texts, add_special_tokens=True, verbose=True):
        return {"input_ids": [[int(w) for w in t.split()] for t in texts]}


def make_corpus(folder: Path, args) -> TokenCorpus:
    """`batch` full chunks of random ids, prepared as `prepare-data` would."""
    rng = np.random.default_rng(0)
    docs = [" ".join(map(str, rng.integers(1000, 30522, args.length - 2))) for _ in range(args.batch)]
    prepare_corpus(docs, WordIds(), folder, PrepareOptions(max_length=args.length))
    return TokenCorpus(folder)


def make_teacher(args) -> DistilBertForMaskedLM:
    if args.teacher:
        return DistilBertForMaskedLM.from_pretrained(args.teacher).eval()
    torch.manual_seed(0)
    return DistilBertForMaskedLM(DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=6)).eval()


class Clock:
    """Wall seconds per named phase of one step, and the CPU seconds of the whole step (all threads).
    On shared cores the wall time also counts waiting for other processes; the CPU time does not."""

    def __init__(self):
        self.times, self.last, self.cpu_start = {}, time.perf_counter(), time.process_time()

    def __call__(self, phase: str):
        now = time.perf_counter()
        self.times[phase] = self.times.get(phase, 0.0) + now - self.last
        self.last = now

    def cpu(self) -> float:
        return time.process_time() - self.cpu_start


def live_phases(task, optimizer, batch, clock):
    """`DistillationTask.forward` written out phase by phase (the same operations), then backward."""
    attention_mask = batch["attention_mask"]
    input_ids, labels = task.masking(batch["input_ids"], attention_mask)
    clock("masking")
    with torch.no_grad():
        t_hidden = task.teacher.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state
    clock("teacher forward")
    is_real = attention_mask.bool()
    select = (labels != IGNORE_INDEX) if task.restrict_ce_to_mask else is_real
    with torch.no_grad():
        t_logits = task.teacher.mlm_logits(t_hidden[select])
    clock("teacher vocab projection")
    hidden = task.student.distilbert(input_ids, attention_mask=attention_mask).last_hidden_state
    clock("student forward")
    s_hidden = hidden.detach().requires_grad_()
    s_logits = task.student.mlm_logits(s_hidden[select])
    clock("student vocab projection")
    ce = distillation_kl(s_logits, t_logits, task.temperature)
    clock("loss: KL")
    mlm = mlm_loss(s_logits, labels[select])
    clock("loss: MLM")
    cos = hidden_cosine_loss(s_hidden[is_real], t_hidden[is_real])
    clock("loss: cosine")
    return backward(task, optimizer, task.alpha["ce"] * ce + task.alpha["mlm"] * mlm + task.alpha["cos"] * cos,
                    hidden, s_hidden, clock)


def stored_phases(task, optimizer, batch, clock):
    """`TeacherOutputs.distill_forward` written out phase by phase, then backward."""
    attention_mask, student = batch["attention_mask"], task.student
    stored = task.teacher_outputs.batch(batch["chunk"], batch["input_ids"], attention_mask)
    clock("read stored teacher outputs")
    hidden = student.distilbert(stored["input_ids"], attention_mask=attention_mask).last_hidden_state
    clock("student forward")
    s_hidden = hidden.detach().requires_grad_()
    is_real = attention_mask.bool()
    labels = stored["labels"][is_real]
    s_real = s_hidden[is_real]
    features = mlm_features(student, s_real)
    is_target = labels != IGNORE_INDEX
    s_topk = logits_at(student, features, stored["topk_ids"])
    s_masked = student.vocab_projector(features[is_target])
    clock("student vocab projection")
    ce = distillation_kl(s_topk, stored["topk_logits"], task.temperature)
    clock("loss: KL")
    mlm = mlm_loss(s_masked, labels[is_target])
    clock("loss: MLM")
    cos = hidden_cosine_loss(s_real, stored["hidden"])
    clock("loss: cosine")
    return backward(task, optimizer, task.alpha["ce"] * ce + task.alpha["mlm"] * mlm + task.alpha["cos"] * cos,
                    hidden, s_hidden, clock)


def backward(task, optimizer, loss, hidden, s_hidden, clock):
    loss.backward()
    clock("backward: head and losses")
    hidden.backward(s_hidden.grad)
    clock("backward: student encoder")
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    clock("AdamW step")
    return loss


def breakdown(name, phases, task, batch, args, bf16):
    optimizer = make_optimizer(task, TrainConfig())
    runs = []
    for _ in range(args.repeats + 1):  # the first step allocates the optimizer state
        torch.manual_seed(0)
        clock = Clock()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            phases(task, optimizer, batch, clock)
        runs.append({**clock.times, "CPU seconds, all threads": clock.cpu()})
        print(f"  {name}: {sum(clock.times.values()):.2f} s", file=sys.stderr, flush=True)
    return {phase: statistics.median(r[phase] for r in runs[1:]) for phase in runs[1]}


def transformers_step(teacher, student, masking, loss: DistillLoss, batch):
    """The same step on transformers' DistilBertForMaskedLM: full logits, then the real positions."""
    hf = {}
    for name, ours in (("teacher", teacher), ("student", student)):
        c = ours.config
        model = transformers.DistilBertForMaskedLM(transformers.DistilBertConfig(
            vocab_size=c.vocab_size, dim=c.dim, n_heads=c.n_heads, hidden_dim=c.hidden_dim, n_layers=c.n_layers,
            attn_implementation="sdpa"))
        model.load_state_dict(ours.state_dict())
        hf[name] = model
    hf["teacher"].eval().requires_grad_(False)
    hf["student"].train()
    optimizer = make_optimizer(hf["student"], TrainConfig())
    alpha = {"ce": loss.alpha_ce, "mlm": loss.alpha_mlm, "cos": loss.alpha_cos}

    def step():
        mask = batch["attention_mask"]
        input_ids, labels = masking(batch["input_ids"], mask)
        with torch.no_grad():
            t = hf["teacher"](input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        s = hf["student"](input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        is_real = mask.bool()
        total = (alpha["ce"] * distillation_kl(s.logits[is_real], t.logits[is_real], loss.temperature)
                 + alpha["mlm"] * mlm_loss(s.logits, labels)
                 + alpha["cos"] * hidden_cosine_loss(s.hidden_states[-1][is_real], t.hidden_states[-1][is_real]))
        total.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def task_step(task):
    optimizer = make_optimizer(task, TrainConfig())

    def step(batch):
        task(batch)["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def main():
    args = parse_settings(Settings, __doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    bf16_units = [f for f in ("avx512_bf16", "amx_bf16") if f" {f}" in flags]
    print(f"{cpu_name()} (lscpu's model name), bf16 units: {', '.join(bf16_units) or 'none'}; torch "
          f"{torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads; "
          f"batch {args.batch}x{args.length}, k {args.k}", flush=True)

    teacher = make_teacher(args)
    student = make_student(teacher)
    loss = DistillLoss()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp) / "corpus", args)
        masking = Masking.for_corpus(corpus)
        start = time.perf_counter()
        outputs = compute_teacher_outputs(teacher, corpus, masking, k=args.k, batch_size=args.batch)
        compute_s = time.perf_counter() - start
        batch = collate([IndexedChunks(corpus)[i] for i in range(args.batch)], pad_token_id=0)
        tokens = int(batch["attention_mask"].sum())
        stored = outputs.batch(batch["chunk"], batch["input_ids"], batch["attention_mask"])
        static = lambda ids, mask: (stored["input_ids"], stored["labels"])  # every row: the same masks

        # 1. The breakdown (each configuration on its own copy of the student: AdamW moves the weights).
        def fresh(**kw):
            return DistillationTask(make_student(teacher), teacher, static, loss, **kw)
        configs = {"ours, teacher each step (fp32)": (live_phases, fresh(), False),
                   f"ours, stored top-{args.k} (fp32)": (stored_phases, fresh(teacher_outputs=outputs), False),
                   f"ours, stored top-{args.k} (bf16)": (stored_phases, fresh(teacher_outputs=outputs), True)}
        table, times = {}, {}
        if args.part in ("breakdown", "all"):
            print("timing the phases ...", file=sys.stderr)
            table = {name: breakdown(name, phases, task, batch, args, bf16)
                     for name, (phases, task, bf16) in configs.items()}

        # 2. tokens/s of whole steps, taking turns.
        if args.part in ("steps", "all"):
            steps = {"transformers DistilBertForMaskedLM (fp32)":
                     (transformers_step(teacher, student, static, loss, batch), False)}
            for name, (_, task, bf16) in configs.items():
                run = task_step(task)
                steps[name] = ((lambda run=run: run(batch)), bf16)
            times, cpu = {name: [] for name in steps}, {name: [] for name in steps}
            print("timing whole steps ...", file=sys.stderr)
            for turn in range(args.repeats):
                for name, (step, bf16) in steps.items():
                    torch.manual_seed(0)
                    begin, cpu_begin = time.perf_counter(), time.process_time()
                    with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                        step()
                    times[name].append(time.perf_counter() - begin)
                    cpu[name].append(time.process_time() - cpu_begin)
                    print(f"  {name}: {times[name][-1]:.2f} s", file=sys.stderr, flush=True)

        # 3. The top-k KL beside the full KL, for the student before training.
        with torch.no_grad():
            is_real = batch["attention_mask"].bool()
            ids = stored["input_ids"]
            t_logits = teacher(ids, batch["attention_mask"]).logits[is_real]
            s_logits = student(ids, batch["attention_mask"]).logits[is_real]
            full = distillation_kl(s_logits, t_logits, loss.temperature).item()
            s_topk = s_logits.gather(1, stored["topk_ids"])
            topk = distillation_kl(s_topk, stored["topk_logits"], loss.temperature).item()
            mass = torch.softmax(t_logits / loss.temperature, -1).gather(1, stored["topk_ids"]).sum(1).mean().item()
        store_mb = sum(f.stat().st_size for f in outputs.folder.glob("*.npy")) / 2 ** 20
        n_union = len(torch.unique(stored["topk_ids"]))

    if table:
        phases = [p for p in dict.fromkeys(p for t in table.values() for p in t) if not p.startswith("CPU")]
        print(f"\nStep breakdown, seconds (median of {args.repeats} steps after a warm-up step):\n")
        print("| phase | " + " | ".join(table) + " |")
        print("|---|" + "---:|" * len(table))
        for phase in phases:
            print(f"| {phase} | " + " | ".join(f"{t[phase]:.3f}" if phase in t else "" for t in table.values()) + " |")
        cpu_row = " | ".join(f"{t['CPU seconds, all threads']:.3f}" for t in table.values())
        print(f"| CPU seconds, all threads | {cpu_row} |")
        print("| **total (wall)** | " + " | ".join(f"**{sum(v for p, v in t.items() if not p.startswith('CPU')):.3f}**"
                                               for t in table.values()) + " |")
    if times:
        base = statistics.median(times["transformers DistilBertForMaskedLM (fp32)"])
        print(f"\nWhole steps, {tokens} real tokens each (median of {args.repeats}; each step in brackets):\n")
        base_cpu = statistics.median(cpu["transformers DistilBertForMaskedLM (fp32)"])
        print("| distillation step | s/step | tokens/s | vs transformers fp32 | CPU s/step | vs it, CPU time |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, t in times.items():
            s, c = statistics.median(t), statistics.median(cpu[name])
            print(f"| {name} | {s:.2f} ({', '.join(f'{x:.2f}' for x in t)}) | {tokens / s:,.0f} | {base / s:.2f}x | "
                  f"{c:.2f} | {base_cpu / c:.2f}x |")
    print(f"\nComputing the stored outputs once: {compute_s:.2f} s for {args.batch} chunks "
          f"({compute_s / args.batch * 1000:.0f} ms per chunk, {tokens / compute_s:,.0f} tokens/s); "
          f"{store_mb / tokens * 2 ** 20 / 1024:.2f} KiB per token stored (float16). The batch's top-{args.k} "
          f"sets hold U = {n_union:,} distinct ids of {teacher.config.vocab_size:,}.")
    print(f"KL x T^2 of the initial student: full {full:.4f}, over the teacher's top-{args.k} renormalised "
          f"{topk:.4f} (difference {topk - full:+.4f}); the teacher's top-{args.k} hold {100 * mass:.1f}% of its "
          f"mass at T={loss.temperature:g}" + ("" if args.teacher else
          " (random weights: a near-uniform teacher; pass --teacher for the real gap)"))


if __name__ == "__main__":
    main()
