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

Held-out tuning: the sweep's records must be of the dev split (`--split dev`, the default; make the
sweep with benchmark.split=dev, as conf/sweep/ does); records of the test split, or from before
splits existed, are refused unless `--allow-test`. Every fit writes its provenance (`--preset NAME`:
evals/conf/presets/NAME.yaml, where the runner reads it; else `--provenance PATH`, else
sigmoid_fit.provenance.yaml next to the results): the values, the runs (paths, run ids, U), the
samples with their content keys (pass keys, ...), the split, the commit and the date. `--seen DIR`
adds the samples of other runs that chose this preset (a confirmation run), so that no test run
scores them with it either (evals/held_out.py).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.report.runs import find_runs  # noqa: E402
from evals.run.held_out import provenance_path, record_content_keys  # noqa: E402
from evals.run.provenance import code_provenance  # noqa: E402
from evals.run.records import RecordFile  # noqa: E402


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


def record_split(record: dict, run) -> str:
    """dev / test as the record (or its run's benchmark config) says; 'unknown' before splits existed."""
    return record.get("split") or (run.benchmark_params or {}).get("split") or "unknown"


def sweep_runs(results_dir: str | Path, model: str, benchmark: str, split: str = "dev",
               allow_test: bool = False) -> list[tuple]:
    """(run, records) of the finished lampe runs with a fixed mapping_length: a sweep. Records of
    another split than `split` (test, or unknown) are an error unless `allow_test`."""
    found = []
    for run in find_runs(results_dir, benchmark):
        if run.model != model or run.method != "lampe" or run.method_params.get("mapping_length") is None:
            continue
        records = RecordFile(run.path / "records.jsonl").records
        other = [r for r in records if record_split(r, run) != split]
        if other and not allow_test:
            kind = record_split(other[0], run)
            raise ValueError(
                f"{run.path}: {len(other)} record(s) of the {kind} split (e.g. '{other[0]['id']}'), not {split}: a "
                f"preset tuned on them would have seen test prompts. Sweep with benchmark.split={split} (conf/sweep/ "
                f"does), or pass --allow-test to fit on them anyway (the provenance then lists them, and test runs "
                f"refuse them)")
        found.append((run, records))
    return found


def sweep_scores(results_dir: str | Path, model: str, benchmark: str, score: str | None = None,
                 split: str = "dev", allow_test: bool = False, runs: list | None = None) -> dict[int, dict[int, float]]:
    """length -> {fixed mapping length: score} from the finished lampe runs of a sweep.

    A perplexity sweep (records with nll sums and token counts) scores -log perplexity over all
    its tokens at that length (token-weighted, so higher is better throughout); any other
    benchmark the mean of each record's first score, or of `score` (a score or a meta value such
    as passkey's answer_logprob: graded where accuracy is all 0 or all 1).
    """
    sums: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for run, records in runs if runs is not None else sweep_runs(results_dir, model, benchmark, split, allow_test):
        u = run.method_params["mapping_length"]
        for record in records:
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


def best_from_results(results_dir: str | Path, model: str, benchmark: str, score: str | None = None,
                      split: str = "dev", allow_test: bool = False, runs: list | None = None) -> dict[int, int]:
    """length -> best fixed mapping length among the finished lampe runs with mapping_length set."""
    scores = sweep_scores(results_dir, model, benchmark, score, split, allow_test, runs)
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


def _relative(path: Path) -> str:
    repo = Path(__file__).resolve().parent.parent
    path = Path(path).resolve()
    return str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)


def _run_code(run) -> str | None:
    status = run.path / "run.json"
    code = (json.loads(status.read_text()).get("code") or {}) if status.is_file() else {}
    return code.get("commit")


def seen_samples(runs: list[tuple], role: str) -> list[dict]:
    """One entry per (benchmark, sample id) of the runs: its content keys and the runs that scored it."""
    entries: dict[tuple[str, str], dict] = {}
    for run, records in runs:
        name = (run.benchmark_params or {}).get("name") or run.benchmark
        for record in records:
            entry = entries.setdefault((name, record["id"]), {
                "id": record["id"], "benchmark": name, "keys": record_content_keys(record),
                "split": record_split(record, run), "role": role, "run": _relative(run.path), "runs": 0})
            entry["runs"] += 1
    return list(entries.values())


