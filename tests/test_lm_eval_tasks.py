"""`benchmark=lm_eval`: lm-eval tasks through simple_evaluate on an already-loaded model."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import lampe
from evals.benchmarks.common.lm import LanguageModel
from evals.benchmarks.lm_eval_tasks.benchmark import LmEvalTasks, summarize_results
from evals.benchmarks.registry import get_benchmark
from tests.conftest import tiny_llama

FIXTURES = "tests/fixtures/lm_eval_tasks"  # relative to the repo root, as configs write it
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def model(tokenizer):
    model = tiny_llama(vocab_size=len(tokenizer), max_position_embeddings=512, initializer_range=0.1)
    return lampe.apply_method(model, "lampe", local_window=4, initial_tokens=1, mapping_length=8)


def fixture_benchmark(**overrides):
    config = {"tasks": ["lampe_fixture"], "include_path": FIXTURES, "include_defaults": False, "limit": 3,
              "batch_size": 2, **overrides}
    return get_benchmark("lm_eval")(**config)


def test_local_task_runs_end_to_end_through_simple_evaluate(model, tokenizer):
    import lm_eval
    from lm_eval.tasks import TaskManager

    from evals.run.lm_eval_model import LampeLM

    manager = TaskManager(include_path=str(REPO / FIXTURES), include_defaults=False)
    assert {"lampe_fixture", "lampe_fixture_mc", "lampe_fixture_gen"} <= set(manager.all_tasks)
    lm = LampeLM(pretrained=model, tokenizer=tokenizer, batch_size=2)
    results = lm_eval.simple_evaluate(model=lm, tasks=["lampe_fixture"], task_manager=manager, limit=3,
                                      bootstrap_iters=0)
    assert results["n-samples"]["lampe_fixture_mc"] == {"original": 6, "effective": 3}
    mc, gen = results["results"]["lampe_fixture_mc"], results["results"]["lampe_fixture_gen"]
    mc_rows, gen_rows = results["samples"]["lampe_fixture_mc"], results["samples"]["lampe_fixture_gen"]
    assert mc["acc,none"] == pytest.approx(sum(r["acc"] for r in mc_rows) / 3)
    assert len(mc_rows[0]["resps"]) == 4 and all(lp < 0 for (lp, _), in mc_rows[0]["resps"])  # 4 choices scored
    assert gen["exact_match,strip"] == pytest.approx(sum(r["exact_match"] for r in gen_rows) / 3)
    assert all(isinstance(r["filtered_resps"][0], str) for r in gen_rows)
    assert results["config"]["lampe_method"]["name"] == "lampe"


def test_benchmark_writes_lm_evals_results_beside_records_and_metrics(model, tokenizer, tmp_path):
    benchmark = fixture_benchmark()
    assert isinstance(benchmark, LmEvalTasks)
    metrics = benchmark.run_own_loop(LanguageModel(model, tokenizer), tmp_path)

    raw = json.loads((tmp_path / "lm_eval_results.json").read_text())
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert set(metrics["tasks"]) == {"lampe_fixture_mc", "lampe_fixture_gen"}
    assert metrics["tasks"]["lampe_fixture_mc"]["acc"] == raw["results"]["lampe_fixture_mc"]["acc,none"]
    assert metrics["tasks"]["lampe_fixture_gen"]["exact_match,strip"] == raw["results"]["lampe_fixture_gen"][
        "exact_match,strip"]
    expected_average = (metrics["tasks"]["lampe_fixture_mc"]["acc"]
                        + metrics["tasks"]["lampe_fixture_gen"]["exact_match,strip"]) / 2
    assert metrics["average"] == pytest.approx(expected_average)
    assert metrics["num_samples"] == 6 and raw["config"]["limit"] == 3

    records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"lampe_fixture_{t}/{i}" for t in ("gen", "mc") for i in range(3)]
    mc = [r for r in records if r["task"] == "lampe_fixture_mc"]
    assert sum(r["scores"]["acc"] for r in mc) / 3 == pytest.approx(metrics["tasks"]["lampe_fixture_mc"]["acc"])
    assert all(isinstance(r["prediction"], str) for r in records if r["task"] == "lampe_fixture_gen")

    # a rerun in the same directory answers from lm-eval's request cache: same numbers
    assert list(tmp_path.glob("lm_eval_cache*.db"))
    assert benchmark.run_own_loop(LanguageModel(model, tokenizer), tmp_path) == metrics


def test_runner_limit_overrides_config_and_max_length_reaches_lm_eval(model, tokenizer, tmp_path):
    metrics = fixture_benchmark(tasks=["lampe_fixture_mc"]).run_own_loop(
        LanguageModel(model, tokenizer, max_length=128), tmp_path, limit=2)
    raw = json.loads((tmp_path / "lm_eval_results.json").read_text())
    assert metrics["num_samples"] == 2 and raw["max_length"] == 128


def test_config_file_builds_the_benchmark():
    config = yaml.safe_load((REPO / "conf/benchmark/lm_eval.yaml").read_text())
    assert config.pop("name") == "lm_eval"
    config.pop("max_length")
    benchmark = get_benchmark("lm_eval")(**config)
    assert benchmark.tasks == ["lampe_fixture"]
    assert benchmark.include_paths() == [str(REPO / FIXTURES)]


def test_bad_configuration_names_the_problem(tmp_path):
    with pytest.raises(ValueError, match="Unknown lm-eval task 'lampe_fixture_mcq'. Close matches: lampe_fixture_mc"):
        fixture_benchmark(tasks=["lampe_fixture_mcq"]).task_manager()
    with pytest.raises(ValueError, match="Unknown lm_eval option 'task'. Valid: max_length, tasks"):
        get_benchmark("lm_eval")(task=["x"])
    with pytest.raises(ValueError, match=r"Invalid benchmark.tasks=\[\]: give at least one"):
        get_benchmark("lm_eval")(tasks=[])
    with pytest.raises(FileNotFoundError, match="include_path 'no/such/dir' is not a directory"):
        fixture_benchmark(include_path="no/such/dir").task_manager()
    with pytest.raises(ValueError, match="does not shard"):
        fixture_benchmark().run_own_loop(None, tmp_path, shard=(0, 2))
    assert fixture_benchmark(tasks="lampe_fixture_mc, lampe_fixture_gen").tasks == [
        "lampe_fixture_mc", "lampe_fixture_gen"]


def test_summarize_results_separates_groups_and_drops_stderr():
    results = {
        "results": {
            "grp": {"alias": "grp", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "t1": {"alias": " - t1", "acc,none": 0.25, "acc_stderr,none": 0.1, "acc_norm,none": 0.75},
            "t2": {"alias": " - t2", "exact_match,strict-match": 1.0, "exact_match_stderr,strict-match": "N/A",
                   "sample_len": 4},
        },
        "configs": {"t1": {}, "t2": {}},
        "n-samples": {"t1": {"original": 9, "effective": 4}, "t2": {"original": 9, "effective": 4}},
        "lm_eval_version": "0.4.13",
    }
    assert summarize_results(results) == {
        "tasks": {"t1": {"acc": 0.25, "acc_norm": 0.75}, "t2": {"exact_match,strict-match": 1.0}},
        "groups": {"grp": {"acc": 0.5}},
        "average": 0.625,
        "num_samples": 8,
        "source": "lm-eval 0.4.13",
    }


@pytest.mark.slow
def test_embedded_model_with_lampe_on_the_fixture(tmp_path):
    model, tokenizer = lampe.load_model("smollm2", device="cpu")
    lampe.apply_method(model, "lampe", preset="llama3", local_window=8, initial_tokens=2)
    metrics = fixture_benchmark(limit=4, batch_size=4).run_own_loop(LanguageModel(model, tokenizer), tmp_path)
    assert metrics["num_samples"] == 8
    # SmolLM2-135M knows some of these facts: better than the 25% of guessing among four
    assert metrics["tasks"]["lampe_fixture_mc"]["acc_norm"] >= 0.5
