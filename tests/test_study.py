"""`make study`: pieces x methods become runner runs with scaled counts; a second call resumes
(finished runs are found, nothing is recomputed); bad options name the valid choices."""
from __future__ import annotations

import pytest
import yaml

from evals.run import held_out, study
from tests.fake_benchmark import FakeBenchmark

STUDY = """
model: smollm2
results_dir: {results}
scale: 1.5
threads: null
only: null
searchpath: [file://{extra}]
methods: [original, ntk]
method_overrides:
  ntk: {{factor: 3}}
cost_per_ktoken: {{base: 1.0, per_kcontext: 0.0}}
pieces:
  - {{name: fake, benchmark: fake, set: {{tasks: [alpha, beta]}}, count: {{key: size, value: 3}}}}
  - {{name: other, benchmark: fake, set: {{}}, count: null}}
"""


@pytest.fixture
def folder(tmp_path):
    extra = tmp_path / "extra" / "benchmark"
    extra.mkdir(parents=True)
    (extra / "fake.yaml").write_text("name: fake_runner\nmax_length: null\nsize: 2\ntasks: null\n")
    (tmp_path / "mine.yaml").write_text(STUDY.format(results=tmp_path / "results", extra=extra.parent))
    return tmp_path


def test_jobs_scale_counts_and_apply_method_overrides(folder):
    jobs = study.jobs(study.load_study("mine", ["only=[fake]"], folder))
    assert [(j.piece, j.method) for j in jobs] == [("fake", "original"), ("fake", "ntk")]
    assert "benchmark.size=5" in jobs[0].overrides  # ceil(3 x 1.5)
    assert 'benchmark.tasks=["alpha", "beta"]' in jobs[0].overrides
    assert "method.factor=3" in jobs[1].overrides and "method.factor=3" not in jobs[0].overrides


def test_bad_options_name_the_choices(folder):
    with pytest.raises(ValueError, match="Unknown study 'nope'. Available: mine"):
        study.load_study("nope", [], folder)
    with pytest.raises(ValueError, match=r"only=\['ruler'\]: pieces are fake, other"):
        study.load_study("mine", ["only=[ruler]"], folder)
    with pytest.raises(ValueError, match="scale=0"):
        study.load_study("mine", ["scale=0"], folder)


def test_study_runs_every_job_and_resumes_without_recomputing(folder, loads, capsys):  # noqa: F811
    config = study.load_study("mine", [], folder)
    FakeBenchmark.builds = 0
    dirs = study.run_study(config)
    assert FakeBenchmark.builds == 2  # once per piece: the ETA, every method's preflight and run share it
    assert len(dirs) == 4 and all((d / "metrics.json").exists() for d in dirs)
    assert FakeBenchmark.calls == 2 * 5 + 2 * 2
    out = capsys.readouterr().out
    assert "[study] 1/4 fake / original" in out and "ETA 0h00m (0k prompt tokens" not in out.splitlines()[0]
    assert study.run_study(config) == dirs
    assert FakeBenchmark.calls == 14  # all found finished
    assert "ETA 0h00m (0k prompt tokens" in capsys.readouterr().out


def test_parts_split_the_jobs_and_pieces_may_name_their_methods(folder):
    text = (folder / "mine.yaml").read_text().replace(
        "{name: other, benchmark: fake, set: {}, count: null}",
        "{name: other, benchmark: fake, set: {}, count: null, methods: [ntk]}")
    (folder / "mine.yaml").write_text(text)
    every = [(j.piece, j.method) for j in study.jobs(study.load_study("mine", [], folder))]
    assert every == [("fake", "original"), ("fake", "ntk"), ("other", "ntk")]
    halves = [[(j.piece, j.method) for j in study.jobs(study.load_study("mine", [f"part={i}/2"], folder))]
              for i in (0, 1)]
    assert halves == [[("fake", "original"), ("other", "ntk")], [("fake", "ntk")]]
    for bad in ("2/2", "x", "1/0"):
        with pytest.raises(ValueError, match=f"Invalid study part='?{bad}'?: i/n with 0 <= i < n"):
            study.load_study("mine", [f"part={bad}"], folder)
    # the part's earlier name still splits the jobs the same way
    assert [(j.piece, j.method) for j in study.jobs(study.load_study("mine", ["shard=1/2"], folder))] == halves[1]


def test_unknown_method_names_are_errors_listing_the_methods():
    with pytest.raises(ValueError, match=r"Invalid study methods: \['orig'\]; methods are chunkllama, .*yarn"):
        study.load_study("smollm2", ["methods=[orig]"])


