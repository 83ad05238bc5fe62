"""The whole Chinese-English corpus: every source of DATA.md read, cleaned, de-duplicated and split,
with whole projects held out, built once into the data cache.

    >>> folder = build()                 # ~/.cache/minidistil/zh-en-corpus-<key>/, a progress bar while it builds
    >>> pairs("test-prose")[0]
    {'zh': '…', 'en': '…', 'source': 'maint-guide', 'unit': 'dreq.html', 'kind': 'prose'}

A record keeps its `source` (the project: `debian-handbook`, `okular`, `tatoeba`, `help/scalc`, ...),
its `unit` (a page, catalogue or book inside it) and its `kind`: `prose` (manuals), `ui` (catalogues),
`everyday` (Tatoeba, the Bible) or `lexicon` (CC-CEDICT, iso-codes, CLDR).

Splits (deterministic: by project name, and for Tatoeba by a hash of the Chinese sentence):

| split | what | why |
|---|---|---|
| `test-prose` | maint-guide, harden-doc | two whole manuals on topics no other manual covers at length (packaging, security), translated by their own teams; the model reads no page of either |
| `test-ui` | okular, freeciv-data | a KDE document viewer and a strategy game: whole catalogues whose vocabulary (annotations, nations, units) no training catalogue shares |
| `test-current` | `parallel.TEST_SOURCES` | the earlier test modules of LibreOffice and GNU, kept comparable with RESULTS.md |
| `test-tatoeba` | 4% of Tatoeba's distinct Chinese sentences | split by Chinese sentence after de-duplication: all English translations of one sentence fall on one side |
| `validation` | `parallel.VALIDATION_SOURCES`, 2% of Tatoeba's Chinese sentences | for early stopping and choices |
| `train` | everything else | |

A held-out pair whose Chinese (or, outside Tatoeba, English) is also a training pair's, after
normalising case, spaces and punctuation, is dropped from the held-out set: a UI string such as
"Cancel"/"取消" is in every catalogue, and scoring it would score memory, not translation.

Every source's raw pairs are kept as they are read (`cache_dir()/zh-en-sources/<name>-<tag>.jsonl`),
so an interrupted build resumes at the source it was reading and a changed cleaning rule re-reads
nothing; the finished corpus folder replaces its partial one in one rename (`minidistil.utils.builds`).
"""
from __future__ import annotations

import hashlib
import html
import json
import os
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

from minidistil.utils import builds
from minidistil.data import everyday, html_pairs, lexicon, mozilla, parallel, qt_qm
from minidistil.data import zh_en_sources as pinned
from minidistil.utils.cache import cache_dir
from minidistil.data.gettext_mo import read_mo

# ---------------------------------------------------------------- readers, one per source

HB, IG, FAQ = pinned.HB, pinned.IG, pinned.FAQ
# name: (zh package, zh folder, en package, en folder)
MANUALS = {
    "debian-handbook": ("debian-handbook", HB + "zh-CN", "debian-handbook", HB + "en-US"),
    "installation-guide": ("installation-guide-amd64", IG + "zh_CN", "installation-guide-amd64", IG + "en"),
    "debian-faq": ("debian-faq-zh-cn", FAQ + "zh-cn", "debian-faq", FAQ.rstrip("/")),
    "maint-guide": ("maint-guide-zh-cn", "usr/share/doc/maint-guide-zh-cn/html", "maint-guide",
                    "usr/share/doc/maint-guide/html"),
    "debian-edu-doc": ("debian-edu-doc-zh-cn", "usr/share/doc/debian-edu-doc-zh-cn", "debian-edu-doc-en",
                       "usr/share/doc/debian-edu-doc-en"),
    "debian-edu-doc-legacy": ("debian-edu-doc-legacy-zh-cn", "usr/share/doc/debian-edu-doc-legacy-zh-cn",
                              "debian-edu-doc-legacy-en", "usr/share/doc/debian-edu-doc-legacy-en"),
    "kicad-doc": ("kicad-doc-zh", "usr/share/doc/kicad/help/zh", "kicad-doc-en", "usr/share/doc/kicad/help/en"),
    "harden-doc": ("harden-doc", "usr/share/doc/harden-doc/html/zh-CN", "harden-doc", "usr/share/doc/harden-doc/html/en-US"),
    "gimp-help": ("gimp-help-zh-cn", "usr/share/gimp/2.0/help/zh_CN", "gimp-help-en", "usr/share/gimp/2.0/help/en"),
}
CATALOGUES = ("blender-data", "inkscape", "gimp-data", "digikam-data", "vlc-l10n", "git", "gnucash-common",
              "evolution-common", "plasma-workspace-data", "freeciv-data", "kio", "okular")
