"""LongBench v2 and BABILong through the runner: on the bundled fixtures end to end (a tiny random
model here; the embedded SmolLM2 through the CLI, slow), and without data refused before any load."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from evals.run import runner
from tests.helpers import REPO, cfg_for, read_records, refused

pytestmark = pytest.mark.usefixtures("every_document_is_test")  # the fixture whole (splits: their own tests)

FIXTURES = {"longbench_v2": "tests/fixtures/longbench_v2", "babilong": "tests/fixtures/babilong/data"}


@pytest.fixture
def offline(monkeypatch):
    """No hub: huggingface_hub and datasets answer as they do offline with nothing cached."""
    def refuse(*args, **kwargs):
        raise OSError("offline mode is enabled and nothing is cached")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", refuse)
    monkeypatch.setattr("datasets.load_dataset", refuse)


# LongBench v2 generates 128 tokens a question: seconds each on the tiny model, so it is slow-marked
@pytest.mark.parametrize("name", ["babilong", pytest.param("longbench_v2", marks=pytest.mark.slow)])
def test_fixture_runs_end_to_end_on_a_tiny_model(tmp_path, loads, offline, name):
    metrics = runner.run(cfg_for(tmp_path, f"benchmark={name}", f"benchmark.data_dir={FIXTURES[name]}", "limit=1"))
    run_dir = next((tmp_path / "results" / "smollm2" / "original" / name).iterdir())
    records = read_records(run_dir / "records.jsonl")
    assert len(records) == 1 and records[0]["prompt_format"] == "official"
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics and metrics["num_samples"] == 1
    assert loads == ["smollm2"]


@pytest.mark.parametrize("name", list(FIXTURES))
def test_without_data_the_run_stops_before_loading(tmp_path, loads, offline, name):
    refused(tmp_path, loads, [f"benchmark={name}"], rf"benchmark={name}: .*benchmark.data_dir is not set")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FIXTURES))
def test_cli_on_the_embedded_model(tmp_path, name):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "evals", f"benchmark={name}", f"benchmark.data_dir={FIXTURES[name]}", "method=original",
         "limit=1", f"results_dir={tmp_path}", "progress=false", "threads=1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = next((tmp_path / "smollm2" / "original" / name).iterdir())
    records = read_records(run_dir / "records.jsonl")
    assert len(records) == 1 and records[0]["family"] == "chatml" and isinstance(records[0]["prediction"], str)
    assert json.loads((run_dir / "metrics.json").read_text())["num_samples"] == 1
