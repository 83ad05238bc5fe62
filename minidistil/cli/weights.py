"""The converter's command line (`python weights_convert.py ...`); the logic lives in minidistil/apps/convert.py.

    python weights_convert.py bert-to-distilbert TEACHER_DIR out/teacher        # BERT folder -> DistilBERT folder
    python weights_convert.py extract-student out/teacher out/student --layers 0,2,5
    python weights_convert.py bin-to-safetensors FOLDER                          # beside pytorch_model.bin
    python weights_convert.py check out/student --tol 1e-4                      # PASS / FAIL vs transformers
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.apps.convert import bin_to_safetensors, check, model_class
from minidistil.training.distill import STUDENT_LAYERS, extract_student
from minidistil.tokenizer import copy_tokenizer_files


def layer_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--layers takes comma-separated integers such as 0,2,5, got {text!r}")


def save_with_tokenizer(model, src, dst) -> None:
    model.save_pretrained(dst)
    copy_tokenizer_files(src, dst)
    if not (Path(dst) / "vocab.txt").is_file():
        print(f"warning: {src} has no vocab.txt, so {dst} has no tokenizer; copy the tokenizer files "
              f"into it before using pipeline()", file=sys.stderr)


def bert_to_distilbert(args):
    steps = tqdm(total=2, desc="bert-to-distilbert", unit="step")
    cls = DistilBertForMaskedLM if args.mlm_head else model_class(args.src)[0]
    model = cls.from_pretrained(args.src, new_head=args.mlm_head)
    steps.update()
    save_with_tokenizer(model, args.src, args.dst)
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
    save_with_tokenizer(student, args.src, args.dst)
    steps.update()
    steps.close()
    print(f"wrote a {student.config.n_layers}-layer student to {args.dst}")


def to_safetensors(args):
    print(f"wrote {bin_to_safetensors(args.folder)}")


def run_check(args):
    diffs = check(args.folder, impl=args.impl)
    print(f"| output | max abs diff vs transformers ({args.impl} path, real tokens) | output scale | "
          f"diff / scale | within {args.tol:.0e} |\n|---|---|---|---|---|")
    for name, d in diffs.items():
        print(f"| {name} | {d.diff:.2e} | {d.scale:.1f} | {d.diff / d.scale:.2e} | {'yes' if d.passes(args.tol) else 'NO'} |")
    failed = [name for name, d in diffs.items() if not d.passes(args.tol)]
    if failed:
        print(f"FAIL: {len(failed)} of {len(diffs)} outputs differ from transformers by more than {args.tol:.0e} "
              f"of their scale: {', '.join(failed)}")
        return 1
    print(f"PASS: all {len(diffs)} outputs within {args.tol:.0e} of transformers, relative to each output's "
          f"scale max(1, max |output|)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("bert-to-distilbert", help="convert a BERT folder (model_type bert) to DistilBERT")
    s.add_argument("src", help="a BERT model folder (config.json, weights, tokenizer files)")
    s.add_argument("dst", help="the DistilBERT folder to write (weights, config and tokenizer files)")
    s.add_argument("--mlm-head", action="store_true",
                   help="give a BERT without an MLM head a freshly initialised one (DistilBertForMaskedLM)")
    s.set_defaults(run=bert_to_distilbert)
    s = sub.add_parser("extract-student", help="copy a teacher keeping some of its layers")
    s.add_argument("src", help="the teacher's model folder")
    s.add_argument("dst", help="the student folder to write (weights, config and tokenizer files)")
    s.add_argument("--layers", type=layer_list, default=None,
                   help=f"teacher layers to keep, e.g. 0,2,5; defaults: {STUDENT_LAYERS}")
    s.set_defaults(run=extract)
    s = sub.add_parser("bin-to-safetensors", help="write model.safetensors from pytorch_model.bin")
    s.add_argument("folder", help="a model folder holding pytorch_model.bin")
    s.set_defaults(run=to_safetensors)
    s = sub.add_parser("check", help="compare a folder's outputs in minidistil and transformers; exit 1 on FAIL")
    s.add_argument("folder", help="a model folder (DistilBERT or BERT)")
    s.add_argument("--impl", choices=("math", "fast"), default="math", help="which of our paths to run")
    s.add_argument("--tol", type=float, default=1e-4,
                   help="largest difference allowed, relative to the output's scale max(1, max |output|) "
                        "(default 1e-4; fp32 parity is about 1e-6)")
    s.set_defaults(run=run_check)
    args = p.parse_args(argv)
    try:
        return args.run(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