MOZILLA = {"firefox": ("firefox-esr-l10n-zh-cn", "firefox-esr"), "thunderbird": ("thunderbird-l10n-zh-cn", "thunderbird")}


def manual_pairs(name: str) -> Iterator[dict]:
    zh_pkg, zh_dir, en_pkg, en_dir = MANUALS[name]
    zh_root, en_root = pinned.deb_files(zh_pkg) / zh_dir, pinned.deb_files(en_pkg) / en_dir
    zh_pages = {html_pairs.page_key(str(p.relative_to(zh_root))): p for p in zh_root.rglob("*.html")}
    for en_page in sorted(en_root.rglob("*.html")):
        key = html_pairs.page_key(str(en_page.relative_to(en_root)))
        if key in zh_pages:
            zh_html, en_html = (p.read_text("utf-8", "replace") for p in (zh_pages[key], en_page))
            for zh, en in html_pairs.align(zh_html, en_html):
                yield {"zh": zh, "en": en, "source": name, "unit": key}


def catalogue_pairs(name: str) -> Iterator[dict]:
    for mo in sorted(pinned.deb_files(name).glob(pinned.MO)):
        yield from mo_records(mo.read_bytes(), name, mo.stem)


def mo_records(raw: bytes, source: str, unit: str) -> Iterator[dict]:
    """(msgstr, msgid); a plural message gives its singular and the first (Chinese: only) form."""
    for message in read_mo(raw, unit).messages:
        if message.msgstr[0]:
            yield {"zh": message.msgstr[0], "en": message.msgid, "source": source, "unit": unit}


def wheel_mo_pairs(name: str, pattern: str) -> Iterator[dict]:
    with zipfile.ZipFile(pinned.wheel(name)) as z:
        for member in sorted(n for n in z.namelist() if re.fullmatch(pattern, n)):
            yield from mo_records(z.read(member), name.lower(), member)


def mozilla_pairs(name: str) -> Iterator[dict]:
    zh_pkg, en_pkg = MOZILLA[name]
    zh = sorted(pinned.deb_files(zh_pkg).rglob("*.xpi"))
    en = sorted(pinned.deb_files(en_pkg).rglob("omni.ja"))
    for unit, z, e in mozilla.pairs(zh, en):
        yield {"zh": z, "en": e, "source": name, "unit": unit}


def qt_pairs() -> Iterator[dict]:
    for qm in sorted(pinned.deb_files("qttranslations5-l10n").rglob("*.qm")):
        for m in qt_qm.read_qm(qm.read_bytes(), qm.name):
            if m.source and m.translation:
                yield {"zh": m.translation, "en": m.source, "source": "qttranslations", "unit": qm.stem}


def libreoffice_and_gnu() -> Iterator[dict]:
    """The earlier corpus (parallel.py): LibreOffice help and UI, GNU catalogues; `source` is the
    module (`help/scalc`, `ui/chart`, `gnu/tar`) so that its test and validation modules stay apart."""
    for r in parallel.raw_pairs():
        yield {**r, "unit": r["source"]}


