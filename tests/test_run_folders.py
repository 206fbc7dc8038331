"""A run folder is the run's alone: symlinks are refused, a second writer is refused even without
its lock file, a smaller limit never rewrites a finished run, torn summaries are recomputed from
the records, and a refused or failed run leaves no folder behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from evals.run import runner
from evals.run.plan import make_plan
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import REPO, make_cfg


def finished(fake_conf, tmp_path, *overrides):
    cfg = make_cfg(fake_conf, tmp_path, "method=original", *overrides)
    runner.run(cfg)
    return cfg, make_plan(cfg).run_dir


# ---- symlinks -----------------------------------------------------------------------------------

def test_a_symlinked_records_file_is_refused_and_its_target_untouched(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    FakeBenchmark.interrupt_after = 3
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    FakeBenchmark.interrupt_after = None
    run_dir = make_plan(cfg).run_dir
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("precious\n" * 3 + '{"id": "half')  # a torn last line: the old resume rewrote it
    (run_dir / "records.jsonl").unlink()
    (run_dir / "records.jsonl").symlink_to(victim)
    with pytest.raises(runner.ConfigError, match=r"records.jsonl is a symbolic link \(to .*elsewhere.txt\)"):
        runner.run(cfg)
    assert victim.read_text() == "precious\n" * 3 + '{"id": "half'


@pytest.mark.parametrize("name", ["metrics.json", "run.json", "config.yaml"])
def test_a_symlinked_file_in_a_run_folder_is_refused(fake_conf, tmp_path, loads, name):
    cfg, run_dir = finished(fake_conf, tmp_path)
    (run_dir / "run.json").unlink()  # not finished: the resume would rewrite the summaries
    victim = tmp_path / "victim"
    victim.write_text("keep")
    target = run_dir / name
    target.unlink(missing_ok=True)
    target.symlink_to(victim)
    with pytest.raises(runner.ConfigError, match=rf"{name} is a symbolic link"):
        runner.run(cfg)
    assert victim.read_text() == "keep"


def test_a_symlinked_model_folder_is_refused_naming_the_link(fake_conf, tmp_path, loads):
    elsewhere = tmp_path / "shared_results"
    elsewhere.mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "smollm2").symlink_to(elsewhere)
    with pytest.raises(runner.ConfigError, match=r"results/smollm2 is a symbolic link .*must be real folders") as err:
        runner.run(make_cfg(fake_conf, tmp_path, "method=original"))
    assert "Invalid model.name" not in str(err.value) and loads == [] and not any(elsewhere.iterdir())


def test_a_symlinked_results_dir_is_where_the_user_put_it(fake_conf, tmp_path, loads):
    real = tmp_path / "scratch"
    real.mkdir()
    (tmp_path / "results").symlink_to(real)
    assert runner.run(make_cfg(fake_conf, tmp_path, "method=original"))["num_samples"] == 6
    assert list(real.glob("smollm2/original/fake_runner/*/metrics.json"))


# ---- one writer, even without the lock file ----------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from evals.run.records import RecordFile
    writer = RecordFile.writer(sys.argv[1])  # what a live run holds from its claim to its end
    print("writing", flush=True)
    time.sleep(60)
""")


def test_a_removed_lock_file_does_not_let_a_second_writer_in(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    FakeBenchmark.interrupt_after = 2
    with pytest.raises(KeyboardInterrupt):
        runner.run(cfg)
    FakeBenchmark.interrupt_after = None
    plan = make_plan(cfg)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(plan.run_dir / "records.jsonl")], cwd=REPO,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "writing"
        for lock in (tmp_path / "results" / ".locks").rglob("*.lock"):
            lock.unlink()  # what a careless `rm` does
        with pytest.raises(runner.ConfigError, match=r"records.jsonl is being written by another live process"):
            runner.run(cfg)
        assert loads == ["smollm2"] and FakeBenchmark.calls == 2  # the first run's load only
    finally:
        proc.kill()
        proc.wait()
    assert runner.run(cfg)["num_samples"] == 6 and FakeBenchmark.calls == 6


# ---- limit ---------------------------------------------------------------------------------------

def test_a_smaller_limit_never_rewrites_a_finished_run(fake_conf, tmp_path, loads):
    cfg, run_dir = finished(fake_conf, tmp_path, "limit=2")
    before = (run_dir / "metrics.json").read_text()
    with pytest.raises(runner.ConfigError, match=r"finished run of 2 samples \(limit=2\); limit=1 would replace"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", "limit=1"))
    assert (run_dir / "metrics.json").read_text() == before and loads == ["smollm2"]
    assert runner.run(make_cfg(fake_conf, tmp_path, "method=original", "limit=4"))["num_samples"] == 4  # more: resumes


# ---- broken summaries --------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["", "[1, 2]", '{"tasks": '])
def test_a_complete_run_with_a_torn_metrics_file_is_recomputed_from_its_records(fake_conf, tmp_path, loads, damage):
    cfg, run_dir = finished(fake_conf, tmp_path)
    good = json.loads((run_dir / "metrics.json").read_text())
    (run_dir / "metrics.json").write_text(damage)
    assert runner.run(cfg) == good
    assert json.loads((run_dir / "metrics.json").read_text()) == good
    assert loads == ["smollm2"] and FakeBenchmark.calls == 6  # no model load, no sample redone


def test_a_failed_figure_leaves_the_run_unfinished(fake_conf, tmp_path, loads, monkeypatch):
    from evals.report import plots

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runner, "_heatmap", lambda run_dir, metrics: full_disk())
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    with pytest.raises(OSError, match="No space left"):
        runner.run(cfg)
    run_dir = make_plan(cfg).run_dir
    assert not (run_dir / "run.json").exists() or json.loads((run_dir / "run.json").read_text())["status"] != "complete"
    monkeypatch.undo()
    assert plots  # the real figure writer is back
    assert runner.run(cfg)["num_samples"] == 6 and FakeBenchmark.calls == 6


# ---- no folder left behind -----------------------------------------------------------------------

def test_a_run_refused_after_the_model_loads_leaves_no_empty_folders(fake_conf, tmp_path, loads, monkeypatch):
    from evals.run import memory_guard

    def refuse(*args, **kwargs):
        raise ValueError("refused for the test")

    monkeypatch.setattr(runner, "check_fits", refuse)
    with pytest.raises(runner.ConfigError, match="refused for the test"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original"))
    assert loads == ["smollm2"] and memory_guard
    leftovers = [p for p in (tmp_path / "results").rglob("*") if ".locks" not in p.parts]
    assert leftovers == []


@pytest.mark.parametrize("name", ["tables", "wandb", "study"])
def test_model_names_that_the_tables_own_are_refused(fake_conf, tmp_path, loads, name):
    with pytest.raises(runner.ConfigError, match=rf"Invalid model.name='{name}': results_dir/{name}/ belongs to"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", f"model.name={name}"))
    assert loads == []


def test_a_results_dir_that_cannot_be_written_is_a_named_error(fake_conf, tmp_path, loads):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(runner.ConfigError, match=r"results_dir=.*a_file/results' cannot be written"):
        runner.run(make_cfg(fake_conf, tmp_path, "method=original", f"results_dir={blocker / 'results'}"))
    assert loads == []


def test_the_cli_names_a_results_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = subprocess.run([sys.executable, "-m", "evals", f"results_dir={blocker / 'results'}", "limit=1"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "lampe-eval: error: results_dir=" in result.stderr and "cannot be written" in result.stderr
    assert "Traceback" not in result.stderr
