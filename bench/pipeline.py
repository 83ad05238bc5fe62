"""End-to-end text classification, texts/s: minidistil's pipeline vs transformers' pipeline.

    python bench/pipeline.py                       # 1,000 Rotten Tomatoes snippets, batch 16, CPU
    python bench/pipeline.py --texts 4000 --threads 1

Both pipelines read the same model folder (all-MiniLM-L6-v2's encoder with a seeded, untrained
classification head, written by our save_pretrained) and classify the same real snippets, from raw
strings to labels: tokenization (ours in Python, transformers' fast Rust tokenizer), batching,
the forward pass and the softmax. After one warm-up pass each, they run alternately, one full pass
each, `--repeats` passes per pipeline in each of `--rounds` rounds, so that load from other
processes hits both alike. texts/s is a pipeline's median pass over all rounds; the ratio is the
median of the rounds' ratios (a round's ratio: the median over its adjacent pairs of passes), with
each round's in brackets to show the spread. The predicted labels are asserted equal.
"""
from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass

import torch
import transformers

import minidistil
from minidistil import DistilBertForSequenceClassification, WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings

from common import cpu_name, median_and_rounds, timed  # bench/common.py

@dataclass
class Settings:
    texts: int = 1000             # Rotten Tomatoes snippets to classify
    batch_size: int = 16          # texts per forward, in both pipelines
    repeats: int = 3              # full passes per pipeline in a round
    rounds: int = 3               # rounds; the ratio is their median, each round shown
    threads: int = 0              # torch threads (0: torch's default)


def passes(runs: dict, repeats: int, rounds: int) -> list[dict]:
    """Seconds per pass, one {pipeline: [seconds, ...]} per round; the pipelines take turns, one
    full pass each."""
    timings = []
    for _ in range(rounds):
        seconds = {name: [] for name in runs}
        for _ in range(repeats):
            for name, run in runs.items():
                seconds[name].append(timed(run)[0])
        timings.append(seconds)
    return timings


def main():
    args = parse_settings(Settings, __doc__)
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = sources.rotten_tomatoes()[0][:args.texts]
    folder = tempfile.mkdtemp(prefix="bench-pipeline-")
    torch.manual_seed(0)
    model = DistilBertForSequenceClassification.from_pretrained(
        sources.teacher_dir(), new_head=True, id2label={0: "fresh", 1: "rotten"}, label2id={"fresh": 0, "rotten": 1})
    model.save_pretrained(folder)
    WordPieceTokenizer.from_pretrained(sources.teacher_dir()).save_pretrained(folder)

    ours = minidistil.pipeline("text-classification", model=folder, batch_size=args.batch_size, max_length=128)
    theirs = transformers.pipeline("text-classification", model=folder, device="cpu")
    runs = {"minidistil": lambda: ours(texts),
            "transformers": lambda: theirs(texts, batch_size=args.batch_size, truncation=True, max_length=128)}
    labels = {name: [r["label"] for r in run()] for name, run in runs.items()}  # also the warm-up pass
    same = sum(a == b for a, b in zip(labels["minidistil"], labels["transformers"]))
    assert same == len(texts), f"the pipelines disagree on {len(texts) - same} of {len(texts)} labels"
    timings = passes(runs, args.repeats, args.rounds)

    print(f"\n{cpu_name()}, {len(texts)} Rotten Tomatoes snippets, batch {args.batch_size}, torch threads "
          f"{torch.get_num_threads()}, identical labels on all; {args.rounds} rounds of {args.repeats} passes\n")
    print("| pipeline | texts/s | vs transformers: median (rounds) |")
    print("|---|---:|---:|")
    for name in runs:
        median_pass = statistics.median(t for r in timings for t in r[name])
        # time(transformers) / time(this pipeline) over each adjacent pair: > 1 means this one is faster
        ratios = [statistics.median(b / a for a, b in zip(r[name], r["transformers"])) for r in timings]
        print(f"| {name} text-classification | {len(texts) / median_pass:,.1f} | {median_and_rounds(ratios)} |")


if __name__ == "__main__":
    main()
