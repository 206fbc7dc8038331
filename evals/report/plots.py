"""Figures of the benchmarks: the needle depth x length heatmap, perplexity vs length, score vs
length per method, and score per task per method (grouped bars). Each takes metrics (as
`summarize` returns them), records, a DataFrame or plain mappings, writes a PNG and returns its
path.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from evals.files.safe_io import write_figure  # noqa: E402

# The needle harness's palette: red (missed) through yellow to green (found).
NEEDLE_CMAP = LinearSegmentedColormap.from_list("needle", ["#F0496E", "#EBB839", "#0CD79F"])
# Where a curve's values live in each benchmark's metrics.
SERIES_KEYS = ("average_per_length", "perplexity", "lengths")


def _save(fig, path) -> Path:
    """Written whole or not at all (`evals.files.safe_io`: a full disk leaves no torn PNG behind), and byte
    for byte the same on every render of the same data: no matplotlib version in its metadata (Agg
    draws deterministically; the caller fixes line order and colours)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_figure(fig, path, dpi=120, bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def _grid_frame(data: Any, metric: str | None) -> pd.DataFrame:
    """A (length, depth, score) frame from needle/passkey metrics, records or a DataFrame."""
    if isinstance(data, pd.DataFrame):
        frame = data.rename(columns={metric: "score"}) if metric else data
        missing = {"length", "depth", "score"} - set(frame.columns)
        if missing:
            raise ValueError(f"needle_heatmap: DataFrame lacks columns {sorted(missing)}")
        return frame[["length", "depth", "score"]]
    if isinstance(data, Mapping) and "grid" in data:
        rows = [(int(n), float(d), float(v)) for n, by_depth in data["grid"].items() for d, v in by_depth.items()]
        return pd.DataFrame(rows, columns=["length", "depth", "score"])
    if isinstance(data, list):
        if not data:
            raise ValueError("needle_heatmap: no records")
        key = metric or next(iter(data[0]["scores"]))
        rows = [(int(r["meta"]["length"]), float(r["meta"]["depth"]), 100.0 * float(r["scores"][key])) for r in data]
        return pd.DataFrame(rows, columns=["length", "depth", "score"])
    raise TypeError("needle_heatmap: give metrics with a 'grid', a list of records or a DataFrame")


def needle_heatmap(data: Any, path, *, title: str | None = None, metric: str | None = None) -> Path:
    """Depth (rows, 0% at the top) x context length (columns), score 0-100 per cell."""
    frame = _grid_frame(data, metric)
    table = frame.pivot_table(index="depth", columns="length", values="score", aggfunc="mean").sort_index()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * table.shape[1] + 3), max(4.0, 0.45 * table.shape[0] + 2)))
    image = ax.imshow(table.values, cmap=NEEDLE_CMAP, vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(table.shape[1]), [f"{int(n):,}" for n in table.columns], rotation=45, ha="right")
    ax.set_yticks(range(table.shape[0]), [f"{d:g}" for d in table.index])
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            value = table.values[i, j]
            if value == value:  # not NaN
                ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=8, color="black")
    ax.set_xlabel("Context length (tokens)")
    ax.set_ylabel("Depth (%)")
    ax.set_title(title or "Needle in a haystack")
    fig.colorbar(image, ax=ax, label="Score")
    return _save(fig, path)


