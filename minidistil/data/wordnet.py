"""WordNet 3.0 from the Debian package wordnet-base, pinned by version and sha256.

WordNet's data files list every synset (a set of synonyms) with its gloss: a definition, then
example sentences in double quotes. We read them to derive two tasks (see `minidistil.data.tasks`):
multiple choice (which of four definitions is this word's) and extractive QA (which word in these
example sentences does this definition describe).

The .deb is fetched once and unpacked in Python by `minidistil.data.debian` (pinned by sha256); its
data files are kept in `sources.cache_dir()/wordnet-base-3.0-37/`.

    >>> synsets = wordnet.synsets()              # 117,659 synsets
    >>> synsets[0].words, synsets[0].definition
    (('entity',), 'that which is perceived or known or inferred to have its own distinct existence ...')
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from minidistil.data import debian

PACKAGE = debian.PACKAGES["wordnet-base"]
PARTS = ("noun", "verb", "adj", "adv")


@dataclass(frozen=True)
class Synset:
    pos: str                  # n, v, a (adjective), s (satellite adjective), r (adverb)
    words: tuple[str, ...]    # the synonyms, underscores turned into spaces
    definition: str           # the gloss before its examples
    examples: tuple[str, ...] # the quoted example sentences of the gloss


def data_dir() -> Path:
    """The folder holding WordNet's data.{noun,verb,adj,adv}, fetched and checked on first use."""
    return debian.unpack(PACKAGE)


_QUOTED = re.compile(r'"([^"]+)"')


def parse_line(line: str) -> Synset:
    """One line of a WordNet data file; the format is documented in wndb(5WN).

    >>> parse_line('00217499 04 n 01 disaster 0 001 @ 00217014 n 0000 | an act that has '
    ...            'disastrous consequences; "the flood was a disaster"  ')
    Synset(pos='n', words=('disaster',), definition='an act that has disastrous consequences', examples=('the flood was a disaster',))
    """
    fields, gloss = line.split(" | ", 1)
    fields = fields.split()
    pos, n_words = fields[2], int(fields[3], 16)  # the word count is two hex digits
    # Adjectives may carry a syntactic marker such as "(p)" glued to the word.
    words = tuple(re.sub(r"\(\w+\)$", "", w).replace("_", " ") for w in fields[4:4 + 2 * n_words:2])
    examples = tuple(e.strip() for e in _QUOTED.findall(gloss))
    definition = _QUOTED.sub("", gloss).strip().rstrip(";").strip()
    definition = re.sub(r"(;\s*)+$", "", definition)
    return Synset(pos, words, definition, examples)


@functools.lru_cache(maxsize=4)
def synsets(parts: tuple[str, ...] = PARTS) -> list[Synset]:
    """Every synset of the given parts of speech, in file order (which is stable across runs).

    Parsed once per process (a few seconds) and cached; treat the list as read-only.
    """
    root = data_dir()
    found = []
    for part in parts:
        with open(root / f"data.{part}", encoding="utf-8") as f:
            found += [parse_line(line) for line in f if not line.startswith("  ")]
    return found
