"""`python -m minidistil prepare-data | pretrain | adapt-teacher | distill`: help, config files, clear errors."""
import json
import re

import pytest

from minidistil import DistilBertForMaskedLM, sources
from minidistil.cli import main

COMMANDS = ["prepare-data", "pretrain", "adapt-teacher", "distill"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, vocab_file):
    """Hamlet's first 400 lines, prepared with the teacher's vocabulary into 32-token chunks."""
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "hamlet.txt"
    text.write_text("\n".join(sources.hamlet().splitlines()[:400]))
    assert main(["prepare-data", "--input", str(text), "--vocab", str(vocab_file), "--out", str(folder / "corpus"),
                 "--max-length", "32", "--min-tokens", "8"]) == 0
    return folder / "corpus"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_prepare_data_writes_a_corpus_with_its_vocabulary(corpus):
    meta = json.loads((corpus / "meta.json").read_text())
    assert meta["n_chunks"] > 20 and meta["vocab_size"] == 30522
    assert (corpus / "vocab.txt").is_file() and (corpus / "tokenizer_config.json").is_file()


def test_pretrain_from_a_config_file_with_flags_winning(corpus, tmp_path, capsys):
    settings = {"dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 32, "max_steps": 50, "batch_size": 4,
                "eval_chunks": 4, "progress": False, "log_every": 1}
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    out = tmp_path / "run"
    assert main(["pretrain", "--config", str(tmp_path / "settings.json"), "--data", str(corpus), "--out", str(out),
                 "--max-steps", "2"]) == 0
    assert "eval_perplexity" in capsys.readouterr().out
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-2])["step"] == 2  # --max-steps 2 beat the file's 50
    model = DistilBertForMaskedLM.from_pretrained(out / "model")
    assert model.config.dim == 16 and (out / "model" / "vocab.txt").is_file()


@pytest.mark.parametrize("argv, message", [
    (["prepare-data", "--out", "x", "--input", "a.txt", "--corpus", "bbc"], "either --input .* or --corpus"),
    (["prepare-data", "--out", "x", "--column", "body"], "--column names a column of your --input"),
    (["pretrain", "--out", "x", "--data", "no-such-folder"], "not a prepared corpus"),
    (["distill", "--out", "x", "--data", "d", "--teacher", "t", "--alpha-ce", "0", "--restrict-ce-to-mask"],
     "--alpha-ce 0 turns off"),
    (["pretrain", "--out", "x", "--data", "d", "--config", "missing.json"], "config file missing.json does not exist"),
])
def test_impossible_or_missing_inputs_give_one_clear_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("minidistil: error:") and re.search(message, err), err


def test_a_config_file_with_an_unknown_setting_is_refused(corpus, tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"learning_rate": 0.1}))
    with pytest.raises(SystemExit):
        main(["pretrain", "--config", str(tmp_path / "bad.json"), "--data", str(corpus), "--out", str(tmp_path)])
    assert "unknown setting(s) ['learning_rate']" in capsys.readouterr().err


def test_too_many_eval_chunks_is_refused(corpus, tmp_path, capsys):
    assert main(["pretrain", "--data", str(corpus), "--out", str(tmp_path), "--eval-chunks", "100000"]) == 2
    assert "--eval-chunks must be between 1 and" in capsys.readouterr().err


def test_distilling_from_a_teacher_without_mlm_head_says_to_adapt_it_first(corpus, tmp_path, teacher_dir, capsys):
    assert main(["distill", "--data", str(corpus), "--out", str(tmp_path), "--teacher", str(teacher_dir),
                 "--eval-chunks", "4"]) == 2
    assert "run `python -m minidistil adapt-teacher` first" in capsys.readouterr().err
