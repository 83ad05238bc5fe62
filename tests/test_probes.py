"""Frozen-feature probes (minidistil.training.probes) and the measuring scripts of the distillation
study (examples/probes.py, examples/learning_curves.py, examples/collapse_diagnosis.py), on a tiny
random model and synthetic tasks whose answers are known without the code under test."""
import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from minidistil.data import tasks
from minidistil.nn.config import DistilBertConfig
from minidistil.training import probes

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (conftest)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILLER = "the a of and to in is was for on with as by at from it this that be are".split()


def colour_task(n: int = 240, seed: int = 0, shuffled: bool = False) -> tasks.TaskData:
    """Texts of filler words and three of one colour word; the label is the colour (a feature of the
    text that a linear probe on any injective pooling can read), or, `shuffled`, a coin flip."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        colour = ("red", "blue")[i % 2]
        words = [colour] * 3 + [rng.choice(FILLER) for _ in range(5)]
        rng.shuffle(words)
        label = rng.choice(("red", "blue")) if shuffled else colour
        examples.append({"text": " ".join(words), "label": label})
    return tasks.TaskData.from_examples("colours", "sequence", examples, ["blue", "red"], seed=seed)


# ---------------------------------------------------------------- the classifier against references

def test_the_fit_is_the_optimum_of_its_objective_by_an_independent_gradient():
    """The returned weights zero the gradient of mean cross-entropy + l2/2 ||W||^2, written out by hand
    in numpy: X^T (softmax - onehot) / N + l2 W and the mean of (softmax - onehot) for the bias."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x @ rng.normal(size=(5, 3))).argmax(1)
    y[:30] = rng.integers(0, 3, 30)  # not separable: a finite optimum
    l2 = 1e-2
    weight, bias = probes.fit_logistic(torch.tensor(x), torch.tensor(y), 3, l2)
    w, b = weight.numpy(), bias.numpy()
    z = x @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    error = p - np.eye(3)[y]
    assert np.abs(x.T @ error / len(y) + l2 * w).max() < 1e-6
    assert np.abs(error.mean(0)).max() < 1e-6


def test_separable_labels_are_read_exactly_and_shuffled_ones_at_chance():
    rng = np.random.default_rng(1)
    direction = rng.normal(size=8)
    x = rng.normal(size=(1000, 8))
    x = torch.tensor(x[np.abs(x @ direction) > 1.0][:600])  # a margin on both sides of the true plane
    separable = torch.tensor((x.numpy() @ direction > 0).astype(np.int64))
    weight, bias = probes.fit_logistic(x[:400], separable[:400], 2, 1e-5)
    assert (probes.logits_of(x[400:], weight, bias).argmax(1) == separable[400:]).all()
    coin = torch.tensor(rng.integers(0, 2, 600))
    weight, bias = probes.fit_logistic(x[:400], coin[:400], 2, 1e-5)
    accuracy = (probes.logits_of(x[400:], weight, bias).argmax(1) == coin[400:]).double().mean().item()
    assert 0.35 < accuracy < 0.65  # 200 coin flips: chance is 0.5, its 3-sigma band about +-0.11


def test_wilson_interval_matches_the_formula_worked_by_hand():
    # 8 of 10 at 95% (z = 1.959964): the textbook values 0.4902 and 0.9433
    low, high = probes.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert probes.wilson_interval(0, 5)[0] == 0.0 and probes.wilson_interval(5, 5)[1] == 1.0


# ---------------------------------------------------------------- probes of a tiny model

def test_a_probe_reads_a_linear_label_and_not_a_shuffled_one(tiny_dir):
    cfg = probes.ProbeConfig(max_length=16, l2_grid=(1e-4, 1e-2))
    task = colour_task()
    found = probes.extract(task, tiny_dir, cfg)
    assert found["train"].pools["mean"].shape == (len(task.train), 36)
    assert found["test"].pools["cls"].shape == (len(task.test), 36)
    mean = probes.probe(task, found, "mean", cfg)
    assert mean["test"]["accuracy"] == 1.0 and mean["train"]["accuracy"] == 1.0
    assert mean["l2"] in cfg.l2_grid and len(mean["grid"]) == 2
    low, high = mean["test"]["wilson"]
    assert low < 1.0 == high and sum(mean["predicted_histogram"]) == len(task.test)

    shuffled = colour_task(n=1000, shuffled=True)
    found = probes.extract(shuffled, tiny_dir, cfg)
    result = probes.probe(shuffled, found, "mean", cfg)
    assert 0.35 < result["test"]["accuracy"] < 0.65  # 100 test items of coin-flip labels: 3 sigma is 0.15
    assert result["test"]["wilson"][0] < 0.5 < result["test"]["wilson"][1]


