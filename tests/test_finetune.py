"""Fine-tuning on the shared loop: every head learns a tiny real sample, early stopping keeps the best
model, the grid search chooses on validation, distillation runs, a run is reproducible."""
import json

import pytest
import torch

from minidistil.training import finetune as ft
from minidistil.data import tasks
from minidistil.nn.model import DistilBertModel
from minidistil.tokenizer import WordPieceTokenizer


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)


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
    batch = ft.collate_for_training(list(found), tokenizer.pad_token_id)
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
    assert (tmp_path / ft.MODEL_DIR / "vocab.txt").exists()


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


@pytest.mark.parametrize("min_epochs, evaluations", [(0, 3), (3, 5)])
def test_patience_counts_only_after_min_steps(samples, tiny_dir, tmp_path, monkeypatch, min_epochs, evaluations):
    # A flat validation score (as when every early evaluation predicts the majority class): without
    # min_steps the run stops after the first evaluation and `patience` (2) more; with min_steps of
    # 3 epochs, the evaluations up to there do not count, so it stops after 3 + 2.
    monkeypatch.setattr(ft, "score", lambda task, preds, examples: {"accuracy": 0.5})
    task = samples["sequence"]
    steps_per_epoch = len(task.train) // 8
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), lr=1e-3, epochs=8, batch_size=8, max_length=48, patience=2,
                            min_steps=min_epochs * steps_per_epoch, progress=False)
    result = ft.finetune(task, tiny_dir, cfg)
    assert result["stopped_early"] and len(result["validation_history"]) == evaluations


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
    ft.finetune(task, tiny_dir, cfg, teacher_dir=tmp_path / "teacher" / ft.MODEL_DIR)
    logged = [json.loads(line) for line in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    assert {"kl", "ce"} <= set(next(r for r in logged if "loss" in r))  # both loss terms are logged
    with pytest.raises(ValueError, match="distils class probabilities"):
        ft.finetune(samples["qa"], tiny_dir, cfg, teacher_dir=tmp_path / "teacher" / ft.MODEL_DIR)
    # the grid search distils into every run too
    grid = ft.grid_search(task, tiny_dir, cfg, lrs=(3e-3,), epochs=(1,), teacher_dir=tmp_path / "teacher" / ft.MODEL_DIR)
    logged = (tmp_path / "student" / "lr0.003-ep1" / "metrics.jsonl").read_text().splitlines()
    assert "kl" in json.loads(logged[0]) and grid["chosen"]["folder"].endswith(ft.MODEL_DIR)


def test_cross_validation_chooses_on_the_folds_and_reads_the_test_split_once(samples, tiny_dir, tmp_path, monkeypatch):
    task = samples["sequence"]
    scored = []
    real_evaluate = ft.evaluate
    monkeypatch.setattr(ft, "evaluate", lambda model, tok, t, split="test", cfg=None: (
        scored.append((split, tuple(e["text"] for e in getattr(t, split)))), real_evaluate(model, tok, t, split, cfg))[1])
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), batch_size=4, max_length=48, progress=False)
    summary = ft.cross_validate(task, tiny_dir, cfg, lrs=(1e-4, 3e-3), epochs=(1,), folds=3)
    assert [len(r["folds"]) for r in summary["runs"]] == [3, 3]
    assert summary["chosen"]["mean"] == max(r["mean"] for r in summary["runs"])
    for r in summary["runs"]:
        assert r["mean"] == pytest.approx(sum(r["folds"]) / 3)
    # Each fold run scores only its own held-out part; the real test split is scored once, by the final run.
    real_test = tuple(e["text"] for e in task.test)
    assert scored.count(("test", real_test)) == 1
    assert all(len(texts) == 8 for split, texts in scored if texts != real_test)  # a third of the 24 each
    assert json.loads((tmp_path / "cross_validation.json").read_text())["chosen"] == summary["chosen"]
    with pytest.raises(ValueError, match="folds must be between 2"):
        ft.cross_validate(task, tiny_dir, cfg, folds=1)


def test_a_transfer_set_is_labelled_by_the_teacher_alone(samples, tiny_dir, tmp_path, tokenizer):
    task = samples["sequence"]
    ft.finetune(task, tiny_dir, ft.FinetuneConfig(out_dir=str(tmp_path / "teacher"), lr=3e-3, epochs=4,
                                                  batch_size=8, max_length=48, progress=False))
    teacher_dir = tmp_path / "teacher" / ft.MODEL_DIR
    cfg = ft.FinetuneConfig(max_length=48)
    rows = ft.transfer_features(task, ["a plot summary with no label", "another"], tokenizer, cfg, teacher_dir)
    assert [int(r["labels"]) for r in rows] == [-100, -100]
    # On rows that carry only the teacher's labels, the loss is the KL term alone.
    ft.add_teacher_logits(rows, task, teacher_dir, tokenizer.pad_token_id)
    batch = ft.collate_for_training(list(rows), tokenizer.pad_token_id)
    model = ft.load_model(task, tiny_dir)
    out = ft.FinetuneTask(model, alpha=0.5)(dict(batch))
    assert out["ce"] == 0 and out["loss"].item() == pytest.approx(0.5 * float(out["kl"]))
    result = ft.finetune(task, tiny_dir, ft.FinetuneConfig(out_dir=str(tmp_path / "student"), lr=3e-3, epochs=1,
                                                          batch_size=8, max_length=48, progress=False),
                         teacher_dir=teacher_dir, transfer_texts=[e["text"] + " indeed" for e in task.train])
    assert "test" in result
    with pytest.raises(ValueError, match="labelled by a fine-tuned teacher"):
        ft.transfer_features(task, ["text"], tokenizer, cfg, None)


