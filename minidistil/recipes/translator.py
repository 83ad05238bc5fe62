"""The default translators: their settings, their build into the data cache, and where each is cached.

The variants (`TranslatorSettings.variant`) are the rows of Rothe et al.'s table, and one more:

| variant | encoder | decoder |
|---|---|---|
| `random` | random, the Chinese encoder's shape and vocabulary | random, the English teacher's shape |
| `decoder-warm` | random | the English encoder's layers (cross-attention new) |
| `warm` | the Chinese encoder (`minidistil.recipes.pretrained.chinese_dir`) | the English encoder's layers |
| `student` | the `warm` translator's | its layers `decoder_layers` (default 0, 2, 5), distilled |

The English encoder (`english`) is the released all-MiniLM-L6-v2 by default, or the project's MLM
teacher built from it (`english="teacher"`). The training pieces are in `minidistil.training.translate`.

The levers on CPU time: an output vocabulary trimmed to the English tokens the training targets use
(`trim_vocab`; the projection onto 30,522 rows is most of a small decoder's step), fewer decoder
layers (`decoder_layers`), capped lengths (`max_source_length`, `max_target_length`), and the
key/value cache when generating. `python bench/translate_levers.py` times them.

    >>> folder = pretrained.translator_dir()   # built once per machine into the cache
    >>> translate = pipeline("translation_zh_to_en", model=folder)
    >>> translate(["打开文件"], num_beams=4)
    [{'translation_text': '...'}]
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from minidistil.data.batching import collate_pairs
from minidistil.data.english import TRUECASE_FILE, Truecaser
from minidistil.nn.seq2seq import DistilBertEncoderDecoder, load_tokenizers
from minidistil.data import sources
from minidistil.recipes import defaults
from minidistil.recipes.chinese import PRESETS as ENCODER_PRESETS, ChineseSettings
from minidistil.recipes.defaults import BuildSettings
from minidistil.recipes.teacher import TeacherSettings
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.training.train import TrainConfig, model_weights, train
from minidistil.training.translate import (DistilledTranslationTask, PairExamples, TranslationTask, build_model,
                                           encode_sources, encode_targets, evaluate, layers, make_student,
                                           seconds_per_step, sequence_kd_targets, set_dropout, translator_generation_config,
                                           trim_vocabulary)

VARIANTS = ("random", "decoder-warm", "warm", "student")
CORPORA = ("zh-en", "software")


def corpus_records(name: str) -> dict[str, list[dict]]:
    """{"train": [...], "validation": [...]} of the named corpus (each record {"zh", "en", "source", ...})."""
    if name == "software":
        from minidistil.data import parallel
        return {"train": parallel.pairs("train"), "validation": parallel.pairs("validation")}
    from minidistil.data import zh_en_corpus
    return {"train": zh_en_corpus.pairs("train"), "validation": zh_en_corpus.pairs("validation")}


# The translator's Chinese encoder: the transfer route (the English encoder's body, each Chinese character's
# embedding started at its CC-CEDICT gloss) after 100 MLM steps instead of the 1,500 of `chinese.TEACHER`.
# A better Chinese encoder did not make a better translator (RESULTS.md: chrF -0.9 on the MLM teacher
# of 1,500 steps), so the build's minutes go to translation, which trains the encoder end to end.
ENCODER = ChineseSettings(max_steps=100)


@dataclass(frozen=True)
class TranslatorSettings(BuildSettings):
    encoder: ChineseSettings = field(default=ENCODER, metadata={"flags": False})  # the Chinese encoder it reads with
    variant: str = "warm"             # random | decoder-warm | warm | student (see the module doc)
    english: str = "minilm"           # the decoder's source: "minilm" (released all-MiniLM-L6-v2) or "teacher" (MLM-adapted, built first)
    decoder_layers: str = ""          # warm decoders: the layers kept, "0,2,5"; "" all (student default: "0,2,5")
    corpus: str = "zh-en"             # "zh-en": every source of minidistil.data.zh_en_corpus; "software": the three of data.parallel
    trim_vocab: bool = True           # output vocabulary: only the English tokens the training targets use
    max_source_length: int = 128      # tokens per source, [CLS] and [SEP] included; longer ones are cut
    max_target_length: int = 128      # tokens per target, the end token included
    max_steps: int = 2400             # optimizer steps, when minutes is 0 (bitwise reproducible with the seed)
    minutes: float = 0.0              # > 0: the steps that fit this many minutes, timed once on this machine
    max_tokens: int = 1024            # > 0: batches of up to this many padded tokens per side (many UI strings, few paragraphs); 0: batch_size pairs
    batch_size: int = 32              # pairs per step when max_tokens is 0
    lr: float = 3e-4
    warmup: float = 0.05
    label_smoothing: float = 0.1      # Vaswani et al. 2017
    dropout: float | None = None      # every dropout of encoder and decoder (hidden and attention); None keeps the checkpoints' 0.1
    kd_alpha: float = 0.5             # student: weight of word-level KD; 1 - kd_alpha on cross-entropy
    kd_temperature: float = 1.0       # student: softening of both distributions (Kim and Rush use 1)
    seq_kd: bool = True               # student: train on the teacher's beam translations (sequence-level KD)
    seq_kd_beams: int = 4
    num_beams: int = 4                # evaluation decoding
    eval_sentences: int = 200         # validation sentences decoded at the end (0: all)
    save_every: int = 200             # steps between checkpoints (resume points)
    keep_every: int = 400             # steps between kept snapshots of the weights (the chrF-against-minutes curve, checkpoint averaging); 0: none
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
        if self.corpus not in CORPORA:
            raise ValueError(f"corpus must be one of {', '.join(CORPORA)}, got {self.corpus!r}")
        if self.max_tokens and self.max_tokens < max(self.max_source_length, self.max_target_length):
            raise ValueError(f"max_tokens={self.max_tokens} cannot hold one pair of max_source_length="
                             f"{self.max_source_length} / max_target_length={self.max_target_length} tokens; raise it")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) or None, got {self.dropout}")
        layers(self.decoder_layers)

    def key_fields(self) -> dict:
        fields = asdict(self)
        if self.dropout is None:  # added after translators were cached: at its default it leaves their keys as they were
            del fields["dropout"]
        return fields

    def key_inputs(self) -> dict:
        # The encoder by its key: a translator is never reused over an encoder it was not trained on.
        return {"encoder": self.encoder.key()}

    def teacher(self) -> "TranslatorSettings":
        """The student's teacher: the `warm` translator with the default training settings."""
        return TranslatorSettings(encoder=self.encoder, variant="warm", english=self.english, trim_vocab=self.trim_vocab,
                                  corpus=self.corpus, max_source_length=self.max_source_length,
                                  max_target_length=self.max_target_length)


