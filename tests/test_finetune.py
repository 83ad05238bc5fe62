"""Fine-tuning on the shared loop: every head learns a tiny real sample, early stopping keeps the best
model, the grid search chooses on validation, distillation runs, the CLI parses."""
import argparse
import json
import shutil

import pytest
import torch

from minidistil import features, finetune as ft, tasks
from minidistil.config import DistilBertConfig
from minidistil.model import DistilBertModel
from minidistil.tokenizer import WordPieceTokenizer


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, vocab_file):
    """A tiny random DistilBERT with the real vocabulary: odd sizes so that shape bugs fail loudly."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny")
    config = DistilBertConfig(dim=36, n_heads=4, hidden_dim=37, n_layers=2, max_position_embeddings=96)
    DistilBertModel(config).save_pretrained(folder)
    shutil.copy(vocab_file, folder / "vocab.txt")
    return folder


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    return WordPieceTokenizer.from_pretrained(tiny_dir)


def tiny_task(task: tasks.Task, n: int) -> tasks.Task:
    """The first n training examples as train, validation and test: a task a tiny model can overfit."""
    sample = task.train[:n]
    return tasks.Task(task.name, task.kind, task.labels, sample, sample, sample,
                      task.long_documents, task.metric)


@pytest.fixture(scope="module")
def samples():
    """Real examples of every kind; the derived tasks are built once and shared."""
    sentiment = tasks.load("sentiment")
    return {"sequence": tiny_task(sentiment, 24), "token": tiny_task(tasks.load("punctuation"), 16),
            "choice": tiny_task(tasks.load("choice"), 16), "qa": tiny_task(tasks.load("qa"), 16)}


def training_loss(model, task, tokenizer, cfg):
    found = ft.encode(task, task.train, tokenizer, cfg, training=True)
    batch = ft.model_inputs(features.collate(list(found), tokenizer.pad_token_id))
    model.eval()
    with torch.no_grad():
        return float(model(**batch).loss)


@pytest.mark.parametrize("kind", ["sequence", "token", "choice", "qa"])
def test_every_head_learns_a_tiny_real_sample(kind, samples, tiny_dir, tokenizer, tmp_path):
    task = samples[kind]
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), lr=3e-3, epochs=20, batch_size=8, max_length=64, stride=16,
                            warmup=0.0, patience=100, progress=False, freeze_word_embeddings=False)
    model = ft.load_model(task, tiny_dir)
    before = training_loss(model, task, tokenizer, cfg)
    result = ft.finetune(task, tiny_dir, cfg, model=model)  # trains `model` in place
    after = training_loss(model, task, tokenizer, cfg)
    assert after < 0.75 * before, (before, after)
    assert result["best_validation"] == max(result["validation_history"])
    assert not (tmp_path / "checkpoint.pt").exists()  # only the best model is kept
    assert (tmp_path / "best" / "vocab.txt").exists()


def test_early_stopping_stops_and_keeps_the_best_model(samples, tiny_dir, tmp_path, monkeypatch):
    # Validation scores that rise once and then only fall: the run must stop after `patience`
    # evaluations without improvement, and the kept model must be the one from the second eval.
    values = iter([0.5, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    real_score, saved = ft.score, []
    monkeypatch.setattr(ft, "score", lambda task, preds, examples: {**real_score(task, preds, examples),
                                                                    "accuracy": next(values)})
    real_save = ft.save_model
    monkeypatch.setattr(ft, "save_model", lambda model, src, folder: (saved.append(1), real_save(model, src, folder)))
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), lr=1e-3, epochs=8, batch_size=8, max_length=48,
                            patience=2, progress=False)
    result = ft.finetune(samples["sequence"], tiny_dir, cfg)
    assert result["stopped_early"] and result["validation_history"] == [0.5, 0.9, 0.8, 0.7]
    assert result["best_validation"] == 0.9 and len(saved) == 2


def test_grid_search_chooses_on_validation(samples, tiny_dir, tmp_path):
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), batch_size=8, max_length=48, progress=False)
    summary = ft.grid_search(samples["sequence"], tiny_dir, cfg, lrs=(1e-4, 3e-3), epochs=(1, 2))
    assert len(summary["runs"]) == 4
    assert summary["chosen"]["validation"] == max(r["validation"] for r in summary["runs"])
    assert json.loads((tmp_path / "grid.json").read_text())["chosen"] == summary["chosen"]


def test_distillation_from_a_fine_tuned_teacher(samples, tiny_dir, tmp_path):
    task = samples["sequence"]
    teacher_cfg = ft.FinetuneConfig(out_dir=str(tmp_path / "teacher"), lr=3e-3, epochs=6, batch_size=8,
                                    max_length=48, progress=False)
    ft.finetune(task, tiny_dir, teacher_cfg)
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path / "student"), lr=3e-3, epochs=3, batch_size=8, max_length=48,
                            alpha=0.7, temperature=2.0, progress=False)
    ft.finetune(task, tiny_dir, cfg, teacher_dir=tmp_path / "teacher" / "best")
    logged = [json.loads(line) for line in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    assert {"kl", "ce"} <= set(next(r for r in logged if "loss" in r))  # both loss terms are logged
    with pytest.raises(ValueError, match="distils class probabilities"):
        ft.finetune(samples["qa"], tiny_dir, cfg, teacher_dir=tmp_path / "teacher" / "best")


def test_long_documents_train_on_windows_and_predict_on_all(samples, tokenizer):
    doc = " ".join(["the match ended in a draw"] * 40)  # about 240 tokens
    task = tasks.Task("long", "sequence", ["a", "b"], [{"text": doc, "label": "a"}], [], [], long_documents=True)
    cfg = ft.FinetuneConfig(max_length=64, stride=16, max_windows=2)
    assert len(ft.encode(task, task.train, tokenizer, cfg, training=True)) == 2
    assert len(ft.encode(task, task.train, tokenizer, cfg, training=False)) == 5


def test_the_cli_parses_every_subcommand():
    parser = argparse.ArgumentParser()
    ft.add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["finetune", "--task", "sentiment", "--model", "m", "--lr", "1e-4", "--grid"])
    assert args.func is ft._cmd_finetune and args.lr == 1e-4 and args.grid and args.freeze_word_embeddings
    assert parser.parse_args(["evaluate", "--model", "m", "--split", "validation"]).split == "validation"
    assert parser.parse_args(["predict", "--model", "m", "a text"]).texts == ["a text"]
