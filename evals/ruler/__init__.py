"""RULER (NVIDIA/RULER): 13 synthetic long-context tasks generated locally at any length.

Importing the package registers the `ruler` benchmark.
"""
from evals.ruler.benchmark import Ruler
from evals.ruler.constants import TASKS

__all__ = ["Ruler", "TASKS"]
