"""Paper-style tables from finished runs: rows model x method, columns tasks (by group) + average.

Every benchmark's metrics.json has `tasks` ({task: {metric: value}}, the first metric is the
task's score) and `average`; a benchmark may add views keyed by something else, e.g. RULER by
length or LongBench-E by length bucket ({key: number} or {key: {..., "average": number}}). Each
view becomes its own table. Runs that share model and method but differ in a parameter (a sweep)
get that parameter in their row label. LaTeX uses booktabs and bolds the best value per column
within each model (the lowest for perplexity-like metrics).
"""
from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

from evals.files.safe_io import write_atomic
from evals.report.cell_intervals import is_number
from evals.report.runs import BadRun, Run, find_runs, load_run, warn_skipped
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


def _number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return None


def _mean(values) -> float | None:
    values = [v for v in (_number(x) for x in values) if v is not None]
    return sum(values) / len(values) if values else None


def task_score(metrics: dict) -> float | None:
    """A task's cell: its first metric; a task scored per length (RULER) averages its lengths."""
    if _number(metrics) is not None:
        return _number(metrics)
    if not isinstance(metrics, dict) or not metrics:
        return None
    if all(is_number(k) for k in metrics):
        return _mean(metrics.values())
    return _number(next(iter(metrics.values())))


def view_cell(value) -> float | None:
    """A cell of a view: a number, or a dict's average/score/mean (per-length dicts: their mean)."""
    if _number(value) is not None:
        return _number(value)
    if isinstance(value, dict):
        for key in ("average", "score", "mean"):
            if _number(value.get(key)) is not None:
                return _number(value[key])
        if value and all(is_number(k) for k in value):
            return _mean(value.values())
    return None


SERIES_KEYS = ("average_per_length", "perplexity", "lengths")  # per-length views, most specific first


