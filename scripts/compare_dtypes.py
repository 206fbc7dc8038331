"""Do two dtypes give the same scores? The same runs in two results trees, paired by sample id.

    python scripts/compare_dtypes.py results/study/dtype_check/float32 results/study/dtype_check/bfloat16

For every (model, method, benchmark) run found in both trees: the samples both scored, how many
gave the same prediction, the paired difference of the main score with its 95% interval
(`evals.intervals.paired_difference`; perplexity: the ratio of the second tree's per-document
perplexity to the first's), and the speed of each (prompt tokens per second of evaluation, from
run.json). Prints a Markdown table; `--out FILE` also writes it.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.report.intervals import paired_difference  # noqa: E402
from evals.report.runs import find_runs  # noqa: E402


def _runs(tree: str) -> dict[tuple[str, str, str], object]:
    return {(r.model, r.method, r.benchmark): r for r in find_runs(tree)}


def _speed(run) -> float | None:
    try:
        info = json.loads((Path(run.path) / "run.json").read_text())
    except (OSError, ValueError):
        return None
    return info.get("prompt_tokens_per_s")


def _main_metric(record: dict) -> str:
    scores = record.get("scores") or {}
    return "perplexity" if "perplexity" in scores else next(iter(scores))


def compare(first: str, second: str) -> str:
    a_runs, b_runs = _runs(first), _runs(second)
    rows = ["| model | method | benchmark | n | same prediction | metric | first | second | difference [95%] | "
            "tokens/s first | tokens/s second | speed-up |", "|" + "---|" * 12]
    for key in sorted(set(a_runs) & set(b_runs)):
        a, b = a_runs[key], b_runs[key]
        by_id = {r["id"]: r for r in b.records}
        pairs = [(r, by_id[r["id"]]) for r in a.records if r["id"] in by_id]
        if not pairs:
            continue
        metric = _main_metric(pairs[0][0])
        same = sum(x.get("prediction") == y.get("prediction") for x, y in pairs)
        xs = [float(x["scores"][metric]) for x, _ in pairs]
        ys = [float(y["scores"][metric]) for _, y in pairs]
        if metric == "perplexity":  # per document: log ratio, a t interval over documents
            logs = [math.log(y / x) for x, y in zip(xs, ys)]
            mean = statistics.fmean(logs)
            half = 1.96 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
            first_v, second_v = statistics.fmean(xs), statistics.fmean(ys)
            diff = f"x{math.exp(mean):.4f} [{math.exp(mean - half):.4f}, {math.exp(mean + half):.4f}]"
            same_text = "-"
        else:
            estimate, low, high = paired_difference(ys, xs)
            first_v, second_v = 100 * statistics.fmean(xs), 100 * statistics.fmean(ys)
            diff = f"{100 * estimate:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"
            same_text = f"{same}/{len(pairs)}"
        sa, sb = _speed(a), _speed(b)
        speed = f"x{sb / sa:.2f}" if sa and sb else "-"
        rows.append(f"| {key[0]} | {key[1]} | {key[2]} | {len(pairs)} | {same_text} | {metric} | {first_v:.2f} | "
                    f"{second_v:.2f} | {diff} | {sa or '-'} | {sb or '-'} | {speed} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    table = compare(args.first, args.second)
    print(table)
    if args.out:
        Path(args.out).write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
