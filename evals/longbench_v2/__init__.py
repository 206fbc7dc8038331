"""Old path of `evals.benchmarks.longbench_v2`, kept so `python -m evals.longbench_v2.result` works."""
