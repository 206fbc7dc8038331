"""The runner on a tiny random model and a fake benchmark: layout, resume, no overwrite, shards."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

import evals.report.runs  # noqa: F401  (the ${repo_path:} resolver)
import lampe
from evals.report.runs import find_runs
from evals.run import runner
from evals.run.config import method_values
from evals.run.plan import make_plan
from evals.run.shards import shard_of
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import REPO, SMOL, make_cfg, read_records

# ---- method parameters ------------------------------------------------------------------------


LLAMA3 = yaml.safe_load((REPO / "conf/model/llama3.yaml").read_text())


def test_model_defaults_fill_method_parameters():
    values = method_values({"name": "lampe", "local_window": None, "preset": None}, LLAMA3)
    assert values["preset"] == "llama3" and values["local_window"] == 1024 and values["initial_tokens"] == 200
    smol = method_values({"name": "lampe"}, SMOL)
    assert (smol["preset"], smol["mapping_length"]) == ("smollm2", None)  # the retrieval fit (conf/model/smollm2.yaml)
    # the user's value wins over the model's
    assert method_values({"name": "lampe", "local_window": 256}, SMOL)["local_window"] == 256
    # the model's pretraining length reaches methods that take one
    assert method_values({"name": "yarn"}, SMOL)["pretraining_length"] == 8192


def test_lampe_mapping_choice_replaces_model_preset():
    fixed = method_values({"name": "lampe", "mapping_length": 2048}, LLAMA3)
    assert fixed["mapping_length"] == 2048 and fixed["preset"] is None
    c_only = method_values({"name": "lampe", "c": 7000.0}, LLAMA3)
    from lampe import PRESETS

    assert (c_only["a"], c_only["b"], c_only["c"]) == (PRESETS["llama3"][0], PRESETS["llama3"][1], 7000.0)
    assert c_only["preset"] is None
    # a model with its own fitted a/b/c: c alone keeps the model's a and b
    fitted = {**LLAMA3, "method_defaults": {"lampe": {"a": 1e-4, "b": -2.0, "c": 6000.0, "local_window": 512}}}
    own_c = method_values({"name": "lampe", "c": 9000.0}, fitted)
    assert (own_c["a"], own_c["b"], own_c["c"], own_c["local_window"]) == (1e-4, -2.0, 9000.0, 512)
    assert method_values({"name": "lampe", "mapping_length": 2048}, fitted)["c"] is None


@pytest.mark.parametrize("params, message", [
    ({"local_window": -3}, "lampe.local_window"),
    ({"variant": "four_region"}, "Valid choices"),
    ({"windw": 3}, "Unknown parameter 'windw'"),
    ({"mapping_length": 100, "preset": "llama2"}, "exactly one of"),
])
def test_invalid_method_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        method_values({"name": "lampe", **params}, SMOL)


def test_invalid_override_fails_before_the_model_loads(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=lampe", "method.local_window=0")
    with pytest.raises(ValueError, match="lampe.local_window=0"):
        runner.run(cfg)
    cfg = make_cfg(fake_conf, tmp_path, "method=original", "benchmark.tasks=[gamma]")
    with pytest.raises(ValueError, match="Unknown fake task 'gamma'. Available: alpha, beta"):
        runner.run(cfg)
    assert loads == [] and not (tmp_path / "results").exists()


# ---- runs ---------------------------------------------------------------------------------------

def test_run_writes_layout_and_is_found_again(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=lampe", "method.mapping_length=64", "method.local_window=8")
    metrics = runner.run(cfg)
    assert metrics["num_samples"] == 6
    assert metrics["tasks"]["alpha"]["acc"] == 100.0 and metrics["tasks"]["beta"]["acc"] == 0.0  # ids 0,2,4 / 1,3,5
    [run] = find_runs(tmp_path / "results")
    assert run.path.parent == tmp_path / "results" / "smollm2" / "lampe" / "fake_runner"
    stored = yaml.safe_load((run.path / "config.yaml").read_text())
    assert stored["method"]["mapping_length"] == 64 and stored["method"]["local_window"] == 8
    assert stored["method"]["temperature"] == pytest.approx(1.0693147, rel=1e-6)  # effective, not null
    assert stored["run_id"] == run.run_id and len(read_records(run.path / "records.jsonl")) == 6
    status = json.loads((run.path / "run.json").read_text())
    assert status["status"] == "complete"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(runner.__file__).parent)
    assert status["code"]["commit"] == (head.stdout.strip() if head.returncode == 0 else None)  # the code behind it
    assert status["code"]["version"] == lampe.__version__
    assert loads == ["smollm2"] and FakeBenchmark.calls == 6

    # same config: found, not recomputed, no model load
    again = runner.run(make_cfg(fake_conf, tmp_path, "method=lampe", "method.mapping_length=64",
                                "method.local_window=8"))
    assert again == metrics and loads == ["smollm2"] and FakeBenchmark.calls == 6
    # another parameter: another run id
    runner.run(make_cfg(fake_conf, tmp_path, "method=lampe", "method.mapping_length=32", "method.local_window=8"))
    assert len({r.run_id for r in find_runs(tmp_path / "results")}) == 2


def test_run_id_ignores_device_but_not_dtype(fake_conf, tmp_path):
    base = make_plan(make_cfg(fake_conf, tmp_path, "method=original"))
    moved = make_plan(make_cfg(fake_conf, tmp_path, "method=original", "model.device=cpu"))  # a device this machine has
    other = make_plan(make_cfg(fake_conf, tmp_path, "method=original", "model.dtype=bfloat16"))
    assert base.run_id == moved.run_id != other.run_id


def test_interrupted_run_resumes(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    FakeBenchmark.interrupt_after = 4
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    [run_dir] = (tmp_path / "results" / "smollm2" / "original" / "fake_runner").iterdir()
    assert len(read_records(run_dir / "records.jsonl")) == 4 and not (run_dir / "metrics.json").exists()
    with (run_dir / "records.jsonl").open("a") as handle:  # the crash also left half a line
        handle.write('{"id": "4", "task": "al')
    FakeBenchmark.interrupt_after = None
    with pytest.warns(UserWarning, match="half-written"):
        metrics = runner.run(cfg)
    assert FakeBenchmark.calls == 6  # 4 before the crash + the 2 missing ones
    assert [r["id"] for r in read_records(run_dir / "records.jsonl")] == [str(i) for i in range(6)]
    assert metrics["num_samples"] == 6 and metrics["average"] == 50.0


def test_rerun_moves_the_old_run_aside(fake_conf, tmp_path, loads):
    runner.run(make_cfg(fake_conf, tmp_path, "method=original"))
    [first] = find_runs(tmp_path / "results")
    records_before = (first.path / "records.jsonl").read_text()
    runner.run(make_cfg(fake_conf, tmp_path, "method=original", "rerun=true"))
    siblings = sorted(p.name for p in first.path.parent.iterdir())
    assert len(siblings) == 2 and siblings[0] == first.run_id and siblings[1].startswith(first.run_id + ".old-")
    assert (first.path.parent / siblings[1] / "records.jsonl").read_text() == records_before
    assert FakeBenchmark.calls == 12 and len(find_runs(tmp_path / "results")) == 1  # the old one is not a row


def test_foreign_run_dir_is_not_overwritten(fake_conf, tmp_path, loads):
    plan = make_plan(make_cfg(fake_conf, tmp_path, "method=original"))
    plan.run_dir.mkdir(parents=True)
    (plan.run_dir / "config.yaml").write_text(yaml.safe_dump({"model": {"name_or_path": "other"}}))
    with pytest.raises(runner.ConfigError, match="another config"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original"))


def test_shards_merge_into_one_record_file(fake_conf, tmp_path, loads):
    runner.run(make_cfg(fake_conf, tmp_path, "method=original", "shard.index=1", "shard.count=2"))
    [run_dir] = (tmp_path / "results" / "smollm2" / "original" / "fake_runner").iterdir()
    assert [r["id"] for r in read_records(run_dir / "records.shard1.jsonl")] == ["1", "3", "5"]
    assert not (run_dir / "metrics.json").exists()  # shard 0 still missing
    metrics = runner.run(make_cfg(fake_conf, tmp_path, "method=original", "shard.index=0", "shard.count=2"))
    assert [r["id"] for r in read_records(run_dir / "records.jsonl")] == [str(i) for i in range(6)]
    assert metrics["num_samples"] == 6 and json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert FakeBenchmark.calls == 6


def test_shard_from_torchrun_environment(monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")  # torchrun's agent (also behind accelerate launch --multi_gpu)
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert shard_of({"index": None, "count": None}) == (3, 4)
    assert shard_of({"index": 0, "count": 1}) == (0, 1)  # explicit config wins
    with pytest.raises(ValueError, match="shard.index=5"):
        shard_of({"index": 5, "count": 2})


def test_objective_path():
    metrics = {"average": 41.5, "tasks": {"qa": {"f1": 30.0}}}
    assert runner.objective(metrics, "average") == 41.5 and runner.objective(metrics, "tasks.qa.f1") == 30.0
    with pytest.raises(ValueError, match="keys are qa"):
        runner.objective(metrics, "tasks.summ.rouge")


# ---- the command line ---------------------------------------------------------------------------

def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "evals", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_lists_choices_of_an_unknown_group_option(fake_conf):
    result = _cli("method=lampee", f"hydra.searchpath=[file://{fake_conf}]", "benchmark=fake")
    assert result.returncode != 0
    assert "Could not find 'method/lampee'" in result.stderr
    assert "Available options in 'method'" in result.stderr and "self_extend" in result.stderr


def test_cli_rejects_a_bad_parameter_before_loading(fake_conf, tmp_path):
    results = tmp_path / "results"
    result = _cli("method=self_extend", "method.group=0", f"hydra.searchpath=[file://{fake_conf}]",
                  "benchmark=fake", "imports=[tests.fake_benchmark]", "logger=none", f"results_dir={results}")
    assert result.returncode == 2
    assert "lampe-eval: error: Invalid self_extend.group=0: must be in [1, inf]" in result.stderr
    assert "Traceback" not in result.stderr and "Loading weights" not in result.stderr
    assert sorted(p.name for p in results.iterdir()) == [".hydra"]  # Hydra's log dir only, no run


# ---- summary and loggers ------------------------------------------------------------------------

def test_multirun_summary_prints_one_table_of_the_sweep(fake_conf, tmp_path, loads, capsys):
    from evals.run.cli import RUNS_FILE, SweepSummary

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    entries = []
    for u in (32, 64):
        run_dir, _ = runner.run_with_dir(make_cfg(fake_conf, tmp_path, "method=lampe", f"method.mapping_length={u}",
                                                  "method.local_window=8"))
        entries.append(json.dumps({"run_dir": str(run_dir), "overrides": [], "objective": 50.0}))
    (sweep_dir / RUNS_FILE).write_text("\n".join(entries) + "\n")
    capsys.readouterr()
    SweepSummary().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}},
                                                     "objective": "average"}))
    out = capsys.readouterr().out
    assert "2 runs of this sweep" in out
    rows = [line for line in out.splitlines() if line.startswith("| smollm2")]
    assert len(rows) == 2 and "lampe (mapping_length=32)" in rows[0] and "lampe (mapping_length=64)" in rows[1]
    assert "| 50.0 [18.8, 81.2] | 3-6 |" in rows[0]  # average, its Wilson interval, samples per cell


def test_loggers(fake_conf, tmp_path, loads):
    from evals.run.loggers import flatten, get_logger

    assert flatten({"tasks": {"a": {"acc": 1.0, "note": "x"}}, "average": 2}) == {"tasks/a/acc": 1.0, "average": 2}
    with pytest.raises(ValueError, match="Unknown logger 'tensorboard'. Available: none, wandb"):
        get_logger({"name": "tensorboard"})
    runner.run(make_cfg(fake_conf, tmp_path, "method=original", "logger=wandb"))
    [offline] = (tmp_path / "results" / "wandb" / "wandb").glob("offline-run-*")  # offline: nothing sent
    assert any(offline.rglob("*.wandb"))


def test_the_runner_holds_no_method_specific_code():
    """Defaults and checks belong to the methods (Method.merge_defaults, Method.check)."""
    source = Path(runner.__file__).read_text()
    for name in ("PRESETS", "lampe.methods.lampe", "_lampe_defaults", "DEFAULT_RULES", "_check_constructor"):
        assert name not in source, name
