"""95% intervals: a table cell, a paired difference of two methods, and Holm's adjustment.

A cell is a mean of per-sample scores, or a mean of group means (RULER's average over tasks,
a length's average over depths); perplexity is exp(total nll / total tokens) over documents.
Wilson's interval is for 0/1 success counts only (the caller decides from the metric, never from
the observed values) and is honest at n = 1; graded scores and means of group means take a
bootstrap that resamples samples within each group (stratified). Perplexity: a t interval over
independent documents, or, for a single document, a moving-block bootstrap whose block length is
stated. A paired difference (`paired_difference`) has its own interval, chosen for its coverage
at small n; a table's family of paired comparisons is Holm-adjusted (`holm`).
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
    low: float | None  # None: no interval (a single sample, or graded scores without spread)
    high: float | None
    n: int
    method: str  # "wilson", "bootstrap", "t over documents", "moving-block bootstrap ..."

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

    `binary`: the metric is a 0/1 success count (say so from the metric, not from the values: a
    graded F1 that happens to be 0 or 1 is no success count); one such group gets Wilson's
    interval. Otherwise a stratified bootstrap; none where a group has one sample, or where no
    group has any spread (a bootstrap would print a zero-width interval as if it were certain)."""
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
    if all(np.ptp(a) == 0 for a in arrays):
        return Estimate(scale * mean, None, None, n, "none: every sample of each group scored the same")
    low, high = _bootstrap(lambda draws: np.mean([d.mean(axis=1) for d in draws], axis=0), arrays, reps, seed)
    return Estimate(scale * mean, scale * low, scale * high, n, "bootstrap")


# ---- ratios of sums: perplexity over documents, or over one document's blocks ------------------

