"""Declared paired comparisons: every method against each reference method, on the very same units.

Separate intervals answer "how sure is this number"; whether one method beats another needs the
difference on the same prompts or documents, since much of the spread between them is shared.
Which comparisons are made is fixed before any result is seen: each method against each reference
(`REFERENCES`: the stock model and LaMPE; configurable), never against a column's observed best,
which picks the comparison after looking and makes every "better than" look surer than it is.
The flags of one table (one model's section) are Holm-adjusted over all its comparisons.

Scores: `evals.report.intervals.paired_difference` over the prompts both runs scored, pooled over the
column (points: scores x 100). Perplexity: the ratio exp((sum nll_a - sum nll_b) / sum tokens)
over the documents both scored, a t interval over documents; a column of one document (the old
one-text mode) takes a moving-block bootstrap over its 1024-token blocks, block length stated.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evals.files.safe_io import write_atomic
from evals.report.cell_intervals import is_number, record_score
from evals.report.formats import length_label
from evals.report.intervals import holm, moving_block_interval, moving_block_name, paired_test, ratio_over_units

ALL = "all"  # the column over every unit (a run without lengths, or every length together)
REFERENCES = ("original", "lampe")  # the declared references, in this order
ALPHA = 0.05  # family-wise error of one table's flags
BOOTSTRAP_REPS = 2000


@dataclass(frozen=True)
class Units:
    """One run's scored units of one column: key -> (value, weight), in reading order for blocks.

    prompts: (score, 1); documents and blocks: (nll sum, tokens)."""

    values: dict
    kind: str = "prompts"  # "prompts", "documents", "blocks" (one document's pieces) or "windows"


@dataclass(frozen=True)
class Comparison:
    """One method against one reference in one column."""

    estimate: float  # points (a - b) or a perplexity ratio (a / b)
    low: float | None
    high: float | None
    p: float | None  # two-sided, "no difference"; None without an interval
    n: int
    method: str
    same: bool = False  # identical on every unit


def _length(record: dict):
    return (record.get("meta") or {}).get("length")


def perplexity_units(records: list[dict]) -> dict[str, Units]:
    """column (length, as text) -> documents (two or more records) or, for a single document, its
    1024-token blocks in reading order (older records without blocks: its windows)."""
    by_length: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        if "nll_sum" in (record.get("meta") or {}):
            by_length[str(_length(record))].append(record)
    columns = {}
    for column, chosen in by_length.items():
        if len(chosen) >= 2:
            values = {(r["meta"].get("document") or r["id"]): (float(r["meta"]["nll_sum"]),
                                                               float(r["meta"]["num_tokens"])) for r in chosen}
            columns[column] = Units(values, "documents")
            continue
        meta = chosen[0]["meta"]
        kind = "blocks" if meta.get("blocks") else "windows"
        pieces = meta.get(kind) or [[meta["nll_sum"], meta["num_tokens"]]]
        columns[column] = Units({i: (float(v), float(t)) for i, (v, t) in enumerate(pieces)}, kind)
    return columns


def score_units(records: list[dict]) -> dict[str, Units]:
    """column -> prompts: id -> (score, 1); a column per length when the records form a length grid
    (two prompts or more per length), plus `all` when there are two lengths or more."""
    columns: dict[str, dict] = defaultdict(dict)
    for record in records:
        score = record_score(record)
        if score is None:
            continue
        length = _length(record)
        if length is not None:
            columns[str(length)][record["id"]] = (score, 1.0)
        columns[ALL][record["id"]] = (score, 1.0)
    if any(len(units) < 2 for column, units in columns.items() if column != ALL):
        return {ALL: Units(columns[ALL])}  # lengths of single prompts (LongBench's own lengths), not a grid
    if len(columns) == 2:  # one length: `all` repeats it
        columns.pop(ALL)
    return {column: Units(values) for column, values in columns.items()}


def _shared(a: Units, b: Units) -> list:
    keys = set(a.values) & set(b.values)
    if not keys:
        raise ValueError("the two runs share no scored units")
    return sorted(keys, key=lambda k: (0, k, "") if isinstance(k, int) else (1, 0, str(k)))


def compare(a: Units, b: Units, perplexity: bool, seed: int = 0) -> Comparison:
    """a against b on their shared units: a perplexity ratio (a / b), or points (a - b)."""
    keys = _shared(a, b)
    n = len(keys)
    if perplexity:
        tokens = np.array([a.values[k][1] for k in keys])
        if any(b.values[k][1] != t for k, t in zip(keys, tokens)):
            raise ValueError("the same units hold different token counts: not the same text")
        d = np.array([a.values[k][0] - b.values[k][0] for k in keys])
        ratio = math.exp(d.sum() / tokens.sum())
        if not d.any():
            return Comparison(1.0, 1.0, 1.0, 1.0, n, "identical", same=True)
        if n < 2:
            return Comparison(ratio, None, None, None, n, f"none: one {a.kind[:-1]}")
        if a.kind == "documents":
            _, low, high, p = ratio_over_units(d, tokens)
            return Comparison(ratio, math.exp(low), math.exp(high), p, n, "t over documents")
        _, low, high, p, block = moving_block_interval(d, tokens, reps=BOOTSTRAP_REPS, seed=seed)
        return Comparison(ratio, math.exp(low), math.exp(high), p, n, moving_block_name(block, a.kind, tokens))
    x, y = np.array([a.values[k][0] for k in keys]), np.array([b.values[k][0] for k in keys])
    if ((x < 0) | (x > 1) | (y < 0) | (y > 1)).any():
        return Comparison(100.0 * float((x - y).mean()), None, None, None, n, "none: scores outside [0, 1]")
    found = paired_test(x, y)
    return Comparison(100.0 * found.estimate, 100.0 * found.low, 100.0 * found.high, found.p, n,
                      "paired difference (adjusted t)", same=bool((x == y).all()))


def resolve_references(labels: list[str], methods: dict[str, str], references) -> tuple[list[str], list[str]]:
    """(row labels of the references found, notes on those not found): a reference names a row
    label, or a method with exactly one row (a sweep's many rows need their full label)."""
    found, notes = [], []
    for name in references:
        if name in labels:
            found.append(name)
            continue
        rows = [label for label in labels if methods.get(label) == name]
        if len(rows) == 1:
            found.append(rows[0])
        elif rows:
            notes.append(f"reference `{name}`: {len(rows)} rows ({', '.join(rows)}); name one of them")
        else:
            notes.append(f"reference `{name}`: not run here")
    return list(dict.fromkeys(found)), notes


def declared(labels: list[str], references: list[str]) -> list[tuple[str, str]]:
    """(row, reference) pairs in row order: every row against each reference but itself, the mirror
    of an earlier pair left out (lampe against original is shown once, not again as original
    against lampe)."""
    pairs, seen = [], set()
    for reference in references:
        for label in labels:
            if label != reference and frozenset((label, reference)) not in seen:
                pairs.append((label, reference))
                seen.add(frozenset((label, reference)))
    return pairs


def _columns(rows: dict[str, dict[str, Units]]) -> list[str]:
    return sorted({c for units in rows.values() for c in units},
                  key=lambda c: (c == ALL, float(c) if is_number(c) else math.inf, c))


@dataclass
class PairedTable:
    """One model's comparisons: per reference a frame of cell texts, and every comparison's numbers."""

    frames: dict[str, pd.DataFrame]
    found: dict[tuple[str, str, str], Comparison]  # (row, reference, column)
    adjusted: dict[tuple[str, str, str], float]  # Holm-adjusted p
    notes: list[str]


def paired_frame(rows: dict[str, dict[str, Units]], perplexity: bool, references=REFERENCES,
                 methods: dict[str, str] | None = None) -> PairedTable:
    """Every declared comparison of one model's rows (label -> column -> Units), Holm-adjusted."""
    labels = list(rows)
    chosen, notes = resolve_references(labels, methods or {label: label for label in labels}, references)
    columns = _columns(rows)
    found: dict[tuple[str, str, str], Comparison] = {}
    for label, reference in declared(labels, chosen):
        for column in columns:
            a, b = rows[label].get(column), rows[reference].get(column)
            if a is None or b is None or not set(a.values) & set(b.values):
                continue
            found[(label, reference, column)] = compare(a, b, perplexity)
    tested = [key for key, c in found.items() if c.p is not None]
    adjusted = dict(zip(tested, holm([found[k].p for k in tested])))
    frames = {}
    for reference in chosen:
        table = {label: {column: _text(found[(label, reference, column)], perplexity,
                                       adjusted.get((label, reference, column), 1.0) < ALPHA)
                         for column in columns if (label, reference, column) in found}
                 for label in labels if any((label, reference, c) in found for c in columns)}
        if table:
            frame = pd.DataFrame(table).T
            frames[reference] = frame.reindex(columns=[c for c in columns if c in frame.columns]).fillna("-")
    return PairedTable(frames, found, adjusted, notes)


def _text(c: Comparison, perplexity: bool, flagged: bool) -> str:
    """x1.024 [1.010, 1.039] or -16.7 [-50.0, +8.3]; `*` where Holm's adjustment keeps the difference."""
    if perplexity and c.same:
        return "same"  # identical on every document or block: the same computation (PI at factor 1)
    if c.low is None:
        return f"x{c.estimate:.3f}" if perplexity else f"{c.estimate:+.1f}"
    if perplexity:
        text = f"x{c.estimate:.3f} [{c.low:.3f}, {c.high:.3f}]"
    else:
        text = f"{c.estimate:+.1f} [{c.low:+.1f}, {c.high:+.1f}]"
    return f"{text} *" if flagged else text


def paired_note(tables: list[PairedTable], perplexity: bool, references=REFERENCES) -> str:
    """What the cells are, how their intervals were taken (block lengths named), and the Holm family."""
    what = ("perplexity ratio of the method to the reference on the same documents, or one document's same "
            "blocks (below 1: the method predicts the text better)" if perplexity else
            "mean score difference, method minus reference, in points on the same prompts (above 0: the "
            "method scores higher)")
    kinds: dict[str, list[str]] = {}
    for t in tables:
        for (_, _, column), c in t.found.items():
            if c.low is not None and not c.same and column not in kinds.setdefault(c.method, []):
                kinds[c.method].append(column)
    families = sorted({sum(c.p is not None for c in t.found.values()) for t in tables})
    how = {"paired difference (adjusted t)": "paired_difference: a t interval after one pseudo-pair at each end "
                                             "of the difference's range (Bonett-Price on 0/1 scores)",
           "t over documents": "a t interval over documents of the log ratio"}
    columns = lambda cs: ", ".join(length_label(c) for c in cs)  # noqa: E731
    intervals = "; ".join(how.get(k, f"{k} at {columns(cs)}") for k, cs in sorted(kinds.items())) or "none"
    family = "/".join(map(str, families)) or "0"
    return (f"Each method against each declared reference ({', '.join(references)}), never "
            f"against a column's observed best: {what}, with its 95% interval ({intervals}). `*`: the difference "
            f"holds after Holm's adjustment over the table's {family} comparisons (family-wise 5%); without `*` "
            f"the two are not told apart. `same`: identical on every unit. A pair is shown once (lampe against "
            f"original, not again original against lampe).")


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
                 perplexity: bool, out: Path, references=REFERENCES) -> list[Path]:
    """<name>_paired.{md,csv} when some model has a reference and another run with shared units."""
    ordered_runs = [runs[i] for i in order]
    ordered_labels = [labels[i] for i in order]
    methods = {label: run.method for run, label in zip(ordered_runs, ordered_labels)}
    parts, rows_csv, tables = [], [], []
    for model, rows in paired_rows(ordered_runs, records, ordered_labels, perplexity).items():
        if len(rows) < 2:
            continue
        table = paired_frame(rows, perplexity, references, methods)
        if not table.found:
            continue
        tables.append(table)
        sections = [f"model: {model}"]
        for reference, frame in table.frames.items():
            shown = frame.rename(columns=length_label)
            shown.index.name = "method"
            counts = sorted({c.n for (_, r, _), c in table.found.items() if r == reference})
            n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
            unit = "/".join(sorted({c_units.kind for units in rows.values() for c_units in units.values()}))
            sections.append(f"against {reference} (n = {n} {unit} per cell)\n\n"
                            + shown.reset_index().to_markdown(index=False, disable_numparse=True))
        sections += [f"({note})" for note in table.notes]
        parts.append("\n\n".join(sections) + "\n")
        for (label, reference, column), c in table.found.items():
            p_holm = table.adjusted.get((label, reference, column))
            rows_csv.append({"model": model, "method": label, "reference": reference, "column": column,
                             "estimate": c.estimate, "low": c.low, "high": c.high, "n": c.n, "p": c.p,
                             "p_holm": p_holm, "flag": p_holm is not None and p_holm < ALPHA, "interval": c.method,
                             "statistic": "ratio to reference" if perplexity else "points minus reference"})
    if not parts:
        return []
    md = out / f"{name}_paired.md"
    write_atomic(md, f"### {name}, paired: each method against {', '.join(references)}\n\n" + "\n".join(parts)
                 + f"\n{paired_note(tables, perplexity, references)}\n")
    csv = out / f"{name}_paired.csv"
    write_atomic(csv, pd.DataFrame(rows_csv).to_csv(index=False))
    return [md, csv]