def test_features_are_the_same_for_the_same_model_and_a_comparison_with_itself_is_zero(tiny_dir, tmp_path):
    cfg = probes.ProbeConfig(max_length=16, l2_grid=(1e-3,), rounds=200)
    task = colour_task(n=120)
    found = probes.extract(task, tiny_dir, cfg)
    probes.save_features(found, tmp_path / "f.pt")
    again = probes.load_features(tmp_path / "f.pt")
    assert torch.equal(again["test"].pools["cls"], found["test"].pools["cls"])
    a, b = probes.probe(task, found, "cls", cfg), probes.probe(task, again, "cls", cfg)
    assert a["correct"] == b["correct"]
    same = probes.compare(a, b)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0, "exceeds": False}


def test_the_paired_interval_sees_a_consistent_gain_and_redraws_whole_groups():
    a = [0] * 50 + [1] * 50
    b = [1] * 100  # b is right wherever a is, and on 50 more
    found = probes.paired_difference(a, b, rounds=500)
    assert found["difference"] == 0.5 and found["exceeds"] and 0 < found["low"] <= 0.5 <= found["high"]
    # Two groups: one where b gains everywhere, one where nothing differs; a redraw takes whole groups,
    # so every redrawn mean is one of 0, 1/2 and 1 (50 items each).
    groups = [0] * 50 + [1] * 50
    grouped = probes.paired_difference(a, b, groups, rounds=500)
    assert {grouped["low"], grouped["high"]} <= {0.0, 0.5, 1.0}


def test_token_and_choice_tasks_are_probed_item_by_item(tiny_dir):
    cfg = probes.ProbeConfig(max_length=24, l2_grid=(1e-3,), rounds=50)
    rng = random.Random(0)
    token_examples = []
    for _ in range(60):
        words = [rng.choice(FILLER) for _ in range(6)]
        token_examples.append({"words": words, "tags": ["COMMA" if w == "and" else "O" for w in words]})
    task = tasks.TaskData.from_examples("tags", "token", token_examples, ["O", "COMMA"])
    found = probes.extract(task, tiny_dir, cfg)
    n_words = sum(len(e["words"]) for e in task.test)
    assert found["test"].pools["token"].shape == (n_words, 36)
    result = probes.probe(task, found, "token", cfg)
    assert result["test"]["items"] == n_words and "f1" in result["test"]
    assert result["test"]["accuracy"] == 1.0  # the tag is the word: a table lookup a linear probe reads

    choice_examples = [{"prompt": w, "choices": [w, *rng.sample([f for f in FILLER if f != w], 3)], "label": 0}
                       for w in FILLER * 3]
    for e in choice_examples:  # the answer is the row that repeats the prompt, at a shuffled position
        k = rng.randrange(4)
        e["choices"][0], e["choices"][k] = e["choices"][k], e["choices"][0]
        e["label"] = k
    task = tasks.TaskData.from_examples("pick", "choice", choice_examples)
    found = probes.extract(task, tiny_dir, cfg)
    assert found["test"].pools["mean"].shape == (len(task.test), 4, 36)
    result = probes.probe(task, found, "mean", cfg)
    assert 0 <= result["test"]["accuracy"] <= 1 and sum(result["predicted_histogram"]) == len(task.test)


def test_a_span_task_is_refused_in_one_sentence(tiny_dir):
    qa = tasks.TaskData("spans", "qa", [], [{"question": "q?", "context": "c.", "answers": [], "answer_start": -1}],
                        [], [])
    with pytest.raises(ValueError, match="one class label per item"):
        probes.extract(qa, tiny_dir)


# ---------------------------------------------------------------- the scripts' parts, on tiny models

def example(name: str):
    """A module of examples/ (they import each other by their file names)."""
    import importlib
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory, vocab_file):
    """A tiny 3-layer MLM 'teacher' and a 2-layer 'student' (its layers 0 and 2, nudged: distilled stand-in)."""
    from minidistil import DistilBertForMaskedLM
    from minidistil.training.distill import extract_student
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("pair")
    teacher = DistilBertForMaskedLM(DistilBertConfig(dim=36, n_heads=4, hidden_dim=37, n_layers=3,
                                                     max_position_embeddings=96))
    teacher.save_pretrained(root / "teacher")
    student = extract_student(teacher, (0, 2))
    with torch.no_grad():
        for p in student.distilbert.transformer.parameters():
            p.add_(0.01 * torch.randn_like(p))
    student.save_pretrained(root / "student")
    for name in ("teacher", "student"):
        shutil.copy(vocab_file, root / name / "vocab.txt")
    return root / "teacher", root / "student"


