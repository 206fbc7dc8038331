"""RULER (NVIDIA/RULER): 13 synthetic long-context tasks generated locally at any length.

Importing the package registers the `ruler` benchmark.
"""
from evals.benchmarks.ruler.benchmark import Ruler
from evals.benchmarks.ruler.constants import TASKS

__all__ = ["Ruler", "TASKS"]