def ratio_over_units(numerators, denominators, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(ratio, low, high, p) of sum(numerators) / sum(denominators) over independent units.

    The ratio estimator's linearization (e_i = x_i - r y_i, the survey-sampling standard error of a
    ratio) with a t quantile on n - 1 degrees of freedom; p tests ratio = 0. Perplexity's log is such
    a ratio (nll over tokens), so is a paired log-ratio (nll difference over tokens). Needs n >= 2.
    """
    from scipy.stats import t as student

    x, y = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    n = len(x)
    if n < 2 or y.sum() <= 0:
        raise ValueError(f"a ratio over units needs two units or more with tokens, got n={n}")
    ratio = x.sum() / y.sum()
    residuals = x - ratio * y
    se = math.sqrt(n / (n - 1) * float((residuals ** 2).sum())) / y.sum()
    if se == 0.0:  # every unit has the very same ratio: nothing varies
        return ratio, ratio, ratio, 1.0 if ratio == 0.0 else 0.0
    q = float(student.ppf((1 + confidence) / 2, n - 1))
    p = float(2 * student.sf(abs(ratio) / se, n - 1))
    return ratio, ratio - q * se, ratio + q * se, p


def block_length(units: int) -> int:
    """Consecutive pieces per resampled block: ceil(m^(1/3)), the usual rate for a moving-block
    bootstrap of a mean (Hall, Horowitz and Jing 1995), at least 1."""
    return max(1, math.ceil(units ** (1 / 3) - 1e-9))


def moving_block_ratios(numerators, denominators, reps: int = BOOTSTRAP_REPS, seed: int = 0,
                        block: int | None = None) -> tuple[np.ndarray, int]:
    """(resampled sum(x) / sum(y), block length) for one ordered series (one document's pieces):
    a moving-block bootstrap, so neighbouring pieces, which are correlated, travel together."""
    x, y = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    m = len(x)
    block = block or block_length(m)
    if m < 2 or block > m:
        raise ValueError(f"a moving-block bootstrap needs two pieces or more and a block <= {m}, got block={block}")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, m - block + 1, size=(reps, math.ceil(m / block)))
    index = (starts[..., None] + np.arange(block)).reshape(reps, -1)[:, :m]
    return x[index].sum(axis=1) / y[index].sum(axis=1), block


def moving_block_interval(numerators, denominators, confidence: float = 0.95, reps: int = BOOTSTRAP_REPS,
                          seed: int = 0) -> tuple[float, float, float, float, int]:
    """(ratio, low, high, p, block length) of sum(x) / sum(y) over one ordered series: the ratio
    plus or minus a normal quantile times its moving-block bootstrap standard error, p from the
    same z (so that p is not floored at 1 / reps, which Holm's adjustment over a large family needs)."""
    from scipy.stats import norm

    x, y = np.asarray(numerators, dtype=float), np.asarray(denominators, dtype=float)
    ratio = x.sum() / y.sum()
    draws, block = moving_block_ratios(x, y, reps, seed)
    se = float(np.std(draws, ddof=1))
    if se == 0.0:
        return ratio, ratio, ratio, 1.0 if ratio == 0.0 else 0.0, block
    z = float(norm.ppf((1 + confidence) / 2))
    return ratio, ratio - z * se, ratio + z * se, float(2 * norm.sf(abs(ratio) / se)), block


def estimate_perplexity(nll_sums: list[float], tokens: list[int], reps: int = BOOTSTRAP_REPS,
                        seed: int = 0, unit: str = "documents") -> Estimate:
    """exp(sum nll / sum tokens) with its 95% interval; n counts the units.

    unit="documents": independent documents, a t interval on the log (`ratio_over_units`).
    unit="blocks": the consecutive pieces of ONE document, not independent (their lag-1
    correlation reaches 0.98 at 32k): a moving-block bootstrap standard error on the log, whose
    block length the method names.
    """
    nll, count = np.asarray(nll_sums, dtype=float), np.asarray(tokens, dtype=float)
    if not len(nll) or count.sum() <= 0:
        raise ValueError("no scored tokens to estimate perplexity from")
    mean = math.exp(nll.sum() / count.sum())
    if len(nll) < 2:
        return Estimate(mean, None, None, 1, f"none: n = 1 ({unit})")
    if unit == "documents":
        _, low, high, _ = ratio_over_units(nll, count)
        return Estimate(mean, math.exp(low), math.exp(high), len(nll), "t over documents")
    _, low, high, _, block = moving_block_interval(nll, count, reps=reps, seed=seed)
    return Estimate(mean, math.exp(low), math.exp(high), len(nll), moving_block_name(block, unit, count))


def moving_block_name(block: int, unit: str, tokens) -> str:
    """How a moving-block interval was taken, with its block length in pieces and in tokens."""
    size = int(np.max(tokens)) * block
    return f"moving-block bootstrap over one document's {unit} (block length {block} {unit}, {size} tokens)"


# ---- paired differences ------------------------------------------------------------------------

@dataclass(frozen=True)
class Paired:
    """A paired difference (a - b) with its interval and the matching two-sided p-value."""

    estimate: float
    low: float
    high: float
    p: float
    n: int


def paired_test(a, b, confidence: float = 0.95, bounds: tuple[float, float] = (0.0, 1.0)) -> Paired:
    """`paired_difference` with the two-sided p-value of "no difference" that its interval inverts
    (the interval excludes 0 exactly when p < 1 - confidence), for Holm's adjustment."""
    estimate, low, high, p, n = _paired(a, b, confidence, bounds)
    return Paired(float(estimate), float(low), float(high), float(p), n)


def paired_difference(a, b, confidence: float = 0.95,
                      bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float, float]:
    """(estimate, low, high): the mean of a - b over prompts scored by both methods, in order.

    a, b: per-prompt scores in `bounds` (0/1 or graded: F1, ROUGE, a fraction of needles), the
    same prompt at the same position. 2-D inputs (sets x prompts) give one interval per row.

    The interval: a t interval on the differences after one pseudo-pair at each end, +M and -M,
    where M^2 is the mean square of the non-zero differences with one extra pseudo-count at the
    full range (so M = 1 on 0/1 scores, and no observed difference means M = 1). On 0/1 scores this
    is Bonett and Price's adjusted Wald interval for paired proportions (2012, recommended for
    small samples by Fagerland, Lydersen and Laake 2014), with a t quantile. Why: a plain t
    interval (or a percentile bootstrap) sees no spread when few prompts differ, collapses onto the
    estimate and covers 20-70% at n = 10-30 when discordance is rare; the exact conditional
    (McNemar) interval pins one end at the estimate. The pseudo-pairs keep the interval open by
    what the unseen prompts could still do, and M keeps graded scores whose differences are small
    from paying for the full range once several prompts differ. Simulated (tests/test_paired_coverage.py,
    10,000 sets per setting): coverage >= 93.8% at n = 30-100 and >= 95% at n = 10-20, over true
    differences 0-0.7 and discordance 2-100%, for 0/1 and three kinds of graded scores; it leans
    conservative (97-100%) at n <= 20 when all differences are small. No difference, all-equal
    differences and n = 1 keep an open interval (n = 1: the whole range); ends are clipped to the
    possible differences.
    """
    estimate, low, high, _, _ = _paired(a, b, confidence, bounds)
    if np.ndim(estimate) == 0:
        return float(estimate), float(low), float(high)
    return estimate, low, high


PSEUDO_COUNT = 1.0  # the full-range pseudo-count in M^2 (1: what the simulation was run with)


def _paired(a, b, confidence: float, bounds: tuple[float, float]):
    from scipy.stats import t as student

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim not in (1, 2) or x.shape[-1] < 1:
        raise ValueError(f"paired_difference needs a and b of the same shape (prompts) or (sets, prompts), "
                         f"got {x.shape} and {y.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"Invalid confidence={confidence!r}: must be in (0, 1)")
    lo, hi = map(float, bounds)
    if not hi > lo:
        raise ValueError(f"Invalid bounds={bounds!r}: need low < high")
    for name, values in (("a", x), ("b", y)):
        bad = values[~((values >= lo) & (values <= hi))]
        if bad.size:
            raise ValueError(f"paired_difference: {name} holds {bad.flat[0]!r}, outside bounds=({lo}, {hi}); "
                             f"pass the score's range as bounds")
    span = hi - lo
    d = (x - y) / span  # in [-1, 1]
    n = d.shape[-1]
    square = (d * d).sum(axis=-1)
    m2 = (square + PSEUDO_COUNT) / ((d != 0).sum(axis=-1) + PSEUDO_COUNT)
    total = n + 2
    center = d.sum(axis=-1) / total
    variance = (square + 2 * m2) / total - center ** 2  # > 0: the pseudo-pairs alone give 2 M^2 / N
    se = np.sqrt(variance / (total - 1))
    df = max(n - 1, 1)
    q = float(student.ppf((1 + confidence) / 2, df))
    low, high = np.maximum(center - q * se, -1.0), np.minimum(center + q * se, 1.0)
    p = 2 * student.sf(np.abs(center) / se, df)
    return d.mean(axis=-1) * span, low * span, high * span, p, n


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order: family-wise error control for any
    dependence between the comparisons (a method against two references, lengths and their pool)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


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
