"""The token-classification pipeline: the four ways to turn word pieces into word labels.

    python examples/finetune_punctuation.py               # first: the model, in runs/punctuation/model
    python examples/pipeline_token_classification.py      # ~1 min

Runs the punctuation-restoration model on unpunctuated text and prints what each
aggregation_strategy returns (none: every piece; first / average / max: one label per word, from
its first piece, the mean of its pieces' probabilities, or its most confident piece), then the
text with the predicted punctuation put back.
"""
from dataclasses import dataclass
from pathlib import Path

import minidistil
from minidistil.cli.flags import parse_settings


@dataclass
class Settings:
    model: str = "runs/punctuation/model"  # the model folder
    text: str = "the prime minister said the talks were constructive but would they succeed nobody could say for certain the unions however remained unconvinced"  # the text to run


args = parse_settings(Settings, __doc__)
if not (Path(args.model) / "config.json").exists():
    raise SystemExit(f"no model in {args.model}; run examples/finetune_punctuation.py first")

tag = minidistil.pipeline("token-classification", model=args.model)
print(f"{'strategy':<9}{'found':>6}  first few")
for strategy in ("none", "first", "average", "max"):
    found = tag(args.text, aggregation_strategy=strategy)
    key = "entity" if strategy == "none" else "entity_group"
    print(f"{strategy:<9}{len(found):>6}  " + ", ".join(f"{e['word']}->{e[key]}" for e in found[:4]))

marks = {"COMMA": ",", "PERIOD": ".", "QUESTION": "?"}
ends = {e["end"]: marks[e["entity_group"]] for e in tag(args.text, aggregation_strategy="first")}
restored = "".join(ch + ends.get(i + 1, "") for i, ch in enumerate(args.text))
print(f"\n{restored}")
