"""Convert and check checkpoints. The logic lives in minidistil/convert.py; this is the command line.

    python weights_convert.py bert-to-distilbert TEACHER_DIR out/teacher        # BERT folder -> DistilBERT folder
    python weights_convert.py extract-student out/teacher out/student --layers 0,2,5
    python weights_convert.py bin-to-safetensors FOLDER                          # beside pytorch_model.bin
    python weights_convert.py check out/student                                  # max |diff| vs transformers

TEACHER_DIR is `python -c "from minidistil import sources; print(sources.teacher_dir())"`.
"""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from minidistil import DistilBertForMaskedLM
from minidistil.convert import STUDENT_LAYERS, bin_to_safetensors, check, extract_student, model_class


def layer_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers takes comma-separated integers such as 0,2,5, got {text!r}")


def bert_to_distilbert(args):
    steps = tqdm(total=2, desc="bert-to-distilbert", unit="step")
    cls = DistilBertForMaskedLM if args.mlm_head else model_class(args.src)[0]
    model = cls.from_pretrained(args.src, new_head=args.mlm_head)
    steps.update()
    model.save_pretrained(args.dst)
    steps.update()
    steps.close()
    print(f"wrote {type(model).__name__} ({model.config.n_layers} layers) to {args.dst}")


def extract(args):
    steps = tqdm(total=3, desc="extract-student", unit="step")
    cls, _ = model_class(args.src)
    teacher = cls.from_pretrained(args.src)
    steps.update()
    student = extract_student(teacher, args.layers)
    steps.update()
    student.save_pretrained(args.dst)
    steps.update()
    steps.close()
    print(f"wrote a {student.config.n_layers}-layer student to {args.dst}")


def to_safetensors(args):
    print(f"wrote {bin_to_safetensors(args.folder)}")


def run_check(args):
    diffs = check(args.folder, impl=args.impl)
    print(f"| output | max abs diff vs transformers ({args.impl} path, real tokens) |\n|---|---|")
    for name, value in diffs.items():
        print(f"| {name} | {value:.2e} |")
    worst = max(diffs.values())
    if worst > args.tol:
        print(f"largest difference {worst:.2e} exceeds --tol {args.tol:.0e}")
        return 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("bert-to-distilbert", help="convert a BERT folder (model_type bert) to DistilBERT")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--mlm-head", action="store_true",
                   help="give a BERT without an MLM head a freshly initialised one (DistilBertForMaskedLM)")
    s.set_defaults(run=bert_to_distilbert)
    s = sub.add_parser("extract-student", help="copy a teacher keeping some of its layers")
    s.add_argument("src")
    s.add_argument("dst")
    s.add_argument("--layers", type=layer_list, default=None,
                   help=f"teacher layers to keep, e.g. 0,2,5; defaults: {STUDENT_LAYERS}")
    s.set_defaults(run=extract)
    s = sub.add_parser("bin-to-safetensors", help="write model.safetensors from pytorch_model.bin")
    s.add_argument("folder")
    s.set_defaults(run=to_safetensors)
    s = sub.add_parser("check", help="compare a folder's outputs in minidistil and transformers")
    s.add_argument("folder")
    s.add_argument("--impl", choices=("math", "fast"), default="math")
    s.add_argument("--tol", type=float, default=1e-4, help="exit 1 when a difference is larger")
    s.set_defaults(run=run_check)
    args = p.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
