"""Experiment trackers the runner reports to: `none` (the default), or wandb when asked.

A logger sees a run's resolved config at start, then its metrics (flattened to `a/b/c` keys),
the per-task table and any images, and is closed at the end. The default is `none` because a
run promises no network: wandb, even offline, resolves its server's name and writes under the
home folder. Offline wandb runs land under <results_dir>/wandb; `wandb sync` uploads them later.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

LOGGERS: dict[str, type["Logger"]] = {}


def register_logger(cls):
    LOGGERS[cls.name] = cls
    return cls


def flatten(metrics: dict, prefix: str = "") -> dict[str, float]:
    """{'tasks': {'a': {'acc': 1}}} -> {'tasks/a/acc': 1}; non-numbers are dropped."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
    return flat


class Logger:
    name = "base"

    def __init__(self, **settings: Any):
        self.settings = settings

    def start(self, config: dict, run_name: str, results_root: Path) -> None:
        pass

    def log_metrics(self, metrics: dict) -> None:
        pass

    def log_table(self, name: str, frame) -> None:
        pass

    def log_image(self, name: str, path: Path) -> None:
        pass

    def finish(self) -> None:
        pass


@register_logger
class NoLogger(Logger):
    name = "none"


@register_logger
class WandbLogger(Logger):
    name = "wandb"

    def start(self, config: dict, run_name: str, results_root: Path) -> None:
        import wandb

        s = self.settings
        mode = os.environ.get("WANDB_MODE") or s.get("mode") or "offline"
        directory = Path(s.get("dir") or Path(results_root) / "wandb")
        directory.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            mode=mode, dir=str(directory), project=s.get("project") or "lampe", entity=s.get("entity"),
            group=s.get("group") or f"{config['model']['name']}/{config['benchmark']['name']}",
            tags=list(s.get("tags") or []), name=run_name, config=config, reinit="finish_previous",
            settings=wandb.Settings(silent=True),
        )

    def log_metrics(self, metrics: dict) -> None:
        flat = flatten(metrics)
        self.run.log(flat)
        for key, value in flat.items():
            self.run.summary[key] = value

    def log_table(self, name: str, frame) -> None:
        import wandb

        self.run.log({name: wandb.Table(dataframe=frame.reset_index())})

    def log_image(self, name: str, path: Path) -> None:
        import wandb

        self.run.log({name: wandb.Image(str(path))})

    def finish(self) -> None:
        self.run.finish()


def get_logger(config: dict | None) -> Logger:
    """`config` is the resolved `logger` group (`name` plus the tracker's settings)."""
    config = dict(config or {"name": "none"})
    name = config.pop("name", "none")
    if name not in LOGGERS:
        raise ValueError(f"Unknown logger '{name}'. Available: {', '.join(sorted(LOGGERS))}")
    return LOGGERS[name](**config)
