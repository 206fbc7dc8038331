"""name -> Benchmark class. Adding a benchmark is one module plus one conf/benchmark/*.yaml."""
from __future__ import annotations

import importlib

from evals.benchmarks.base import Benchmark

BENCHMARKS: dict[str, type[Benchmark]] = {}
# Modules that register benchmarks; imported lazily so a broken optional one names itself.
BENCHMARK_MODULES = ("passkey", "needle", "perplexity", "ruler", "longbench", "leval", "infinitebench",
                     "longbench_v2", "babilong", "lm_eval_tasks")  # under evals.benchmarks


def register_benchmark(cls: type[Benchmark]) -> type[Benchmark]:
    if cls.name in BENCHMARKS:
        raise ValueError(f"Benchmark '{cls.name}' is registered twice")
    BENCHMARKS[cls.name] = cls
    return cls


def _load_all() -> None:
    for module in BENCHMARK_MODULES:
        try:
            importlib.import_module(f"evals.benchmarks.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"evals.benchmarks.{module}":
                raise


def get_benchmark(name: str) -> type[Benchmark]:
    _load_all()
    if name not in BENCHMARKS:
        raise ValueError(f"Unknown benchmark '{name}'. Available: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[name]
