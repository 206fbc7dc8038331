"""95% intervals: hand-computed Wilson bounds, bootstrap sanity, perplexity over documents, the
clear-winner rule, and tables that show intervals and n and bold only a clear winner."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evals.report import figures, tables
from evals.report.cell_intervals import cell_estimate
from evals.report.intervals import clear_winner, estimate_mean, estimate_perplexity, wilson
from evals.report.runs import find_runs
from tests.test_tables import fake_run


def test_wilson_matches_hand_computed_bounds():
    # z = 1.96: 8/10 -> (0.4902, 0.9433); 1/1 -> (z^2/(1+z^2)... ) = (0.2065, 1); 0/1 -> (0, 0.7935)
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)
    assert wilson(0, 1) == pytest.approx((0.0, 0.7935), abs=1e-4)
    with pytest.raises(ValueError, match="n=0"):
        wilson(0, 0)


def test_accuracy_uses_wilson_and_scores_bootstrap():
    acc = estimate_mean([[1, 1, 1, 1, 1, 1, 1, 1, 0, 0]])
    assert acc.method == "wilson" and acc.mean == pytest.approx(80.0) and acc.n == 10
    assert (acc.low, acc.high) == pytest.approx((49.02, 94.33), abs=1e-2)
    f1 = estimate_mean([[0.2, 0.4, 0.6, 0.8]])
    assert f1.method == "bootstrap" and f1.mean == pytest.approx(50.0)
    assert 20.0 <= f1.low < 50.0 < f1.high <= 80.0
    assert estimate_mean([[0.5]]).low is None  # one non-binary sample: no interval, not a zero-width one


def test_mean_of_group_means_is_stratified():
    est = estimate_mean([[1, 1, 1, 0], [0, 0]])  # two tasks: (75 + 0) / 2, not 3/6 pooled
    assert est.mean == pytest.approx(37.5) and est.method == "bootstrap" and est.n == 6
    assert 0.0 <= est.low < 37.5 < est.high <= 50.0  # the second task has no spread: only the first moves
    flat = estimate_mean([[1, 1, 1, 1], [0, 0]])  # no spread inside either group: no zero-width interval
    assert flat.mean == pytest.approx(50.0) and flat.low is None and flat.n == 6


def test_perplexity_is_token_weighted_over_documents():
    # log ppl = 40 / 20 = 2; residuals nll - 2 tokens = -10, +10: se = sqrt(2 / 1 * 200) / 20 = 1, t(1 df)
    est = estimate_perplexity([10.0, 30.0], [10, 10])
    assert est.mean == pytest.approx(math.exp(2.0)) and est.n == 2 and est.method == "t over documents"
    assert (est.low, est.high) == pytest.approx((math.exp(2.0 - 12.7062), math.exp(2.0 + 12.7062)), rel=1e-4)
    five = estimate_perplexity([20.0, 22.0, 18.0, 21.0, 19.0], [10] * 5)
    assert five.mean == pytest.approx(math.exp(2.0))
    assert math.exp(1.8) < five.low < five.mean < five.high < math.exp(2.2)


def test_clear_winner_needs_intervals_that_do_not_overlap():
    high, low, mid = estimate_mean([[1] * 20]), estimate_mean([[0] * 20]), estimate_mean([[1] * 10 + [0] * 10])
    assert clear_winner([low, high]) == 1
    assert clear_winner([mid, estimate_mean([[1] * 11 + [0] * 9])]) is None  # a tie
    assert clear_winner([high, low], lower=True) == 1
    assert clear_winner([high]) is None


def test_a_cell_gets_an_interval_only_when_its_records_reproduce_it():
    records = [{"task": "t", "scores": {"acc": v}, "meta": {"length": 1024}} for v in (1, 0, 1, 1)]
    assert cell_estimate(records, 75.0).mean == pytest.approx(75.0)
    assert cell_estimate(records, 60.0) is None


def write_records(path, values, task="passkey", length=8192):
    lines = [json.dumps({"id": str(i), "task": task, "scores": {"accuracy": float(v)},
                         "meta": {"length": length, "depth": 50.0}}) for i, v in enumerate(values)]
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")


def passkey_metrics(values, length=8192):
    score = 100.0 * sum(values) / len(values)
    return {"metric": "accuracy", "grid": {str(length): {"50": score}}, "lengths": {str(length): score},
            "depths": {"50": score}, "average": score, "metrics": {"accuracy": score}, "num_samples": len(values)}


@pytest.mark.parametrize("second, bold", [([0] * 20, True), ([1] * 17 + [0] * 3, False)])
def test_tables_show_intervals_and_bold_only_a_clear_winner(tmp_path, second, bold):
    root = tmp_path / "results"
    first = [1] * 20
    for run_id, method, values in (("a", "original", second), ("b", "lampe", first)):
        write_records(fake_run(root, "smollm2", method, "passkey", run_id, passkey_metrics(values)), values)
    text = tables.sweep_table(sorted(root.glob("smollm2/*/passkey/*")))
    lampe_row = next(line for line in text.splitlines() if "| lampe" in line)
    assert "100.0 [83.9, 100.0]" in lampe_row and lampe_row.rstrip(" |").endswith("20")
    assert ("**100.0 [83.9, 100.0]**" in lampe_row) is bold
    assert "95% interval" in text
    written = tables.write_tables(root, tmp_path / "tables")
    assert any(p.name == "passkey_intervals.csv" for p in written["passkey"])
    latex = (tmp_path / "tables" / "passkey.tex").read_text()
    assert (r"\textbf{100.0}" in latex) is bold and r"\scriptsize [83.9, 100.0]" in latex
    assert len(find_runs(root)) == 2


def test_length_curves_get_their_interval_as_a_band(tmp_path):
    root = tmp_path / "results"
    values = [1] * 8 + [0] * 2
    write_records(fake_run(root, "smollm2", "lampe", "passkey", "a", passkey_metrics(values)), values)
    (run,) = find_runs(root)
    assert figures._length_bands(run, lower=False) == {8192: pytest.approx((49.02, 94.33), abs=1e-2)}
    png = figures.plot_benchmark("passkey", [run], tmp_path / "plots")
    assert any(p.name == "passkey_vs_length.png" for p in png)


def test_one_document_perplexity_resamples_its_windows():
    sums = [20.0, 10.0, 30.0, 20.0, 25.0, 15.0, 20.0, 20.0]  # nll sums per window of 10 tokens: ppl exp(2)
    windows = [[v, 10] for v in sums]
    record = {"task": "perplexity", "scores": {"perplexity": math.exp(2.0)},
              "meta": {"length": 10, "nll_sum": 160.0, "num_tokens": 80, "windows": windows}}
    est = cell_estimate([record], math.exp(2.0), lower=True)
    assert est.n == 8 and est.method.startswith("moving-block bootstrap over one document's windows")
    assert "block length 2 windows" in est.method  # ceil(8^(1/3)) = 2
    assert math.exp(1.0) <= est.low < math.exp(2.0) < est.high <= math.exp(3.0)
    assert cell_estimate([record], 5.0, lower=True) is None  # records that do not reproduce the cell


def test_one_window_perplexity_resamples_its_blocks():
    blocks = [[10.0, 10], [20.0, 10], [30.0, 10], [20.0, 10]]  # ppl exp(80 / 40) = exp(2)
    record = {"task": "perplexity", "scores": {"perplexity": math.exp(2.0)},
              "meta": {"length": 40, "nll_sum": 80.0, "num_tokens": 40, "windows": [[80.0, 40]], "blocks": blocks}}
    est = cell_estimate([record], math.exp(2.0), lower=True)
    assert est.n == 4 and est.method.startswith("moving-block bootstrap over one document's blocks")
    assert "block length 2 blocks, 20 tokens" in est.method  # ceil(4^(1/3)) = 2 blocks of 10 tokens
    assert math.exp(1.0) <= est.low < math.exp(2.0) < est.high <= math.exp(3.0)
    no_blocks = {**record, "meta": {k: v for k, v in record["meta"].items() if k != "blocks"}}
    assert cell_estimate([no_blocks], math.exp(2.0), lower=True).n == 1  # one window, no interval


def test_a_graded_score_of_zero_is_not_a_wilson_count():
    """LongBench's F1 / ROUGE / code similarity give partial credit: one sample scoring 0 (or 1) has
    no interval, while one passkey miss is Wilson's 0 of 1 = [0, 79.3]."""
    f1 = [{"task": "hotpotqa", "scores": {"qa_f1": 0.0}, "meta": {}}]
    assert cell_estimate(f1, 0.0, "qa_f1").low is None
    code = [{"task": "lcc", "scores": {"code_sim": 1.0}, "meta": {}}]
    assert cell_estimate(code, 100.0).low is None  # the metric named by the record itself
    miss = [{"task": "passkey", "scores": {"accuracy": 0.0}, "meta": {}}]
    est = cell_estimate(miss, 0.0, "accuracy")
    assert (est.low, round(est.high, 1)) == (0.0, 79.3)


