"""The length x depth grid of a retrieval benchmark (needle, passkey): its summary, for the
heatmaps and the by-length and by-depth tables."""
from __future__ import annotations

from collections import defaultdict


def depth_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def summarize_grid(records: list[dict], metric: str | None = None) -> dict:
    """Score x100 per (length, depth) cell, per length, per depth and overall, for heatmaps."""
    if not records:
        return {"metric": metric, "grid": {}, "lengths": {}, "depths": {}, "average": None, "metrics": {},
                "num_samples": 0}
    metric = metric or next(iter(records[0]["scores"]))
    cells: dict[int, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    every: dict[str, list[float]] = defaultdict(list)
    for r in records:
        cells[int(r["meta"]["length"])][float(r["meta"]["depth"])].append(float(r["scores"][metric]))
        for name, value in r["scores"].items():
            every[name].append(float(value))
    mean = lambda xs: 100.0 * sum(xs) / len(xs)  # noqa: E731
    grid = {str(n): {depth_label(d): mean(v) for d, v in sorted(by_depth.items())} for n, by_depth in sorted(cells.items())}
    by_depth: dict[float, list[float]] = defaultdict(list)
    for per_length in cells.values():
        for d, v in per_length.items():
            by_depth[d].extend(v)
    return {
        "metric": metric,
        "grid": grid,
        "lengths": {str(n): mean([x for v in cells[n].values() for x in v]) for n in sorted(cells)},
        "depths": {depth_label(d): mean(v) for d, v in sorted(by_depth.items())},
        "average": mean(every[metric]),
        "metrics": {name: mean(v) for name, v in every.items()},
        "num_samples": len(records),
    }
