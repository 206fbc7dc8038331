"""LongBench and LongBench-E (THUDM/LongBench): 21 tasks from the released files.

Importing the package registers the `longbench` benchmark.
"""
from evals.benchmarks.longbench.benchmark import LongBench

__all__ = ["LongBench"]
