"""Training-step throughput and peak memory: minidistil vs transformers' DistilBertForMaskedLM.

    python bench/train.py                   # CPU, a 3-layer dim-384 student, 16 real snippets
    python bench/train.py --threads 1 --repeats 7

One MLM training step = masking, forward, loss, backward, AdamW step, on the same weights, the same
batch, the same masks and the same optimizer settings for every row. Rows:
- transformers: `DistilBertForMaskedLM(input_ids, attention_mask, labels=labels)` (sdpa attention);
- minidistil dense: the same call on our model (logits for every position);
- minidistil sparse: our `MLMTask` path, the vocabulary projection only at the masked positions.
Then one DistilBERT distillation step (6-layer teacher -> 3-layer student, KL over every real token,
or over the masked ones only). tokens/s counts real (non-padding) tokens. Timings alternate between
the rows (one step each, in turn) so that load from other processes hits them alike; the median
is reported. Peak memory is measured in a fresh process per row: the highest resident set size
during two steps, minus the resident size before the first step (weights and batch already there).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import transformers

from minidistil import DistilBertConfig, DistilBertForMaskedLM, WordPieceTokenizer, sources
from minidistil.distill import DistillationTask, make_student
from minidistil.losses import sparse_mlm_loss
from minidistil.masking import mask_tokens
from minidistil.train import TrainConfig, make_optimizer

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--repeats", type=int, default=5, help="timed steps per row (median reported)")
parser.add_argument("--batch", type=int, default=16, help="Rotten Tomatoes snippets per batch")
parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
parser.add_argument("--memory-row", help=argparse.SUPPRESS)  # internal: measure one row in this process

ROWS = ["transformers", "minidistil dense", "minidistil sparse", "distill (KL on all tokens)",
        "distill (KL on masked tokens)"]
MASKING = dict(mask_token_id=103, special_ids=[0, 101, 102, 103], vocab_size=30522)


def student_config() -> DistilBertConfig:
    # The student that examples/distill.py trains: all-MiniLM-L6-v2's width, 3 layers.
    return DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=3)


def make_batch(n: int):
    texts, _ = sources.rotten_tomatoes()
    tokenizer = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    enc = tokenizer(texts[:n], padding=True, truncation=True, max_length=128, return_tensors="pt")
    ids, attention = enc["input_ids"], enc["attention_mask"]
    inputs, labels = mask_tokens(ids, attention, generator=torch.Generator().manual_seed(0), **MASKING)
    return ids, inputs, attention, labels


def build_step(row: str, batch):
    """A closure doing one full training step of `row`, with its own model and optimizer.
    Every row starts from the same weights: seed 0, then our model's state loaded where needed."""
    ids, inputs, attention, labels = batch
    torch.manual_seed(0)
    ours = DistilBertForMaskedLM(student_config())
    if row == "transformers":
        model = transformers.DistilBertForMaskedLM(transformers.DistilBertConfig(
            dim=384, n_heads=12, hidden_dim=1536, n_layers=3, attn_implementation="sdpa"))
        model.load_state_dict(ours.state_dict())
        loss_fn = lambda: model(input_ids=inputs, attention_mask=attention, labels=labels).loss
    elif row == "minidistil dense":
        model = ours
        loss_fn = lambda: model(inputs, attention_mask=attention, labels=labels).loss
    elif row == "minidistil sparse":
        model = ours

        def loss_fn():
            hidden = model.distilbert(inputs, attention_mask=attention).last_hidden_state
            return sparse_mlm_loss(model.mlm_logits, hidden, labels)
    else:
        teacher = DistilBertForMaskedLM(DistilBertConfig(dim=384, n_heads=12, hidden_dim=1536, n_layers=6)).eval()
        model = DistillationTask(make_student(teacher), teacher, MASKING, restrict_ce_to_mask="masked" in row)
        loss_fn = lambda: model({"input_ids": ids, "attention_mask": attention})["loss"]
    optimizer = make_optimizer(model, TrainConfig())

    def run():
        loss_fn().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return run


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in MB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024


def measure_memory(row: str, n: int) -> None:
    run = build_step(row, make_batch(n))
    before = rss_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident size, to the current size (Linux >= 4.0)
    for _ in range(2):  # the first step also allocates the optimizer state
        torch.manual_seed(0)
        run()
    print(json.dumps({"row": row, "peak_mb": rss_mb("VmHWM") - before}))


def main():
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_row:
        return measure_memory(args.memory_row, args.batch)
    batch = make_batch(args.batch)
    tokens = int(batch[2].sum())
    steps = {row: build_step(row, batch) for row in ROWS}
    times = {row: [] for row in ROWS}
    for row in ROWS:  # warm-up: first steps allocate the optimizer state
        torch.manual_seed(0)
        steps[row]()
    for _ in range(args.repeats):
        for row in ROWS:
            torch.manual_seed(0)
            start = time.perf_counter()
            steps[row]()
            times[row].append(time.perf_counter() - start)
        print(" ".join(f"{row}: {tokens / times[row][-1]:,.0f}" for row in ROWS), file=sys.stderr, flush=True)
    memory = {}
    for row in ROWS:
        command = [sys.executable, __file__, "--memory-row", row, "--batch", str(args.batch)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        memory[row] = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]

    speed = {row: tokens / statistics.median(times[row]) for row in ROWS}
    print(f"\nCPU, torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} "
          f"threads; batch {batch[0].shape[0]}x{batch[0].shape[1]} ({tokens} real tokens, "
          f"{int((batch[3] != -100).sum())} masked); median of {args.repeats} steps\n")
    print("| training step | tokens/s | vs transformers | peak memory (MB) | vs transformers |")
    print("|---|---:|---:|---:|---:|")
    for row in ROWS:
        print(f"| {row} | {speed[row]:,.0f} | {speed[row] / speed['transformers']:.2f}x | {memory[row]:,.0f} | "
              f"{memory[row] / memory['transformers']:.2f}x |")


if __name__ == "__main__":
    main()
