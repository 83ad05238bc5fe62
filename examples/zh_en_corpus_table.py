"""The Chinese-English corpus, part 2: build it (once; cached) and print its pairs per source beside
DATA.md's counts, the split sizes, and with `--spot-check N` N random pairs per source to read by eye.

    python examples/zh_en_corpus_table.py --spot-check 20

The table of minidistil/data/PAIRS.md is this script's output.
"""
import argparse
import json
import random
import statistics
from collections import Counter, defaultdict

from minidistil.data import zh_en_corpus

DATA_MD = {"debian-handbook": "2,959", "installation-guide": "1,491", "debian-faq": "855", "maint-guide": "845",
           "debian-edu-doc": "840", "debian-edu-doc-legacy": "1,754", "kicad-doc": "1,958", "harden-doc": "833",
           "gimp-help": "669", "firefox": "10,611", "thunderbird": "6,453 new", "blender-data": "28,493",
           "inkscape": "8,719", "gimp-data": "7,308", "digikam-data": "6,953", "vlc-l10n": "5,088", "git": "4,935",
           "gnucash-common": "4,581", "evolution-common": "4,528", "plasma-workspace-data": "2,378",
           "freeciv-data": "2,299", "kio": "1,069", "okular": "776", "qttranslations": "4,002", "iso-codes": "3,471",
           "django": "604", "sphinx": "794", "cldr": "1,040", "tatoeba": "56,578", "bible": "31,101",
           "libreoffice-help": "14,393 with >= 4 English words", "libreoffice-ui": "7,097 with >= 4 English words",
           "gnu-catalogues": "5,175 with >= 4 English words", "cc-cedict": "122,143 entries"}


def group(source: str) -> str:
    """The earlier corpus' modules (help/scalc, ui/chart, gnu/tar) counted as three groups."""
    for prefix, name in (("help/", "libreoffice-help"), ("ui/", "libreoffice-ui"), ("gnu/", "gnu-catalogues")):
        if source.startswith(prefix):
            return name
    return source


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spot-check", type=int, default=0, help="random pairs to print per source")
    args = parser.parse_args()
    counts = json.loads((zh_en_corpus.build() / "counts.json").read_text(encoding="utf-8"))
    raw, kept = Counter(), Counter()
    for source, n in counts["raw"].items():
        raw[group(source)] += n
    for source, n in counts["clean"].items():
        kept[group(source)] += n
    per_split, records = defaultdict(Counter), defaultdict(list)
    for split in zh_en_corpus.SPLITS:
        for r in zh_en_corpus.pairs(split):
            per_split[group(r["source"])][split] += 1
            records[group(r["source"])].append(r)
    names = [n for n, _, _ in zh_en_corpus.SOURCES if n != "libreoffice+gnu"]
    names = names[:9] + ["libreoffice-help", "libreoffice-ui", "gnu-catalogues"] + names[9:]
    print("| source | kind | raw | kept | DATA.md | zh chars / en words | in train | held out |")
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for name in names:
        rs = records[name]
        zh_chars = statistics.mean(len(r["zh"]) for r in rs)
        en_words = statistics.mean(len(r["en"].split()) for r in rs)
        held = sum(n for split, n in per_split[name].items() if split != "train")
        print(f"| {name} | {rs[0]['kind']} | {raw[name]:,} | {kept[name]:,} | {DATA_MD.get(name, '')} | "
              f"{zh_chars:.0f} / {en_words:.0f} | {per_split[name]['train']:,} | {held:,} |")
    print(f"| **all** | | {sum(raw.values()):,} | {sum(kept.values()):,} | | | {counts['splits']['train']:,} | "
          f"{sum(n for s, n in counts['splits'].items() if s != 'train'):,} |")
    print("\nsplits:", counts["splits"])
    print("held-out pairs dropped as seen in training:", counts["held_out_seen_in_train"])
    for name in names if args.spot_check else []:
        random.seed(35)
        print(f"\n=== {name}")
        for r in random.sample(sorted(records[name], key=lambda r: (r["zh"], r["en"])), min(args.spot_check, len(records[name]))):
            print(f"  {r['zh']}  ||  {r['en']}")


if __name__ == "__main__":
    main()
