"""Chinese -> English translation: data to batches, the training tasks, the variants, the pipeline.

Training is the shared loop (`minidistil.train.train`: checkpoints, exact resume, seeded batches)
on a task whose forward is teacher forcing: the encoder reads the Chinese, the decoder reads the
English shifted right once and predicts each next token, label-smoothed cross-entropy.

The variants (`TranslatorSettings.variant`) are the rows of Rothe et al.'s table, and one more:

| variant | encoder | decoder |
|---|---|---|
| `random` | random, the Chinese encoder's shape and vocabulary | random, the English teacher's shape |
| `decoder-warm` | random | the English encoder's layers (cross-attention new) |
| `warm` | the Chinese encoder (`minidistil.chinese.teacher_dir`) | the English encoder's layers |
| `student` | the `warm` translator's | its layers `decoder_layers` (default 0, 2, 5), distilled |

The English encoder (`english`) is the released all-MiniLM-L6-v2 by default, or the project's MLM
teacher built from it (`english="teacher"`). The student learns from the `warm` translator by word-level KD (KL between the teacher's and the
student's next-token distributions on every target position, times T^2, as the triple loss) and
sequence-level KD (Kim and Rush 2016: the teacher's beam-search translations of the training
sources replace the references as targets).

The levers on CPU time: an output vocabulary trimmed to the English tokens the training targets use
(`trim_vocab`; the projection onto 30,522 rows is most of a small decoder's step), fewer decoder
layers (`decoder_layers`), capped lengths (`max_source_length`, `max_target_length`), and the
key/value cache when generating. `python bench/translate_levers.py` times them.

    >>> folder = pretrained.translator_dir()   # built once per machine into the cache
    >>> translate = TranslationPipeline(folder)
    >>> translate(["打开文件"], num_beams=4)
    [{'translation_text': '...'}]
"""
from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .losses import IGNORE_INDEX, distillation_kl
from .seq2seq import (DistilBertEncoderDecoder, decoder_config_from, label_smoothed_cross_entropy, load_tokenizers,
                      read_as_distilbert, target_labels, warm_start)
from .tokenizer import WordPieceTokenizer
from .train import TrainConfig, train

VARIANTS = ("random", "decoder-warm", "warm", "student")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass(frozen=True)
class TranslatorSettings:
    variant: str = "warm"             # random | decoder-warm | warm | student (see the module doc)
    english: str = "minilm"           # the decoder's source: "minilm" (released all-MiniLM-L6-v2) or "teacher" (MLM-adapted, built first)
    decoder_layers: str = ""          # warm decoders: the layers kept, "0,2,5"; "" all (student default: "0,2,5")
    trim_vocab: bool = True           # output vocabulary: only the English tokens the training targets use
    max_source_length: int = 64       # tokens per source, [CLS] and [SEP] included; longer ones are cut
    max_target_length: int = 64       # tokens per target, the end token included
    max_steps: int = 2700             # optimizer steps, when minutes is 0 (bitwise reproducible with the seed)
    minutes: float = 0.0              # > 0: the steps that fit this many minutes, timed once on this machine
    batch_size: int = 32
    lr: float = 3e-4
    warmup: float = 0.05
    label_smoothing: float = 0.1      # Vaswani et al. 2017
    kd_alpha: float = 0.5             # student: weight of word-level KD; 1 - kd_alpha on cross-entropy
    kd_temperature: float = 1.0       # student: softening of both distributions (Kim and Rush use 1)
    seq_kd: bool = True               # student: train on the teacher's beam translations (sequence-level KD)
    seq_kd_beams: int = 4
    num_beams: int = 4                # evaluation decoding
    eval_sentences: int = 200         # validation sentences decoded at the end (0: all)
    save_every: int = 200             # steps between checkpoints (resume points)
    bf16: bool = False                # bfloat16 autocast (a GPU, or a CPU with bf16 matrix units)
    seed: int = 56

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.english not in ("teacher", "minilm"):
            raise ValueError(f"english must be 'teacher' or 'minilm', got {self.english!r}")
        if self.max_source_length < 3 or self.max_target_length < 2:
            raise ValueError("max_source_length must be >= 3 and max_target_length >= 2")
        if not 0.0 <= self.kd_alpha <= 1.0:
            raise ValueError(f"kd_alpha must be in [0, 1], got {self.kd_alpha}")
        layers(self.decoder_layers)

    def key(self) -> str:
        """Eight hex digits naming these settings (the folder of the build)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]

    def teacher(self) -> "TranslatorSettings":
        """The student's teacher: the `warm` translator with the default training settings."""
        return TranslatorSettings(variant="warm", english=self.english, trim_vocab=self.trim_vocab,
                                  max_source_length=self.max_source_length, max_target_length=self.max_target_length)


