"""Training curves a person can read: one panel per loss term, each on its own scale.

A distillation total near 20 (5 x KL x T^2 + ...) drawn beside a cosine term near 0.3 flattens the
small terms into a line at zero, so every term gets its own panel: the raw value per logged step,
faint, and an exponential moving average over it, bold. The held-out metrics (`eval_*` records
of metrics.jsonl: perplexity, accuracy, loss) get the last panel, beside the training loss, so
over-fitting shows as the two curves parting. matplotlib is optional: without it nothing is drawn.

    >>> plot_run("runs/distill/metrics.jsonl", "runs/distill/loss.png", title="distill: 3-layer student")
"""
from __future__ import annotations

import json
import math
from pathlib import Path

# Logged beside the losses, but not losses.
NOT_LOSSES = {"step", "lr", "grad_norm", "tokens_per_s", "epoch"}
# The held-out metrics worth a curve, best first (a count or a fixed baseline is not).
HELD_OUT_FIRST = ("eval_perplexity", "eval_accuracy", "eval_macro_f1", "eval_f1", "eval_exact_match", "eval_top1",
                  "eval_top5", "eval_loss")


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (as TensorBoard's smoothing)."""
    out, average = [], 0.0
    for i, v in enumerate(values, 1):
        average = weight * average + (1 - weight) * v
        out.append(average / (1 - weight ** i))
    return out


def read_records(metrics_path: str | Path) -> tuple[dict[str, list], dict[str, list]]:
    """(training series, held-out series): name -> [(step, value)], from metrics.jsonl; at most
    two held-out series, the most telling first (perplexity, accuracy, ...)."""
    train, held = {}, {}
    for line in Path(metrics_path).read_text().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:  # a line cut short by a kill: the curve is drawn from the whole ones
            continue
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            continue
        for name, value in record.items():
            if name in NOT_LOSSES or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            series = held if name.startswith("eval_") else train
            series.setdefault(name, []).append((record["step"], value))
    # A term that is the whole loss (MLM alone) would only draw the total again.
    train = {k: v for k, v in train.items() if k == "loss" or v != train.get("loss")}
    ranked = sorted((k for k in held if "masked_tokens" not in k and not k.startswith("eval_unigram")),
                    key=lambda k: HELD_OUT_FIRST.index(k) if k in HELD_OUT_FIRST else len(HELD_OUT_FIRST))
    return train, {k: held[k] for k in ranked[:2]}


def plot_run(metrics_path: str | Path, png_path: str | Path, title: str | None = None) -> Path | None:
    """Draw metrics.jsonl into `png_path`; return it, or None without matplotlib or records."""
    fig = figure(metrics_path, title)
    if fig is None:
        return None
    import matplotlib.pyplot as plt
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)


def figure(metrics_path: str | Path, title: str | None = None):
    """The matplotlib figure of a run (see the module docstring), or None."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train, held = read_records(metrics_path)
    if not train:
        return None
    names = ["loss"] + sorted(n for n in train if n != "loss")
    panels = len(names) + (1 if held else 0)
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    axes = axes.ravel()
    for ax, name in zip(axes, names):
        steps, values = zip(*train[name])
        ax.plot(steps, values, color="C0", alpha=0.3, linewidth=1, label="raw")
        ax.plot(steps, smooth(list(values)), color="C0", linewidth=2, label="smoothed")
        ax.set_title("total loss" if name == "loss" else name)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    if held:
        ax = axes[len(names)]
        for i, (name, points) in enumerate(held.items()):  # at most two, each on its own scale
            steps, values = zip(*points)
            target = ax if i == 0 else ax.twinx()
            target.plot(steps, values, "o-", color=f"C{i + 1}", label=name.removeprefix("eval_"))
            target.set_ylabel(name.removeprefix("eval_"), color=f"C{i + 1}")
        ax.set_title("held-out " + ", ".join(n.removeprefix("eval_") for n in held))
        ax.set_xlabel("step")
    for ax in axes[panels:]:
        ax.axis("off")
    fig.suptitle(title or Path(metrics_path).parent.name)
    fig.tight_layout()
    return fig


def plot_curve(points: list[tuple[float, float]], png_path: str | Path, *, xlabel: str, ylabel: str,
               lines: dict[str, float] | None = None, title: str = "") -> Path | None:
    """One curve (x, y) with labelled horizontal reference lines (a teacher's score, a baseline), on a
    log y axis; None without matplotlib or points."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    xs, ys = zip(*points)
    ax.plot(xs, ys, "o-", color="C0", label=ylabel)
    for i, (name, value) in enumerate((lines or {}).items()):
        ax.axhline(value, color=f"C{i + 1}", linestyle="--", label=f"{name}: {value:.1f}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)


def plot_series(series: dict[str, list[tuple[float, float, float, float]]], png_path: str | Path, *, xlabel: str,
                ylabel: str, title: str = "", logx: bool = True) -> Path | None:
    """Several named curves of (x, y, low, high) points, each with bars from low to high (a spread over
    seeds, an interval), on one axis (log x by default: label budgets); None without matplotlib or points."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if not any(series.values()):
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, points) in enumerate(series.items()):
        if not points:
            continue
        xs, ys, lows, highs = zip(*sorted(points))
        ax.errorbar(xs, ys, yerr=[[y - lo for y, lo in zip(ys, lows)], [hi - y for y, hi in zip(ys, highs)]],
                    fmt="o-", color=f"C{i}", capsize=3, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return Path(png_path)


def attention_figure(weights, *, columns: list[str], rows: list[str], title: str = "", xlabel: str = "",
                     ylabel: str = ""):
    """An attention table (rows x columns, weights in [0, 1]) as a heatmap with a token on every
    tick, as examples/look_inside.py draws the encoder's; the figure, or None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    table = weights.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(columns) + 2), max(3.0, 0.35 * len(rows) + 1.5)))
    image = ax.imshow(table, cmap="viridis", vmin=0, vmax=max(float(table.max()), 1e-6) if table.size else 1)
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def plot_attention(weights, *, columns: list[str], rows: list[str], png_path: str | Path, **labels) -> Path | None:
    """attention_figure saved as a PNG; the path, or None without matplotlib."""
    fig = attention_figure(weights, columns=columns, rows=rows, **labels)
    if fig is None:
        return None
    import matplotlib.pyplot as plt
    Path(png_path).parent.mkdir(parents=True, exist_ok=True)
    # CJK glyphs the default font lacks are drawn as boxes with a warning: the picture is still right
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return Path(png_path)
