"""Chinese-English sentence pairs from Debian's software documentation, held out by source.

Three kinds of real parallel text ship in Debian bookworm (pinned below, all translated by people):

| kind | package | how a pair is found |
|---|---|---|
| `help/<module>` | libreoffice-help-zh-cn + -en-us (MPL-2.0) | the same 2,561 HTML files in both; paragraphs with the same `id="par_id…"` / `hd_id…` |
| `ui/<catalogue>` | libreoffice-l10n-zh-cn | 33 gettext `.mo` catalogues: msgid English, msgstr Chinese |
| `gnu/<package>` | coreutils, tar, grep, ... libgtk-3-common (GPL/LGPL) | their `zh_CN/LC_MESSAGES/*.mo` |

Every pair is cleaned by the same rules (`clean_pair`), then de-duplicated across all sources by
normalised English (UI first, then help, then GNU: the first occurrence wins), then split by
source: whole help modules and whole packages are held out (`TEST_SOURCES`, `VALIDATION_SOURCES`),
never random pairs, and training pairs whose English is a near-duplicate of a held-out one are
dropped. The result is built once into `cache_dir()/parallel-zh-en-<key>/` (`train.jsonl`,
`validation.jsonl`, `test.jsonl`, `counts.json`):

    >>> test = pairs("test")
    >>> test[0]
    {'zh': '无法完成选中的对象的功能。', 'en': 'This function cannot be completed with the selected objects.', 'source': 'ui/chart'}
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import urllib.request
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from minidistil.utils import builds, textio
from minidistil.data import debian, download
from minidistil.utils.cache import SourceError, cache_dir
from .gettext_mo import read_mo

DebPackage = debian.DebPackage
# Security updates (apt 2.6.2 here) live in a second archive beside the main one.
SECURITY_MIRROR = os.environ.get("MINIDISTIL_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
SNAPSHOT_EXAMPLE = "https://snapshot.debian.org/archive/debian/20250301T000000Z"

HELP = "usr/share/libreoffice/help/{lang}/text/*.html"
UI = "usr/lib/libreoffice/program/resource/zh_CN/LC_MESSAGES/*.mo"
GNU = "usr/share/locale/zh_CN/LC_MESSAGES/*.mo"


def _deb(name: str, version: str, sha256: str, pool: str, member: str, licence: str) -> DebPackage:
    # `members` holds glob patterns here (fnmatch's `*` crosses folders), unpacked by `unpack` below.
    return DebPackage(name, version, sha256, pool, (member,), licence)


LO = "pool/main/libr/libreoffice/"
PACKAGES = {p.name: p for p in [
    _deb("libreoffice-help-zh-cn", "4:7.4.7-1+deb12u14", "db867cdece4c2f9c7eebe65e519c6cf386fdcf49d6e061db3dffec893b3e1dee",
         LO + "libreoffice-help-zh-cn_7.4.7-1+deb12u14_all.deb", HELP.format(lang="zh-CN"), "MPL-2.0"),
    _deb("libreoffice-help-en-us", "4:7.4.7-1+deb12u14", "8faa840285734d6cfe1ed25537b48f07e74bd6412e3917bf8e5f8a653f7b3712",
         LO + "libreoffice-help-en-us_7.4.7-1+deb12u14_all.deb", HELP.format(lang="en-US"), "MPL-2.0"),
    _deb("libreoffice-l10n-zh-cn", "4:7.4.7-1+deb12u14", "06b2800923811a11ddadc9e1e09ef8bda2a89ba118470403b2f6a897152e0809",
         LO + "libreoffice-l10n-zh-cn_7.4.7-1+deb12u14_all.deb", UI, "MPL-2.0"),
    _deb("coreutils", "9.1-1", "61038f857e346e8500adf53a2a0a20859f4d3a3b51570cc876b153a2d51a3091",
         "pool/main/c/coreutils/coreutils_9.1-1_amd64.deb", GNU, "GPL-3+"),
    _deb("tar", "1.34+dfsg-1.2+deb12u1", "24fb92e98c2969171f81a8b589263d705f6b1670f95d121cd74c810d4605acc3",
         "pool/main/t/tar/tar_1.34+dfsg-1.2+deb12u1_amd64.deb", GNU, "GPL-3+"),
    _deb("grep", "3.8-5", "3264acea728df3c48a54f20e9291b965130e306b9d00adac76647049da7196df",
         "pool/main/g/grep/grep_3.8-5_amd64.deb", GNU, "GPL-3+"),
    _deb("sed", "4.9-1+deb12u1", "fd557efeee8aae4619c2cb7f68aadccb804322ad4a99ab048aaae5901d253885",
         "pool/main/s/sed/sed_4.9-1+deb12u1_amd64.deb", GNU, "GPL-3+"),
    _deb("findutils", "4.9.0-4", "5dd86bd0af4aa73f067dfd6b8339dd868f2dd84056aa79db29d1206d4fbc5e04",
         "pool/main/f/findutils/findutils_4.9.0-4_amd64.deb", GNU, "GPL-3+"),
    _deb("diffutils", "1:3.8-4", "8bdfedc14c1035e3750e9f055ac9c1ecd9b5d05d9e6dc6466c4e9237eef407dd",
         "pool/main/d/diffutils/diffutils_3.8-4_amd64.deb", GNU, "GPL-3+"),
    _deb("bash", "5.2.15-2+b13", "82130bb6a560cd2a7234d8018baf73f188f5dd56413d5aa0accc987b2197a6a1",
         "pool/main/b/bash/bash_5.2.15-2+b13_amd64.deb", GNU, "GPL-3+"),
    _deb("gettext", "0.21-12", "8c1f9d43575373ce311f51d00a13afbb4888d63aa559a93a3472f5d77513b60c",
         "pool/main/g/gettext/gettext_0.21-12_amd64.deb", GNU, "GPL-3+"),
    _deb("apt", "2.6.2", "796fc7fe18866f5b1fb27a115d7339e549d71b7ddbc15b8d6fc4226c243e96d1",
         "pool/updates/main/a/apt/apt_2.6.2_amd64.deb", GNU, "GPL-2+"),
    _deb("dpkg", "1.21.23", "f89e9f8d1a4a50ade44be3ed59a6ec55460fce205d2f8520c5c492137c5b609b",
         "pool/main/d/dpkg/dpkg_1.21.23_amd64.deb", GNU, "GPL-2+"),
    _deb("util-linux-locales", "2.38.1-5+deb12u3", "2cb091d6fdc2f38d3ce414102877dcc7434e4d42f18b58e73708219c2b9ec18e",
         "pool/main/u/util-linux/util-linux-locales_2.38.1-5+deb12u3_all.deb", GNU, "GPL-2+"),
    _deb("libgtk-3-common", "3.24.38-2~deb12u3", "f2642d127d85440acbfc2ed404d3932d8b2fbe8a576ead7f93f35ac1fa999c92",
         "pool/main/g/gtk+3.0/libgtk-3-common_3.24.38-2~deb12u3_all.deb", GNU, "LGPL-2+"),
]}
GNU_PACKAGES = [name for name, p in PACKAGES.items() if p.members == (GNU,)]

# Held out whole: a source is a help module (text/<module>/), a UI catalogue or a GNU package.
TEST_SOURCES = ("help/smath", "help/schart", "ui/chart", "ui/sm", "gnu/tar", "gnu/sed", "gnu/findutils")
VALIDATION_SOURCES = ("help/sdraw", "help/sdatabase", "ui/sd", "ui/basctl", "gnu/grep", "gnu/diffutils", "gnu/bash")
SPLITS = ("train", "validation", "test")
CLEANING_VERSION = 1  # bump when a rule below changes: the cache key follows it


# ---------------------------------------------------------------- fetching

def unpack(pkg: DebPackage) -> Path:
    """The folder holding the files of `pkg` that match its glob `members`, relative paths kept: a
    cache entry of `minidistil.utils.builds` (built under a lock, a manifest written last, sizes checked
    on every call), as `debian.unpack` makes for a fixed list of members."""
    root = cache_dir() / pkg.folder_name
    if builds.finished(root):
        return root
    with builds.entry(root, what=f"the Debian package {pkg.name} {pkg.version}") as work:
        if work is not None:
            _unpack_into(pkg, work)
    return root


def _unpack_into(pkg: DebPackage, work: Path) -> None:
    with debian.open_data(pkg, _fetch(pkg, work)) as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")
            if member.isfile() and any(fnmatch.fnmatch(name, pattern) for pattern in pkg.members):
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                (work / name).write_bytes(tar.extractfile(member).read())


def _fetch(pkg: DebPackage, folder: Path) -> Path:
    deb = folder / Path(pkg.pool_path).name
    entry = folder.with_name(folder.name.removesuffix(".partial"))  # a file placed there is picked up on the next run
    if pkg.pool_path.startswith("pool/updates/") and not deb.exists():
        try:  # a security update: its own archive first, then the main mirror and apt (debian.fetch)
            with urllib.request.urlopen(f"{SECURITY_MIRROR.rstrip('/')}/{pkg.pool_path}", timeout=60) as r:
                download.save(r, deb, r.length)  # whole or not at all
        except builds.DiskFullError:
            raise
        except OSError:
            pass
    try:
        return debian.fetch(pkg, folder)
    except builds.DiskFullError:
        raise  # the disk, not the mirror
    except SourceError as e:
        mirror = debian.MIRROR
        raise SourceError(
            f"{pkg.name} {pkg.version} ({deb.name}) could not be fetched from {mirror} nor by apt-get: Debian drops "
            f"+debNuM versions from its mirrors at the next point release, so set MINIDISTIL_DEBIAN_MIRROR to a "
            f"mirror that still has it (e.g. {SNAPSHOT_EXAMPLE}) or place {deb.name} in {entry} by hand") from e


# ---------------------------------------------------------------- reading the three kinds

PARAGRAPH_ID = re.compile(r"(par|hd)_id")
VOID_TAGS = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed"}


class _Paragraphs(HTMLParser):
    """The text of every element whose id is `par_id…` or `hd_id…`, markup stripped.

    LibreOffice's `switchinline` spans hold one hidden variant per system (`MAC`: "Command") beside
    the `default…` one ("Ctrl"); only the default one is kept, in both languages alike.
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self.current: str | None = None  # the id being read
        self.depth = self.skip_depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.current is None:
            if PARAGRAPH_ID.match(attrs.get("id") or "") and tag not in VOID_TAGS:
                self.current, self.depth, self.parts = attrs["id"], 1, []
            return
        if tag == "br":
            self.parts.append("\n")
        if tag in VOID_TAGS:
            return
        self.depth += 1
        hidden_variant = "hidden" in attrs and not (attrs.get("id") or "").startswith("default")
        if hidden_variant and not self.skip_depth:
            self.skip_depth = self.depth

    def handle_endtag(self, tag):
        if self.current is None or tag in VOID_TAGS:
            return
        if self.skip_depth == self.depth:
            self.skip_depth = 0
        self.depth -= 1
        if self.depth == 0:
            self.found[self.current] = "".join(self.parts)
            self.current = None

    def handle_data(self, data):
        if self.current is not None and not self.skip_depth:
            self.parts.append(data)


