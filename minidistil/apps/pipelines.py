"""Inference in one call: `pipeline(task, model=folder)` returns a callable over a list of texts.

    >>> classify = pipeline("text-classification", model="runs/sentiment")
    >>> classify(["a gem of a film", "two hours I will never get back"])
    [{'label': 'fresh', 'score': 0.97}, {'label': 'rotten', 'score': 0.95}]

    task                   returns, per input                             long inputs
    fill-mask              top_k {score, token, token_str, sequence}      truncated (the mask must survive)
    text-classification    {label, score} (top_k=None: every label)       windows, probabilities averaged
    question-answering     {score, start, end, answer}                    windows with doc_stride, best span
    token-classification   entities, aggregated as Hugging Face does      truncated
    embedding              one (N, C) tensor, rows of length 1            truncated
    summarization          {summary_text, sentences}                      each sentence truncated

Every pipeline runs its inputs in batches of similar length (sorted by token count, so a batch
carries little padding) and puts the results back in input order. Whatever is windowed or
truncated is announced with a `UserWarning` saying how many inputs and what was done.

Summarization is extractive: the text is split into sentences, each sentence is embedded (mean
pooling, L2-normalised), and the sentences closest (cosine) to the mean of all sentence
embeddings - the document's centroid - are kept, in their original order. It is the centroid
method of Radev et al. (2004) with a neural encoder in place of TF-IDF.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minidistil.data import features as feats
from minidistil.data.batching import forward_in_length_order
from minidistil.nn.heads import (DistilBertForMaskedLM, DistilBertForQuestionAnswering,
                    DistilBertForSequenceClassification, DistilBertForTokenClassification)
from minidistil.nn.model import DistilBertModel
from minidistil.nn.seq2seq import DistilBertEncoderDecoder
from minidistil.apps.translation import TASK as TRANSLATION, TranslationPipeline
from minidistil.tokenizer import WordPieceTokenizer

# Each pipeline: the model class it loads a folder as, and the pipeline class (defined below).
# A task kind names its pipeline in its record (`minidistil.data.kinds`); a new pipeline is one entry here.
PIPELINES: dict[str, tuple[type, type]] = {}


def register(name: str, model_class: type, pipeline_class: type) -> None:
    PIPELINES[name] = (model_class, pipeline_class)


def model_classes() -> dict[str, type]:
    """Each pipeline's model class, by task name (read from the live registry)."""
    return {name: model_class for name, (model_class, _) in PIPELINES.items()}


def pipeline(task: str, model=None, tokenizer=None, batch_size: int = 16, max_length: int | None = None):
    """Build the pipeline for `task` from a model folder (or a loaded model and its tokenizer)."""
    if task not in PIPELINES:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(PIPELINES)}")
    model_class, pipeline_class = PIPELINES[task]
    if model is None:
        raise ValueError("pass model=FOLDER, a folder written by save_pretrained or a BERT folder")
    if isinstance(model, (str, Path)):
        return pipeline_class.from_folder(model_class, model, tokenizer, batch_size, max_length)
    if tokenizer is None:
        raise ValueError("a model object needs its tokenizer: pipeline(task, model, tokenizer=...)")
    return pipeline_class(model, tokenizer, batch_size, max_length)


def _check_vocabulary(tokenizer, model, path: Path | None = None) -> None:
    """A vocab.txt with fewer or more tokens than the model's embedding has rows is cut short or belongs
    to another model: every id past the cut (or all of them) would silently mean another word. One cut
    inside its last line keeps the count: save_pretrained ends the file with a newline, so say so."""
    rows, tokens = model.config.vocab_size, len(tokenizer)
    where = path if path is not None else "the vocabulary"
    if tokens != rows:
        raise ValueError(f"{where} has {tokens:,} tokens but the model has {rows:,} embedding rows: the file is "
                         f"cut short or belongs to another model; copy the vocab.txt the model was trained with")
    if path is not None and path.is_file() and path.stat().st_size:
        with open(path, "rb") as f:
            f.seek(-1, 2)
            if f.read(1) != b"\n":
                warnings.warn(f"{path} does not end with a newline, as a file cut short does: its last token may "
                              f"be incomplete; copy the vocab.txt the model was trained with", UserWarning,
                              stacklevel=3)


