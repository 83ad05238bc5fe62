"""int8 vs fp32 on the CPU: accuracy on a task's test split, size on disk, forward speed.

    python bench/quantize.py --model runs/sentiment/model --task sentiment
    python bench/quantize.py                       # no task model: all-MiniLM-L6-v2, size and speed only

The int8 model is `minidistil.apps.quantize` (int8 Linear layers through torch._int_mm, int8 token
table); "int8, float table" keeps the token embedding fp32. Both run the fast path, as does the
fp32 model they are compared with. Speed: the two models alternate run by run (fp32, int8, fp32,
...) so that load from other processes hits both alike; a round's ratio is the median over adjacent
pairs, and `--rounds` rounds show the spread. torch.ao's quantize_dynamic (deprecated in torch 2.13)
is timed the same way as a reference. Batches: 8 x 128 random ids, and 32 Rotten Tomatoes snippets
padded to their longest.
"""
from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from minidistil import DistilBertModel, WordPieceTokenizer
from minidistil.data import sources, tasks
from minidistil.cli.flags import parse_settings
from minidistil.apps.convert import model_class
from minidistil.training.finetune import FinetuneConfig, evaluate
from minidistil.apps.quantize import quantize
from minidistil.tokenizer import copy_tokenizer_files

from common import cpu_name, median_and_rounds, speed_batches  # bench/common.py


@dataclass
class Settings:
    model: str = ""               # a fine-tuned model folder; empty: all-MiniLM-L6-v2 (no accuracy rows)
    task: str = "sentiment"       # the task the model was fine-tuned on, for the accuracy rows
    threads: str = "1,2"          # comma-separated torch thread counts for the speed rows
    repeats: int = 5              # timed runs per model in a round
    rounds: int = 3               # rounds per speed row; their spread is reported
    eval_limit: int = 0           # score only the first N test examples (0: all)
    max_length: int = 64          # tokens per test input, as in examples/finetune_sentiment.py


def size_mb(folder: Path) -> float:
    return (Path(folder) / "model.safetensors").stat().st_size / 1e6


def ratio_round(base, other, ids, mask, repeats: int) -> float:
    """Median over adjacent pairs of time(base) / time(other): > 1 means `other` is faster."""
    times = {0: [], 1: []}
    with torch.inference_mode():
        base(ids, mask), other(ids, mask)  # warm-up
        for _ in range(repeats):
            for k, model in enumerate((base, other)):
                t0 = time.perf_counter()
                model(ids, mask)
                times[k].append(time.perf_counter() - t0)
    return statistics.median(a / b for a, b in zip(times[0], times[1]))


def deprecated_dynamic(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def main():
    args = parse_settings(Settings, __doc__)
    work = Path(tempfile.mkdtemp())
    if args.model:
        float_dir = Path(args.model)
    else:  # the teacher converted to a DistilBERT folder, so that both sides read the same format
        float_dir = work / "float"
        DistilBertModel.from_pretrained(sources.teacher_dir()).save_pretrained(float_dir)
        copy_tokenizer_files(sources.teacher_dir(), float_dir)
    cls, _ = model_class(float_dir)
    int8_dir = quantize(cls.from_pretrained(float_dir)).save_pretrained(work / "int8")
    int8_float_table_dir = quantize(cls.from_pretrained(float_dir), int8_embeddings=False).save_pretrained(
        work / "int8-float-table")
    models = {"fp32": cls.from_pretrained(float_dir), "int8": cls.from_pretrained(int8_dir),
              "int8, float table": cls.from_pretrained(int8_float_table_dir)}

    print(f"{cpu_name()}, torch {torch.__version__}\n")
    print("| model | size (MB) | vs fp32 |\n|---|---:|---:|")
    for name, folder in (("fp32", float_dir), ("int8", int8_dir), ("int8, float table", int8_float_table_dir)):
        print(f"| {name} | {size_mb(folder):.1f} | {size_mb(folder) / size_mb(float_dir):.2f}x |")

    if args.model:
        task = tasks.load(args.task)
        tokenizer = WordPieceTokenizer.from_pretrained(float_dir)
        cfg = FinetuneConfig(max_length=args.max_length, eval_limit=args.eval_limit or None, progress=False)
        torch.set_num_threads(2)
        print(f"\n| {args.task} test ({len(task.test[:cfg.eval_limit])} examples) | accuracy | change (points) |")
        print("|---|---:|---:|")
        base = None
        for name, model in models.items():
            accuracy = 100 * evaluate(model, tokenizer, task, "test", cfg)["accuracy"]
            base = accuracy if base is None else base
            print(f"| {name} | {accuracy:.2f} | {accuracy - base:+.2f} |", flush=True)

    batches = speed_batches(WordPieceTokenizer.from_pretrained(float_dir))
    print("\n| threads | batch | model | speed vs fp32 fast path: median (rounds) |\n|---|---|---|---|")
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        others = {"int8": models["int8"], "int8, float table": models["int8, float table"],
                  "torch.ao quantize_dynamic (deprecated)": deprecated_dynamic(models["fp32"])}
        for bname, (ids, mask) in batches.items():
            for name, model in others.items():
                ratios = [ratio_round(models["fp32"], model, ids, mask, args.repeats) for _ in range(args.rounds)]
                print(f"| {threads} | {bname} | {name} | {median_and_rounds(ratios)} |", flush=True)


if __name__ == "__main__":
    main()