def _series(metrics: Any, what: str) -> dict[int, float]:
    """length -> value from a benchmark's metrics or a plain {length: value} mapping."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{what}: expected metrics or a {{length: value}} mapping, got {type(metrics).__name__}")
    for key in SERIES_KEYS:
        if isinstance(metrics.get(key), Mapping):
            metrics = metrics[key]
            break
    try:
        return {int(n): float(v) for n, v in metrics.items() if v is not None}
    except (TypeError, ValueError):
        raise ValueError(f"{what}: cannot read lengths and values from keys {list(metrics)[:5]}") from None


def _curves(data: Any, value: str, what: str) -> dict[str, dict[int, float]]:
    """method -> {length: value}, from a DataFrame, one metrics dict, or {method: metrics}."""
    if isinstance(data, pd.DataFrame):
        if "method" not in data.columns:
            data = data.assign(method="")
        missing = {"length", value} - set(data.columns)
        if missing:
            raise ValueError(f"{what}: DataFrame lacks columns {sorted(missing)}")
        curves: dict[str, dict[int, float]] = defaultdict(dict)
        for row in data.itertuples(index=False):
            curves[str(row.method)][int(row.length)] = float(getattr(row, value))
        return dict(curves)
    if isinstance(data, Mapping) and (any(k in data for k in SERIES_KEYS) or all(str(k).isdigit() for k in data)):
        return {"": _series(data, what)}
    if isinstance(data, Mapping):
        return {str(method): _series(m, what) for method, m in data.items()}
    raise TypeError(f"{what}: give metrics, {{method: metrics}} or a DataFrame")


Bands = Mapping[str, Mapping[int, tuple[float, float]]]  # method -> {length: (low, high)} of a 95% interval
Colors = Mapping[str, str]  # method -> matplotlib colour; others take the cycle in the order given


def _line_plot(curves, path, *, title, ylabel, log_y, train_length, bands: Bands | None = None,
               colors: Colors | None = None) -> Path:
    if not curves or not any(curves.values()):
        raise ValueError(f"{title}: nothing to plot")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lengths = sorted({n for c in curves.values() for n in c})
    banded = False
    for method, curve in curves.items():
        xs = sorted(curve)
        (line,) = ax.plot(xs, [curve[x] for x in xs], marker="o", label=method or None,
                          **({"color": colors[method]} if colors and method in colors else {}))
        band = (bands or {}).get(method) or {}
        shaded = [x for x in xs if x in band]
        if shaded:
            ax.fill_between(shaded, [band[x][0] for x in shaded], [band[x][1] for x in shaded],
                            color=line.get_color(), alpha=0.15, linewidth=0)
            banded = True
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [f"{n:,}" for n in lengths], rotation=45, ha="right")
    ax.minorticks_off()
    if log_y:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if train_length:
        ax.axvline(train_length, color="gray", linestyle="--", linewidth=1, label="training length")
    ax.set_xlabel("Context length (tokens)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if any(curves) or train_length:
        legend_title = "bands: 95% intervals" if banded else None
        if len(curves) > 4:  # a sweep's many rows: beside the axes, never over the lines
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title=legend_title)
        else:
            ax.legend(title=legend_title)
    return _save(fig, path)


def perplexity_curve(data: Any, path, *, title: str = "Perplexity vs context length", train_length: int | None = None,
                     log_y: bool = True, bands: Bands | None = None, colors: Colors | None = None) -> Path:
    """Perplexity (log scale) against evaluation length, one line per method (a band: its 95% interval)."""
    return _line_plot(_curves(data, "perplexity", "perplexity_curve"), path, title=title, ylabel="Perplexity",
                      log_y=log_y, train_length=train_length, bands=bands, colors=colors)


def score_vs_length(data: Any, path, *, title: str = "Score vs context length", ylabel: str = "Score",
                    train_length: int | None = None, bands: Bands | None = None, colors: Colors | None = None) -> Path:
    """A benchmark's score per length (RULER average, passkey/needle accuracy), one line per method
    (a band: its 95% interval)."""
    return _line_plot(_curves(data, "score", "score_vs_length"), path, title=title, ylabel=ylabel, log_y=False,
                      train_length=train_length, bands=bands, colors=colors)


Errors = Mapping[str, Mapping[str, tuple[float, float]]]  # method -> {task: (low, high)} of a 95% interval


def score_by_task(data: Mapping[str, Mapping[str, float]], path, *, title: str = "Score by task",
                  ylabel: str = "Score", errors: Errors | None = None,
                  counts: Mapping[str, int] | None = None, colors: Colors | None = None) -> Path:
    """Grouped bars: one group per task (in first-seen order), one bar per method, with a 95%
    interval as an error bar where `errors` has one (none drawn otherwise); `counts` (method ->
    samples) shows as n in the legend. A method without a task has no bar there."""
    tasks = list(dict.fromkeys(t for scores in data.values() for t in scores))
    if not tasks:
        raise ValueError(f"{title}: nothing to plot")
    methods = list(data)
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(tasks) * len(methods) + 0.6 * len(tasks) + 2), 4.5))
    with_errors = False
    for m, method in enumerate(methods):
        scores, bounds = data[method], (errors or {}).get(method) or {}
        present = [(i, t) for i, t in enumerate(tasks) if scores.get(t) is not None]
        xs = [i + (m - (len(methods) - 1) / 2) * width for i, _ in present]
        ys = [float(scores[t]) for _, t in present]
        label = method or None
        if counts and counts.get(method) is not None:
            label = f"{method} (n={counts[method]:,})" if method else f"n={counts[method]:,}"
        ax.bar(xs, ys, width=width, label=label, **({"color": colors[method]} if colors and method in colors else {}))
        shown = [(x, y, bounds[t]) for x, y, (_, t) in zip(xs, ys, present)
                 if t in bounds and bounds[t] is not None and bounds[t][0] is not None]
        if shown:
            below = [max(0.0, y - low) for _, y, (low, _high) in shown]
            above = [max(0.0, high - y) for _, y, (_low, high) in shown]
            ax.errorbar([x for x, _, _ in shown], [y for _, y, _ in shown], yerr=[below, above], fmt="none",
                        ecolor="black", elinewidth=1, capsize=3)
            with_errors = True
    ax.set_xticks(range(len(tasks)), tasks, rotation=45 if len(tasks) > 3 else 0,
                  ha="right" if len(tasks) > 3 else "center")
    ax.set_xlim(-0.6, len(tasks) - 0.4)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if any(methods) or counts:
        legend_title = "error bars: 95% intervals" if with_errors else None
        # beside the axes: bars fill the whole height, so a legend inside would hide some
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title=legend_title,
                  title_fontsize="small")
    return _save(fig, path)