def html_paragraphs(html: str) -> dict[str, str]:
    """`{id: text}` of the paragraphs and headings of a LibreOffice help page, whitespace collapsed."""
    parser = _Paragraphs()
    parser.feed(html)
    parser.close()
    return {k: "\n".join(" ".join(line.split()) for line in v.split("\n")).strip() for k, v in parser.found.items()}


def align_help_page(zh_html: str, en_html: str) -> Iterator[tuple[str, str, str]]:
    """(id, zh, en) for every paragraph id the two pages share, in the English page's order;
    a paragraph left untranslated (the same text on both pages, a third of them) is dropped."""
    zh = html_paragraphs(zh_html)
    for pid, en_text in html_paragraphs(en_html).items():
        if pid in zh and zh[pid] != en_text:
            yield pid, zh[pid], en_text


def help_pairs() -> Iterator[dict]:
    zh_root = unpack(PACKAGES["libreoffice-help-zh-cn"]) / "usr/share/libreoffice/help/zh-CN"
    en_root = unpack(PACKAGES["libreoffice-help-en-us"]) / "usr/share/libreoffice/help/en-US"
    for en_file in sorted(en_root.rglob("*.html")):
        relative = en_file.relative_to(en_root)
        zh_file = zh_root / relative
        if zh_file.exists():
            source = f"help/{relative.parts[1]}"  # text/<module>/...
            for _, zh, en in align_help_page(textio.read_text(zh_file), textio.read_text(en_file)):
                yield {"zh": zh, "en": en, "source": source}


