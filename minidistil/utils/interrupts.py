"""Ctrl-C at the command line: one line and exit code 130, whenever it comes and however often.

Three moments need care, beyond the `except KeyboardInterrupt` of `minidistil.cli.main`:

1. **While Python imports** (the first second or so of a command: torch loads). No code of ours is
   running yet that could catch the exception, so Python prints a traceback. A command-line run
   (`python -m minidistil`, the `minidistil` script) therefore first installs a handler that prints
   one line and exits: nothing has been written yet, so there is nothing to clean up.
2. **A second Ctrl-C while the first unwinds.** The first one's clean-up (a lock released, a
   temporary folder removed, the line printed) must finish: `handled()` raises `KeyboardInterrupt`
   on the first press and ignores the ones after it.
3. **Tests** need the interrupt at a known point, not after a guessed delay (a machine that runs
   ahead finishes the command first). `point(name)` sends the process SIGINT when the environment
   variable `MINIDISTIL_SIGINT_AT` lists `name` (twice when it lists it twice: a second press while
   the first unwinds). The points: `import` (before torch loads), `main` (arguments parsed), and
   `checkpoint:N` (just after the training loop saved the checkpoint of step N), and the stages of a
   cached build (`build:locked`, `build:written`, `build:manifest`, `build:swap`). Unset, it costs
   one dictionary lookup. `MINIDISTIL_SIGKILL_AT` does the same with SIGKILL (`kill -9`).

This module imports nothing heavy: it runs before torch is loaded.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager

HOOK = "MINIDISTIL_SIGINT_AT"
KILL_HOOK = "MINIDISTIL_SIGKILL_AT"
INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def point(name: str) -> None:
    """Send this process SIGINT here if `MINIDISTIL_SIGINT_AT` names `name`, or SIGKILL if
    `MINIDISTIL_SIGKILL_AT` does (a `kill -9` at a known stage); tests only."""
    if name in os.environ.get(KILL_HOOK, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
    wanted = os.environ.get(HOOK)
    if not wanted:
        return
    times = wanted.split(",").count(name)
    if not times:
        return
    try:
        signal.raise_signal(signal.SIGINT)
    finally:
        for _ in range(times - 1):  # the next press arrives while the first one unwinds
            signal.raise_signal(signal.SIGINT)


def _is_command_line() -> bool:
    """True while `python -m minidistil` or the `minidistil` script is starting. During `-m`, Python
    sets argv[0] to "-m" until it has found the module (the package is imported meanwhile)."""
    first = sys.argv[0] if sys.argv else ""
    return first == "-m" or os.path.basename(first) == "minidistil"


def _exit_quietly(signum, frame) -> None:
    print("minidistil: interrupted", file=sys.stderr, flush=True)
    os._exit(INTERRUPTED)  # still importing: nothing written, nothing to clean up


def on_import() -> None:
    """Called first thing by `minidistil/__init__.py` (see 1. above)."""
    if not _is_command_line() or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _exit_quietly)
    point("import")


@contextmanager
def handled():
    """Within the block the first SIGINT raises `KeyboardInterrupt` and later ones are ignored (see
    2. above); the handler before it is put back at the end. Outside the main thread: unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def first_only(signum, frame):
        if pressed:
            return  # the first press is being handled: let its clean-up finish
        pressed.append(signum)
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGINT, first_only)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before if before is not None else signal.default_int_handler)
