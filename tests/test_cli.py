"""`python -m minidistil <command>`: help for every command and flag, config files, the folder layout,
reproducible runs, and one clear line for every wrong input."""
import argparse
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from minidistil import DistilBertForMaskedLM
from minidistil.data import sources
from minidistil.cli import build_parser, finetuning, main

COMMANDS = ["prepare-data", "pretrain", "adapt-teacher", "distill", "finetune", "evaluate", "predict"]


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
    assert "--model" in capsys.readouterr().out if command in ("evaluate", "predict") else "--out"


def test_every_command_has_a_description_and_every_flag_a_help_line():
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(COMMANDS) <= set(subparsers.choices)
    for name, sub in subparsers.choices.items():
        assert sub.description, name
        silent = [a.option_strings or a.dest for a in sub._actions if not a.help]
        assert not silent, f"{name}: {silent} have no help line"


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
    (["distill", "--out", "x", "--data", "d", "--teacher", "t", "--alpha-ce", "0", "--temperature", "4"],
     "temperature \\(--temperature\\) only affects the KL term"),
    (["prepare-data", "--out", "x", "--input", "missing.txt"], "--input missing.txt does not exist"),
    (["prepare-data", "--out", "x", "--input", "."], "--input . is a folder"),
    (["evaluate", "--model", "m", "--eval-limit", "0"], "eval_limit counts examples and must be >= 1"),
    (["evaluate", "--model", "m", "--eval-limit", "-2"], "eval_limit counts examples and must be >= 1"),
    (["predict", "--model", "m", "  "], "predict got no text"),
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


def test_the_cli_parses_every_fine_tuning_command():
    parser = build_parser()
    args = parser.parse_args(["finetune", "--task", "sentiment", "--model", "m", "--lr", "1e-4", "--grid"])
    assert args.func is finetuning.run_finetune and args.lr == 1e-4 and args.grid and args.freeze_word_embeddings
    assert not parser.parse_args(["finetune", "--model", "m", "--train-word-embeddings"]).freeze_word_embeddings
    assert parser.parse_args(["finetune", "--model", "m", "--out", "o"]).out_dir == "o"  # --out, as every command
    assert parser.parse_args(["finetune", "--model", "m", "--out-dir", "o"]).out_dir == "o"
    assert parser.parse_args(["evaluate", "--model", "m", "--split", "validation"]).split == "validation"
    assert parser.parse_args(["predict", "--model", "m", "a text"]).texts == ["a text"]


def test_predict_with_nothing_on_stdin_says_so(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n  \n"))
    assert main(["predict", "--model", "m"]) == 2
    assert "predict got no text" in capsys.readouterr().err


def test_student_layers_that_are_not_integers_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["distill", "--out", "x", "--data", "d", "--teacher", "t", "--student-layers", "0,two,5"])
    assert exit_.value.code == 2
    assert "--student-layers: takes comma-separated int values such as 0,2,5, got '0,two,5'" in capsys.readouterr().err


def test_an_output_folder_under_a_file_or_read_only_is_refused_before_any_work(corpus, tmp_path, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("")
    assert main(["pretrain", "--data", str(corpus), "--out", str(tmp_path / "a-file" / "run")]) == 2
    assert "a-file is a file, not a folder" in capsys.readouterr().err
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    # The tests may run as root, for whom no folder is read-only: let os.access answer as for a user.
    real_access = __import__("os").access
    monkeypatch.setattr("os.access", lambda path, mode: False if str(path) == str(readonly) else real_access(path, mode))
    assert main(["prepare-data", "--input", str(corpus.parent / "hamlet.txt"), "--out", str(readonly / "c")]) == 2
    assert "is read-only for you" in capsys.readouterr().err
    assert not (readonly / "c").exists()


def test_preparing_a_missing_input_leaves_no_folder_behind(tmp_path):
    assert main(["prepare-data", "--input", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "corpus")]) == 2
    assert not (tmp_path / "corpus").exists()


