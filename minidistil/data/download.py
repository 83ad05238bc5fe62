"""Writing a fetched file so that a full disk never leaves half of it behind, and says so.

Every fetched archive (a .deb over HTTP, a wheel or source distribution by `pip download`) is
written under a temporary name in the folder it belongs in and renamed to its own name only once
complete: a download cut short (a full disk, Ctrl-C, a dropped connection) leaves no file that a
later run would take for the archive. A full disk is `builds.DiskFullError` in one sentence:

    disk full (3 MB free, 21 MB needed) while fetching fortunes-zh_2.98_all.deb into ~/.cache/minidistil/...;
    free some space (or point MINIDISTIL_CACHE at a larger disk) and run again

never the "could not fetch from the registry" of a network failure.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from minidistil.utils.builds import DiskFullError, is_disk_full

CHUNK = 1 << 20


def _write(f, chunk: bytes) -> None:
    """One write of a download (a seam: tests make it raise ENOSPC to play a full disk)."""
    f.write(chunk)


def _mb(n: float) -> str:
    if n >= 2**20 or n <= 0:
        return f"{max(n, 0) / 2**20:,.0f} MB"
    return f"{n / 2**10:,.0f} KB" if n >= 2**10 else f"{n:,.0f} bytes"


def disk_full(folder: Path, name: str, needed: int | None, at_least: bool = False) -> DiskFullError:
    free = shutil.disk_usage(folder if folder.exists() else folder.parent).free
    need = f", {'at least ' if at_least else ''}{_mb(needed)} needed" if needed else ""
    return DiskFullError(f"disk full ({_mb(free)} free{need}) while fetching {name} into {folder}; free some space "
                         f"(or point MINIDISTIL_CACHE at a larger disk) and run again")


def _temporary(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.download")


def save(stream, dest: Path, size: int | None = None) -> Path:
    """Copy the readable `stream` (an HTTP response) into `dest`, whole or not at all. `size`: the
    expected length (Content-Length), for the message when the disk fills up."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(dest)
    try:
        with open(tmp, "wb") as f:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                _write(f, chunk)
        os.replace(tmp, dest)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if is_disk_full(e):
            raise disk_full(dest.parent, dest.name, size) from None
        raise
    return dest


def pip_download(cmd: list[str], folder: Path, filename: str) -> subprocess.CompletedProcess:
    """Run `pip download ... -d DIR` with DIR a fresh folder beside `folder`; move `filename` into
    `folder` once pip succeeded. pip writes straight into its -d folder, so a full disk (or Ctrl-C)
    would leave a truncated archive there: the temporary folder is removed whatever happens."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(folder / filename)
    tmp.mkdir()
    try:
        done = subprocess.run([str(tmp) if c == "{dest}" else c for c in cmd], capture_output=True, text=True)
        if done.returncode == 0 and (tmp / filename).is_file():
            os.replace(tmp / filename, folder / filename)
        elif "No space left on device" in done.stderr or f"[Errno {errno.ENOSPC}]" in done.stderr:
            partial = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
            raise disk_full(folder, filename, partial or None, at_least=True)
        return done
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