# (name, kind, reader); of two equal pairs de-duplication keeps the training one, else the earlier one here.
SOURCES: list[tuple[str, str, Callable[[], Iterator[dict]]]] = (
    [(name, "prose", lambda n=name: manual_pairs(n)) for name in MANUALS]
    + [("libreoffice+gnu", "mixed", libreoffice_and_gnu)]
    + [(name, "ui", lambda n=name: mozilla_pairs(n)) for name in MOZILLA]
    + [(name, "ui", lambda n=name: catalogue_pairs(n)) for name in CATALOGUES]
    + [("qttranslations", "ui", qt_pairs),
       ("django", "ui", lambda: wheel_mo_pairs("Django", r"django/(contrib/\w+/)?(conf/)?locale/zh_Hans/LC_MESSAGES/\w+\.mo")),
       ("sphinx", "ui", lambda: wheel_mo_pairs("Sphinx", r"sphinx/locale/zh_CN/LC_MESSAGES/sphinx\.mo")),
       ("tatoeba", "everyday", everyday.tatoeba), ("bible", "everyday", everyday.union_version),
       ("iso-codes", "lexicon", lexicon.iso_codes_pairs), ("cldr", "lexicon", lexicon.cldr_pairs),
       ("cc-cedict", "lexicon", lexicon.cedict_pairs)])


def kind_of(kind: str, record: dict) -> str:
    """The earlier corpus mixes LibreOffice's help (prose) with UI and GNU catalogues."""
    if kind != "mixed":
        return kind
    return "prose" if record["source"].startswith("help/") else "ui"


# ---------------------------------------------------------------- cleaning (DATA.md's rules)

CJK = parallel.CJK
LATIN = parallel.LATIN
TAG = re.compile(r"</?[A-Za-z][^<>]*>")
# KDE/Qt accelerators: "&File", "Save &As"; an entity ("&amp;") is not one
AMPERSAND_ACCELERATOR = re.compile(r"&(?=[^\W_])(?![a-zA-Z]+;)")
ZH_ACCELERATOR = re.compile(r"\s*[(（]\s*[&~_]?[A-Za-z0-9]\s*[)）]")  # 文件(&F), 打开(_O)
# placeholders of printf, Qt/KDE (%1), ICU/Python ({0} {name}), LibreOffice, Mozilla (#1, %S)
PLACEHOLDER = re.compile(parallel.FORMAT_SPECIFIER.pattern + r"|#\d\b|%[1-9]\$?S")
HOLE = re.compile(r"“\s*”|「\s*」|\"\s*\"|‘\s*’|（\s*）|\(\s*\)")  # what a placeholder left behind
NAVIGATION_EN = {"prev", "next", "home", "up", "previous", "contents", "table of contents", "index", "top",
                 "go back", "back", "next page", "previous page"}
NAVIGATION_ZH = {"上一页", "下一页", "起始页", "上一级", "首页", "目录", "索引", "返回", "上一章", "下一章", "后退", "前进"}
FREECIV_CONTEXT = re.compile(r"^\?[\w-]+:(?=\S)")  # freeciv's "?plural:Danes", "?cma:Prefer science"
CODE_MARKUP = re.compile(r"\w+='[^']*'|\w+=\"[^\"]*\"")  # text='…' markup in help strings


def placeholder_count(text: str) -> int:
    return sum(1 for _ in PLACEHOLDER.finditer(text))


def untranslated(zh: str, en: str) -> bool:
    """More than half of the English words (three letters or more) appear in the Chinese side too:
    "图 17.222. Example for the “GIMPressionist” filter" is the English with a Chinese label."""
    words = re.findall(r"[a-z]{3,}", en.lower())
    inside = set(re.findall(r"[a-z]{3,}", zh.lower()))
    return len(words) >= 3 and sum(w in inside for w in words) > len(words) / 2


def clean(zh: str, en: str, kind: str) -> tuple[str, str] | str:
    """The cleaned pair, or the name of the rule that drops it (counted in counts.json)."""
    if kind == "ui" and parallel.is_block(en, zh):
        return "multi-line"  # usage texts and option tables: their lines do not pair
    zh, en = html.unescape(TAG.sub("", zh)), html.unescape(TAG.sub("", en))
    zh = ZH_ACCELERATOR.sub("", parallel.strip_accelerators(zh))
    en = AMPERSAND_ACCELERATOR.sub("", parallel.strip_accelerators(en))
    en = FREECIV_CONTEXT.sub("", en)
    zh, en = " ".join(zh.split()), " ".join(en.split())
    if not zh or not en:
        return "empty"
    if en.lower().rstrip(" .:»«<>|") in NAVIGATION_EN or zh.rstrip(" .:»«<>|") in NAVIGATION_ZH:
        return "navigation"
    if not CJK.search(zh):
        return "no CJK in zh"
    if not LATIN.search(en) or CJK.search(en):
        return "en not English"
    if untranslated(zh, en):
        return "untranslated"  # an English block in the Chinese manual, a cross-reference translated
    if CODE_MARKUP.search(en):
        return "markup"
    if HOLE.search(zh) and not HOLE.search(en):
        return "placeholder hole"
    if kind == "ui" and placeholder_count(zh) != placeholder_count(en):
        return "placeholders differ"  # one dropped or doubled: the pair no longer says the same
    if kind == "prose" and len(zh) >= 10 and not 0.3 <= len(en) / len(zh) <= 15:
        return "length ratio"  # a block paired with the wrong one
    return zh, en