@pytest.mark.parametrize("command", ["pretrain", "distill"])
def test_a_corpus_without_its_vocabulary_is_refused(command, corpus, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(corpus, bare)
    (bare / "vocab.txt").unlink()
    teacher = ["--teacher", str(tmp_path / "no-teacher")] if command == "distill" else []
    assert main([command, "--data", str(bare), "--out", str(tmp_path / "run"), "--eval-chunks", "4", *teacher]) == 2
    assert "has no vocab.txt" in capsys.readouterr().err


def test_two_fresh_pretraining_runs_with_the_same_seed_are_bitwise_equal(corpus, tmp_path):
    flags = ["--dim", "16", "--n-layers", "1", "--n-heads", "2", "--hidden-dim", "32", "--max-steps", "2",
             "--batch-size", "4", "--eval-chunks", "4", "--no-progress", "--seed", "7"]
    weights = []
    for run in ("a", "b"):
        torch.manual_seed(ord(run))  # whatever ran before in this process must not matter
        assert main(["pretrain", "--data", str(corpus), "--out", str(tmp_path / run), *flags]) == 0
        weights.append(DistilBertForMaskedLM.from_pretrained(tmp_path / run / "model").state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_readme_path_adapt_then_distill_writes_one_layout(corpus, tmp_path, capsys):
    common = ["--data", str(corpus), "--max-steps", "2", "--batch-size", "4", "--no-progress", "--device", "cpu"]
    assert main(["adapt-teacher", "--out", str(tmp_path / "teacher"), "--heldout-chunks", "4", *common]) == 0
    assert "held-out perplexity" in capsys.readouterr().out
    assert main(["distill", "--teacher", str(tmp_path / "teacher" / "model"), "--out", str(tmp_path / "student"),
                 "--student-layers", "0,5", "--eval-chunks", "4", *common]) == 0
    assert (tmp_path / "teacher" / "report.json").is_file()
    assert {"model", "checkpoint.pt", "metrics.jsonl"} <= {p.name for p in (tmp_path / "student").iterdir()}
    # The teacher is a build of minidistil.utils.builds: its resume checkpoints go once its manifest is written.
    assert {"model", "manifest.json", "metrics.jsonl"} <= {p.name for p in (tmp_path / "teacher").iterdir()}
    assert not (tmp_path / "teacher" / "checkpoint.pt").exists()
    for run in ("teacher", "student"):
        assert (tmp_path / run / "model" / "vocab.txt").is_file()
    assert DistilBertForMaskedLM.from_pretrained(tmp_path / "student" / "model").config.n_layers == 2
    assert "student/model" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["adapt-teacher"], ["distill", "--teacher", "x", "--data", "x", "--out", "y"],
                                     ["finetune", "--model", "x"]])