class Pipeline:
    def __init__(self, model, tokenizer, batch_size=16, max_length=None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        _check_count("batch_size", batch_size)
        self.batch_size = batch_size
        positions = model.config.max_position_embeddings
        if max_length is not None:  # checked here, where it is set, not deep inside the first long input
            _check_count("max_length", max_length, positions)
            if max_length < 3:
                raise ValueError(f"max_length={max_length} leaves no room for text beside [CLS] and [SEP]; "
                                 f"pass at least 3 (the model reads up to {positions})")
        self.max_length = max_length or positions

    @classmethod
    def from_folder(cls, model_class, folder, tokenizer=None, batch_size=16, max_length=None):
        if tokenizer is None:
            tokenizer = WordPieceTokenizer.from_pretrained(folder)
        model = model_class.from_pretrained(folder)
        _check_vocabulary(tokenizer, model, Path(folder) / "vocab.txt")
        return cls(model, tokenizer, batch_size, max_length)

    def run(self, features: list[dict]) -> list[tuple]:
        """Forward every feature in length-sorted batches; return per-feature outputs in their order.
        Rows keep their batch's padding; the decoders read only the real positions."""
        return forward_in_length_order(self.forward, features, self.tokenizer.pad_token_id, self.batch_size)

    def forward(self, input_ids, attention_mask) -> tuple:
        out = self.model(input_ids, attention_mask=attention_mask)
        return (out.logits,)


def _as_list(inputs, what: str = "inputs") -> tuple[list[str], bool]:
    """(texts, whether one string was given). A list may be empty; "" and "   " are texts like any
    other (they encode to [CLS] [SEP], as in transformers); anything that is not text is refused."""
    if isinstance(inputs, str):
        return [inputs], True
    if isinstance(inputs, (bytes, bytearray)):
        raise TypeError(f"{what} are bytes; decode them to a string first, e.g. data.decode('utf-8')")
    # A dict would iterate over its keys; any other iterable (a tuple, a generator, a pandas Series) is fine.
    if isinstance(inputs, dict) or not isinstance(inputs, Iterable):
        raise TypeError(f"{what} must be a string or a list of strings, got {type(inputs).__name__}")
    texts = list(inputs)
    for n, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what} must be strings, but item {n} is {type(text).__name__} {text!r:.40}")
    return texts, False


def _check_count(name: str, value, most: int | None = None) -> None:
    """`value` must be an integer in [1, most]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if most is not None and value > most:
        raise ValueError(f"{name}={value} is more than the {most} there are to choose from; pass at most {most}")


def _warn_mostly_unknown(tokenizer, ids_per_text) -> None:
    """Warn when more than half of a text's word pieces are [UNK] (say, Chinese into an English
    vocabulary): the model then sees almost nothing of the text, yet still answers with confidence."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    n = 0
    for ids in ids_per_text:
        pieces = [i for i in ids if i not in special]
        n += 2 * sum(i == tokenizer.unk_token_id for i in pieces) > len(pieces)
    if n:
        warnings.warn(f"{n} input(s) are mostly {tokenizer.unk_token} (more than half of their word pieces are "
                      f"not in the vocabulary, as with a script it does not cover); their results say little",
                      UserWarning, stacklevel=3)


def _warn(n: int, what: str) -> None:
    if n:
        warnings.warn(f"{n} input(s) are longer than the model's {what}", UserWarning, stacklevel=3)


