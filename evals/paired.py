"""Paired differences: every method against its column's best, on the very same units.

All methods of a study score the same essay blocks (perplexity) and the same prompts (passkey,
needle, RULER, L-Eval, LongBench), so much of the spread between units is shared: SelfExtend,
ChunkLlama and LaMPE at 32k have overlapping separate intervals, yet one can be better than
another on nearly every block. The bootstrap here resamples units (within each task, as the
tables' intervals do) and recomputes the difference on the drawn units, so its interval says
whether the best is better than each other method, which two separate intervals cannot.

Perplexity: the ratio exp((sum nll_a - sum nll_b) / sum tokens) over shared 1024-token blocks
(1.00 = the same). Scores: the difference of the task-averaged means in points (0/1 and 0-1 scores
x 100). A unit is a block (record id, block index) or a record id; only units every compared
method has count.

0/1 scores (passkey, needle) are not bootstrapped: at a handful of prompts a percentile bootstrap
calls 3 wins of 3 certain. Their interval is the exact conditional one behind McNemar's test: of
the k prompts where the two differ, the share the method wins gets a Clopper-Pearson interval,
mapped to the difference (2 share - 1) k / n; it excludes 0 only when the exact test would (all of
6 or more discordant prompts one way, at least). Graded scores with one prompt per task (the
study's LongBench, RULER) are resampled over all prompts together, since a stratum of one cannot be.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evals.cell_intervals import is_number, record_score
from evals.intervals import Estimate, estimate_mean, estimate_perplexity

ALL = "all"  # the column over every unit (a run without lengths, or every length together)


@dataclass(frozen=True)
class Units:
    """One run's scored units of one column: unit key -> (task, value, weight)."""

    values: dict[tuple, tuple[str, float, float]]


def _length(record: dict):
    return (record.get("meta") or {}).get("length")


def perplexity_units(records: list[dict]) -> dict[str, Units]:
    """column (length, as text) -> blocks: (record id, block index) -> (task, nll sum, tokens)."""
    columns: dict[str, dict] = defaultdict(dict)
    for record in records:
        meta = record.get("meta") or {}
        blocks = meta.get("blocks") or ([[meta["nll_sum"], meta["num_tokens"]]] if "nll_sum" in meta else [])
        for index, (nll, tokens) in enumerate(blocks):
            columns[str(_length(record))][(record["id"], index)] = (record["task"], float(nll), float(tokens))
    return {column: Units(values) for column, values in columns.items()}


def score_units(records: list[dict]) -> dict[str, Units]:
    """column -> records: id -> (task, score, 1); a column per length when the records form a
    length grid (two prompts or more per length), plus `all` when there are two lengths or more."""
    columns: dict[str, dict] = defaultdict(dict)
    for record in records:
        score = record_score(record)
        if score is None:
            continue
        length = _length(record)
        if length is not None:
            columns[str(length)][record["id"]] = (record["task"], score, 1.0)
        columns[ALL][record["id"]] = (record["task"], score, 1.0)
    if any(len(units) < 2 for column, units in columns.items() if column != ALL):
        return {ALL: Units(columns[ALL])}  # lengths of single prompts (LongBench's own lengths), not a grid
    if len(columns) == 2:  # one length: `all` repeats it
        columns.pop(ALL)
    return {column: Units(values) for column, values in columns.items()}


def _scale(units: list[Units]) -> float:
    """x100 for 0/1 and 0-1 scores (the tables' points), else as recorded."""
    values = [v for u in units for _, v, _ in u.values.values()]
    return 100.0 if values and max(abs(v) for v in values) <= 1.0 else 1.0


def _grouped(a: Units, b: Units, keys: list) -> dict[str, list[float]]:
    groups: dict[str, list[float]] = defaultdict(list)
    for key in keys:
        groups[a.values[key][0]].append(a.values[key][1] - b.values[key][1])
    return groups


def paired_binary(wins: int, losses: int, n: int, scale: float = 100.0) -> Estimate:
    """Difference of two 0/1 means on the same n prompts, (wins - losses) / n x scale, with the exact
    conditional interval: Clopper-Pearson on wins / (wins + losses), mapped to the difference."""
    from scipy.stats import binomtest

    if not 0 <= wins + losses <= n or min(wins, losses) < 0 or n < 1:
        raise ValueError(f"need 0 <= wins, losses and wins + losses <= n, got wins={wins}, losses={losses}, n={n}")
    k = wins + losses
    mean = scale * (wins - losses) / n
    if k == 0:
        return Estimate(0.0, 0.0, 0.0, n, "exact, no discordant prompts")
    share = binomtest(wins, k).proportion_ci(0.95, method="exact")
    low, high = ((2 * p - 1) * k / n * scale for p in (share.low, share.high))
    return Estimate(mean, low, high, n, "exact conditional (McNemar)")


def difference(a: Units, b: Units, perplexity: bool, scale: float = 100.0, seed: int = 0) -> Estimate:
    """a minus b on their shared units: a perplexity ratio (a / b), or points (a - b)."""
    keys = sorted(set(a.values) & set(b.values), key=str)
    if not keys:
        raise ValueError("the two runs share no scored units")
    if perplexity:
        tokens = [a.values[k][2] for k in keys]
        if any(b.values[k][2] != t for k, t in zip(keys, tokens)):
            raise ValueError("the same blocks hold different token counts: not the same text")
        d = [a.values[k][1] - b.values[k][1] for k in keys]
        return estimate_perplexity(d, tokens, seed=seed, unit="blocks")
    groups = _grouped(a, b, keys)
    binary = all(u.values[k][1] in (0.0, 1.0) for u in (a, b) for k in keys)
    if binary and len({len(g) for g in groups.values()}) == 1:  # equal strata: the pooled mean is the table's
        diffs = [d for g in groups.values() for d in g]
        return paired_binary(diffs.count(1.0), diffs.count(-1.0), len(diffs), scale)
    if min(len(g) for g in groups.values()) < 2:
        groups = {ALL: [d for g in groups.values() for d in g]}
    return estimate_mean(list(groups.values()), scale, seed=seed, binary=False)


