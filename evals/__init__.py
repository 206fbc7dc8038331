"""lampe's harness, in the order a run goes through it:

    conf/ (config) -> run/plan.py (the plan) -> benchmarks/ (samples) -> lampe.apply_method (method)
    -> run/runner.py, run/loop.py (model, records) -> report/ (tables, intervals, figures)

`files/` is the floor all three rooms stand on. The modules at this level are the doors
(`python -m evals`) and the old import paths, kept as thin re-exports (docs/runner.md#layout).
"""
from __future__ import annotations

import os

from omegaconf import OmegaConf

# ${lampe_pid:} ends Hydra's log folders (conf/config.yaml): two multiruns started in the same
# second would otherwise share one sweep folder and its summary. Registered with the package, so
# every way of composing the config (CLI, compose API, the study) knows it; cached like ${now:},
# so Slurm jobs get the launching process's value.
if not OmegaConf.has_resolver("lampe_pid"):
    OmegaConf.register_new_resolver("lampe_pid", lambda: os.getpid(), use_cache=True)