def _tokenize_once(tokenizer, texts, max_length: int, offsets: bool = False) -> tuple[dict, int]:
    """Each text tokenized once, whole, then cut to `max_length` as `truncation=True` cuts a single
    text (its first tokens, then [SEP]): (the rows, how many texts were longer). The pipeline encodes
    beyond the model's length on purpose, to measure, and says itself what it does with long
    inputs; the tokenizer's own warning is off."""
    enc = tokenizer(texts, verbose=False, return_offsets_mapping=offsets)
    longer = sum(len(ids) > max_length for ids in enc["input_ids"])
    rows = {"input_ids": [ids if len(ids) <= max_length else ids[:max_length - 1] + ids[-1:]
                          for ids in enc["input_ids"]]}
    if offsets:
        rows["offset_mapping"] = [o if len(o) <= max_length else o[:max_length - 1] + o[-1:]
                                  for o in enc["offset_mapping"]]
    return rows, longer


class FillMask(Pipeline):
    def __call__(self, inputs, top_k: int = 5, targets: str | list[str] | None = None):
        """Per input, the `top_k` candidates for its mask; with several masks, one such list per mask.
        `targets` (words or tokens) limits the candidates to them, as in transformers: each keeps its
        probability over the whole vocabulary, and top_k is capped at their number."""
        texts, single = _as_list(inputs)
        _check_count("top_k", top_k, most=self.model.config.vocab_size)
        target_ids = None
        if targets is not None:
            target_ids = self._target_ids(targets)
            top_k = min(top_k, len(target_ids))
        if not texts:
            return []
        enc, longer = _tokenize_once(self.tokenizer, texts, self.max_length)
        _warn(longer, f"{self.max_length} tokens; they are truncated")
        features = []
        for n, ids in enumerate(enc["input_ids"]):
            ids = np.asarray(ids)
            if not (ids == self.tokenizer.mask_token_id).any():
                raise ValueError(f"input {n} has no {self.tokenizer.mask_token} token (or it was truncated away); "
                                 f"put {self.tokenizer.mask_token} where a word is to be predicted")
            features.append({"input_ids": ids})
        _warn_mostly_unknown(self.tokenizer, enc["input_ids"])
        results = []
        for f, (logits,) in zip(features, self.run(features)):
            found = []
            positions = np.flatnonzero(f["input_ids"] == self.tokenizer.mask_token_id)
            for position in positions:
                probs = torch.softmax(logits[position].float(), -1)
                if target_ids is not None:
                    probs = probs[target_ids]
                top = torch.topk(probs, top_k)
                tokens = top.indices if target_ids is None else target_ids[top.indices]
                found.append([self._filled(f["input_ids"], position, int(t), float(p), len(positions) > 1)
                              for p, t in zip(top.values, tokens)])
            results.append(found[0] if len(found) == 1 else found)
        return results[0] if single else results

    def _target_ids(self, targets) -> torch.Tensor:
        """Vocabulary ids of `targets`, sorted and unique. A word outside the vocabulary stands for
        its first word piece, with a warning (transformers' rule)."""
        targets = [targets] if isinstance(targets, str) else list(targets)
        if not all(isinstance(t, str) for t in targets):
            raise TypeError("targets must be a string or a list of strings")
        ids = set()
        for target in targets:
            if target in self.tokenizer.vocab:
                ids.add(self.tokenizer.vocab[target])
                continue
            pieces = self.tokenizer(target, add_special_tokens=False)["input_ids"]
            if not pieces:
                warnings.warn(f"the target {target!r} has no token in the vocabulary; it is ignored", UserWarning,
                              stacklevel=3)
                continue
            warnings.warn(f"the target {target!r} is not in the vocabulary; its first word piece "
                          f"{self.tokenizer.convert_ids_to_tokens(pieces[0])!r} stands for it", UserWarning, stacklevel=3)
            ids.add(pieces[0])
        if not ids:
            raise ValueError("targets holds no word of the vocabulary; give at least one")
        return torch.tensor(sorted(ids))

    def _filled(self, ids, position, token, score, several_masks: bool) -> dict:
        ids = ids.copy()
        ids[position] = token
        # With several masks each candidate fills only its own; the others stay visible as [MASK],
        # so special tokens are kept ([CLS] and [SEP] too), as in transformers' FillMaskPipeline.
        sequence = self.tokenizer.decode(ids.tolist(), skip_special_tokens=not several_masks)
        return {"score": score, "token": token, "token_str": self.tokenizer.decode([token]), "sequence": sequence}


