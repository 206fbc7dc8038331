"""A run killed at any write loses no record: the process dies (os._exit, no cleanup) at its k-th
write, for every k, then a resume is killed at its first write, then a resume runs to the end;
every record written before a kill is still there, none twice, and the metrics are complete.

Two kinds of kill, injected deterministically in a forked child (not by timing):
  after_open  right after a file in the run folder is opened for writing: an in-place rewrite has
              just truncated its file (the old records rewrite lost a whole run this way);
  half_write  half-way through the bytes of any write of `evals.files.safe_io` (a torn record line, a
              torn temp file).
"""
from __future__ import annotations

import builtins
import io
import json
import os

import pytest

import evals.benchmarks.common.lm  # noqa: F401,E402  (imported once here, not in every forked child)
import evals.report.tables  # noqa: F401,E402
import evals.run.loop  # noqa: F401,E402
from evals.files import safe_io
from evals.run import runner
from evals.run.plan import make_plan
from evals.run.session import Session
from tests.helpers import make_cfg

KILLED = 137
IDS = [str(i) for i in range(6)]


def _inside(path, run_root: str) -> bool:
    try:
        name = os.path.abspath(os.fsdecode(path))
    except TypeError:  # a descriptor, not a path
        return False
    return name.startswith(run_root) and "/.locks/" not in name


def _install(kind: str, kill_at: int, run_root: str) -> None:
    """In the child: die at the `kill_at`-th write event of `kind` under `run_root`."""
    seen = [0]

    def event() -> bool:
        seen[0] += 1
        return seen[0] == kill_at

    if kind == "after_open":
        real_open, real_os_open = builtins.open, os.open

        def writes(mode: str) -> bool:
            return any(c in mode for c in "wax+")

        def opened(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if _inside(file, run_root) and writes(mode) and event():
                os._exit(KILLED)
            return handle

        def os_opened(path, flags, *args, **kwargs):
            fd = real_os_open(path, flags, *args, **kwargs)
            if _inside(path, run_root) and flags & (os.O_WRONLY | os.O_RDWR) and event():
                os._exit(KILLED)
            return fd

        builtins.open = io.open = opened
        os.open = os_opened
    else:
        real_write_all = safe_io._write_all

        def half(fd, data):
            if event():
                real_write_all(fd, bytes(data[: max(1, len(data) // 2)]))
                os._exit(KILLED)
            real_write_all(fd, data)

        safe_io._write_all = half


def run_in_child(cfg, kind: str | None = None, kill_at: int | None = None, run_root: str = "",
                 session: Session | None = None) -> int:
    """Run the config in a forked child (killed at its `kill_at`-th write); its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            import torch

            torch.set_num_threads(1)  # no OpenMP pool across fork
            if kind is not None:
                _install(kind, kill_at, run_root)
            runner.run(cfg, session=session)
            code = 0
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def record_ids(run_dir) -> list[str]:
    """Complete record lines on disk (a torn last line is what a kill may leave)."""
    path = run_dir / "records.jsonl"
    if not path.exists():
        return []
    ids = []
    for line in path.read_bytes().split(b"\n"):
        try:
            ids.append(json.loads(line)["id"])
        except ValueError:
            continue
    return ids


@pytest.mark.parametrize("kind", ["after_open", "half_write"])
def test_a_kill_at_every_write_loses_no_record(fake_conf, tmp_path, loads, kind):
    parent = Session()
    parent.get_tokenizer({"name_or_path": "smollm2"})  # loaded once here, not in every child
    killed_at = []
    for k in range(1, 60):
        results = tmp_path / f"{kind}{k}"
        cfg = make_cfg(fake_conf, tmp_path, "method=original", f"results_dir={results}", "threads=1")
        run_dir = make_plan(cfg).run_dir
        root = str(results)
        status = run_in_child(cfg, kind, k, root, parent)
        if status == 0:  # k is past the run's last write: every write point was tried
            break
        assert status == KILLED, f"kill at write {k}: the child failed instead ({status})"
        killed_at.append(k)
        before = record_ids(run_dir)
        assert before == IDS[: len(before)], f"kill at write {k}: records {before}"
        assert run_in_child(cfg, kind, 1, root, parent) in (0, KILLED)  # the resume, killed at its first write
        after = record_ids(run_dir)
        assert after[: len(before)] == before and after == IDS[: len(after)], f"kill at {k}, then at 1: {after}"
        assert run_in_child(cfg, session=parent) == 0, f"the resume after a kill at write {k} failed"
        assert record_ids(run_dir) == IDS
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["num_samples"] == 6 and metrics["average"] == 50.0
        assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
        assert not [p.name for p in run_dir.iterdir() if safe_io.TEMP_MARK in p.name]  # no temp left behind
    else:
        pytest.fail("the run never finished without a kill")
    assert len(killed_at) >= 5  # config, records, metrics, run.json at least
