"""Effective context length (RULER): the longest length up to which a method's score stays at or
above a threshold, with a bootstrap interval over samples.

RULER calls a model's length effective while its score at that length is at least Llama-2-7B's
4k score, 85.6 (its default threshold, `RULER_THRESHOLD`; configurable). Here "stays" is strict:
the effective length is the longest tested length L such that every tested length <= L scores
at least the threshold, so a lucky long length after a failed shorter one does not count; 0 means
the shortest length already falls below it. The interval resamples each length's samples within
their groups (tasks, depths: the groups that reproduce the cell's number), recomputes every
length's score and the effective length, and takes the 2.5th and 97.5th percentiles of the
replicates, which are tested lengths. Its coverage is simulated in tests/test_effective_length.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evals.report.cell_intervals import is_number, metric_of, reproducing_groups, select
from evals.report.intervals import BOOTSTRAP_REPS, Estimate

RULER_THRESHOLD = 85.6
KILO = 1024  # the summary states effective lengths in thousands of tokens (k = 1024, as the headers)


def effective_length(scores: dict[int, float], threshold: float = RULER_THRESHOLD) -> int:
    """The longest length L with every length <= L scoring >= threshold; 0 if the shortest fails."""
    best = 0
    for length in sorted(scores):
        if scores[length] < threshold:
            break
        best = length
    return best


def _replicate_lengths(lengths: list[int], draws: list[np.ndarray], threshold: float) -> np.ndarray:
    """Effective length per replicate, from each length's replicate scores (rows: replicates)."""
    passing = np.stack([d >= threshold for d in draws], axis=1)  # (reps, lengths), ascending lengths
    run = np.cumprod(passing, axis=1).astype(bool)  # still passing every length so far
    table = np.asarray(lengths)
    deepest = run.sum(axis=1)  # how many leading lengths pass
    return np.where(deepest > 0, table[np.maximum(deepest - 1, 0)], 0)


def bootstrap_effective_length(cells: dict[int, tuple[list[list[float]], float]],
                               threshold: float = RULER_THRESHOLD, reps: int = BOOTSTRAP_REPS,
                               seed: int = 0) -> Estimate:
    """cells: length -> (groups of per-sample scores, scale) whose mean of group means x scale is the
    length's score. The estimate's mean is the observed effective length (in tokens)."""
    if not cells:
        raise ValueError("no lengths to find an effective length in")
    lengths = sorted(cells)
    observed = {n: scale * float(np.mean([np.mean(g) for g in groups])) for n, (groups, scale) in cells.items()}
    point = effective_length(observed, threshold)
    rng = np.random.default_rng(seed)
    draws = []
    for length in lengths:
        groups, scale = cells[length]
        arrays = [np.asarray(g, dtype=float) for g in groups]
        means = [a[rng.integers(0, len(a), size=(reps, len(a)))].mean(axis=1) for a in arrays]
        draws.append(scale * np.mean(means, axis=0))
    replicates = _replicate_lengths(lengths, draws, threshold)
    low = float(np.quantile(replicates, 0.025, method="lower"))
    high = float(np.quantile(replicates, 0.975, method="higher"))
    n = sum(len(g) for groups, _ in cells.values() for g in groups)
    return Estimate(float(point), low, high, n, f"bootstrap over samples (effective length at {threshold:g})")


def length_view(frames: dict[str, pd.DataFrame]) -> tuple[str, pd.DataFrame] | None:
    """The view whose columns are lengths (by_length, or a main table keyed by length)."""
    for view in ("by_length", "main"):
        frame = frames.get(view)
        if frame is None:
            continue
        lengths = [c for c in frame.columns if c != "average"]
        if len(lengths) >= 2 and all(is_number(c) for c in lengths):
            return view, frame
    return None


@dataclass(frozen=True)
class EffectiveLengths:
    """One benchmark's effective lengths: (model, row label) -> Estimate in tokens."""

    threshold: float
    estimates: dict[tuple[str, str], Estimate]

    def in_kilo(self) -> dict[tuple[str, str], Estimate]:
        return {k: Estimate(e.mean / KILO, e.low / KILO, e.high / KILO, e.n, e.method)
                for k, e in self.estimates.items()}


def benchmark_effective_lengths(frames: dict[str, pd.DataFrame], rows: list[tuple[tuple[str, str], list[dict], dict]],
                                groups: dict[str, list[str]], lower: bool,
                                threshold: float = RULER_THRESHOLD) -> EffectiveLengths | None:
    """Each row's effective length where its benchmark is scored by length (higher is better) and
    every length cell's records reproduce its number; None for other benchmarks. `rows` pairs each
    row key with its run's records and metrics."""
    found = length_view(frames)
    if lower or found is None:
        return None
    view, frame = found
    columns = [c for c in frame.columns if c != "average"]
    estimates = {}
    by_key = {key: (records, metrics) for key, records, metrics in rows}
    for key in frame.index:  # the table's row order
        if key not in by_key:
            continue
        records, metrics = by_key[key]
        cells = {}
        for column in columns:
            value = frame.loc[key, column]
            if pd.isna(value):
                break
            chosen = select(records, view, str(column), groups, True)
            reproduced = reproducing_groups(chosen, float(value), metric_of(metrics, view, str(column))) \
                if chosen else None
            if reproduced is None:
                break
            cells[int(float(column))] = reproduced
        else:
            if cells:
                estimates[key] = bootstrap_effective_length(cells, threshold)
    return EffectiveLengths(threshold, estimates) if estimates else None


def effective_markdown(found: EffectiveLengths) -> str:
    """A short table: method, effective length [95% interval], n."""
    lines = [f"effective length in tokens (RULER's: the score is >= {found.threshold:g} at every length up to it; "
             "0: below at the shortest; interval: bootstrap over samples):",
             "", "| model | method | effective length [95% interval] | n |", "|:--|:--|--:|--:|"]
    for (model, label), e in found.estimates.items():
        lines.append(f"| {model} | {label} | {e.mean:.0f} [{e.low:.0f}, {e.high:.0f}] | {e.n} |")
    return "\n".join(lines)