def test_a_device_this_machine_lacks_is_one_sentence(command, capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main([*command, "--device", "cuda"]) == 2
    assert "torch sees none here" in capsys.readouterr().err
    assert main([*command, "--device", "tpu9"]) == 2
    assert "--device" in capsys.readouterr().err


@pytest.mark.parametrize("command, preset", [
    (["adapt-teacher", "--device", "cuda"], "gpu_teacher.json"),
    (["distill", "--teacher", "t", "--data", "d", "--out", "o", "--device", "cuda"], "gpu_distill.json"),
    (["finetune", "--model", "m", "--device", "cuda"], "gpu_finetune.json")])
def test_the_gpu_presets_are_settings_of_their_commands(command, preset):
    from minidistil.cli import parse_args
    path = Path(__file__).resolve().parent.parent / "examples" / "presets" / preset
    args = parse_args([*command, "--config", str(path)])
    for key, value in json.loads(path.read_text()).items():
        assert getattr(args, key) == value


def test_a_fresh_run_killed_and_resumed_by_the_same_command_is_bitwise_the_uninterrupted_run(corpus, tmp_path):
    # No --init: the model is built from the seed, then the checkpoint restores it on resume.
    import os
    import signal
    import subprocess
    import sys
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_CBWR": "AUTO,STRICT"}
    flags = ["--data", str(corpus), "--dim", "64", "--n-layers", "2", "--n-heads", "2", "--hidden-dim", "96",
             "--max-steps", "30", "--batch-size", "16", "--save-every", "5", "--eval-chunks", "4", "--no-progress"]
    command = [sys.executable, "-m", "minidistil", "pretrain"]
    subprocess.run([*command, *flags, "--out", str(tmp_path / "whole")], env=env, check=True)
    # kill -9 just after the checkpoint of step 10 (minidistil.utils.interrupts), not after watching a clock
    proc = subprocess.run([*command, *flags, "--out", str(tmp_path / "cut")],
                          env={**env, "MINIDISTIL_SIGKILL_AT": "checkpoint:10"})
    assert proc.returncode == -signal.SIGKILL
    step = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["step"]
    assert step == 10 and not (tmp_path / "cut" / "model").exists()
    subprocess.run([*command, *flags, "--out", str(tmp_path / "cut")], env=env, check=True)
    whole = DistilBertForMaskedLM.from_pretrained(tmp_path / "whole" / "model").state_dict()
    cut = DistilBertForMaskedLM.from_pretrained(tmp_path / "cut" / "model").state_dict()
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


@pytest.mark.parametrize("command, expected", [
    (["pretrain", "--out", "o", "--data", "d"], dict(lr=5e-4, batch_size=32, seed=56, bf16=False, max_steps=500)),
    (["distill", "--out", "o", "--data", "d", "--teacher", "t"], dict(lr=5e-4, batch_size=32, seed=56, max_steps=500)),
    (["adapt-teacher"], dict(lr=3e-4, batch_size=32, seed=42, bf16=False, max_steps=800)),
    (["finetune", "--model", "m"], dict(lr=5e-5, batch_size=32, seed=42, bf16=False, epochs=3, train_limit=None)),
])
def test_the_shared_training_flags_keep_each_commands_defaults(command, expected):
    args = vars(build_parser().parse_args(command))
    assert {k: args[k] for k in expected} == expected


def test_a_limit_flag_takes_none_for_all():
    args = build_parser().parse_args(["finetune", "--model", "m", "--train-limit", "none", "--eval-limit", "9"])
    assert (args.train_limit, args.eval_limit) == (None, 9)


def test_distill_without_out_builds_the_default_student_and_prints_its_report(tmp_path, monkeypatch, capsys):
    from minidistil.recipes import pretrained
    folder = tmp_path / "students" / "distil-x" / "model"
    folder.mkdir(parents=True)
    score = {"perplexity": 90.0, "top1": 0.3, "top5": 0.5, "agreement": 0.6, "masked_tokens": 1000}
    report = {"models": {"student": score, "teacher": {**score, "perplexity": 80.0, "agreement": 1.0},
                         "undistilled": {**score, "perplexity": 400.0}},
              "student_over_teacher": 90 / 80, "student_over_undistilled": 90 / 400}
    (folder.parent / "report.json").write_text(json.dumps(report))
    calls = []
    monkeypatch.setattr(pretrained, "student_dir", lambda **kw: calls.append(kw) or folder)
    assert main(["distill", "--no-progress", "--no-wait"]) == 0
    assert calls == [{"no_wait": True, "progress": False, "device": "cpu"}]
    out = capsys.readouterr().out
    assert "1.12 (goal: at most 1.3)" in out and "0.23 (goal: at most 0.35)" in out and "400.0" in out
    assert main(["distill", "--max-steps", "3", "--teacher-top-k", "8"]) == 2  # settings need a folder of their own
    assert "--max-steps, --teacher-top-k shape a student distilled into a folder of yours: add --out" in \
        capsys.readouterr().err
    assert main(["distill", "--out", str(tmp_path / "o")]) == 2
    assert "needs --data" in capsys.readouterr().err and len(calls) == 1