def test_long_documents_train_on_windows_and_predict_on_all(samples, tokenizer):
    doc = " ".join(["the match ended in a draw"] * 40)  # about 240 tokens
    task = tasks.Task("long", "sequence", ["a", "b"], [{"text": doc, "label": "a"}], [], [], long_documents=True)
    cfg = ft.FinetuneConfig(max_length=64, stride=16, max_windows=2)
    assert len(ft.encode(task, task.train, tokenizer, cfg, training=True)) == 2
    assert len(ft.encode(task, task.train, tokenizer, cfg, training=False)) == 5


def test_two_runs_with_the_same_seed_give_bitwise_the_same_model(samples, tiny_dir, tmp_path):
    # The fresh head draws its weights after the seed is set: nothing before the run matters.
    weights = []
    for name in ("a", "b"):
        torch.manual_seed(len(name) * 1000 + ord(name))  # a different global state before each run
        cfg = ft.FinetuneConfig(out_dir=str(tmp_path / name), lr=1e-3, epochs=1, batch_size=8, max_length=48,
                                progress=False)
        ft.finetune(samples["sequence"], tiny_dir, cfg)
        weights.append(ft.load_model(samples["sequence"], tmp_path / name / ft.MODEL_DIR).state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_forward_all_equals_one_forward_per_feature_in_input_order(samples, tiny_dir, tokenizer):
    task = samples["token"]
    model = ft.load_model(task, tiny_dir).eval()
    found = ft.encode(task, task.train, tokenizer, ft.FinetuneConfig(max_length=40, stride=8), training=False)
    logits = ft.forward_all(model, found, tokenizer.pad_token_id, batch_size=3)["logits"]
    T = max(len(f["input_ids"]) for f in found)
    assert logits.shape[:2] == (len(found), T)
    for f, row in zip(found, logits):
        n = len(f["input_ids"])
        with torch.no_grad():
            alone = model(torch.as_tensor(f["input_ids"])[None]).logits[0]
        torch.testing.assert_close(row[:n], alone, atol=1e-5, rtol=1e-5)
        assert (row[n:] == 0).all()


@pytest.mark.parametrize("field", ["train_limit", "eval_limit"])
@pytest.mark.parametrize("value", [0, -3])
def test_a_limit_of_zero_or_less_is_refused_with_a_sentence(field, value):
    with pytest.raises(ValueError, match=f"{field} counts examples and must be >= 1"):
        ft.FinetuneConfig(**{field: value})


def test_device_and_bf16_reach_the_loop(samples, tiny_dir, tmp_path):
    # On this CPU the plumbing is what can be tested: the model is moved, autocast runs, outputs come back.
    cfg = ft.FinetuneConfig(out_dir=str(tmp_path), lr=3e-3, epochs=1, batch_size=8, max_length=48,
                            device="cpu", bf16=True, progress=False)
    result = ft.finetune(samples["sequence"], tiny_dir, cfg)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in logged if "loss" in r)
    assert 0 <= result["test"]["accuracy"] <= 1


def test_a_model_folder_is_never_left_half_written(tiny_dir, tmp_path, monkeypatch):
    model = DistilBertModel.from_pretrained(tiny_dir)
    ft.save_model(model, tiny_dir, tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()}

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")
    from minidistil.nn import checkpoint  # save_model's home
    monkeypatch.setattr(checkpoint, "copy_tokenizer_files", fail)  # the weights are written, then the disk is full
    with pytest.raises(OSError, match="is full"):
        ft.save_model(model, tiny_dir, tmp_path / "model")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left behind


def test_min_steps_adds_whole_epochs_so_evaluations_stay_at_epoch_ends():
    # 100 rows in batches of 32: 3 steps an epoch; 2 epochs are 6 steps, under the 10 asked for,
    # so 4 epochs (12 steps) run, evaluated every 3 steps.
    loop = ft.loop_config(ft.FinetuneConfig(epochs=2, batch_size=32, min_steps=10, progress=False), 100)
    assert (loop.max_steps, loop.eval_every) == (12, 3)
    assert ft.loop_config(ft.FinetuneConfig(epochs=2, batch_size=32, progress=False), 100).max_steps == 6
    assert ft.loop_config(ft.FinetuneConfig(epochs=5, batch_size=32, min_steps=10, progress=False), 100).max_steps == 15
    with pytest.raises(ValueError, match="min_steps"):
        ft.FinetuneConfig(min_steps=-1)
