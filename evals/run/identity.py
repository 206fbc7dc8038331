"""What identifies a run: a short hash of what decides its numbers (the model checkpoint and
dtype, the method's effective parameters, a preset as the values it stands for, the benchmark
config), so the same command finds its finished or interrupted run and any change of a parameter
starts a new one. Where the model runs (device, device map, attention kernel) and how many
samples are taken (`limit`) are not hashed: the same run continues on another machine or with
more samples.
"""
from __future__ import annotations

import hashlib
import json

from lampe import PRESETS

# Model keys that change where or how fast a model runs, not what it computes.
UNHASHED_MODEL_KEYS = ("name", "device", "device_map", "attn_implementation", "method_defaults")


def _lampe_values(method: dict) -> dict:
    """A LaMPE preset with the (a, b, c) it stands for: a preset redefined gets new run ids. (The
    name stays: it also selects the released short-context floor, which the core keeps private.)"""
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
