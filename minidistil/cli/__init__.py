"""`python -m minidistil <command>` (or the `minidistil` console script): the only place that parses arguments.

    python -m minidistil prepare-data --out runs/corpus                  # the registry corpora, teacher vocab
    python -m minidistil adapt-teacher --out runs/teacher                 # MiniLM + MLM, ~20 min on 2 cores
    python -m minidistil distill --teacher runs/teacher/model --data runs/corpus --out runs/student
    python -m minidistil finetune --task sentiment --model runs/student/model --out runs/sentiment
    python -m minidistil evaluate --task sentiment --model runs/sentiment/model
    python -m minidistil predict --model runs/sentiment/model "a gem of a film"
    python -m minidistil quantize --model runs/sentiment/model --out runs/sentiment/int8
    python -m minidistil export-onnx --model runs/sentiment/model --out runs/sentiment/model.onnx
    python -m minidistil pretrain --data runs/corpus --out runs/tiny --dim 128 --n-layers 2
    python -m minidistil cache [list | verify | remove NAME]              # the data cache and its builds
    python -m minidistil train-translator                                 # Chinese -> English, built once into the cache
    python -m minidistil translate "打开文件"                               # Chinese in, English out
    torchrun --nproc-per-node 2 -m minidistil distill ...                 # the same, on 2 processes

Every training command writes OUT/model (the final model with its tokenizer), and beside it
checkpoint.pt, metrics.jsonl and loss.png (the layout of `minidistil.recipes.recipe`).

Every command takes its settings as flags or from `--config settings.json`, a JSON object whose keys
are the flag names with underscores (`{"max_steps": 200, "alpha_ce": 5.0}`); flags given on the
command line win over the file. The flags are built from the settings dataclasses
(`minidistil.cli.flags`); the commands live in `pretraining.py`, `finetuning.py`, `deploy.py`, `cache.py` and `translation.py`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from minidistil.utils import interrupts, textio
from minidistil.cli import cache, deploy, finetuning, pretraining, translation
from minidistil.cli.output import end_progress_bars
from minidistil.utils.cache import SourceError
from minidistil.training.train import TrainingInterrupted

# Each entry adds its commands to the parser.
COMMAND_GROUPS = [pretraining.add_commands, finetuning.add_commands, deploy.add_commands, cache.add_commands,
                  translation.add_commands]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minidistil", description="DistilBERT from scratch: data, "
                                     "pretraining, distillation and fine-tuning.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="command")
    for add_commands in COMMAND_GROUPS:
        add_commands(subparsers)
    for sub in subparsers.choices.values():
        sub.set_defaults(subparser=sub)
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):
        sub = args.subparser
        settings = read_config_file(args.config)
        known = {a.dest for a in sub._actions} - {"help", "config", "func", "subparser"}
        unknown = sorted(set(settings) - known)
        if unknown:
            sub.error(f"{args.config} has unknown setting(s) {unknown}; known: {sorted(known)}")
        sub.set_defaults(**settings)  # flags on the command line still win
        for action in sub._actions:
            if action.dest in settings:
                action.required = False
        args = parser.parse_args(argv)
    return args


def read_config_file(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"config file {path} does not exist")
    try:
        settings = json.loads(textio.read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{path} must hold a JSON object of settings, like {{\"max_steps\": 200}}")
    return {k.replace("-", "_"): v for k, v in settings.items()}


def main(argv=None) -> int:
    """Run one command. Every error a user can act on (a wrong input, a file problem, a source that
    cannot be fetched or fails its pin, a damaged checkpoint or cache entry, a full disk, a build
    locked by another process) ends with one line on stderr and exit code 2; Ctrl-C with one line
    that says where a rerun resumes, and exit code 130."""
    with interrupts.handled():  # a second Ctrl-C while the first unwinds is ignored (minidistil.utils.interrupts)
        try:
            args = parse_args(argv)
            interrupts.point("main")
            args.func(args)
        except (ValueError, OSError, SourceError) as e:  # CheckpointError is a ValueError, BuildError a SourceError
            end_progress_bars()
            print(f"minidistil: error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:  # TrainingInterrupted says the step; elsewhere there is nothing to resume
            interrupts.point("report")
            end_progress_bars()
            print(f"minidistil: {e if isinstance(e, TrainingInterrupted) else 'interrupted'}", file=sys.stderr)
            return interrupts.INTERRUPTED
    return 0
