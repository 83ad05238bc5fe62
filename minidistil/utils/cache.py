"""Where fetched packages live, and the error every source raises.

The cache folder is `$MINIDISTIL_CACHE`, default `~/.cache/minidistil`. A source that cannot be
fetched, or whose hash differs from its pin, raises `SourceError` with one sentence naming the
package and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path


class SourceError(RuntimeError):
    """A registry source could not be fetched or failed its hash check."""


def cache_dir() -> Path:
    return Path(os.environ.get("MINIDISTIL_CACHE", Path.home() / ".cache" / "minidistil"))