class TextClassification(Pipeline):
    def __call__(self, inputs, top_k: int | None = 1, stride: int | None = None):
        """Per input, the best {label, score}; a ranked list of `top_k` of them when top_k is not 1,
        of every label when it is None. A top_k above the number of labels gives every label, as in
        transformers. `stride`: the overlap of the windows over a long input (default 64 tokens, or
        half a window when max_length leaves less)."""
        texts, single = _as_list(inputs)
        if top_k is not None:
            _check_count("top_k", top_k)
        room = self.max_length - 2  # a window's tokens besides [CLS] and [SEP]
        if stride is None:
            stride = min(64, room // 2)
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or not 0 <= stride < room:
            raise ValueError(f"stride={stride!r} must be a whole number from 0 to {room - 1}, smaller than the {room} "
                             f"tokens a window of max_length={self.max_length} holds after [CLS] and [SEP]")
        if not texts:
            return []
        examples = [{"text": t} for t in texts]
        features = feats.encode_sequence(self.tokenizer, examples, {}, self.max_length, stride)  # tokenized once
        windows = np.bincount([f["example"] for f in features], minlength=len(texts))
        firsts = {}
        for f in features:
            firsts.setdefault(f["example"], f["input_ids"].tolist())
        _warn_mostly_unknown(self.tokenizer, [firsts[n] for n in range(len(texts))])
        _warn(int((windows > 1).sum()),
              f"{self.max_length} tokens; each is read in overlapping windows and the windows' "
              f"probabilities are averaged")
        logits = torch.stack([out[0] for out in self.run(features)])
        probs = feats.decode_sequence(logits, features, len(texts))
        id2label = self.model.config.id2label
        results = []
        for p in probs:
            ranked = [{"label": id2label[int(i)], "score": float(p[i])} for i in np.argsort(-p)]
            results.append(ranked[0] if top_k == 1 else ranked[:top_k])
        return results[0] if single else results


class QuestionAnswering(Pipeline):
    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids, attention_mask=attention_mask)
        return out.start_logits, out.end_logits

    def __call__(self, question, context, top_k: int = 1, doc_stride: int = 128, max_answer_len: int = 15,
                 max_seq_len: int = 384, handle_impossible_answer: bool = False):
        questions, single = _as_list(question, "questions")
        contexts, _ = _as_list(context, "contexts")
        _check_count("top_k", top_k)
        _check_count("max_answer_len", max_answer_len)
        if not questions or not contexts:
            raise ValueError(f"got {len(questions)} questions and {len(contexts)} contexts; pass at least one "
                             f"question and one context to search for its answer")
        # An empty question encodes to nothing, so every window would answer the same non-question.
        for name, texts in (("question", questions), ("context", contexts)):
            empty = [n for n, t in enumerate(texts) if not t.strip()]
            if empty:
                raise ValueError(f"{name} {empty[0]} is empty; every {name} needs some text")
        if len(questions) == 1 and len(contexts) > 1:
            questions = questions * len(contexts)
        if len(questions) != len(contexts):
            raise ValueError(f"got {len(questions)} questions for {len(contexts)} contexts; pass one question "
                             f"per context, or a single question for all of them")
        max_seq_len = min(max_seq_len, self.max_length)
        examples = [{"question": q, "context": c} for q, c in zip(questions, contexts)]
        try:  # each (question, context) pair is tokenized once, here
            features = feats.encode_qa(self.tokenizer, examples, max_seq_len, doc_stride)
        except ValueError:  # the tokenizer refused the stride or a long question: say why in the pipeline's words
            _check_doc_stride(doc_stride, max_seq_len, self.tokenizer(questions, add_special_tokens=False)["input_ids"])
            raise
        sep = self.tokenizer.sep_token_id  # a window's question is between [CLS] and its first [SEP]
        _check_doc_stride(doc_stride, max_seq_len, [f["input_ids"][1:np.argmax(f["input_ids"] == sep)]
                                                    for f in features])
        windows = np.bincount([f["example"] for f in features], minlength=len(examples))
        _warn(int((windows > 1).sum()), f"{max_seq_len} tokens; they are read in windows that "
                                        f"overlap by {doc_stride} tokens")
        outs = self.run(features)
        answers = feats.decode_qa([o[0] for o in outs], [o[1] for o in outs], features, examples,
                                  max_answer_len, handle_impossible_answer, top_k)
        results = [a[0] if top_k == 1 else a for a in answers]
        return results[0] if single else results


