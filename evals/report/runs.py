"""Finished runs as the tables read them: every results/<model>/<method>/<benchmark>/<run_id>/
with a metrics.json (evals.files.layout), its config and its records, read only; a torn or
invalid run is skipped with one warning line.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evals.files.layout import CONFIG, METRICS, MOVED_ASIDE, NOT_RUNS, RECORDS, results_root


@dataclass
class Run:
    """One finished run as the tables see it."""

    path: Path
    model: str
    method: str
    benchmark: str  # the config choice (passkey, passkey_full, ...): one table each
    run_id: str
    config: dict
    metrics: dict
    records: list[dict] | None = field(default=None, repr=False)  # read and checked by find_runs

    @property
    def method_params(self) -> dict:
        return {k: v for k, v in self.config.get("method", {}).items() if k != "name"}

    @property
    def benchmark_params(self) -> dict:
        return self.config.get("benchmark", {})


class BadRun(ValueError):
    """A run folder whose files are torn, invalid or of the wrong shape: the tables skip it."""


def _json_object(path: Path, what: str) -> dict:
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise BadRun(f"{what} is missing") from None
    except (ValueError, OSError) as err:
        raise BadRun(f"{what} is not valid JSON (torn or edited: {type(err).__name__})") from None
    if not isinstance(value, dict):
        raise BadRun(f"{what} holds a {type(value).__name__}, not a JSON object")
    return value


def load_run(path: str | Path) -> Run:
    """The run in results/<model>/<method>/<benchmark>/<run_id>/ (metrics.json must exist);
    BadRun naming the file when a file is torn, invalid or of the wrong shape."""
    path = Path(path)
    config_path = path / CONFIG
    try:
        config = (yaml.safe_load(config_path.read_bytes().decode("utf-8")) if config_path.exists() else None) or {}
    except (yaml.YAMLError, ValueError, OSError) as err:
        raise BadRun(f"config.yaml is not valid YAML ({type(err).__name__})") from None
    if not isinstance(config, dict) or not all(isinstance(config.get(k, {}), dict) for k in ("model", "method",
                                                                                              "benchmark")):
        raise BadRun("config.yaml is not a run config (a mapping with model, method, benchmark)")
    metrics = _json_object(path / METRICS, METRICS)
    if not isinstance(metrics.get("tasks", {}), dict):
        raise BadRun(f"metrics.json: 'tasks' holds a {type(metrics['tasks']).__name__}, not a mapping")
    model, method, benchmark = path.parts[-4:-1]
    return Run(path, model, method, benchmark, path.name, config, metrics)


def read_records(run_dir: str | Path) -> list[dict]:
    """records.jsonl for the tables, read only: a torn last line is skipped (a run in progress),
    a sample id recorded twice counts once (the first); any other bad line is BadRun."""
    path = Path(run_dir) / RECORDS
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    records, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))
        except ValueError:
            if number == len(lines):
                continue
            raise BadRun(f"records.jsonl:{number} is not a JSON line") from None
        if not isinstance(record, dict) or "id" not in record or not isinstance(record.get("scores", {}), dict):
            raise BadRun(f"records.jsonl:{number} is not a record (a JSON object with an id and scores)")
        if record["id"] in seen:
            continue  # two writers: never counted twice
        seen.add(record["id"])
        records.append(record)
    return records


def warn_skipped(path: Path, reason: str) -> None:
    print(f"[lampe] warning: skipping {path}: {reason}", file=sys.stderr)


def find_runs(results_dir: str | Path, benchmark: str | None = None) -> list[Run]:
    """Every finished run (metrics.json present) under results_dir, in path order (never by file
    times, which a clone or a copy rewrites): tables order rows by the method registry themselves.
    A run whose files are torn, invalid or of the wrong shape is skipped, named in one warning line."""
    root = results_root(results_dir)
    found = []
    for metrics_path in root.glob(f"*/*/*/*/{METRICS}"):
        rel = metrics_path.parent.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or MOVED_ASIDE in rel[3] or rel[0] in NOT_RUNS:
            continue
        if benchmark is None or rel[2] == benchmark:
            found.append(rel)
    runs = []
    for rel in sorted(found):
        path = root.joinpath(*rel)
        try:
            run = load_run(path)
            run.records = read_records(path)
        except (BadRun, OSError) as err:
            warn_skipped(path, str(err))
            continue
        runs.append(run)
    return runs
