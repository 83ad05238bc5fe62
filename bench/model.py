"""Forward-pass throughput: minidistil vs transformers on the same weights, in one process.

    python bench/model.py                      # CPU, fp32 and bf16, 8x128 and a ragged batch
    python bench/model.py --device cuda --repeats 20
    python bench/model.py --device cuda --dtypes bf16 --compile     # both models through torch.compile

The weights are all-MiniLM-L6-v2 (6 layers, dim 384) converted to DistilBERT and loaded by both
libraries. Each row times the two models alternately (ours, theirs, ours, ...) so that load from
other processes hits both alike, in `--rounds` rounds of `--repeats` pairs. Compared: our fast path
vs transformers' sdpa attention, our math path vs transformers' eager attention. tokens/s counts
real tokens, at a model's median run over all rounds. The ratio is the median of the rounds'
ratios (a round's ratio: the median over its adjacent pairs), with each round's in brackets to
show the spread.
The ragged batch is real Rotten Tomatoes snippets tokenized with transformers' BertTokenizer.
Each row also reports our model's achieved TFLOP/s in model FLOPs (minidistil/utils/flops.py: the
matrix products its real tokens need) and, where the device's peak is known (a CUDA device in
minidistil.utils.flops.PEAK_BF16_TFLOPS, bf16 rows) or given with --peak-tflops, the MFU.
"""
from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass

import torch
import transformers

from minidistil import DistilBertModel
from minidistil.data import sources
from minidistil.cli.flags import parse_settings
from minidistil.utils.flops import forward_flops, peak_tflops

from common import cpu_name, median_and_rounds, timed  # bench/common.py

@dataclass
class Settings:
    device: str = "cpu"           # cpu or cuda
    repeats: int = 5              # timed runs per model in a round
    rounds: int = 3               # rounds per row; the ratio is their median, each round shown
    ragged: int = 32              # sentences in the ragged batch
    dtypes: str = "fp32,bf16"     # comma-separated: fp32, bf16
    threads: int = 0              # torch threads on CPU (0: torch's default)
    compile: bool = False         # run both models through torch.compile
    peak_tflops: float | None = None  # the device's peak for the dtype run, for the MFU column


def batches(device, n_ragged):
    ids = torch.randint(1000, 30000, (8, 128), generator=torch.Generator().manual_seed(0))
    fixed = (ids, torch.ones_like(ids))
    texts, _ = sources.rotten_tomatoes()
    tokenizer = transformers.BertTokenizer(str(sources.vocab_file()))
    enc = tokenizer(texts[:n_ragged], padding=True, truncation=True, max_length=128, return_tensors="pt")
    ragged = (enc["input_ids"], enc["attention_mask"])
    real = ragged[1].float().mean().item()
    return {"8x128": fixed, f"ragged {n_ragged}x{ragged[0].shape[1]} ({real:.0%} real)": ragged}, device


def paired_rounds(run_ours, run_theirs, sync, repeats: int, rounds: int):
    """Both models' run times over `rounds` rounds of `repeats` alternating runs, and each round's
    ratio time(theirs) / time(ours): > 1 means ours is faster. A round's ratio is the median over
    its adjacent (ours, theirs) pairs: a pair shares the machine's load, so this is steadier than
    a ratio of two medians."""
    t_ours, t_theirs, ratios = [], [], []
    for _ in range(rounds):
        a, b = [], []
        for _ in range(repeats):  # alternate, one run at a time
            a.append(timed(run_ours, sync)[0])
            b.append(timed(run_theirs, sync)[0])
        ratios.append(statistics.median(y / x for x, y in zip(a, b)))
        t_ours += a
        t_theirs += b
    return t_ours, t_theirs, ratios


def main():
    args = parse_settings(Settings, __doc__)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA device")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    folder = tempfile.mkdtemp()
    DistilBertModel.from_pretrained(sources.teacher_dir()).save_pretrained(folder)
    inputs, _ = batches(device, args.ragged)
    rows = []
    for dname in args.dtypes.split(","):
        dtype = dtypes[dname]
        for impl, attn in (("fast", "sdpa"), ("math", "eager")):
            ours = DistilBertModel.from_pretrained(folder, impl=impl).to(device, dtype).eval()
            theirs = transformers.DistilBertModel.from_pretrained(folder, attn_implementation=attn,
                                                                  dtype=dtype).to(device).eval()
            if args.compile:  # both alike; the warm-up call below pays the compilation
                ours, theirs = torch.compile(ours), torch.compile(theirs)
            peak = args.peak_tflops or (peak_tflops(torch.cuda.get_device_name(device))
                                        if device.type == "cuda" and dname == "bf16" else None)
            for bname, (ids, mask) in inputs.items():
                ids, mask = ids.to(device), mask.to(device)
                tokens = int(mask.sum())
                flops = forward_flops(ours.config, mask.sum(1).tolist())
                run_ours = lambda: ours(ids, mask)
                run_theirs = lambda: theirs(input_ids=ids, attention_mask=mask)
                with torch.inference_mode():
                    run_ours(), run_theirs()  # warm-up
                    t_ours, t_theirs, ratios = paired_rounds(run_ours, run_theirs, sync, args.repeats, args.rounds)
                a, b = tokens / statistics.median(t_ours), tokens / statistics.median(t_theirs)
                ratio = median_and_rounds(ratios)
                tflops = flops / statistics.median(t_ours) / 1e12
                mfu = f"{100 * tflops / peak:.1f}%" if peak else "n/a"
                rows.append((dname, bname, f"minidistil {impl}", f"transformers {attn}", a, b, ratio, tflops, mfu))
                print(f"{dname} {bname} {impl}: {a:,.0f} vs {b:,.0f} tokens/s ({ratio})", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"\n{name}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds of {args.repeats} pairs"
          f"{', torch.compile' if args.compile else ''}\n")
    print("| dtype | batch | ours | reference | ours tokens/s | reference tokens/s | ratio: median (rounds) "
          "| ours TFLOP/s | ours MFU |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    for d, bname, o, r, a, b, ratio, tflops, mfu in rows:
        print(f"| {d} | {bname} | {o} | {r} | {a:,.0f} | {b:,.0f} | {ratio} | {tflops:.3f} | {mfu} |")


if __name__ == "__main__":
    main()