def summary_frame(metrics: dict) -> pd.DataFrame:
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
    benchmark class's `groups` attribute or its module's GROUPS (LongBench's categories)."""
    for run in runs:
        for key in ("task_groups", "groups"):
            groups = run.metrics.get(key)
            if isinstance(groups, dict) and groups and all(isinstance(v, list) for v in groups.values()):
                return groups
            if isinstance(groups, dict) and all(isinstance(v, dict) and "tasks" in v for v in groups.values()):
                return {g: list(v["tasks"]) for g, v in groups.items()}
    try:
        import sys

        from evals.benchmarks.registry import get_benchmark

        name = (runs[0].config.get("benchmark") or {}).get("name", runs[0].benchmark)
        cls = get_benchmark(name)
        groups = getattr(cls, "groups", None) or getattr(sys.modules[cls.__module__], "GROUPS", None)
        return dict(groups) if isinstance(groups, dict) else {}
    except Exception:
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


def _order(runs: list[Run], labels: list[str]) -> list[int]:
    rank = {m: i for i, m in enumerate(registered_methods())}
    return sorted(range(len(runs)), key=lambda i: (runs[i].model, rank.get(runs[i].method, len(rank)), labels[i]))


def benchmark_frames(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """view name -> table for the runs of one benchmark; 'main' = tasks (+ groups) + average."""
    if not runs:
        return {}
    labels = row_labels(runs)
    order = _order(runs, labels)
    groups = task_groups(runs)
    grouped = [t for tasks in groups.values() for t in tasks]
    rows: dict[str, list[dict]] = defaultdict(list)
    for i in order:
        run, index = runs[i], {"model": runs[i].model, "method": labels[i]}
        tasks = {t: task_score(v) for t, v in (run.metrics.get("tasks") or {}).items()}
        main = {**index, **tasks, **{f"[{g}]": v for g, v in group_scores(run.metrics).items()}}
        main.update({f"[{k}]": _number(v) for k, v in run.metrics.items()
                     if k not in SKIP_KEYS and _number(v) is not None})  # e.g. L-Eval's closed_ended_average
        main["average"] = _number(run.metrics.get("average"))
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
    length_first = not any(run.metrics.get("tasks") and _number(run.metrics.get("average")) is not None
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


def read_run_records(runs: list[Run]) -> dict[int, list[dict]]:
    """id(run) -> its records, read once for a benchmark's tables and plots (duplicates counted once)."""
    from evals.report.runs import read_records

    return {id(run): run.records if run.records is not None else read_records(run.path) for run in runs}


def benchmark_estimates(runs: list[Run], frames: dict[str, pd.DataFrame],
                        records: dict[int, list[dict]] | None = None) -> dict[str, dict]:
    """view -> {(model, row label): {column: Estimate}}: each cell's 95% interval and n, from the
    run's records (cells whose number the records do not reproduce get none)."""
    from evals.report.cell_intervals import run_estimates

    labels = row_labels(runs)
    groups = task_groups(runs)
    lower = lower_is_better(runs)
    records = records if records is not None else read_run_records(runs)
    found: dict[str, dict] = {}
    for view, frame in frames.items():
        cells = {}
        for run, label in zip(runs, labels):
            key = (run.model, label)
            if key in frame.index:
                row = {str(c): v for c, v in frame.loc[key].items() if v is not None and not pd.isna(v)}
                cells[key] = run_estimates(records[id(run)], run.metrics, view, row, groups, lower)
        found[view] = cells
    return found


def lower_is_better(runs: list[Run]) -> bool:
    names = {(r.config.get("benchmark") or {}).get("name", r.benchmark) for r in runs}
    return bool(names & LOWER_IS_BETTER) or any(r.metrics.get("lower_is_better") for r in runs)


def sweep_table(run_dirs: list[Path]) -> str:
    """Markdown comparison of the given runs (end of a multirun): one table per benchmark."""
    runs = []
    for path in run_dirs:
        if (Path(path) / "metrics.json").exists():
            try:
                runs.append(load_run(path))
            except (BadRun, OSError) as err:
                warn_skipped(Path(path), str(err))
    by_benchmark: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_benchmark[run.benchmark].append(run)
    parts, with_intervals = [], False
    for name, members in by_benchmark.items():
        frames = benchmark_frames(members)
        estimates = benchmark_estimates(members, frames)
        lower = lower_is_better(members)
        for view, frame in frames.items():
            if view != "main" and len([c for c in frame.columns if c != "average"]) < 2:
                continue  # one depth, one bucket: nothing the main table does not say
            title = name if view == "main" else f"{name}, {view.replace('_', ' ')}"
            cells = estimates.get(view)
            with_intervals |= has_intervals(cells)
            parts.append(f"{title}\n{to_markdown(frame, cells, lower)}")
    if with_intervals:
        parts.append(INTERVAL_NOTE)
    missing = len(run_dirs) - len(runs)
    if missing:
        parts.append(f"({missing} runs without metrics: unfinished shards or failures)")
    return "\n\n".join(parts) if parts else "(no finished runs)"


# ---- writers --------------------------------------------------------------------------------

def _length_label(column: str) -> str:
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
    parts = [f"{method} ({', '.join(_length_label(c) for c in sorted(cols, key=lambda c: rank.get(c, len(rank))))})"
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
    from evals.report.intervals import clear_winner

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
        shown = frame.rename(columns=_length_label).reset_index()
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
    header = [*frame.index.names, *[_length_label(str(c)) for c in frame.columns]] + ([] if n_per_cell else ["n"])
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
    header = ["Model", "Method"] + [latex_escape(_length_label(c)) for c in columns] + (["n"] if with_intervals else [])
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


def write_tables(results_dir: str | Path, out_dir: str | Path | None = None,
                 benchmarks: list[str] | None = None, references: tuple[str, ...] | None = None
                 ) -> dict[str, list[Path]]:
    """results/tables/<benchmark>[_<view>].{md,tex,csv} (+ PNG plots, and <benchmark>_paired: each
    method against each of `references`, default evals.report.paired.REFERENCES), and summary.{md,tex,csv}
    across the benchmarks written here when a model has two or more; returns what was written."""
    from evals.report.paired import REFERENCES, write_paired
    from evals.report.runs import results_root
    from evals.report.summary import headline, write_summary

    root = results_root(results_dir)
    out = Path(out_dir) if out_dir else root / "tables"
    out.mkdir(parents=True, exist_ok=True)
    by_benchmark: dict[str, list[Run]] = defaultdict(list)
    for run in find_runs(root):
        by_benchmark[run.benchmark].append(run)
    written: dict[str, list[Path]] = {}
    headlines = []
    for name, runs in sorted(by_benchmark.items()):
        if benchmarks and name not in benchmarks:
            continue
        frames = benchmark_frames(runs)
        records = read_run_records(runs)
        estimates = benchmark_estimates(runs, frames, records)
        lower = lower_is_better(runs)
        groups = task_groups(runs)
        paths = []
        for view, frame in frames.items():
            if view != "main" and len([c for c in frame.columns if c != "average"]) < 2:
                continue  # a single depth or bucket: the main table says it all
            stem = name if view == "main" else f"{name}_{view}"
            caption = name if view == "main" else f"{name}, {view.replace('_', ' ')}"
            cells = estimates.get(view)
            note = f"\n{INTERVAL_NOTE}\n\n{interval_methods(cells, frame)}\n" if has_intervals(cells) else ""
            write_atomic(out / f"{stem}.md", f"### {caption}\n\n{to_markdown(frame, cells, lower)}\n{note}")
            write_atomic(out / f"{stem}.tex", to_latex(frame, groups if view == "main" else None, lower, caption,
                                                       cells))
            write_atomic(out / f"{stem}.csv", frame.to_csv())
            paths += [out / f"{stem}.{ext}" for ext in ("md", "tex", "csv")]
            if note:
                write_atomic(out / f"{stem}_intervals.csv", intervals_csv(cells).to_csv(index=False))
                paths.append(out / f"{stem}_intervals.csv")
        paths += plot_benchmark(name, runs, out, records, estimates)
        labels = row_labels(runs)
        paths += write_paired(name, runs, records, labels, _order(runs, labels), lower, out,
                              tuple(references or REFERENCES))
        written[name] = paths
        headlines.append(headline(name, runs, frames, estimates, lower))
    summary = write_summary(out, [h for h in headlines if h is not None])
    if summary:
        written["summary"] = summary
    return written


# ---- plots ----------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")


def plot_benchmark(name: str, runs: list[Run], out: Path, records: dict[int, list[dict]] | None = None,
                   estimates: dict[str, dict] | None = None) -> list[Path]:
    """PNG figures through evals.report.plots: a curve vs length per model (score, or perplexity on a
    log scale) with one line per method, a depth x length heatmap per needle/passkey run, and
    grouped bars per task per model where the runs have at least two tasks."""
    try:
        from evals.report import plots
    except ImportError:  # figures are optional; tables are not
        return []
    labels = row_labels(runs)
    order = _order(runs, labels)  # the tables' row order: lines, bars and colours follow the method registry
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
    from evals.report import plots
    from evals.report.cell_intervals import read_records, run_estimates

    own = (records or {}).get(id(run))
    series = next(run.metrics[k] for k in plots.SERIES_KEYS if isinstance(run.metrics.get(k), dict) and run.metrics[k])
    row = {str(n): v for n, v in series.items() if _number(v) is not None}
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
    from evals.report import plots
    from evals.report.cell_intervals import read_records, run_estimates

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
        n = _number(run.metrics.get("num_samples"))
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
