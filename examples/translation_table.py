"""The translation table: every translator folder and the dictionary baseline, scored on the same
held-out sentences (test sources, never seen in training), with 95% intervals and paired bootstrap
p-values against the dictionary and against the first model.

    python examples/translation_table.py --models warm=runs/tr-warm/model random=runs/tr-random/model \\
        decoder-warm=runs/tr-decoder-warm/model student=runs/tr-student/model --split test

Prints a Markdown table (BLEU 13a, chrF2, sentences/s of beam search with the key/value cache) and
writes it with every score and every output to `--out` (JSON). Needs sacrebleu (`pip install 'minidistil[translate]'`).
"""
import argparse
import json
import time

import torch

from minidistil.utils.bleu import compare
from minidistil.data import cedict, parallel
from minidistil.apps.translation import TranslationPipeline

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--models", nargs="+", required=True, help="NAME=FOLDER, the first is the reference for p-values")
parser.add_argument("--split", default="test", choices=["validation", "test"])
parser.add_argument("--limit", type=int, default=0, help="score every k-th sentence to this many (0: all)")
parser.add_argument("--num-beams", type=int, default=4)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
parser.add_argument("--out", default="runs/translation_table.json")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

records = parallel.pairs(args.split)
if args.limit and args.limit < len(records):
    step = len(records) / args.limit  # an even sample over every held-out source, not the first one
    records = [records[int(i * step)] for i in range(args.limit)]
sources = [r["zh"] for r in records]
references = [r["en"] for r in records]

systems, speed = {"dictionary": cedict.WordByWord(cedict.load()).translate(sources)}, {}
for item in args.models:
    name, folder = item.split("=", 1)
    translate = TranslationPipeline(folder)
    start = time.perf_counter()
    systems[name] = [o["translation_text"] for o in translate(sources, num_beams=args.num_beams,
                                                              batch_size=args.batch_size)]
    speed[name] = len(sources) / (time.perf_counter() - start)
    print(f"{name}: {len(sources)} sentences in {len(sources) / speed[name]:.0f} s", flush=True)

vs_dictionary = compare(references, systems)
first = args.models[0].split("=", 1)[0]
vs_first = compare(references, {first: systems[first], **{k: v for k, v in systems.items() if k != first}})

print(f"\n{args.split}: {len(records)} pairs from {len({r['source'] for r in records})} held-out sources; "
      f"beam {args.num_beams}; CPU threads {torch.get_num_threads()}\n")
print(f"| system | BLEU | chrF2 | p vs dictionary (BLEU / chrF) | p vs {first} (BLEU / chrF) | sentences/s |")
print("|---|---|---|---|---|---|")
table = {}
for name, s in vs_dictionary.items():
    f = vs_first[name]
    p_dict = "-" if name == "dictionary" else f"{s.bleu_p:.3f} / {s.chrf_p:.3f}"
    p_first = "-" if name == first else f"{f.bleu_p:.3f} / {f.chrf_p:.3f}"
    rate = f"{speed[name]:.2f}" if name in speed else "-"
    print(f"| {name} | {s.bleu:.2f} ± {s.bleu_ci:.2f} | {s.chrf:.2f} ± {s.chrf_ci:.2f} | {p_dict} | {p_first} | {rate} |")
    table[name] = {"bleu": s.bleu, "bleu_ci": s.bleu_ci, "chrf": s.chrf, "chrf_ci": s.chrf_ci,
                   "p_vs_dictionary": [s.bleu_p, s.chrf_p], f"p_vs_{first}": [f.bleu_p, f.chrf_p],
                   "sentences_per_second": speed.get(name)}
print(f"\n{vs_dictionary['dictionary'].bleu_signature}\n{vs_dictionary['dictionary'].chrf_signature}")
for i in range(0, len(records), max(1, len(records) // 6)):
    print(f"\n[{records[i]['source']}] {sources[i]}\n  reference:  {references[i]}")
    for name in systems:
        print(f"  {name + ':':<14}{systems[name][i]}")
with open(args.out, "w") as f:
    json.dump({"split": args.split, "pairs": len(records), "num_beams": args.num_beams, "systems": table,
               "bleu_signature": vs_dictionary["dictionary"].bleu_signature,
               "chrf_signature": vs_dictionary["dictionary"].chrf_signature,
               # every system's outputs, so that any two can be compared later (`minidistil.utils.bleu.compare`)
               "sources": sources, "references": references, "outputs": systems}, f, indent=1, ensure_ascii=False)
