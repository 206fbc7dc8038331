"""conf/: every group composes, overrides reach the run, models carry valid per-method defaults."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from evals.run.config import method_values
from lampe import PRESETS, available_methods
from lampe.methods.registry import METHODS

REPO = Path(__file__).resolve().parent.parent
CONF = REPO / "conf"
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))


@pytest.fixture
def extra(tmp_path):
    """benchmark/fake.yaml on the search path, so composition does not need another benchmark."""
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "fake.yaml").write_text("name: fake_runner\nmax_length: 4000\nsize: 3\n")
    return tmp_path


def compose_with(extra, *overrides, hydra=False):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"hydra.searchpath=[file://{extra}]", "benchmark=fake", *overrides],
                       return_hydra_config=hydra)


def test_defaults(extra):
    cfg = compose_with(extra)
    assert cfg.model.name == "smollm2" and cfg.model.name_or_path == "smollm2"
    assert cfg.model.pretraining_length == 8192 and cfg.model.dtype == "float32" and cfg.model.chat_template
    assert cfg.method.name == "lampe" and cfg.logger.name == "none"
    assert cfg.rerun is False and cfg.shard.count is None and cfg.objective == "average"


@pytest.mark.skipif(not (CONF / "benchmark" / "passkey.yaml").exists(), reason="passkey config not in the tree yet")
def test_default_benchmark_is_the_passkey_preset():
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("config")
    assert cfg.benchmark.name == "passkey"


def test_overrides_reach_model_method_and_benchmark(extra):
    cfg = compose_with(extra, "model=llama2", "method=lampe", "method.local_window=2048", "benchmark.size=5",
                       "limit=2")
    assert cfg.model.name_or_path == "meta-llama/Llama-2-7b-chat-hf" and cfg.model.pretraining_length == 4096
    assert cfg.benchmark.size == 5 and cfg.limit == 2
    values = method_values(OmegaConf.to_container(cfg.method), OmegaConf.to_container(cfg.model))
    assert values["local_window"] == 2048 and values["preset"] == "llama2" and values["initial_tokens"] == 200


def test_every_method_has_a_config_with_exactly_its_parameters():
    for name in available_methods():
        conf = yaml.safe_load((CONF / "method" / f"{name}.yaml").read_text())
        assert conf["name"] == name
        params = {k: v for k, v in conf.items() if k != "name"}
        # the method's parameters, and the runner's `rule` (null, or published: evals.run.sample_method)
        assert set(params) == {p.name for p in METHODS[name].params} | {"rule"}, name
        assert all(v is None for v in params.values()), f"{name}: defaults belong to the method or the model"


@pytest.mark.parametrize("model", MODELS)
def test_model_configs_give_valid_parameters_for_every_method(model):
    conf = yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())
    assert conf["name"] == model
    for key in ("name_or_path", "pretraining_length", "chat_template", "dtype", "device", "device_map"):
        assert key in conf, f"{model}: {key}"
    assert set(conf["method_defaults"]) <= set(available_methods())
    lampe_defaults = conf["method_defaults"]["lampe"]
    # each model picks its LaMPE mapping: a paper preset, its own a/b/c, or a swept fixed length (SmolLM2)
    assert (lampe_defaults.get("preset") in PRESETS or all(lampe_defaults.get(k) is not None for k in "abc")
            or lampe_defaults.get("mapping_length"))
    for method in conf["method_defaults"]:
        method_values({"name": method}, conf)  # raises on a bad default


@pytest.mark.parametrize("model", MODELS)
def test_model_configs_do_not_restate_a_method_default(model):
    """One place states each default: a model's method_defaults hold only what differs from the
    method's own Param defaults."""
    conf = yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())
    for method, values in conf["method_defaults"].items():
        params = {p.name: p for p in METHODS[method].params}
        same = [k for k, v in values.items() if params[k].parse(method, v) == params[k].default]
        assert not same, f"{model}: method_defaults.{method} restates the default of {', '.join(same)}"


def test_paper_windows():
    windows = {m: yaml.safe_load((CONF / "model" / f"{m}.yaml").read_text())["pretraining_length"] for m in MODELS}
    assert windows == {"llama2": 4096, "llama3": 8192, "llama3.1": 131072, "mistral": 32768, "qwen2.5": 32768,
                       "smollm2": 8192}


def test_unknown_choice_lists_the_available_ones(extra):
    with pytest.raises(MissingConfigException) as info:
        compose_with(extra, "method=lampee")
    message = str(info.value)
    assert "Could not find 'method/lampee'" in message
    assert all(f"\t{name}\n" in message + "\n" for name in available_methods())
    with pytest.raises(MissingConfigException, match="Available options in 'model'"):
        compose_with(extra, "model=gpt5")


def test_unknown_key_is_refused(extra):
    with pytest.raises(ConfigCompositionException, match="windw"):
        compose_with(extra, "method=self_extend", "method.windw=3")


def test_sweep_configs(extra):
    grid = compose_with(extra, "sweep=lampe_sigmoid", hydra=True)
    assert str(grid.hydra.mode) == "RunMode.MULTIRUN" and grid.method.name == "lampe"
    points = grid.hydra.sweeper.params["method.mapping_length"].split(",")
    assert len(points) == 4
    optuna = compose_with(extra, "sweep=lampe_optuna", hydra=True)
    assert optuna.hydra.sweeper._target_.endswith("OptunaSweeper") and optuna.hydra.sweeper.direction == "maximize"
    assert "method.local_window" in optuna.hydra.sweeper.params
    se = compose_with(extra, "sweep=self_extend_grid", hydra=True)
    assert se.method.name == "self_extend" and set(se.hydra.sweeper.params) == {"method.window", "method.group"}
    methods = compose_with(extra, "sweep=methods", hydra=True)
    assert set(methods.hydra.sweeper.params["method"].split(",")) == set(available_methods())
    # tuning sweeps run on the dev split (any benchmark); the methods table scores the test split
    assert grid.benchmark.split == optuna.benchmark.split == se.benchmark.split == "dev"
    assert compose_with(extra, "sweep=lampe_sigmoid", "benchmark=needle", hydra=True).benchmark.split == "dev"
    assert compose_with(extra, "sweep=lampe_sigmoid", "benchmark.split=test", hydra=True).benchmark.split == "test"
    assert compose_with(extra, "sweep=methods", "benchmark=passkey", hydra=True).benchmark.split == "test"


def test_slurm_launcher_and_output_dirs(extra, tmp_path):
    cfg = compose_with(extra, "hydra/launcher=slurm", f"results_dir={tmp_path / 'r'}", hydra=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.gpus_per_node == 1
    assert cfg.hydra.run.dir.startswith(str(tmp_path / "r" / ".hydra" / "runs"))
    relative = compose_with(extra, "results_dir=results", hydra=True)
    assert relative.hydra.run.dir.startswith("results/.hydra/")  # Hydra resolves it against the cwd


def test_relative_results_dir_is_the_current_folder(tmp_path, monkeypatch):
    """A wheel install run from any folder writes ./results there, never beside the package."""
    from evals.report.runs import results_root

    monkeypatch.chdir(tmp_path)
    assert results_root("results") == tmp_path / "results"
    assert results_root(tmp_path / "abs") == tmp_path / "abs"
