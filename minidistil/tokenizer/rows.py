"""From word pieces to model rows, as Hugging Face lays them out: special tokens
([CLS] A [SEP] B [SEP]), truncation with overflow windows, padding, tensors, and the `Encoding`
that holds the result. The pieces of one text are a triple (ids, offsets, word ids).

    >>> options = resolve_options(padding=False, truncation=True, max_length=6, stride=1,
    ...                           pad_to_multiple_of=None, add_special_tokens=True,
    ...                           return_overflowing_tokens=True, is_pair=False, model_max_length=512)
    >>> pieces = ([7, 8, 9, 10, 11, 12], None, None)
    >>> [build_row(a, b, cls_id=1, sep_id=2)["input_ids"] for a, b in truncate(pieces, None, options)]
    [[1, 7, 8, 9, 10, 2], [1, 10, 11, 12, 2]]
"""
from __future__ import annotations

from typing import NamedTuple

TRUNCATIONS = ("longest_first", "only_first", "only_second")


class Encoding(dict):
    """Hugging Face's BatchEncoding, the parts people use: a dict of keys -> rows, `enc.input_ids`,
    `word_ids(i)` and `sequence_ids(i)` (None for special tokens and padding)."""

    def __init__(self, data: dict, word_ids=None, sequence_ids=None, recompute=None):
        super().__init__(data)
        self._word_ids, self._sequence_ids, self._recompute = word_ids, sequence_ids, recompute

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def word_ids(self, batch_index: int = 0) -> list:
        if self._word_ids is None:  # computed on first use, so plain calls stay fast
            other = self._recompute()
            self._word_ids, self._sequence_ids = other._word_ids, other._sequence_ids
        return list(self._word_ids[batch_index])

    def sequence_ids(self, batch_index: int = 0) -> list:
        self.word_ids(batch_index)
        return list(self._sequence_ids[batch_index])

    def to(self, device):
        return Encoding({k: v.to(device) if hasattr(v, "to") else v for k, v in self.items()},
                        self._word_ids, self._sequence_ids, self._recompute)


class RowOptions(NamedTuple):
    """The call options that shape rows, checked and resolved by `resolve_options`."""
    add_special_tokens: bool
    padding: str | bool              # False, "longest" or "max_length"
    truncation: str | None           # None or one of TRUNCATIONS
    max_length: int | None
    stride: int
    pad_to_multiple_of: int | None
    return_overflowing_tokens: bool


def resolve_options(padding, truncation, max_length, stride, pad_to_multiple_of, add_special_tokens,
                    return_overflowing_tokens, is_pair: bool, model_max_length: int) -> RowOptions:
    """Hugging Face's spellings ("longest", True, "do_not_pad", ...) -> one RowOptions, or a
    ValueError that says which option is wrong."""
    if padding is True:
        padding = "longest"
    if padding not in (False, None, "do_not_pad", "longest", "max_length"):
        raise ValueError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
    padding = padding if padding in ("longest", "max_length") else False
    if truncation is None and max_length is not None and not padding:
        truncation = "longest_first"  # what transformers does, with a warning
    if truncation is True:
        truncation = "longest_first"
    if truncation not in (None, False, "do_not_truncate", *TRUNCATIONS):
        raise ValueError(f"truncation must be False, True or one of {TRUNCATIONS}, got {truncation!r}")
    truncation = truncation if truncation in TRUNCATIONS else None
    if max_length is None and (truncation or padding == "max_length"):
        max_length = model_max_length
    if max_length is not None and (not isinstance(max_length, int) or max_length < 0):
        raise ValueError(f"max_length must be a non-negative int, got {max_length!r}")
    multiple = pad_to_multiple_of
    if multiple is not None and (not isinstance(multiple, int) or multiple < 1):
        raise ValueError(f"pad_to_multiple_of must be a positive int, got {multiple!r}")
    if not isinstance(stride, int) or stride < 0:
        raise ValueError(f"stride must be a non-negative int, got {stride!r}")
    if truncation:
        n_special = (3 if is_pair else 2) if add_special_tokens else 0
        room = max_length - n_special
        if room < 0:
            raise ValueError(f"max_length={max_length} leaves no room: the special tokens alone take "
                             f"{n_special}; use max_length >= {n_special + 1}")
        if stride and stride >= room:
            raise ValueError(f"stride={stride} must be smaller than the {room} tokens that fit in "
                             f"max_length={max_length} after {n_special} special tokens")
        if padding and multiple and max_length % multiple:
            raise ValueError(f"max_length={max_length} is not a multiple of pad_to_multiple_of={multiple}; "
                             "truncated rows could not be padded to a multiple")
        if truncation == "only_second" and not is_pair:
            raise ValueError("truncation='only_second' needs text pairs; use 'only_first' or 'longest_first'")
    return RowOptions(add_special_tokens, padding, truncation, max_length, stride, multiple,
                      return_overflowing_tokens)


