"""A frame as Markdown, LaTeX (booktabs) and CSV: each cell with its 95% interval where the
records give one, bold only where a cell's interval clears every other row's in its model."""
from __future__ import annotations

import math
import re
from collections import defaultdict

import pandas as pd

from evals.report.cell_intervals import is_number
from evals.report.intervals import clear_winner


def length_label(column: str) -> str:
    """4096 -> 4k in headers of by-length tables."""
    if is_number(column) and float(column) >= 1024 and float(column) % 1024 == 0:
        return f"{int(float(column)) // 1024}k"
    return column


INTERVAL_NOTE = ("mean [95% interval]: Wilson for 0/1 success counts (decided by the metric), a bootstrap over "
                 "samples for graded scores and means of task means (none where no sample differs), perplexity "
                 "a t interval over documents (one document: a moving-block bootstrap over its 1024-token "
                 "blocks); n: samples (perplexity: documents or blocks) per cell; **bold**: best in its column "
                 "with an interval clear of every other row's in its model; none bold: no method is "
                 "distinguishable")


def interval_methods(cells: dict | None, frame: pd.DataFrame | None = None) -> str:
    """"Intervals here: ..." naming every kind of interval a table holds and its columns, so a
    moving-block bootstrap's block length is stated beside the numbers it gave."""
    columns: dict[str, list[str]] = defaultdict(list)
    order = [str(c) for c in frame.columns] if frame is not None else []
    for found in (cells or {}).values():
        for column, estimate in found.items():
            if estimate.low is not None and column not in columns[estimate.method]:
                columns[estimate.method].append(column)
    if not columns:
        return ""
    rank = {c: i for i, c in enumerate(order)}
    parts = [f"{method} ({', '.join(length_label(c) for c in sorted(cols, key=lambda c: rank.get(c, len(rank))))})"
             for method, cols in sorted(columns.items())]
    return "Intervals here: " + "; ".join(parts) + "."


def has_intervals(cells: dict | None) -> bool:
    """Whether a view's estimates give any cell an interval (else tables keep the bare numbers)."""
    return bool(cells) and any(cells.values())


def lower_for(lower: bool | dict, column) -> bool:
    """One direction for a whole table, or {column: bool} where a table mixes benchmarks (the
    cross-benchmark summary: perplexity columns lower, the others higher)."""
    return bool(lower.get(str(column), False)) if isinstance(lower, dict) else bool(lower)


def winners(frame: pd.DataFrame, estimates: dict | None, lower: bool | dict) -> set[tuple]:
    """(model, method, column) cells whose interval clears every other row's in the same model."""
    found = set()
    if not estimates:
        return found
    for model, block in frame.groupby(level="model", sort=False):
        for column in frame.columns:
            keys = [k for k in block.index if not pd.isna(block.loc[k, column])]
            best = clear_winner([estimates.get(k, {}).get(str(column)) for k in keys], lower_for(lower, column))
            if best is not None:
                found.add((*keys[best], column))
    return found


def _sample_counts(cells: dict) -> str:
    counts = sorted({e.n for e in cells.values()})
    if not counts:
        return "-"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def to_markdown(frame: pd.DataFrame, estimates: dict | None = None, lower: bool | dict = False,
                n_per_cell: bool = False) -> str:
    """The table; with `estimates` (benchmark_estimates' view), cells read "mean [low, high]", an
    n column follows, and a clear winner per column is bold. `n_per_cell`: each cell ends with
    "(n=...)" instead, for columns from different benchmarks, whose n a row's range would blur."""
    if not has_intervals(estimates):
        shown = frame.rename(columns=length_label).reset_index()
        shown = shown.astype(object).where(shown.notna(), None)  # NaN -> "-"
        return shown.to_markdown(index=False, floatfmt=".2f", missingval="-")
    bold = winners(frame, estimates, lower)
    rows = []
    for key, row in frame.iterrows():
        cells = estimates.get(key, {})
        texts = []
        for column, value in row.items():
            estimate = cells.get(str(column))
            digits = 2 if lower_for(lower, column) else 1  # perplexities differ in the second decimal
            text = "-" if pd.isna(value) else (estimate.text(digits) if estimate else f"{value:.2f}")
            text = f"**{text}**" if (*key, column) in bold else text
            texts.append(f"{text} (n={estimate.n})" if n_per_cell and estimate and not pd.isna(value) else text)
        rows.append([*key, *texts] + ([] if n_per_cell else [_sample_counts(cells)]))
    header = [*frame.index.names, *[length_label(str(c)) for c in frame.columns]] + ([] if n_per_cell else ["n"])
    return pd.DataFrame(rows, columns=header).to_markdown(  # cells are text: keep "22.00" as written
        index=False, colalign=["left"] * 2 + ["right"] * (len(header) - 2), disable_numparse=True)


