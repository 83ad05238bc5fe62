"""WordNet 3.0 from the Debian package wordnet-base, pinned by version and sha256.

WordNet's data files list every synset (a set of synonyms) with its gloss: a definition, then
example sentences in double quotes. We read them to derive two tasks (see `minidistil.tasks`):
multiple choice (which of four definitions is this word's) and extractive QA (which word in these
example sentences does this definition describe).

The .deb is fetched once from a Debian mirror over plain HTTP (no root, no `apt-get update`, no
dpkg: the archive is unpacked here in Python), checked against its sha256, and its data files are
kept in `sources.cache_dir()/wordnet-base-3.0-37/`. If the mirror cannot be reached, `apt-get
download wordnet-base` is tried next (it needs the package lists of an earlier `apt-get update`).

    >>> synsets = wordnet.synsets()              # 117,659 synsets
    >>> synsets[0].words, synsets[0].definition
    (('entity',), 'that which is perceived or known or inferred to have its own distinct existence ...')
"""
from __future__ import annotations

import functools
import hashlib
import io
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .sources import SourceError, cache_dir

PACKAGE = "wordnet-base"
VERSION = "1:3.0-37"
SHA256 = "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752"
POOL_PATH = "pool/main/w/wordnet/wordnet-base_3.0-37_all.deb"
# Any Debian mirror serves the same file; the sha256 check makes the choice of mirror safe.
MIRROR = os.environ.get("MINIDISTIL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PARTS = ("noun", "verb", "adj", "adv")


@dataclass(frozen=True)
class Synset:
    pos: str                  # n, v, a (adjective), s (satellite adjective), r (adverb)
    words: tuple[str, ...]    # the synonyms, underscores turned into spaces
    definition: str           # the gloss before its examples
    examples: tuple[str, ...] # the quoted example sentences of the gloss


def _fetch_deb(folder: Path) -> Path:
    deb = folder / "wordnet-base_3.0-37_all.deb"
    if deb.exists():
        return deb
    url = f"{MIRROR.rstrip('/')}/{POOL_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            deb.write_bytes(response.read())
        return deb
    except OSError as http_error:
        reason = f"{url} could not be read ({http_error})"
    # Second chance: apt's own download, which works offline from a local mirror or proxy.
    done = subprocess.run(["apt-get", "download", f"{PACKAGE}={VERSION}"], cwd=folder,
                          capture_output=True, text=True) if shutil.which("apt-get") else None
    found = sorted(folder.glob("wordnet-base_*_all.deb"))
    if done is not None and done.returncode == 0 and found:
        os.replace(found[0], deb)
        return deb
    raise SourceError(
        f"could not fetch the Debian package {PACKAGE} {VERSION}: {reason}, and `apt-get download "
        f"{PACKAGE}` failed too. Download {url} on a machine that reaches Debian and copy it to {deb} "
        f"(or set MINIDISTIL_DEBIAN_MIRROR to a reachable mirror).")


def _read_ar(raw: bytes) -> dict[str, bytes]:
    """The members of a Unix `ar` archive, the container format of a .deb."""
    if not raw.startswith(b"!<arch>\n"):
        raise SourceError("the wordnet-base file is not a Debian package (no ar header)")
    members, pos = {}, 8
    while pos + 60 <= len(raw):
        header = raw[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = raw[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)  # members are aligned to even offsets
    return members


def data_dir() -> Path:
    """The folder holding WordNet's data.{noun,verb,adj,adv}, fetched and checked on first use."""
    root = cache_dir() / "wordnet-base-3.0-37"
    if (root / ".complete").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    deb = _fetch_deb(root)
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    if digest != SHA256:
        deb.unlink()
        raise SourceError(f"{deb.name} has sha256 {digest}, but {PACKAGE} {VERSION} is pinned to "
                          f"{SHA256}; the file was deleted, run again to fetch it afresh")
    members = _read_ar(deb.read_bytes())
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=root))
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(members["data.tar.xz"]))) as tar:
        for part in PARTS:
            member = tar.getmember(f"./usr/share/wordnet/data.{part}")
            (tmp / f"data.{part}").write_bytes(tar.extractfile(member).read())
    for part in PARTS:
        os.replace(tmp / f"data.{part}", root / f"data.{part}")
    tmp.rmdir()
    (root / ".complete").write_text(SHA256 + "\n")
    return root


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
