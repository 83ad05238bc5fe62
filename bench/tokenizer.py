"""Tokenizer speed: minidistil's pure-Python WordPiece vs Hugging Face's, on real text, same ids.

    python bench/tokenizer.py            # all the real corpora (~20 MB of text, a few minutes)
    python bench/tokenizer.py --mb 3     # a quicker look on the first 3 MB

Compared, single-threaded (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false):
  * `tokenizers` (Rust), the engine of transformers.BertTokenizer, called one text at a time and on
    the whole batch; without and with offsets;
  * transformers.BertTokenizerLegacy, the pure-Python reference (on a slice of the text: it is slow).
Every run asserts that the ids are identical to the Rust ones. Prints a markdown table.
"""
import os
from dataclasses import dataclass

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import time  # noqa: E402

from transformers import BertTokenizer, BertTokenizerLegacy  # noqa: E402

from minidistil import WordPieceTokenizer, sources  # noqa: E402
from minidistil.cli.flags import parse_settings  # noqa: E402


@dataclass
class Settings:
    mb: float | None = None       # use about this many MB of text; None: all of it
    legacy_share: float = 0.05    # fraction of the texts for the (slow) legacy run


def load_texts(mb: float | None) -> list[str]:
    texts = (sources.bbc_news()[0] + sources.rotten_tomatoes()[0] + sources.tweets()[0]
             + sources.political_speeches()[0] + sources.presidential_debates() + sources.guardian_headlines()
             + sources.chinese_novels() + [sources.hamlet()])
    if mb is not None:  # an even sample across sources, not just the first one
        step = max(1, round(sum(len(t.encode()) for t in texts) / (mb * 1e6)))
        texts = texts[::step]
    return texts


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


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
    size = sum(len(t.encode()) for t in texts) / 1e6
    print(f"{len(texts):,} texts, {size:.1f} MB")

    rows = []

    def add(name, seconds, mb, ratio_to=None):
        rows.append((name, mb / seconds, ratio_to))

    # Ground truth: Rust, batch, no special tokens.
    t_rust_batch, ref = timed(lambda: [e.ids for e in rust.encode_batch_fast(texts, add_special_tokens=False)])
    t_rust_one, _ = timed(lambda: [rust.encode(t, add_special_tokens=False).ids for t in texts], repeat=1)
    t_rust_off, ref_off = timed(lambda: [(e.ids, e.offsets) for e in rust.encode_batch(texts, add_special_tokens=False)], repeat=1)

    ours(texts[:50], add_special_tokens=False)  # build the character tables outside the timing
    t_cold, got = timed(lambda: WordPieceTokenizer.from_pretrained(folder)(texts, add_special_tokens=False)["input_ids"], repeat=1)
    assert got == ref, "ids differ from tokenizers (cold cache)"
    t_batch, got = timed(lambda: ours(texts, add_special_tokens=False)["input_ids"])
    assert got == ref, "ids differ from tokenizers (batch)"
    t_one, got = timed(lambda: [ours.encode(t, add_special_tokens=False) for t in texts], repeat=1)
    assert got == ref, "ids differ from tokenizers (one at a time)"
    t_off, enc = timed(lambda: ours(texts, add_special_tokens=False, return_offsets_mapping=True), repeat=1)
    assert enc["input_ids"] == ref and enc["offset_mapping"] == [e[1] for e in ref_off], "offsets differ"

    share = texts[:: max(1, round(1 / args.legacy_share))]
    share_mb = sum(len(t.encode()) for t in share) / 1e6
    t_legacy, got_legacy = timed(lambda: [legacy.encode(t, add_special_tokens=False) for t in share], repeat=1)
    ours_share, got = timed(lambda: [ours.encode(t, add_special_tokens=False) for t in share], repeat=1)
    assert got == got_legacy, "ids differ from BertTokenizerLegacy"

    table = [
        ("minidistil, batch, ids", size / t_batch, size / t_rust_batch, "tokenizers encode_batch_fast"),
        ("minidistil, batch, ids, cold word cache", size / t_cold, size / t_rust_batch, "tokenizers encode_batch_fast"),
        ("minidistil, one text at a time", size / t_one, size / t_rust_one, "tokenizers encode, one at a time"),
        ("minidistil, batch, ids + offsets", size / t_off, size / t_rust_off, "tokenizers encode_batch (offsets)"),
        ("minidistil, one at a time (legacy slice)", share_mb / ours_share, share_mb / t_legacy, "BertTokenizerLegacy"),
    ]
    print()
    print("| minidistil run | MB/s | compared with | its MB/s | ratio |")
    print("|---|---:|---|---:|---:|")
    for name, ours_mbs, other_mbs, other in table:
        print(f"| {name} | {ours_mbs:.2f} | {other} | {other_mbs:.2f} | {ours_mbs / other_mbs:.2f}x |")
    print(f"\nids identical on all {len(texts):,} texts (and offsets with Rust; legacy on {len(share):,} texts)")


if __name__ == "__main__":
    main()
