"""Refit LaMPE's mapping-length sigmoid U(L) = floor(c / (1 + exp(-(a L + b)))) to sweep results.

The paper finds, per input length L, the mapping length U that scores best, then fits (a, b, c)
to those points. Input is either a CSV with columns `length,best_mapping_length`, or a results
folder holding a mapping-length sweep (`make sweep`), from which the best U per length is taken
(ties: the median of the tied values). The fit is least squares on the continuous sigmoid, started
from a logit-linear regression; it prints the parameters, a preset line and the residuals.

    python scripts/fit_sigmoid.py table.csv
    python scripts/fit_sigmoid.py --results results --model smollm2 --benchmark passkey --out best.csv
    python scripts/fit_sigmoid.py --results results/study/sigmoid_sweep --benchmark perplexity --plot fit.png
    python scripts/fit_sigmoid.py --results results/study/sigmoid_passkey --score answer_logprob

A perplexity sweep is scored by its token-weighted log-likelihood per length (lowest perplexity
wins); `--plot` draws the points and the curve, and with six or more lengths the fit is repeated
on each half of the lengths to show how stable it is.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def sigmoid(lengths, a: float, b: float, c: float):
    return c / (1.0 + np.exp(-(a * np.asarray(lengths, dtype=float) + b)))


def mapping_lengths(lengths, a: float, b: float, c: float) -> np.ndarray:
    """The integer mapping lengths the method uses (lampe.mapping_length, vectorized)."""
    return np.floor(sigmoid(lengths, a, b, c)).astype(int)


def fit_sigmoid(lengths, best, c_max: float | None = None) -> tuple[float, float, float]:
    """Least-squares (a, b, c) of U = c / (1 + exp(-(a L + b))) through the points (L, U).

    Lengths are scaled to [0, 1] internally (a is ~1e-4 per token; unscaled, the problem is
    badly conditioned). Needs at least 3 distinct lengths.
    """
    from scipy.optimize import least_squares

    x = np.asarray(lengths, dtype=float)
    y = np.asarray(best, dtype=float)
    if x.shape != y.shape or len(np.unique(x)) < 3:
        raise ValueError(f"need the best mapping length at >= 3 distinct lengths, got {len(np.unique(x))}")
    if (y <= 0).any():
        raise ValueError("mapping lengths must be positive")
    scale = x.max()
    xs = x / scale
    # start: c a bit above the largest U, then logit(U / c) is linear in L
    c0 = y.max() * 1.05 + 1.0
    slope, intercept = np.polyfit(xs, np.log(y / (c0 - y)), 1)

    def residual(p):
        a, b, c = p
        return c / (1.0 + np.exp(-(a * xs + b))) - y

    upper = [np.inf, np.inf, c_max if c_max else np.inf]
    fit = least_squares(residual, x0=[slope, intercept, c0], bounds=([-np.inf, -np.inf, 1e-9], upper),
                        x_scale="jac", max_nfev=20000)
    a, b, c = fit.x
    return float(a / scale), float(b), float(c)


def read_table(path: str | Path) -> tuple[list[int], list[int]]:
    """CSV `length,best_mapping_length` (header required; extra columns ignored)."""
    import pandas as pd

    frame = pd.read_csv(path)
    missing = [c for c in ("length", "best_mapping_length") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
    return frame["length"].astype(int).tolist(), frame["best_mapping_length"].astype(int).tolist()


def record_length(record: dict) -> int:
    """The input length a record was built for: its meta `length`, else its prompt tokens."""
    meta = record.get("meta") or {}
    for key in ("length", "context_length", "max_length"):
        if isinstance(meta.get(key), (int, float)):
            return int(meta[key])
    return int(record["prompt_tokens"])


def sweep_scores(results_dir: str | Path, model: str, benchmark: str,
                 score: str | None = None) -> dict[int, dict[int, float]]:
    """length -> {fixed mapping length: score} from the finished lampe runs of a sweep.

    A perplexity sweep (records with nll sums and token counts) scores -log perplexity over all
    its tokens at that length (token-weighted, so higher is better throughout); any other
    benchmark the mean of each record's first score, or of `score` (a score or a meta value such
    as passkey's answer_logprob: graded where accuracy is all 0 or all 1).
    """
    from evals.records import RecordFile
    from evals.results import find_runs

    sums: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for run in find_runs(results_dir, benchmark):
        u = run.method_params.get("mapping_length")
        if run.model != model or run.method != "lampe" or u is None:
            continue
        for record in RecordFile(run.path / "records.jsonl").records:
            meta = record.get("meta") or {}
            cell = sums[record_length(record)][int(u)]
            if score is not None:
                value = meta.get(score, (record.get("scores") or {}).get(score))
                if value is None:
                    raise ValueError(f"{run.path}: record {record['id']} has no score or meta value '{score}'")
                cell[0] += float(value)
                cell[1] += 1
            elif "nll_sum" in meta and "num_tokens" in meta:
                cell[0] -= float(meta["nll_sum"])
                cell[1] += float(meta["num_tokens"])
            else:
                cell[0] += float(next(iter(record["scores"].values())))
                cell[1] += 1
    if not sums:
        raise ValueError(f"no finished lampe runs with a fixed mapping_length for model '{model}' and "
                         f"benchmark '{benchmark}' under {results_dir} (run `make sweep` first)")
    return {n: {u: total / count for u, (total, count) in by_u.items() if count} for n, by_u in sorted(sums.items())}


def best_from_scores(scores: dict[int, dict[int, float]]) -> dict[int, int]:
    """length -> the best-scoring mapping length (ties: the lower median of the tied values)."""
    best = {}
    for length, by_u in sorted(scores.items()):
        top = max(by_u.values())
        tied = sorted(u for u, m in by_u.items() if m == top)
        best[length] = tied[(len(tied) - 1) // 2]
    return best


def best_from_results(results_dir: str | Path, model: str, benchmark: str, score: str | None = None) -> dict[int, int]:
    """length -> best fixed mapping length among the finished lampe runs with mapping_length set."""
    scores = sweep_scores(results_dir, model, benchmark, score)
    for length, by_u in scores.items():
        print(f"{length}: " + ", ".join(f"U={u}: {m:.4g}" for u, m in sorted(by_u.items())))
    return best_from_scores(scores)


def plot_fit(lengths, best, params, path: str | Path, title: str, half_params=()) -> Path:
    """The best U per length (points) and the fitted sigmoid (line; half-data refits dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = np.linspace(min(lengths) * 0.8, max(lengths) * 1.25, 200)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(lengths, best, "o", color="black", label="best U (sweep)")
    ax.plot(xs, sigmoid(xs, *params), label="fit: all lengths")
    for name, half in half_params:
        ax.plot(xs, sigmoid(xs, *half), linestyle="--", linewidth=1, label=f"refit: {name}")
    ax.set_xlabel("Input length L (tokens)")
    ax.set_ylabel("Mapping length U")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def half_refits(lengths, best, c_max=None) -> list[tuple[str, tuple[float, float, float]]]:
    """Stability: refit on every other length (two halves) where each half has >= 3 lengths."""
    halves = [("even-indexed lengths", slice(0, None, 2)), ("odd-indexed lengths", slice(1, None, 2))]
    found = []
    for name, part in halves:
        xs, ys = list(lengths)[part], list(best)[part]
        if len(set(xs)) >= 3:
            try:
                found.append((name, fit_sigmoid(xs, ys, c_max)))
            except ValueError:
                pass
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", nargs="?", help="CSV with columns length,best_mapping_length")
    parser.add_argument("--results", help="results folder with a mapping-length sweep instead of a CSV")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--benchmark", default="passkey", help="benchmark folder name under results/<model>/lampe/")
    parser.add_argument("--score", help="score or record meta value to maximize (e.g. answer_logprob); "
                        "default: perplexity's log-likelihood, else each record's first score")
    parser.add_argument("--out", help="write the length,best_mapping_length table here (CSV)")
    parser.add_argument("--c-max", type=float, help="upper bound on c (e.g. the pretraining length)")
    parser.add_argument("--plot", help="write the points and the fitted curve (and half-data refits) here (PNG)")
    args = parser.parse_args(argv)
    if bool(args.table) == bool(args.results):
        parser.error("give either a CSV table or --results")
    if args.table:
        lengths, best = read_table(args.table)
    else:
        table = best_from_results(args.results, args.model, args.benchmark, args.score)
        lengths, best = list(table), list(table.values())
    print("best mapping length per length: " + ", ".join(f"{l}: {u}" for l, u in zip(lengths, best)))
    if args.out:
        Path(args.out).write_text("length,best_mapping_length\n" + "".join(f"{l},{u}\n" for l, u in zip(lengths, best)))
    a, b, c = fit_sigmoid(lengths, best, args.c_max)
    predicted = mapping_lengths(lengths, a, b, c)
    print("length  best_U  fitted_U")
    for length, u, p in zip(lengths, best, predicted):
        print(f"{length:6d}  {u:6d}  {p:8d}")
    rms = math.sqrt(float(np.mean((predicted - np.asarray(best)) ** 2)))
    print(f"\na = {a!r}\nb = {b!r}\nc = {c!r}\nRMS error (mapping length): {rms:.1f}")
    print(f"preset line for lampe/methods/lampe.py PRESETS: ({a!r}, {b!r}, {c!r})")
    print(f"or on the command line: method.a={a!r} method.b={b!r} method.c={c!r}")
    halves = half_refits(lengths, best, args.c_max)
    for name, (ha, hb, hc) in halves:
        fitted = mapping_lengths(lengths, ha, hb, hc)
        print(f"refit on {name}: a={ha!r} b={hb!r} c={hc!r}; U at the sweep lengths: {fitted.tolist()}")
    if args.plot:
        scored_by = f"{args.benchmark} {args.score}" if args.score else args.benchmark
        title = f"{args.model}: LaMPE mapping length (best U by {scored_by})"
        print(f"plot: {plot_fit(lengths, best, (a, b, c), args.plot, title, halves)}")
    result = {"a": a, "b": b, "c": c, "rms": rms, "halves": {name: list(h) for name, h in halves}}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"fit_sigmoid: {err}")
