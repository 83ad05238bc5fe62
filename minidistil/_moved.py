"""Old import paths, in one table: each moved module or name and its home now.

minidistil's modules used to sit in one flat folder; they now live in folders that are the layers
(`utils`, `tokenizer`, `nn`, `data`, `training`, `recipes`, `apps`, `cli`). Old code keeps working:
`import minidistil.teacher` or `from minidistil.sources import fetch` finds the module at its new
path, the same module object, with one `DeprecationWarning` naming the new path. New code imports
the new paths. The finder below is the only mechanism; the two tables are the only data.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MODULES = {  # old module path -> new module path
    "minidistil.augment": "minidistil.data.augment",
    "minidistil.batching": "minidistil.data.batching",
    "minidistil.bleu": "minidistil.utils.bleu",
    "minidistil.builds": "minidistil.utils.builds",
    "minidistil.cache": "minidistil.utils.cache",
    "minidistil.checkpoint": "minidistil.nn.checkpoint",
    "minidistil.chinese": "minidistil.recipes.chinese",
    "minidistil.cloze": "minidistil.training.cloze",
    "minidistil.config": "minidistil.nn.config",
    "minidistil.convert": "minidistil.apps.convert",
    "minidistil.data.cache": "minidistil.utils.cache",
    "minidistil.debian": "minidistil.data.debian",
    "minidistil.decoder": "minidistil.nn.decoder",
    "minidistil.distill": "minidistil.training.distill",
    "minidistil.features": "minidistil.data.features",
    "minidistil.finetune": "minidistil.training.finetune",
    "minidistil.flops": "minidistil.utils.flops",
    "minidistil.fsutil": "minidistil.utils.fsutil",
    "minidistil.generate": "minidistil.nn.generate",
    "minidistil.heads": "minidistil.nn.heads",
    "minidistil.kinds": "minidistil.data.kinds",
    "minidistil.losses": "minidistil.nn.losses",
    "minidistil.masking": "minidistil.data.masking",
    "minidistil.metrics": "minidistil.utils.metrics",
    "minidistil.mlm": "minidistil.training.mlm",
    "minidistil.model": "minidistil.nn.model",
    "minidistil.onnx_export": "minidistil.apps.onnx_export",
    "minidistil.pipelines": "minidistil.apps.pipelines",
    "minidistil.plots": "minidistil.utils.plots",
    "minidistil.pretrained": "minidistil.recipes.pretrained",
    "minidistil.quantize": "minidistil.apps.quantize",
    "minidistil.rdata": "minidistil.data.rdata",
    "minidistil.recipe": "minidistil.recipes.recipe",
    "minidistil.resume": "minidistil.training.resume",
    "minidistil.seq2seq": "minidistil.nn.seq2seq",
    "minidistil.sources": "minidistil.data.sources",
    "minidistil.sword": "minidistil.data.sword",
    "minidistil.tasks": "minidistil.data.tasks",
    "minidistil.teacher": "minidistil.recipes.teacher",
    "minidistil.teacher_outputs": "minidistil.training.teacher_outputs",
    "minidistil.train": "minidistil.training.train",
    "minidistil.translate": "minidistil.training.translate",
    "minidistil.translator_cache": "minidistil.recipes.pretrained",
    "minidistil.vocab_train": "minidistil.tokenizer.vocab_train",
    "minidistil.wordnet": "minidistil.data.wordnet",
}

# (old module path, name) -> "new.module.path:name": names that moved out of a module. "name()": an old
# copy of a registry, now computed from the live registry when it is read.
NAMES = {
    ("minidistil.sources", "mlm_teacher_dir"): "minidistil.recipes.pretrained:teacher_dir",
    ("minidistil.sources", "mlm_teacher_root"): "minidistil.recipes.teacher:cached_dir",
    ("minidistil.sources", "TeacherSettings"): "minidistil.recipes.teacher:TeacherSettings",
    ("minidistil.sources", "TEACHER_CORPORA"): "minidistil.recipes.teacher:TEACHER_CORPORA",
    ("minidistil.translate", "TranslatorSettings"): "minidistil.recipes.translator:TranslatorSettings",
    ("minidistil.translate", "PRESETS"): "minidistil.recipes.translator:PRESETS",
    ("minidistil.translate", "train_translator"): "minidistil.recipes.translator:train_translator",
    ("minidistil.translate", "translator_root"): "minidistil.recipes.translator:translator_root",
    ("minidistil.translate", "REBUILD"): "minidistil.recipes.translator:REBUILD",
    ("minidistil.translate", "VARIANTS"): "minidistil.recipes.translator:VARIANTS",
    ("minidistil.translate", "plan_steps"): "minidistil.recipes.translator:plan_steps",
    ("minidistil.translate", "TranslationPipeline"): "minidistil.apps.translation:TranslationPipeline",
    ("minidistil.translate", "collate_pairs"): "minidistil.data.batching:collate_pairs",
    ("minidistil.convert", "STUDENT_LAYERS"): "minidistil.training.distill:STUDENT_LAYERS",
    ("minidistil.convert", "extract_student"): "minidistil.training.distill:extract_student",
    ("minidistil.convert", "student_layers"): "minidistil.training.distill:student_layers",
    ("minidistil.convert", "CheckpointError"): "minidistil.nn.checkpoint:CheckpointError",
    ("minidistil.convert", "load_pretrained"): "minidistil.nn.checkpoint:load_pretrained",
    ("minidistil.convert", "save_pretrained"): "minidistil.nn.checkpoint:save_pretrained",
    ("minidistil.distill", "check_vocabulary"): "minidistil.data:check_vocabulary",
    ("minidistil.tasks", "KINDS"): "minidistil.data.kinds:Names()",
    ("minidistil.finetune", "HEADS"): "minidistil.data.kinds:heads()",
    ("minidistil.onnx_export", "OUTPUTS"): "minidistil.apps.onnx_export:outputs_by_class()",
    ("minidistil.convert", "CLASSES"): "minidistil.apps.convert:classes()",
    ("minidistil.pipelines", "TASKS"): "minidistil.apps.pipelines:model_classes()",
}

_warned: set[str] = set()


def _warn_once(old: str, new: str) -> None:
    if old not in _warned:
        _warned.add(old)
        warnings.warn(f"{old} has moved to {new}; import it from there", DeprecationWarning, stacklevel=4)


def _resolve(target: str):
    module, _, name = target.partition(":")
    value = getattr(importlib.import_module(module), name.removesuffix("()"))
    return value() if name.endswith("()") else value


class _OldModule(types.ModuleType):
    """An old module path some of whose names moved elsewhere: those come from NAMES, the rest from the
    module's new home."""

    def __getattr__(self, name):
        target = NAMES.get((self.__name__, name))
        if target is not None:
            _warn_once(f"{self.__name__}.{name}", target.replace(":", "."))
            return _resolve(target)
        return getattr(importlib.import_module(MODULES[self.__name__]), name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old module path in MODULES and hands back the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MODULES[spec.name]
        _warn_once(spec.name, new)
        if any(old == spec.name for old, _ in NAMES):
            return _OldModule(spec.name)
        return importlib.import_module(new)  # the same module object under both names

    def exec_module(self, module):
        pass


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def package_getattr(name: str):
    """`minidistil.<old name>` as an attribute of the package (`import minidistil; minidistil.teacher`)."""
    old = f"minidistil.{name}"
    if old in MODULES:
        return importlib.import_module(old)
    raise AttributeError(f"module 'minidistil' has no attribute {name!r}")