def column_mean(units: Units, keys: list, perplexity: bool, scale: float) -> float:
    if perplexity:
        return math.exp(sum(units.values[k][1] for k in keys) / sum(units.values[k][2] for k in keys))
    groups: dict[str, list[float]] = defaultdict(list)
    for key in keys:
        groups[units.values[key][0]].append(units.values[key][1])
    return scale * float(np.mean([np.mean(g) for g in groups.values()]))


def paired_frame(rows: dict[str, dict[str, Units]], perplexity: bool) -> tuple[pd.DataFrame, dict]:
    """(text table, {(label, column): Estimate}): per column, each row against the row with the
    best mean on the units all rows share; the best row reads `best`."""
    columns = sorted({c for units in rows.values() for c in units},
                     key=lambda c: (c == ALL, float(c) if is_number(c) else math.inf, c))
    table = {label: {} for label in rows}
    found = {}
    for column in columns:
        present = {label: units[column] for label, units in rows.items() if column in units}
        if len(present) < 2:
            continue
        shared = sorted(set.intersection(*(set(u.values) for u in present.values())), key=str)
        if not shared:
            continue
        scale = 1.0 if perplexity else _scale(list(present.values()))
        means = {label: column_mean(u, shared, perplexity, scale) for label, u in present.items()}
        best = (min if perplexity else max)(means, key=means.get)
        for label, units in present.items():
            if label == best:
                table[label][column] = f"best ({means[label]:.2f})" if perplexity else f"best ({means[label]:.1f})"
                continue
            estimate = difference(units, present[best], perplexity, scale)
            found[(label, column)] = estimate
            table[label][column] = _text(estimate, perplexity)
    frame = pd.DataFrame(table).T.reindex(columns=[c for c in columns if any(c in t for t in table.values())])
    return frame.fillna("-"), found


def _text(estimate: Estimate, perplexity: bool) -> str:
    """x1.024 [1.010, 1.039] or -16.7 [-50.0, 0.0]; a `*` where the interval excludes no difference."""
    if estimate.low is not None and estimate.low == estimate.high == (1.0 if perplexity else 0.0):
        return "same"  # identical on every unit (the method is the original model here)
    if estimate.low is None:
        return f"x{estimate.mean:.3f}" if perplexity else f"{estimate.mean:+.1f}"
    if perplexity:
        clear = estimate.low > 1.0
        text = f"x{estimate.mean:.3f} [{estimate.low:.3f}, {estimate.high:.3f}]"
    else:
        clear = estimate.high < 0.0
        text = f"{estimate.mean:+.1f} [{estimate.low:+.1f}, {estimate.high:+.1f}]"
    return f"{text} *" if clear else text


PAIRED_NOTE = ("each method against its column's best on the same units (perplexity: 1024-token blocks of "
               "the same text, ratio to the best; scores: the same prompts, difference in points of the "
               "task-averaged score), with a 95% interval over those units (bootstrap; 0/1 scores: exact "
               "conditional, as McNemar's test); same: identical on every unit; `*`: the best is "
               "better than this method (the interval excludes no difference); without `*` the two are "
               "not told apart")


def paired_rows(runs, records: dict[int, list[dict]], labels: list[str], perplexity: bool
                ) -> dict[str, dict[str, dict[str, Units]]]:
    """model -> row label -> column -> Units, in the runs' order."""
    found: dict[str, dict] = defaultdict(dict)
    for run, label in zip(runs, labels):
        recs = records.get(id(run)) or []
        units = perplexity_units(recs) if perplexity else score_units(recs)
        if units:
            found[run.model][label] = units
    return found


def write_paired(name: str, runs, records: dict[int, list[dict]], labels: list[str], order: list[int],
                 perplexity: bool, out: Path) -> list[Path]:
    """<name>_paired.{md,csv} when some model has two runs with shared units; [] otherwise."""
    from evals.tables import _length_label

    ordered_runs = [runs[i] for i in order]
    ordered_labels = [labels[i] for i in order]
    parts, rows_csv = [], []
    for model, rows in paired_rows(ordered_runs, records, ordered_labels, perplexity).items():
        if len(rows) < 2:
            continue
        frame, found = paired_frame(rows, perplexity)
        if frame.empty or not found:
            continue
        shown = frame.rename(columns=_length_label)
        shown.index.name = "method"
        parts.append(f"model: {model}\n\n{shown.reset_index().to_markdown(index=False, disable_numparse=True)}\n")
        rows_csv += [{"model": model, "method": label, "column": column, "mean": e.mean, "low": e.low,
                      "high": e.high, "n": e.n, "statistic": "ratio to best" if perplexity else "points minus best"}
                     for (label, column), e in found.items()]
    if not parts:
        return []
    md = out / f"{name}_paired.md"
    from evals.safe_io import write_atomic

    write_atomic(md, f"### {name}, paired against the best\n\n" + "\n".join(parts) + f"\n{PAIRED_NOTE}\n")
    csv = out / f"{name}_paired.csv"
    write_atomic(csv, pd.DataFrame(rows_csv).to_csv(index=False))
    return [md, csv]
