"""Evaluation metrics, written out so that each one can be checked by hand.

Every function takes plain Python lists (of labels, of strings, of tag sequences) and returns floats
in [0, 1] (MCC in [-1, 1]). Nothing here needs torch or numpy.

    >>> accuracy(["pos", "neg", "pos"], ["pos", "pos", "pos"])
    0.6666666666666666
    >>> round(macro_f1([0, 1, 1, 0], [0, 1, 0, 0]), 4)   # F1(0) = 0.8, F1(1) = 0.6667
    0.7333
    >>> squad_f1("the Eiffel tower", "Eiffel Tower in Paris")   # 2 shared tokens, P 1, R 2/4
    0.6666666666666666
    >>> entity_f1([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]])["overall"]["f1"]
    0.0
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter


def _check_lengths(preds, golds) -> None:
    if len(preds) != len(golds):
        raise ValueError(f"got {len(preds)} predictions for {len(golds)} gold labels; "
                         "pass one prediction per example")
    if len(golds) == 0:
        raise ValueError("cannot score an empty list of examples")


# ---------------------------------------------------------------- classification

def accuracy(preds, golds) -> float:
    _check_lengths(preds, golds)
    return sum(p == g for p, g in zip(preds, golds)) / len(golds)


def precision_recall_f1(preds, golds, labels=None) -> dict:
    """Per-label precision, recall, F1 and support (the number of gold examples of that label).

    A label that is never predicted has precision 0 (not NaN), as scikit-learn's zero_division=0.
    """
    _check_lengths(preds, golds)
    labels = sorted(set(golds) | set(preds), key=str) if labels is None else list(labels)
    scores = {}
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(preds, golds))
        n_pred = sum(p == label for p in preds)
        n_gold = sum(g == label for g in golds)
        scores[label] = _prf(tp, n_pred, n_gold)
    return scores


def _prf(tp: int, n_pred: int, n_gold: int) -> dict:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def macro_f1(preds, golds, labels=None) -> float:
    """The unweighted mean of per-label F1: a rare class counts as much as a frequent one."""
    per_label = precision_recall_f1(preds, golds, labels)
    return sum(s["f1"] for s in per_label.values()) / len(per_label)


def mcc(preds, golds) -> float:
    """Matthews correlation coefficient, multi-class form (Gorodkin 2004), as scikit-learn computes it.

        MCC = (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2))

    c correct predictions, s examples, p_k times label k was predicted, t_k times it was true.
    0 when a denominator term is 0 (every prediction or every gold label the same).
    """
    _check_lengths(preds, golds)
    s = len(golds)
    c = sum(p == g for p, g in zip(preds, golds))
    p_k, t_k = Counter(preds), Counter(golds)
    labels = set(p_k) | set(t_k)
    cov_pt = c * s - sum(p_k[k] * t_k[k] for k in labels)
    cov_pp = s * s - sum(p_k[k] ** 2 for k in labels)
    cov_tt = s * s - sum(t_k[k] ** 2 for k in labels)
    if cov_pp == 0 or cov_tt == 0:
        return 0.0
    return cov_pt / math.sqrt(cov_pp * cov_tt)


def classification_report(preds, golds, labels=None) -> dict:
    """Everything above in one dict: accuracy, macro_f1, mcc and the per-label table."""
    return {"accuracy": accuracy(preds, golds), "macro_f1": macro_f1(preds, golds, labels),
            "mcc": mcc(preds, golds), "per_label": precision_recall_f1(preds, golds, labels)}


# ---------------------------------------------------------------- extractive QA (SQuAD v1.1 / v2.0)

def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, drop punctuation, the articles a/an/the, extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 between normalised answers. Two empty answers ("no answer") score 1."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    shared = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(pred_tokens), shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict:
    """Mean exact match and F1 over questions; each question scores its best gold answer.

    `golds[i]` lists the acceptable answers of question i; `[""]` means "no answer".
    """
    _check_lengths(predictions, golds)
    em = [max(squad_exact_match(p, g) for g in gs or [""]) for p, gs in zip(predictions, golds)]
    f1 = [max(squad_f1(p, g) for g in gs or [""]) for p, gs in zip(predictions, golds)]
    return {"exact_match": sum(em) / len(em), "f1": sum(f1) / len(f1)}


# ---------------------------------------------------------------- sequence labelling (seqeval-style)

def _split_tag(tag: str) -> tuple[str, str]:
    if tag == "O" or tag is None:
        return "O", ""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "I", tag  # a bare label: consecutive equal labels form one entity


def entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """The (type, start, end) entities of one IOB1/IOB2 tag sequence, end exclusive.

    Like seqeval's default mode: an entity starts at B-X, or at I-X after anything that is not X;
    it ends before O, B-*, or a tag of another type.

    >>> entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    found, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, label = _split_tag(tag)
        ends = start is not None and (prefix in "BSO" or label != kind)
        if ends:
            found.append((kind, start, i))
            start, kind = None, None
        if prefix != "O" and start is None:
            start, kind = i, label
        if prefix in "SE" and start is not None:
            found.append((kind, start, i + 1))
            start, kind = None, None
    return found