_LATEX_ESCAPES = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}


def latex_escape(text) -> str:
    return re.sub(r"[&%$#_{}]", lambda m: _LATEX_ESCAPES[m.group()], str(text))


def best_mask(frame: pd.DataFrame, lower: bool | dict) -> pd.DataFrame:
    """True where a cell is the best of its column among the rows of the same model."""
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for _, block in frame.groupby(level="model", sort=False):
        for column in frame.columns:
            values = block[column].dropna()
            if len(values) < 2:
                continue
            best = values.min() if lower_for(lower, column) else values.max()
            mask.loc[values.index[values == best], column] = True
    return mask


def to_latex(frame: pd.DataFrame, groups: dict[str, list[str]] | None = None, lower: bool | dict = False,
             caption: str | None = None, estimates: dict | None = None) -> str:
    """booktabs tabular; a header row of task groups when given. Without intervals the best per
    column is bold; with them (`estimates`) a cell shows its 95% interval, an n column follows, and
    only a winner whose interval clears every other row's is bold."""
    with_intervals = has_intervals(estimates)
    if with_intervals:
        bold = winners(frame, estimates, lower)
        mask = pd.DataFrame({c: [(*k, c) in bold for k in frame.index] for c in frame.columns}, index=frame.index)
    else:
        mask = best_mask(frame, lower)
    columns = list(frame.columns)
    lines = [r"\begin{tabular}{ll" + "r" * (len(columns) + with_intervals) + "}", r"\toprule"]
    if groups:
        owner = {t: g for g, tasks in groups.items() for t in tasks}
        cells, rules, start = ["", ""], [], 0
        while start < len(columns):
            group = owner.get(columns[start])
            end = start
            while end + 1 < len(columns) and group is not None and owner.get(columns[end + 1]) == group:
                end += 1
            span = end - start + 1
            if group is None:
                cells.append("")
            else:
                cells.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(group)}}}")
                rules.append(rf"\cmidrule(lr){{{start + 3}-{end + 3}}}")
            start = end + 1
        if rules:
            lines += [" & ".join(cells) + r" \\", " ".join(rules)]
    header = ["Model", "Method"] + [latex_escape(length_label(c)) for c in columns] + (["n"] if with_intervals else [])
    lines += [" & ".join(header) + r" \\", r"\midrule"]
    previous = None
    for (model, method), row in frame.iterrows():
        if previous is not None and model != previous:
            lines.append(r"\midrule")
        cells = [latex_escape(model) if model != previous else "", latex_escape(method)]
        for column in columns:
            value = row[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
                continue
            estimate = (estimates or {}).get((model, method), {}).get(str(column))
            text = f"{value:.2f}"
            if estimate is not None and estimate.low is not None:
                text = f"{estimate.mean:.1f}"
            text = rf"\textbf{{{text}}}" if mask.loc[(model, method), column] else text
            if estimate is not None and estimate.low is not None:
                text += rf" {{\scriptsize [{estimate.low:.1f}, {estimate.high:.1f}]}}"
            cells.append(text)
        if with_intervals:
            cells.append(_sample_counts((estimates or {}).get((model, method), {})))
        lines.append(" & ".join(cells) + r" \\")
        previous = model
    lines += [r"\bottomrule", r"\end{tabular}"]
    body = "\n".join(lines)
    if caption:
        body = "\\begin{table}[t]\n\\centering\n" + body + f"\n\\caption{{{latex_escape(caption)}}}\n\\end{{table}}"
    return body + "\n"


def intervals_csv(cells: dict) -> pd.DataFrame:
    """One line per cell with an interval: model, method, column, mean, low, high, n, method."""
    rows = [{"model": model, "method": method, "column": column, "mean": e.mean, "low": e.low, "high": e.high,
             "n": e.n, "interval": e.method}
            for (model, method), found in cells.items() for column, e in found.items()]
    return pd.DataFrame(rows, columns=["model", "method", "column", "mean", "low", "high", "n", "interval"])
