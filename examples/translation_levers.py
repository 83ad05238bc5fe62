"""The lever table: each low-resource setting changed alone at the same fixed budget of minutes, scored
on the same held-out sentences, paired against the base (Sennrich and Zhang 2019 measured +10 BLEU
from settings alone on small corpora).

    python examples/translation_levers.py --minutes 45 --levers base "lr 6e-4" "no lexicon pairs"

Every run starts from the default translator's folders (the Chinese encoder and all-MiniLM-L6-v2, built
into the cache once) and trains for the steps that fit `--minutes` on this machine (timed once per
run, `TranslatorSettings.minutes`), so a lever that makes steps cheaper (fewer decoder layers, a
smaller output vocabulary) gets more of them. Runs are resumable and skipped when finished
(`OUT/<lever>/results.json`), and so is their scoring (`OUT/<lever>/outputs-*.json`); `checkpoint
averaging` reuses the base run's snapshots. Scores: greedy
decoding, sacrebleu's BLEU and chrF2 on `--limit` sentences of each held-out group, paired bootstrap
p against the base. A run's minutes are only comparable on idle cores: run nothing else meanwhile.
At 15 minutes (about 340 steps on a 2-core CPU) no run reads its source yet and the table ranks only
how fast each starts (RESULTS.md): give each run 45 minutes or more, or continue every lever from one
snapshot of the default build (`--start-from <translator>/snapshots/step-1200.pt --minutes 20`), which
compares them where training has got to (a continued run keeps that build's output vocabulary and
decoder; `3 decoder layers` keeps three of its layers).
`back-translation` first trains the reverse (English -> Chinese) model for the same minutes and
translates its English with it: those minutes are on top of the lever's own.
"""
import argparse
import json
from dataclasses import replace
from pathlib import Path

from minidistil.apps.translation import TranslationPipeline
from minidistil.data import cedict, zh_en_corpus
from minidistil.recipes import back_translation, pretrained
from minidistil.recipes.translator import TranslatorSettings, corpus_records, train_translator
from minidistil.training.train import average_snapshots, model_weights
from minidistil.utils.bleu import compare

GROUPS = ["test-prose", "test-ui", "test-current", "test-tatoeba"]
# Each lever: the settings it changes, or a filter of the training pairs.
LEVERS = {
    "base": {},
    "dropout 0.3": {"dropout": 0.3},  # Sennrich and Zhang 2019: more dropout in low-resource settings
    "no label smoothing": {"label_smoothing": 0.0},
    "lr 6e-4": {"lr": 6e-4},
    "lr 1.5e-4": {"lr": 1.5e-4},
    "warm-up 15%": {"warmup": 0.15},
    "3 decoder layers": {"decoder_layers": "0,2,5"},
    "full output vocabulary": {"trim_vocab": False},
    "batches of 2,048 tokens": {"max_tokens": 2048},
    "lengths up to 64": {"max_source_length": 64, "max_target_length": 64},
    "no lexicon pairs": {"records": lambda r: r.get("kind") != "lexicon"},  # CC-CEDICT, CLDR, iso-codes
    "no Bible": {"records": lambda r: r["source"] != "bible"},
    "checkpoint averaging": {"average": 3},
    # Sennrich et al. 2016: English prose (news, novels, WordNet examples) put into Chinese by a reverse
    # model of the same recipe and minutes, added as synthetic pairs (minidistil.recipes.back_translation)
    "back-translation": {"back_translation": 20_000},
}
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--minutes", type=float, default=45.0, help="training minutes of every run")
parser.add_argument("--levers", nargs="+", default=list(LEVERS), choices=list(LEVERS))
parser.add_argument("--limit", type=int, default=200, help="held-out sentences per group")
parser.add_argument("--seed", type=int, default=56)
parser.add_argument("--start-from", help="a snapshot of a longer run (<run>/snapshots/step-N.pt, e.g. the default "
                    "translator's step 1,200) that every lever continues for --minutes, instead of a warm start: "
                    "the levers compared where training has got to")
parser.add_argument("--out", default="runs/translation-levers")
args = parser.parse_args()
if args.start_from and "full output vocabulary" in args.levers:
    parser.error("a continued run keeps the snapshot's output vocabulary: leave out 'full output vocabulary'")
