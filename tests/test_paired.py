"""Paired differences: hand-computed exact intervals for 0/1 scores, perplexity ratios over shared
blocks (narrower than two separate intervals when the blocks' spread is shared), alignment by unit,
and the <benchmark>_paired table that write_tables adds."""
from __future__ import annotations

import math

import pytest

from evals import tables
from evals.intervals import estimate_perplexity
from evals.paired import Units, difference, paired_binary, paired_frame, perplexity_units, score_units
from tests.test_intervals import passkey_metrics, write_records
from tests.test_tables import fake_run


def test_paired_binary_is_the_exact_conditional_interval():
    # 0 wins, 3 losses of 3: Clopper-Pearson of 0/3 is [0, 1 - 0.025^(1/3)] = [0, 0.7076]
    # -> difference (2p - 1) * 3/3: [-100, +41.5]; mean -100. 3 of 3 one way is not "clear".
    est = paired_binary(0, 3, 3)
    assert est.mean == pytest.approx(-100.0)
    assert (est.low, est.high) == pytest.approx((-100.0, 100 * (2 * (1 - 0.025 ** (1 / 3)) - 1)), abs=1e-6)
    assert est.high > 0
    # 6 of 6 one way: lower bound 0.025^(1/6) = 0.5407 -> +8.1 points: clear (exact test p = 0.031)
    six = paired_binary(6, 0, 6)
    assert six.low == pytest.approx(100 * (2 * 0.025 ** (1 / 6) - 1), abs=1e-6) and six.low > 0
    # 2 wins, 1 loss among 10 prompts: mean +10; the share's interval is scaled by k/n = 3/10
    mixed = paired_binary(2, 1, 10)
    assert mixed.mean == pytest.approx(10.0) and -30.0 <= mixed.low < 0 < mixed.high <= 30.0
    assert paired_binary(0, 0, 4).low == paired_binary(0, 0, 4).high == 0.0
    with pytest.raises(ValueError, match="wins=3, losses=2, n=4"):
        paired_binary(3, 2, 4)


def _blocks(nlls, tokens=10):
    return Units({("doc", i): ("perplexity", float(v), float(tokens)) for i, v in enumerate(nlls)})


def test_perplexity_ratio_is_exact_for_a_constant_shift():
    base = [15.0, 30.0, 22.0, 40.0]
    shifted = [v + 1.0 for v in base]  # +0.1 nll per token on every block of 10 tokens
    est = difference(_blocks(shifted), _blocks(base), perplexity=True)
    assert est.mean == pytest.approx(math.exp(0.1))
    assert est.low == pytest.approx(math.exp(0.1)) and est.high == pytest.approx(math.exp(0.1))


def test_pairing_separates_what_two_separate_intervals_cannot():
    base = [10.0, 35.0, 18.0, 42.0, 25.0, 30.0, 12.0, 38.0]  # blocks of very different difficulty
    worse = [v + 0.3 + 0.1 * (i % 2) for i, v in enumerate(base)]  # a bit worse on every block
    a = estimate_perplexity(worse, [10] * 8, unit="blocks")
    b = estimate_perplexity(base, [10] * 8, unit="blocks")
    assert a.low < b.high  # the separate intervals overlap
    paired = difference(_blocks(worse), _blocks(base), perplexity=True)
    assert paired.low > 1.0  # the ratio's interval does not


def test_only_shared_units_count_and_token_counts_must_agree():
    a = _blocks([10.0, 20.0, 30.0])
    b = Units({k: v for k, v in _blocks([10.0, 20.0, 99.0]).values.items() if k != ("doc", 2)})
    assert difference(a, b, perplexity=True).mean == pytest.approx(1.0)  # block 2 is a's alone
    other_text = _blocks([10.0, 20.0], tokens=11)
    with pytest.raises(ValueError, match="different token counts"):
        difference(a, other_text, perplexity=True)
    with pytest.raises(ValueError, match="share no scored units"):
        difference(a, Units({}), perplexity=True)


def test_units_from_records():
    ppl = [{"id": "essays-8", "task": "perplexity", "meta": {"length": 8, "nll_sum": 5.0, "num_tokens": 8,
                                                              "blocks": [[2.0, 4], [3.0, 4]]}}]
    assert perplexity_units(ppl)["8"].values == {("essays-8", 0): ("perplexity", 2.0, 4.0),
                                                 ("essays-8", 1): ("perplexity", 3.0, 4.0)}
    scored = [{"id": f"p-{n}-{i}", "task": "passkey", "scores": {"accuracy": float(i % 2)}, "meta": {"length": n}}
              for n in (4, 8) for i in range(2)]
    assert set(score_units(scored)) == {"4", "8", "all"}
    assert set(score_units(scored[:2])) == {"4"}  # one length: no `all` column repeating it
    own_lengths = [{"id": f"q{n}", "task": "qasper", "scores": {"qa_f1": 0.5}, "meta": {"length": n}} for n in (819, 2099)]
    assert set(score_units(own_lengths)) == {"all"}  # each prompt's own length (LongBench): no grid
    no_length = [{"id": "q", "task": "qasper", "scores": {"qa_f1": 0.5}, "meta": {}}]
    assert set(score_units(no_length)) == {"all"}


def test_graded_scores_with_one_prompt_per_task_resample_all_prompts():
    a = Units({f"t{i}": (f"task{i}", v, 1.0) for i, v in enumerate([0.5, 0.4, 0.7, 0.2])})
    b = Units({f"t{i}": (f"task{i}", v, 1.0) for i, v in enumerate([0.3, 0.4, 0.1, 0.2])})
    est = difference(a, b, perplexity=False)
    assert est.mean == pytest.approx(20.0) and est.low is not None and 0.0 <= est.low <= est.high <= 60.0


def test_frame_marks_the_best_and_what_it_clearly_beats():
    rows = {"original": {"8": _blocks([v + 2.0 for v in range(10, 30, 2)])},
            "lampe": {"8": _blocks(list(range(10, 30, 2)))},
            "pi": {"8": _blocks(list(range(10, 30, 2)))}}
    frame, found = paired_frame(rows, perplexity=True)
    assert frame.loc["lampe", "8"].startswith("best") or frame.loc["pi", "8"].startswith("best")
    assert frame.loc["original", "8"].endswith("*") and found[("original", "8")].mean == pytest.approx(math.exp(0.2))
    assert "same" in {frame.loc["lampe", "8"], frame.loc["pi", "8"]}


def test_write_tables_adds_the_paired_table(tmp_path):
    root = tmp_path / "results"
    for run_id, method, values in (("a", "original", [0] * 6), ("b", "lampe", [1] * 6)):
        write_records(fake_run(root, "smollm2", method, "passkey", run_id, passkey_metrics(values)), values)
    written = tables.write_tables(root, tmp_path / "tables")
    assert any(p.name == "passkey_paired.md" for p in written["passkey"])
    text = (tmp_path / "tables" / "passkey_paired.md").read_text()
    original = next(line for line in text.splitlines() if "| original" in line)
    assert "-100.0 [-100.0, -8.1] *" in original  # 0 of 6 won: 2 (1 - 0.025^(1/6)) - 1 = -0.0815
    assert "best (100.0)" in text and "McNemar" in text
