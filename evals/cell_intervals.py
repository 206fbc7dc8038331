"""Per-cell 95% intervals of a finished run's tables, recomputed from its records.jsonl.

A cell gets an interval only when its records reproduce the cell's number (as the mean of group
means under one of a few groupings: all samples, per task, per length, per task and length), so
an interval never sits beside a number it does not describe; other cells keep the bare number.
"""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

from evals.intervals import Estimate, estimate_mean, estimate_perplexity

GROUPINGS = (
    lambda r: None,
    lambda r: r["task"],
    lambda r: r["meta"].get("length"),
    lambda r: (r["task"], r["meta"].get("length")),
)
GRADED = re.compile(r"f1|rouge|bleu|code_sim|edit|similarity", re.IGNORECASE)  # partial-credit metric names
LENGTH_VIEWS = ("by_length",)
DEPTH_VIEWS = ("by_depth",)


def read_records(run_dir: Path) -> list[dict]:
    """records.jsonl, read only (a torn last line is skipped, never rewritten)."""
    path = Path(run_dir) / "records.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def record_score(record: dict, metric: str | None = None) -> float | None:
    """The record's `metric` score (its first when None); None when missing or not a number."""
    scores = record.get("scores") or {}
    value = scores.get(metric) if metric else next(iter(scores.values()), None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _perplexity_estimate(records: list[dict], value: float) -> Estimate | None:
    """Over documents; when the documents are too few (the essays concatenated: one document),
    over its scored windows; with one window, over its 1024-token blocks (text variability within
    this one document, not across documents)."""
    metas = [r.get("meta", {}) for r in records]
    if not all("nll_sum" in m and "num_tokens" in m for m in metas):
        return None
    windows = [w for m in metas for w in (m.get("windows") or [])]
    blocks = [b for m in metas for b in (m.get("blocks") or [])]
    if len(records) < 2 and len(windows) >= 2:
        estimate = estimate_perplexity([w[0] for w in windows], [w[1] for w in windows], unit="windows")
    elif len(records) < 2 and len(blocks) >= 2:
        estimate = estimate_perplexity([b[0] for b in blocks], [b[1] for b in blocks], unit="blocks")
    else:
        estimate = estimate_perplexity([m["nll_sum"] for m in metas], [m["num_tokens"] for m in metas])
    return estimate if _close(estimate.mean, value) else None


def graded(metric: str | None) -> bool:
    """Scores with partial credit (F1, ROUGE, edit similarity): never a Wilson success count."""
    return bool(metric) and GRADED.search(metric) is not None


def cell_estimate(records: list[dict], value: float | None, metric: str | None = None,
                  lower: bool = False) -> Estimate | None:
    """The estimate whose mean is `value`, from these records; None when none reproduces it."""
    if not records or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if lower:
        return _perplexity_estimate(records, value)
    name = metric or next(iter(records[0].get("scores") or {}), None)
    binary = not graded(name)
    for grouping in GROUPINGS:
        groups: dict = defaultdict(list)
        for record in records:
            score = record_score(record, metric)
            if score is None:
                break
            groups[grouping(record)].append(score)
        else:
            for scale in (100.0, 1.0):
                estimate = estimate_mean(list(groups.values()), scale, binary=binary)
                if _close(estimate.mean, value):
                    return estimate
    return None


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def is_number(text) -> bool:
    """True for numbers and numeric strings ("4096"): views keyed by length, not by name."""
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def select(records: list[dict], view: str, column: str, groups: dict[str, list[str]],
           numeric_columns: bool) -> list[dict] | None:
    """The records behind one cell of a view; None when the view is not built from samples."""
    if column == "average":
        return records
    if view in LENGTH_VIEWS or (view == "main" and numeric_columns):
        return [r for r in records if _same(r.get("meta", {}).get("length"), column)]
    if view in DEPTH_VIEWS:
        return [r for r in records if _same(r.get("meta", {}).get("depth"), column)]
    if view != "main":
        return None
    if column.startswith("[") and column.endswith("]"):
        tasks = groups.get(column[1:-1])
        return [r for r in records if r["task"] in tasks] if tasks else None
    return [r for r in records if r["task"] == column]


def metric_of(metrics: dict, view: str, column: str) -> str | None:
    """The score a cell averages: the task's first metric (unless keyed by length), else the run's."""
    task = (metrics.get("tasks") or {}).get(column)
    if view == "main" and isinstance(task, dict) and task:
        first = next(iter(task))
        return None if is_number(first) else first  # keyed by length (RULER): the record's own score
    return metrics.get("metric")


def run_estimates(records: list[dict], metrics: dict, view: str, row: dict[str, float],
                  groups: dict[str, list[str]], lower: bool) -> dict[str, Estimate]:
    """column -> Estimate for one row (one run) of one view."""
    numeric = all(is_number(c) for c in row if c != "average")
    found = {}
    for column, value in row.items():
        chosen = select(records, view, column, groups, numeric)
        if chosen:
            estimate = cell_estimate(chosen, value, metric_of(metrics, view, column), lower)
            if estimate is not None:
                found[column] = estimate
    return found
