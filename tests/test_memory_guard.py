"""A length that cannot fit in memory is refused before its forward starts, unless forced."""
from __future__ import annotations

import pytest

from evals.run import memory_guard, runner
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import make_cfg


def test_estimate_grows_with_length(tiny_model):
    short, long = memory_guard.estimate(tiny_model, 1024), memory_guard.estimate(tiny_model, 200000)
    assert short["weights"] == long["weights"] and long["kv_cache"] == short["kv_cache"] * 200000 / 1024
    assert long["flops"] > 100 * short["flops"]


def test_a_length_beyond_memory_is_refused_unless_forced(fake_conf, tmp_path, loads, monkeypatch):
    monkeypatch.setattr(memory_guard, "available_bytes", lambda model: (64 * 2**20, "RAM"))  # a 64 MiB machine
    cfg = make_cfg(fake_conf, tmp_path, "method=original", "+benchmark.lengths=[200000]")
    with pytest.raises(runner.ConfigError, match=r"a 200000-token forward holds at least .* GiB.*force=true"):
        runner.run(cfg)
    assert FakeBenchmark.calls == 0 and loads == [] and not (tmp_path / "results").exists()
    forced = make_cfg(fake_conf, tmp_path, "method=original", "+benchmark.lengths=[200000]", "force=true")
    assert runner.run(forced)["num_samples"] == 6


def test_force_is_a_boolean(fake_conf, tmp_path, loads):
    with pytest.raises(runner.ConfigError, match=r"Invalid force='yes'"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", "force=yes"))


def test_a_length_beyond_an_hour_per_sample_is_refused_unless_forced(tiny_model, monkeypatch):
    monkeypatch.setattr(memory_guard, "flop_rate", lambda model: 1e6)  # a very slow device
    with pytest.raises(ValueError, match=r"over 1 h for one sample.*force=true"):
        memory_guard.check_fits(tiny_model, 200000)
    assert "at least" in memory_guard.check_fits(tiny_model, 200000, force=True)
    assert memory_guard.check_fits(tiny_model, None) is None


def test_the_cpu_speed_is_measured_in_cpu_time_not_in_a_shared_machine_s_wall_time(tiny_model, monkeypatch):
    """Under `nice` beside busy processes a second of wall time holds a sliver of CPU: measured in
    wall time the guard refused a 7-minute 32k prefill as 5.6 h. Here wall time runs 1000x fast."""
    import time

    honest = memory_guard.flop_rate(tiny_model)
    clock = iter(range(0, 10**9, 1000))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(clock)))  # 1000 s per call
    shared = memory_guard.flop_rate(tiny_model)
    # A wall-time rate would be ~1e5 x lower. The fake clock stops the loop after 3 tiny matmuls,
    # whose CPU time is mostly Python overhead (23x below the honest rate on CI's 2 cores), so the
    # bound tells the two clocks apart without asking 3 microsecond-matmuls to time like 1000.
    assert shared > honest / 1000
