"""A benchmark's PNG figures (evals.report.plots draws them): a curve vs length per model (score,
or perplexity on a log scale) with one line per method and its 95% band, a depth x length
heatmap per needle/passkey run, and grouped bars per task with error bars."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from evals.report import plots
from evals.report.cell_intervals import is_number, run_estimates
from evals.report.frames import as_number, lower_is_better, row_labels, row_order, task_groups, task_score
from evals.report.runs import Run, read_records


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")


def plot_benchmark(name: str, runs: list[Run], out: Path, records: dict[int, list[dict]] | None = None,
                   estimates: dict[str, dict] | None = None) -> list[Path]:
    """PNG figures through evals.report.plots: a curve vs length per model (score, or perplexity on a
    log scale) with one line per method, a depth x length heatmap per needle/passkey run, and
    grouped bars per task per model where the runs have at least two tasks."""
    labels = row_labels(runs)
    order = row_order(runs, labels)  # the tables' row order: lines, bars and colours follow the method registry
    runs, labels = [runs[i] for i in order], [labels[i] for i in order]
    colors = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(labels))}
    lower = lower_is_better(runs)
    written = []
    by_model: dict[str, dict[str, dict]] = defaultdict(dict)
    bands: dict[str, dict[str, dict]] = defaultdict(dict)
    for run, label in zip(runs, labels):
        if any(isinstance(run.metrics.get(k), dict) and run.metrics[k] for k in plots.SERIES_KEYS):
            by_model[run.model][label] = run.metrics
            bands[run.model][label] = _length_bands(run, lower, records)
        if isinstance(run.metrics.get("grid"), dict) and run.metrics["grid"]:
            path = out / f"{name}_heatmap_{_slug(run.model)}_{_slug(label)}.png"
            written.append(plots.needle_heatmap(run.metrics, path, title=f"{name}: {run.model}, {label}"))
    written += _plot_tasks(name, runs, labels, lower, out, records, (estimates or {}).get("main"), colors)
    for model, curves in by_model.items():
        train = next((r.config.get("model", {}).get("pretraining_length") for r in runs if r.model == model), None)
        suffix = "" if len(by_model) == 1 else f"_{_slug(model)}"
        if lower:
            written.append(plots.perplexity_curve(curves, out / f"{name}_vs_length{suffix}.png",
                                                  title=f"{name}: {model}", train_length=train, bands=bands[model],
                                                  colors=colors))
        else:
            written.append(plots.score_vs_length(curves, out / f"{name}_vs_length{suffix}.png",
                                                 title=f"{name}: {model}", train_length=train, bands=bands[model],
                                                 colors=colors))
    return written


def _length_bands(run: Run, lower: bool,
                  records: dict[int, list[dict]] | None = None) -> dict[int, tuple[float, float]]:
    """length -> (low, high) of the 95% interval of the run's per-length curve, where known."""
    own = (records or {}).get(id(run))
    series = next(run.metrics[k] for k in plots.SERIES_KEYS if isinstance(run.metrics.get(k), dict) and run.metrics[k])
    row = {str(n): v for n, v in series.items() if as_number(v) is not None}
    found = run_estimates(own if own is not None else read_records(run.path), run.metrics, "by_length", row, {}, lower)
    return {int(float(c)): (e.low, e.high) for c, e in found.items() if e.low is not None}


def _run_tasks(run: Run) -> dict[str, float]:
    """task -> the main table's cell (its first metric; RULER: the mean over its lengths)."""
    scores = {str(t): task_score(v) for t, v in (run.metrics.get("tasks") or {}).items()}
    return {t: v for t, v in scores.items() if v is not None}


def _plot_tasks(name: str, runs: list[Run], labels: list[str], lower: bool, out: Path,
                records: dict[int, list[dict]] | None = None, main: dict | None = None,
                colors: dict[str, str] | None = None) -> list[Path]:
    """<name>_by_task[_<model>].png per model whose runs have two or more tasks: one bar per
    method, with the 95% intervals of the main table's task cells as error bars where known
    (`main`: the main table's estimates, already computed; else computed here)."""
    groups = task_groups(runs)
    data: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    errors: dict[str, dict[str, dict]] = defaultdict(dict)
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    per_length = False
    for run, label in zip(runs, labels):
        scores = _run_tasks(run)
        if not scores:
            continue
        if main is not None:
            found = {t: e for t, e in (main.get((run.model, label)) or {}).items() if t in scores}
        else:
            own = (records or {}).get(id(run))
            found = run_estimates(own if own is not None else read_records(run.path), run.metrics, "main", scores,
                                  groups, lower)
        data[run.model][label] = scores
        errors[run.model][label] = {t: (e.low, e.high) for t, e in found.items() if e.low is not None}
        n = as_number(run.metrics.get("num_samples"))
        if n is None and found:
            n = sum(e.n for e in found.values())
        if n is not None:
            counts[run.model][label] = int(n)
        per_length |= any(isinstance(v, dict) and v and all(is_number(k) for k in v)
                          for v in (run.metrics.get("tasks") or {}).values())
    models = [m for m, by_label in data.items() if len({t for s in by_label.values() for t in s}) >= 2]
    ylabel = "Perplexity" if lower else ("Score (mean over lengths)" if per_length else "Score")
    written = []
    for model in models:
        suffix = "" if len(models) == 1 else f"_{_slug(model)}"
        written.append(plots.score_by_task(data[model], out / f"{name}_by_task{suffix}.png",
                                           title=f"{name} by task: {model}", ylabel=ylabel,
                                           errors=errors[model], counts=counts[model], colors=colors))
    return written
