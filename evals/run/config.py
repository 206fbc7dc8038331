"""Type and range checks of the runner's own options and of benchmark options, before any load.

Hydra passes `rerun=no` through as the string "no" and `threads=abc` as "abc"; left alone they
mean "rerun" and fail later as "invalid literal for int()". Every error here names the option,
the value and what is valid. Benchmark options are checked against the type of their default in
the chosen conf/benchmark/<key>.yaml (a number stays a number, a flag stays a flag), plus the
counts and lengths that only make sense when positive; each benchmark still checks its meaning.
"""
from __future__ import annotations

import re
from typing import Any

import yaml

from evals.files.paths import CONF_DIR

SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")
# Benchmark options that count something or give a length: a positive integer (or null).
POSITIVE = ("lengths", "num_samples", "samples_per_task", "instructions_per_doc", "max_new_tokens", "max_length",
            "max_windows", "max_tokens", "num_documents", "stride", "depth_intervals", "batch_size")
# Values valid beside the default's type: lm-eval's batch_size also takes "auto" / "auto:N".
ALSO_VALID = {"batch_size": lambda v: isinstance(v, str) and v.split(":")[0] == "auto"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def need_bool(option: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Invalid {option}={value!r}: expected a boolean (true or false)")
    return value


def need_int(option: str, value: Any, low: int | None = None, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if not _is_int(value) or (low is not None and value < low):
        what = "an integer" if low is None else f"an integer >= {low}"
        raise ValueError(f"Invalid {option}={value!r}: expected {what}{' or null' if allow_none else ''}")
    return value


def need_str(option: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Invalid {option}={value!r}: expected a non-empty string")
    return value


def check_runner_options(conf: dict) -> None:
    """The top-level options of conf/config.yaml and the model's flags."""
    for option in ("rerun", "wait", "progress", "force"):
        need_bool(option, conf.get(option, False))
    need_int("limit", conf.get("limit"), low=1, allow_none=True)
    need_int("threads", conf.get("threads"), low=1, allow_none=True)
    need_int("seed", conf.get("seed", 0))
    need_str("results_dir", conf.get("results_dir"))
    need_str("objective", conf.get("objective", "average"))
    imports = conf.get("imports") or []
    if not isinstance(imports, list) or not all(isinstance(m, str) and m for m in imports):
        raise ValueError(f"Invalid imports={imports!r}: expected a list of module names")
    shard = conf.get("shard") or {}
    if isinstance(shard, str) and shard == "auto":  # shard=auto: from the launcher's or Slurm's variables
        shard = {}
    if not isinstance(shard, dict):
        raise ValueError(f"Invalid shard={shard!r}: expected auto, or shard.index / shard.count / shard.merge_only")
    for key, low in (("index", 0), ("count", 1)):
        if shard.get(key) != "auto":
            need_int(f"shard.{key}", shard.get(key), low=low, allow_none=True)
    need_bool("shard.merge_only", shard.get("merge_only", False))
    model = conf.get("model") or {}
    for flag in ("trust_remote_code", "chat_template"):
        if flag in model:
            need_bool(f"model.{flag}", model[flag])


def check_path_name(option: str, value: Any) -> str:
    """A name that becomes a folder under results_dir: one plain path component."""
    if not isinstance(value, str) or not SAFE_NAME.match(value) or ".." in value:
        raise ValueError(f"Invalid {option}={value!r}: it names a folder under results_dir, so it must be one "
                         f"plain name (letters, digits, _ . + = -; no '/', no '..')")
    return value


def benchmark_defaults(key: str) -> dict:
    """The shipped conf/benchmark/<key>.yaml, or {} for a benchmark config from elsewhere."""
    path = CONF_DIR / "benchmark" / f"{key}.yaml"
    if not SAFE_NAME.match(key) or not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()) or {}


def _kind_error(option: str, value: Any, default: Any) -> str | None:
    """Why `value` cannot stand where `default` does (None: it can)."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "expected a boolean (true or false)"
    if _is_number(default):
        return None if _is_number(value) else "expected a number"
    if isinstance(default, list) and default and all(_is_number(d) for d in default):
        items = value if isinstance(value, list) else [value]
        bad = [v for v in items if not _is_number(v)]
        return f"expected a list of numbers ({bad[0]!r} is not one)" if bad else None
    return None


def check_benchmark_options(key: str, bench_cfg: dict) -> None:
    """Types against the shipped defaults, then counts and lengths that must be positive."""
    defaults = benchmark_defaults(key)
    bench_cfg = {k: v for k, v in bench_cfg.items() if not (k in ALSO_VALID and ALSO_VALID[k](v))}
    for name, value in bench_cfg.items():
        if value is None or name not in defaults or defaults[name] is None:
            continue
        why = _kind_error(name, value, defaults[name])
        if why:
            raise ValueError(f"Invalid benchmark.{name}={value!r}: {why}, like the default {defaults[name]!r}")
    for name in POSITIVE:
        value = bench_cfg.get(name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if name == "lengths" and not items:
            raise ValueError("Invalid benchmark.lengths=[]: give at least one length")
        bad = [v for v in items if not _is_number(v) or v < 1 or (isinstance(v, float) and not v.is_integer())]
        if bad:
            raise ValueError(f"Invalid benchmark.{name}={value!r}: {bad[0]!r} is not a positive integer")
