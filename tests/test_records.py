"""records.jsonl survives a last line without its newline: kept, and the next record starts anew."""
from __future__ import annotations

import json

from evals.run import runner
from evals.run.plan import make_plan
from evals.run.records import RecordFile
from tests.fake_benchmark import FakeBenchmark
from tests.helpers import make_cfg, read_records


def test_append_after_a_last_line_without_newline(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}))  # complete, no newline
    records = RecordFile.writer(path)
    assert records.done_ids == {"a", "b"}
    records.append({"id": "c"})
    records.close()
    assert [r["id"] for r in RecordFile(path).records] == ["a", "b", "c"]


def crash_after(cfg, records: int) -> None:
    """Run until `records` samples are recorded, then crash as a killed run would."""
    FakeBenchmark.interrupt_after = records
    try:
        runner.run(cfg)
    except KeyboardInterrupt:
        pass
    FakeBenchmark.interrupt_after = None


def test_resume_keeps_a_complete_record_without_newline(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    crash_after(cfg, 3)
    run_dir = make_plan(cfg).run_dir
    path = run_dir / "records.jsonl"
    path.write_text(path.read_text().rstrip("\n"))
    crash_after(cfg, 4)  # one more record, then another crash
    metrics = runner.run(cfg)
    assert [r["id"] for r in read_records(path)] == [str(i) for i in range(6)]
    assert metrics["num_samples"] == 6 and FakeBenchmark.calls == 6


def test_resume_counts_only_its_own_tokens(fake_conf, tmp_path, loads):
    cfg = make_cfg(fake_conf, tmp_path, "method=original")
    crash_after(cfg, 4)
    runner.run(cfg)
    run_dir = make_plan(cfg).run_dir
    resumed = read_records(run_dir / "records.jsonl")[4:]
    status = json.loads((run_dir / "run.json").read_text())
    assert status["prompt_tokens"] == sum(r["prompt_tokens"] for r in resumed) > 0
