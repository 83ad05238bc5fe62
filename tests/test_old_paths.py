"""Every import path and public name that moved still works where old code imports it: through the one
table of `minidistil._moved`, the same objects, with a DeprecationWarning naming the new home."""
import importlib
import sys
import warnings

import pytest

from minidistil import _moved


def old(path: str):
    """Import an old path as old code would, its warning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(path)


@pytest.mark.parametrize("path, new", sorted(_moved.MODULES.items()))
def test_every_old_module_path_imports_and_warns_with_its_new_home(path, new):
    _moved._warned.discard(path)
    sys.modules.pop(path, None)
    with pytest.warns(DeprecationWarning, match=f"{path} has moved to {new}"):
        module = importlib.import_module(path)
    target = importlib.import_module(new)
    if isinstance(module, _moved._OldModule):
        public = [n for n in dir(target) if not n.startswith("_")]
        assert all(getattr(module, n) is getattr(target, n) for n in public)
    else:
        assert module is target


def test_old_names_of_sources_and_the_teacher():
    from minidistil.data import sources as data_sources
    from minidistil.recipes import pretrained, teacher
    from minidistil.utils.cache import SourceError, cache_dir
    sources = old("minidistil.sources")
    assert sources.fetch is data_sources.fetch and sources.PACKAGES is data_sources.PACKAGES
    assert sources.decode(b"\xa3") == "£" and sources.SourceError is SourceError and sources.cache_dir is cache_dir
    assert callable(old("minidistil.debian").unpack) and "wordnet-base" in old("minidistil.debian").PACKAGES
    assert sources.mlm_teacher_dir is pretrained.teacher_dir
    assert sources.TeacherSettings is teacher.TeacherSettings is pretrained.TeacherSettings
    assert sources.mlm_teacher_root(teacher.TeacherSettings()) == teacher.cached_dir()
    assert old("minidistil.translator_cache").translator_dir is pretrained.translator_dir


def test_old_names_of_the_recipe_steps():
    from minidistil.nn import checkpoint
    finetune, distill, convert = old("minidistil.finetune"), old("minidistil.distill"), old("minidistil.convert")
    assert finetune.save_model is checkpoint.save_model and finetune.MODEL_DIR == checkpoint.MODEL_DIR == "model"
    assert distill.check_vocabulary is importlib.import_module("minidistil.data").check_vocabulary
    assert callable(convert.extract_student) and convert.STUDENT_LAYERS[6] == (0, 2, 5)
    from minidistil.training.distill import extract_student
    from minidistil.nn.checkpoint import CheckpointError
    assert convert.extract_student is extract_student and convert.CheckpointError is CheckpointError


def test_the_translators_names_moved_out_of_translate_are_found():
    from minidistil.apps.translation import TranslationPipeline
    from minidistil.data.batching import collate_pairs
    from minidistil.recipes.translator import TranslatorSettings, train_translator
    translate = old("minidistil.translate")
    assert translate.TranslatorSettings is TranslatorSettings and translate.train_translator is train_translator
    assert translate.TranslationPipeline is TranslationPipeline and translate.collate_pairs is collate_pairs
    assert callable(translate.encode_sources)  # still in its home, minidistil.training.translate


def test_old_copies_of_the_registries_are_read_live(monkeypatch):
    """`finetune.HEADS`, `tasks.KINDS`, `onnx_export.OUTPUTS`, `convert.CLASSES`, `pipelines.TASKS` were
    copies made at import; their old names now read the registries when used, later kinds included."""
    from minidistil.data import kinds
    from minidistil.nn.heads import DistilBertForSequenceClassification

    class Late(DistilBertForSequenceClassification):
        pass

    monkeypatch.setitem(kinds.KINDS, "late", kinds.Kind("late", Late, encode=len))
    assert old("minidistil.finetune").HEADS["late"] is Late
    assert "late" in old("minidistil.tasks").KINDS
    assert old("minidistil.onnx_export").OUTPUTS[Late] == {"logits": ("batch",)}
    assert old("minidistil.convert").CLASSES["Late"] is Late
    assert old("minidistil.pipelines").TASKS["translation_zh_to_en"].__name__ == "DistilBertEncoderDecoder"


def test_the_package_names_an_old_module_as_an_attribute():
    import minidistil
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert minidistil.teacher is importlib.import_module("minidistil.recipes.teacher")
    with pytest.raises(AttributeError):
        minidistil.no_such_module