# A GPU (`train-translator --preset gpu --device cuda`): about twenty passes over the 23,851 training
# pairs in bfloat16, lengths capped at 128 tokens instead of 64, on the Chinese encoder of the GPU
# preset (`chinese.PRESETS["gpu"]`); the CPU default reads the pairs about five times.
PRESETS = {"cpu": TranslatorSettings(),
           "gpu": TranslatorSettings(encoder=ENCODER_PRESETS["gpu"][0], max_steps=4000, batch_size=128, lr=5e-4,
                                     max_source_length=128, max_target_length=128, bf16=True)}


def train_translator(settings: TranslatorSettings, out_dir, *, encoder_folder=None, decoder_folder=None,
                     teacher_folder=None, records: dict | None = None, start_from=None, progress: bool = True,
                     device: str = "cpu") -> dict:
    """Train one variant into `out_dir` (model/, checkpoint.pt, metrics.jsonl, plan.json, results.json);
    run again to resume. encoder_folder: the Chinese encoder (its vocabulary and shape; its weights
    for `warm`); decoder_folder: the English BERT/DistilBERT (vocabulary and shape; weights unless
    `random`); teacher_folder: the student's teacher translator. `records` ({"train": [...],
    "validation": [...]}, each {"zh", "en", "source"}) defaults to the settings' corpus (`corpus_records`).
    `minidistil.recipes.pretrained.translator_folders(settings)` gives the cached default folders.
    start_from: a snapshot of an earlier run (`<run>/snapshots/step-N.pt`) to continue instead of a warm
    start: that run's model folder gives the shape and tokenizers, the snapshot the weights, and
    `decoder_layers` may keep some of its decoder layers (see `continue_from`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if records is None:
        records = corpus_records(settings.corpus)
    teacher = None
    needed = {"teacher_folder": teacher_folder} if settings.variant == "student" else \
        {"encoder_folder": encoder_folder, "decoder_folder": decoder_folder}
    missing = [name for name, value in needed.items() if value is None and start_from is None]
    if missing:
        raise ValueError(f"the {settings.variant} variant needs {' and '.join(missing)}; "
                         f"minidistil.recipes.pretrained.translator_folders(settings) gives the cached defaults")
    if start_from is not None:
        if settings.variant == "student":
            raise ValueError("start_from continues a translator run; the student variant starts from its teacher")
        source_tok, target_tok = load_tokenizers(snapshot_run_model(start_from))
    elif settings.variant == "student":
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
    model = continue_from(start_from, layers(settings.decoder_layers)) if start_from is not None else \
        build_model(settings, target_tok, keep, encoder_folder=encoder_folder, decoder_folder=decoder_folder,
                    teacher=teacher)
    model = model.to(device)
    if settings.dropout is not None:
        set_dropout(model, settings.dropout)
    task = (DistilledTranslationTask(model, teacher, settings.kd_alpha, settings.kd_temperature, settings.label_smoothing)
            if settings.variant == "student" else TranslationTask(model, settings.label_smoothing))
    max_steps = plan_steps(settings, task, data, out)
    config = TrainConfig(out_dir=str(out), max_steps=max_steps, batch_size=settings.batch_size, lr=settings.lr,
                         max_tokens=settings.max_tokens, warmup=settings.warmup, seed=settings.seed, bf16=settings.bf16,
                         progress=progress, save_every=min(settings.save_every, max_steps), log_every=10,
                         keep_every=settings.keep_every if settings.keep_every % min(settings.save_every, max_steps) == 0 else 0)
    started = time.perf_counter()
    result = train(task, data, config, collate_fn=lambda ex: collate_pairs(ex, source_tok.pad_token_id))
    train_seconds = time.perf_counter() - started
    model.eval()
    model.generation_config = translator_generation_config(model, asdict(settings))
    model.save_pretrained(out / "model", source_tok, target_tok)
    (out / "model" / "translator.json").write_text(json.dumps({**asdict(settings), "key": settings.key()}, indent=2))
    # The decoder writes uncased English; the case comes back from the training targets' own words.
    truecase = Truecaser.learn(r["en"] for r in records["train"])
    truecase.save(out / "model" / TRUECASE_FILE)
    report = {"settings": asdict(settings), "max_steps": max_steps, "train_seconds": round(train_seconds, 1),
              "train_pairs": len(data), "target_vocab": model.config.decoder.vocab_size,
              "parameters": sum(p.numel() for p in model.parameters()), "last": result}
    report.update(evaluate(model, source_tok, target_tok, records["validation"], settings, truecase))
    (out / "results.json").write_text(json.dumps(report, indent=2))
    return report


def snapshot_run_model(snapshot) -> Path:
    """`<run>/model` of a snapshot `<run>/snapshots/step-N.pt`, both checked to be there."""
    snapshot = Path(snapshot)
    folder = snapshot.parent.parent / "model"
    if not snapshot.is_file() or not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{snapshot} is not a snapshot of a finished translator run "
                                f"(<run>/snapshots/step-N.pt beside <run>/model)")
    return folder


def continue_from(snapshot, decoder_layers: tuple[int, ...] = ()) -> DistilBertEncoderDecoder:
    """The model of an earlier run at one of its snapshots: `<run>/model` gives the shape (its output
    vocabulary was trimmed to that run's targets, so a run that continues it keeps that vocabulary), the
    snapshot the weights; decoder_layers keeps those decoder layers only (as the student does). So
    that settings can be compared where training has got to, not only from its first minutes."""
    snapshot, folder = Path(snapshot), snapshot_run_model(snapshot)
    model = DistilBertEncoderDecoder.from_pretrained(folder)
    state = torch.load(snapshot, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(model_weights(state))
    except RuntimeError as e:
        raise ValueError(f"{snapshot} does not fit the model of {folder}: {str(e).splitlines()[0]}") from None
    return make_student(model, decoder_layers) if decoder_layers else model


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


# ------------------------------------------------------------------ the default translators

REBUILD = "delete the folder and run `python -m minidistil train-translator` again"


def translator_root(settings: TranslatorSettings = TranslatorSettings(), encoder_settings=None) -> Path:
    """`<cache>/translators/<variant>-<key>`: the folder of the translator built with `settings`
    (`encoder_settings`: another Chinese encoder than `settings.encoder`)."""
    return defaults.root("translator", with_encoder(settings, encoder_settings))


def with_encoder(settings: TranslatorSettings, encoder_settings: ChineseSettings | None) -> TranslatorSettings:
    return settings if encoder_settings is None else replace(settings, encoder=encoder_settings)


def folders(settings: TranslatorSettings) -> dict:
    """What `train_translator` starts from, as `defaults.build` builds it first: the Chinese encoder (its
    vocabulary and shape always, its weights unless `random`), the English encoder for the decoder (the
    released all-MiniLM-L6-v2, or the MLM teacher with `english="teacher"`), and for the student the
    `warm` translator it learns from."""
    if settings.variant == "student":
        return {"teacher_folder": ("translator", settings.teacher())}
    english = sources.teacher_dir if settings.english == "minilm" else ("teacher", TeacherSettings())
    return {"encoder_folder": ("chinese", settings.encoder), "decoder_folder": english}


def _run(settings: TranslatorSettings, work: Path, *, progress: bool, device: str, **upstream) -> None:
    train_translator(settings, work, **upstream, progress=progress, device=device)


for _name, _settings in (("translator", TranslatorSettings()), ("translator_student", TranslatorSettings(variant="student"))):
    defaults.register(defaults.DefaultModel(
        _name, _settings, folder=lambda s: f"translators/{s.variant}-{s.key()}", run=_run, rebuild=REBUILD,
        needs=folders, estimate=lambda settings, **upstream: 1.0e9))
