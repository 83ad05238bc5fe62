"""The translation commands: train-translator (one variant, or the cached default) and translate."""
from __future__ import annotations

import sys

from minidistil.cli.flags import add_dataclass_flags, dataclass_from_args
from minidistil.cli.output import table


def add_commands(subparsers) -> None:
    from minidistil.recipes.translator import TranslatorSettings
    p = subparsers.add_parser("train-translator", help="train a Chinese -> English translator",
                              description="Train one variant (random, decoder-warm, warm, student) on the "
                                          "parallel pairs. Without --out, builds the default translator once "
                                          "per machine into the cache (minidistil.recipes.pretrained.translator_dir).")
    p.add_argument("--out", help="the run's folder (model/, checkpoint.pt, metrics.jsonl, results.json); "
                                 "run again to resume. Default: the cache")
    p.add_argument("--teacher", help="student: the teacher translator folder (default: the cached warm one)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--config", help="settings as JSON (flag names with underscores)")
    p.add_argument("--preset", choices=["cpu", "gpu"], default="cpu",
                   help="gpu: longer training, bigger batches, bf16, and the GPU preset's Chinese encoder "
                        "(minidistil.recipes.translator.PRESETS); flags given beside it override it (default: cpu)")
    add_dataclass_flags(p, TranslatorSettings)
    p.set_defaults(func=run_train_translator)

    p = subparsers.add_parser("translate", help="translate Chinese text to English",
                              description="Texts as arguments, or one per line on stdin.")
    p.add_argument("texts", nargs="*", help="texts to translate (default: lines of stdin)")
    p.add_argument("--model", help="a translator folder (default: the cached default translator)")
    p.add_argument("--num-beams", type=int, help="beams of the beam search (1: greedy; at most 256, and as many as "
                                                 "the free memory holds: minidistil.nn.limits; default: the "
                                                 "translator's generation_config.json)")
    p.add_argument("--max-length", type=int, help="tokens written, the start token included "
                                                  "(default: the translator's generation_config.json)")
    p.add_argument("--length-penalty", type=float, help="beams: a finished translation scores "
                                                        "sum(log p) / length ** this (default: generation_config.json)")
    p.add_argument("--batch-size", type=int, default=8, help="texts per batch")
    p.add_argument("--scores", action="store_true",
                   help="print each translation's mean token log-probability before it (near 0: sure; below "
                        "about -1: the model was guessing, distrust it)")
    p.add_argument("--fallback-below", type=float, metavar="SCORE",
                   help="write the word-by-word dictionary's English instead of a translation scoring below this "
                        "mean token log-probability (say -1.5), marked [dictionary] with --scores")
    p.add_argument("--attention-png", help="draw the cross-attention of the first text (source characters x "
                                           "English words) into this PNG")
    p.add_argument("--encoding", help="the encoding of your text files or stdin when it is not UTF-8 (gbk, big5, latin-1...)")
    p.set_defaults(func=run_translate)


def run_train_translator(args) -> None:
    from minidistil.cli.flags import apply_preset, given_flags
    from minidistil.recipes.pretrained import translator_dir, translator_folders
    from minidistil.recipes.translator import PRESETS, TranslatorSettings, train_translator
    # The preset carries its Chinese encoder (`settings.encoder`), which no flag sets.
    settings = apply_preset(dataclass_from_args(TranslatorSettings, args), PRESETS[args.preset], given_flags(args))
    if args.out is None:
        print(table({"translator": translator_dir(settings, device=args.device)}))
        return
    folders = {"teacher_folder": args.teacher} if args.teacher else translator_folders(settings, device=args.device)
    report = train_translator(settings, args.out, **folders, device=args.device)
    print(table({"model": f"{args.out}/model", "steps": report["max_steps"],
                 "training (s)": report["train_seconds"], "validation BLEU": report.get("bleu", "-"),
                 "validation chrF2": report.get("chrf", "-"),
                 "sentences/s": report.get("sentences_per_second", "-")}))


def run_translate(args) -> None:
    from minidistil.apps.translation import TranslationPipeline
    from minidistil.recipes.pretrained import translator_dir
    from minidistil.utils import textio
    texts = textio.arguments(args.texts, args.encoding) if args.texts else textio.stdin_lines(args.encoding)
    translate = TranslationPipeline(args.model or translator_dir(), batch_size=args.batch_size)
    for out in translate(texts, num_beams=args.num_beams, max_length=args.max_length,
                         length_penalty=args.length_penalty, attention_png=args.attention_png,
                         return_scores=args.scores, fallback_below=args.fallback_below):
        mark = " [dictionary]" if "fallback" in out else ""
        print(f"{out['score']:.2f}{mark}\t{out['translation_text']}" if args.scores else out["translation_text"])
    if args.attention_png and texts:
        print(f"cross-attention of the first text: {args.attention_png}", file=sys.stderr)
