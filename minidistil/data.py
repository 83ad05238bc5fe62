"""Text in, training batches out: user files, corpus preparation, length-grouped batches.

1. `read_documents` streams documents out of a user file: plain text (documents separated by blank
   lines), CSV (one named column) or JSONL (one named field).
2. `prepare_corpus` tokenizes documents into a folder that training memory-maps:
   long documents are cut into model-length chunks, each `[CLS] ... [SEP]`; chunks that are too short
   or mostly `[UNK]` are dropped (the thresholds are the named options of `PrepareOptions`); token
   frequencies are counted (for `mlm_smoothing`). It streams: memory stays flat as the corpus grows.
3. `TokenCorpus` reads that folder back, memory-mapped.
4. `LengthGroupedBatches` draws batches of chunks of similar length, and `collate` pads each batch
   only to its own longest chunk (dynamic padding): fewer pad tokens, the same examples.

    >>> prepare_corpus(sources.corpus(), tokenizer, "runs/corpus", progress=True)
    >>> corpus = TokenCorpus("runs/corpus")
    >>> corpus[0]["input_ids"][:4]
    array([ 101, 2866, 2058, 2000], dtype=uint16)

The folder holds four files, plus the tokenizer's own (`vocab.txt` and its settings, written by its
`save_pretrained`, so that a model trained on the corpus can be saved with the tokenizer that made
its ids). `meta.json` is written last, so a folder without it is an interrupted preparation and is
refused:

| file | content |
|---|---|
| `tokens.bin` | every chunk's token ids back to back, uint16 when the vocabulary has at most 65,536 tokens, else uint32 |
| `lengths.bin` | the length of each chunk, uint32 |
| `counts.npy` | how often each token id occurs, int64, one entry per vocabulary id |
| `meta.json` | dtype, sizes, special token ids, the options used, how many chunks were dropped and why |
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

FORMAT = "minidistil-corpus-1"


# ---------------------------------------------------------------- user files

def read_documents(path: str | Path, column: str | None = None) -> Iterator[str]:
    """Yield the documents of a `.txt`, `.csv` or `.jsonl` file, one at a time.

    - `.txt`: documents are separated by blank lines; the lines of one document are joined by a space.
      A file with no blank lines is one long document (it is cut into chunks later).
    - `.csv`: the column named `column` (default "text"), one document per row.
    - `.jsonl`: the field named `column` (default "text") of the JSON object on each line.
    Invalid UTF-8 bytes are replaced, not fatal: real corpora contain a few.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass a .txt, .csv or .jsonl file")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        yield from _read_text(path)
    elif suffix == ".csv":
        yield from _read_csv(path, column or "text")
    elif suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path, column or "text")
    else:
        raise ValueError(f"{path} has suffix {suffix!r}; expected .txt (documents separated by blank "
                         f"lines), .csv (with a text column) or .jsonl (one JSON object per line)")


def _read_text(path: Path) -> Iterator[str]:
    lines: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                lines.append(line.strip())
            elif lines:
                yield " ".join(lines)
                lines = []
    if lines:
        yield " ".join(lines)


def _read_csv(path: Path, column: str) -> Iterator[str]:
    csv.field_size_limit(1 << 24)
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise ValueError(f"{path} has no column {column!r}; its columns are {reader.fieldnames}; "
                             f"name the text column with --column")
        for row in reader:
            if row[column]:
                yield row[column]


def _read_jsonl(path: Path, column: str) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"line {number} of {path} is not valid JSON ({e}); "
                                 f"a .jsonl file holds one JSON object per line") from None
            if not isinstance(record, dict) or column not in record:
                raise ValueError(f"line {number} of {path} has no field {column!r}; "
                                 f"name the text field with --column")
            if record[column]:
                yield str(record[column])


# ---------------------------------------------------------------- preparation

@dataclass
class PrepareOptions:
    max_length: int = 128           # tokens per chunk, [CLS] and [SEP] included (DistilBERT used 512)
    min_tokens: int = 12            # drop shorter chunks; DistilBERT's code dropped sequences of <= 11 tokens
    max_unk_fraction: float = 0.5   # drop chunks with more [UNK] than this; DistilBERT's code used 0.5
    batch_documents: int = 256      # documents tokenized per call; bounds the memory used

    def __post_init__(self):
        if self.max_length < 3:
            raise ValueError(f"max_length must be at least 3 ([CLS], a token, [SEP]), got {self.max_length}")
        if not 0 < self.min_tokens <= self.max_length:
            raise ValueError(f"min_tokens must be in [1, max_length={self.max_length}], got {self.min_tokens}")
        if not 0.0 <= self.max_unk_fraction <= 1.0:
            raise ValueError(f"max_unk_fraction must be in [0, 1], got {self.max_unk_fraction}")
        if self.batch_documents < 1:
            raise ValueError(f"batch_documents must be >= 1, got {self.batch_documents}")


