"""Tokenizer speed: minidistil's pure-Python WordPiece vs Hugging Face's, on real text, same ids.

    python bench/tokenizer.py            # all the real corpora (~20 MB of text, several minutes)
    python bench/tokenizer.py --mb 3     # a quicker look on 3 MB sampled across the corpora

Compared, single-threaded (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false):
  * `tokenizers` (Rust), the engine of transformers.BertTokenizer, called one text at a time and on
    the whole batch; without and with offsets;
  * transformers.BertTokenizerLegacy, the pure-Python reference (on a slice of the text: it is slow).
Each row runs both sides `--rounds` times, alternating (minidistil, reference, minidistil, ...) so
that load from other processes hits both alike. MB/s is a side's median run; the ratio is the
median of the rounds' ratios, with each round's in brackets to show the spread. Every run asserts
that the ids are identical to the reference's (and the offsets, for the offsets row). Prints the
CPU's name and a markdown table.
"""
import os
from dataclasses import dataclass
from typing import Callable

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import statistics  # noqa: E402

from transformers import BertTokenizer, BertTokenizerLegacy  # noqa: E402

from minidistil import WordPieceTokenizer  # noqa: E402
from minidistil.data import sources
from minidistil.cli.flags import parse_settings  # noqa: E402

from common import cpu_name, median_and_rounds, timed  # noqa: E402  (bench/common.py)


@dataclass
class Settings:
    mb: float | None = None       # use about this many MB of text; None: all of it
    legacy_share: float = 0.05    # fraction of the texts for the (slow) legacy run
    rounds: int = 3               # timed runs per side and row; the ratio is their median, each round shown


@dataclass
class Row:
    name: str                     # what minidistil runs
    ours: Callable                # runs it, returning ids (and offsets)
    reference: str                # what it is compared with
    theirs: Callable              # runs that, returning what `ours` must return
    texts: list[str]              # the texts both run on, for MB/s


def load_texts(mb: float | None) -> list[str]:
    texts = (sources.bbc_news()[0] + sources.rotten_tomatoes()[0] + sources.tweets()[0]
             + sources.political_speeches()[0] + sources.presidential_debates() + sources.guardian_headlines()
             + sources.chinese_novels() + [sources.hamlet()])
    if mb is not None:  # an even sample across sources, not just the first one
        step = max(1, round(megabytes(texts) / mb))
        texts = texts[::step]
    return texts


def megabytes(texts: list[str]) -> float:
    return sum(len(t.encode()) for t in texts) / 1e6


def make_rows(folder, ours, rust, legacy, texts: list[str], share: list[str]) -> list[Row]:
    """The table's rows; the first starts each run from a fresh tokenizer, an empty word cache."""
    plain = {"add_special_tokens": False}
    rust_batch = lambda: [e.ids for e in rust.encode_batch_fast(texts, **plain)]

    def ours_with_offsets():  # in the reference's shape: (ids, offsets) per text
        enc = ours(texts, return_offsets_mapping=True, **plain)
        return list(zip(enc["input_ids"], enc["offset_mapping"]))

    return [
        Row("minidistil, batch, ids, cold word cache",
            lambda: WordPieceTokenizer.from_pretrained(folder)(texts, **plain)["input_ids"],
            "tokenizers encode_batch_fast", rust_batch, texts),
        Row("minidistil, batch, ids", lambda: ours(texts, **plain)["input_ids"],
            "tokenizers encode_batch_fast", rust_batch, texts),
        Row("minidistil, one text at a time", lambda: [ours.encode(t, **plain) for t in texts],
            "tokenizers encode, one at a time", lambda: [rust.encode(t, **plain).ids for t in texts], texts),
        Row("minidistil, batch, ids + offsets", ours_with_offsets, "tokenizers encode_batch (offsets)",
            lambda: [(e.ids, e.offsets) for e in rust.encode_batch(texts, **plain)], texts),
        Row("minidistil, one at a time (legacy slice)", lambda: [ours.encode(t, **plain) for t in share],
            "BertTokenizerLegacy", lambda: [legacy.encode(t, **plain) for t in share], share),
    ]


def measure(row: Row, rounds: int) -> tuple:
    """Time the row's two sides `rounds` times, alternating (ours, theirs, ours, ...) so that load
    from other processes hits both alike, and check every run's output against the reference's.
    Returns each side's median MB/s and the ratio (> 1: minidistil is faster) with its rounds."""
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        seconds, got = timed(row.ours)
        t_ours.append(seconds)
        seconds, want = timed(row.theirs)
        t_theirs.append(seconds)
        assert got == want, f"{row.name}: the output differs from {row.reference}'s"
    size = megabytes(row.texts)
    ratios = [theirs / ours for ours, theirs in zip(t_ours, t_theirs)]
    return (statistics.median(size / t for t in t_ours), statistics.median(size / t for t in t_theirs),
            median_and_rounds(ratios))


def main():
    args = parse_settings(Settings, __doc__)

    folder = sources.teacher_dir()
    ours = WordPieceTokenizer.from_pretrained(folder)
    hf = BertTokenizer.from_pretrained(str(folder))
    rust = hf._tokenizer  # the tokenizers.Tokenizer itself, no transformers overhead
    rust.no_truncation()  # tokenizer.json in the folder turns both on; we want raw ids
    rust.no_padding()
    legacy = BertTokenizerLegacy.from_pretrained(str(folder))
    texts = load_texts(args.mb)
    share = texts[:: max(1, round(1 / args.legacy_share))]
    print(f"{cpu_name()}, one thread; {len(texts):,} texts, {megabytes(texts):.2f} MB; {args.rounds} rounds per row")

    cold, *warm = make_rows(folder, ours, rust, legacy, texts, share)
    ours(texts[:50], add_special_tokens=False)  # build the character tables outside the timing
    results = [(cold, measure(cold, args.rounds))]
    ours(texts, add_special_tokens=False)  # fill the word cache: the other rows time a warm tokenizer
    results += [(row, measure(row, args.rounds)) for row in warm]

    print()
    print("| minidistil run | MB/s | compared with | its MB/s | ratio: median (rounds) |")
    print("|---|---:|---|---:|---:|")
    for row, (ours_mbs, other_mbs, ratio) in results:
        print(f"| {row.name} | {ours_mbs:.2f} | {row.reference} | {other_mbs:.2f} | {ratio} |")
    print(f"\nids identical on all {len(texts):,} texts (and offsets with Rust; legacy on {len(share):,} texts)")


if __name__ == "__main__":
    main()
