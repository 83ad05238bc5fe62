"""Examples to model inputs and model outputs back to answers: shared by fine-tuning and pipelines.

Every `encode_*` returns a list of features, one dict of numpy arrays per model input row, each
carrying `example`: the index of the example it came from. A long text becomes several features
(sliding windows that overlap by `stride` tokens), so the `decode_*` functions pool the rows of one
example back together:

    kind        one feature                                               pooled by
    sequence    input_ids, labels                                         mean of the windows' probabilities
    token       input_ids, labels (IGNORE_INDEX off each word's first piece)  first window that holds the word
    choice      input_ids (n_choices, T), labels                          -
    qa          input_ids, start_positions, end_positions, offsets        best span over all windows

`minidistil.data.batching.collate` pads a list of features into one batch of tensors (dynamic padding).
The tokenizer is anything with Hugging Face's call API (ours, or transformers' fast tokenizers).
"""
from __future__ import annotations

import numpy as np
import torch

from minidistil.data.sentences import sentences as split_sentences
from minidistil.nn.losses import IGNORE_INDEX


def _windows(tokenizer, texts, pairs=None, max_length=128, stride=0, **options):
    """Tokenize, cutting long inputs into windows that overlap by `stride` tokens."""
    args = (texts,) if pairs is None else (texts, pairs)
    enc = tokenizer(*args, truncation="only_second" if pairs is not None else True, max_length=max_length,
                    stride=stride, return_overflowing_tokens=True, **options)
    mapping = enc["overflow_to_sample_mapping"]
    return enc, [int(m) for m in mapping]


# ---------------------------------------------------------------- sequence classification

def encode_sequence(tokenizer, examples, label2id, max_length=128, stride=0, max_windows=None):
    """One feature per window; `max_windows` keeps only the first windows of each text (for training).

    With stride=0 every text is truncated to its first window except when max_windows allows more.
    """
    texts = [e["text"] for e in examples]
    enc, mapping = _windows(tokenizer, texts, max_length=max_length, stride=stride)
    features, seen = [], {}
    for ids, n in zip(enc["input_ids"], mapping):
        seen[n] = seen.get(n, 0) + 1
        if max_windows is not None and seen[n] > max_windows:
            continue
        feature = {"input_ids": np.asarray(ids), "example": n}
        if "label" in examples[n]:
            feature["labels"] = np.int64(label2id[examples[n]["label"]])
        features.append(feature)
    return features


def decode_sequence(logits: torch.Tensor, features, n_examples: int) -> np.ndarray:
    """(n_features, K) logits -> (n_examples, K) probabilities, each the mean over its windows."""
    probs = torch.softmax(logits.float(), dim=-1).numpy()
    pooled = np.zeros((n_examples, probs.shape[1]))
    counts = np.zeros(n_examples)
    for p, f in zip(probs, features):
        pooled[f["example"]] += p
        counts[f["example"]] += 1
    return pooled / counts[:, None]


# ---------------------------------------------------------------- token classification

def word_spans(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join words with spaces and return the text and each word's (start, end) characters."""
    spans, pos = [], 0
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), spans


def encode_token(tokenizer, examples, label2id, max_length=128, stride=0):
    """Label each word's first word piece; the other pieces get IGNORE_INDEX (as Hugging Face does).

    Words are located through character offsets, so a word that the tokenizer splits further
    ("3.5" -> "3", ".", "5") still counts as one word, labelled at its first piece.
    """
    texts, spans = zip(*(word_spans(e["words"]) for e in examples)) if examples else ((), ())
    enc, mapping = _windows(tokenizer, list(texts), max_length=max_length, stride=stride,
                            return_offsets_mapping=True)
    features = []
    for ids, offsets, n in zip(enc["input_ids"], enc["offset_mapping"], mapping):
        word_of = token_words(offsets, spans[n], ids, tokenizer)
        labels = np.full(len(ids), IGNORE_INDEX)
        for t, w in enumerate(word_of):
            if w is not None and (t == 0 or word_of[t - 1] != w):
                labels[t] = label2id[examples[n]["tags"][w]] if "tags" in examples[n] else 0
        features.append({"input_ids": np.asarray(ids), "labels": labels, "word_of": word_of, "example": n})
    return features


def token_words(offsets, spans, ids, tokenizer) -> list[int | None]:
    """For each token, the index of the word its first character falls in (None: special tokens)."""
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    starts = [s for s, _ in spans]
    word_of = []
    for (start, end), token_id in zip(offsets, ids):
        if int(token_id) in special or end <= start:
            word_of.append(None)
        else:
            word_of.append(int(np.searchsorted(starts, start, side="right")) - 1)
    return word_of


def decode_token(logits: torch.Tensor, features, examples, id2label) -> list[list[str]]:
    """Each word's tag, read at its first piece, from the first window that contains that piece."""
    tags = [[None] * len(e["words"]) for e in examples]
    predicted = logits.argmax(-1).numpy()
    for row, f in zip(predicted, features):
        for t, label in enumerate(f["labels"]):
            w = f["word_of"][t]
            if label != IGNORE_INDEX and tags[f["example"]][w] is None:
                tags[f["example"]][w] = id2label[int(row[t])]
    # A word cut off by truncation (no window holds it) is tagged "O".
    return [[t if t is not None else "O" for t in sent] for sent in tags]


