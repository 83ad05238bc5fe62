"""Write a folder beside its final place, then swap it in: a failed write never costs the old folder.

    >>> with replace_folder("runs/corpus", marker="meta.json") as tmp:
    ...     write_everything_into(tmp)        # raise here and runs/corpus is untouched
    ...     check_it_reads_back(tmp)
    >>> # on leaving the block, tmp became runs/corpus and the old runs/corpus is gone

Writing into the final folder in place would destroy a good corpus or model the moment the new
one fails (an empty input, a full disk, Ctrl-C). So the new folder is written into a temporary
sibling (same parent, hence the same file system, so the final rename is cheap and all-or-nothing);
only when the block ends without an exception does the sibling take the folder's name. On an
exception the sibling is removed, and so are parent folders that were created for it.

The swap is two renames (old folder aside, new folder in), then the old one is deleted. POSIX has
no portable atomic exchange of two directories; a crash between the two renames leaves the old
folder under its `.old` name beside the target, never deleted.
"""
from __future__ import annotations

import errno
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def replace_folder(target: str | Path, marker: str) -> Iterator[Path]:
    """Yield an empty temporary folder beside `target`; on success it replaces `target` whole.

    `marker` is a file that every folder of this kind holds (`meta.json` for a corpus, `config.json`
    for a model). An existing non-empty `target` without it is refused before anything is written:
    replacing the whole folder would delete files this writer did not make (think `--out .`).
    """
    target = Path(target).resolve()  # a symlinked folder is replaced where it really lives
    _check_replaceable(target, marker)
    created = _make_parents(target.parent)
    try:
        tmp = _new_sibling(target, "tmp")
    except BaseException:
        _remove_created(created)
        raise
    try:
        yield tmp
        _swap_in(tmp, target)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_created(created)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = "the folder already there is left as it was" if target.exists() else "nothing was left behind"
            raise OSError(e.errno, f"the disk holding {target.parent} is full, so {target} was not written and "
                                   f"{kept}; free some space and run again") from None
        raise


def _new_sibling(target: Path, kind: str) -> Path:
    """A new empty folder beside `target`, hidden, named after it. Made with mkdir, not mkdtemp,
    so that it gets the usual permissions (mkdtemp's are owner-only) when it becomes `target`."""
    while True:
        folder = target.parent / f".{target.name}.{secrets.token_hex(4)}.{kind}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue


def _check_replaceable(target: Path, marker: str) -> None:
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file, not a folder; choose a folder path for the output")
    if target.is_dir() and any(target.iterdir()) and not (target / marker).is_file():
        raise ValueError(f"{target} already holds files and none of them is {marker}, so it is not a folder "
                         f"this command wrote; choose a new or empty folder so that nothing of yours is replaced")


def _make_parents(parent: Path) -> list[Path]:
    """Create `parent` and any missing ancestors; return the ones created, deepest first."""
    created = []
    folder = parent
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    return created


def _remove_created(created: list[Path]) -> None:
    for folder in created:
        try:
            folder.rmdir()  # only if still empty: something else may have written there meanwhile
        except OSError:
            return


def _swap_in(new: Path, target: Path) -> None:
    if not target.exists():
        os.replace(new, target)
        return
    old = _new_sibling(target, "old")
    os.replace(target, old)  # a rename over an empty folder is allowed on POSIX
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)  # put the old folder back: the caller sees the error, not a gap
        raise
    shutil.rmtree(old, ignore_errors=True)
