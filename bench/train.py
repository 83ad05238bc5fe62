"""Training-step throughput and peak memory: minidistil vs transformers' DistilBertForMaskedLM.

    python bench/train.py                   # CPU, a 3-layer dim-384 student, 16 real snippets
    python bench/train.py --threads 1 --repeats 7
    python bench/train.py --device cuda --dtype bf16 --batch 256 --compile

One MLM training step = masking, forward, loss, backward, AdamW step, on the same weights, the same
batch, the same masks and the same optimizer settings for every row. Rows:
- transformers: `DistilBertForMaskedLM(input_ids, attention_mask, labels=labels)` (sdpa attention);
- minidistil dense: the same call on our model (logits for every position);
- minidistil sparse: our `MLMTask` path, the vocabulary projection only at the masked positions.
Then one DistilBERT distillation step (6-layer teacher -> 3-layer student, KL over every real token,
or over the masked ones only). tokens/s counts real (non-padding) tokens. Timings alternate between
the rows (one step each, in turn) so that load from other processes hits them alike, `--repeats`
steps per row in each of `--rounds` rounds. tokens/s and TFLOP/s use a row's median step over all
rounds; the speed ratio is the median of the rounds' ratios (a round's ratio: the median over its
turns of time(transformers) / time(row)), with each round's in brackets to show the spread.
Peak memory is measured in a fresh process per row: the highest resident set size during two steps,
minus the resident size before the first step (weights and batch already there); on CUDA, the peak
allocated memory over the same two steps. --compile runs every row's encoder(s)
through torch.compile (heads and losses stay eager); --dtype bf16 runs the steps under autocast.
TFLOP/s counts model FLOPs (minidistil/utils/flops.py): the encoder's products for the real tokens and the
MLM head at the masked positions (every real token for KL on all tokens), x3 for the trained model,
x1 for the teacher. Rows that compute more (a dense head, padding) spend it against their MFU.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Literal

import torch
import transformers

from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings
from minidistil.training.distill import DistillationTask, DistillLoss, make_student
from minidistil.utils.flops import forward_flops, peak_tflops, training_flops
from minidistil.nn.losses import sparse_mlm_loss
from minidistil.data.masking import Masking
from minidistil.training.train import TrainConfig, make_optimizer

from common import cpu_name, median_and_rounds  # bench/common.py

@dataclass
class Settings:
    repeats: int = 5              # timed steps per row in a round
    rounds: int = 3               # rounds; the speed ratio is their median, each round shown
    batch: int = 16               # Rotten Tomatoes snippets per batch
    threads: int = 0              # torch threads (0: torch's default)
    device: str = "cpu"           # cpu or cuda
    dtype: Literal["fp32", "bf16"] = "fp32"  # bf16 runs the steps under autocast
    compile: bool = False         # run the encoders through torch.compile
    peak_tflops: float | None = None  # the device's peak for the dtype run, for the MFU column
    memory_row: str | None = None  # used by this script itself: measure one row's memory in this process

ROWS = ["transformers", "minidistil dense", "minidistil sparse", "distill (KL on all tokens)",
        "distill (KL on masked tokens)"]
MASKING = Masking(mask_token_id=103, special_ids=(0, 101, 102, 103), vocab_size=30522)


def student_config() -> DistilBertConfig:
    # The student that examples/distill_mlm.py trains: all-MiniLM-L6-v2's width, 3 layers.
    return DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=3)


def teacher_config() -> DistilBertConfig:
    return DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=6)


def model_flops(row: str, batch) -> int:
    """The FLOPs a row's step needs (see the module docstring). The distillation rows draw their own
    masks; their masked count is taken to be the batch's (the same 15% rate)."""
    _, _, attention, labels = batch
    lengths, masked = attention.sum(1).tolist(), int((labels != -100).sum())
    if not row.startswith("distill"):
        return training_flops(student_config(), lengths, masked)
    projected = masked if "masked" in row else sum(lengths)
    return training_flops(student_config(), lengths, projected) + forward_flops(teacher_config(), lengths, projected)


