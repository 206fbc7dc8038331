"""One writer per run: a second process on the same run is refused (or waits), never interleaves."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from evals.run import runner
from evals.run.lock import RunLock, RunLocked
from evals.run.plan import make_plan
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import REPO, make_cfg

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from evals.run.lock import RunLock
    lock = RunLock(Path(sys.argv[1]), root=Path(sys.argv[2])).acquire()  # held while this process lives
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder():
    """Start a second process holding a run's lock; it is SIGKILLed at the end (or by the test)."""
    procs = []

    def start(run_dir, root):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), str(root)], cwd=REPO, stdout=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def test_second_process_on_the_same_run_is_refused(fake_conf, tmp_path, loads, holder):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    plan = make_plan(cfg)
    proc = holder(plan.run_dir, tmp_path / "results")
    with pytest.raises(runner.ConfigError, match=rf"being written by another process: .*\"pid\": {proc.pid}"):
        runner.run(cfg)
    assert loads == [] and FakeBenchmark.calls == 0 and not plan.run_dir.exists()
    proc.send_signal(signal.SIGKILL)  # the kernel drops a dead holder's lock: no stale lock file
    proc.wait()
    assert runner.run(cfg)["num_samples"] == 6


def test_rerun_while_the_run_is_live_is_refused(fake_conf, tmp_path, loads, holder):
    runner.run(make_cfg(fake_conf, tmp_path, "method=original"))
    plan = make_plan(make_cfg(fake_conf, tmp_path, "method=original"))
    holder(plan.run_dir, tmp_path / "results")
    with pytest.raises(runner.ConfigError, match="another process"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", "rerun=true"))
    assert [p.name for p in plan.run_dir.parent.iterdir() if not p.name.startswith(".")] == [plan.run_id]


def test_shards_share_a_run_but_not_a_shard(tmp_path):
    run_dir = tmp_path / "r" / "abc"
    with RunLock(run_dir, (0, 2)), RunLock(run_dir, (1, 2)):
        with pytest.raises(RunLocked):
            RunLock(run_dir, (1, 2)).acquire()
        with pytest.raises(RunLocked):
            RunLock(run_dir).acquire()  # the unsharded run of the same config
    RunLock(run_dir).acquire().release()


def test_duplicate_records_are_an_error_not_counted(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    run_dir = make_plan(cfg).run_dir
    runner.run(cfg)
    records = (run_dir / "records.jsonl").read_text()
    (run_dir / "records.jsonl").write_text(records + records)  # what two writers left before the lock
    (run_dir / "run.json").unlink()
    with pytest.raises(ValueError, match=r"records.jsonl:7: sample id '0' is already recorded at line 1"):
        runner.run(cfg)


def test_wait_queues_behind_the_running_process(tmp_path):
    run_dir, root = tmp_path / "results" / "m" / "x" / "b" / "abc", tmp_path / "results"
    script = HOLDER.replace("time.sleep(60)", "time.sleep(1.5)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(run_dir), str(root)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked):
            RunLock(run_dir, root=root).acquire()
        lock = RunLock(run_dir, root=root).acquire(wait=True)  # returns once the holder exits
        assert proc.wait(timeout=30) == 0
        lock.release()
    finally:
        proc.kill()
        proc.wait()