def zh_key(zh: str) -> str:
    """De-duplication key of a Chinese side: only its letters, digits and CJK (punctuation and spaces
    dropped, Latin lower-cased), so that "你好！" and "你好。" are one sentence."""
    return "".join(c for c in zh.lower() if c.isalnum())


def en_key(en: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", en.lower()))


# ---------------------------------------------------------------- splits

HELD_OUT = {"test-prose": ("maint-guide", "harden-doc"), "test-ui": ("okular", "freeciv-data")}
TATOEBA_TEST, TATOEBA_VALIDATION = 4, 2  # per cent of Tatoeba's distinct Chinese sentences
SPLITS = ("train", "validation", "test-prose", "test-ui", "test-current", "test-tatoeba")
CLEANING_VERSION = 4  # 4: freeciv's ?context: prefixes; 3: untranslated blocks dropped; 2: training keeps the pairs it shares with held-out projects


def split_of(record: dict) -> str:
    source = record["source"]
    for split, projects in HELD_OUT.items():
        if source in projects:
            return split
    if source in parallel.TEST_SOURCES:
        return "test-current"
    if source in parallel.VALIDATION_SOURCES:
        return "validation"
    if source == "tatoeba":
        bucket = int(hashlib.sha256(zh_key(record["zh"]).encode()).hexdigest(), 16) % 100
        return "test-tatoeba" if bucket < TATOEBA_TEST else "validation" if bucket < TATOEBA_TEST + TATOEBA_VALIDATION \
            else "train"
    return "train"


def build_splits(records) -> tuple[dict[str, list[dict]], dict]:
    """Clean, de-duplicate by (Chinese, English) across all sources, split, and drop held-out pairs
    whose Chinese (or English, outside Tatoeba) a training pair shares.

    De-duplication keeps the training copy of a pair that a held-out project shares ("Cancel" is in
    okular and in kio): the held-out project loses it, training keeps it; otherwise the first wins."""
    splits = {s: [] for s in SPLITS}
    counts = {"raw": Counter(), "dropped": {}, "duplicate": Counter(), "clean": Counter()}
    cleaned_records = []
    for record in records:
        source = record["source"]
        counts["raw"][source] += 1
        cleaned = clean(record["zh"], record["en"], record["kind"])
        if isinstance(cleaned, str):
            counts["dropped"].setdefault(source, Counter())[cleaned] += 1
            continue
        record = {**record, "zh": cleaned[0], "en": cleaned[1]}
        cleaned_records.append((split_of(record), record))
    seen = set()
    for split, record in sorted(cleaned_records, key=lambda sr: sr[0] != "train"):  # stable: training first
        key = (zh_key(record["zh"]), en_key(record["en"]))
        if key in seen:
            counts["duplicate"][record["source"]] += 1
            continue
        seen.add(key)
        counts["clean"][record["source"]] += 1
        splits[split].append(record)
    train_zh = {zh_key(r["zh"]) for r in splits["train"]}
    train_en = {en_key(r["en"]) for r in splits["train"]}
    counts["held_out_seen_in_train"] = {}
    for split in SPLITS[1:]:
        kept = [r for r in splits[split] if zh_key(r["zh"]) not in train_zh
                and (r["source"] == "tatoeba" or en_key(r["en"]) not in train_en)]
        counts["held_out_seen_in_train"][split] = len(splits[split]) - len(kept)
        splits[split] = kept
    counts["split"] = {s: Counter(r["source"] for r in rs) for s, rs in splits.items()}
    return splits, counts


# ---------------------------------------------------------------- the cached corpus

# Bump a source's number when its reader changes: only that source is read again on the next build.
READER_VERSIONS = {"bible": 2}


def pins_key() -> str:
    pins = {"debs": {n: p.sha256 for n, p in pinned.DEBS.items()}, "wheels": {n: p.sha256 for n, p in pinned.WHEELS.items()},
            "parallel": parallel.cache_key()}
    return hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]


