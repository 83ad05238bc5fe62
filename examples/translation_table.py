"""The translation table: every translator folder and the dictionary baseline, scored on the same
held-out sentences, with 95% intervals and paired bootstrap p-values against the dictionary and
against the first model, one table per held-out group.

    python examples/translation_table.py --split held-out --limit 300 \\
        --models default="$(python -c 'from minidistil.recipes import pretrained; print(pretrained.translator_dir())')"

`--split held-out` scores each group of `minidistil.data.zh_en_corpus` that no training pair comes
from: `test-prose` (two whole manuals), `test-ui` (two whole catalogues), `test-current` (the earlier
test modules of LibreOffice and GNU) and `test-tatoeba` (everyday sentences, split by Chinese
sentence). `--split test` is the earlier software-only test set (`minidistil.data.parallel`).
Scores are sacrebleu's (BLEU 13a and chrF2, case-sensitive, on detokenized text). Prints a Markdown
table per group and writes every score and every output to `--out` (JSON). Needs sacrebleu
(`pip install 'minidistil[translate]'`).
"""
import argparse
import json
import time

import torch

from minidistil.apps.translation import TranslationPipeline
from minidistil.data import cedict, parallel, zh_en_corpus
from minidistil.utils.bleu import compare

GROUPS = ["test-prose", "test-ui", "test-current", "test-tatoeba"]
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--models", nargs="+", required=True, help="NAME=FOLDER, the first is the reference for p-values")
parser.add_argument("--split", default="held-out", choices=["held-out", *GROUPS, "validation", "test"])
parser.add_argument("--limit", type=int, default=0, help="score every k-th sentence to this many per group (0: all)")
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
parser.add_argument("--examples", type=int, default=20, help="translations printed per group, for a reader to judge")
parser.add_argument("--out", default="runs/translation_table.json")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)


BUCKETS = [(-99, -2.0), (-2.0, -1.5), (-1.5, -1.0), (-1.0, -0.5), (-0.5, 0.01)]


def calibration(name: str, scores: list[float], ours: list[str], dictionary: list[str], references: list[str]) -> None:
    """Which mean token log-probabilities to distrust: per score bucket, how often the translation's
    sentence chrF beats the word-by-word dictionary's on the same sentence."""
    from sacrebleu.metrics import CHRF
    chrf = CHRF()
    ours_chrf = [chrf.sentence_score(h, [r]).score for h, r in zip(ours, references)]
    dict_chrf = [chrf.sentence_score(h, [r]).score for h, r in zip(dictionary, references)]
    print(f"\n| {name}: mean token log-probability | sentences | beats the dictionary (sentence chrF) |")
    print("|---|---:|---:|")
    for low, high in BUCKETS:
        rows = [i for i, s in enumerate(scores) if low <= s < high]
        if rows:
            wins = sum(ours_chrf[i] > dict_chrf[i] for i in rows) / len(rows)
            print(f"| [{low:g}, {high:g}) | {len(rows)} | {wins:.0%} |")


def score_group(split: str, records: list[dict], translators: dict) -> dict:
    sources, references = [r["zh"] for r in records], [r["en"] for r in records]
    systems, speed, scores = {"dictionary": cedict.WordByWord(cedict.load()).translate(sources)}, {}, {}
    for name, translate in translators.items():
        start = time.perf_counter()
        outputs = translate(sources, batch_size=args.batch_size, return_scores=True)
        speed[name] = len(sources) / (time.perf_counter() - start)
        systems[name], scores[name] = [o["translation_text"] for o in outputs], [o["score"] for o in outputs]
    vs_dictionary = compare(references, systems)
    first = next(iter(translators))
    vs_first = compare(references, {first: systems[first], **{k: v for k, v in systems.items() if k != first}})
    print(f"\n### {split}: {len(records)} pairs from {len({r['source'] for r in records})} held-out sources; "
          f"CPU threads {torch.get_num_threads()}\n")
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
    for name in translators:
        calibration(name, scores[name], systems[name], systems["dictionary"], references)
    for i in range(0, len(records), max(1, len(records) // max(args.examples, 1)))[:args.examples]:
        print(f"\n[{records[i]['source']}] {sources[i]}\n  reference:  {references[i]}")
        for name in systems:
            print(f"  {name + ':':<14}{systems[name][i]}")
    return {"pairs": len(records), "systems": table, "bleu_signature": vs_dictionary["dictionary"].bleu_signature,
            "chrf_signature": vs_dictionary["dictionary"].chrf_signature,
            # every system's outputs, so that any two can be compared later (`minidistil.utils.bleu.compare`)
            "sources": sources, "references": references, "outputs": systems, "scores": scores}


translators = {name: TranslationPipeline(folder) for name, folder in (m.split("=", 1) for m in args.models)}
results = {}
for split in GROUPS if args.split == "held-out" else [args.split]:
    records = parallel.pairs(split) if split == "test" else zh_en_corpus.pairs(split)
    results[split] = score_group(split, zh_en_corpus.even_sample(records, args.limit), translators)
with open(args.out, "w") as f:
    json.dump(results, f, indent=1, ensure_ascii=False)
print(f"\nwrote {args.out}")
