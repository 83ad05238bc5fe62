"""A fill-in-the-blank test of an MLM: real held-out sentences with one content word masked.

Perplexity over every masked token is dominated by "the", "of" and commas. A cloze item asks for
the word that carries the meaning: a sentence from text the model has not trained on, with one
content word (a lower-case word of 4+ letters, not a function word, that is one token of the
vocabulary) replaced by `[MASK]`. The score is top-1 and top-5 accuracy, beside the baseline that
always answers the set's 5 most frequent answers: a model that only knows word frequencies gets
the baseline, one that reads the sentence does better.

    >>> items = cloze.make_items(heldout_documents, vocab, n=300, seed=0)
    >>> items[0]
    {'text': 'She had a [MASK] of laughing at everything.', 'answer': 'habit'}
    >>> cloze.score(pipeline("fill-mask", model=folder), items)["top5"]
    >>> cloze.score(pipeline("fill-mask", model=folder), items, candidates=cloze.answer_words(vocab))["top5"]

The second score tells the model what kind of word is asked for, as the items were made: its
guesses are limited to the vocabulary's possible answers (lower-case words of 4+ letters that are
not function words), as cloze benchmarks limit answers to a candidate set (LAMA's common
vocabulary). The baseline answers from that set too; what it knows and the model does not is
which answers are frequent in the set.
"""
from __future__ import annotations

import random
import re
from collections import Counter

from minidistil.data.sentences import sentences as split_sentences

# Words that carry grammar rather than meaning; a cloze on them tests frequency, not reading.
FUNCTION_WORDS = frozenset("""
about above after again against also although among another anyone anything around because been
before being below between both cannot could does doing down during each either else enough even
ever every from further have having here hers herself himself however into itself just least less
many more most much must myself neither never none nothing once only other otherwise ought ours
ourselves over perhaps quite rather same shall should since some something such than that their
theirs them themselves then there therefore these they this those though through thus till under
unless until upon very were what whatever when where whether which while whom whose will with
within without would your yours yourself yourselves said says like well back still made make
""".split())

# The rule the cloze items are drawn with (kept, so that a seed gives the same items): a sentence opens
# with a quote or a capital, not a digit or "(", and only "\n" breaks a line.
CLOZE_STARTS = "\"'“A-Z"
_WORD = re.compile(r"\b[a-z]{4,}\b")


def sentences(document: str) -> list[str]:
    """The sentences of a document, by the cloze test's rule (`minidistil.data.sentences`)."""
    return split_sentences(document, CLOZE_STARTS, newline_only=True)


def make_items(documents: list[str], vocab: set[str], n: int = 300, seed: int = 0,
               min_words: int = 8, max_words: int = 40) -> list[dict]:
    """`n` cloze items from `documents`, at most one per sentence, chosen with `seed`.

    `vocab` is the tokenizer's vocabulary: the answer must be one whole token, so that one
    `[MASK]` can hold it.
    """
    rng = random.Random(seed)
    candidates = [s for d in documents for s in sentences(d) if min_words <= len(s.split()) <= max_words]
    rng.shuffle(candidates)
    items = []
    for sentence in candidates:
        words = [m for m in _WORD.finditer(sentence) if m.group() in vocab and is_answer_word(m.group())]
        if not words:
            continue
        word = rng.choice(words)
        items.append({"text": sentence[:word.start()] + "[MASK]" + sentence[word.end():], "answer": word.group()})
        if len(items) == n:
            break
    if len(items) < n:
        raise ValueError(f"only {len(items)} cloze items could be made from these documents, {n} were asked for; "
                         f"give more text or ask for fewer")
    return items


def is_answer_word(word: str) -> bool:
    """What an item may ask for: a lower-case word of 4+ letters, not a function word."""
    return _WORD.fullmatch(word) is not None and word not in FUNCTION_WORDS


def answer_words(vocab) -> list[str]:
    """The vocabulary's possible answers: the candidate set of a cloze that says what kind of word it asks for."""
    return sorted(w for w in vocab if is_answer_word(w))


def baseline(items: list[dict], k: int = 5) -> float:
    """Top-k accuracy of always answering the k most frequent answers of the set."""
    common = {w for w, _ in Counter(i["answer"] for i in items).most_common(k)}
    return sum(i["answer"] in common for i in items) / len(items)


def score(fill_mask, items: list[dict], candidates: list[str] | None = None) -> dict:
    """Top-1 and top-5 accuracy of a fill-mask pipeline on the items, with the baseline; with
    `candidates` (say `answer_words(vocab)`), the model's guesses are limited to them."""
    limit = {} if candidates is None else {"targets": candidates}
    predictions = fill_mask([i["text"] for i in items], top_k=5, **limit)
    top1 = top5 = 0
    for item, guesses in zip(items, predictions):
        tokens = [g["token_str"].strip() for g in guesses]
        top1 += tokens[0] == item["answer"]
        top5 += item["answer"] in tokens
    return {"items": len(items), "top1": top1 / len(items), "top5": top5 / len(items),
            "baseline_top1": baseline(items, 1), "baseline_top5": baseline(items, 5)}
