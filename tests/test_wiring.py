"""The public doors of the Chinese and translation work: `pipeline("translation_zh_to_en")`, the
`translate` command through `python -m minidistil`, `pretrained`'s functions, the `sentiment-zh` task
name and `adapt-teacher --language zh`."""
import pytest

from minidistil.recipes import pretrained, pretrained as translator_cache
from minidistil.data import tasks
from minidistil.cli import main
from minidistil.apps.pipelines import pipeline
from tests.test_translate import folders, run, tiny  # noqa: F401  (the tiny folders fixture)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def translator(folders, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("translator")
    run(tiny(variant="warm", max_steps=2), folders, out)
    return out / "model"


def test_pipeline_translates_a_string_or_a_list_with_transformers_output_shape(translator):
    pipe = pipeline("translation_zh_to_en", model=translator)
    one = pipe("打开文件", num_beams=2, max_length=6)
    many = pipe(["打开文件", "关闭窗口", "保存"], num_beams=1, max_length=6, batch_size=2)
    assert isinstance(one, list) and len(one) == 1 and set(one[0]) == {"translation_text"}
    assert len(many) == 3 and all(isinstance(o["translation_text"], str) for o in many)
    # Greedy decoding is deterministic: the same sentence alone or in a batch gives the same words.
    assert pipe(["打开文件"], num_beams=1, max_length=6)[0] == many[0] or \
        pipe("打开文件", num_beams=1, max_length=6)[0] == many[0]


def test_pipeline_refuses_a_folder_that_is_not_a_translator_in_one_sentence(folders):  # noqa: F811
    with pytest.raises(ValueError, match="translator"):
        pipeline("translation_zh_to_en", model=folders / "zh")


def test_translate_command_runs_from_the_main_entry_point(translator, capsys):
    assert main(["translate", "--model", str(translator), "--num-beams", "1", "打开文件"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert main(["translate", "--model", str(translator), "--num-beams", "0", "打开"]) == 2


def test_the_built_once_models_have_one_home():
    for name in ("teacher_dir", "student_dir", "chinese_dir", "chinese_student_dir", "translator_dir"):
        assert callable(getattr(pretrained, name)) and name in pretrained.__all__
    assert translator_cache.translator_dir is pretrained.translator_dir  # the old name still works


def test_sentiment_zh_is_a_registry_task_name():
    assert "sentiment-zh" in tasks.REGISTRY


def test_adapt_teacher_in_chinese_refuses_flags_of_the_english_build(tmp_path, capsys):
    assert main(["adapt-teacher", "--language", "zh", "--out", str(tmp_path / "x")]) == 2
    assert "--language zh" in capsys.readouterr().err
