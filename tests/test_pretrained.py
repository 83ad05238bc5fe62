"""`minidistil.recipes.pretrained`: the default models, built in this process once and reused."""
import json

import numpy as np
import pytest
import torch

from minidistil.utils import builds
from minidistil.recipes import defaults, pretrained, teacher
from minidistil.data import TokenCorpus
from minidistil.training.distill import extract_student
from minidistil.nn.heads import DistilBertForMaskedLM

TINY_TEACHER = teacher.TeacherSettings(corpora="hamlet,headlines", max_length=32, max_steps=2, batch_size=4,
                                       heldout_chunks=8)
TINY = pretrained.StudentSettings(teacher=TINY_TEACHER, student_layers="0,5", max_steps=3, batch_size=4,
                                  heldout_chunks=8, teacher_top_k=8)


def test_settings_name_their_folders():
    assert TINY.key() != pretrained.StudentSettings().key()
    assert pretrained.StudentSettings(teacher=TINY_TEACHER).key() != pretrained.StudentSettings().key()
    assert pretrained.student_root(TINY) == pretrained.student_root(pretrained.StudentSettings(**vars(TINY)))


def test_the_default_student_trains_on_stored_teacher_outputs():
    settings = pretrained.StudentSettings().distill_settings()
    assert settings.teacher_top_k == 64 and settings.loss.restrict_ce_to_mask and settings.student_layers == (0, 2, 5)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny student built once through `student_dir`, the cache pointed at a temporary folder."""
    tmp = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(defaults, "cache_dir", lambda: tmp)  # the default models here; the registry packages where they are
        yield tmp, pretrained.student_dir(TINY, progress=False)


def test_the_student_is_built_in_process_from_the_teacher_once(built, monkeypatch):
    tmp, folder = built
    monkeypatch.setattr(defaults, "cache_dir", lambda: tmp)
    assert folder == tmp / "students" / f"distil-{TINY.key()}" / "model" == pretrained.student_root(TINY) / "model"
    teacher_root = tmp / "teachers" / f"minilm-mlm-{TINY_TEACHER.key()}"
    assert teacher.cached_dir(TINY_TEACHER) == teacher_root
    student = DistilBertForMaskedLM.from_pretrained(folder)
    assert student.config.n_layers == 2 and (folder / "vocab.txt").is_file()
    assert builds.finished(folder.parent) and builds.finished(teacher_root)
    assert not (folder.parent / "checkpoint.pt").exists()  # resume points go once the build is done
    steps = [json.loads(line)["step"] for line in (folder.parent / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 3
    stores = list((teacher_root / "corpus" / "teacher-outputs").glob("*/meta.json"))
    assert len(stores) == 1  # the teacher's side was stored beside its corpus
    monkeypatch.setattr(pretrained.recipe, "distill", lambda *a, **k: pytest.fail("built again"))
    monkeypatch.setattr(teacher, "build_into", lambda *a, **k: pytest.fail("built again"))
    assert pretrained.student_dir(TINY) == folder


def test_the_report_equals_a_recomputation_on_the_same_masks(built):
    tmp, folder = built
    report = json.loads((folder.parent / "report.json").read_text())
    teacher_folder = tmp / "teachers" / f"minilm-mlm-{TINY_TEACHER.key()}"
    big = DistilBertForMaskedLM.from_pretrained(teacher_folder / "model")
    heldout = TokenCorpus(teacher_folder / "heldout")
    heldout = TokenCorpus(heldout.folder, heldout.indices[np.linspace(0, len(heldout) - 1, 8).round().astype(int)])
    counts = TokenCorpus(teacher_folder / "corpus").counts
    models = {"student": DistilBertForMaskedLM.from_pretrained(folder), "teacher": big,
              "undistilled": extract_student(big, (0, 5))}
    for name, model in models.items():
        again = teacher.heldout_report(model, heldout, counts, TINY.seed, reference=big)
        assert report["models"][name] == pytest.approx(again, rel=1e-5), name
    assert report["models"]["teacher"]["agreement"] == 1.0
    # the teacher's own report.json scored the same chunks with the same seed: the same numbers
    built_report = json.loads((teacher_folder / "report.json").read_text())["heldout"]
    assert {k: v for k, v in report["models"]["teacher"].items() if k != "agreement"} == pytest.approx(built_report)
    assert report["student_over_teacher"] == pytest.approx(
        report["models"]["student"]["perplexity"] / report["models"]["teacher"]["perplexity"])
    curve = report["curve"]  # step 0 is the undistilled student; the last point is the student reported
    assert curve[0] == {"step": 0, "tokens_seen": 0, "perplexity": report["models"]["undistilled"]["perplexity"]}
    assert curve[-1]["step"] == 3 and curve[-1]["perplexity"] == pytest.approx(report["models"]["student"]["perplexity"])
    assert np.all(np.diff([p["tokens_seen"] for p in curve]) > 0)
    assert report["train_chunks"] == 3 * 4 and (folder.parent / "heldout.png").stat().st_size > 1000
