"""InfiniteBench (OpenBMB/InfiniteBench): 12 long-context tasks, prompted, cut and scored as its
scripts do; passkey, number_string and kv_retrieval built here at any length.

Importing the package registers the `infinitebench` benchmark.
"""
from evals.benchmarks.infinitebench.benchmark import InfiniteBench
from evals.benchmarks.infinitebench.tasks import TASKS

__all__ = ["InfiniteBench", "TASKS"]
