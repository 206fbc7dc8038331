"""Where runs live: results/<model>/<method>/<benchmark>/<run_id>/, found again by their config.

run_id is a short hash of what decides the numbers (model checkpoint and dtype, the method's
effective parameters, a preset as the values it stands for, the benchmark config), so the same
command finds its finished or interrupted run, and any change of a parameter starts a new one. Where the model runs (device,
device map, attention kernel) and how many samples are taken (`limit`) are not hashed: the same
run continues on another machine or with more samples.

A run directory holds config.yaml (resolved, written once), records.jsonl (one line per
sample, resumable), records.shard<k>.jsonl (while sharded), metrics.json and run.json (status
and timings), all written by evals.runner.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from evals.paths import resolve_path

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

    @property
    def method_params(self) -> dict:
        return {k: v for k, v in self.config.get("method", {}).items() if k != "name"}

    @property
    def benchmark_params(self) -> dict:
        return self.config.get("benchmark", {})


def load_run(path: str | Path) -> Run:
    """The run in results/<model>/<method>/<benchmark>/<run_id>/ (metrics.json must exist)."""
    path = Path(path)
    config_path = path / "config.yaml"
    config = (yaml.safe_load(config_path.read_text()) if config_path.exists() else None) or {}
    metrics = json.loads((path / "metrics.json").read_text())
    model, method, benchmark = path.parts[-4:-1]
    return Run(path, model, method, benchmark, path.name, config, metrics)


def find_runs(results_dir: str | Path, benchmark: str | None = None) -> list[Run]:
    """Every finished run (metrics.json present) under results_dir, in path order (never by file
    times, which a clone or a copy rewrites): tables order rows by the method registry themselves."""
    root = results_root(results_dir)
    found = []
    for metrics_path in root.glob("*/*/*/*/metrics.json"):
        rel = metrics_path.parent.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or MOVED_ASIDE in rel[3] or rel[0] in ("tables", "wandb"):
            continue
        if benchmark is None or rel[2] == benchmark:
            found.append(rel)
    return [load_run(root.joinpath(*rel)) for rel in sorted(found)]
