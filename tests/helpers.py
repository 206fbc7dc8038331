"""Plain helpers of the runner tests: the config folder, composing a config, reading records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from evals.run import runner

REPO = Path(__file__).resolve().parent.parent
CONF = str(REPO / "conf")
SMOL = yaml.safe_load((REPO / "conf/model/smollm2.yaml").read_text())


def make_cfg(fake_conf, tmp_path, *overrides):
    """The real conf/ composed with the `fake_conf` search path (benchmark=fake), results in tmp_path."""
    with initialize_config_dir(CONF, version_base="1.3"):
        return compose("config", overrides=[
            f"hydra.searchpath=[file://{fake_conf}]", "benchmark=fake", "logger=none", "progress=false",
            f"results_dir={tmp_path / 'results'}", *overrides,
        ])


def read_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cfg_for(tmp_path, *overrides):
    """The real conf/ with the original model, no logger, results in tmp_path."""
    with initialize_config_dir(CONF, version_base="1.3"):
        return compose("config", overrides=["logger=none", "progress=false", "method=original",
                                            f"results_dir={tmp_path / 'results'}", *overrides])


def refused(tmp_path, loads, overrides, message):
    """The run is refused with `message`, before the model loads and without a run folder."""
    with pytest.raises(runner.ConfigError, match=message):
        runner.run(cfg_for(tmp_path, *overrides))
    assert loads == [] and not (tmp_path / "results").exists()