def test_moving_blocks_widen_the_interval_of_correlated_pieces():
    """One document's pieces drift together (lag-1 correlation 0.9 here, up to 0.98 in real text at
    32k): resampling them one by one, as if independent, gives too narrow an interval."""
    from evals.report.intervals import _bootstrap, block_length

    rng = np.random.default_rng(0)
    level, nll = 0.0, []
    for _ in range(64):
        level = 0.9 * level + rng.normal()
        nll.append(1024 * (3.0 + 0.2 * level))
    est = estimate_perplexity(nll, [1024] * 64, unit="blocks")
    pairs = np.stack([nll, [1024.0] * 64], axis=1)
    iid = _bootstrap(lambda d: np.exp(d[0][..., 0].sum(1) / d[0][..., 1].sum(1)), [pairs], 2000, 0)
    assert "block length 4 blocks, 4096 tokens" in est.method
    assert est.high - est.low > 1.3 * (iid[1] - iid[0])
    assert [block_length(m) for m in (1, 4, 8, 16, 27, 32)] == [1, 2, 2, 3, 3, 4]


def test_wilson_is_decided_by_the_metric_not_by_the_values():
    """RULER's string_match_all is the share of needles found: a row of zeros is graded, no success
    count, and gets no Wilson interval (nor a zero-width bootstrap); the same zeros under passkey's
    accuracy are 0 of 8 (Wilson). L-Eval's sci_fi exact_match averages two judgements."""
    zeros = [{"task": f"t{i}", "scores": {"string_match_all": 0.0}, "meta": {}} for i in range(8)]
    assert cell_estimate(zeros, 0.0).low is None
    mixed = [{"task": f"t{i}", "scores": {"string_match_all": float(i % 2)}, "meta": {}} for i in range(8)]
    assert cell_estimate(mixed, 50.0).method == "bootstrap"
    misses = [{"task": "passkey", "scores": {"accuracy": 0.0}, "meta": {}} for _ in range(8)]
    assert cell_estimate(misses, 0.0).method == "wilson"
    leval = [{"task": task, "scores": {"exact_match": v}, "meta": {}} for task, v in
             (("coursera", 1.0), ("sci_fi", 1.0), ("tpo", 0.0), ("quality", 1.0))]
    assert cell_estimate(leval, 75.0).method == "bootstrap"  # sci_fi's 1.0 is two judgements right
    assert cell_estimate(leval[:1] + leval[2:], 200 / 3).method == "wilson"
