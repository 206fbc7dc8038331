"""`lampe-eval` / `python -m evals` / `make eval`: the Hydra front end of evals.run.runner.

Any Hydra override works: `lampe-eval model=llama2 method=lampe benchmark=ruler
method.local_window=1024`, `--multirun method=original,ntk,lampe`, `sweep=lampe_sigmoid`,
`--cfg job` (print the composed config), `--help`. The task function returns the sweep
objective, so Optuna can maximize it. Configs ship inside the package (evals/conf, linked as
conf/ at the repository root), so an installed wheel finds them from any folder.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from evals.files.paths import resolve_path
from evals.report.tables import sweep_table
from evals.run import runner
from evals.run.session import Session

RUNS_FILE = "lampe_runs.jsonl"  # in a multirun's sweep dir: the run dirs its jobs wrote


def _task(cfg: DictConfig, session: Session) -> float | None:
    try:
        run_dir, metrics = runner.run_with_dir(cfg, session=session)
    except runner.ConfigError as err:  # the user's typo: the message, not a traceback
        print(f"lampe-eval: error: {err}", file=sys.stderr)
        sys.exit(2)
    hydra_cfg = HydraConfig.get()
    value = None
    try:
        value = runner.objective(metrics, cfg.objective)
    except ValueError as err:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            print(f"[lampe] {err}", file=sys.stderr)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        with (Path(hydra_cfg.sweep.dir) / RUNS_FILE).open("a") as handle:
            handle.write(json.dumps({"run_dir": str(run_dir), "overrides": list(hydra_cfg.overrides.task),
                                     "objective": value}) + "\n")
    return value


class CheckResultsDir(Callback):
    """Before Hydra makes its log folder under results_dir: a results_dir that cannot be written
    is the user's error, named, not a traceback."""

    def _check(self, config: DictConfig) -> None:
        root = resolve_path(config.results_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            print(f"lampe-eval: error: results_dir={config.results_dir!r} cannot be written ({root}: "
                  f"{err.strerror or err}); choose a writable results_dir", file=sys.stderr)
            sys.exit(2)

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config)


class SweepSummary(Callback):
    """After a multirun: one table of every run it made (the `make eval` comparison)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        path = Path(config.hydra.sweep.dir) / RUNS_FILE
        if not path.exists():
            return
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        print(f"\n[lampe] {len(entries)} runs of this sweep (objective: {config.objective})\n")
        print(sweep_table([Path(e["run_dir"]) for e in entries]))
        print()


def main() -> None:
    """One Session for every run Hydra hands this process: a multirun over methods loads the model once."""
    session = Session()

    def lampe_eval(cfg: DictConfig) -> float | None:
        return _task(cfg, session)

    hydra.main(config_path="pkg://evals.conf", config_name="config", version_base="1.3")(lampe_eval)()


if __name__ == "__main__":
    main()
