"""Old path of `evals.run.lm_eval_model`: importing it registers `--model lampe` with lm-eval
(entry points installed before the move name `evals.lm_eval_model:LampeLM`)."""
from evals.run.lm_eval_model import LampeLM

__all__ = ["LampeLM"]