def layers(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(i) for i in text.split(",")) if text.strip() else None
    except ValueError:
        raise ValueError(f"decoder_layers is a comma-separated list of layer numbers like '0,2,5', got {text!r}") from None


# A GPU (`train-translator --preset gpu --device cuda`): about twenty passes over the 23,851 training
# pairs in bfloat16, lengths capped at 128 tokens instead of 64, on the Chinese encoder of the GPU
# preset (`chinese.PRESETS["gpu"]`); the CPU default reads the pairs about five times.
PRESETS = {"cpu": TranslatorSettings(),
           "gpu": TranslatorSettings(max_steps=4000, batch_size=128, lr=5e-4, max_source_length=128,
                                     max_target_length=128, bf16=True)}


# ------------------------------------------------------------------ text -> examples

def trim_vocabulary(tokenizer: WordPieceTokenizer, texts) -> tuple[WordPieceTokenizer, list[int]]:
    """A tokenizer holding only the special tokens and the tokens `texts` use, and the kept ids (in
    the old order, so [PAD] stays 0). Texts tokenize to the same tokens with it: each piece greedy
    longest-match chose was in the vocabulary, and no longer one was."""
    used = {tokenizer.vocab[t] for text in texts for t in tokenizer.tokenize(text)}
    used |= {tokenizer.vocab[t] for t in SPECIALS if t in tokenizer.vocab}
    keep = sorted(used)
    trimmed = WordPieceTokenizer(vocab=[tokenizer.ids_to_tokens[i] for i in keep],
                                 do_lower_case=tokenizer.do_lower_case, strip_accents=tokenizer.strip_accents,
                                 tokenize_chinese_chars=tokenizer.tokenize_chinese_chars)
    return trimmed, keep


class PairExamples:
    """Tokenized pairs for the training loop: `examples[i]` -> {"input_ids", "labels"}, `lengths` for
    length-grouped batches (the longer side: it decides the padded cost)."""

    def __init__(self, sources: list[np.ndarray], labels: list[np.ndarray]):
        self.sources, self.labels = sources, labels
        self.lengths = np.array([max(len(s), len(t)) for s, t in zip(sources, labels)], dtype=np.int64)

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, i):
        return {"input_ids": self.sources[i], "labels": self.labels[i]}


def encode_sources(tokenizer, texts, max_length: int) -> list[np.ndarray]:
    rows = tokenizer(list(texts), truncation=True, max_length=max_length, return_token_type_ids=False)["input_ids"]
    return [np.asarray(r, dtype=np.int64) for r in rows]


def encode_targets(tokenizer, texts, max_length: int) -> list[np.ndarray]:
    """English -> labels [y1 .. yn, [SEP]] (the start token dropped: the model puts it in front)."""
    rows = tokenizer(list(texts), truncation=True, max_length=max_length + 1, return_token_type_ids=False)["input_ids"]
    return [np.asarray(r, dtype=np.int64) for r in target_labels(rows, tokenizer.cls_token_id, tokenizer.sep_token_id)]


def collate_pairs(examples: list[dict], pad_id: int = 0) -> dict[str, torch.Tensor]:
    """Sources padded with pad_id (attention_mask 1 real, 0 pad); labels padded with -100."""
    S = max(len(e["input_ids"]) for e in examples)
    T = max(len(e["labels"]) for e in examples)
    ids = torch.full((len(examples), S), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), T), IGNORE_INDEX, dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, :len(e["input_ids"])] = torch.as_tensor(e["input_ids"])
        labels[i, :len(e["labels"])] = torch.as_tensor(e["labels"])
    mask = (torch.arange(S)[None, :] < torch.tensor([len(e["input_ids"]) for e in examples])[:, None]).long()
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


