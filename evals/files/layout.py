"""Where runs live: results/<model>/<method>/<benchmark>/<run_id>/, and the files of one.

A run directory holds config.yaml (resolved, written once), records.jsonl (one line per sample,
resumable), records.shard<k>.jsonl (while sharded), metrics.json and run.json (status and
timings): the runner (evals.run) writes them, the tables (evals.report) read them. A run moved
aside by `rerun=true` keeps its files under <run_id>.old-<time>.
"""
from __future__ import annotations

import time
from pathlib import Path

from evals.files.paths import resolve_path

MOVED_ASIDE = ".old-"  # <run_id>.old-<time>: a run replaced with rerun=true
CONFIG, METRICS, STATUS, RECORDS = "config.yaml", "metrics.json", "run.json", "records.jsonl"
# folders of results_dir that hold no runs (`make table`'s, wandb's), and the study's: no model takes their names
NOT_RUNS = ("tables", "wandb")
RESERVED = (*NOT_RUNS, "study")


def results_root(results_dir: str | Path) -> Path:
    """results_dir as an absolute path (relative: from the current folder)."""
    return resolve_path(results_dir)


def run_dir(root: Path, model: str, method: str, benchmark: str, rid: str) -> Path:
    return root / model / method / benchmark / rid


def records_file(path: Path, shard: tuple[int, int] = (0, 1)) -> Path:
    """The run's records.jsonl, or shard k's records.shard<k>.jsonl while a run is sharded."""
    index, count = shard
    return path / (RECORDS if count == 1 else f"records.shard{index}.jsonl")


def move_aside(path: Path) -> Path:
    """Rename a run directory to <run_id>.old-<time>; tables skip it, nothing is deleted."""
    target = path.with_name(f"{path.name}{MOVED_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = target.with_name(f"{path.name}{MOVED_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    path.rename(target)
    return target
