"""Text in, a training corpus out: user files, corpus preparation into a memory-mapped folder.

1. `read_documents` streams documents out of a user file: plain text (documents separated by blank
   lines), CSV (one named column) or JSONL (one named field).
2. `prepare_corpus` tokenizes documents into a folder that training memory-maps:
   long documents are cut into model-length chunks, each `[CLS] ... [SEP]`; chunks that are too short
   or mostly `[UNK]` are dropped (the thresholds are the named options of `PrepareOptions`); token
   frequencies are counted (for `mlm_smoothing`). It streams: memory stays flat as the corpus grows.
3. `TokenCorpus` reads that folder back, memory-mapped.
4. Training draws batches of chunks of similar length from `TokenCorpus.lengths`, each padded only
   to its own longest chunk (`minidistil.data.batching`).

    >>> prepare_corpus(sources.corpus(), tokenizer, "runs/corpus", progress=True)
    >>> corpus = TokenCorpus("runs/corpus")
    >>> corpus[0]["input_ids"][:4]
    array([ 101, 2866, 2058, 2000], dtype=uint16)

The folder holds four files, plus the tokenizer's own (`vocab.txt` and its settings, written by its
`save_pretrained`, so that a model trained on the corpus can be saved with the tokenizer that made
its ids). The folder is written beside its final place and renamed into place only once it reads
back (`minidistil.utils.fsutil.replace_folder`): a preparation that fails leaves the previous corpus, or
no folder at all, as it was. A folder without `meta.json` is not a corpus and is refused:

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from tqdm.auto import tqdm

from minidistil.utils import textio
from minidistil.utils.fsutil import replace_folder

FORMAT = "minidistil-corpus-1"


# ---------------------------------------------------------------- user files

def read_documents(path: str | Path, column: str | None = None, encoding: str | None = None) -> Iterator[str]:
    """Yield the documents of a `.txt`, `.csv` or `.jsonl` file, one at a time.

    - `.txt`: documents are separated by blank lines; the lines of one document are joined by a space.
      A file with no blank lines is one long document (it is cut into chunks later).
    - `.csv`: the column named `column` (default "text"), one document per row.
    - `.jsonl`: the field named `column` (default "text") of the JSON object on each line.
    Files are strict UTF-8 unless `encoding` names another (`minidistil.utils.textio`): a byte that does not
    decode stops the reading with one sentence naming the file, the offset and `iconv`.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; pass the .txt, .csv or .jsonl files in it")
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass a .txt, .csv or .jsonl file")
    suffix = path.suffix.lower()
    if suffix == ".txt":
        yield from _read_text(path, encoding)
    elif suffix == ".csv":
        yield from _read_csv(path, column or "text", encoding)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _read_jsonl(path, column or "text", encoding)
    else:
        raise ValueError(f"{path} has suffix {suffix!r}; expected .txt (documents separated by blank "
                         f"lines), .csv (with a text column) or .jsonl (one JSON object per line)")


def _read_text(path: Path, encoding: str | None = None) -> Iterator[str]:
    lines: list[str] = []
    for line in textio.iter_lines(path, encoding):
        if line.strip():
            lines.append(line.strip())
        elif lines:
            yield " ".join(lines)
            lines = []
    if lines:
        yield " ".join(lines)


def _read_csv(path: Path, column: str, encoding: str | None = None) -> Iterator[str]:
    csv.field_size_limit(1 << 24)
    reader = csv.DictReader(textio.iter_lines(path, encoding))
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise ValueError(f"{path} has no column {column!r}; its columns are {reader.fieldnames}; "
                         f"name the text column with --column")
    for row in reader:
        if row[column]:
            yield row[column]