def all_runs(results_dir: str | Path) -> list[tuple]:
    """(run, records) of every finished run under a folder (--seen)."""
    return [(run, RecordFile(run.path / "records.jsonl").records) for run in find_runs(results_dir)]


def provenance(args, runs: list[tuple], values: tuple[float, float, float], best: dict[int, int]) -> dict:
    """What a fitted preset was fitted on, for evals/conf/presets/<preset>.yaml."""
    seen = [(directory, all_runs(directory)) for directory in args.seen or []]
    splits = sorted({record_split(r, run) for run, records in runs for r in records}) or ["unknown"]
    return {
        "preset": args.preset,
        "values": dict(zip(("a", "b", "c"), values)),
        "fitted_on": {
            "split": splits[0] if len(splits) == 1 else splits, "model": args.model, "benchmark": args.benchmark,
            "score": args.score, "c_max": args.c_max, "results": _relative(Path(args.results)) if args.results else None,
            "table": _relative(Path(args.table)) if args.table else None,
            "best_mapping_length": {int(k): int(v) for k, v in best.items()},
            "runs": [{"path": _relative(run.path), "run_id": run.run_id,
                      "mapping_length": run.method_params.get("mapping_length"), "code": _run_code(run)}
                     for run, _ in runs],
        },
        "selected_with": [{"path": _relative(Path(d)), "runs": [_relative(run.path) for run, _ in found]}
                          for d, found in seen],
        "samples": seen_samples(runs, "fit") + [e for _, found in seen for e in seen_samples(found, "selection")],
        "commit": code_provenance().get("commit"),
        "date": time.strftime("%Y-%m-%d"),
        "command": "python scripts/fit_sigmoid.py " + " ".join(args.argv),
        "note": args.note,
    }


def write_provenance(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    head = (f"# Provenance of LaMPE's preset '{data['preset']}': what scripts/fit_sigmoid.py fitted it on. A run\n"
            f"# that scores with the preset refuses these samples on the test split (evals/held_out.py).\n")
    path.write_text(head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))
    return path


def provenance_target(args) -> Path:
    if args.provenance:
        return Path(args.provenance)
    if args.preset:
        return provenance_path(args.preset)
    return Path(args.results or Path(args.table).parent) / "sigmoid_fit.provenance.yaml"


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
    parser.add_argument("--split", default="dev", choices=("dev", "test"),
                        help="the split the sweep's records must be of (default dev: held-out tuning)")
    parser.add_argument("--allow-test", action="store_true",
                        help="fit on records of another split (test, or from before splits) anyway")
    parser.add_argument("--preset", help="the preset's name: its provenance goes to evals/conf/presets/NAME.yaml")
    parser.add_argument("--provenance", help="write the provenance here instead")
    parser.add_argument("--seen", action="append", help="results folder of other runs whose scores chose this "
                        "preset (their samples are recorded as seen too); repeatable")
    parser.add_argument("--note", help="a sentence kept in the provenance")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if bool(args.table) == bool(args.results):
        parser.error("give either a CSV table or --results")
    runs: list[tuple] = []
    if args.table:
        lengths, best = read_table(args.table)
    else:
        runs = sweep_runs(args.results, args.model, args.benchmark, args.split, args.allow_test)
        table = best_from_results(args.results, args.model, args.benchmark, args.score, runs=runs)
        lengths, best = list(table), list(table.values())
    print("best mapping length per length: " + ", ".join(f"{n}: {u}" for n, u in zip(lengths, best)))
    if args.out:
        Path(args.out).write_text("length,best_mapping_length\n" + "".join(f"{n},{u}\n" for n, u in zip(lengths, best)))
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
    found = provenance(args, runs, (a, b, c), dict(zip(lengths, best)))
    written = write_provenance(provenance_target(args), found)
    print(f"provenance: {written} ({len(found['samples'])} samples, split {found['fitted_on']['split']})")
    result = {"a": a, "b": b, "c": c, "rms": rms, "halves": {name: list(h) for name, h in halves},
              "provenance": str(written)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"fit_sigmoid: {err}")
