"""WordPieceTokenizer: BERT's tokenizer with Hugging Face's call API, in plain Python.

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"]
    >>> tok = WordPieceTokenizer(vocab=vocab)
    >>> tok("Unaffable!", "un")["input_ids"], tok.tokenize("unaffable")
    ([2, 5, 6, 7, 8, 3, 5, 3], ['un', '##aff', '##able'])
    >>> tok.decode([2, 5, 6, 7, 8, 3], skip_special_tokens=True)
    'unaffable!'

Text -> ids is `CachedEncoder` (cached.py: BERT's stages, made fast). This file adds the call API:
special tokens typed in the text, single texts, batches and pairs, decoding, and loading / saving a
folder that `transformers` also reads; rows.py lays the pieces out into model rows.

The ids are those of `transformers.BertTokenizer` (the Rust `tokenizers` backend); pass
`reference="legacy"` to match `BertTokenizerLegacy` instead where the two differ (see chars.py).
"""
from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

from .cached import CachedEncoder
from .rows import Encoding, build_row, pad_rows, resolve_options, to_tensors, truncate

SPECIAL_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# What each special token is needed for, said when a vocabulary lacks it.
_NEEDED_FOR = {"sep_token": "add special tokens (or pass add_special_tokens=False)",
               "cls_token": "add special tokens (or pass add_special_tokens=False)",
               "pad_token": "pad rows to one length", "mask_token": "mask tokens"}
