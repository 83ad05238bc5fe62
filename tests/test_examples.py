"""`make demo` and `make reproduce` end to end, on tiny settings: every step runs on the real teacher
and real text, and the scripts write what they say they write."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minidistil.data import sources
from minidistil.recipes import teacher

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = ["--distill-steps", "2", "--finetune-examples", "64", "--epochs", "1", "--finetune-min-steps", "4", "--eval-examples", "64",
        "--cloze-items", "20", "--transfer-examples", "100", "--threads", "1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory):
    """A teacher built with the real recipe on two small corpora and a few steps (the demo's own is
    built once per machine and takes about 20 minutes)."""
    settings = teacher.TeacherSettings(corpora="hamlet,headlines", max_length=32, max_steps=2, batch_size=4,
                                       heldout_chunks=16)
    return str(teacher.build(settings, tmp_path_factory.mktemp("teacher") / "t", progress=False) / "model")


def run(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=ENV, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_demo_prints_the_papers_table_and_writes_curves_and_summary(tmp_path, tiny_teacher):
    out = run("demo.py", "--out", str(tmp_path), "--teacher", tiny_teacher, *TINY)
    assert "| model | layers | parameters |" in out and "student vs teacher:" in out
    assert "fill in the blank, 20 held-out sentences" in out and "paired 95% interval" in out
    assert "held-out MLM perplexity (before fine-tuning)" in out and "| undistilled | 3 |" in out
    assert "pretraining distillation (student - undistilled student" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["test_accuracy"]) == {"teacher", "student", "undistilled", "student-D"}
    assert set(summary["heldout_perplexity"]) == set(summary["test_accuracy"])
    assert summary["heldout_perplexity"]["student-D"] == summary["heldout_perplexity"]["student"]
    assert {"difference", "low", "high", "exceeds"} <= set(summary["student_minus_undistilled"])
    report = json.loads((tmp_path / "distill" / "report.json").read_text())  # the student's, beside its model
    assert report["models"]["undistilled"]["perplexity"] == summary["heldout_perplexity"]["undistilled"]
    assert all(0 <= a <= 1 for a in summary["test_accuracy"].values())
    assert all(v > 0 for v in summary["tokens_per_s"].values())
    for low, high in summary["test_interval"].values():
        assert 0 <= low <= high <= 1
    assert summary["transfer_texts"] == 100  # --transfer-examples
    # the student is the teacher's layers 0, 2, 5, saved with the tokenizer where every run keeps its model
    student = json.loads((tmp_path / "distill" / "model" / "config.json").read_text())
    assert student["n_layers"] == 3 and (tmp_path / "distill" / "model" / "vocab.txt").is_file()
    assert (tmp_path / "sentiment-student" / "model" / "vocab.txt").is_file()
    for run_name in ("distill", "sentiment-teacher", "sentiment-student", "sentiment-undistilled", "sentiment-student-D"):
        assert (tmp_path / run_name / "loss.png").stat().st_size > 1000


def test_ablation_rewrites_only_its_own_section_of_the_results_page(tmp_path, tiny_teacher):
    page = tmp_path / "RESULTS.md"
    page.write_text("# Results\n\n## The demo\n\nthe demo's table\n\n## The ablation at laptop scale\n\nan old table\n"
                    "\n## Chinese\n\nthe Chinese section, kept\n")
    out = run("ablation.py", "--out", str(tmp_path / "runs"), "--seeds", "1", "--tasks", "sentiment",
              "--results", str(page), "--teacher", tiny_teacher, "--heldout-chunks", "16",
              "--val-examples", "32", *TINY)
    text = page.read_text()
    assert text.startswith("# Results\n\n## The demo\n\nthe demo's table\n\n## The ablation at laptop scale\n")
    assert "an old table" not in text and text.count("## The ablation at laptop scale") == 1
    assert text.endswith("\n\n## Chinese\n\nthe Chinese section, kept\n")  # the sections after it stay
    rows = [line for line in text.splitlines() if line.startswith("| (")]
    assert [r.split(" | ")[0] for r in rows] == ["| (a) triple loss", "| (b) without cosine", "| (c) without KL",
                                                "| (d) without MLM", "| (e) random init", "| (f) no distillation"]
    assert "| 0 (reference) |" in rows[0] and "python examples/ablation.py --out" in text
    assert "**Cut to fit:** 2 distillation steps a variant" in text  # fewer steps than the default student's
    for row in rows:  # every variant has a held-out perplexity and a teacher agreement, before fine-tuning
        cells = row.split(" | ")
        assert float(cells[2]) > 1 and 0 <= float(cells[3]) <= 100
    for row in rows[1:]:  # every difference has its paired interval and a verdict
        cells = row.split(" | ")
        assert cells[7].startswith("[") and cells[8] in ("yes", "no")
    heldout = json.loads((tmp_path / "runs" / "heldout.json").read_text())
    assert len(heldout) == 6 and heldout["(f) no distillation / 1"]["perplexity"] > 1
    assert "Beyond the noise of these test sets" in text
    assert len(json.loads((tmp_path / "runs" / "test.json").read_text())) == 6 * 1 * 1  # variants x seeds x tasks
    assert "measured run time" in out


def test_the_demo_transfer_set_holds_the_unlabelled_snippets_copies_and_plots(tiny_teacher):
    """Student-D's transfer set: a rewritten copy of each labelled snippet, the plot summaries, and
    every training snippet left out of the labelled set (its label hidden: texts only)."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import demo
    finally:
        sys.path.remove(str(EXAMPLES))
    from dataclasses import replace
    from minidistil.data import tasks
    task = tasks.load("sentiment")
    task = replace(task, train=task.train[:50])
    settings = demo.Settings(finetune_examples=20, max_length=32)
    texts = demo.transfer_set(settings, task, Path(tiny_teacher))
    labelled = [e["text"] for e in task.train[:settings.finetune_examples]]
    plots = sources.rotten_tomatoes_plots()
    assert len(texts) == 20 + len(plots) + 30
    assert texts[len(labelled):] == plots + [e["text"] for e in task.train[20:]]
    copies = texts[:len(labelled)]
    assert all(isinstance(t, str) and t for t in copies)
    assert sum(c != t for c, t in zip(copies, labelled)) > len(labelled) // 2  # words were replaced