def test_stratified_subsets_hold_each_class_in_its_share_and_are_nested():
    curves = example("learning_curves")
    labels = ["a"] * 570 + ["b"] * 300 + ["c"] * 130
    random.Random(0).shuffle(labels)
    order = curves.stratified_order(labels, seed=1)
    assert sorted(order) == list(range(len(labels)))  # a permutation
    assert order == curves.stratified_order(labels, seed=1) != curves.stratified_order(labels, seed=2)
    share = {y: labels.count(y) / len(labels) for y in "abc"}
    for n in range(1, len(labels) + 1):
        prefix = [labels[i] for i in order[:n]]
        assert all(abs(prefix.count(y) - n * share[y]) < 2 for y in "abc"), n
    task = colour_task(n=1000)
    small, large = (curves.subset(task, b, seed=3, cap=10_000) for b in ("250", "all"))
    assert len(small.train) == 250 and len(large.train) == len(task.train)
    assert all(e in large.train for e in small.train)
    middle = curves.subset(task, "500", seed=3, cap=10_000)
    assert small.train == middle.train[:250] and small.validation == task.validation
    assert len(curves.subset(task, "all", seed=3, cap=300).train) == 300
    with pytest.raises(ValueError, match="budget"):
        curves.subset(task, "100000", seed=3, cap=10_000)


def test_a_learning_curve_run_writes_its_json_and_is_skipped_when_it_is_there(tiny_dir, tmp_path, monkeypatch):
    curves = example("learning_curves")
    s = curves.Settings(out=str(tmp_path), min_steps=12, epochs=1, batch_size=8, max_length=16, lr=1e-3)
    task = colour_task(n=100)
    first = curves.run_one(s, task, "student", tiny_dir, "40", seed=1)
    path = curves.run_path(tmp_path, task.name, "student", "40", 1)
    saved = json.loads(path.read_text())
    assert saved == first and saved["n_train"] == 40 and sum(saved["train_labels"].values()) == 40
    share = {y: sum(e["label"] == y for e in task.train) / len(task.train) for y in task.labels}
    assert all(abs(saved["train_labels"][y] - 40 * share[y]) < 2 for y in task.labels)  # stratified
    assert saved["epochs"] == 3  # 40 examples in batches of 8 are 5 steps an epoch; 12 steps need 3 epochs
    assert len(saved["correct"]) == len(task.test)
    assert sum(saved["predicted_histogram"].values()) == len(task.test)
    assert not path.with_suffix("").exists()  # the fine-tuned model is not kept

    def must_not_run(*args, **kwargs):
        raise AssertionError("a run whose JSON exists was run again")
    monkeypatch.setattr(curves, "finetune", must_not_run)
    assert curves.run_one(s, task, "student", tiny_dir, "40", seed=1) == first
    with pytest.raises(AssertionError, match="run again"):  # another seed is a new run
        curves.run_one(s, task, "student", tiny_dir, "40", seed=2)

    runs = {("student", "40", 1): first, ("undistilled", "40", 1): first}
    table = curves.summarise(runs, ["student", "undistilled"], ["40"], [1])
    assert table["40"]["pairs"]["student - undistilled"]["difference"] == 0.0  # the same predictions
    assert "| 40 (40) |" in curves.markdown_table(task.name, table, ["student", "undistilled"])


def test_the_probe_table_derives_the_undistilled_and_random_models_from_the_teacher(tiny_pair, tmp_path):
    from minidistil import DistilBertForMaskedLM
    table = example("probes")
    teacher, student = tiny_pair
    s = table.Settings(out=str(tmp_path), teacher=str(teacher), student=str(student), student_layers="0,2",
                       tasks="sentiment", train_limit=60, eval_limit=40, max_length=24, l2_grid=(1e-1,))
    folders = table.model_folders(s, "en")
    big = DistilBertForMaskedLM.from_pretrained(teacher).state_dict()
    undistilled = DistilBertForMaskedLM.from_pretrained(folders["undistilled"]).state_dict()
    random_model = DistilBertForMaskedLM.from_pretrained(folders["random"]).state_dict()
    key = "distilbert.transformer.layer.1.ffn.lin1.weight"  # the student's layer 1 is the teacher's layer 2
    assert torch.equal(undistilled[key], big["distilbert.transformer.layer.2.ffn.lin1.weight"])
    assert not torch.equal(random_model[key], undistilled[key]) and random_model[key].shape == undistilled[key].shape
    report = table.run(s)
    found = report["tasks"]["sentiment"]["pools"]
    assert set(found) == {"mean", "cls"} and set(found["mean"]["models"]) == set(table.MODELS)
    assert found["cls"]["comparisons"]["student - undistilled"]["low"] <= found["cls"]["comparisons"]["student - undistilled"]["high"]
    text = table.markdown_table(report)
    assert text.count("| sentiment |") == 2 and "Δ student - undistilled" in text
    assert json.loads((tmp_path / "probes.json").read_text())["tasks"]["sentiment"]["majority"] > 0.5


