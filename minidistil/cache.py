"""Moved to `minidistil.data.cache`; this old import path is the same module (kept so that old code works)."""
import sys

from minidistil.data import cache as _moved

sys.modules[__name__] = _moved