def mo_pairs(path: Path, source: str) -> Iterator[dict]:
    """(msgstr, msgid) of a catalogue; a plural message gives its singular and the first form."""
    for message in read_mo(path.read_bytes(), str(path)).messages:
        if message.msgstr[0]:
            yield {"zh": message.msgstr[0], "en": message.msgid, "source": source}


def ui_pairs() -> Iterator[dict]:
    folder = unpack(PACKAGES["libreoffice-l10n-zh-cn"])
    for mo in sorted(folder.glob(UI)):
        yield from mo_pairs(mo, f"ui/{mo.stem}")


def gnu_pairs() -> Iterator[dict]:
    for name in GNU_PACKAGES:
        for mo in sorted(unpack(PACKAGES[name]).glob(GNU)):
            yield from mo_pairs(mo, f"gnu/{name}")


def raw_pairs() -> Iterator[dict]:
    """Every pair before cleaning, in the order de-duplication keeps them: UI, help, GNU.

    The UI first: a help paragraph that repeats a UI string (2,300 do) then counts as the UI's.
    """
    yield from ui_pairs()
    yield from help_pairs()
    yield from gnu_pairs()


# ---------------------------------------------------------------- cleaning

# printf (%s %d %-5.2f %1$s %lu %%), LibreOffice/ICU ({0} %1 $(ARG1) %PRODUCTNAME), Python ({name})
FORMAT_SPECIFIER = re.compile(r"%(\d+\$)?[-+ #0']*(\d+|\*)?(\.(\d+|\*))?(hh|ll|[hlLqjzt])?[diouxXeEfFgGaAcspn%]"
                              r"|%\d+|%[A-Z][A-Z_]+%?|\$\([A-Z0-9_]+\)|\{[A-Za-z0-9_]*\}")
