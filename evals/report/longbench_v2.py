"""`python -m evals.longbench_v2.result RUN_DIR [RUN_DIR ...]`: result.py's table for finished runs.

Each run directory's records.jsonl becomes one row named model/method/run id, tab-separated as
result.py writes result.txt (Overall, Easy, Hard, Short, Medium, Long; one decimal). A run made
with `compensated: true` (its config.yaml) counts a reply without an answer 0.25, as result.py's
flag does.
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from evals.benchmarks.longbench_v2.benchmark import result_items
from evals.benchmarks.longbench_v2.scoring import result_table
from evals.report.runs import read_records


def run_table(run_dirs: list[Path]) -> str:
    rows, compensated = {}, set()
    for run_dir in run_dirs:
        records = read_records(run_dir)
        if not records:
            raise FileNotFoundError(f"{run_dir}: no records.jsonl with records")
        config = run_dir / "config.yaml"
        benchmark = (yaml.safe_load(config.read_text()) or {}).get("benchmark", {}) if config.is_file() else {}
        compensated.add(bool(benchmark.get("compensated")))
        path = run_dir.resolve()  # results/<model>/<method>/<benchmark>/<run id>
        rows["/".join(path.parts[-4:-2] + (path.name,))] = result_items(records)
    if len(compensated) > 1:
        raise ValueError("these runs mix compensated and plain scoring: give one kind at a time")
    return result_table(rows, compensated=compensated.pop())


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.splitlines()[0])
        return 2
    print(run_table([Path(a) for a in argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
