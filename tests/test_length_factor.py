"""`method.factor=auto`: the frequency methods' factor follows each sample's length (L / P)."""
from __future__ import annotations

import pytest
import yaml

from evals import length_factor, runner
from evals.length_factor import factor_for
from tests.test_runner import fake_conf, loads, make_cfg  # noqa: F401  (fixtures)


def test_factor_is_length_over_training_window_never_below_one():
    assert factor_for(4096, 8192) == 1.0
    assert factor_for(16384, 8192) == 2.0
    assert factor_for(12288, 8192) == 1.5
    assert factor_for(10000, 8192) == 1.221  # 1.2207..., rounded up to 1/1000


def test_auto_reapplies_the_method_per_sample_length(fake_conf, tmp_path, loads, monkeypatch):  # noqa: F811
    applied = []
    real = length_factor.apply_method

    def spy(model, name, **params):
        applied.append((name, params["factor"]))
        return real(model, name, **params)

    monkeypatch.setattr(length_factor, "apply_method", spy)
    # fake samples have meta.length 1000, 2000, 3000, 1000, ...; a 1000-token window gives factors 1, 2, 3
    cfg = make_cfg(fake_conf, tmp_path, "method=yarn", "method.factor=auto", "model.pretraining_length=1000")
    run_dir, metrics = runner.run_with_dir(cfg)
    assert applied == [("yarn", 1.0), ("yarn", 2.0), ("yarn", 3.0)] * 2
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert stored["method"]["factor"] == "auto" and metrics["num_samples"] == 6
    fixed = runner.prepare(make_cfg(fake_conf, tmp_path, "method=yarn", "method.factor=2",
                                    "model.pretraining_length=1000"))
    assert fixed.run_dir != run_dir  # auto is its own run


def test_auto_on_a_method_without_a_factor_is_a_config_error(fake_conf, tmp_path):  # noqa: F811
    with pytest.raises(runner.ConfigError, match="self_extend' has no factor"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=self_extend", "+method.factor=auto"))