def test_the_collapse_diagnosis_measures_a_tiny_model(tiny_pair, tmp_path):
    diagnosis = example("collapse_diagnosis")
    x = torch.tensor([[3.0, 0.0], [3.0, 0.0], [3.0, 0.0]])
    same = diagnosis.spread_stats(x)
    assert same["mean_pairwise_cosine"] == pytest.approx(1.0) and same["spread_rms"] == 0.0
    apart = diagnosis.spread_stats(torch.eye(2))
    assert apart["mean_pairwise_cosine"] == pytest.approx(0.0) and apart["norm_mean"] == pytest.approx(1.0)

    from minidistil.training.finetune import FinetuneConfig
    plan = diagnosis.schedule(FinetuneConfig(batch_size=32, epochs=2, lr=1e-4, warmup=0.1), 1000)
    # 1,000 rows of batch 32: 31 steps an epoch, 62 in all, int(6.2) = 6 warmup steps, evaluations after each epoch
    assert (plan["steps_per_epoch"], plan["max_steps"], plan["warmup_steps"], plan["eval_steps"]) == (31, 62, 6, [31, 62])
    assert plan["lr_at_eval_steps"][1] == pytest.approx(1e-4 / 56)  # the last step's rate: (62 - 61) / (62 - 6)
    longer = diagnosis.schedule(FinetuneConfig(batch_size=32, epochs=2, min_steps=200), 1000)
    assert (longer["max_steps"], longer["eval_steps"][:2]) == (217, [31, 62])  # ceil(200 / 31) = 7 epochs
    runs = {"a / 1": {"test_accuracy": 0.5, "test_predicted_histogram": {"neg": 99, "pos": 1}, "validation_history": [0.5],
                      "kept_step": 31},
            "a / 2": {"test_accuracy": 0.8, "test_predicted_histogram": {"neg": 60, "pos": 40}, "validation_history": [0.8],
                      "kept_step": 62}}
    rows = diagnosis.outcome_table({"runs": runs}).splitlines()[2:]
    assert [r.split(" | ")[-1] for r in rows] == ["yes |", "no |"]  # 99 of 100 is one class; 60 of 100 is not

    teacher, student = tiny_pair
    s = diagnosis.Settings(out=str(tmp_path), models=f"student={student}", finetune_examples=48, val_examples=16,
                           batch_size=8, max_length=16, grad_steps=3, epochs=4)
    task = colour_task(n=200)
    part = diagnosis.replace(task, train=task.train[:48], validation=task.validation[:16])
    first = diagnosis.first_steps(s, part, student, tmp_path / "steps")
    assert [r["step"] for r in first["steps"]] == [1, 2, 3]
    # 48 rows of batch 8 for 4 epochs: 24 steps, int(2.4) = 2 of warmup: rates 0, 1/2 and 1 of the peak
    assert [r["lr"] for r in first["steps"]] == pytest.approx([0.0, 5e-5, 1e-4])
    assert first["schedule"]["max_steps"] == 24 and first["schedule"]["warmup_steps"] == 2
    assert all(r["head"] > 0 and r["layers"] > 0 and r["total"] >= r["head"] for r in first["steps"])
    before = diagnosis.before_finetuning(s, part, student)
    assert sum(before["head"]["initial_predicted_histogram"].values()) == 48
    assert before["train_label_histogram"] == {y: sum(e["label"] == y for e in part.train) for y in task.labels}
    assert before["cls"]["norm_mean"] > 0 and 0 <= before["head"]["dead_relu_share"] <= 1


def test_plot_series_draws_named_curves_with_bars(tmp_path):
    pytest.importorskip("matplotlib")
    from minidistil.utils.plots import plot_series
    png = plot_series({"student": [(250, 60.0, 55.0, 62.0), (1000, 70.0, 69.0, 71.0)], "teacher": []},
                      tmp_path / "c.png", xlabel="labels", ylabel="accuracy (%)")
    assert png == tmp_path / "c.png" and png.stat().st_size > 1000
    assert plot_series({"student": []}, tmp_path / "none.png", xlabel="x", ylabel="y") is None
