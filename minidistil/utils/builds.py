"""The rules every cached build follows: one builder at a time, a manifest written last, bounded disk.

A cache entry is a folder built once per machine and reused (the MLM teacher, the distilled student,
and the encoders and translators of `minidistil.recipes.pretrained`; the fetched packages of
`minidistil.data.sources` use the same manifest). Build one like this:

    root = cache_dir() / "teachers" / "minilm-mlm-1a2b3c4d"
    if builds.finished(root, rebuild="python -m minidistil adapt-teacher"):   # sizes checked every time
        return root
    with builds.entry(root, estimate_bytes=700e6, rebuild="python -m minidistil adapt-teacher") as work:
        if work is not None:          # None: another process finished it while this one waited
            train_into(work)          # write everything into `work`; resume from what is already there
    # here the manifest is in root/manifest.json and `work` has become `root`

What `entry` does, in order:

1. **Lock.** `root.lock` beside the entry, held with `flock` for the whole build and holding the
   holder's pid, host and start time. A second caller waits, saying once "waiting for the build
   started by pid N on HOST at TIME", or with `no_wait=True` raises `BuildLockedError` in one
   sentence. The lock dies with its process (a `kill -9` included); a newcomer that finds the
   file of a holder that is gone takes it over and says so.
2. **Disk.** `estimate_bytes` (checkpoints and model) is compared with the free space of the cache's
   disk, minus what the partial folder already holds; `DiskFullError` in one sentence if it cannot fit.
3. **Work folder.** `root.partial` (kept between runs, so an interrupted build resumes from its
   checkpoint). A damaged `root` (a file missing or of a wrong size) stays where it is while the
   build runs beside it, resuming from a checkpoint it kept, and is swapped out at the end (its
   half-written files never meet the new ones); one without a manifest is moved there first. A
   block that fails before writing any file (an input check) leaves no empty `root.partial`.
4. **On success:** the resume checkpoints (`SCRATCH`) are removed (`keep_checkpoints=True` keeps
   them), the manifest is written last (every file's size and sha256), and the folder is renamed
   to `root` whole. Every write error of the block (an `OSError`, torch's or safetensors' own
   errors that say the disk is full) becomes `DiskFullError`, one sentence with the estimate.

`finished(root)` checks the sizes of every file in the manifest (cheap: one `stat` each); a damaged
entry is said on stderr and counts as not finished, so the build that follows repairs it;
`verify(root)` checks the sha256 too (`python -m minidistil cache verify`) and raises
`DamagedEntryError` naming the file and the command that rebuilds it. All errors here are `BuildError`, a
`SourceError`: the command line prints them as one line and exits with 2.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from minidistil.utils import interrupts
from minidistil.utils.cache import SourceError, cache_dir

MANIFEST = "manifest.json"
SCRATCH = ("checkpoint.pt", "checkpoint.prev.pt", "checkpoint.pt.tmp")  # resume points, not part of the result


class BuildError(SourceError):
    """A cached build cannot start, finish or be trusted; the message is one sentence."""


class BuildLockedError(BuildError):
    """Another process is building this entry and the caller asked not to wait."""


class DamagedEntryError(BuildError):
    """A finished entry's file is missing or differs from its manifest."""


class DiskFullError(BuildError, OSError):
    """The build does not fit on the disk, or a write failed because the disk is full."""

    def __init__(self, message: str):
        super().__init__(message)
        self.errno, self.strerror = errno.ENOSPC, message

    def __str__(self):
        return self.strerror


def say(message: str) -> None:
    """Messages of a build (waiting, taking over): one line on stderr, beside the progress bar."""
    print(f"minidistil: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the manifest

def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path, rebuild: str = "") -> dict:
    """List every file under `folder` with its size and sha256; write it last. Kept resume
    checkpoints (`SCRATCH`) are left out: they carry their own checksums (`minidistil.training.resume`)."""
    files = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.name not in (MANIFEST, *SCRATCH)):
        files[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": sha256(path)}
    manifest = {"files": files, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "rebuild": rebuild}
    tmp = Path(folder) / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, Path(folder) / MANIFEST)
    return manifest


