"""The cross-benchmark summary, results/tables/summary.{md,tex,csv}: rows model x method, one
column per benchmark.

The per-benchmark tables say which method wins on one benchmark; a paper's first table says
which wins across them. Each benchmark contributes the number its own table leads with: its
average column, or, for a benchmark without one (perplexity: a mean of perplexities over lengths
means little), the value at the longest length, in a column named `<benchmark>@<length>`. Numbers
and 95% intervals are taken from the per-benchmark tables' frames and estimates, not recomputed,
so the summary cannot disagree with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evals.files.safe_io import write_atomic
from evals.report.cell_intervals import is_number
from evals.report.effective_length import EffectiveLengths
from evals.report.formats import INTERVAL_NOTE, has_intervals, interval_methods, intervals_csv, to_latex, to_markdown
from evals.report.frames import row_labels
from evals.report.intervals import Estimate
from evals.report.runs import Run
from lampe import registered_methods


@dataclass
class Headline:
    """One benchmark's column of the summary."""

    column: str  # "ruler", or "perplexity@32768"
    lower: bool
    values: dict[tuple[str, str], float]  # (model, row label) -> the per-benchmark table's cell
    estimates: dict[tuple[str, str], Estimate] = field(default_factory=dict)  # same keys, where known
    methods: dict[tuple[str, str], str] = field(default_factory=dict)  # same keys -> method (row order)


def headline(name: str, runs: list[Run], frames: dict[str, pd.DataFrame], estimates: dict[str, dict],
             lower: bool) -> Headline | None:
    """The main table's average column, else its longest length; None when it has neither."""
    main = frames.get("main")
    if main is None:
        return None
    if "average" in main.columns:
        source, column = "average", name
    else:
        lengths = [c for c in main.columns if is_number(c)]
        if not lengths:
            return None
        source = max(lengths, key=float)
        column = f"{name}@{int(float(source)) if float(source).is_integer() else source}"
    values = {key: float(v) for key, v in main[source].items() if not pd.isna(v)}
    cells = estimates.get("main") or {}
    found = {key: cells[key][str(source)] for key in values if str(source) in cells.get(key, {})}
    methods = {(run.model, label): run.method for run, label in zip(runs, row_labels(runs))}
    return Headline(column, lower, values, found, methods)


def effective_headline(name: str, runs: list[Run], found: EffectiveLengths) -> Headline:
    """The column `<benchmark> eff. length (k)`: each method's effective length in thousands of tokens."""
    kilo = found.in_kilo()
    methods = {(run.model, label): run.method for run, label in zip(runs, row_labels(runs))}
    return Headline(f"{name} eff. length (k)", False, {k: e.mean for k, e in kilo.items()}, kilo,
                    {k: m for k, m in methods.items() if k in kilo})


def summary_frame(headlines: list[Headline]) -> tuple[pd.DataFrame, dict, dict[str, bool]]:
    """(means, {(model, label): {column: Estimate}}, {column: lower}); rows ordered as the
    per-benchmark tables order them (model, then registered method order, then label)."""
    rank = {m: i for i, m in enumerate(registered_methods())}
    methods = {k: m for h in headlines for k, m in h.methods.items()}
    keys = sorted({k for h in headlines for k in h.values},
                  key=lambda k: (k[0], rank.get(methods.get(k), len(rank)), k[1]))
    index = pd.MultiIndex.from_tuples(keys, names=["model", "method"])
    frame = pd.DataFrame({h.column: [h.values.get(k) for k in keys] for h in headlines}, index=index, dtype=float)
    cells = {k: {h.column: h.estimates[k] for h in headlines if k in h.estimates} for k in keys}
    return frame, cells, {h.column: h.lower for h in headlines}


SUMMARY_NOTE = ("columns: each benchmark's average (higher is better), or `<benchmark>@<length>`: perplexity at "
                "the longest length run (lower is better); `<benchmark> eff. length (k)`: RULER's effective "
                "length in thousands of tokens (1k = 1024), the longest length up to which every length "
                "scores at or above the threshold (0: below at the shortest; interval: bootstrap over "
                "samples); n: samples behind each cell; -: not run; whether "
                "a method differs from original or lampe on the same prompts or documents: "
                "`<benchmark>_paired.md`")


def write_summary(out: Path, headlines: list[Headline]) -> list[Path]:
    """summary.{md,tex,csv} (+ summary_intervals.csv) when some model has two benchmarks or more;
    one benchmark's summary would only repeat its own table."""
    if not headlines:
        return []
    frame, cells, lower = summary_frame(headlines)
    if not (frame.notna().sum(axis=1) >= 2).any():
        return []
    note = SUMMARY_NOTE + (f"\n\n{INTERVAL_NOTE}\n\n{interval_methods(cells, frame)}" if has_intervals(cells) else "")
    caption = "summary across benchmarks"
    write_atomic(out / "summary.md", f"### {caption}\n\n{to_markdown(frame, cells, lower, n_per_cell=True)}\n\n"
                                     f"{note}\n")
    write_atomic(out / "summary.tex", to_latex(frame, None, lower, caption, cells))
    write_atomic(out / "summary.csv", frame.to_csv())
    paths = [out / f"summary.{ext}" for ext in ("md", "tex", "csv")]
    if has_intervals(cells):
        write_atomic(out / "summary_intervals.csv", intervals_csv(cells).to_csv(index=False))
        paths.append(out / "summary_intervals.csv")
    return paths
