"""`make table`: every finished run's benchmark as paper-style tables (Markdown, LaTeX, CSV, each
cell with its 95% interval and n), PNG figures, paired comparisons against the declared
references, and the cross-benchmark summary; and the end-of-multirun comparison (`sweep_table`).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd

from evals.files.layout import METRICS, results_root
from evals.files.safe_io import write_atomic
from evals.report.cell_intervals import run_estimates
from evals.report.effective_length import RULER_THRESHOLD, benchmark_effective_lengths, effective_markdown
from evals.report.figures import plot_benchmark
from evals.report.formats import INTERVAL_NOTE, has_intervals, interval_methods, intervals_csv, to_latex, to_markdown
from evals.report.frames import benchmark_frames, lower_is_better, row_labels, row_order, task_groups
from evals.report.paired import REFERENCES, write_paired
from evals.report.prompt_lengths import cell_spans, lengths_csv, lengths_markdown, trained_window
from evals.report.runs import BadRun, Run, find_runs, load_run, read_records, warn_skipped
from evals.report.summary import effective_headline, headline, write_summary

SPLITS = ("test", "dev")


def run_split(run: Run) -> str:
    """The split a run scored: its metrics' `split`, else its benchmark config's; runs from before
    splits existed scored what is now `test`."""
    return str(run.metrics.get("split") or run.benchmark_params.get("split") or "test")


def read_run_records(runs: list[Run]) -> dict[int, list[dict]]:
    """id(run) -> its records, read once for a benchmark's tables and plots (duplicates counted once)."""
    return {id(run): run.records if run.records is not None else read_records(run.path) for run in runs}


def benchmark_estimates(runs: list[Run], frames: dict[str, pd.DataFrame],
                        records: dict[int, list[dict]] | None = None) -> dict[str, dict]:
    """view -> {(model, row label): {column: Estimate}}: each cell's 95% interval and n, from the
    run's records (cells whose number the records do not reproduce get none)."""
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


def sweep_table(run_dirs: list[Path]) -> str:
    """Markdown comparison of the given runs (end of a multirun): one table per benchmark."""
    runs = []
    for path in run_dirs:
        if (Path(path) / METRICS).exists():
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


def write_tables(results_dir: str | Path, out_dir: str | Path | None = None,
                 benchmarks: list[str] | None = None, references: tuple[str, ...] | None = None,
                 split: str = "test", threshold: float = RULER_THRESHOLD) -> dict[str, list[Path]]:
    """results/tables/<benchmark>[_<view>].{md,tex,csv} (+ PNG plots, <benchmark>_paired: each
    method against each of `references`, default evals.report.paired.REFERENCES, and the prompt
    lengths behind every cell), and summary.{md,tex,csv} across the benchmarks written here when a
    model has two or more, with each length-graded benchmark's effective length at `threshold`;
    returns what was written. Only runs of `split` are tables: dev runs tune, they never score."""
    if split not in SPLITS:
        raise ValueError(f"Invalid split={split!r}: choose one of {', '.join(SPLITS)}")
    root = results_root(results_dir)
    out = Path(out_dir) if out_dir else root / "tables"
    out.mkdir(parents=True, exist_ok=True)
    by_benchmark: dict[str, list[Run]] = defaultdict(list)
    for run in find_runs(root):
        if run_split(run) == split:
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
        keys = [(run.model, label) for run, label in zip(runs, row_labels(runs))]
        effective = benchmark_effective_lengths(
            frames, [(k, records[id(r)], r.metrics) for k, r in zip(keys, runs)], groups, lower, threshold)
        paths = []
        for view, frame in frames.items():
            if view != "main" and len([c for c in frame.columns if c != "average"]) < 2:
                continue  # a single depth or bucket: the main table says it all
            stem = name if view == "main" else f"{name}_{view}"
            caption = name if view == "main" else f"{name}, {view.replace('_', ' ')}"
            cells = estimates.get(view)
            note = f"\n{INTERVAL_NOTE}\n\n{interval_methods(cells, frame)}\n" if has_intervals(cells) else ""
            spans = cell_spans(frame, [(k, records[id(r)], trained_window(r.config)) for k, r in zip(keys, runs)],
                               view, groups)
            lengths = lengths_markdown(frame, spans)
            if lengths:
                note += f"\n{lengths}\n"
                write_atomic(out / f"{stem}_prompt_tokens.csv", lengths_csv(frame, spans).to_csv(index=False))
                paths.append(out / f"{stem}_prompt_tokens.csv")
            if view == "main" and effective is not None:
                note += f"\n{effective_markdown(effective)}\n"
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
        paths += write_paired(name, runs, records, labels, row_order(runs, labels), lower, out,
                              tuple(references or REFERENCES))
        written[name] = paths
        headlines.append(headline(name, runs, frames, estimates, lower))
        if effective is not None:
            headlines.append(effective_headline(name, runs, effective))
    summary = write_summary(out, [h for h in headlines if h is not None])
    if summary:
        written["summary"] = summary
    return written