# ------------------------------------------------------------------ the tasks

class TranslationTask(nn.Module):
    """Teacher forcing: {"loss": label-smoothed CE, "nll": plain CE} on the real target tokens."""

    def __init__(self, model: DistilBertEncoderDecoder, label_smoothing: float = 0.1):
        super().__init__()
        self.model, self.label_smoothing = model, label_smoothing

    def forward(self, batch: dict) -> dict:
        out = self.model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"],
                         label_smoothing=self.label_smoothing)
        with torch.no_grad():
            nll = label_smoothed_cross_entropy(out.logits, batch["labels"]) if self.label_smoothing else out.loss
        return {"loss": out.loss, "nll": nll.detach()}


class DistilledTranslationTask(nn.Module):
    """Word-level KD: (1 - alpha) CE(student, targets) + alpha KL(teacher/T || student/T) T^2 over
    the real target positions, the teacher reading the same source and target prefix. The teacher
    is kept out of the module tree, as in `minidistil.distill`: not trained, not checkpointed,
    always in eval mode."""

    def __init__(self, student, teacher, alpha: float = 0.5, temperature: float = 1.0, label_smoothing: float = 0.1):
        super().__init__()
        if student.config.decoder.vocab_size != teacher.config.decoder.vocab_size:
            raise ValueError("student and teacher must share the target vocabulary")
        self.model, self.alpha, self.temperature, self.label_smoothing = student, alpha, temperature, label_smoothing
        object.__setattr__(self, "teacher", teacher.eval().requires_grad_(False))

    def forward(self, batch: dict) -> dict:
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        out = self.model(ids, mask, labels=labels, label_smoothing=self.label_smoothing)
        real = labels != IGNORE_INDEX
        kd = torch.zeros((), device=ids.device)
        if self.alpha > 0:
            with torch.no_grad():
                t_logits = self.teacher(ids, mask, labels=labels).logits
            kd = distillation_kl(out.logits[real], t_logits[real], self.temperature)
        loss = (1 - self.alpha) * out.loss + self.alpha * kd
        return {"loss": loss, "ce": out.loss.detach(), "kd": kd.detach()}


# ------------------------------------------------------------------ translating