def test_the_cost_model_by_hand_and_the_dry_run(folder, loads, capsys):  # noqa: F811
    # 16384 tokens at (2 + 0.42 x 16.384) s per 1000 tokens = 16.384 x 8.88128 s
    assert study.sample_seconds(16384, {"base": 2.0, "per_kcontext": 0.42}) == pytest.approx(145.51089, abs=1e-4)
    assert study.run_study(study.load_study("mine", ["dry_run=true"], folder)) == []
    out = capsys.readouterr().out  # fake samples of 1000, 2000, 3000 tokens at 1 s per 1000 tokens
    assert "[study] fake / original: 5 samples left, 9k tokens, ~0h00m" in out
    assert "predicted: 0h00m for these 4 jobs in one process" in out
    assert not (folder / "results").exists() or not any((folder / "results").rglob("records.jsonl"))


def test_the_rule_table_comparisons_and_decode_cost(folder, loads, capsys):  # noqa: F811
    text = (folder / "mine.yaml").read_text().replace("methods: [original, ntk]", "methods: [original, ntk, self_extend]")
    text = text.replace("  ntk: {{factor: 3}}".replace("{{", "{").replace("}}", "}"),
                        "  ntk: {rule: published}\n  self_extend: {rule: published}")
    (folder / "mine.yaml").write_text(text + "rule_lengths: [8192, 32768]\ncomparisons: {against: [original]}\n")
    assert study.run_study(study.load_study("mine", ["dry_run=true", "only=[fake]"], folder)) == []
    out = capsys.readouterr().out
    rules = (folder / "results" / "tables" / "rules.md").read_text()
    assert rules in out and "| ntk | NTK-aware alpha = s = L / P" in rules
    assert "| self_extend |" in rules and "G 8, W 1024, covers 58368" in rules  # the LongLM rule at 32k (P = 8192)
    assert "declared comparisons: each method against original" in out
    assert "[study]   fake / alpha: 3 prompts, median 2,000 tokens (range 1,000-3,000)  INSIDE the window" in out
    with pytest.raises(ValueError, match=r"comparisons.against=\['best'\]"):
        study.load_study("mine", ["comparisons.against=[best]"], folder)
    # decode: 100 new tokens at (0.1 + 0.05 x 16.384) s each, on top of the prefill
    cost, decode = {"base": 2.0, "per_kcontext": 0.42}, {"base": 0.1, "per_kcontext": 0.05}
    assert study.sample_seconds(16384, cost, 100, decode) == pytest.approx(145.51089 + 100 * 0.9192, abs=1e-4)


def test_the_study_refuses_a_preset_fitted_on_its_test_samples_in_every_shard(folder, loads, monkeypatch, tmp_path):  # noqa: F811
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "llama3.yaml").write_text(yaml.safe_dump({"preset": "llama3", "samples": [
        {"id": "1", "benchmark": "fake_runner", "keys": [], "role": "fit", "run": "somewhere"}]}))
    monkeypatch.setattr(held_out, "PRESET_DIR", presets)
    text = (folder / "mine.yaml").read_text().replace("methods: [original, ntk]", "methods: [original, lampe]")
    (folder / "mine.yaml").write_text(text.replace("  ntk: {{factor: 3}}".replace("{{", "{").replace("}}", "}"),
                                                   "  lampe: {preset: llama3}"))
    for shard in ("0/2", "1/2"):  # the lampe job sits in one shard; both refuse before running anything
        with pytest.raises(ValueError, match=r"preset 'llama3' was fitted on test sample '1' of fake_runner"):
            study.run_study(study.load_study("mine", [f"shard={shard}", "only=[fake]"], folder))
    assert not any((folder / "results").rglob("records.jsonl"))


def test_the_shipped_study_follows_the_protocol():
    """Every method by its published rule, every piece on the test split, the real tasks past 1.5x the
    window, comparisons against the stock model and LaMPE declared."""
    config = study.load_study("smollm2", [])
    assert all(config["method_overrides"][m] == {"rule": "published"} for m in config["methods"])
    pieces = {p["name"]: p for p in config["pieces"]}
    assert all(p["set"].get("split") == "test" for name, p in pieces.items() if name != "perplexity")
    assert pieces["leval"]["set"]["min_tokens"] >= 1.5 * 8192 and pieces["longbench"]["set"]["min_tokens"] >= 1.5 * 8192
    assert pieces["longbench"]["set"]["max_length"] > 8192
    assert config["comparisons"]["against"] == ["original", "lampe"]
    assert {12288, 16384} <= set(pieces["passkey"]["set"]["lengths"]) and 50 in pieces["passkey"]["set"]["depths"]
