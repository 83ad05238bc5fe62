"""End-to-end text classification, texts/s: minidistil's pipeline vs transformers' pipeline.

    python bench/pipeline.py                       # 1,000 Rotten Tomatoes snippets, batch 16, CPU
    python bench/pipeline.py --texts 4000 --threads 1

Both pipelines read the same model folder (all-MiniLM-L6-v2's encoder with a seeded, untrained
classification head, written by our save_pretrained) and classify the same real snippets, from raw
strings to labels: tokenization (ours in Python, transformers' fast Rust tokenizer), batching,
the forward pass and the softmax. They run alternately, one full pass each, and the best of
`--repeats` passes is reported. The predicted labels are asserted equal.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import torch
import transformers

import minidistil
from minidistil import DistilBertForSequenceClassification, WordPieceTokenizer, sources
from minidistil.cli.flags import parse_settings

@dataclass
class Settings:
    texts: int = 1000             # Rotten Tomatoes snippets to classify
    batch_size: int = 16          # texts per forward, in both pipelines
    repeats: int = 3              # full passes per pipeline (the best is reported)
    threads: int = 0              # torch threads (0: torch's default)


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
    best, labels = {name: float("inf") for name in runs}, {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            out = run()
            best[name] = min(best[name], time.perf_counter() - start)
            labels[name] = [r["label"] for r in out]
    same = sum(a == b for a, b in zip(labels["minidistil"], labels["transformers"]))
    assert same == len(texts), f"the pipelines disagree on {len(texts) - same} of {len(texts)} labels"

    print(f"\n{len(texts)} Rotten Tomatoes snippets, batch {args.batch_size}, torch threads {torch.get_num_threads()}, "
          f"identical labels on all\n")
    print("| pipeline | texts/s | vs transformers |")
    print("|---|---:|---:|")
    for name in runs:
        rate = len(texts) / best[name]
        print(f"| {name} text-classification | {rate:,.1f} | {best['transformers'] / best[name]:.2f}x |")


if __name__ == "__main__":
    main()