def _read_jsonl(path: Path, column: str, encoding: str | None = None) -> Iterator[str]:
    for number, line in enumerate(textio.iter_lines(path, encoding), 1):
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

    `tokenizer` is called as `tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]` and must have
    `cls_token_id`, `sep_token_id`, `pad_token_id`, `mask_token_id`, `unk_token_id` and `len()`:
    minidistil's `WordPieceTokenizer` and Hugging Face's BERT tokenizers both do.
    An existing `out_dir` is replaced whole once the new corpus is complete, and only if it is
    empty or a corpus itself (it holds meta.json): any other folder is refused before writing.
    """
    options = options or PrepareOptions()
    # Written beside `out_dir` and swapped in only once it reads back: a preparation that fails
    # (an empty input, a full disk, Ctrl-C) leaves the previous corpus, or no folder, as it was.
    with replace_folder(out_dir, marker="meta.json") as tmp:
        meta = _write_corpus(documents, tokenizer, tmp, options, progress, total)
        check_corpus_folder(tmp)  # every file present, of the size and sum that meta.json says
    return meta


def _write_corpus(documents: Iterable[str], tokenizer, out: Path, options: PrepareOptions, progress: bool,
                  total: int | None) -> dict:
    ids = special_ids(tokenizer)
    vocab_size = len(tokenizer)
    dtype = np.uint16 if vocab_size <= 1 << 16 else np.uint32
    counts = np.zeros(vocab_size, dtype=np.int64)
    n_docs = n_chunks = n_tokens = too_short = mostly_unk = 0
    body = options.max_length - 2  # room left after [CLS] and [SEP]
    with open(out / "tokens.bin", "wb") as tokens_file, open(out / "lengths.bin", "wb") as lengths_file:
        bar = tqdm(total=total, unit="doc", desc="prepare", disable=not progress)
        for texts in _batched(documents, options.batch_documents):
            kept = []
            for doc in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]:
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
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
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

    `lengths` (one int per chunk) feeds `batching.LengthGroupedBatches`; `counts` feeds `mlm_smoothing`;
    `special_ids` and `vocab_size` come from the tokenizer that prepared it.
    """

    def __init__(self, folder: str | Path, indices: np.ndarray | None = None):
        folder = Path(folder)
        # Counts are read now (one int64 per vocabulary id, small) so that a broken file is reported
        # when the corpus is opened, not minutes later when distillation first asks for them.
        meta, self._counts = check_corpus_folder(folder)
        lengths = np.fromfile(folder / "lengths.bin", dtype=np.uint32).astype(np.int64)
        self.folder, self.meta = folder, meta
        self.tokens = np.memmap(folder / "tokens.bin", dtype=np.dtype(meta["dtype"]), mode="r")
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
        return self._counts

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


# What meta.json must hold for the corpus to be read, and the type of each field.
META_FIELDS = {"format": str, "dtype": str, "vocab_size": int, "n_chunks": int, "n_tokens": int,
               "special_ids": dict}
PREPARE_AGAIN = "prepare the corpus again with `python -m minidistil prepare-data`"


def check_corpus_folder(folder: Path) -> tuple[dict, np.ndarray]:
    """Check that every file of a corpus folder is present and agrees with meta.json; return the
    metadata and the token counts. Memory stays flat: the id files are checked through a memory map."""
    if not (folder / "meta.json").is_file():
        raise ValueError(f"{folder} is not a prepared corpus (no meta.json); prepare it with "
                         f"`python -m minidistil prepare-data`")
    meta = _read_meta(folder / "meta.json")
    expected = {"tokens.bin": meta["n_tokens"] * np.dtype(meta["dtype"]).itemsize,
                "lengths.bin": meta["n_chunks"] * 4}
    for name, size in expected.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != size:
            found = path.stat().st_size if path.is_file() else "missing"
            raise ValueError(f"{path} should hold {size} bytes but is {found}; the corpus is "
                             f"corrupt or incomplete, prepare it again")
    lengths = np.memmap(folder / "lengths.bin", dtype=np.uint32, mode="r") if meta["n_chunks"] else np.zeros(0)
    if int(lengths.sum(dtype=np.int64)) != meta["n_tokens"]:
        raise ValueError(f"{folder / 'lengths.bin'} does not add up to n_tokens={meta['n_tokens']}; "
                         f"the corpus is corrupt, prepare it again")
    counts = _read_counts(folder / "counts.npy", meta)
    _check_tokens_against_counts(folder / "tokens.bin", meta, counts)
    return meta, counts


_COUNTED: set = set()  # token files already counted, by path, size and modification time


