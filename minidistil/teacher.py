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

    >>> folder = sources.mlm_teacher_dir()   # builds on first use (about 20 minutes on 2 CPU cores)
    >>> json.loads((folder.parent / "report.json").read_text())["heldout"]["perplexity"]
"""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import sources, tasks
from .batching import collate
from .data import PrepareOptions, TokenCorpus, check_corpus, prepare_corpus
from .distill import check_vocabulary
from .finetune import save_model
from .heads import DistilBertForMaskedLM
from .losses import IGNORE_INDEX
from .masking import Masking
from .mlm import MLMTask
from .plots import plot_run
from .sources import TeacherSettings
from .tokenizer import WordPieceTokenizer
from .train import TrainConfig, train


def cached_dir(settings: TeacherSettings = TeacherSettings()) -> Path:
    """Where the teacher built with `settings` lives: `<cache>/teachers/minilm-mlm-<key>`."""
    return sources.mlm_teacher_root(settings)


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
          data: str | Path | None = None, base: str | Path | None = None) -> Path:
    """Continue MLM pretraining of all-MiniLM-L6-v2 with `settings`; write `out/model` and `out/report.json`.

    `device` ("cpu", "cuda", "cuda:1") is where it trains. `data`: a corpus folder from
    `prepare-data` to train on instead of the registry corpora (its held-out part is
    `heldout_chunks` chunks spread over it). `base`: a BERT or DistilBERT folder to start from
    instead of all-MiniLM-L6-v2. None of the three is part of the settings' key.
    Everything is written into a folder beside `out` and renamed into place when complete, so an
    interrupted build leaves no folder that a later run would trust; rerun to start again.
    """
    out = Path(out)
    work = out.with_name(out.name + ".partial")
    corpus, heldout, counts = _corpora(settings, work, data, progress)
    check_corpus(corpus)

    torch.manual_seed(settings.seed)
    model = DistilBertForMaskedLM.from_pretrained(base or sources.teacher_dir(), new_head=True)
    check_vocabulary(model, corpus, "teacher")
    init_head_at_unigram(model, counts)
    trainable(model, settings.train_layers)
    model.to(device)
    report = partial(heldout_report, model, heldout, counts, settings.seed)
    config = TrainConfig(out_dir=str(work), max_steps=settings.max_steps, batch_size=settings.batch_size,
                         lr=settings.lr, seed=settings.seed, bf16=settings.bf16,
                         eval_every=max(settings.max_steps // 4, 1), save_every=50, progress=progress)
    before = report(None)
    train(MLMTask(model, Masking.for_corpus(corpus)), corpus, config,
          collate_fn=partial(collate, pad_token_id=corpus.special_ids["pad"]), eval_fn=report)
    after = report(None)

    save_model(model.cpu(), corpus.folder, work / "model")
    summary = {"settings": asdict(settings), "key": settings.key(), "data": str(data) if data else "registry",
               "base": str(base) if base else "all-MiniLM-L6-v2", "train_chunks": len(corpus),
               "train_tokens": int(corpus.lengths.sum()), "heldout_chunks": len(heldout),
               "released": before, "heldout": after}
    (work / "report.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_run(work / "metrics.jsonl", work / "loss.png", title=f"adapt-teacher: MLM on {summary['data']}")
    if out.exists():  # a folder from an interrupted earlier build of the same settings
        shutil.rmtree(out)
    os.replace(work, out)
    return out


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


def init_head_at_unigram(model: DistilBertForMaskedLM, counts: np.ndarray) -> None:
    """Start the new MLM head where it can only improve: the projector's bias at log p(token), the
    unigram distribution of the corpus (the best guess without reading the state), and
    `vocab_transform` at the identity, so that the head first compares the hidden state itself with
    every token embedding through the tied projector."""
    probs = (np.asarray(counts, dtype=np.float64) + 1.0) / (np.sum(counts) + len(counts))  # add-one smoothing
    with torch.no_grad():
        model.vocab_projector.bias.copy_(torch.from_numpy(np.log(probs)).float())
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
                   _task=None, batch_size: int = 32) -> dict:
    """Masked-token perplexity and top-1 / top-5 accuracy on held-out text, beside the unigram
    model's (word frequencies of the training corpus) on the same masked positions."""
    was_training = model.training
    model.eval()
    masking = Masking.for_corpus(heldout)
    device = next(model.parameters()).device
    log_unigram = torch.from_numpy(np.log((counts + 1.0) / (counts.sum() + len(counts)))).float().to(device)
    top5_unigram = torch.topk(log_unigram, 5).indices
    generator = torch.Generator().manual_seed(seed)  # the same masks for every model scored
    nll = hits1 = hits5 = uni_nll = uni1 = uni5 = n = 0.0
    pad = heldout.special_ids["pad"]
    for start in range(0, len(heldout), batch_size):
        batch = collate([heldout[i] for i in range(start, min(start + batch_size, len(heldout)))], pad_token_id=pad)
        logits, labels = masked_logits(model, masking, batch, generator)
        nll += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        top5 = logits.topk(5, dim=-1).indices
        hits1 += (top5[:, 0] == labels).sum().item()
        hits5 += (top5 == labels[:, None]).any(-1).sum().item()
        uni_nll -= log_unigram[labels].sum().item()
        uni1 += (labels == top5_unigram[0]).sum().item()
        uni5 += torch.isin(labels, top5_unigram).sum().item()
        n += len(labels)
    model.train(was_training)
    return {"masked_tokens": int(n), "perplexity": math.exp(nll / n), "top1": hits1 / n, "top5": hits5 / n,
            "unigram_perplexity": math.exp(uni_nll / n), "unigram_top1": uni1 / n, "unigram_top5": uni5 / n}
