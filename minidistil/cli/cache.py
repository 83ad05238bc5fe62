"""`python -m minidistil cache`: what the data cache holds, checked, removed one entry at a time.

    python -m minidistil cache                 # every entry with its size and state
    python -m minidistil cache verify          # sizes and sha256 of every file against its manifest
    python -m minidistil cache remove NAME     # delete one entry (a package, teachers/minilm-mlm-1a2b3c4d)

An entry is a folder of `minidistil.utils.builds` (a fetched package; a built teacher, student, Chinese
encoder or translator, one level down in its group folder); its size is the disk it takes. It is
"ok" when its manifest's files are there with their sizes, "no manifest" or "unfinished" without one (a build
under way or interrupted: rerunning it resumes), "damaged" otherwise.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from minidistil.utils import builds
from minidistil.cli.output import table
from minidistil.utils.cache import cache_dir

GROUPS = ("teachers", "students", "chinese", "translators")  # folders that hold entries one level down
DOWNLOADS = ("wheels", "sdists")     # fetched archives, each checked against its pin when used


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("cache", help="list, verify or remove the entries of the data cache",
                              description=__doc__.split("\n\n")[0] + f" The cache is $MINIDISTIL_CACHE "
                              f"(now {cache_dir()}).")
    p.add_argument("action", nargs="?", default="list", choices=("list", "verify", "remove"),
                   help="list (default), verify (hash every file), remove NAME")
    p.add_argument("name", nargs="?", help="the entry to remove, as `cache list` names it")
    p.set_defaults(func=run_cache)


def entries(root: Path | None = None) -> list[Path]:
    """Every entry folder of the cache (packages at the top, builds inside `GROUPS`)."""
    root = root or cache_dir()
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in DOWNLOADS:
            continue
        if folder.name in GROUPS:
            found += [f for f in sorted(folder.iterdir()) if f.is_dir() and not f.name.startswith(".")]
        else:
            found.append(folder)
    return found


def state(folder: Path, hashes: bool = False) -> str:
    holder = builds.running(folder.with_name(folder.name.removesuffix(".partial")))
    if holder is not None:  # its files are changing: neither "unfinished" nor "damaged" yet
        return f"being built by {holder}"
    if builds.read_manifest(folder) is None:
        return "unfinished (a build resumes it)" if folder.name.endswith(".partial") else "no manifest"
    wrong = builds.problem(folder, hashes)
    return "ok" if wrong is None else f"damaged: {wrong}"


def run_cache(args) -> None:
    root = cache_dir()
    if args.action == "remove":
        if not args.name:
            raise ValueError("say which entry to remove: `python -m minidistil cache remove NAME`, "
                             "NAME as `python -m minidistil cache` lists it")
        names = {f.relative_to(root).as_posix(): f for f in entries(root)}
        if args.name not in names:
            raise ValueError(f"the cache {root} has no entry {args.name!r}; `python -m minidistil cache` lists them")
        folder = names[args.name]
        # A build holds the lock of its entry, `NAME.lock`, also while it writes into `NAME.partial`.
        root = folder.with_name(folder.name.removesuffix(".partial"))
        try:
            with builds.lock(builds.lock_path(root), no_wait=True, what=args.name, message=lambda m: None):
                shutil.rmtree(folder)
        except builds.BuildLockedError as e:
            raise builds.BuildLockedError(f"{args.name} is in use: its build is running as {e.holder}; wait for "
                                          f"it to finish, or stop that process, then remove it") from None
        print(f"removed {names[args.name]}")
        return
    rows = {f.relative_to(root).as_posix(): f"{builds.folder_bytes(f) / 2**20:,.1f} MiB  "
                                            f"{state(f, hashes=args.action == 'verify')}" for f in entries(root)}
    print(table(rows) if rows else f"the cache {root} is empty")
    if args.action == "verify":
        damaged = [name for name, row in rows.items() if "damaged" in row]
        if damaged:
            raise ValueError(f"{len(damaged)} damaged entr{'y' if len(damaged) == 1 else 'ies'} "
                             f"({', '.join(damaged)}); remove each with `python -m minidistil cache remove NAME` "
                             f"and it is built again on next use")
