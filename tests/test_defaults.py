"""The one build pattern of the default models (`minidistil.recipes.defaults`): a settings record whose
key names the folder, a run that writes into `<folder>.partial`, what it is built from built first, the
finished folder reused. A new default model is one record and one `register`: shown with a toy one."""
import dataclasses
import json

import pytest

from minidistil.recipes import defaults, pretrained
from minidistil.recipes.defaults import BuildSettings
from minidistil.training.train import TrainSettings
from minidistil.utils import builds


@dataclasses.dataclass(frozen=True)
class ToySettings(BuildSettings):
    width: int = 3                      # what the toy "model" holds
    parent: BuildSettings = dataclasses.field(default_factory=BuildSettings)

    def key_inputs(self) -> dict:
        return {"parent": self.parent.key()}


def run_parent(settings, work, *, progress, device):
    (work / "model").mkdir()
    (work / "model" / "weights.json").write_text(json.dumps({"seed": settings.seed}))


def run_toy(settings, work, *, progress, device, parent_folder):
    calls.append(settings)
    (work / "model").mkdir(exist_ok=True)
    parent = json.loads((parent_folder / "weights.json").read_text())
    if fail_once and len(calls) == 1:
        (work / "half-done").write_text("checkpoint")
        raise RuntimeError("killed")
    (work / "model" / "weights.json").write_text(json.dumps({"width": settings.width, "parent": parent,
                                                            "resumed": (work / "half-done").exists()}))


calls: list = []
fail_once = False


@pytest.fixture
def toy(tmp_path, monkeypatch):
    calls.clear()
    monkeypatch.setattr(defaults, "cache_dir", lambda: tmp_path)
    monkeypatch.setitem(defaults.MODELS, "toy_parent", defaults.DefaultModel(
        "toy_parent", BuildSettings(), folder=lambda s: f"toys/parent-{s.key()}", run=run_parent, rebuild="rm it",
        estimate=lambda settings: 0))
    monkeypatch.setitem(defaults.MODELS, "toy", defaults.DefaultModel(
        "toy", ToySettings(), folder=lambda s: f"toys/toy-{s.key()}", run=run_toy, rebuild="rm it",
        needs=lambda s: {"parent_folder": ("toy_parent", s.parent)}, estimate=lambda settings, **up: 0))
    return tmp_path


def test_a_new_default_model_is_one_record_built_with_its_upstream_and_reused(toy):
    folder = defaults.build("toy", progress=False)
    assert folder == toy / "toys" / f"toy-{ToySettings().key()}" / "model"
    assert builds.finished(folder.parent) and builds.finished(toy / "toys" / f"parent-{BuildSettings().key()}")
    assert json.loads((folder / "weights.json").read_text()) == {"width": 3, "parent": {"seed": 56}, "resumed": False}
    assert defaults.build("toy", progress=False) == folder and len(calls) == 1  # reused, not built again
    other = defaults.build("toy", ToySettings(width=5), progress=False)
    assert other != folder and other.parent.name == f"toy-{ToySettings(width=5).key()}"  # beside, never over


def test_the_key_changes_with_every_field_and_with_what_the_build_reads():
    base = ToySettings()
    for field in dataclasses.fields(ToySettings):
        if field.name != "parent":
            changed = dataclasses.replace(base, **{field.name: getattr(base, field.name) + 1})
            assert changed.key() != base.key(), field.name
    assert dataclasses.replace(base, parent=BuildSettings(seed=1)).key() != base.key()


def test_an_interrupted_build_resumes_from_its_partial_folder(toy, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "fail_once", True)
    with pytest.raises(RuntimeError, match="killed"):
        defaults.build("toy", progress=False)
    root = defaults.root("toy")
    assert not root.exists() and (builds.partial_dir(root) / "half-done").exists()
    folder = defaults.build("toy", progress=False)
    assert json.loads((folder / "weights.json").read_text())["resumed"] is True


def test_the_six_default_models_share_one_settings_shape_and_a_function_each():
    assert {"teacher", "student", "chinese", "chinese_student", "translator", "translator_student"} <= set(defaults.MODELS)
    shared = {f.name for f in dataclasses.fields(BuildSettings)}
    assert {f.name for f in dataclasses.fields(TrainSettings)} | {"max_steps"} == shared
    for name in ("teacher", "student", "chinese", "chinese_student", "translator", "translator_student"):
        model = defaults.get(name)
        assert isinstance(model.settings, BuildSettings), name
        assert defaults.root(name).name.endswith(model.settings.key()), name
        assert callable(getattr(pretrained, f"{name}_dir" if name != "chinese" else "chinese_dir"))
    with pytest.raises(ValueError, match="the default models are"):
        defaults.get("no-such-model")
