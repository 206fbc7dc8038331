"""`benchmark=lm_eval`: lm-evaluation-harness tasks, run by lm-eval itself on the runner's model.

Importing the package registers the `lm_eval` benchmark.
"""
from evals.benchmarks.lm_eval_tasks.benchmark import LmEvalTasks

__all__ = ["LmEvalTasks"]
