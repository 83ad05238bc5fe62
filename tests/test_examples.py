"""`make demo` and `make reproduce` end to end, on tiny settings: every step runs on the real teacher
and real text, and the scripts write what they say they write."""
import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TINY = ["--corpora", "hamlet", "--adapt-steps", "2", "--distill-steps", "2", "--finetune-examples", "64",
        "--epochs", "1", "--eval-examples", "64", "--threads", "1"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}


def run(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], env=ENV, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_demo_prints_the_papers_table_and_writes_curves_and_summary(tmp_path):
    out = run("demo.py", "--out", str(tmp_path), *TINY)
    assert "| model | layers | parameters |" in out and "student vs teacher:" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["test_accuracy"]) == {"teacher", "student", "student-D"}
    assert all(0 <= a <= 1 for a in summary["test_accuracy"].values())
    assert all(v > 0 for v in summary["tokens_per_s"].values())
    # the student is the teacher's layers 0, 2, 5 under its own name, saved with the tokenizer
    student = json.loads((tmp_path / "student" / "config.json").read_text())
    assert student["n_layers"] == 3 and (tmp_path / "student" / "vocab.txt").is_file()
    for run_name in ("adapt-teacher", "distill", "sentiment-teacher", "sentiment-student", "sentiment-student-D"):
        assert (tmp_path / f"{run_name}-loss.png").stat().st_size > 1000


def test_ablation_rewrites_only_its_own_section_of_the_results_page(tmp_path):
    page = tmp_path / "RESULTS.md"
    page.write_text("# Results\n\n## The demo\n\nthe demo's table\n\n## The ablation at laptop scale\n\nan old table\n")
    out = run("ablation.py", "--out", str(tmp_path / "runs"), "--seeds", "1", "--results", str(page), *TINY)
    text = page.read_text()
    assert text.startswith("# Results\n\n## The demo\n\nthe demo's table\n\n## The ablation at laptop scale\n")
    assert "an old table" not in text and text.count("## The ablation at laptop scale") == 1
    rows = [line for line in text.splitlines() if line.startswith("| (")]
    assert [r.split(" | ")[0] for r in rows] == ["| (a) triple loss", "| (b) without cosine", "| (c) without KL",
                                                "| (d) without MLM", "| (e) random init", "| (f) no distillation"]
    assert "| 0 (reference) |" in rows[0] and "python examples/ablation.py --out" in text
    assert len(json.loads((tmp_path / "runs" / "test.json").read_text())) == 6
    assert "measured run time" in out
