"""The GPU presets of the Chinese encoder and the translator: what `--preset gpu` selects, that flags
still win over it, and that each preset builds in its own cache folder (never over the CPU default)."""
import pytest

from minidistil.recipes import chinese, pretrained
from minidistil.recipes import translator as translate
from minidistil.cli import main, parse_args
from minidistil.cli.flags import apply_preset
from minidistil.recipes.translator import PRESETS, TranslatorSettings, translator_root


def test_apply_preset_keeps_flags_and_fills_the_rest():
    gpu = PRESETS["gpu"]
    assert apply_preset(TranslatorSettings(), gpu, set()) == gpu
    mixed = apply_preset(TranslatorSettings(max_steps=7, seed=3), gpu, {"max_steps", "seed"})
    assert (mixed.max_steps, mixed.seed) == (7, 3)  # set by flags
    assert (mixed.batch_size, mixed.bf16, mixed.max_target_length) == (gpu.batch_size, True, gpu.max_target_length)


def test_presets_differ_from_the_cpu_defaults_and_cache_beside_them():
    cpu_teacher, cpu_student = chinese.PRESETS["cpu"]
    gpu_teacher, gpu_student = chinese.PRESETS["gpu"]
    assert cpu_teacher == chinese.TEACHER and cpu_student == chinese.STUDENT
    assert gpu_teacher.max_steps * gpu_teacher.batch_size > 5 * cpu_teacher.max_steps * cpu_teacher.batch_size
    assert chinese.teacher_root(gpu_teacher) != chinese.teacher_root(cpu_teacher)
    assert chinese.student_root(gpu_student, gpu_teacher) != chinese.student_root(cpu_student, cpu_teacher)
    assert PRESETS["cpu"] == TranslatorSettings()
    # a translator's folder names its encoder: one on another encoder lives beside the default
    default = translator_root()
    assert default.name == f"warm-{TranslatorSettings().key()}" and TranslatorSettings().encoder == translate.ENCODER
    assert translator_root(TranslatorSettings(), translate.ENCODER) == default
    other = translator_root(TranslatorSettings(), gpu_teacher)
    assert other.parent == default.parent and other != default
    assert other.name == f"warm-{TranslatorSettings(encoder=gpu_teacher).key()}"
    assert PRESETS["gpu"].encoder == gpu_teacher and gpu_student.teacher == gpu_teacher


def test_cli_passes_the_preset_to_the_builds(monkeypatch, capsys):
    seen = {}

    def fake_translator_dir(settings, *, encoder_settings=None, device="cpu", **_):
        seen.update(settings=settings, encoder=encoder_settings or settings.encoder, device=device)
        return "folder"

    monkeypatch.setattr(pretrained, "translator_dir", fake_translator_dir)
    assert main(["train-translator", "--preset", "gpu", "--max-steps", "9"]) == 0
    assert seen["settings"] == apply_preset(TranslatorSettings(max_steps=9), PRESETS["gpu"], {"max_steps"})
    # a flag typed with the default's value is still the user's choice, not the preset's
    assert TranslatorSettings().batch_size != PRESETS["gpu"].batch_size
    assert main(["train-translator", "--preset", "gpu", "--batch-size", str(TranslatorSettings().batch_size),
                 "--no-bf16"]) == 0
    assert seen["settings"].batch_size == TranslatorSettings().batch_size and seen["settings"].bf16 is False
    assert seen["settings"].max_steps == PRESETS["gpu"].max_steps
    assert seen["encoder"] == chinese.PRESETS["gpu"][0]
    assert main(["train-translator"]) == 0
    assert seen["settings"] == TranslatorSettings() and seen["encoder"] == translate.ENCODER

    calls = []
    monkeypatch.setattr(pretrained, "chinese_dir", lambda s, **kw: calls.append(("teacher", s, kw["device"])) or _fail())
    with pytest.raises(RuntimeError):
        parse_args(["adapt-teacher", "--language", "zh", "--preset", "gpu", "--device", "cpu"]).func(
            parse_args(["adapt-teacher", "--language", "zh", "--preset", "gpu", "--device", "cpu"]))
    assert calls == [("teacher", chinese.PRESETS["gpu"][0], "cpu")]


def _fail():
    raise RuntimeError("stop after the call was seen")


def test_preset_is_refused_for_the_english_teacher(capsys):
    assert main(["adapt-teacher", "--preset", "gpu"]) == 2
    assert "--preset applies to --language zh" in capsys.readouterr().err
