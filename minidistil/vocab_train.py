"""Moved to `minidistil.tokenizer.vocab_train`; this old import path is the same module (kept so that old code works)."""
import sys

from minidistil.tokenizer import vocab_train as _moved

sys.modules[__name__] = _moved