def _check_tokens_against_counts(path: Path, meta: dict, counts: np.ndarray) -> None:
    """A byte changed in tokens.bin keeps its size but changes a token id, which then trains silently:
    count the ids again (one pass through the memory map, about a second a gigabyte; once per file per
    process) and compare them with counts.npy, written from the same ids."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _COUNTED or not meta["n_tokens"]:
        return
    tokens = np.memmap(path, dtype=np.dtype(meta["dtype"]), mode="r")
    found = np.zeros(max(meta["vocab_size"], 1), dtype=np.int64)
    for start in range(0, len(tokens), 1 << 16):  # small blocks: bincount makes an int64 copy of each
        block = np.asarray(tokens[start:start + (1 << 16)])
        if len(block) and int(block.max()) >= meta["vocab_size"]:
            raise ValueError(f"{path} holds the token id {int(block.max())}, beyond the vocabulary of "
                             f"{meta['vocab_size']}; the corpus is corrupt, {PREPARE_AGAIN}")
        found += np.bincount(block, minlength=len(found))
    if not np.array_equal(found, counts):
        raise ValueError(f"{path} does not match the token counts in counts.npy (a byte changed since "
                         f"prepare-data wrote it); the corpus is corrupt, {PREPARE_AGAIN}")
    _COUNTED.add(key)


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid JSON ({e}); {PREPARE_AGAIN}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} holds a JSON {type(meta).__name__}, not the object prepare-data writes; "
                         f"{PREPARE_AGAIN}")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}; {PREPARE_AGAIN}")
    for name, kind in META_FIELDS.items():
        value = meta.get(name)
        # bool is an int in Python, but `"n_tokens": true` is still a broken file.
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            expected = {int: "a non-negative integer", str: "a JSON string", dict: "a JSON object"}[kind]
            raise ValueError(f"{path} has {name}={value!r}, expected {expected}; {PREPARE_AGAIN}")
    if meta["dtype"] not in ("uint16", "uint32"):
        raise ValueError(f"{path} has dtype={meta['dtype']!r}, expected 'uint16' or 'uint32'; {PREPARE_AGAIN}")
    missing = [k for k in ("cls", "sep", "pad", "mask", "unk") if not isinstance(meta["special_ids"].get(k), int)]
    if missing:
        raise ValueError(f"{path} has no integer special_ids for {missing}; {PREPARE_AGAIN}")
    return meta


def _read_counts(path: Path, meta: dict) -> np.ndarray:
    try:
        counts = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(f"{path} is missing (it holds the token frequencies); {PREPARE_AGAIN}") from None
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npy file ({type(e).__name__}); {PREPARE_AGAIN}") from None
    if (counts.shape != (meta["vocab_size"],) or not np.issubdtype(counts.dtype, np.integer)
            or int(counts.sum()) != meta["n_tokens"]):
        total = int(counts.sum()) if np.issubdtype(counts.dtype, np.number) else "?"
        raise ValueError(f"{path} should hold {meta['vocab_size']} integer token counts adding up to "
                         f"n_tokens={meta['n_tokens']}, found {counts.size} {counts.dtype} counts adding up to "
                         f"{total}; {PREPARE_AGAIN}")
    return counts


def check_corpus(corpus: TokenCorpus) -> None:
    """Refuse a corpus without its vocab.txt: the model folder a step writes takes its tokenizer
    files from the corpus, and without them no pipeline could read the model."""
    if not (Path(corpus.folder) / "vocab.txt").is_file():
        raise ValueError(f"the corpus {corpus.folder} has no vocab.txt, so the model trained on it could not be "
                         f"saved with its tokenizer; prepare it again with `python -m minidistil prepare-data`, "
                         f"which saves the vocabulary beside the ids")


def check_vocabulary(model, corpus, what: str = "model") -> None:
    """A corpus tokenized with another vocabulary would silently train on garbage: refuse it."""
    if corpus.vocab_size != model.config.vocab_size:
        raise ValueError(f"the corpus in {corpus.folder} was prepared with a {corpus.vocab_size}-token vocabulary "
                         f"but the {what} has {model.config.vocab_size}; prepare the corpus with the "
                         f"{what}'s vocab.txt")

