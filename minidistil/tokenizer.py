"""WordPieceTokenizer: BERT's tokenizer with Hugging Face's call API, in plain Python.

    >>> from minidistil import WordPieceTokenizer, sources
    >>> tok = WordPieceTokenizer.from_pretrained(sources.teacher_dir())
    >>> tok("Hello, world!")["input_ids"]
    [101, 7592, 1010, 2088, 999, 102]
    >>> tok.decode([101, 7592, 1010, 2088, 999, 102], skip_special_tokens=True)
    'hello, world!'

Text -> ids is `minidistil.wordpiece.Engine`. This file adds what sits around it in Hugging Face:
special tokens ([CLS] A [SEP] B [SEP]), truncation with overflow windows, padding, tensors,
offsets and word ids, decoding, and loading / saving a folder that `transformers` also reads.

The ids are those of `transformers.BertTokenizer` (the Rust `tokenizers` backend); pass
`reference="legacy"` to match `BertTokenizerLegacy` instead where the two differ (see wordpiece.py).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .wordpiece import Engine

SPECIAL_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
TRUNCATIONS = ("longest_first", "only_first", "only_second")
# What a tokenizer folder may hold (ours writes the first, third and fourth; transformers' fast one adds the second).
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def copy_tokenizer_files(source_dir, folder) -> None:
    """Copy the tokenizer files `source_dir` has into `folder`, so that a model folder stands alone."""
    for name in TOKENIZER_FILES:
        if (Path(source_dir) / name).is_file():
            shutil.copy(Path(source_dir) / name, Path(folder) / name)


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


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer. `vocab_file` is a vocab.txt (one token per line, line number = id).

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"]
    >>> tok = WordPieceTokenizer(vocab=vocab)
    >>> tok("Unaffable!", "un")["input_ids"], tok.tokenize("unaffable")
    ([2, 5, 6, 7, 8, 3, 5, 3], ['un', '##aff', '##able'])
    """

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, vocab_file=None, do_lower_case: bool = True, strip_accents: bool | None = None,
                 tokenize_chinese_chars: bool = True, never_split=None, unk_token="[UNK]",
                 sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]",
                 model_max_length: int = 512, max_input_chars_per_word: int = 100,
                 reference: str = "rust", clean_up_tokenization_spaces: bool | None = None,
                 vocab: list[str] | None = None):
        if (vocab_file is None) == (vocab is None):
            raise ValueError("give exactly one of vocab_file (a vocab.txt path) or vocab (a list of tokens)")
        tokens = list(vocab) if vocab is not None else load_vocab(vocab_file)
        self.vocab = _index(tokens, vocab_file or "the vocab list")
        self.ids_to_tokens = dict(enumerate(tokens))
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        missing = [t for t in (unk_token, sep_token, pad_token, cls_token, mask_token) if t not in self.vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}; BERT needs "
                             f"{[unk_token, sep_token, pad_token, cls_token, mask_token]} in vocab.txt")
        self.unk_token_id, self.sep_token_id = self.vocab[unk_token], self.vocab[sep_token]
        self.pad_token_id, self.cls_token_id = self.vocab[pad_token], self.vocab[cls_token]
        self.mask_token_id = self.vocab[mask_token]
        self.all_special_tokens = [cls_token, sep_token, pad_token, unk_token, mask_token]
        self.all_special_ids = [self.vocab[t] for t in self.all_special_tokens]
        self.do_lower_case, self.strip_accents = do_lower_case, strip_accents
        self.tokenize_chinese_chars, self.reference = tokenize_chinese_chars, reference
        self.model_max_length = model_max_length
        self.never_split = sorted(set(never_split or ()))
        # Rust cleans spaces token by token inside its decoder and not again; legacy cleans the
        # joined string by default (see `decode`).
        self.clean_up_tokenization_spaces = (reference == "legacy") if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        self.engine = Engine(self.vocab, unk_token, do_lower_case, strip_accents, tokenize_chinese_chars,
                             max_input_chars_per_word, reference)
        # Special tokens typed in the text ("a [MASK] b") are matched exactly, before any
        # normalization, as both Hugging Face tokenizers do; never_split words only between spaces.
        alternatives = sorted(self.all_special_tokens, key=len, reverse=True)
        pattern = "|".join(map(re.escape, alternatives))
        if self.never_split:
            pattern += "|(?<!\\S)(?:" + "|".join(map(re.escape, self.never_split)) + ")(?!\\S)"
        self._special_re = re.compile(pattern)

    # ------------------------------------------------------------------ loading and saving

    @classmethod
    def from_pretrained(cls, folder, **overrides) -> "WordPieceTokenizer":
        """Load vocab.txt, plus tokenizer_config.json and special_tokens_map.json when present."""
        folder = Path(folder)
        if not (folder / "vocab.txt").is_file():
            raise FileNotFoundError(f"no vocab.txt in {folder}; a WordPiece tokenizer folder needs one "
                                    "(save one with save_pretrained)")
        config = {}
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            if (folder / name).is_file():
                config.update(json.loads((folder / name).read_text(encoding="utf-8")))
        kwargs = {k: config[k] for k in ("do_lower_case", "strip_accents", "tokenize_chinese_chars",
                                          "never_split", "model_max_length") if config.get(k) is not None}
        for name in SPECIAL_NAMES:
            if name in config:  # either "[UNK]" or {"content": "[UNK]", ...}
                value = config[name]
                kwargs[name] = value["content"] if isinstance(value, dict) else value
        if kwargs.get("model_max_length", 0) > 1e9:  # Hugging Face's "no limit" sentinel
            kwargs.pop("model_max_length")
        kwargs.update(overrides)
        return cls(folder / "vocab.txt", **kwargs)

    def save_pretrained(self, folder) -> Path:
        """Write vocab.txt, tokenizer_config.json and special_tokens_map.json; both our
        from_pretrained and transformers' BertTokenizer.from_pretrained read the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tokens = [self.ids_to_tokens[i] for i in range(len(self.ids_to_tokens))]
        (folder / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        specials = {name: getattr(self, name) for name in SPECIAL_NAMES}
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": self.do_lower_case,
                  "strip_accents": self.strip_accents, "tokenize_chinese_chars": self.tokenize_chinese_chars,
                  "never_split": self.never_split or None, "model_max_length": self.model_max_length,
                  "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces, **specials}
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2), encoding="utf-8")
        return folder

    # ------------------------------------------------------------------ tokens and ids

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of `text`, no special tokens.

        >>> WordPieceTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]).tokenize("Hi yo")
        ['hi', '[UNK]']
        """
        return self.convert_ids_to_tokens(self._pieces(_check_text(text), details=False)[0])


    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False):
        if isinstance(ids, int) or (hasattr(ids, "ndim") and ids.ndim == 0):
            return self.ids_to_tokens[self._check_id(int(ids))]
        skip = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.ids_to_tokens[i] for i in map(self._check_id, map(int, ids)) if i not in skip]

    def _check_id(self, i: int) -> int:
        if not 0 <= i < len(self.ids_to_tokens):
            raise ValueError(f"token id {i} is outside the vocabulary (0..{len(self.ids_to_tokens) - 1})")
        return i

    # ------------------------------------------------------------------ text -> ids

    def encode(self, text, text_pair=None, add_special_tokens: bool = True, **options) -> list[int]:
        """Just the input ids of one text (or pair): `tok.encode("hi")` -> [101, 7632, 102]."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes one text (str), got {type(text).__name__}; use tok(texts) for a batch")
        return self(text, text_pair, add_special_tokens=add_special_tokens, **options)["input_ids"]

    def __call__(self, text, text_pair=None, add_special_tokens: bool = True, padding=False,
                 truncation=None, max_length: int | None = None, stride: int = 0,
                 pad_to_multiple_of: int | None = None, return_tensors: str | None = None,
                 return_token_type_ids: bool | None = None, return_attention_mask: bool | None = None,
                 return_overflowing_tokens: bool = False, return_special_tokens_mask: bool = False,
                 return_offsets_mapping: bool = False, return_length: bool = False) -> Encoding:
        """Encode a text, a batch of texts, or pairs (text, text_pair), as transformers does.

        padding: False | True / "longest" | "max_length" (to max_length or model_max_length).
        truncation: None / False | True / "longest_first" | "only_first" | "only_second"; with
        max_length set and neither padding nor truncation given, "longest_first" (as in HF).
        stride + return_overflowing_tokens: the truncated-away tokens come back as extra rows that
        overlap the previous window by `stride` tokens; "overflow_to_sample_mapping" says which
        input each row came from (question answering over long contexts).
        """
        batched = not isinstance(text, str)
        if not batched and text_pair == "":
            text_pair = None  # transformers drops an empty pair for a single text (not in a batch)
        texts = _check_batch(text, "text")
        pairs = None
        if text_pair is not None:
            if batched == isinstance(text_pair, str):
                raise TypeError("text and text_pair must both be a str or both be a list of str")
            pairs = _check_batch(text_pair, "text_pair")
            if len(pairs) != len(texts):
                raise ValueError(f"got {len(texts)} texts but {len(pairs)} text pairs; give one pair per text")
        padding, truncation, max_length = self._strategies(padding, truncation, max_length, pairs is not None,
                                                          add_special_tokens, stride, pad_to_multiple_of)
        settings = (add_special_tokens, padding, truncation, max_length, stride, pad_to_multiple_of,
                    return_overflowing_tokens)
        rows, samples = self._rows(texts, pairs, settings, details=return_offsets_mapping,
                                   offsets=return_offsets_mapping)

        want = {"input_ids": True,
                "token_type_ids": return_token_type_ids is not False and (
                    return_token_type_ids or "token_type_ids" in self.model_input_names),
                "attention_mask": return_attention_mask is not False,
                "special_tokens_mask": return_special_tokens_mask,
                "offset_mapping": return_offsets_mapping}
        data = {key: [row[key] for row in rows] for key, on in want.items() if on}
        if return_length:
            data["length"] = [sum(row["attention_mask"]) for row in rows]
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = samples
        word_ids = [row["word_ids"] for row in rows] if return_offsets_mapping else None
        sequence_ids = [row["sequence_ids"] for row in rows]
        flat = not batched and not return_overflowing_tokens and return_tensors is None
        if flat:
            data = {k: v[0] for k, v in data.items()}
        if return_tensors is not None:
            data = _to_tensors(data, return_tensors)

        def recompute():  # word ids on demand: the same rows again, this time with word ids
            again, _ = self._rows(texts, pairs, settings, details=True, offsets=False)
            return Encoding({}, [r["word_ids"] for r in again], [r["sequence_ids"] for r in again])
        return Encoding(data, word_ids, sequence_ids, recompute)

    def _rows(self, texts, pairs, settings, details: bool, offsets: bool):
        add_special, padding, truncation, max_length, stride, multiple, overflow = settings
        rows, samples = [], []
        for i, a in enumerate(texts):
            first = self._pieces(a, details, offsets)
            second = self._pieces(pairs[i], details, offsets) if pairs is not None else None
            windows = self._truncate(first, second, truncation, max_length, stride, add_special)
            if not overflow:
                windows = windows[:1]
            rows += [self._row(w1, w2, add_special) for w1, w2 in windows]
            samples += [i] * len(windows)
        return self._pad(rows, padding, max_length, multiple), samples

    def _strategies(self, padding, truncation, max_length, is_pair, add_special, stride, multiple):
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
            max_length = self.model_max_length
        if max_length is not None and (not isinstance(max_length, int) or max_length < 0):
            raise ValueError(f"max_length must be a non-negative int, got {max_length!r}")
        if multiple is not None and (not isinstance(multiple, int) or multiple < 1):
            raise ValueError(f"pad_to_multiple_of must be a positive int, got {multiple!r}")
        if not isinstance(stride, int) or stride < 0:
            raise ValueError(f"stride must be a non-negative int, got {stride!r}")
        if truncation:
            n_special = (3 if is_pair else 2) if add_special else 0
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
        return padding, truncation, max_length

    def _pieces(self, text: str, details: bool, offsets: bool = True):
        """(ids, offsets, word ids) of one text without special tokens; None lists when not `details`."""
        engine, special = self.engine, self._special_re
        if special.search(text) is None:
            if not details:
                return engine.ids(text), None, None
            ids, spans, words, _ = engine.encode(text, offsets=offsets)
            return ids, spans, words
        ids, offsets, words, pos, w = [], [], [], 0, 0
        for m in special.finditer(text):  # each special token is a word of its own
            part = engine.encode(text[pos:m.start()], pos, w, offsets=details and offsets)
            ids += part[0]
            offsets += part[1]
            words += part[2]
            ids.append(self.vocab.get(m.group(), self.unk_token_id))
            offsets.append(m.span())
            words.append(w + part[3])
            w += part[3] + 1
            pos = m.end()
        part = engine.encode(text[pos:], pos, w, offsets=details and offsets)
        return ids + part[0], offsets + part[1], words + part[2]

    # ------------------------------------------------------------------ truncation, rows, padding

    def _truncate(self, first, second, strategy, max_length, stride, add_special):
        """Windows [(first slice, second slice)], the kept one first, in the order `tokenizers` uses."""
        n1, n2 = len(first[0]), (len(second[0]) if second else 0)
        whole = [(_cut(first, 0, n1), second and _cut(second, 0, n2))]
        if not strategy or max_length is None:
            return whole
        room = max_length - ((3 if second else 2) if add_special else 0)
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
        return out

    def _row(self, a, b, add_special):
        # Only C-speed list building here ([0] * n, +): this runs once per text.
        k = int(add_special)
        cls, sep, none, zero = [self.cls_token_id] * k, [self.sep_token_id] * k, [None] * k, [(0, 0)] * k
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

    def _pad(self, rows, padding, max_length, multiple):
        if not padding or not rows:
            return rows
        target = max(len(r["input_ids"]) for r in rows) if padding == "longest" else max_length
        if multiple and target % multiple:
            target += multiple - target % multiple
        fill = {"input_ids": self.pad_token_id, "token_type_ids": 0, "attention_mask": 0,
                "special_tokens_mask": 1, "offset_mapping": (0, 0), "word_ids": None, "sequence_ids": None}
        for row in rows:
            n = target - len(row["input_ids"])
            if n > 0:
                for key, value in fill.items():
                    row[key] = row[key] + [value] * n
        return rows

    # ------------------------------------------------------------------ ids -> text

    def decode(self, ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces: bool | None = None) -> str:
        """Tokens joined back into text: "##" pieces glued on, spaces before punctuation removed.

        >>> tok = WordPieceTokenizer(vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##able", "!"])
        >>> tok.decode([2, 5, 6, 7, 3]), tok.decode([2, 5, 6, 7, 3], skip_special_tokens=True)
        ('[CLS] unable! [SEP]', 'unable!')
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, int):
            ids = [ids]
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens=skip_special_tokens)
        clean = self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        if self.reference == "legacy":
            text = " ".join(tokens).replace(" ##", "").strip()
        else:  # tokenizers' WordPiece decoder: glue or space each token, then clean it alone
            text = "".join(_cleanup(t if i == 0 else t[2:] if t.startswith("##") else " " + t)
                           for i, t in enumerate(tokens))
        return _cleanup(text) if clean else text

    def batch_decode(self, sequences, skip_special_tokens: bool = False,
                     clean_up_tokenization_spaces: bool | None = None) -> list[str]:
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(s, skip_special_tokens, clean_up_tokenization_spaces) for s in sequences]

    def __repr__(self):
        return (f"WordPieceTokenizer(vocab_size={len(self)}, do_lower_case={self.do_lower_case}, "
                f"model_max_length={self.model_max_length}, reference={self.reference!r})")


