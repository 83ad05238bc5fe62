"""Every public name that moved still works where users (and other modules) import it."""
import importlib

import pytest


@pytest.mark.parametrize("old, new", [("minidistil.cache", "minidistil.data.cache"),
                                      ("minidistil.debian", "minidistil.data.debian"),
                                      ("minidistil.rdata", "minidistil.data.rdata"),
                                      ("minidistil.sword", "minidistil.data.sword"),
                                      ("minidistil.wordnet", "minidistil.data.wordnet")])
def test_a_moved_module_is_the_same_module_at_its_old_path(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_old_names_of_sources_and_the_teacher():
    from minidistil import debian, pretrained, sources, teacher
    from minidistil.cache import SourceError, cache_dir
    from minidistil.data import sources as data_sources
    assert sources.fetch is data_sources.fetch and sources.PACKAGES is data_sources.PACKAGES
    assert sources.decode(b"\xa3") == "£" and sources.SourceError is SourceError and sources.cache_dir is cache_dir
    assert callable(debian.unpack) and "wordnet-base" in debian.PACKAGES
    assert sources.mlm_teacher_dir is pretrained.teacher_dir
    assert sources.TeacherSettings is teacher.TeacherSettings is pretrained.TeacherSettings
    assert sources.mlm_teacher_root(teacher.TeacherSettings()) == teacher.cached_dir()


def test_old_names_of_the_recipe_steps():
    from minidistil import checkpoint, convert, distill, finetune
    assert finetune.save_model is checkpoint.save_model and finetune.MODEL_DIR == checkpoint.MODEL_DIR == "model"
    assert distill.check_vocabulary is importlib.import_module("minidistil.data").check_vocabulary
    assert callable(convert.extract_student) and convert.STUDENT_LAYERS[6] == (0, 2, 5)