def make_batch(n: int):
    texts, _ = sources.rotten_tomatoes()
    tokenizer = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    enc = tokenizer(texts[:n], padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, attention = enc["input_ids"], enc["attention_mask"]
    inputs, labels = MASKING(ids, attention, generator=torch.Generator().manual_seed(0))
    return ids, inputs, attention, labels


def build_step(row: str, batch, args):
    """A closure doing one full training step of `row`, with its own model and optimizer.
    Every row starts from the same weights: seed 0, then our model's state loaded where needed."""
    device = torch.device(args.device)
    ids, inputs, attention, labels = (t.to(device) for t in batch)
    torch.manual_seed(0)
    ours = DistilBertForMaskedLM(student_config())
    if row == "transformers":
        model = transformers.DistilBertForMaskedLM(transformers.DistilBertConfig(
            dim=384, n_heads=12, hidden_dim=1536, n_layers=3, attn_implementation="sdpa"))
        model.load_state_dict(ours.state_dict())
        model.to(device)
        encoders = [model.distilbert]
        loss_fn = lambda: model(input_ids=inputs, attention_mask=attention, labels=labels).loss
    elif row == "minidistil dense":
        model = ours.to(device)
        encoders = [model.distilbert]
        loss_fn = lambda: model(inputs, attention_mask=attention, labels=labels).loss
    elif row == "minidistil sparse":
        model = ours.to(device)
        encoders = [model.distilbert]

        def loss_fn():
            hidden = model.distilbert(inputs, attention_mask=attention).last_hidden_state
            return sparse_mlm_loss(model.mlm_logits, hidden, labels)
    else:
        teacher = DistilBertForMaskedLM(teacher_config()).eval().to(device)
        model = DistillationTask(make_student(teacher), teacher, MASKING, DistillLoss(restrict_ce_to_mask="masked" in row))
        encoders = [model.student.distilbert, teacher.distilbert]
        loss_fn = lambda: model({"input_ids": ids, "attention_mask": attention})["loss"]
    if args.compile:
        for encoder in encoders:
            encoder.compile()  # in place: parameters and state_dict keys unchanged
    optimizer = make_optimizer(model, TrainConfig())

    def run():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
            loss = loss_fn()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return run


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def measure_memory(row: str, args) -> None:
    run = build_step(row, make_batch(args.batch), args)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2 ** 20
    else:
        before = rss_mb("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident size, to the current size (Linux >= 4.0)
    for _ in range(2):  # the first step also allocates the optimizer state
        torch.manual_seed(0)
        run()
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else rss_mb("VmHWM")
    print(json.dumps({"row": row, "peak_mb": peak - before}))


def time_rounds(steps: dict, sync, repeats: int, rounds: int, tokens: int) -> list[dict]:
    """Seconds per step, one {row: [seconds, ...]} per round. In a round the rows take turns, one
    step each, `repeats` times; every step starts from seed 0 so that all draw the same masks."""
    timings = []
    for _ in range(rounds):
        times = {row: [] for row in steps}
        for _ in range(repeats):
            for row, step in steps.items():
                torch.manual_seed(0)
                sync()
                start = time.perf_counter()
                step()
                sync()
                times[row].append(time.perf_counter() - start)
            print(" ".join(f"{row}: {tokens / times[row][-1]:,.0f}" for row in steps), file=sys.stderr, flush=True)
        timings.append(times)
    return timings


def main():
    args = parse_settings(Settings, __doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA device")
    if args.memory_row:
        return measure_memory(args.memory_row, args)
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    batch = make_batch(args.batch)
    tokens = int(batch[2].sum())
    steps = {row: build_step(row, batch, args) for row in ROWS}
    for row in ROWS:  # warm-up: first steps allocate the optimizer state
        torch.manual_seed(0)
        steps[row]()
    timings = time_rounds(steps, sync, args.repeats, args.rounds, tokens)
    memory = {}
    for row in ROWS:
        command = [sys.executable, __file__, "--memory-row", row, "--batch", str(args.batch),
                   "--device", args.device, "--dtype", args.dtype] + (["--compile"] if args.compile else [])
        if args.threads:
            command += ["--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        memory[row] = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]

    median_step = {row: statistics.median(t for times in timings for t in times[row]) for row in ROWS}
    speed = {row: tokens / median_step[row] for row in ROWS}
    tflops = {row: model_flops(row, batch) / median_step[row] / 1e12 for row in ROWS}
    ratios = {row: [statistics.median(a / b for a, b in zip(times["transformers"], times[row])) for times in timings]
              for row in ROWS}  # time(transformers) / time(row) within a turn: > 1 means the row is faster
    name = torch.cuda.get_device_name() if cuda else cpu_name()
    peak = args.peak_tflops or (peak_tflops(name) if cuda and args.dtype == "bf16" else None)
    print(f"\n{name}, torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} "
          f"threads, {args.dtype}{', torch.compile' if args.compile else ''}; batch {batch[0].shape[0]}x"
          f"{batch[0].shape[1]} ({tokens} real tokens, {int((batch[3] != -100).sum())} masked); "
          f"{args.rounds} rounds of {args.repeats} steps\n")
    print("| training step | tokens/s | vs transformers: median (rounds) | peak memory (MB) | vs transformers "
          "| TFLOP/s | MFU |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in ROWS:
        mfu = f"{100 * tflops[row] / peak:.1f}%" if peak else "n/a"
        print(f"| {row} | {speed[row]:,.0f} | {median_and_rounds(ratios[row])} | {memory[row]:,.0f} | "
              f"{memory[row] / memory['transformers']:.2f}x | {tflops[row]:.3f} | {mfu} |")


if __name__ == "__main__":
    main()
