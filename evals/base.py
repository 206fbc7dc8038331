"""Old import path of `evals.benchmarks.base`, kept for plug-in files written against it."""
from evals.benchmarks.base import Benchmark, Sample

__all__ = ["Benchmark", "Sample"]
