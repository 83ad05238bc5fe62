"""The fill-mask pipeline: the top-k words for [MASK].

    python -m minidistil adapt-teacher --data runs/corpus --out runs/teacher   # a model with an MLM head
    python examples/pipeline_fill_mask.py --model runs/teacher/model          # seconds

all-MiniLM-L6-v2 ships without its MLM head, so fill-mask needs a model that has one: the
teacher with an MLM head trained by `adapt-teacher`, or a distilled student. Prints the top 5
completions of each sentence with their probabilities.
"""
import argparse
from pathlib import Path

import minidistil

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="runs/teacher/model")
parser.add_argument("--top-k", type=int, default=5)
args = parser.parse_args()
if not (Path(args.model) / "config.json").exists():
    raise SystemExit(f"no model in {args.model}; train an MLM head first (see the command in this docstring)")

fill = minidistil.pipeline("fill-mask", model=args.model)
sentences = ["The capital of France is [MASK].", "The striker [MASK] twice in the second half.",
             "Shares in the company [MASK] after the results."]
for sentence, found in zip(sentences, fill(sentences, top_k=args.top_k)):
    print(sentence)
    for f in found:
        print(f"  {f['score']:.3f}  {f['token_str']}")