# ---------------------------------------------------------------------- loading, checking, windows, tensors

def load_vocab(path) -> list[str]:
    """vocab.txt -> tokens in id order (line i holds the token with id i)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file {path} does not exist; pass a vocab.txt (one token per line)")
    return [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines(keepends=True)]


def _index(tokens: list[str], where) -> dict[str, int]:
    vocab = {}
    for i, token in enumerate(tokens):
        if token in vocab:
            raise ValueError(f"{where}: token {token!r} appears twice (lines {vocab[token] + 1} and {i + 1}); "
                             "every token must be unique")
        vocab[token] = i
    if not vocab:
        raise ValueError(f"{where} is empty; a vocabulary needs at least the special tokens")
    return vocab


def _check_text(text) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    return text


def _check_batch(batch, name) -> list[str]:
    if isinstance(batch, str):
        return [batch]
    if not isinstance(batch, (list, tuple)):
        raise TypeError(f"{name} must be a str or a list of str, got {type(batch).__name__}")
    for i, t in enumerate(batch):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, not str; every item of a batch must be "
                            "a str (drop or replace None before tokenizing)")
    return list(batch)


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


_CLEANUPS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
             (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def _cleanup(text: str) -> str:
    for dirty, clean in _CLEANUPS:
        text = text.replace(dirty, clean)
    return text


def _to_tensors(data: dict, kind: str) -> dict:
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