def _check_doc_stride(doc_stride: int, max_seq_len: int, question_ids) -> None:
    """A window is "[CLS] question [SEP] context [SEP]": the stride must be smaller than the room the
    longest question leaves for the context."""
    room = max_seq_len - 3 - max(len(ids) for ids in question_ids)
    if doc_stride >= room:
        raise ValueError(f"doc_stride ({doc_stride}) must be smaller than the {room} tokens a window has "
                         f"for the context after the question and [CLS] [SEP] [SEP]; lower doc_stride "
                         f"or raise max_seq_len")


class TokenClassification(Pipeline):
    """Hugging Face's token-classification pipeline, for a WordPiece tokenizer.

    aggregation_strategy:
      none     every word piece with its own label (pieces labelled O are dropped)
      simple   adjacent pieces with the same entity type are grouped (B- starts a new group)
      first    a word takes the label of its first piece, then words are grouped as in simple
      average  a word takes the label with the highest mean probability over its pieces
      max      a word takes the label of its most confident piece
    """
    STRATEGIES = ("none", "simple", "first", "average", "max")

    def __call__(self, inputs, aggregation_strategy: str = "none", ignore_labels=("O",)):
        if aggregation_strategy not in self.STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {self.STRATEGIES}, got {aggregation_strategy!r}")
        texts, single = _as_list(inputs)
        if not texts:
            return []
        enc, longer = _tokenize_once(self.tokenizer, texts, self.max_length, offsets=True)
        _warn(longer, f"{self.max_length} tokens; they are truncated")
        _warn_mostly_unknown(self.tokenizer, enc["input_ids"])
        features = [{"input_ids": np.asarray(ids), "offsets": off}
                    for ids, off in zip(enc["input_ids"], enc["offset_mapping"])]
        results = []
        for text, f, (logits,) in zip(texts, features, self.run(features)):
            scores = torch.softmax(logits.float(), -1).numpy()
            pieces = self._pieces(text, f, scores)
            entities = self._aggregate(pieces, aggregation_strategy)
            results.append([e for e in entities if e.get("entity", e.get("entity_group")) not in ignore_labels])
        return results[0] if single else results

    def _pieces(self, text, f, scores) -> list[dict]:
        special = {self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id}
        tokens = self.tokenizer.convert_ids_to_tokens([int(i) for i in f["input_ids"]])
        pieces = []
        for index, (token_id, token, (start, end)) in enumerate(zip(f["input_ids"], tokens, f["offsets"])):
            if int(token_id) in special:
                continue
            # A continuation piece is shorter in the text than in the vocabulary ("##ing" vs "ing").
            is_subword = len(token) != len(text[start:end])
            if int(token_id) == self.tokenizer.unk_token_id:
                token, is_subword = text[start:end], False
            pieces.append({"word": token, "scores": scores[index], "start": int(start), "end": int(end),
                           "index": index, "is_subword": is_subword})
        return pieces

    def _aggregate(self, pieces, strategy) -> list[dict]:
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = [{"entity": id2label[int(p["scores"].argmax())], "score": float(p["scores"].max()),
                         "index": p["index"], "word": p["word"], "start": p["start"], "end": p["end"]}
                        for p in pieces]
            return entities if strategy == "none" else self._group(entities)
        words, group = [], []
        for p in pieces:
            if group and not p["is_subword"]:
                words.append(self._word(group, strategy))
                group = []
            group.append(p)
        if group:
            words.append(self._word(group, strategy))
        return self._group(words)

    def _word(self, pieces, strategy) -> dict:
        if strategy == "first":
            scores = pieces[0]["scores"]
        elif strategy == "max":
            scores = max(pieces, key=lambda p: p["scores"].max())["scores"]
        else:
            scores = np.mean([p["scores"] for p in pieces], axis=0)
        label = int(scores.argmax())
        return {"entity": self.model.config.id2label[label], "score": float(scores[label]),
                "word": self._join([p["word"] for p in pieces]), "start": pieces[0]["start"], "end": pieces[-1]["end"]}

    @staticmethod
    def _join(tokens: list[str]) -> str:
        return " ".join(tokens).replace(" ##", "").strip()

    def _group(self, entities) -> list[dict]:
        """Adjacent entities of one type form a group; a B- tag always starts a new one."""
        def tag(name):
            return (name[0], name[2:]) if name[:2] in ("B-", "I-") else ("I", name)
        groups, current = [], []
        for e in entities:
            bi, kind = tag(e["entity"])
            if current and (kind != tag(current[-1]["entity"])[1] or bi == "B"):
                groups.append(current)
                current = []
            current.append(e)
        if current:
            groups.append(current)
        return [{"entity_group": tag(g[0]["entity"])[1], "score": float(np.mean([e["score"] for e in g])),
                 "word": self._join([e["word"] for e in g]), "start": g[0]["start"], "end": g[-1]["end"]}
                for g in groups]


