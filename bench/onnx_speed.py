"""onnxruntime on the exported graph vs the PyTorch fast path, same weights and inputs, CPU.

    python bench/onnx_speed.py                        # all-MiniLM-L6-v2, 1 thread, 3 rounds
    python bench/onnx_speed.py --threads 2 --model runs/sentiment/model

(Not named onnx.py: the script's folder comes first on sys.path, and `import onnx` would find it.)
The model is exported with minidistil.apps.onnx_export (the math path, every graph optimization on)
and run by onnxruntime with `--threads` intra-op threads; PyTorch runs the fast path with as many
threads. Both alternate run by run (PyTorch, onnxruntime, ...) so that load from other processes
hits both alike; a round's ratio is the median over adjacent pairs, and `--rounds` rounds show the
spread. onnxruntime's own int8 (onnxruntime.quantization.quantize_dynamic, per-channel) is timed
the same way, beside minidistil's int8 (minidistil.apps.quantize). Batches: 8 x 128 random ids, and 32
Rotten Tomatoes snippets padded to their longest.
"""
from __future__ import annotations

import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from minidistil import DistilBertModel, WordPieceTokenizer
from minidistil.data import sources
from minidistil.cli.flags import parse_settings
from minidistil.apps.convert import model_class
from minidistil.apps.onnx_export import export_onnx, inference_session, require
from minidistil.apps.quantize import quantize

from common import cpu_name, median_and_rounds, speed_batches  # bench/common.py


@dataclass
class Settings:
    model: str = ""               # a model folder; empty: all-MiniLM-L6-v2
    threads: int = 1              # torch threads and onnxruntime intra-op threads
    repeats: int = 5              # timed runs per side in a round
    rounds: int = 3               # rounds per row; their spread is reported


def ratio_round(torch_model, other, ids, mask, repeats: int) -> float:
    """Median over adjacent pairs of time(PyTorch fp32) / time(other): > 1 means `other` is faster."""
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    run_other = (lambda: other.run(None, feed)) if hasattr(other, "run") else (lambda: other(ids, mask))
    pairs = []
    with torch.inference_mode():
        torch_model(ids, mask), run_other()  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch_model(ids, mask)
            t1 = time.perf_counter()
            run_other()
            pairs.append((t1 - t0) / (time.perf_counter() - t1))
    return statistics.median(pairs)


def main():
    args = parse_settings(Settings, __doc__)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp())
    model = model_class(args.model)[0].from_pretrained(args.model) if args.model else (
        DistilBertModel.from_pretrained(sources.teacher_dir()))
    path = export_onnx(model, work / "model.onnx")
    quantization = require("onnxruntime.quantization")
    int8_path = work / "model-int8.onnx"
    logging.getLogger().setLevel(logging.ERROR)  # its quantizer logs advice on static quantization
    quantization.quantize_dynamic(str(path), str(int8_path), per_channel=True,
                                  weight_type=quantization.QuantType.QInt8)
    sides = {"onnxruntime fp32": inference_session(path, args.threads),
             "onnxruntime int8 (its quantize_dynamic)": inference_session(int8_path, args.threads),
             "minidistil int8 (PyTorch)": quantize(model)}
    print(f"{cpu_name()}, torch {torch.__version__}, onnxruntime {require('onnxruntime').__version__}, "
          f"{args.threads} thread(s)\n")
    print("| batch | vs PyTorch fp32 fast path | median (rounds) |\n|---|---|---|")
    for bname, (ids, mask) in speed_batches(WordPieceTokenizer.from_pretrained(sources.vocab_file().parent)).items():
        for name, side in sides.items():
            ratios = [ratio_round(model, side, ids, mask, args.repeats) for _ in range(args.rounds)]
            print(f"| {bname} | {name} | {median_and_rounds(ratios)} |", flush=True)


if __name__ == "__main__":
    main()
