"""A benchmark's runs as tables (pandas frames): rows model x method, columns tasks (by group) +
average, one frame per view (RULER by length, LongBench-E by length bucket, needle by depth);
and one run's own table (`run_frame`), which the runner prints at the end of a run.

Every benchmark's metrics.json has `tasks` ({task: {metric: value}}, the first metric is the
task's score) and `average`; a benchmark may add views keyed by something else ({key: number}
or {key: {..., "average": number}}). Runs that share model and method but differ in a parameter
(a sweep) get that parameter in their row label.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict

import pandas as pd

from evals.benchmarks.registry import get_benchmark
from evals.report.cell_intervals import is_number
from evals.report.runs import Run
from lampe import registered_methods

# Top-level keys that are bookkeeping or shown elsewhere (grid: the heatmap), not tables.
SKIP_KEYS = {"tasks", "average", "num_samples", "groups", "task_groups", "counts", "lower_is_better", "config",
             "metric", "metrics", "grid", "documents", "num_tokens", "nll", "length_buckets"}
# File names of views: results/tables/<benchmark>_<suffix>.*
VIEW_SUFFIX = {"lengths": "by_length", "average_per_length": "by_length", "perplexity": "by_length",
               "length_bucket_average": "by_length_bucket", "depths": "by_depth"}
# Benchmarks (registered names) whose numbers are better when lower.
LOWER_IS_BETTER = {"perplexity"}
INDEX = ["model", "method"]


def as_number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return None


def _mean(values) -> float | None:
    values = [v for v in (as_number(x) for x in values) if v is not None]
    return sum(values) / len(values) if values else None


def task_score(metrics: dict) -> float | None:
    """A task's cell: its first metric; a task scored per length (RULER) averages its lengths."""
    if as_number(metrics) is not None:
        return as_number(metrics)
    if not isinstance(metrics, dict) or not metrics:
        return None
    if all(is_number(k) for k in metrics):
        return _mean(metrics.values())
    return as_number(next(iter(metrics.values())))


def view_cell(value) -> float | None:
    """A cell of a view: a number, or a dict's average/score/mean (per-length dicts: their mean)."""
    if as_number(value) is not None:
        return as_number(value)
    if isinstance(value, dict):
        for key in ("average", "score", "mean"):
            if as_number(value.get(key)) is not None:
                return as_number(value[key])
        if value and all(is_number(k) for k in value):
            return _mean(value.values())
    return None


SERIES_KEYS = ("average_per_length", "perplexity", "lengths")  # per-length views, most specific first


def run_frame(metrics: dict) -> pd.DataFrame:
    """One run: rows tasks, columns their metrics (RULER: lengths); a benchmark without tasks
    (needle, passkey) shows its per-length scores. The printed end-of-run summary."""
    tasks = metrics.get("tasks") or {}
    if tasks:
        frame = pd.DataFrame.from_dict(tasks, orient="index")
        frame.index.name = "task"
        return frame
    for key in SERIES_KEYS:
        if isinstance(metrics.get(key), dict) and metrics[key]:
            frame = pd.DataFrame({key: metrics[key]})
            frame.index.name = "length"
            return frame
    return pd.DataFrame()


def task_groups(runs: list[Run]) -> dict[str, list[str]]:
    """group -> tasks: from metrics (`task_groups`, or `groups` with task lists), else the
    benchmark class's `groups` (LongBench's categories)."""
    for run in runs:
        for key in ("task_groups", "groups"):
            groups = run.metrics.get(key)
            if isinstance(groups, dict) and groups and all(isinstance(v, list) for v in groups.values()):
                return groups
            if isinstance(groups, dict) and all(isinstance(v, dict) and "tasks" in v for v in groups.values()):
                return {g: list(v["tasks"]) for g, v in groups.items()}
    name = (runs[0].config.get("benchmark") or {}).get("name", runs[0].benchmark)
    try:
        return dict(get_benchmark(name).groups)
    except ValueError:  # a plug-in benchmark not imported here: no groups
        return {}


def group_scores(metrics: dict) -> dict[str, float]:
    groups = metrics.get("groups")
    if not isinstance(groups, dict):
        return {}
    return {g: view_cell(v) for g, v in groups.items() if view_cell(v) is not None}


