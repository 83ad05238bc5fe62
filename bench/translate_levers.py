"""What each CPU lever of the translator buys: one training step, and decoding with and without the cache.

    python bench/translate_levers.py                 # about 3 minutes on 2 idle cores
    python bench/translate_levers.py --threads 1 --rounds 7   # on a machine others share

The model is the MiniLM-sized translator (6 + 6 layers of width 384, 12 heads), warm-started from
all-MiniLM-L6-v2 on both sides (the shapes are what matter for time; the weights do not). Batches
are random ids of the lengths given (defaults near the cleaned pairs' medians), so the script needs
no corpus. It times:

1. a training step (forward, backward, AdamW) of the full model against: the output vocabulary
   trimmed to `--trimmed-vocab` rows (the English tokens the data uses), a 3-layer decoder
   (layers 0, 2, 5), targets capped at half the length, and all three together;
2. generation of one batch with the key/value cache against recomputing every position each step
   (greedy and beam search, the same tokens, forced to run to max_length);
3. beam search with the distilled student's 3-layer decoder against the teacher's 6 layers.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from common import cpu_name
from minidistil.data import sources
from minidistil.nn.generate import generate
from minidistil.nn.seq2seq import warm_start
from minidistil.training.train import TrainConfig, make_optimizer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--source-length", type=int, default=24, help="tokens per source row")
parser.add_argument("--target-length", type=int, default=20, help="tokens per target row")
parser.add_argument("--trimmed-vocab", type=int, default=7400, help="rows of the trimmed output vocabulary")
parser.add_argument("--gen-batch", type=int, default=8)
parser.add_argument("--gen-length", type=int, default=48, help="max_length of the timed generation")
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--threads", type=int, default=torch.get_num_threads())
args = parser.parse_args()
torch.set_num_threads(args.threads)
folder = sources.teacher_dir()


def model_with(trim: bool, decoder_layers):
    keep = list(range(args.trimmed_vocab)) if trim else None
    return warm_start(folder, folder, decoder_layers=decoder_layers, target_keep_ids=keep, start_id=101, eos_id=102,
                      pad_id=0)


def batch_for(model, target_length: int):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 5000, (args.batch_size, args.source_length), generator=g)
    labels = torch.randint(1000, model.config.decoder.vocab_size, (args.batch_size, target_length), generator=g)
    return ids, labels


def one_step(model, optimizer, ids, labels) -> float:
    start = time.perf_counter()
    model(ids, labels=labels, label_smoothing=0.1).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


print(f"CPU: {cpu_name()}, {args.threads} threads; batch {args.batch_size}, source {args.source_length} tokens, "
      f"target {args.target_length} tokens; median of {args.rounds} rounds, the variants interleaved in each "
      f"round so that other load on the machine falls on all of them alike")
rows = [("full (vocab 30,522, 6 decoder layers)", False, None, args.target_length),
        (f"trimmed vocab ({args.trimmed_vocab:,})", True, None, args.target_length),
        ("3-layer decoder (0, 2, 5)", False, (0, 2, 5), args.target_length),
        (f"targets capped at {args.target_length // 2}", False, None, args.target_length // 2),
        ("all three", True, (0, 2, 5), args.target_length // 2)]
runs = []
for name, trim, layers, T in rows:
    model = model_with(trim, layers).train()
    runs.append((name, model, make_optimizer(model, TrainConfig()), *batch_for(model, T)))
times = {name: [] for name, *_ in runs}
for r in range(args.rounds + 1):  # round 0 warms up
    for name, model, optimizer, ids, labels in runs:
        seconds = one_step(model, optimizer, ids, labels)
        if r:
            times[name].append(seconds)
print("\ntraining step                         seconds   vs full   rounds")
base = statistics.median(times[rows[0][0]])
for name, t in times.items():
    print(f"{name:<38}{statistics.median(t):7.3f}   {base / statistics.median(t):5.2f}x   "
          f"{', '.join(f'{x:.2f}' for x in t)}")
del runs

print(f"\ngeneration of {args.gen_batch} sentences to max_length {args.gen_length} (trimmed vocab)")
model = model_with(True, None).eval()
with torch.no_grad():  # the end token never wins: every step runs, in both paths alike
    model.decoder.cls.predictions.bias[102] = -1e4
ids = torch.randint(1000, 5000, (args.gen_batch, args.source_length), generator=torch.Generator().manual_seed(1))
print("decoding            cache s   recompute s   speed-up   same tokens")
for beams in (1, 4):
    results = {}
    for use_cache in (True, False):
        start = time.perf_counter()
        results[use_cache] = generate(model, ids, num_beams=beams, max_length=args.gen_length, use_cache=use_cache)
        results[f"t{use_cache}"] = time.perf_counter() - start
    name = "greedy" if beams == 1 else f"beam search ({beams})"
    print(f"{name:<20}{results['tTrue']:8.2f}   {results['tFalse']:11.2f}   {results['tFalse'] / results['tTrue']:7.2f}x"
          f"   {torch.equal(results[True], results[False])}")

print(f"\nbeam search (4) of {args.gen_batch} sentences to max_length {args.gen_length}, with the cache: "
      f"the distilled student's decoder (layers 0, 2, 5) against the teacher's 6")
from minidistil.training.translate import make_student  # noqa: E402

student = make_student(model, (0, 2, 5)).eval()
times = {"teacher (6 + 6 layers)": [], "student (6 + 3 layers)": []}
for r in range(args.rounds):
    for name, m in zip(times, (model, student)):
        start = time.perf_counter()
        generate(m, ids, num_beams=4, max_length=args.gen_length)
        times[name].append(time.perf_counter() - start)
teacher_s = statistics.median(times["teacher (6 + 6 layers)"])
for name, t in times.items():
    s = statistics.median(t)
    print(f"{name:<26}{s:7.2f} s   {args.gen_batch / s:6.2f} sentences/s   {teacher_s / s:5.2f}x")
