"""Where runs live: results/<model>/<method>/<benchmark>/<run_id>/, found again by their config.

run_id is a short hash of what decides the numbers (model checkpoint and dtype, the method's
effective parameters, a preset as the values it stands for, the benchmark config), so the same
command finds its finished or interrupted run, and any change of a parameter starts a new one. Where the model runs (device,
device map, attention kernel) and how many samples are taken (`limit`) are not hashed: the same
run continues on another machine or with more samples.

A run directory holds config.yaml (resolved, written once), records.jsonl (one line per
sample, resumable), records.shard<k>.jsonl (while sharded), metrics.json and run.json (status
and timings), all written by evals.run.runner.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evals.files.paths import resolve_path

# Model keys that change where or how fast a model runs, not what it computes.
UNHASHED_MODEL_KEYS = ("name", "device", "device_map", "attn_implementation", "method_defaults")
MOVED_ASIDE = ".old-"  # <run_id>.old-<time>: a run replaced with rerun=true

def _lampe_values(method: dict) -> dict:
    """A LaMPE preset with the (a, b, c) it stands for: a preset redefined gets new run ids. (The
    name stays: it also selects the released short-context floor, which the core keeps private.)"""
    from lampe import PRESETS

    name = method.get("preset")
    if name not in PRESETS:
        return method
    return {**method, **dict(zip(("a", "b", "c"), PRESETS[name]))}


# method name -> its parameters as the values it applies, where a name stands for values (a preset)
EFFECTIVE_VALUES = {"lampe": _lampe_values}


def effective_method(method: dict) -> dict:
    """The method's parameters as the values it applies, so that a preset redefined after some runs
    used it gives new runs a new id instead of finding the old runs."""
    resolve = EFFECTIVE_VALUES.get(method.get("name"))
    return resolve(method) if resolve else method


def run_key(model: dict, method: dict, benchmark: dict) -> dict:
    """The part of a run's config that decides its numbers (the method's effective values)."""
    return {
        "model": {k: v for k, v in sorted(model.items()) if k not in UNHASHED_MODEL_KEYS},
        "method": dict(sorted(effective_method(method).items())),
        "benchmark": dict(sorted(benchmark.items())),
    }


def run_id(key: dict) -> str:
    """10 hex digits of the SHA-256 of the canonical JSON of `key`."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def results_root(results_dir: str | Path) -> Path:
    return resolve_path(results_dir)


def run_dir(results_dir: str | Path, model: str, method: str, benchmark: str, rid: str) -> Path:
    return results_root(results_dir) / model / method / benchmark / rid


def move_aside(path: Path) -> Path:
    """Rename a run directory to <run_id>.old-<time>; tables skip it, nothing is deleted."""
    target = path.with_name(f"{path.name}{MOVED_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = target.with_name(f"{path.name}{MOVED_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    path.rename(target)
    return target


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
    config_path = path / "config.yaml"
    try:
        config = (yaml.safe_load(config_path.read_bytes().decode("utf-8")) if config_path.exists() else None) or {}
    except (yaml.YAMLError, ValueError, OSError) as err:
        raise BadRun(f"config.yaml is not valid YAML ({type(err).__name__})") from None
    if not isinstance(config, dict) or not all(isinstance(config.get(k, {}), dict) for k in ("model", "method",
                                                                                              "benchmark")):
        raise BadRun("config.yaml is not a run config (a mapping with model, method, benchmark)")
    metrics = _json_object(path / "metrics.json", "metrics.json")
    if not isinstance(metrics.get("tasks", {}), dict):
        raise BadRun(f"metrics.json: 'tasks' holds a {type(metrics['tasks']).__name__}, not a mapping")
    model, method, benchmark = path.parts[-4:-1]
    return Run(path, model, method, benchmark, path.name, config, metrics)


def read_records(run_dir: str | Path) -> list[dict]:
    """records.jsonl for the tables, read only: a torn last line is skipped (a run in progress),
    a sample id recorded twice counts once (the first); any other bad line is BadRun."""
    path = Path(run_dir) / "records.jsonl"
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
    for metrics_path in root.glob("*/*/*/*/metrics.json"):
        rel = metrics_path.parent.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or MOVED_ASIDE in rel[3] or rel[0] in ("tables", "wandb"):
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