def _differing(params: list[dict]) -> list[str]:
    keys = sorted({k for p in params for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in params}) > 1]


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def row_labels(runs: list[Run]) -> list[str]:
    """Method name, plus the method parameters that tell apart runs of the same model and
    method (benchmark parameters too, when the method's alone do not)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, run in enumerate(runs):
        groups[(run.model, run.method)].append(i)
    labels = [run.method for run in runs]
    for members in groups.values():
        if len(members) < 2:
            continue
        params = [dict(runs[i].method_params) for i in members]
        shown = [[(k, p[k]) for k in _differing(params) if p.get(k) is not None] for p in params]
        if len({json.dumps(s, default=str) for s in shown}) < len(members):
            bench = [{f"benchmark.{k}": v for k, v in runs[i].benchmark_params.items()} for i in members]
            shown = [s + [(k, b[k]) for k in _differing(bench) if b.get(k) is not None] for s, b in zip(shown, bench)]
        for i, pairs in zip(members, shown):
            text = ", ".join(f"{k}={_fmt(v)}" for k, v in pairs)
            labels[i] = f"{runs[i].method} ({text})" if text else f"{runs[i].method} (defaults)"
    return labels


def row_order(runs: list[Run], labels: list[str]) -> list[int]:
    rank = {m: i for i, m in enumerate(registered_methods())}
    return sorted(range(len(runs)), key=lambda i: (runs[i].model, rank.get(runs[i].method, len(rank)), labels[i]))


def benchmark_frames(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """view name -> table for the runs of one benchmark; 'main' = tasks (+ groups) + average."""
    if not runs:
        return {}
    labels = row_labels(runs)
    order = row_order(runs, labels)
    groups = task_groups(runs)
    grouped = [t for tasks in groups.values() for t in tasks]
    rows: dict[str, list[dict]] = defaultdict(list)
    for i in order:
        run, index = runs[i], {"model": runs[i].model, "method": labels[i]}
        tasks = {t: task_score(v) for t, v in (run.metrics.get("tasks") or {}).items()}
        main = {**index, **tasks, **{f"[{g}]": v for g, v in group_scores(run.metrics).items()}}
        main.update({f"[{k}]": as_number(v) for k, v in run.metrics.items()
                     if k not in SKIP_KEYS and as_number(v) is not None})  # e.g. L-Eval's closed_ended_average
        main["average"] = as_number(run.metrics.get("average"))
        rows["main"].append(main)
        for key, view in run.metrics.items():
            if key in SKIP_KEYS or not isinstance(view, dict):
                continue
            cells = {str(k): view_cell(v) for k, v in view.items()}
            if any(v is not None for v in cells.values()):
                rows[key].append({**index, **cells})
    frames = {}
    lower = lower_is_better(runs)
    # needle/passkey grids and perplexity have no task average: their length table leads
    length_first = not any(run.metrics.get("tasks") and as_number(run.metrics.get("average")) is not None
                           for run in runs)
    for view, data in rows.items():
        frame = pd.DataFrame(data).set_index(INDEX)
        frame = frame.dropna(axis=1, how="all")
        if view == "main":
            tasks = [c for c in frame.columns if not c.startswith("[") and c != "average"]
            ordered = [t for t in grouped if t in tasks] + [t for t in tasks if t not in grouped]
            group_cols = [c for c in frame.columns if c.startswith("[")]
            frame = frame[ordered + group_cols + (["average"] if "average" in frame.columns else [])]
        elif all(is_number(c) for c in frame.columns):
            frame = frame[sorted(frame.columns, key=float)]
            if not lower:  # a mean of perplexities over lengths means little
                frame["average"] = frame.mean(axis=1)
        frames[VIEW_SUFFIX.get(view, view) if view != "main" else "main"] = frame
    if length_first and "by_length" in frames:
        frames["main"] = frames.pop("by_length")
    return frames


def lower_is_better(runs: list[Run]) -> bool:
    names = {(r.config.get("benchmark") or {}).get("name", r.benchmark) for r in runs}
    return bool(names & LOWER_IS_BETTER) or any(r.metrics.get("lower_is_better") for r in runs)