def entity_f1(pred_tags: list[list[str]], gold_tags: list[list[str]]) -> dict:
    """Entity-level precision/recall/F1: an entity counts only if its type and both ends match.

    Returns {"overall": {...}, TYPE: {...}, ...}, overall micro-averaged, as seqeval's report.
    """
    _check_lengths(pred_tags, gold_tags)
    pred_set, gold_set = set(), set()
    for n, (p, g) in enumerate(zip(pred_tags, gold_tags)):
        if len(p) != len(g):
            raise ValueError(f"sentence {n} has {len(p)} predicted tags for {len(g)} gold tags")
        pred_set |= {(n, *e) for e in entities(p)}
        gold_set |= {(n, *e) for e in entities(g)}
    report = {"overall": _prf(len(pred_set & gold_set), len(pred_set), len(gold_set))}
    for kind in sorted({e[1] for e in pred_set | gold_set}):
        p = {e for e in pred_set if e[1] == kind}
        g = {e for e in gold_set if e[1] == kind}
        report[kind] = _prf(len(p & g), len(p), len(g))
    return report


def token_f1(pred_tags: list[list[str]], gold_tags: list[list[str]], ignore: str = "O") -> dict:
    """Per-label and micro-averaged F1 over single tokens (words), `ignore` left out of the average.

    The right score for labels that are not spans, such as the punctuation that follows a word.
    """
    _check_lengths(pred_tags, gold_tags)
    preds = [t for sent in pred_tags for t in sent]
    golds = [t for sent in gold_tags for t in sent]
    if len(preds) != len(golds):
        raise ValueError("predicted and gold sentences differ in length")
    labels = sorted((set(golds) | set(preds)) - {ignore})
    report = precision_recall_f1(preds, golds, labels)
    tp = sum(p == g and g != ignore for p, g in zip(preds, golds))
    report["overall"] = _prf(tp, sum(p != ignore for p in preds), sum(g != ignore for g in golds))
    return report


# ---------------------------------------------------------------- intervals

def _resample(n: int, rounds: int, seed: int) -> list[list[int]]:
    import random
    rng = random.Random(seed)
    return [[rng.randrange(n) for _ in range(n)] for _ in range(rounds)]


def bootstrap_interval(correct: list, rounds: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of a mean score (Efron and Tibshirani 1993, ch. 13).

    `correct` holds one score per test example (1/0 for accuracy). The test set is redrawn with
    replacement `rounds` times; the interval holds the middle `level` of the redrawn means.
    """
    if not correct:
        raise ValueError("cannot bootstrap an empty list of scores")
    means = sorted(sum(correct[i] for i in rows) / len(correct) for rows in _resample(len(correct), rounds, seed))
    cut = (1 - level) / 2
    return means[int(cut * rounds)], means[min(int((1 - cut) * rounds), rounds - 1)]


def paired_bootstrap(correct_a: list, correct_b: list, rounds: int = 1000, level: float = 0.95,
                     seed: int = 0) -> dict:
    """The difference mean(b) - mean(a) on the same test examples, with its paired bootstrap interval.

    Both systems are scored on each redrawn test set, so the interval reflects how often they
    disagree rather than the spread of each score alone (Koehn 2004; Berg-Kirkpatrick et al. 2012).
    `exceeds` says whether the interval leaves out 0: a difference this test set can tell from noise.
    """
    _check_lengths(correct_b, correct_a)
    diff = [b - a for a, b in zip(correct_a, correct_b)]
    low, high = bootstrap_interval(diff, rounds, level, seed)
    return {"difference": sum(diff) / len(diff), "low": low, "high": high, "exceeds": low > 0 or high < 0}


def macro_paired_bootstrap(pairs: list[tuple[list, list]], rounds: int = 1000, level: float = 0.95,
                           seed: int = 0) -> dict:
    """A difference of macro-scores, as GLUE averages tasks: the mean over `pairs` (one per task
    and run, each (scores of a, scores of b) on that task's test examples) of mean(b) - mean(a),
    with its paired bootstrap interval: every round redraws each task's test set on its own."""
    if not pairs:
        raise ValueError("cannot bootstrap a macro-score of no tasks")
    for a, b in pairs:
        _check_lengths(b, a)
    import random
    rng = random.Random(seed)
    diffs = [[y - x for x, y in zip(a, b)] for a, b in pairs]
    samples = sorted(sum(sum(d[rng.randrange(len(d))] for _ in d) / len(d) for d in diffs) / len(diffs)
                     for _ in range(rounds))
    cut = (1 - level) / 2
    low, high = samples[int(cut * rounds)], samples[min(int((1 - cut) * rounds), rounds - 1)]
    difference = sum(sum(d) / len(d) for d in diffs) / len(diffs)
    return {"difference": difference, "low": low, "high": high, "exceeds": low > 0 or high < 0}
