"""RULER's effective length: the rule by hand, its bootstrap interval's coverage simulated, and the
column it adds to the tables."""
from __future__ import annotations

import json

import numpy as np
import pytest

from evals.report import tables
from evals.report.effective_length import RULER_THRESHOLD, bootstrap_effective_length, effective_length
from tests.test_tables import fake_run


def test_the_longest_length_up_to_which_every_length_keeps_the_threshold():
    scores = {4096: 90.0, 8192: 85.6, 16384: 80.0, 32768: 95.0}
    assert RULER_THRESHOLD == 85.6
    assert effective_length(scores) == 8192  # 85.6 counts; the lucky 32k after a failed 16k does not
    assert effective_length(scores, threshold=79.0) == 32768
    assert effective_length(scores, threshold=91.0) == 0  # below at the shortest
    assert effective_length({8192: 85.59, 4096: 99.0}) == 4096  # lengths in any order


def test_a_clear_pass_then_a_clear_fail_gives_a_point_interval():
    cells = {4096: ([[1.0] * 10], 100.0), 8192: ([[0.0] * 10], 100.0)}
    found = bootstrap_effective_length(cells)
    assert (found.mean, found.low, found.high, found.n) == (4096, 4096, 4096, 20)


def test_groups_are_averaged_as_the_table_averages_them():
    # two tasks at 8k: 100 and 60 -> 80 < 85.6, though 13 of 15 samples pass (86.7 pooled)
    cells = {4096: ([[1.0] * 5, [1.0] * 5], 100.0), 8192: ([[1.0] * 10, [1.0] * 3 + [0.0] * 2], 100.0)}
    assert bootstrap_effective_length(cells).mean == 4096


@pytest.mark.parametrize("rates, n", [
    ([0.97, 0.93, 0.6, 0.2], 30),    # a clear edge
    ([0.97, 0.87, 0.6, 0.2], 30),    # just above the threshold at 8k
    ([0.97, 0.84, 0.6, 0.2], 30),    # just below it at 8k
    ([0.99, 0.95, 0.92, 0.3], 30),
    ([0.95, 0.9, 0.88, 0.86], 100),  # every length barely passing
])
def test_the_interval_covers_the_true_effective_length_at_n_30_and_more(rates, n):
    """The true effective length follows from the success rates; simulated runs of n samples per
    length must hold it inside their 95% interval at least 93% of the time. (At n = 10 with every
    rate at the threshold it covers only ~77%: the tables print n beside every interval.)"""
    lengths = [4096, 8192, 16384, 32768]
    truth = effective_length({n_: 100 * p for n_, p in zip(lengths, rates)})
    rng = np.random.default_rng(7)
    sims, hits = 150, 0
    for s in range(sims):
        cells = {length: ([list((rng.random(n) < p).astype(float))], 100.0) for length, p in zip(lengths, rates)}
        found = bootstrap_effective_length(cells, reps=1000, seed=s)
        hits += found.low <= truth <= found.high
    assert hits / sims >= 0.93


def passkey_like(root, method, passes: dict[int, list[int]], window=8192):
    lengths = {str(n): 100.0 * sum(v) / len(v) for n, v in passes.items()}
    metrics = {"metric": "accuracy", "lengths": lengths, "average": sum(lengths.values()) / len(lengths),
               "num_samples": sum(len(v) for v in passes.values())}
    path = fake_run(root, "smollm2", method, "passkey", "r" + method, metrics)
    config = path / "config.yaml"
    config.write_text(config.read_text().replace("name: smollm2", f"name: smollm2\n  pretraining_length: {window}", 1))
    lines = [json.dumps({"id": f"{n}-{i}", "task": "passkey", "prompt_tokens": n - 20 - i, "scores": {"accuracy": float(v)},
                         "meta": {"length": n, "depth": 50}}) for n, values in passes.items() for i, v in enumerate(values)]
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")


def test_tables_state_each_method_s_effective_length_and_the_summary_has_its_column(tmp_path):
    root = tmp_path / "results"
    passkey_like(root, "original", {4096: [1] * 4, 12288: [0] * 4})
    passkey_like(root, "lampe", {4096: [1] * 4, 12288: [1] * 4})
    written = tables.write_tables(root, tmp_path / "tables", threshold=85.6)
    text = (tmp_path / "tables" / "passkey.md").read_text()
    assert "| smollm2 | original | 4096 [4096, 4096] | 8 |" in text
    assert "| smollm2 | lampe | 12288 [12288, 12288] | 8 |" in text
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "passkey eff. length (k)" in summary and "**12.0 [12.0, 12.0]** (n=8)" in summary  # clear of 4k: bold
    assert "summary" in written
    tables.write_tables(root, tmp_path / "strict", threshold=100.1)  # configurable: nothing reaches it
    assert "| smollm2 | lampe | 0 [0, 0] | 8 |" in (tmp_path / "strict" / "passkey.md").read_text()
