"""Files out of a Debian package, pinned by version and sha256, unpacked in Python.

Some real text ships only in Debian: WordNet's glosses, the World English Bible, Jane Austen's
novels. A .deb is fetched once from a Debian mirror over plain HTTP (no root, no `apt-get update`,
no dpkg), checked against its sha256, and the files we need are copied out of its data archive
into `sources.cache_dir()/<name>-<version>/`. If the mirror cannot be reached, `apt-get download`
is tried next (it needs the package lists of an earlier `apt-get update`).

A .deb is an `ar` archive of three members; the files live in `data.tar.xz`:

    >>> folder = debian.unpack(debian.PACKAGES["wordnet-base"])
    >>> sorted(p.name for p in folder.iterdir())
    ['data.adj', 'data.adv', 'data.noun', 'data.verb']
"""
from __future__ import annotations

import io
import lzma
import os
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from minidistil.utils import builds
from minidistil.data import download
from minidistil.utils.cache import SourceError, cache_dir

# Any Debian mirror serves the same file; the sha256 check makes the choice of mirror safe.
MIRROR = os.environ.get("MINIDISTIL_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@dataclass(frozen=True)
class DebPackage:
    name: str                  # the Debian package
    version: str               # as apt writes it, epoch included
    sha256: str                # of the .deb file
    pool_path: str             # where every mirror keeps it
    members: tuple[str, ...]   # the files we copy out of data.tar.xz
    licence: str

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version.split(':')[-1]}"


PACKAGES = {
    "wordnet-base": DebPackage(
        "wordnet-base", "1:3.0-37", "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
        "pool/main/w/wordnet/wordnet-base_3.0-37_all.deb",
        tuple(f"usr/share/wordnet/data.{part}" for part in ("noun", "verb", "adj", "adv")), "WordNet 3.0 licence"),
    "sword-text-web": DebPackage(
        "sword-text-web", "426.0-1", "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
        "pool/main/s/sword-text-web/sword-text-web_426.0-1_all.deb",
        tuple(f"usr/share/sword/modules/texts/ztext/engWEB2015eb/{t}.{ext}"
              for t in ("ot", "nt") for ext in ("bzs", "bzv", "bzz")), "public domain"),
    "r-cran-janeaustenr": DebPackage(
        "r-cran-janeaustenr", "1.0.0-1", "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        "pool/main/r/r-cran-janeaustenr/r-cran-janeaustenr_1.0.0-1_all.deb",
        tuple(f"usr/lib/R/site-library/janeaustenr/data/Rdata.{ext}" for ext in ("rdx", "rdb")), "MIT (texts: public domain)"),
}


def fetch(pkg: DebPackage, folder: Path) -> Path:
    """The .deb in `folder`, downloaded if absent (HTTP first, then `apt-get download`)."""
    deb = folder / Path(pkg.pool_path).name
    if deb.exists():
        return deb
    url = f"{MIRROR.rstrip('/')}/{pkg.pool_path}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return download.save(response, deb, response.length)  # whole or not at all
    except builds.DiskFullError:
        raise  # the disk, not the mirror: one sentence with the space free and needed
    except OSError as http_error:
        reason = f"{url} could not be read ({http_error})"
    # Second chance: apt's own download, which works offline from a local mirror or proxy.
    done = subprocess.run(["apt-get", "download", f"{pkg.name}={pkg.version}"], cwd=folder,
                          capture_output=True, text=True) if shutil.which("apt-get") else None
    found = sorted(folder.glob(f"{pkg.name}_*.deb"))
    if done is not None and done.returncode == 0 and found:
        os.replace(found[0], deb)
        return deb
    raise SourceError(
        f"could not fetch the Debian package {pkg.name} {pkg.version}: {reason}, and `apt-get download "
        f"{pkg.name}` failed too. Download {url} on a machine that reaches Debian and copy it to {deb} "
        f"(or set MINIDISTIL_DEBIAN_MIRROR to a reachable mirror).")


def read_ar(raw: bytes, what: str = "the file") -> dict[str, bytes]:
    """The members of a Unix `ar` archive, the container format of a .deb."""
    if not raw.startswith(b"!<arch>\n"):
        raise SourceError(f"{what} is not a Debian package (no ar header); delete it and run again")
    members, pos = {}, 8
    while pos + 60 <= len(raw):
        header = raw[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = raw[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)  # members are aligned to even offsets
    return members


def unpack(pkg: DebPackage) -> Path:
    """The folder holding `pkg.members` (flat, by file name), fetched and checked on first use.

    A cache entry of `minidistil.utils.builds`: built under a lock, a manifest written last, sizes checked
    on every call; a .deb that fails its pin is deleted."""
    root = cache_dir() / pkg.folder_name
    if builds.finished(root):
        return root
    with builds.entry(root, what=f"the Debian package {pkg.name} {pkg.version}") as work:
        if work is not None:
            with open_data(pkg, fetch(pkg, work)) as tar:
                for member in pkg.members:
                    (work / Path(member).name).write_bytes(tar.extractfile(tar.getmember("./" + member)).read())
    return root


def open_data(pkg: DebPackage, deb: Path) -> tarfile.TarFile:
    """The data archive of the fetched `deb`, once its sha256 matches the pin of `pkg`; a file that
    fails it is deleted, so that the next run fetches it afresh."""
    digest = builds.sha256(deb)
    if digest != pkg.sha256:
        deb.unlink()
        raise SourceError(f"{deb.name} has sha256 {digest}, but {pkg.name} {pkg.version} is pinned to "
                          f"{pkg.sha256}; the file was deleted, run again to fetch it afresh")
    members = read_ar(deb.read_bytes(), deb.name)
    return tarfile.open(fileobj=io.BytesIO(lzma.decompress(members["data.tar.xz"])))
