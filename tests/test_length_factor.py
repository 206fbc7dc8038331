"""Each sample's own parameters: `auto` and `rule=published` set a method's parameters from the
sample's tokenized prompt plus its generation budget (never a run-level fallback), and every
record carries its split, content keys and the method parameters that applied to it."""
from __future__ import annotations

import pytest
import yaml

from evals.run import runner
from evals.run import sample_method as length_factor
from evals.run.config import method_values
from evals.run.plan import make_plan
from evals.run.sample_method import factor_for
from lampe import PRESETS, mapping_length
from tests.helpers import SMOL, make_cfg, read_records


def test_factor_is_length_over_training_window_never_below_one():
    assert factor_for(4096, 8192) == 1.0
    assert factor_for(16384, 8192) == 2.0
    assert factor_for(12288, 8192) == 1.5
    assert factor_for(10000, 8192) == 1.221  # 1.2207..., rounded up to 1/1000


@pytest.fixture
def spy(monkeypatch):
    applied = []
    real = length_factor.apply_method

    def spying(model, name, **params):
        applied.append((name, params))
        return real(model, name, **params)

    monkeypatch.setattr(length_factor, "apply_method", spying)
    return applied


def test_auto_factor_follows_each_samples_own_tokens(fake_conf, tmp_path, loads, spy):  # noqa: F811
    # fake samples have meta.length 1000-3000 (ignored now) and prompts of 3 sizes (pad x 0, 8, 16 words)
    cfg = make_cfg(fake_conf, tmp_path, "method=yarn", "method.factor=auto", "model.pretraining_length=40",
                   "+benchmark.pad=8", "benchmark.max_length=16384")
    run_dir, metrics = runner.run_with_dir(cfg)
    records = read_records(run_dir / "records.jsonl")
    for record in records:
        length = record["prompt_tokens"] + 1
        assert record["method_params"]["factor"] == factor_for(length, 40) and record["method_params"]["rule_length"] == length
    factors = [r["method_params"]["factor"] for r in records]
    assert len(set(factors)) == 3 and max(factors) > 1.0
    assert [params["factor"] for _, params in spy] == factors[:3] * 2  # reapplied where the factor changes
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert stored["method"]["factor"] == "auto" and metrics["num_samples"] == 6 and metrics["split"] == "test"
    fixed = make_plan(make_cfg(fake_conf, tmp_path, "method=yarn", "method.factor=2",
                                    "model.pretraining_length=40", "+benchmark.pad=8", "benchmark.max_length=16384"))
    assert fixed.run_dir != run_dir  # auto is its own run


def test_no_run_level_fallback_a_short_prompt_keeps_the_stock_scale(fake_conf, tmp_path, loads):  # noqa: F811
    """The old runner took max_length (16384) for an 8k model: factor 2 on prompts inside the window."""
    cfg = make_cfg(fake_conf, tmp_path, "method=pi", "method.factor=auto", "benchmark.max_length=16384")
    run_dir, _ = runner.run_with_dir(cfg)
    assert {r["method_params"]["factor"] for r in read_records(run_dir / "records.jsonl")} == {1.0}


def test_every_record_carries_split_content_and_method_params(fake_conf, tmp_path, loads):  # noqa: F811
    run_dir, _ = runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=lampe"))
    record = read_records(run_dir / "records.jsonl")[0]
    assert record["split"] == "test" and record["content_keys"][0].startswith("prompt:")
    params = record["method_params"]
    assert params["preset"] == "smollm2" and params["local_window"] == 1024
    assert params["mapping_length"] == mapping_length(record["prompt_tokens"], *PRESETS["smollm2"])  # U at its length
    original, _ = runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=original"))
    assert read_records(original / "records.jsonl")[0]["method_params"] == {}


def test_rule_published_sets_selfextends_group_per_sample(fake_conf, tmp_path, loads, spy):  # noqa: F811
    cfg = make_cfg(fake_conf, tmp_path, "method=self_extend", "method.rule=published", "model.pretraining_length=40",
                   "method.window=8", "+benchmark.pad=8")
    run_dir, _ = runner.run_with_dir(cfg)
    stored = yaml.safe_load((run_dir / "config.yaml").read_text())["method"]
    assert stored["group"] == "auto" and stored["rule"] == "published" and stored["window"] == 8
    for record in read_records(run_dir / "records.jsonl"):
        params, length = record["method_params"], record["prompt_tokens"] + 1
        # the LongLM README's rule at P = 40: the smallest G with W + (L - W) / G < 2/3 x 40
        group = next(g for g in range(1, 100) if 3 * (8 + (length - 8) / g) < 80)
        assert params["group"] == group and params["window"] == 8 // group * group and params["rule"] == "published"


def test_rule_conflicts_and_bad_autos_are_config_errors(fake_conf, tmp_path):  # noqa: F811
    with pytest.raises(runner.ConfigError, match="self_extend' has no factor"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=self_extend", "+method.factor=auto"))
    with pytest.raises(runner.ConfigError, match="self_extend' has no window set by a published rule"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=self_extend", "method.window=auto"))
    with pytest.raises(runner.ConfigError, match="rule=published sets self_extend's group .* drop method.group=4"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=self_extend", "method.rule=published",
                                     "method.group=4"))
    with pytest.raises(runner.ConfigError, match="Invalid method.rule='paper'. Valid choices: published"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=pi", "method.rule=paper"))
    with pytest.raises(runner.ConfigError, match="rule=published maps U by the model's fitted preset"):
        runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=lampe", "method.rule=published",
                                     "method.mapping_length=4096"))


def test_rule_published_values_per_method():
    smol = SMOL
    values = method_values({"name": "self_extend", "rule": "published"}, smol)
    assert values["group"] == "auto" and values["window"] == 1024  # the model's group 4 gives way to the rule
    assert method_values({"name": "dynamic_ntk", "rule": "published"}, smol)["factor"] == "auto"
    lampe_values = method_values({"name": "lampe", "rule": "published"}, smol)
    assert lampe_values["preset"] == "smollm2" and lampe_values["rule"] == "published"
    chunk = method_values({"name": "chunkllama", "rule": "published"}, smol)
    assert (chunk["chunk_size"], chunk["local_window"]) == ("auto", "auto")
