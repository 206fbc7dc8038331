"""95% intervals for a table cell: Wilson for accuracies, bootstrap otherwise, and when a winner is clear.

A cell is a mean of per-sample scores, or a mean of group means (RULER's average over tasks,
a length's average over depths); perplexity is exp(total nll / total tokens) over documents.
Wilson's interval (one group of 0/1 scores) stays inside [0, 1] and is honest at n = 1; the
bootstrap resamples samples within each group (stratified) and needs two samples per group.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_REPS = 2000


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float | None  # None: no interval (a bootstrap over a single sample)
    high: float | None
    n: int
    method: str  # "wilson", "bootstrap", "bootstrap over documents" or "... over windows"

    def text(self, digits: int = 1) -> str:
        if self.low is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (successes of n), in [0, 1]."""
    if n < 1:
        raise ValueError(f"wilson needs n >= 1, got n={n}")
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def _bootstrap(statistic, groups: list[np.ndarray], reps: int, seed: int) -> tuple[float, float]:
    """Percentile interval of statistic(resampled groups), resampling within each group."""
    rng = np.random.default_rng(seed)
    draws = [g[rng.integers(0, len(g), size=(reps, len(g)))] for g in groups]
    values = statistic(draws)
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def estimate_mean(groups: list[list[float]], scale: float = 100.0, reps: int = BOOTSTRAP_REPS,
                  seed: int = 0, binary: bool = True) -> Estimate:
    """The mean of the groups' means (x scale) with its 95% interval; n counts every sample.
    One group of 0/1 scores gets Wilson's interval unless `binary` is False (a graded score such as
    F1 or ROUGE that happens to be 0 or 1 is not a success count)."""
    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not arrays:
        raise ValueError("no samples to estimate from")
    n = sum(len(a) for a in arrays)
    mean = float(np.mean([a.mean() for a in arrays]))
    if binary and len(arrays) == 1 and np.isin(arrays[0], (0.0, 1.0)).all():
        low, high = wilson(float(arrays[0].sum()), n)
        return Estimate(scale * mean, scale * low, scale * high, n, "wilson")
    if min(len(a) for a in arrays) < 2:
        return Estimate(scale * mean, None, None, n, "bootstrap")
    low, high = _bootstrap(lambda draws: np.mean([d.mean(axis=1) for d in draws], axis=0), arrays, reps, seed)
    return Estimate(scale * mean, scale * low, scale * high, n, "bootstrap")


def estimate_perplexity(nll_sums: list[float], tokens: list[int], reps: int = BOOTSTRAP_REPS,
                        seed: int = 0, unit: str = "documents") -> Estimate:
    """exp(sum nll / sum tokens), with a bootstrap over documents or windows (each unit keeps its
    own tokens); n counts the units."""
    nll, count = np.asarray(nll_sums, dtype=float), np.asarray(tokens, dtype=float)
    if not len(nll) or count.sum() <= 0:
        raise ValueError("no scored tokens to estimate perplexity from")
    mean = math.exp(nll.sum() / count.sum())
    if len(nll) < 2:
        return Estimate(mean, None, None, 1, f"bootstrap over {unit}")
    pairs = np.stack([nll, count], axis=1)
    low, high = _bootstrap(lambda draws: np.exp(draws[0][..., 0].sum(1) / draws[0][..., 1].sum(1)), [pairs], reps,
                           seed)
    return Estimate(mean, low, high, len(nll), f"bootstrap over {unit}")


def clear_winner(estimates: list[Estimate | None], lower: bool = False) -> int | None:
    """Index of the best mean when its interval clears every other's; None for a tie (overlap),
    fewer than two estimates, or any estimate without an interval."""
    if len(estimates) < 2 or any(e is None or e.low is None for e in estimates):
        return None
    best = min(range(len(estimates)), key=lambda i: estimates[i].mean * (1 if lower else -1))
    b = estimates[best]
    others = [e for i, e in enumerate(estimates) if i != best]
    clear = all(b.high < e.low for e in others) if lower else all(b.low > e.high for e in others)
    return best if clear else None
