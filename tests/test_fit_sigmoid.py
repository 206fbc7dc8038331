"""scripts/fit_sigmoid.py recovers a known sigmoid and reads the best mapping length from runs."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lampe import PRESETS, mapping_length

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "fit_sigmoid.py"
spec = importlib.util.spec_from_file_location("fit_sigmoid", SCRIPT)
fit_sigmoid = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fit_sigmoid)


@pytest.mark.parametrize("preset, window", [("llama2", 4096), ("llama3", 8192), ("mistral", 32768)])
def test_recovers_known_parameters_from_floored_points(preset, window):
    a, b, c = PRESETS[preset]
    lengths = np.linspace(window, 16 * window, 12).astype(int)
    best = [mapping_length(int(n), a, b, c) for n in lengths]
    fa, fb, fc = fit_sigmoid.fit_sigmoid(lengths, best)
    assert fa == pytest.approx(a, rel=0.01) and fb == pytest.approx(b, abs=0.01) and fc == pytest.approx(c, rel=0.001)
    assert np.abs(fit_sigmoid.mapping_lengths(lengths, fa, fb, fc) - best).max() <= 1
    # the vectorized floor agrees with the method's own mapping_length
    assert fit_sigmoid.mapping_lengths([20000], a, b, c)[0] == mapping_length(20000, a, b, c)


def test_cli_reads_a_csv_and_rejects_bad_ones(tmp_path, capsys):
    a, b, c = 2e-4, -3.0, 5000.0
    lengths = list(range(8000, 64001, 8000))
    table = tmp_path / "best.csv"
    table.write_text("length,best_mapping_length\n" + "".join(f"{n},{mapping_length(n, a, b, c)}\n" for n in lengths))
    result = fit_sigmoid.main([str(table)])
    assert result["c"] == pytest.approx(c, rel=0.01) and result["a"] == pytest.approx(a, rel=0.05)
    assert "preset line" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("length,U\n1,2\n")
    with pytest.raises(ValueError, match="missing column.*best_mapping_length"):
        fit_sigmoid.main([str(bad)])
    with pytest.raises(ValueError, match=">= 3 distinct lengths"):
        fit_sigmoid.fit_sigmoid([1000, 1000, 2000], [10, 10, 20])


def _fake_sweep_run(root: Path, run_id: str, u: int, score_at: dict[int, float], split: str = "dev") -> None:
    path = root / "smollm2" / "lampe" / "passkey" / run_id
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump({"method": {"name": "lampe", "mapping_length": u}}))
    records = [{"id": f"{n}", "task": "passkey", "prompt_tokens": n + 17, "scores": {"acc": s}, "meta": {"length": n},
                "split": split, "content_keys": [f"passkey:{n}"]} for n, s in score_at.items()]
    (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "metrics.json").write_text(json.dumps({"average": 0.0, "tasks": {}}))


def test_best_mapping_length_per_length_from_a_sweep(tmp_path):
    _fake_sweep_run(tmp_path, "aaa", 1024, {8192: 1.0, 16384: 0.0, 32768: 0.0})
    _fake_sweep_run(tmp_path, "bbb", 2048, {8192: 1.0, 16384: 1.0, 32768: 0.0})
    _fake_sweep_run(tmp_path, "ccc", 4096, {8192: 1.0, 16384: 1.0, 32768: 1.0})
    best = fit_sigmoid.best_from_results(tmp_path, "smollm2", "passkey")
    # 8192: all three tie -> the median 2048; 16384: 2048 and 4096 tie -> the lower median 2048
    assert best == {8192: 2048, 16384: 2048, 32768: 4096}
    with pytest.raises(ValueError, match="no finished lampe runs"):
        fit_sigmoid.best_from_results(tmp_path, "llama2", "passkey")


def test_a_perplexity_sweep_picks_the_lowest_token_weighted_perplexity(tmp_path):
    def run(run_id, u, nll_at):
        path = tmp_path / "smollm2" / "lampe" / "perplexity" / run_id
        path.mkdir(parents=True)
        (path / "config.yaml").write_text(yaml.safe_dump({"method": {"name": "lampe", "mapping_length": u}}))
        records = [{"id": f"doc-{n}-{k}", "task": "perplexity", "prompt_tokens": n, "split": "dev",
                    "scores": {"perplexity": float(np.exp(nll / tokens))},
                    "meta": {"length": n, "nll_sum": nll, "num_tokens": tokens}}
                   for n, windows in nll_at.items() for k, (nll, tokens) in enumerate(windows)]
        (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (path / "metrics.json").write_text(json.dumps({"tasks": {}}))

    # at 16384 U=1024 has the lower mean of per-record perplexities (exp 1 and exp 3.2 -> 13.6 vs
    # exp 2.1 x2 -> 8.2 is U=2048's), but over all tokens: 1024 -> (10 + 320)/110 = 3.0; 2048 -> 2.1
    run("a", 1024, {8192: [(20.0, 10)], 16384: [(10.0, 10), (320.0, 100)]})
    run("b", 2048, {8192: [(30.0, 10)], 16384: [(21.0, 10), (210.0, 100)]})
    assert fit_sigmoid.best_from_results(tmp_path, "smollm2", "perplexity") == {8192: 1024, 16384: 2048}


def test_plot_and_half_refits(tmp_path):
    a, b, c = PRESETS["llama3"]
    lengths = list(range(8192, 8192 * 8, 8192))
    best = [mapping_length(n, a, b, c) for n in lengths]
    halves = fit_sigmoid.half_refits(lengths, best)
    assert [name for name, _ in halves] == ["even-indexed lengths", "odd-indexed lengths"]  # 4 and 3 lengths
    assert halves[0][1][2] == pytest.approx(c, rel=0.01)
    png = fit_sigmoid.plot_fit(lengths, best, (a, b, c), tmp_path / "fit.png", "test", halves)
    assert png.stat().st_size > 1000


def test_a_named_score_is_read_from_the_record_meta(tmp_path):
    """passkey's answer_logprob sits in meta: the best U maximizes its mean, not the accuracy."""
    def run(run_id, u, logprob_at):
        path = tmp_path / "smollm2" / "lampe" / "passkey" / run_id
        path.mkdir(parents=True)
        (path / "config.yaml").write_text(yaml.safe_dump({"method": {"name": "lampe", "mapping_length": u}}))
        records = [{"id": f"{n}-{k}", "task": "passkey", "prompt_tokens": n, "scores": {"accuracy": 0.0},
                    "meta": {"length": n, "answer_logprob": lp}, "split": "dev"}
                   for n, values in logprob_at.items() for k, lp in enumerate(values)]
        (path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        (path / "metrics.json").write_text(json.dumps({"tasks": {}}))

    run("a", 1024, {8192: [-1.0, -3.0], 16384: [-9.0]})   # means -2.0, -9.0
    run("b", 2048, {8192: [-2.5, -2.0], 16384: [-4.0]})   # means -2.25, -4.0
    assert fit_sigmoid.best_from_results(tmp_path, "smollm2", "passkey", "answer_logprob") == {8192: 1024, 16384: 2048}
    with pytest.raises(ValueError, match="has no score or meta value 'recall'"):
        fit_sigmoid.best_from_results(tmp_path, "smollm2", "passkey", "recall")


def test_the_smollm2_presets_are_the_fits_of_their_committed_sweeps():
    """PRESETS["smollm2"] (retrieval) and ["smollm2_perplexity"] refit from the best-U tables the
    study committed; a preset edited by hand, or a table changed without refitting, fails here."""
    study = Path(__file__).resolve().parent.parent / "results" / "study"
    for preset, table in (("smollm2", "sigmoid_fit_passkey.csv"), ("smollm2_perplexity", "sigmoid_fit.csv")):
        lengths, best = fit_sigmoid.read_table(study / table)
        fitted = fit_sigmoid.fit_sigmoid(lengths, best, c_max=8192)
        assert fit_sigmoid.mapping_lengths(lengths, *fitted).tolist() == \
            fit_sigmoid.mapping_lengths(lengths, *PRESETS[preset]).tolist(), preset
        assert np.allclose(fitted, PRESETS[preset], rtol=1e-3), preset