def special_ids(tokenizer) -> dict[str, int]:
    return {name: getattr(tokenizer, f"{name}_token_id") for name in ("cls", "sep", "pad", "mask", "unk")}


def prepare_corpus(documents: Iterable[str], tokenizer, out_dir: str | Path,
                   options: PrepareOptions | None = None, progress: bool = False,
                   total: int | None = None) -> dict:
    """Tokenize `documents` into `out_dir` (see the module docstring); return the metadata.

    `tokenizer` is called as `tokenizer(texts, add_special_tokens=False)["input_ids"]` and must have
    `cls_token_id`, `sep_token_id`, `pad_token_id`, `mask_token_id`, `unk_token_id` and `len()`:
    minidistil's `WordPieceTokenizer` and Hugging Face's BERT tokenizers both do.
    """
    options = options or PrepareOptions()
    ids = special_ids(tokenizer)
    vocab_size = len(tokenizer)
    dtype = np.uint16 if vocab_size <= 1 << 16 else np.uint32
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)  # the folder is incomplete until the end

    counts = np.zeros(vocab_size, dtype=np.int64)
    n_docs = n_chunks = n_tokens = too_short = mostly_unk = 0
    body = options.max_length - 2  # room left after [CLS] and [SEP]
    with open(out / "tokens.bin", "wb") as tokens_file, open(out / "lengths.bin", "wb") as lengths_file:
        bar = tqdm(total=total, unit="doc", desc="prepare", disable=not progress)
        for texts in _batched(documents, options.batch_documents):
            kept = []
            for doc in tokenizer(texts, add_special_tokens=False)["input_ids"]:
                for start in range(0, len(doc), body):
                    piece = doc[start:start + body]
                    chunk = np.array([ids["cls"], *piece, ids["sep"]], dtype=dtype)
                    if len(chunk) < options.min_tokens:
                        too_short += 1
                    elif np.count_nonzero(chunk == ids["unk"]) > options.max_unk_fraction * len(piece):
                        mostly_unk += 1
                    else:
                        kept.append(chunk)
            if kept:
                flat = np.concatenate(kept)
                tokens_file.write(flat.tobytes())
                lengths_file.write(np.array([len(c) for c in kept], dtype=np.uint32).tobytes())
                counts += np.bincount(flat, minlength=vocab_size)
                n_chunks += len(kept)
                n_tokens += len(flat)
            n_docs += len(texts)
            bar.update(len(texts))
        bar.close()
    if n_chunks == 0:
        raise ValueError(f"no chunk survived preparation ({n_docs} documents, {too_short} chunks shorter "
                         f"than min_tokens={options.min_tokens}, {mostly_unk} mostly [UNK]); "
                         f"pass more text or lower min_tokens")
    np.save(out / "counts.npy", counts)
    if hasattr(tokenizer, "save_pretrained"):  # the ids mean nothing without the vocabulary that made them
        tokenizer.save_pretrained(out)
    meta = {"format": FORMAT, "dtype": np.dtype(dtype).name, "vocab_size": vocab_size,
            "n_documents": n_docs, "n_chunks": n_chunks, "n_tokens": n_tokens,
            "dropped": {"too_short": too_short, "mostly_unknown": mostly_unk},
            "special_ids": ids, "options": asdict(options)}
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / "meta.json")
    return meta


def _batched(items: Iterable[str], n: int) -> Iterator[list[str]]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- reading it back