class Embedding(Pipeline):
    """Mean of the last hidden states over real tokens, L2-normalised: sentence-transformers' recipe
    for all-MiniLM-L6-v2 (its 1_Pooling/config.json asks for mean pooling, then a Normalize module)."""

    def forward(self, input_ids, attention_mask):
        hidden = self.model(input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
        keep = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * keep).sum(1) / keep.sum(1).clamp(min=1e-9)  # (B, T, C) -> (B, C)
        return (F.normalize(mean, p=2, dim=-1),)

    def __call__(self, inputs) -> torch.Tensor:
        """One (N, C) tensor, a unit row per input; (0, C) for an empty list."""
        texts, _ = _as_list(inputs)
        if not texts:
            return torch.empty(0, self.model.config.dim)
        enc, longer = _tokenize_once(self.tokenizer, texts, self.max_length)
        _warn(longer, f"{self.max_length} tokens; they are truncated")
        _warn_mostly_unknown(self.tokenizer, enc["input_ids"])
        features = [{"input_ids": np.asarray(ids)} for ids in enc["input_ids"]]
        return torch.stack([out[0] for out in self.run(features)])  # (N, C)


class Summarization(Embedding):
    def __call__(self, inputs, num_sentences: int = 3) -> list[dict] | dict:
        texts, single = _as_list(inputs)
        _check_count("num_sentences", num_sentences)
        results = []
        for text in texts:
            found = feats.sentences(text)
            if len(found) <= num_sentences:
                keep = list(range(len(found)))
            else:
                vectors = super().__call__(found)                       # (S, C), unit rows
                centroid = F.normalize(vectors.mean(0), dim=-1)         # (C,)
                keep = sorted(torch.topk(vectors @ centroid, num_sentences).indices.tolist())
            results.append({"summary_text": " ".join(found[i] for i in keep), "sentences": keep})
        return results[0] if single else results


register("fill-mask", DistilBertForMaskedLM, FillMask)
register("text-classification", DistilBertForSequenceClassification, TextClassification)
register("question-answering", DistilBertForQuestionAnswering, QuestionAnswering)
register("token-classification", DistilBertForTokenClassification, TokenClassification)
register("embedding", DistilBertModel, Embedding)
register("summarization", DistilBertModel, Summarization)
register(TRANSLATION, DistilBertEncoderDecoder, TranslationPipeline)