# What a tokenizer folder may hold (ours writes the first, third and fourth; transformers' fast one adds the second).
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def copy_tokenizer_files(source_dir, folder) -> None:
    """Copy the tokenizer files `source_dir` has into `folder`, so that a model folder stands alone."""
    for name in TOKENIZER_FILES:
        if (Path(source_dir) / name).is_file():
            shutil.copy(Path(source_dir) / name, Path(folder) / name)


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer. `vocab_file` is a vocab.txt (one token per line, line number = id).

    Only [UNK] must be in the vocabulary. Without [PAD] or [MASK] (google-research/bert's test
    vocabulary has neither) text still tokenizes; asking for padding, or for `mask_token_id`, then
    raises a ValueError. Hugging Face appends such tokens with new ids past the vocabulary instead,
    ids that a model of that vocabulary size cannot embed.
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
        if unk_token not in self.vocab:
            raise ValueError(f"the vocabulary lacks the unknown token {unk_token!r}, which WordPiece needs "
                             "for words it cannot split; add it to vocab.txt")
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.all_special_tokens = [t for t in (cls_token, sep_token, pad_token, unk_token, mask_token)
                                   if t in self.vocab]
        self.all_special_ids = [self.vocab[t] for t in self.all_special_tokens]
        self.do_lower_case, self.strip_accents = do_lower_case, strip_accents
        self.tokenize_chinese_chars, self.reference = tokenize_chinese_chars, reference
        self.model_max_length = model_max_length
        self.never_split = sorted(set(never_split or ()))
        # Rust cleans spaces token by token inside its decoder and not again; legacy cleans the
        # joined string by default (see `decode`).
        self.clean_up_tokenization_spaces = (reference == "legacy") if clean_up_tokenization_spaces is None \
            else clean_up_tokenization_spaces
        self.encoder = CachedEncoder(self.vocab, unk_token, do_lower_case, strip_accents, tokenize_chinese_chars,
                                     max_input_chars_per_word, reference)
        # Special tokens typed in the text ("a [MASK] b") are matched exactly, before any
        # normalization, as both Hugging Face tokenizers do; never_split words only between spaces.
        alternatives = sorted(self.all_special_tokens, key=len, reverse=True)
        pattern = "|".join(map(re.escape, alternatives))
        if self.never_split:
            pattern += "|(?<!\\S)(?:" + "|".join(map(re.escape, self.never_split)) + ")(?!\\S)"
        self._special_re = re.compile(pattern)
        self._warned_too_long = False

    # ------------------------------------------------------------------ special token ids

    def _special_id(self, name: str) -> int:
        token = getattr(self, name)
        if token not in self.vocab:
            raise ValueError(f"the vocabulary has no {name} {token!r}, which is needed to {_NEEDED_FOR[name]}; "
                             "add it to vocab.txt")
        return self.vocab[token]

    unk_token_id = property(lambda self: self._special_id("unk_token"))
    sep_token_id = property(lambda self: self._special_id("sep_token"))
    pad_token_id = property(lambda self: self._special_id("pad_token"))
    cls_token_id = property(lambda self: self._special_id("cls_token"))
    mask_token_id = property(lambda self: self._special_id("mask_token"))

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
                config.update(read_json(folder / name))
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
        unk = self.unk_token_id
        if isinstance(tokens, str):
            return self.vocab.get(tokens, unk)
        return [self.vocab.get(t, unk) for t in tokens]

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
                 return_offsets_mapping: bool = False, return_length: bool = False,
                 verbose: bool = True) -> Encoding:
        """Encode a text, a batch of texts, or pairs (text, text_pair), as transformers does.

        padding: False | True / "longest" | "max_length" (to max_length or model_max_length).
        truncation: None / False | True / "longest_first" | "only_first" | "only_second"; with
        max_length set and neither padding nor truncation given, "longest_first" (as in HF).
        stride + return_overflowing_tokens: the truncated-away tokens come back as extra rows that
        overlap the previous window by `stride` tokens; "overflow_to_sample_mapping" says which
        input each row came from (question answering over long contexts).
        verbose=False: no warning for a row longer than model_max_length (corpus preparation and
        the pipelines encode whole documents on purpose, then cut them themselves).
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
        options = resolve_options(padding, truncation, max_length, stride, pad_to_multiple_of,
                                  add_special_tokens, return_overflowing_tokens, pairs is not None,
                                  self.model_max_length)
        rows, samples = self._rows(texts, pairs, options, details=return_offsets_mapping,
                                   offsets=return_offsets_mapping)
        if options.max_length is None and verbose:
            self._warn_if_too_long(rows)

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
            data = to_tensors(data, return_tensors)

        def recompute():  # word ids on demand: the same rows again, this time with word ids
            again, _ = self._rows(texts, pairs, options, details=True, offsets=False)
            return Encoding({}, [r["word_ids"] for r in again], [r["sequence_ids"] for r in again])
        return Encoding(data, word_ids, sequence_ids, recompute)

    def _rows(self, texts, pairs, options, details: bool, offsets: bool):
        pad_id = self.pad_token_id if options.padding else None  # fails now, before any work, if absent
        cls_id, sep_id = (self.cls_token_id, self.sep_token_id) if options.add_special_tokens else (None, None)
        rows, samples = [], []
        for i, a in enumerate(texts):
            first = self._pieces(a, details, offsets)
            second = self._pieces(pairs[i], details, offsets) if pairs is not None else None
            windows = truncate(first, second, options)
            rows += [build_row(w1, w2, cls_id, sep_id) for w1, w2 in windows]
            samples += [i] * len(windows)
        return pad_rows(rows, options, pad_id), samples

    def _warn_if_too_long(self, rows) -> None:
        """Warn once per tokenizer, as transformers does, when a row will not fit the model."""
        limit = self.model_max_length
        if self._warned_too_long or not limit:
            return
        longest = max((len(row["input_ids"]) for row in rows), default=0)
        if longest > limit:
            self._warned_too_long = True
            warnings.warn(f"Token indices sequence length is longer than the specified maximum sequence length "
                          f"for this model ({longest} > {limit}). Running this sequence through the model will "
                          "result in indexing errors; pass truncation=True to cut it", stacklevel=3)

    def _pieces(self, text: str, details: bool, offsets: bool = True):
        """(ids, offsets, word ids) of one text without special tokens; None lists when not `details`."""
        encoder, special = self.encoder, self._special_re
        if special.search(text) is None:
            if not details:
                return encoder.ids(text), None, None
            ids, spans, words, _ = encoder.encode(text, offsets=offsets)
            return ids, spans, words
        ids, spans, words, pos, w = [], [], [], 0, 0
        for m in special.finditer(text):  # each special token is a word of its own
            part = encoder.encode(text[pos:m.start()], pos, w, offsets=details and offsets)
            ids += part[0]
            spans += part[1]
            words += part[2]
            ids.append(self.vocab.get(m.group(), self.unk_token_id))
            spans.append(m.span())
            words.append(w + part[3])
            w += part[3] + 1
            pos = m.end()
        part = encoder.encode(text[pos:], pos, w, offsets=details and offsets)
        return ids + part[0], spans + part[1], words + part[2]

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


# ---------------------------------------------------------------------- loading and checking

def load_vocab(path) -> list[str]:
    """vocab.txt -> tokens in id order (line i holds the token with id i)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file {path} does not exist; pass a vocab.txt (one token per line)")
    from minidistil.utils import textio
    return [line.rstrip("\n") for line in textio.read_text(path).splitlines(keepends=True)]


def read_json(path: Path) -> dict:
    """A tokenizer settings file: a JSON object, or one sentence naming the file."""
    from minidistil.utils import textio
    try:
        value = json.loads(textio.decode(path.read_bytes(), str(path), fix="the file is damaged (this program "
                                         "writes UTF-8); copy it again from the folder the model was saved in"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}): the file is cut or damaged; copy it again from "
                         f"the folder the model was saved in, or save the tokenizer again") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {type(value).__name__}, not the object of settings it should")
    return value


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


_CLEANUPS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
             (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def _cleanup(text: str) -> str:
    for dirty, clean in _CLEANUPS:
        text = text.replace(dirty, clean)
    return text