out = Path(args.out)
base = TranslatorSettings(minutes=args.minutes, seed=args.seed, keep_every=0, save_every=100,
                          eval_sentences=1)  # its own validation check: one sentence (held-out scoring is below)
folders = pretrained.translator_folders(base)
records = corpus_records(base.corpus)


def run(name: str) -> Path:
    lever = dict(LEVERS[name])
    keep = lever.pop("records", None)
    if lever.pop("average", None):  # the base run with snapshots, averaged afterwards
        name, lever = "base", {}
    synthetic = lever.pop("back_translation", 0)
    folder = out / name.replace(" ", "-").replace(",", "")
    settings = replace(base, **lever, keep_every=100 if name == "base" else 0)
    if not (folder / "results.json").is_file():
        data = {"train": [r for r in records["train"] if keep(r)], "validation": records["validation"]} if keep else records
        if synthetic:
            data = {**data, "train": data["train"] + back_translated(synthetic)}
        train_translator(settings, folder, encoder_folder=folders["encoder_folder"],
                         decoder_folder=folders["decoder_folder"], records=data, start_from=args.start_from)
    return folder


def back_translated(n: int) -> list[dict]:
    """n English sentences the pairs do not hold, put into Chinese by a reverse model trained for the
    same minutes (out/reverse, reused), cached in out/synthetic.jsonl."""
    reverse = back_translation.train_reverse(base, out / "reverse", folders, records)
    english = back_translation.english_sentences(n, seed=args.seed, exclude=[r["en"] for r in records["train"]])
    return back_translation.synthetic_pairs(reverse / "model", english, out / "synthetic.jsonl")


groups = {g: zh_en_corpus.even_sample(zh_en_corpus.pairs(g), args.limit) for g in GROUPS}
dictionary = cedict.WordByWord(cedict.load())
outputs = {g: {"dictionary": dictionary.translate([r["zh"] for r in rs])} for g, rs in groups.items()}
steps = {}
for name in ["base", *[n for n in args.levers if n != "base"]]:
    folder = run(name)
    translate = TranslationPipeline(folder / "model")
    if LEVERS[name].get("average"):
        kept = sorted((folder / "snapshots").glob("step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
        state = average_snapshots(kept[-LEVERS[name]["average"]:])
        translate.model.load_state_dict(model_weights(state))
    steps[name] = json.loads((folder / "results.json").read_text())["max_steps"]
    cached = folder / f"outputs-{name.replace(' ', '-')}-{args.limit}.json"  # a rerun scores without translating again
    done = json.loads(cached.read_text(encoding="utf-8")) if cached.is_file() else {}
    for g, rs in groups.items():
        if g not in done:
            done[g] = [o["translation_text"] for o in translate([r["zh"] for r in rs], num_beams=1)]
            cached.write_text(json.dumps(done, ensure_ascii=False), encoding="utf-8")
        outputs[g][name] = done[g]

table = {}
print(f"\n{args.minutes:g} minutes a run, {args.limit} held-out sentences a group, greedy; p: paired bootstrap against base\n")
print("| lever | steps | " + " | ".join(f"{g} BLEU / chrF2 (p)" for g in GROUPS) + " |")
print("|---|---:|" + "---|" * len(GROUPS))
for g, rs in groups.items():
    table[g] = compare([r["en"] for r in rs], {"base": outputs[g]["base"], **{k: v for k, v in outputs[g].items() if k != "base"}})
for name in ["dictionary", *steps]:
    cells = []
    for g in GROUPS:
        s = table[g][name]
        p = "" if name == "base" else f" ({s.chrf_p:.3f})"
        cells.append(f"{s.bleu:.2f} / {s.chrf:.2f}{p}")
    print(f"| {name} | {steps.get(name, '-')} | " + " | ".join(cells) + " |")
(out / "levers.json").write_text(json.dumps(
    {"minutes": args.minutes, "limit": args.limit, "steps": steps,
     "scores": {g: {n: {"bleu": s.bleu, "chrf": s.chrf, "bleu_p": s.bleu_p, "chrf_p": s.chrf_p} for n, s in t.items()}
                for g, t in table.items()}, "outputs": outputs}, indent=1, ensure_ascii=False))
print(f"\nwrote {out / 'levers.json'}")