# "(~S)", "(_S)", "(&S)" after a Chinese label; "~" and "_" before a letter in English (GTK, LibreOffice)
ACCELERATOR = re.compile(r"\s*[(（][~_&][A-Za-z0-9][)）]|~|(?<![\w])_(?=[^\W_])")
ENGLISH_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
OPTION_ROW = re.compile(r"-{1,2}\w.*?\S( {2,}|\t)\S")
MIN_ENGLISH_WORDS = 4


def strip_accelerators(text: str) -> str:
    """'~Save' -> 'Save', 'Save _As' -> 'Save As', '保存(~S)' -> '保存', '另存为(_A)…' -> '另存为…'."""
    return ACCELERATOR.sub("", text)


def english_words(text: str) -> list[str]:
    return ENGLISH_WORD.findall(FORMAT_SPECIFIER.sub(" ", text))


def mostly_chinese(text: str) -> bool:
    """More Chinese characters than Latin letters: untranslated and code paragraphs fail."""
    cjk = len(CJK.findall(text))
    return cjk >= 2 and cjk >= len(LATIN.findall(FORMAT_SPECIFIER.sub(" ", text)))


def is_block(en: str, zh: str) -> bool:
    """Multi-line text (usage texts, code listings), or one line cut out of a `--help` table:
    indented, or an option followed by its column gap ("  -a, --all      do not ignore ...")."""
    return ("\n" in en.strip() or "\n" in zh.strip() or en.lstrip("\n")[:1] in (" ", "\t")
            or OPTION_ROW.match(en.strip()) is not None)


def clean_pair(zh: str, en: str) -> tuple[str, str] | None:
    """The pair with accelerators stripped and spaces collapsed, or None when a rule drops it."""
    if is_block(en, zh):
        return None
    zh, en = " ".join(strip_accelerators(zh).split()), " ".join(strip_accelerators(en).split())
    if len(english_words(en)) < MIN_ENGLISH_WORDS or not mostly_chinese(zh):
        return None
    return zh, en


