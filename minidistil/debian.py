"""Moved to `minidistil.data.debian`; this old import path is the same module (kept so that old code works)."""
import sys

from minidistil.data import debian as _moved

sys.modules[__name__] = _moved
