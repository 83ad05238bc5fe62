"""The default models, built once per machine into the data cache and reused: one function each.

    >>> from minidistil.recipes import pretrained
    >>> pretrained.teacher_dir()   # all-MiniLM-L6-v2 further pretrained with MLM (about 21 min on 2 cores, once)
    PosixPath('~/.cache/minidistil/teachers/minilm-mlm-<key>/model')
    >>> pretrained.student_dir()   # a 3-layer student distilled from it (about 28 min on 2 cores, once)
    PosixPath('~/.cache/minidistil/students/distil-<key>/model')
    >>> json.loads((pretrained.student_dir().parent / "report.json").read_text())["models"]["student"]["perplexity"]

Each function returns the cached model folder, building it in this process (with a progress bar)
when it is absent, by the one build pattern of `minidistil.recipes.defaults`: one builder per entry
at a time (`no_wait=True` fails in one sentence instead of waiting), a manifest whose sizes are
checked on every call, resume from the last checkpoint after an interruption, bounded disk. A damaged
entry raises `builds.DamagedEntryError` naming the file and the command that rebuilds it.

Each model's settings are a frozen `BuildSettings` whose `key()` names its folder, so other settings
build beside the default and never over it. The recipe modules register their models; this module is
their one public face, and nothing below it imports it.

| function | settings | built by |
|---|---|---|
| `teacher_dir` | `teacher.TeacherSettings` | `minidistil.recipes.teacher` |
| `student_dir` | `student.StudentSettings` | `minidistil.recipes.student` |
| `chinese_dir` | `chinese.ChineseSettings` | `minidistil.recipes.chinese` |
| `chinese_student_dir` | `chinese.StudentSettings` | `minidistil.recipes.chinese` |
| `translator_dir` | `translator.TranslatorSettings` | `minidistil.recipes.translator` |
| `translator_student_dir` | `translator.TranslatorSettings(variant="student")` | `minidistil.recipes.translator` |
"""
from __future__ import annotations

from pathlib import Path

# Importing the recipe modules registers their default models.
from minidistil.recipes import chinese, defaults, recipe, student, teacher, translator  # noqa: F401
from minidistil.recipes.student import (StudentSettings, distill_student, distillation_report,  # noqa: F401
                                        heldout_curve, spread, store_bytes, tokens_seen)
from minidistil.recipes.teacher import TeacherSettings  # noqa: F401

__all__ = ["teacher_dir", "student_dir", "chinese_dir", "chinese_student_dir", "translator_dir",
           "translator_student_dir", "translator_folders", "TeacherSettings", "StudentSettings", "student_root",
           "distill_student", "distillation_report"]

STUDENT_REBUILD = student.REBUILD


def teacher_dir(settings=None, *, no_wait: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """The MLM teacher built with `settings` (default: the one every example uses)."""
    return defaults.build("teacher", settings, no_wait=no_wait, progress=progress, device=device)


def student_dir(settings=None, *, no_wait: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """A student distilled from `teacher_dir(settings.teacher)`, with its `report.json` and `heldout.png`
    beside the model."""
    return defaults.build("student", settings, no_wait=no_wait, progress=progress, device=device)


def student_root(settings=None) -> Path:
    """Where the student built with `settings` lives: `<cache>/students/distil-<key>`."""
    return defaults.root("student", settings)


def chinese_dir(settings=None, *, no_wait: bool = False, progress: bool = True, device: str = "cpu") -> Path:
    """The Chinese encoder (an MLM over characters; see `minidistil.recipes.chinese` for the two routes)."""
    return defaults.build("chinese", settings, no_wait=no_wait, progress=progress, device=device)


def chinese_student_dir(settings=None, teacher_settings=None, *, no_wait: bool = False, progress: bool = True,
                        device: str = "cpu") -> Path:
    """The Chinese DistilBERT: a student distilled from `chinese_dir(settings.teacher)` with the triple loss
    (`teacher_settings`: another teacher)."""
    return chinese.student_dir(settings or chinese.STUDENT, teacher_settings, progress=progress, no_wait=no_wait,
                               device=device)


def translator_dir(settings=None, *, encoder_settings=None, no_wait: bool = False, progress: bool = True,
                   device: str = "cpu") -> Path:
    """The Chinese -> English translator trained with `settings` (default: the `warm` one) on the Chinese
    encoder `settings.encoder` (`encoder_settings`: another one)."""
    settings = translator.with_encoder(settings or translator.TranslatorSettings(), encoder_settings)
    name = "translator_student" if settings.variant == "student" else "translator"
    return defaults.build(name, settings, no_wait=no_wait, progress=progress, device=device)


def translator_student_dir(settings=None, *, no_wait: bool = False, progress: bool = True,
                           device: str = "cpu") -> Path:
    """The distilled translator: the `warm` translator's decoder layers 0, 2, 5, distilled from it."""
    return defaults.build("translator_student", settings, no_wait=no_wait, progress=progress, device=device)


def translator_folders(settings=None, *, encoder_settings=None, no_wait: bool = False, progress: bool = True,
                       device: str = "cpu") -> dict[str, Path]:
    """The folders `train_translator` starts from (`translator.folders`), each built into the cache when absent."""
    settings = translator.with_encoder(settings or translator.TranslatorSettings(), encoder_settings)
    name = "translator_student" if settings.variant == "student" else "translator"
    return defaults.built_from(name, settings, no_wait=no_wait, progress=progress, device=device)
