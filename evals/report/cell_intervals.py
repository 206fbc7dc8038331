"""Per-cell 95% intervals of a finished run's tables, recomputed from its records.jsonl.

A cell gets an interval only when its records reproduce the cell's number (as the mean of group
means under one of a few groupings: all samples, per task, per length, per task and length), so
an interval never sits beside a number it does not describe; other cells keep the bare number.
Whether a cell's scores are 0/1 success counts (Wilson) is decided by the metric's name
(`BINARY_METRICS`), never by the values a run happened to score.
"""
from __future__ import annotations

import math
from collections import defaultdict

from evals.report.intervals import Estimate, estimate_mean, estimate_perplexity

GROUPINGS = (
    lambda r: None,
    lambda r: r["task"],
    lambda r: r["meta"].get("length"),
    lambda r: (r["task"], r["meta"].get("length")),
)
# Metrics whose per-sample score is a success (1) or a failure (0): Wilson's interval applies. Every
# other metric is graded (partial credit: F1, ROUGE, the share of needles or keywords found), even
# where a run's scores happen to be all 0 or 1.
BINARY_METRICS = {
    "accuracy": "passkey: the key, exactly",
    "answer_match": "needle: the whole answer found",
    "string_match_part": "RULER qa: any reference found",
    "exact_match": "L-Eval closed-ended, lm-eval: the answer, exactly (but see GRADED_TASKS)",
    "loyalty": "L-Eval sci_fi: the loyalty judgement right",
    "fact": "L-Eval sci_fi: the fact judgement right",
    "acc": "lm-eval: multiple choice right",
    "acc_norm": "lm-eval: multiple choice right, length-normalized",
}
# Tasks whose score under a binary name is graded after all.
GRADED_TASKS = {"sci_fi": "L-Eval's sci_fi exact_match is the mean of loyalty and fact: 0, 0.5 or 1"}
LENGTH_VIEWS = ("by_length",)
DEPTH_VIEWS = ("by_depth",)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def record_score(record: dict, metric: str | None = None) -> float | None:
    """The record's `metric` score (its first when None); None when missing or not a number."""
    scores = record.get("scores") or {}
    value = scores.get(metric) if metric else next(iter(scores.values()), None)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _perplexity_estimate(records: list[dict], value: float) -> Estimate | None:
    """Over documents (one record each) when the cell has two or more; a cell of one document
    (the essays concatenated, the old single-document mode) takes a moving-block bootstrap over its
    1024-token blocks (or, in older records without blocks, its windows), in reading order."""
    metas = [r.get("meta", {}) for r in records]
    if not all("nll_sum" in m and "num_tokens" in m for m in metas):
        return None
    if len(records) >= 2:
        estimate = estimate_perplexity([m["nll_sum"] for m in metas], [m["num_tokens"] for m in metas])
    else:
        unit = "blocks" if metas[0].get("blocks") else "windows"
        pieces = metas[0].get(unit)
        if pieces and len(pieces) >= 2:
            estimate = estimate_perplexity([p[0] for p in pieces], [p[1] for p in pieces], unit=unit)
        else:
            estimate = estimate_perplexity([metas[0]["nll_sum"]], [metas[0]["num_tokens"]])
    return estimate if _close(estimate.mean, value) else None


def graded(metric: str | None, task: str | None = None) -> bool:
    """True unless `metric` is a registered 0/1 success count (and `task` does not average it)."""
    return metric not in BINARY_METRICS or task in GRADED_TASKS


def cell_estimate(records: list[dict], value: float | None, metric: str | None = None,
                  lower: bool = False) -> Estimate | None:
    """The estimate whose mean is `value`, from these records; None when none reproduces it."""
    if not records or value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if lower:
        return _perplexity_estimate(records, value)
    found = reproducing_groups(records, value, metric)
    if found is None:
        return None
    name = metric or next(iter(records[0].get("scores") or {}), None)
    binary = not any(graded(name, record.get("task")) for record in records)
    return estimate_mean(found[0], found[1], binary=binary)


def reproducing_groups(records: list[dict], value: float, metric: str | None = None
                       ) -> tuple[list[list[float]], float] | None:
    """(per-sample scores in groups, scale) whose mean of group means x scale is the cell's `value`
    (the first of `GROUPINGS` and scales 100, 1 that reproduces it); None when none does."""
    for grouping in GROUPINGS:
        groups: dict = defaultdict(list)
        for record in records:
            score = record_score(record, metric)
            if score is None:
                break
            groups[grouping(record)].append(score)
        else:
            means = [sum(g) / len(g) for g in groups.values()]
            for scale in (100.0, 1.0):
                if means and _close(scale * sum(means) / len(means), value):
                    return list(groups.values()), scale
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