def detokenize(text: str, source: str = "") -> str:
    """The uncased English vocabulary writes lower case and splits printf specifiers ("% s"). Undo
    what can be undone without a model: "% s" -> "%s", a word that also stands in the (Chinese)
    source in Latin letters takes the source's case ("basic" -> "BASIC", "calc" -> "Calc"), and
    the first letter goes up.

    >>> detokenize("cannot close basic while % s runs.", "%s 运行时无法关闭 BASIC。")
    'Cannot close BASIC while %s runs.'
    """
    text = re.sub(r"% ([a-z]{1,2})\b", r"%\1", text)
    cased = {w.lower(): w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", source)}
    text = re.sub(r"[A-Za-z][A-Za-z0-9]*", lambda m: cased.get(m.group(0).lower(), m.group(0)), text)
    return text[:1].upper() + text[1:]


@torch.no_grad()
def translate_texts(model, source_tokenizer, target_tokenizer, texts: list[str], *, num_beams: int = 4,
                    max_length: int = 64, batch_size: int = 16, max_source_length: int | None = None) -> list[str]:
    """Chinese texts -> English strings, in length-sorted batches. Empty or blank texts give "";
    texts longer than the encoder's positions (or max_source_length) are cut, with one warning."""
    from .generate import check_generation_args, generate
    check_generation_args(model, num_beams, max_length)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    limit = min(max_source_length or 10**9, model.config.encoder.max_position_embeddings)
    with warnings.catch_warnings():  # the tokenizer's own "longer than the model" warning: ours below says it once
        warnings.filterwarnings("ignore", message="Token indices sequence length is longer")
        rows = source_tokenizer([t if t.strip() else "" for t in texts], truncation=False,
                                return_token_type_ids=False)["input_ids"]
    if any(len(r) > limit for r in rows):
        n = sum(len(r) > limit for r in rows)
        warnings.warn(f"{n} text(s) longer than {limit} tokens were cut to {limit}; split long texts into sentences")
        rows = [r[:limit - 1] + [r[-1]] if len(r) > limit else r for r in rows]
    out = [""] * len(texts)
    todo = [i for i, t in enumerate(texts) if t.strip()]
    warn_unknown(source_tokenizer, [rows[i] for i in todo])
    from .limits import check_generation
    check_generation(model, num_beams, max_length, texts=min(batch_size, len(todo)),
                     source_length=max((len(rows[i]) for i in todo), default=0),
                     device=str(next(model.parameters()).device))
    todo.sort(key=lambda i: -len(rows[i]))
    device = next(model.parameters()).device
    pad = source_tokenizer.pad_token_id
    for start in range(0, len(todo), batch_size):
        chunk = todo[start:start + batch_size]
        batch = collate_pairs([{"input_ids": rows[i], "labels": [0]} for i in chunk], pad)
        seqs = generate(model, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                        num_beams=num_beams, max_length=max_length)
        for i, seq in zip(chunk, seqs.tolist()):
            out[i] = detokenize(target_tokenizer.decode(seq, skip_special_tokens=True), texts[i])
    return out


UNKNOWN_SHARE = 0.5  # a text whose source pieces are more than this share [UNK] is warned about


def warn_unknown(tokenizer, rows: list[list[int]]) -> None:
    """One warning for the texts whose word pieces are mostly [UNK] (emoji, a script the encoder's
    vocabulary lacks): the translation of such a text is made up from almost nothing."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    n = 0
    for row in rows:
        pieces = [i for i in row if i not in special]
        n += bool(pieces) and sum(i == tokenizer.unk_token_id for i in pieces) > UNKNOWN_SHARE * len(pieces)
    if n:
        warnings.warn(f"{n} text(s) are mostly {tokenizer.unk_token} (more than {UNKNOWN_SHARE:.0%} of their pieces "
                      f"are not in the translator's vocabulary, as with emoji or another script); their "
                      f"translations say little", UserWarning, stacklevel=3)


class TranslationPipeline:
    """transformers' translation pipeline call shape: `pipe("…")` or `pipe([...], num_beams=4,
    max_length=64, batch_size=8)` -> `[{"translation_text": "…"}, ...]`. `model` is a translator
    folder, or a loaded DistilBertEncoderDecoder with `tokenizers=(source, target)`."""

    task = "translation_zh_to_en"

    def __init__(self, model, tokenizers=None, batch_size: int = 8, max_length: int | None = None,
                 device: str = "cpu"):
        self.defaults = {}
        if isinstance(model, (str, Path)):
            folder = Path(model)
            model = DistilBertEncoderDecoder.from_pretrained(folder)
            tokenizers = tokenizers or load_tokenizers(folder)
            if (folder / "translator.json").is_file():
                from .tokenizer.api import read_json
                self.defaults = read_json(folder / "translator.json")
        if not isinstance(model, DistilBertEncoderDecoder) or tokenizers is None:
            raise ValueError("pass a translator folder, or a DistilBertEncoderDecoder with tokenizers=(source, target)")
        self.model = model.to(device).eval()
        self.source_tokenizer, self.target_tokenizer = tokenizers
        self.batch_size, self.max_length = batch_size, max_length

    def __call__(self, texts, num_beams: int | None = None, max_length: int | None = None,
                 batch_size: int | None = None) -> list[dict]:
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"translate a string or a list of strings, got {type(texts).__name__}")
        for n, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"translate a string or a list of strings, but item {n} of the list is "
                                f"{type(text).__name__} {text!r:.40}")
        # `is None`, not `or`: num_beams=0 is a mistake to report, not a request for the default.
        if max_length is None:
            max_length = self.max_length if self.max_length is not None else self.defaults.get("max_target_length", 64) + 1
        if num_beams is None:
            num_beams = self.defaults.get("num_beams", 4)
        outputs = translate_texts(self.model, self.source_tokenizer, self.target_tokenizer, list(texts),
                                  num_beams=num_beams, max_length=max_length,
                                  batch_size=self.batch_size if batch_size is None else batch_size,
                                  max_source_length=self.defaults.get("max_source_length"))
        return [{"translation_text": t} for t in outputs]


# ------------------------------------------------------------------ building a variant

def build_model(settings: TranslatorSettings, target_tokenizer, keep_ids, *, encoder_folder=None,
                decoder_folder=None, teacher=None) -> DistilBertEncoderDecoder:
    """The untrained model of a variant (see the table in the module doc). Random parts take the
    shapes of the folders they would otherwise be read from."""
    if settings.variant == "student":
        return make_student(teacher, layers(settings.decoder_layers) or (0, 2, 5))
    keep_layers = layers(settings.decoder_layers)
    if settings.variant == "warm":
        encoder = dict(encoder_folder=encoder_folder)
    else:
        encoder = dict(encoder_config=read_as_distilbert(encoder_folder)[0])
    if settings.variant == "random":
        shape = decoder_config_from(read_as_distilbert(decoder_folder)[0])
        if keep_layers:
            shape = replace(shape, num_hidden_layers=len(keep_layers))
        decoder = dict(decoder_config=shape)
    else:
        decoder = dict(decoder_folder=decoder_folder, decoder_layers=keep_layers)
    return warm_start(**encoder, **decoder, target_keep_ids=keep_ids, start_id=target_tokenizer.cls_token_id,
                      eos_id=target_tokenizer.sep_token_id, pad_id=target_tokenizer.pad_token_id, seed=settings.seed)


def make_student(teacher: DistilBertEncoderDecoder, decoder_layers: tuple[int, ...]) -> DistilBertEncoderDecoder:
    """The teacher's encoder, embeddings and head, and its decoder layers `decoder_layers` (cross-attention
    included), as DistilBERT's student takes one teacher layer out of two."""
    n = teacher.config.decoder.num_hidden_layers
    if not all(0 <= i < n for i in decoder_layers):
        raise ValueError(f"decoder_layers {decoder_layers} must be layers of the teacher's {n}-layer decoder")
    config = replace(teacher.config, decoder=replace(teacher.config.decoder, num_hidden_layers=len(decoder_layers)))
    student = DistilBertEncoderDecoder(config)
    state = {}
    for key, value in teacher.state_dict().items():
        m = re.match(r"decoder\.bert\.encoder\.layer\.(\d+)\.(.*)", key)
        if m is None:
            state[key] = value
        elif int(m.group(1)) in decoder_layers:
            state[f"decoder.bert.encoder.layer.{decoder_layers.index(int(m.group(1)))}.{m.group(2)}"] = value
    student.load_state_dict(state, strict=True)
    student.decoder.tie_weights()
    return student.train()


def sequence_kd_targets(teacher, source_rows: list[np.ndarray], target_tokenizer, *, num_beams: int,
                        max_length: int, cache: Path | None = None, batch_size: int = 32,
                        progress: bool = True) -> list[np.ndarray]:
    """Kim and Rush's sequence-level KD: the teacher's beam translation of every training source, as
    labels [y1 .. yn, [SEP]]. Sources are decoded longest first (batches of similar length pad
    little); each batch is appended to `cache` (JSON lines of [index, labels]) as it finishes, so an
    interrupted run resumes where it stopped."""
    from tqdm.auto import tqdm
    from .generate import generate
    done: dict[int, list[int]] = {}
    if cache is not None and cache.is_file():
        done = dict(json.loads(line) for line in cache.read_text().splitlines() if line.strip())
    todo = sorted((i for i in range(len(source_rows)) if i not in done), key=lambda i: -len(source_rows[i]))
    pad, eos = target_tokenizer.pad_token_id, target_tokenizer.sep_token_id
    device = next(teacher.parameters()).device
    bar = tqdm(total=len(source_rows), initial=len(done), unit="sent", desc="teacher beams", disable=not progress)
    with torch.no_grad():
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            batch = collate_pairs([{"input_ids": source_rows[i], "labels": [0]} for i in chunk])
            seqs = generate(teacher, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                            num_beams=num_beams, max_length=max_length)
            for i, seq in zip(chunk, seqs.tolist()):
                seq = [t for t in seq[1:] if t != pad]
                done[i] = seq if seq and seq[-1] == eos else seq + [eos]
            if cache is not None:
                with open(cache, "a") as f:
                    f.writelines(json.dumps([i, done[i]]) + "\n" for i in chunk)
            bar.update(len(chunk))
    bar.close()
    return [np.asarray(done[i], dtype=np.int64) for i in range(len(source_rows))]


def seconds_per_step(task, data, settings: TranslatorSettings, steps: int = 5) -> float:
    """Seconds per optimizer step, timed on the first `steps` batches the run will train on (after one
    warm-up step); the weights are put back, so timing does not train."""
    from .batching import LengthGroupedBatches
    from .train import make_optimizer
    optimizer = make_optimizer(task, TrainConfig(lr=settings.lr))
    batches = LengthGroupedBatches(data.lengths, settings.batch_size, settings.seed)
    device = next(task.parameters()).device
    state = {k: v.clone() for k, v in task.state_dict().items()}
    task.train()
    for s in range(steps + 1):
        if s == 1:
            start = time.perf_counter()
        batch = collate_pairs([data[int(i)] for i in batches.batch(s)])
        task({k: v.to(device) for k, v in batch.items()})["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    elapsed = (time.perf_counter() - start) / steps
    task.load_state_dict(state)
    return elapsed


def train_translator(settings: TranslatorSettings, out_dir, *, encoder_folder=None, decoder_folder=None,
                     teacher_folder=None, records: dict | None = None, progress: bool = True, device: str = "cpu") -> dict:
    """Train one variant into `out_dir` (model/, checkpoint.pt, metrics.jsonl, plan.json, results.json);
    run again to resume. encoder_folder: the Chinese encoder (its vocabulary and shape; its weights
    for `warm`); decoder_folder: the English BERT/DistilBERT (vocabulary and shape; weights unless
    `random`); teacher_folder: the student's teacher translator. `records` ({"train": [...],
    "validation": [...]}, each {"zh", "en", "source"}) defaults to `minidistil.data.parallel.pairs`.
    `minidistil.pretrained.translator_folders(settings)` gives the cached default folders."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if records is None:
        from .data import parallel
        records = {"train": parallel.pairs("train"), "validation": parallel.pairs("validation")}
    teacher = None
    needed = {"teacher_folder": teacher_folder} if settings.variant == "student" else \
        {"encoder_folder": encoder_folder, "decoder_folder": decoder_folder}
    missing = [name for name, value in needed.items() if value is None]
    if missing:
        raise ValueError(f"the {settings.variant} variant needs {' and '.join(missing)}; "
                         f"minidistil.pretrained.translator_folders(settings) gives the cached defaults")
    if settings.variant == "student":
        teacher = DistilBertEncoderDecoder.from_pretrained(teacher_folder).to(device)
        source_tok, target_tok = load_tokenizers(teacher_folder)
        keep = None
    else:
        encoder_folder, decoder_folder = Path(encoder_folder), Path(decoder_folder)
        source_tok = WordPieceTokenizer.from_pretrained(encoder_folder)
        target_tok = WordPieceTokenizer.from_pretrained(decoder_folder)
        keep = None
        if settings.trim_vocab:
            target_tok, keep = trim_vocabulary(target_tok, [r["en"] for r in records["train"]])
    train_src = encode_sources(source_tok, [r["zh"] for r in records["train"]], settings.max_source_length)
    train_tgt = encode_targets(target_tok, [r["en"] for r in records["train"]], settings.max_target_length)
    if settings.variant == "student" and settings.seq_kd:
        train_tgt = sequence_kd_targets(teacher, train_src, target_tok, num_beams=settings.seq_kd_beams,
                                        max_length=settings.max_target_length + 1, cache=out / "seq_kd.jsonl",
                                        progress=progress)
    data = PairExamples(train_src, train_tgt)
    torch.manual_seed(settings.seed)
    model = build_model(settings, target_tok, keep, encoder_folder=encoder_folder,
                        decoder_folder=decoder_folder, teacher=teacher).to(device)
    task = (DistilledTranslationTask(model, teacher, settings.kd_alpha, settings.kd_temperature, settings.label_smoothing)
            if settings.variant == "student" else TranslationTask(model, settings.label_smoothing))
    max_steps = plan_steps(settings, task, data, out)
    config = TrainConfig(out_dir=str(out), max_steps=max_steps, batch_size=settings.batch_size, lr=settings.lr,
                         warmup=settings.warmup, seed=settings.seed, bf16=settings.bf16, progress=progress,
                         save_every=min(settings.save_every, max_steps), log_every=10)
    started = time.perf_counter()
    result = train(task, data, config, collate_fn=lambda ex: collate_pairs(ex, source_tok.pad_token_id))
    train_seconds = time.perf_counter() - started
    model.eval()
    model.save_pretrained(out / "model", source_tok, target_tok)
    (out / "model" / "translator.json").write_text(json.dumps({**asdict(settings), "key": settings.key()}, indent=2))
    report = {"settings": asdict(settings), "max_steps": max_steps, "train_seconds": round(train_seconds, 1),
              "train_pairs": len(data), "target_vocab": model.config.decoder.vocab_size,
              "parameters": sum(p.numel() for p in model.parameters()), "last": result}
    report.update(evaluate(model, source_tok, target_tok, records["validation"], settings))
    (out / "results.json").write_text(json.dumps(report, indent=2))
    return report


def plan_steps(settings: TranslatorSettings, task, data, out: Path) -> int:
    """max_steps, or with `minutes` the steps that fit, timed once and written to plan.json so that a
    resumed run keeps the same schedule."""
    plan = out / "plan.json"
    if plan.is_file():
        return json.loads(plan.read_text())["max_steps"]
    steps = settings.max_steps
    if settings.minutes > 0:
        per_step = seconds_per_step(task, data, settings)
        steps = max(1, int(settings.minutes * 60 / per_step))
        plan.write_text(json.dumps({"max_steps": steps, "seconds_per_step": per_step}))
    return steps


def evaluate(model, source_tok, target_tok, records: list[dict], settings: TranslatorSettings) -> dict:
    """Decode the first `eval_sentences` held-out records; BLEU/chrF with sacrebleu when installed."""
    records = records[:settings.eval_sentences] if settings.eval_sentences else records
    if not records:
        return {}
    start = time.perf_counter()
    hyps = translate_texts(model, source_tok, target_tok, [r["zh"] for r in records], num_beams=settings.num_beams,
                           max_length=settings.max_target_length + 1, max_source_length=settings.max_source_length)
    seconds = time.perf_counter() - start
    result = {"eval_sentences": len(records), "sentences_per_second": round(len(records) / seconds, 2),
              "examples": [{"zh": r["zh"], "en": r["en"], "model": h} for r, h in list(zip(records, hyps))[:5]]}
    try:
        from .bleu import corpus_scores
        scores = corpus_scores(hyps, [r["en"] for r in records])
        result.update(bleu=round(float(scores.bleu), 2), bleu_ci=round(float(scores.bleu_ci), 2),
                      chrf=round(float(scores.chrf), 2), chrf_ci=round(float(scores.chrf_ci), 2), bleu_signature=scores.bleu_signature,
                      chrf_signature=scores.chrf_signature)
    except ImportError as e:
        result["scores"] = str(e)
    return result


# ------------------------------------------------------------------ where a variant is cached

def translator_root(settings: TranslatorSettings = TranslatorSettings(), encoder_settings=None) -> Path:
    """`<cache>/translators/<variant>-<key>-zh<encoder key>`: the folder of the translator built with
    `settings` on the Chinese encoder built with `encoder_settings` (a `chinese.ChineseSettings`;
    default `chinese.TEACHER`), built by `minidistil.pretrained.translator_dir`, above the recipe.
    The encoder's key is part of the name, so that a translator is never reused over an encoder it was
    not trained on, also when the default encoder changes."""
    from .cache import cache_dir
    from .chinese import TEACHER
    encoder = encoder_settings if encoder_settings is not None else TEACHER
    return cache_dir() / "translators" / f"{settings.variant}-{settings.key()}-zh{encoder.key()}"


REBUILD = "delete the folder and run `python -m minidistil train-translator` again"
