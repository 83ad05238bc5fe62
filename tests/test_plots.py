"""Training curves: one panel per loss term on its own scale, the held-out metric beside them."""
import json

import pytest

from minidistil.utils import plots


def test_smoothing_is_a_bias_corrected_moving_average():
    # weight 0.5: a1 = 0.5 * 4 / (1 - 0.5) = 4; a2 = (0.5 * 2 + 0.5 * 8) / (1 - 0.25) = 6.6667
    assert plots.smooth([4.0, 8.0], weight=0.5) == pytest.approx([4.0, 20 / 3])
    assert plots.smooth([3.0] * 5) == pytest.approx([3.0] * 5)  # a constant stays put


@pytest.fixture
def metrics(tmp_path):
    path = tmp_path / "distill" / "metrics.jsonl"
    path.parent.mkdir()
    records = [{"step": s, "loss": 20 - s / 10, "ce": 3.5 - s / 100, "cos": 0.3 - s / 1000, "lr": 1e-4,
                "grad_norm": 1.0, "tokens_per_s": 900.0} for s in range(10, 110, 10)]
    records.insert(5, {"step": 50, "eval_perplexity": 120.0, "eval_mlm": 4.8})
    records.append({"step": 100, "eval_perplexity": 90.0, "eval_mlm": 4.5})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_each_loss_term_gets_its_own_panel_and_held_out_metrics_their_own(metrics):
    train, held = plots.read_records(metrics)
    assert set(train) == {"loss", "ce", "cos"} and list(held) == ["eval_perplexity", "eval_mlm"]  # perplexity first
    fig = plots.figure(metrics, title="distill: 3-layer student")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["total loss", "ce", "cos", "held-out perplexity, mlm"]
    assert fig._suptitle.get_text() == "distill: 3-layer student"
    cos_panel = fig.axes[2]
    low, high = cos_panel.get_ylim()
    assert high < 1  # the cosine term is drawn on its own scale, not beside a total near 20
    assert len(cos_panel.lines) == 2  # raw and smoothed


def test_plot_run_writes_a_png(metrics, tmp_path):
    png = plots.plot_run(metrics, tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_term_that_is_the_whole_loss_and_counts_get_no_panel(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"step": 1, "loss": 5.0, "mlm": 5.0}, {"step": 2, "loss": 4.0, "mlm": 4.0},
               {"step": 2, "eval_masked_tokens": 480.0, "eval_unigram_perplexity": 1300.0, "eval_top1": 0.3}]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    train, held = plots.read_records(path)
    assert list(train) == ["loss"] and list(held) == ["eval_top1"]
