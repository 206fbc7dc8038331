"""The prompt lengths behind every table cell: median [min-max] of the records' `prompt_tokens`.

A column called "16k" says what a benchmark asked for, not what the model read: LongBench
truncates, L-Eval's documents have their own lengths, a template adds tokens. A reader can only
tell whether a cell tests context extension from the lengths of the prompts behind it, so every
per-benchmark table gets a twin table of them, with the cells whose every prompt fits the
model's trained window (`model.pretraining_length` of the run's config) marked.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from evals.report.cell_intervals import is_number, select
from evals.report.formats import length_label

INSIDE_MARK = "†"
LENGTHS_NOTE = (f"prompt tokens behind each cell: median [min-max] of the records' `prompt_tokens` (the "
                f"model's tokenizer, template included); {INSIDE_MARK}: every prompt of the cell fits the "
                "model's trained window, so the cell does not test context extension")


@dataclass(frozen=True)
class LengthSpan:
    median: float
    low: int
    high: int
    n: int
    inside: bool  # every prompt <= the trained window (False when the window is unknown)

    def text(self) -> str:
        median = f"{self.median:.0f}" if float(self.median).is_integer() else f"{self.median:.1f}"
        span = f"{median} [{self.low}-{self.high}]" if self.low != self.high else median
        return span + (f" {INSIDE_MARK}" if self.inside else "")


def record_prompt_tokens(record: dict) -> int | None:
    """A record's prompt length: `prompt_tokens`, else `meta.prompt_tokens` (older records)."""
    value = record.get("prompt_tokens", (record.get("meta") or {}).get("prompt_tokens"))
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def span_of(records: list[dict], window: int | None) -> LengthSpan | None:
    """The lengths of these records' prompts; None when no record says its length."""
    lengths = [n for n in (record_prompt_tokens(r) for r in records) if n is not None]
    if not lengths:
        return None
    return LengthSpan(statistics.median(lengths), min(lengths), max(lengths), len(lengths),
                      window is not None and max(lengths) <= window)


def trained_window(config: dict) -> int | None:
    """The run's model window (`model.pretraining_length`), where its config states one."""
    value = (config.get("model") or {}).get("pretraining_length")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def cell_spans(frame: pd.DataFrame, rows: list[tuple[tuple[str, str], list[dict], int | None]], view: str,
               groups: dict[str, list[str]]) -> dict[tuple[str, str], dict[str, LengthSpan]]:
    """(model, label) -> {column: LengthSpan} for one view; `rows` pairs each row key with its run's
    records and window. Cells use the same records as their intervals (`select`)."""
    numeric = all(is_number(c) for c in frame.columns if c != "average")
    found = {}
    for key, records, window in rows:
        if key not in frame.index:
            continue
        cells = {}
        for column in frame.columns:
            value = frame.loc[key, column]
            if pd.isna(value):
                continue
            chosen = select(records, view, str(column), groups, numeric)
            span = span_of(chosen, window) if chosen else None
            if span is not None:
                cells[str(column)] = span
        found[key] = cells
    return found


def lengths_frame(frame: pd.DataFrame, spans: dict) -> pd.DataFrame:
    """The table's shape with each cell's span as text ("-" where its records say no length)."""
    data = [[spans.get(key, {}).get(str(c)).text() if str(c) in spans.get(key, {}) else "-" for c in frame.columns]
            for key in frame.index]
    return pd.DataFrame(data, index=frame.index, columns=[str(c) for c in frame.columns])


def lengths_markdown(frame: pd.DataFrame, spans: dict) -> str:
    """The twin table in Markdown, empty when no cell has lengths."""
    if not any(spans.values()):
        return ""
    shown = lengths_frame(frame, spans).rename(columns=length_label).reset_index()
    return f"{LENGTHS_NOTE}:\n\n" + shown.to_markdown(index=False, disable_numparse=True,
                                                       colalign=["left"] * 2 + ["right"] * (len(shown.columns) - 2))


def lengths_csv(frame: pd.DataFrame, spans: dict) -> pd.DataFrame:
    """One line per cell: model, method, column, median, min, max, n, inside_window."""
    rows = [{"model": key[0], "method": key[1], "column": column, "median": s.median, "min": s.low, "max": s.high,
             "n": s.n, "inside_window": s.inside}
            for key in frame.index for column, s in spans.get(key, {}).items()]
    return pd.DataFrame(rows, columns=["model", "method", "column", "median", "min", "max", "n", "inside_window"])