def truncate(first, second, options: RowOptions) -> list[tuple]:
    """Windows [(first slice, second slice)], the kept one first, in the order `tokenizers` uses.
    Without return_overflowing_tokens only the first window is kept."""
    strategy, max_length, stride = options.truncation, options.max_length, options.stride
    n1, n2 = len(first[0]), (len(second[0]) if second else 0)
    whole = [(_cut(first, 0, n1), second and _cut(second, 0, n2))]
    if not strategy or max_length is None:
        return whole
    room = max_length - ((3 if second else 2) if options.add_special_tokens else 0)
    if n1 + n2 <= room:
        return whole
    t1, t2 = n1, n2
    if room == 0:  # nothing fits: tokenizers empties both and sends everything to overflow
        t1, t2 = 0, (0 if second else n2)
    elif strategy == "longest_first" and second:
        # Both shrink toward room/2; the shorter keeps all it can (tokenizers' LongestFirst).
        short, long_ = sorted((n1, n2))
        long_ = short if short > room else max(short, room - short)
        if short + long_ > room:
            short, long_ = room // 2, room // 2 + room % 2
        t1, t2 = (short, long_) if n1 <= n2 else (long_, short)
    elif strategy in ("longest_first", "only_first"):
        t1 = n1 - (n1 + n2 - room)
    else:
        t2 = n2 - (n1 + n2 - room)
    if (strategy == "only_first" and t1 <= 0) or (strategy == "only_second" and t2 <= 0):
        which = "first" if strategy == "only_first" else "second"
        raise ValueError(f"truncation='{strategy}' cannot fit this input in max_length={max_length}: the "
                         f"{which} sequence is shorter than what must go; use 'longest_first'")
    a = _windows(first, t1, stride)
    b = _windows(second, t2, stride) if second else [None]
    # tokenizers merges the overflow of A with B, then the overflow of B with A's main window.
    out = [(a[0], b[0])]
    for wa in a[1:]:
        out += [(wa, wb) for wb in b]
    out += [(a[0], wb) for wb in b[1:]]
    return out if options.return_overflowing_tokens else out[:1]


def _cut(seq, start, stop):
    ids, offsets, words = seq
    return (ids[start:stop], offsets and offsets[start:stop], words and words[start:stop])


def _windows(seq, length, stride):
    """The first `length` tokens, then windows of `length` that step by length - stride."""
    n = len(seq[0])
    if length >= n:
        return [_cut(seq, 0, n)]
    if length == 0:  # nothing fits: an empty window, and everything overflows
        return [_cut(seq, 0, 0), _cut(seq, 0, n)]
    if stride >= length:
        raise ValueError(f"stride={stride} must be smaller than the {length} tokens this sequence keeps")
    out = []
    for start in range(0, n, length - stride):
        out.append(_cut(seq, start, min(start + length, n)))
        if start + length >= n:
            break
    return out


def build_row(a, b, cls_id: int | None, sep_id: int | None) -> dict:
    """One row from a window of the first sequence and one of the second (or None); `cls_id` and
    `sep_id` None means no special tokens."""
    # Only C-speed list building here ([0] * n, +): this runs once per text.
    k = int(cls_id is not None)
    cls, sep, none, zero = [cls_id] * k, [sep_id] * k, [None] * k, [(0, 0)] * k
    n1 = len(a[0])
    row = {"input_ids": cls + a[0] + sep, "offset_mapping": zero + (a[1] or []) + zero,
           "word_ids": none + (a[2] or []) + none, "sequence_ids": none + [0] * n1 + none,
           "special_tokens_mask": [1] * k + [0] * n1 + [1] * k}
    if b is not None:
        n2 = len(b[0])
        row["input_ids"] += b[0] + sep
        row["offset_mapping"] += (b[1] or []) + zero
        row["word_ids"] += (b[2] or []) + none
        row["sequence_ids"] += [1] * n2 + none
        row["special_tokens_mask"] += [0] * n2 + [1] * k
    n = len(row["input_ids"])
    row["token_type_ids"] = [0] * (n1 + 2 * k) + [1] * (n - n1 - 2 * k)
    row["attention_mask"] = [1] * n
    return row


def pad_rows(rows: list[dict], options: RowOptions, pad_id: int) -> list[dict]:
    """Pad every row to the longest (or to max_length), rounded up to pad_to_multiple_of."""
    if not options.padding or not rows:
        return rows
    target = max(len(r["input_ids"]) for r in rows) if options.padding == "longest" else options.max_length
    multiple = options.pad_to_multiple_of
    if multiple and target % multiple:
        target += multiple - target % multiple
    fill = {"input_ids": pad_id, "token_type_ids": 0, "attention_mask": 0,
            "special_tokens_mask": 1, "offset_mapping": (0, 0), "word_ids": None, "sequence_ids": None}
    for row in rows:
        n = target - len(row["input_ids"])
        if n > 0:
            for key, value in fill.items():
                row[key] = row[key] + [value] * n
    return rows


def to_tensors(data: dict, kind: str) -> dict:
    """Lists of rows -> int64 arrays ("np") or tensors ("pt"); rows must have one length."""
    if kind not in ("pt", "np"):
        raise ValueError(f"return_tensors must be 'pt', 'np' or None, got {kind!r}")
    import numpy as np
    out = {}
    for key, rows in data.items():
        if rows and isinstance(rows[0], list) and len({len(r) for r in rows}) > 1:
            raise ValueError("rows have different lengths, so they cannot form one tensor; "
                             "pass padding=True (or padding='max_length')")
        array = np.asarray(rows if rows and isinstance(rows[0], list) else [rows], dtype=np.int64)
        if key == "overflow_to_sample_mapping":
            array = array.reshape(-1)
        if not rows:
            array = np.zeros((0, 0), dtype=np.int64)
        if kind == "pt":
            import torch
            array = torch.from_numpy(array)
        out[key] = array
    return out
