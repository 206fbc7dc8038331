"""Old import path of `evals.benchmarks.registry`, kept for plug-in files written against it."""
from evals.benchmarks.registry import BENCHMARKS, get_benchmark, register_benchmark

__all__ = ["BENCHMARKS", "get_benchmark", "register_benchmark"]
