"""Every option declared once: the shipped presets name only declared options, the base preset of
each benchmark (conf/benchmark/<name>.yaml) repeats the Python defaults exactly, every declared
default passes its own check, and the runner's options default to conf/config.yaml's values."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from evals.benchmarks.options import Option, parse_options
from evals.benchmarks.registry import BENCHMARKS, get_benchmark
from evals.files.paths import CONF_DIR
from evals.run.config import RunOptions

PRESETS = sorted((CONF_DIR / "benchmark").glob("*.yaml"))
SHIPPED = sorted({yaml.safe_load(p.read_text())["name"] for p in PRESETS})


def preset(path) -> dict:
    return yaml.safe_load(path.read_text())


def test_every_shipped_benchmark_declares_its_options():
    for name in SHIPPED:
        assert get_benchmark(name).options, f"{name} declares no options"
    assert all((CONF_DIR / "benchmark" / f"{name}.yaml").is_file() for name in SHIPPED)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_a_preset_names_only_declared_options_and_passes_their_checks(path):
    config = preset(path)
    cls = get_benchmark(config["name"])
    declared = {o.name for o in cls.options}
    assert set(config) - {"name"} <= declared, sorted(set(config) - {"name"} - declared)
    cls.parse_config(config)  # every value passes its option's check


@pytest.mark.parametrize("name", SHIPPED)
def test_the_python_defaults_are_the_base_preset(name):
    """conf/benchmark/<name>.yaml, the preset of the name a user types, holds the declared defaults:
    `benchmark=<name>` on the command line and `<Benchmark>()` in Python are one run."""
    cls = get_benchmark(name)
    base = {k: v for k, v in preset(CONF_DIR / "benchmark" / f"{name}.yaml").items() if k != "name"}
    defaults = {o.name: o.default for o in cls.options}
    differing = {k: (v, defaults[k]) for k, v in cls.parse_config(base).items() if k in base and v != defaults[k]}
    assert not differing, differing


@pytest.mark.parametrize("name", SHIPPED)
def test_every_declared_default_passes_its_own_check(name):
    for option in get_benchmark(name).options:
        assert option.parse(option.default) == option.default, option.name


def test_an_option_is_checked_one_way_with_the_option_and_the_choices_named():
    option = Option("lengths", [4096], "ints", low=1, min_items=1)
    assert option.parse(8192) == [8192]  # a lone value is a list of one
    for bad, message in (([], "give at least one"), (["x"], r"expected a list of integers >= 1 \('x' is not one\)"),
                         ([0], "expected a list of integers >= 1"), (None, "expected a list of integers >= 1")):
        with pytest.raises(ValueError, match=rf"Invalid benchmark.lengths=.*{message}"):
            option.parse(bad)
    with pytest.raises(ValueError, match=r"Invalid benchmark.split='val'. Valid choices: dev, test"):
        Option("split", "test", "str", choices=("dev", "test")).parse("val")
    with pytest.raises(ValueError, match=r"Unknown demo option 'lenghts'. Valid: lengths"):
        parse_options("demo", (option,), {"lenghts": [1]})


def test_lm_eval_batch_size_may_be_auto():
    lm_eval = get_benchmark("lm_eval")
    assert lm_eval.parse_config({"batch_size": "auto:4", "num_fewshot": 2})["batch_size"] == "auto:4"
    with pytest.raises(ValueError, match=r"Invalid benchmark.batch_size='big'"):
        lm_eval.parse_config({"batch_size": "big"})


def test_the_runner_options_default_to_the_config_yaml():
    top = yaml.safe_load((CONF_DIR / "config.yaml").read_text())
    for field in dataclasses.fields(RunOptions):
        if field.name in ("merge_only", "logger"):  # shard.merge_only below; logger is a config group
            continue
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        if field.name == "shard":
            assert top["shard"] == {"index": None, "count": None, "merge_only": RunOptions.merge_only}
            continue
        assert top[field.name] == default, field.name
    assert set(BENCHMARKS) >= set(SHIPPED)
