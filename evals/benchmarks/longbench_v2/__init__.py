"""LongBench v2 (THUDM/LongBench, its v2 pred.py, prompts/ and result.py). Importing the package
registers the `longbench_v2` benchmark."""
from evals.benchmarks.longbench_v2.benchmark import LongBenchV2

__all__ = ["LongBenchV2"]