class TokenCorpus:
    """A prepared corpus folder, memory-mapped: `corpus[i]` is `{"input_ids": array}` of chunk i.

    `lengths` (one int per chunk) feeds `LengthGroupedBatches`; `counts` feeds `mlm_smoothing`;
    `special_ids` and `vocab_size` come from the tokenizer that prepared it.
    """

    def __init__(self, folder: str | Path, indices: np.ndarray | None = None):
        folder = Path(folder)
        meta_path = folder / "meta.json"
        if not meta_path.is_file():
            raise ValueError(f"{folder} is not a prepared corpus (no meta.json; an interrupted preparation "
                             f"leaves none); prepare it with `python -m minidistil prepare-data`")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{meta_path} is not valid JSON ({e}); prepare the corpus again") from None
        if meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path} has format {meta.get('format')!r}, expected {FORMAT!r}; "
                             f"prepare the corpus again")
        dtype = np.dtype(meta["dtype"])
        expected = {"tokens.bin": meta["n_tokens"] * dtype.itemsize, "lengths.bin": meta["n_chunks"] * 4}
        for name, size in expected.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != size:
                found = path.stat().st_size if path.is_file() else "missing"
                raise ValueError(f"{path} should hold {size} bytes but is {found}; the corpus is "
                                 f"corrupt or incomplete, prepare it again")
        lengths = np.fromfile(folder / "lengths.bin", dtype=np.uint32).astype(np.int64)
        if lengths.sum() != meta["n_tokens"]:
            raise ValueError(f"{folder / 'lengths.bin'} does not add up to n_tokens={meta['n_tokens']}; "
                             f"the corpus is corrupt, prepare it again")
        self.folder, self.meta = folder, meta
        self.tokens = np.memmap(folder / "tokens.bin", dtype=dtype, mode="r")
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.all_lengths = lengths
        self.indices = np.arange(len(lengths)) if indices is None else np.asarray(indices)
        self.special_ids: dict[str, int] = meta["special_ids"]
        self.vocab_size: int = meta["vocab_size"]

    @property
    def lengths(self) -> np.ndarray:
        return self.all_lengths[self.indices]

    @property
    def counts(self) -> np.ndarray:
        return np.load(self.folder / "counts.npy")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        j = self.indices[i]
        start = self.starts[j]
        return {"input_ids": np.asarray(self.tokens[start:start + self.all_lengths[j]])}

    def split(self, n_eval: int) -> tuple["TokenCorpus", "TokenCorpus"]:
        """(train, eval): `n_eval` chunks spread evenly over the corpus are held out for evaluation."""
        if not 0 < n_eval < len(self):
            raise ValueError(f"n_eval must be between 1 and {len(self) - 1} (the corpus has {len(self)} "
                             f"chunks), got {n_eval}")
        held = np.linspace(0, len(self) - 1, n_eval).round().astype(np.int64)
        keep = np.setdiff1d(np.arange(len(self)), held)
        return (TokenCorpus(self.folder, self.indices[keep]), TokenCorpus(self.folder, self.indices[held]))


# ---------------------------------------------------------------- batching

class LengthGroupedBatches:
    """Batches of examples of similar length, in a fixed order for each (seed, epoch).

    Each epoch: shuffle all examples, cut the shuffled list into groups of `group_batches`
    batches, sort each group by length and cut it into batches, then shuffle the batches.
    A batch then holds examples of similar length (little padding), yet which lengths end up
    together still changes from epoch to epoch. The last incomplete batch of an epoch is dropped,
    so every step sees exactly `batch_size` examples.

    `batch(step)` is a pure function of the step number: a resumed run, or each process of a
    distributed run, finds the same batch for the same step without replaying the ones before.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int = 0, group_batches: int = 50):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(lengths) < batch_size:
            raise ValueError(f"a batch of {batch_size} needs at least that many examples, the data has "
                             f"{len(lengths)}; lower the batch size or add data")
        self.lengths = np.asarray(lengths)
        self.batch_size, self.seed, self.group_batches = batch_size, seed, group_batches
        self.per_epoch = len(self.lengths) // batch_size
        self._epoch, self._order = -1, None

    def epoch(self, epoch: int) -> np.ndarray:
        """The batches of one epoch: (per_epoch, batch_size) example indices."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        group = self.group_batches * self.batch_size
        for start in range(0, len(order), group):
            chunk = order[start:start + group]
            order[start:start + group] = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
        batches = order[:self.per_epoch * self.batch_size].reshape(self.per_epoch, self.batch_size)
        return batches[rng.permutation(self.per_epoch)]

    def batch(self, step: int) -> np.ndarray:
        epoch = step // self.per_epoch
        if epoch != self._epoch:
            self._epoch, self._order = epoch, self.epoch(epoch)
        return self._order[step % self.per_epoch]


def collate(examples: list[dict], pad_token_id: int = 0, label_pad: int = -100) -> dict[str, torch.Tensor]:
    """Stack examples into a batch padded to its own longest `input_ids` (dynamic padding).

    Adds `attention_mask` (1 real, 0 pad). Other 1-D fields are taken to be per token (token
    labels) and padded with `label_pad` to the same length; scalar fields (a class label, answer
    positions) are stacked. Pass the loop another collate function for anything else.
    """
    longest = max(len(e["input_ids"]) for e in examples)
    batch = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        if np.ndim(values[0]) == 0:
            batch[key] = torch.tensor(np.array(values))
            continue
        fill = pad_token_id if key == "input_ids" else label_pad
        dtype = np.float32 if np.issubdtype(np.asarray(values[0]).dtype, np.floating) else np.int64
        padded = np.full((len(values), longest), fill, dtype=dtype)
        for row, v in zip(padded, values):
            row[:len(v)] = v
        batch[key] = torch.from_numpy(padded)
    lengths = torch.tensor([len(e["input_ids"]) for e in examples])
    batch["attention_mask"] = (torch.arange(longest)[None, :] < lengths[:, None]).long()
    return batch
