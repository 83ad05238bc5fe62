"""What more minutes buy: held-out chrF of a translator's snapshots against its training minutes.

A translator build keeps its weights every `keep_every` steps (`snapshots/step-N.pt` in its folder;
the default keeps one every 400 of its 2,400 steps). This scores each snapshot, and the average of
the last `--average` snapshots (checkpoint averaging, one of the levers), on the same held-out
sentences of every group, beside the word-by-word dictionary, and draws chrF against minutes:

    python examples/translation_curve.py \\
        --folder "$(python -c 'from minidistil.recipes import pretrained; print(pretrained.translator_dir().parent)')"

A snapshot taken mid-run is not the model a shorter build would give: the shorter build's learning
rate would have reached zero by then, so the curve's early points understate what a smaller budget
buys (by how much: compare the 1,200-step build, `--also 1200-steps=FOLDER`, with the snapshot at
1,200). Minutes are steps x the build's mean seconds per step (its results.json). Decoding is greedy
(`--num-beams` to change it) so that a point costs about a minute. Needs sacrebleu.
"""
import argparse
import json
from pathlib import Path

import torch

from minidistil.apps.translation import TranslationPipeline
from minidistil.data import cedict, zh_en_corpus
from minidistil.training.train import average_snapshots, model_weights
from minidistil.utils.bleu import compare
from minidistil.utils.plots import plot_series

GROUPS = ["test-prose", "test-ui", "test-current", "test-tatoeba"]
parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--folder", required=True, help="a finished translator build: model/, snapshots/, results.json")
parser.add_argument("--also", nargs="*", default=[], help="NAME=BUILD_FOLDER: other finished builds, one point each")
parser.add_argument("--limit", type=int, default=100, help="sentences per group, spread over the group")
parser.add_argument("--average", type=int, default=3, help="average the last this many snapshots (0: no average)")
parser.add_argument("--num-beams", type=int, default=1)
parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
parser.add_argument("--out", default="runs/translation_curve.json")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)


def minutes_per_step(folder: Path) -> float:
    results = json.loads((folder / "results.json").read_text())
    return results["train_seconds"] / results["max_steps"] / 60


def weights(path: Path) -> dict:
    # A snapshot is the training task's state: the translator's weights sit under "model.".
    return model_weights(torch.load(path, map_location="cpu", weights_only=True) if isinstance(path, Path) else path)


groups = {g: zh_en_corpus.even_sample(zh_en_corpus.pairs(g), args.limit) for g in GROUPS}
dictionary = cedict.WordByWord(cedict.load())
outputs = {g: {"dictionary": dictionary.translate([r["zh"] for r in records])} for g, records in groups.items()}
folder = Path(args.folder)
per_step = minutes_per_step(folder)
snapshots = sorted((folder / "snapshots").glob("step-*.pt"), key=lambda p: int(p.stem.split("-")[1]))
points = [(f"step {int(p.stem.split('-')[1])}", int(p.stem.split("-")[1]) * per_step, p) for p in snapshots]
if args.average and len(snapshots) >= 2:
    last = snapshots[-args.average:]
    points.append((f"average of the last {len(last)}", points[-1][1], average_snapshots(last)))

translate = TranslationPipeline(folder / "model")
rows = []
for name, minutes, path in points + [(n, None, Path(f)) for n, f in (a.split("=", 1) for a in args.also)]:
    if minutes is None:  # another build: its own final weights and its own minutes
        pipe, minutes = TranslationPipeline(path / "model"), json.loads((path / "results.json").read_text())["train_seconds"] / 60
    else:
        translate.model.load_state_dict(weights(path))
        pipe = translate
    for g, records in groups.items():
        outputs[g][name] = [o["translation_text"] for o in pipe([r["zh"] for r in records], num_beams=args.num_beams)]
    rows.append((name, minutes))
    print(f"scored {name} ({minutes:.0f} min)", flush=True)

table, series = {}, {}
for g, records in groups.items():
    scores = compare([r["en"] for r in records], outputs[g])
    table[g] = {name: {"bleu": s.bleu, "bleu_ci": s.bleu_ci, "chrf": s.chrf, "chrf_ci": s.chrf_ci}
                for name, s in scores.items()}
    series[g] = [(minutes, scores[name].chrf, scores[name].chrf - scores[name].chrf_ci,
                  scores[name].chrf + scores[name].chrf_ci) for name, minutes in rows if name.startswith("step")]
    series[f"{g}: dictionary"] = [(m, scores["dictionary"].chrf, scores["dictionary"].chrf, scores["dictionary"].chrf)
                                  for m in (min(m for _, m in rows), max(m for _, m in rows))]

print("\n| model | minutes | " + " | ".join(f"{g} chrF2" for g in GROUPS) + " |")
print("|---|---:|" + "---:|" * len(GROUPS))
for name, minutes in [("dictionary", 0.0)] + rows:
    print(f"| {name} | {minutes:.0f} | " + " | ".join(
        f"{table[g][name]['chrf']:.2f} ± {table[g][name]['chrf_ci']:.2f}" for g in GROUPS) + " |")
out = Path(args.out)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps({"limit": args.limit, "num_beams": args.num_beams, "minutes": dict(rows), "table": table,
                           "outputs": outputs}, indent=1, ensure_ascii=False))
png = plot_series(series, out.with_suffix(".png"), xlabel="training minutes (2 cores)", ylabel="held-out chrF2",
                  title=f"{folder.name}: chrF2 against minutes ({args.limit} sentences a group)", logx=False)
print(f"\nwrote {out}" + (f" and {png}" if png else ""))