def read_manifest(root: Path) -> dict | None:
    try:
        return json.loads((Path(root) / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def problem(root: Path, hashes: bool = False) -> str | None:
    """What is wrong with the finished entry `root` (None: nothing), in a few words naming the file."""
    root = Path(root)
    files = read_manifest(root)
    if files is None:
        return f"{root / MANIFEST} is missing or unreadable (the build did not finish)"
    for name, want in files.items():
        path = root / name
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != want["size"]:
            return f"{path} has {size:,} bytes where its manifest says {want['size']:,}"
        if hashes and sha256(path) != want["sha256"]:
            return f"{path} differs from its manifest (sha256)"
    return None


def finished(root: Path, rebuild: str = "", hashes: bool = False, message: Callable[[str], None] | None = None) -> bool:
    """True when `root` is a finished entry whose files have their manifest's sizes (and hashes,
    with `hashes`). False when there is no entry, or one without a manifest (unfinished, or made
    before manifests), or a damaged one (a file missing or of another size): `entry` then builds it
    again, resuming from what it holds, beside a damaged entry and swapped in once complete, so the
    command that found the damage is also the one that repairs it. The damage is said on stderr."""
    root = Path(root)
    if not root.exists() or read_manifest(root) is None:
        return False
    wrong = problem(root, hashes)
    if wrong is None:
        return True
    (message or say)(f"the cached build {root} is damaged ({wrong}); building it again beside it")
    return False


def verify(root: Path, rebuild: str = "") -> None:
    """Check every file's size and sha256 against the manifest; `DamagedEntryError` if one differs."""
    root = Path(root)
    if read_manifest(root) is None:
        raise DamagedEntryError(f"{root} is not a finished build (no manifest); {rebuild_advice(root, rebuild)}")
    wrong = problem(root, hashes=True)
    if wrong is not None:
        raise DamagedEntryError(f"the cached build {root} is damaged: {wrong}; {rebuild_advice(root, rebuild)}")


def rebuild_advice(root: Path, rebuild: str = "", remove: bool = False) -> str:
    """The command that rebuilds `root`: `rebuild`, or the one its manifest records, or (`remove`, or
    neither known) `cache remove`."""
    if not rebuild and not remove:
        try:
            rebuild = json.loads((Path(root) / MANIFEST).read_text()).get("rebuild", "")
        except (OSError, ValueError, AttributeError):
            rebuild = ""
    if rebuild and not remove:
        return f"run `{rebuild}` to rebuild it (it resumes from a finished checkpoint when one is there)"
    try:
        name = Path(root).resolve().relative_to(cache_dir().resolve()).as_posix()
    except ValueError:
        name = Path(root).name
    return f"run `python -m minidistil cache remove {name}` and it is built again on next use"


# ---------------------------------------------------------------- the lock

def _holder(text: str) -> dict | None:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _read_holder(fd: int, patience: float = 1.0) -> dict | None:
    """The record of the process holding the lock. It writes the record just after taking the lock,
    so a caller that arrives in between finds the file empty: give the holder a moment to write it."""
    deadline = time.monotonic() + patience
    while True:
        holder = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
        if holder or time.monotonic() > deadline:
            return holder
        time.sleep(0.02)


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another process"
    return f"pid {holder.get('pid')} on {holder.get('host')} at {holder.get('started')}"


@contextmanager
def lock(path: Path, no_wait: bool = False, what: str = "this entry", message: Callable[[str], None] = say):
    """Hold the lock file `path` for the duration of the block (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            if no_wait:
                os.close(fd)
                error = BuildLockedError(f"{what} is being built by {_describe(holder)}; wait for it to finish "
                                         f"or run again without --no-wait to wait")
                error.holder = _describe(holder)
                raise error from None
            message(f"waiting for the build of {what} started by {_describe(holder)}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        # The holder before us may have removed the file after we opened it: lock the file on disk.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        before = _holder(os.pread(fd, 4096, 0).decode(errors="replace"))
        if before:  # its holder is gone without cleaning up (killed): we take over its work
            message(f"the build of {what} started by {_describe(before)} is no longer running; taking it over")
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        yield
    finally:
        try:
            os.ftruncate(fd, 0)
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def running(root: Path) -> str | None:
    """Who is building `root` now ("pid N on HOST at TIME"), or None. Read from the lock file's record
    without touching the lock (taking it, even shared, could make a builder with no_wait fail): a
    record of this host whose process is alive. A killed holder's record names a dead pid."""
    try:
        holder = _holder(lock_path(root).read_text(errors="replace"))
    except OSError:
        return None
    if not holder or holder.get("host") != socket.gethostname():
        return _describe(holder) if holder else None
    try:
        os.kill(int(holder.get("pid")), 0)
    except (ProcessLookupError, TypeError, ValueError):
        return None
    except PermissionError:  # alive, another user's
        pass
    return _describe(holder)


# ---------------------------------------------------------------- the build

def partial_dir(root: Path) -> Path:
    return Path(root).with_name(Path(root).name + ".partial")


def lock_path(root: Path) -> Path:
    return Path(root).with_name(Path(root).name + ".lock")


def folder_bytes(folder: Path) -> int:
    """Bytes the files under `folder` take on disk. A sparse file (the stored teacher outputs are sized
    for the whole corpus and filled chunk by chunk) counts the blocks it holds, not its length."""
    if not Path(folder).exists():
        return 0
    return sum(min(st.st_size, st.st_blocks * 512) for st in (p.stat() for p in Path(folder).rglob("*") if p.is_file()))


@contextmanager
def entry(root: str | Path, *, estimate_bytes: float = 0, no_wait: bool = False, keep_checkpoints: bool = False,
          rebuild: str = "", what: str | None = None, message: Callable[[str], None] = say) -> Iterator[Path]:
    """Build the cache entry `root`: yield its work folder (None when another process finished the
    entry while this one waited for the lock); on success the folder becomes `root` with a manifest."""
    root = Path(root)
    what = what or str(root)
    work = partial_dir(root)
    with lock(lock_path(root), no_wait=no_wait, what=what, message=message):
        interrupts.point("build:locked")
        if not root.exists() and work.exists() and problem(work) is None:  # killed between manifest and rename
            os.replace(work, root)
        shutil.rmtree(_old_dir(root), ignore_errors=True)  # left by a swap that was killed half-way
        if root.exists():
            if problem(root) is None:  # another process finished it while we waited: nothing to do
                yield None
                return
            if read_manifest(root) is None and not work.exists():  # unfinished (made before manifests)
                os.replace(root, work)
            else:  # damaged: rebuilt beside it, resuming from a checkpoint it kept; swapped in at the end
                work.mkdir(parents=True, exist_ok=True)
                for name in SCRATCH:
                    if (root / name).is_file() and not (work / name).exists():
                        shutil.copy2(root / name, work / name)
        check_space(work, estimate_bytes, what)
        work.mkdir(parents=True, exist_ok=True)
        try:
            yield work
            interrupts.point("build:written")
            if not keep_checkpoints:
                for name in SCRATCH:
                    (work / name).unlink(missing_ok=True)
            write_manifest(work, rebuild)
            interrupts.point("build:manifest")
            _swap_in(work, root)
        except BaseException as e:
            if not any(p.is_file() for p in work.rglob("*")):  # it failed before writing anything (an input
                shutil.rmtree(work, ignore_errors=True)       # check): no empty work left to look unfinished
            if is_disk_full(e) and not isinstance(e, DiskFullError):  # one already says what and how much
                raise DiskFullError(disk_message(work, estimate_bytes, what)) from None
            raise


def _old_dir(root: Path) -> Path:
    return Path(root).with_name(f".{Path(root).name}.old")  # hidden: `cache list` skips it


def _swap_in(work: Path, root: Path) -> None:
    """`work` becomes `root`; a damaged `root` is set aside first and deleted after."""
    if root.exists():
        os.replace(root, _old_dir(root))
        interrupts.point("build:swap")
    os.replace(work, root)
    shutil.rmtree(_old_dir(root), ignore_errors=True)


def check_space(work: Path, estimate_bytes: float, what: str) -> None:
    """One sentence if the build (minus what `work` already holds) does not fit on the disk."""
    if not estimate_bytes:
        return
    folder = work if work.exists() else work.parent
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    needed = estimate_bytes - folder_bytes(work)
    if needed > free:
        raise DiskFullError(f"building {what} needs about {_mb(needed)} more on the disk holding "
                            f"{work.parent}, which has {_mb(free)} free; free some space or point "
                            f"MINIDISTIL_CACHE at a larger disk")


def is_disk_full(e: BaseException | None) -> bool:
    """An OSError with ENOSPC/EDQUOT anywhere in the chain, or torch's / safetensors' own write errors."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(e)
        if "No space left on device" in text or "Disk quota exceeded" in text or "failed writing file" in text:
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False


def disk_message(work: Path, estimate_bytes: float, what: str) -> str:
    need = f" (the build needs about {_mb(estimate_bytes)} in all)" if estimate_bytes else ""
    return (f"the disk holding {work.parent} is full, so {what} could not be written{need}; free some space "
            f"and run the same command again: it resumes from its last checkpoint")


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB" if n >= 2**20 else f"{n / 2**10:,.0f} KiB"