def source_file(name: str) -> Path:
    """Where the raw pairs of one source are kept: `cache_dir()/zh-en-sources/<name>-<tag>.jsonl`, the
    tag following the pinned files and the source's reader version, so a changed cleaning rule or
    split re-uses every source as read, and a changed reader re-reads only its own source."""
    tag = hashlib.sha256(json.dumps([pins_key(), name, READER_VERSIONS.get(name, 1)]).encode()).hexdigest()[:10]
    return cache_dir() / "zh-en-sources" / f"{name}-{tag}.jsonl"


def cache_key() -> str:
    recipe = {"sources": [source_file(n).name for n, _, _ in SOURCES], "cleaning": CLEANING_VERSION,
              "held_out": HELD_OUT, "current": parallel.TEST_SOURCES, "validation": parallel.VALIDATION_SOURCES,
              "tatoeba": (TATOEBA_TEST, TATOEBA_VALIDATION)}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def corpus_dir() -> Path:
    return cache_dir() / f"zh-en-corpus-{cache_key()}"


def read_sources(progress: bool = True) -> list[Path]:
    """Every source read into its own file (fetching its packages), those already read skipped: an
    interrupted build resumes at the source it was reading."""
    from tqdm.auto import tqdm

    files = []
    bar = tqdm(SOURCES, desc="zh-en sources", unit="source", disable=not progress)
    for name, kind, reader in bar:
        bar.set_postfix_str(name)
        path = source_file(name)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                for r in reader():
                    r = {"zh": r["zh"], "en": r["en"], "source": r["source"], "unit": r.get("unit", ""),
                         "kind": kind_of(kind, r)}
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            os.replace(tmp, path)  # whole or absent: a file that exists was read to its end
        files.append(path)
    return files


def build(progress: bool = True) -> Path:
    """The folder of the built corpus (`<split>.jsonl`, `counts.json`), built on first use: every
    package fetched and checked, every source read (`read_sources`), then all of them cleaned,
    de-duplicated and split in one pass. Later calls return at once."""
    folder = corpus_dir()
    if builds.finished(folder):
        return folder
    files = read_sources(progress)
    with builds.entry(folder, what="the Chinese-English corpus") as work:
        if work is None:
            return folder
        splits, counts = build_splits(r for path in files for r in _records(path))
        for split, records in splits.items():
            with open(work / f"{split}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        summary = {"splits": {s: len(r) for s, r in splits.items()}, "held_out": HELD_OUT,
                   "current_test_sources": parallel.TEST_SOURCES, "sources": [p.name for p in files], **counts}
        (work / "counts.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def _records(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        yield from (json.loads(line) for line in f)


def pairs(split: str = "train") -> list[dict]:
    """The cleaned pairs of one split (building the corpus on first use)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return list(_records(build() / f"{split}.jsonl"))


def even_sample(records: list[dict], limit: int) -> list[dict]:
    """An even sample of `limit` records over a split (every source of it, in order), not its first
    `limit`; all of them when `limit` is 0 or at least their number. The translation tables score these."""
    if not limit or limit >= len(records):
        return records
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]


def counts() -> dict:
    return json.loads((build() / "counts.json").read_text(encoding="utf-8"))


def chinese_texts(split: str = "train") -> list[str]:
    """The Chinese sides of the training pairs, as pretraining text for a Chinese encoder. Only
    "train": an encoder that read a held-out project would leak it into every model warm-started from it."""
    if split != "train":
        raise ValueError(f"chinese_texts gives the training split only (got {split!r}): the held-out projects "
                         f"must stay unseen by anything a translator is warm-started from")
    return [r["zh"] for r in pairs("train")]
