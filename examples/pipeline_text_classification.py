"""The text-classification pipeline on a fine-tuned sentiment model, with its accuracy on a sample.

    python examples/finetune_sentiment.py                 # first: the model, in runs/sentiment/model
    python examples/pipeline_text_classification.py       # ~1 min

Prints each review with its label and probability, in input order (the pipeline batches by
length internally), and the accuracy on 200 test snippets.
"""
from dataclasses import dataclass
import time
from pathlib import Path

import minidistil
from minidistil.data import tasks
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    model: str = "runs/sentiment/model"  # the model folder


args = parse_settings(Settings, __doc__)
if not (Path(args.model) / "config.json").exists():
    raise SystemExit(f"no model in {args.model}; run examples/finetune_sentiment.py first")

classify = minidistil.pipeline("text-classification", model=args.model, batch_size=32)
reviews = ["A gem of a film: funny, warm and beautifully acted.",
           "Two hours of my life I will never get back.",
           "The plot is thin, but the performances carry it.",
           "Not as good as the first one, yet still worth a look."]
for review, result in zip(reviews, classify(reviews)):
    print(f"{result['label']:<8}{result['score']:.3f}  {review}")

sample = tasks.load("sentiment").test[:200]
start = time.perf_counter()
predictions = classify([e["text"] for e in sample])
seconds = time.perf_counter() - start
accuracy = sum(p["label"] == e["label"] for p, e in zip(predictions, sample)) / len(sample)
print(f"\n{'examples':>9}{'accuracy':>10}{'texts/s':>9}\n{len(sample):>9}{accuracy:>10.4f}{len(sample) / seconds:>9.1f}")