# ---------------------------------------------------------------- multiple choice

def encode_choice(tokenizer, examples, max_length=128):
    """Each example becomes (n_choices, T) ids: "[CLS] prompt [SEP] choice [SEP]" per row."""
    features = []
    for n, e in enumerate(examples):
        enc = tokenizer([e["prompt"]] * len(e["choices"]), list(e["choices"]), truncation=True,
                        max_length=max_length)
        feature = {"input_ids": [np.asarray(ids) for ids in enc["input_ids"]], "example": n}
        if "label" in e:
            feature["labels"] = np.int64(e["label"])
        features.append(feature)
    return features


# ---------------------------------------------------------------- extractive question answering

def encode_qa(tokenizer, examples, max_length=384, stride=128):
    """SQuAD-style windows: "[CLS] question [SEP] context window [SEP]", windows overlapping by
    `stride` tokens. A window that does not hold the whole answer (or a question with no answer)
    points both positions at [CLS], index 0: the model's way of saying "no answer here".
    """
    questions = [e["question"].strip() for e in examples]
    contexts = [e["context"] for e in examples]
    enc, mapping = _windows(tokenizer, questions, contexts, max_length=max_length, stride=stride,
                            return_offsets_mapping=True)
    features = []
    for ids, offsets, n in zip(enc["input_ids"], enc["offset_mapping"], mapping):
        ids = np.asarray(ids)
        seps = np.flatnonzero(ids == tokenizer.sep_token_id)
        is_context = np.zeros(len(ids), dtype=bool)
        is_context[seps[0] + 1:seps[-1]] = True  # between the first and the last [SEP]
        offsets = np.asarray(offsets, dtype=np.int64).reshape(len(ids), 2)
        start = end = 0
        e = examples[n]
        if e.get("answers"):
            a_start = e["answer_start"]
            a_end = a_start + len(e["answers"][0])
            inside = np.flatnonzero(is_context)
            if offsets[inside[0], 0] <= a_start and offsets[inside[-1], 1] >= a_end:
                start = int(inside[np.flatnonzero(offsets[inside, 1] > a_start)[0]])
                end = int(inside[np.flatnonzero(offsets[inside, 0] < a_end)[-1]])
        features.append({"input_ids": ids, "start_positions": np.int64(start), "end_positions": np.int64(end),
                         "offsets": offsets, "is_context": is_context, "example": n})
    return features


def decode_qa(start_logits, end_logits, features, examples, max_answer_length=30,
              handle_impossible_answer=True, top_k=1) -> list[list[dict]]:
    """The best spans of each question over all its windows, as Hugging Face's pipeline scores them.

    In each window, start and end probabilities are softmaxes over the context tokens and [CLS];
    a span (i, j) with i <= j < i + max_answer_length scores p_start(i) * p_end(j). The "no answer"
    score is p_start(CLS) * p_end(CLS), the smallest over the windows (the window most sure there is
    an answer decides). No answer wins when its score beats the best span's and
    `handle_impossible_answer` is set; it is returned as {"answer": "", "start": 0, "end": 0}.
    """
    best = [[] for _ in examples]
    null = [1.0] * len(examples)
    for s_logits, e_logits, f in zip(start_logits, end_logits, features):  # one window at a time
        allowed = torch.from_numpy(f["is_context"]).clone()
        allowed[0] = True
        p_start = torch.softmax(s_logits[:len(allowed)].float().masked_fill(~allowed, -1e4), -1)
        p_end = torch.softmax(e_logits[:len(allowed)].float().masked_fill(~allowed, -1e4), -1)
        n = f["example"]
        null[n] = min(null[n], float(p_start[0] * p_end[0]))
        scores = torch.triu(p_start[:, None] * p_end[None, :])  # (T, T), only end >= start
        scores = torch.tril(scores, diagonal=max_answer_length - 1)
        ctx = torch.from_numpy(f["is_context"])
        scores = scores * (ctx[:, None] & ctx[None, :])
        flat = scores.flatten()
        for index in torch.topk(flat, min(top_k, int((flat > 0).sum()))).indices.tolist():
            i, j = divmod(index, len(allowed))
            start, end = int(f["offsets"][i, 0]), int(f["offsets"][j, 1])
            context = examples[n]["context"]
            best[n].append({"score": float(flat[index]), "start": start, "end": end,
                            "answer": context[start:end]})
    answers = []
    for n, found in enumerate(best):
        found = sorted(found, key=lambda a: -a["score"])
        if handle_impossible_answer and (not found or null[n] > found[0]["score"]):
            found = [{"score": null[n], "start": 0, "end": 0, "answer": ""}] + found
        answers.append(_distinct(found)[:top_k])
    return answers


def _distinct(found: list[dict]) -> list[dict]:
    seen, kept = set(), []
    for a in found:
        if (a["start"], a["end"]) not in seen:
            seen.add((a["start"], a["end"]))
            kept.append(a)
    return kept


# ---------------------------------------------------------------- sentences (for summarization)

sentences = split_sentences  # its old name here (the splitter lives in minidistil.data.sentences)
