"""Scale-out is explicit: torchrun's (and accelerate's) variables shard a run they launched; a stray
Slurm environment never does unless shard=auto; a shard always says that its metrics wait."""
from __future__ import annotations

import pytest

from evals.run import runner
from evals.run.plan import make_plan
from evals.run.shards import shard_of
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import make_cfg, read_records

SLURM = {"SLURM_NTASKS": "2", "SLURM_PROCID": "0", "SLURM_JOB_ID": "77"}


def test_a_slurm_allocation_does_not_shard_a_single_run(fake_conf, tmp_path, loads, monkeypatch):
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)
    metrics = runner.run(make_cfg(fake_conf, tmp_path, "method=original", "limit=3"))
    assert metrics["num_samples"] == 3 and FakeBenchmark.calls == 3
    [run_dir] = (tmp_path / "results" / "smollm2" / "original" / "fake_runner").iterdir()
    assert (run_dir / "metrics.json").exists() and not list(run_dir.glob("records.shard*"))


def test_shard_auto_reads_slurm_and_mpi_only_when_asked(monkeypatch):
    for key, value in SLURM.items():
        monkeypatch.setenv(key, value)
    assert shard_of(None) == (0, 1) and shard_of({"index": None, "count": None}) == (0, 1)
    assert shard_of("auto") == (0, 2) and shard_of({"index": None, "count": "auto"}) == (0, 2)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "x")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert shard_of(None) == (1, 4) and shard_of("auto") == (1, 4)  # the launcher first


def test_shard_auto_in_a_config(fake_conf, tmp_path, loads, monkeypatch):
    for key, value in {"SLURM_NTASKS": "2", "SLURM_PROCID": "1"}.items():
        monkeypatch.setenv(key, value)
    assert make_plan(make_cfg(fake_conf, tmp_path, "method=original", "shard=auto")).shard == (1, 2)
    with pytest.raises(ValueError, match=r"Invalid shard='sometimes'"):
        make_plan(make_cfg(fake_conf, tmp_path, "method=original", "shard=sometimes"))


def test_rank_without_a_launcher_is_not_a_shard(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert shard_of(None) == (0, 1)
    with pytest.raises(ValueError, match=r"shard.count=2 needs shard.index \(0 to 1\)"):
        shard_of({"index": None, "count": 2})


def test_a_shard_says_its_metrics_wait_for_the_merge(fake_conf, tmp_path, loads, capsys):
    runner.run(make_cfg(fake_conf, tmp_path, "method=original", "shard.index=1", "shard.count=2"))
    out = capsys.readouterr().out
    assert "shard 1/2 finished its 3 samples (records.shard1.jsonl); the run's metrics.json waits for the merge" in out
    runner.run(make_cfg(fake_conf, tmp_path, "method=original", "shard.index=0", "shard.count=2"))
    [run_dir] = (tmp_path / "results" / "smollm2" / "original" / "fake_runner").iterdir()
    assert [r["id"] for r in read_records(run_dir / "records.jsonl")] == [str(i) for i in range(6)]


def test_two_multiruns_started_in_the_same_second_get_their_own_sweep_folder(tmp_path):
    """The sweep folder (and its summary) is named by the second and the process: two processes
    started in the same second no longer share one."""
    import os

    from hydra import compose, initialize_config_dir

    import evals.run.cli  # noqa: F401  (registers ${lampe_pid:})
    from tests.helpers import CONF

    with initialize_config_dir(CONF, version_base="1.3"):
        cfg = compose("config", overrides=[f"results_dir={tmp_path}"], return_hydra_config=True)
    for folder in (cfg.hydra.sweep.dir, cfg.hydra.run.dir):
        assert folder.startswith(str(tmp_path / ".hydra")) and folder.endswith(f"-{os.getpid()}")