def normalise_english(en: str) -> str:
    """The de-duplication key: case, spacing and closing punctuation ignored."""
    return " ".join(en.lower().split()).rstrip(" .:;!?…")


def near_duplicate_key(en: str) -> str:
    """Coarser: only the words, so that 'Delete %s?' and 'Delete {0}' collide."""
    return " ".join(w.lower() for w in english_words(en))


def split_of(source: str) -> str:
    return "test" if source in TEST_SOURCES else "validation" if source in VALIDATION_SOURCES else "train"


def build_splits(records) -> tuple[dict[str, list[dict]], dict]:
    """Clean, de-duplicate, split by source and drop training near-duplicates of held-out pairs."""
    seen, splits = set(), {s: [] for s in SPLITS}
    counts = {"raw": Counter(), "clean": Counter(), "duplicate": Counter()}
    for record in records:
        counts["raw"][record["source"]] += 1
        cleaned = clean_pair(record["zh"], record["en"])
        if cleaned is None:
            continue
        key = normalise_english(cleaned[1])
        if key in seen:
            counts["duplicate"][record["source"]] += 1
            continue
        seen.add(key)
        counts["clean"][record["source"]] += 1
        splits[split_of(record["source"])].append({"zh": cleaned[0], "en": cleaned[1], "source": record["source"]})
    held_out = {near_duplicate_key(r["en"]) for s in ("validation", "test") for r in splits[s]}
    kept = [r for r in splits["train"] if near_duplicate_key(r["en"]) not in held_out]
    counts["near_duplicate_of_held_out"] = len(splits["train"]) - len(kept)
    splits["train"] = kept
    counts["split"] = {s: Counter(r["source"] for r in rs) for s, rs in splits.items()}
    return splits, counts


# ---------------------------------------------------------------- the cached pairs

def cache_key() -> str:
    pinned = {"packages": {n: p.sha256 for n, p in PACKAGES.items()}, "cleaning": CLEANING_VERSION,
              "test": TEST_SOURCES, "validation": VALIDATION_SOURCES}
    return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()[:12]


def pairs_dir() -> Path:
    """The folder of the built pairs, building it (fetching the packages) on first use."""
    folder = cache_dir() / f"parallel-zh-en-{cache_key()}"
    if builds.finished(folder):
        return folder
    splits, counts = build_splits(raw_pairs())
    with builds.entry(folder, what="the Chinese-English pairs") as tmp:
        if tmp is None:  # another process built them while this one waited
            return folder
        for split, records in splits.items():
            with open(tmp / f"{split}.jsonl", "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        summary = {"kinds": kind_counts(splits), "splits": {s: len(r) for s, r in splits.items()},
                   "test_sources": TEST_SOURCES, "validation_sources": VALIDATION_SOURCES, **counts}
        (tmp / "counts.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    return folder


def kind_counts(splits: dict[str, list[dict]]) -> dict[str, dict[str, int]]:
    """{kind: {split: n}} with kind help / ui / gnu."""
    table: dict[str, dict[str, int]] = {}
    for split, records in splits.items():
        for kind, n in Counter(r["source"].split("/")[0] for r in records).items():
            table.setdefault(kind, {})[split] = n
    return table


def pairs(split: str = "train") -> list[dict]:
    """The cleaned pairs of one split: `[{"zh": ..., "en": ..., "source": "help/scalc"}, ...]`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    with open(pairs_dir() / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def counts() -> dict:
    """What `counts.json` records: pairs per source before and after cleaning, per split and kind."""
    return json.loads((pairs_dir() / "counts.json").read_text(encoding="utf-8"))


def chinese_texts(split: str = "train") -> list[str]:
    """The Chinese sides of the training pairs, as pretraining text for a Chinese encoder.

    Only "train" is accepted: pretraining on the held-out sources would leak them into every model
    warm-started from that encoder.
    """
    if split != "train":
        raise ValueError(f"chinese_texts gives the training split only (got {split!r}): the validation and "
                         f"test sources must stay unseen by anything a translator is warm-started from")
    return [r["zh"] for r in pairs("train")]
