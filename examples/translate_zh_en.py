"""Chinese -> English: train one variant of the translator, then print held-out translations beside
the reference and the word-by-word dictionary's (CC-CEDICT), with BLEU and chrF when sacrebleu is installed.

    python examples/translate_zh_en.py --variant warm --out runs/tr-warm                # 2,700 steps, the default
    python examples/translate_zh_en.py --variant random --out runs/tr-random
    python examples/translate_zh_en.py --variant decoder-warm --out runs/tr-decoder-warm
    python examples/translate_zh_en.py --variant student --teacher runs/tr-warm/model --out runs/tr-student
    python examples/translate_zh_en.py --model runs/translate-warm/model          # translate only
    python examples/translate_zh_en.py                                           # the cached default (warm)

Each training run writes `--out`: model/ (a translator folder), checkpoint.pt (run the same command
again to resume), metrics.jsonl, loss.png and results.json (validation BLEU/chrF, sentences per
second). `--minutes` picks the step count that fits, timed once on this machine (plan.json); or give
`--max-steps`. Variants, levers and the distilled student: see `minidistil/training/translate.py`. The pairs
are `minidistil.data.parallel.pairs` (software documentation: LibreOffice help and UI, GNU tools):
the model knows that register, not general Chinese.
"""
import argparse
import time

from minidistil.cli.flags import add_dataclass_flags, dataclass_from_args
from minidistil.apps.translation import TranslationPipeline
from minidistil.recipes.translator import TranslatorSettings, train_translator
from minidistil.recipes.pretrained import translator_dir, translator_folders

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--out", help="train into this folder (default: the cached default translator)")
parser.add_argument("--model", help="translate with this translator folder; no training")
parser.add_argument("--teacher", help="student: the teacher translator folder (default: the cached warm one)")
parser.add_argument("--show", type=int, default=8, help="held-out sentences printed")
parser.add_argument("--score", type=int, default=500, help="test sentences scored (0: all)")
add_dataclass_flags(parser, TranslatorSettings)
args = parser.parse_args()
settings = dataclass_from_args(TranslatorSettings, args)

if args.model:
    folder = args.model
elif args.out:
    start = time.perf_counter()
    folders = {"teacher_folder": args.teacher} if args.teacher else translator_folders(settings)
    report = train_translator(settings, args.out, **folders)
    print(f"trained {settings.variant} for {report['max_steps']} steps in {time.perf_counter() - start:.0f} s; "
          f"validation BLEU {report.get('bleu', '-')}, chrF {report.get('chrf', '-')}")
    folder = f"{args.out}/model"
else:
    folder = translator_dir(settings)

from minidistil.data import cedict, parallel  # noqa: E402  (after training: the pairs are built by then)

test = parallel.pairs("test")
test = test[:args.score] if args.score else test
translate = TranslationPipeline(folder)
start = time.perf_counter()
ours = [o["translation_text"] for o in translate([r["zh"] for r in test], num_beams=settings.num_beams,
                                                  batch_size=16)]
seconds = time.perf_counter() - start
dictionary = cedict.WordByWord(cedict.load()).translate([r["zh"] for r in test])

for r, d, o in list(zip(test, dictionary, ours))[:args.show]:
    print(f"\n[{r['source']}] {r['zh']}\n  reference:  {r['en']}\n  dictionary: {d}\n  model:      {o}")
print(f"\n{len(test)} test sentences in {seconds:.1f} s ({len(test) / seconds:.1f} sentences/s)")
try:
    from minidistil.utils.bleu import compare
    scores = compare([r["en"] for r in test], {"dictionary": dictionary, settings.variant: ours})
    print(f"\n{'system':<14}{'BLEU':>14}{'chrF2':>16}")
    for name, s in scores.items():
        print(f"{name:<14}{s.bleu:8.2f} ± {s.bleu_ci:4.2f}{s.chrf:10.2f} ± {s.chrf_ci:4.2f}")
    print(scores[settings.variant].bleu_signature)
except ImportError as e:
    print(e)
