"""Declared paired comparisons: each method against original and lampe (never the observed best),
Holm-adjusted flags, perplexity ratios over documents (t) or over one document's blocks (moving-block
bootstrap), alignment by unit, and the <benchmark>_paired table that write_tables adds."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from evals.report import tables
from evals.report.intervals import estimate_perplexity, holm, paired_difference
from evals.report.paired import (
    Units,
    compare,
    declared,
    paired_frame,
    perplexity_units,
    resolve_references,
    score_units,
)
from tests.test_intervals import passkey_metrics, write_records
from tests.test_tables import fake_run


def _documents(nlls, tokens=10):
    return Units({f"doc{i}": (float(v), float(tokens)) for i, v in enumerate(nlls)}, "documents")


def _blocks(nlls, tokens=10):
    return Units({i: (float(v), float(tokens)) for i, v in enumerate(nlls)}, "blocks")


def _prompts(scores):
    return Units({f"p{i}": (float(v), 1.0) for i, v in enumerate(scores)})


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 with m = 3: 0.03, 0.04, 0.04 (running max); order kept
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0]) and holm([]) == []


def test_perplexity_ratio_over_documents_is_exact_for_a_constant_shift():
    base = [15.0, 30.0, 22.0, 40.0]
    shifted = [v + 1.0 for v in base]  # +0.1 nll per token on every document of 10 tokens
    c = compare(_documents(shifted), _documents(base), perplexity=True)
    assert c.estimate == pytest.approx(math.exp(0.1)) and c.method == "t over documents"
    assert c.low == pytest.approx(math.exp(0.1)) and c.high == pytest.approx(math.exp(0.1)) and c.p == 0.0


def test_pairing_separates_what_two_separate_intervals_cannot():
    base = [10.0, 35.0, 18.0, 42.0, 25.0, 30.0, 12.0, 38.0]  # documents of very different difficulty
    worse = [v + 0.3 + 0.1 * (i % 2) for i, v in enumerate(base)]  # a bit worse on every document
    a, b = estimate_perplexity(worse, [10] * 8), estimate_perplexity(base, [10] * 8)
    assert a.low < b.high  # the separate intervals overlap
    paired = compare(_documents(worse), _documents(base), perplexity=True)
    assert paired.low > 1.0 and paired.p < 0.001  # the ratio's interval does not


def test_one_document_compares_its_blocks_by_moving_blocks():
    base = [10.0 + (i % 5) for i in range(27)]
    c = compare(_blocks([v + 0.5 for v in base]), _blocks(base), perplexity=True)
    assert c.estimate == pytest.approx(math.exp(0.05)) and "block length 3 blocks, 30 tokens" in c.method
    same = compare(_blocks(base), _blocks(base), perplexity=True)
    assert same.same and same.estimate == 1.0


def test_only_shared_units_count_and_token_counts_must_agree():
    a = _documents([10.0, 20.0, 30.0])
    b = Units({k: v for k, v in _documents([10.0, 20.0, 99.0]).values.items() if k != "doc2"}, "documents")
    assert compare(a, b, perplexity=True).same  # doc2 is a's alone
    with pytest.raises(ValueError, match="different token counts"):
        compare(a, _documents([10.0, 20.0], tokens=11), perplexity=True)
    with pytest.raises(ValueError, match="share no scored units"):
        compare(a, Units({}, "documents"), perplexity=True)


def test_scores_use_paired_difference_in_points():
    a, b = [1, 1, 1, 0, 1, 0], [0, 0, 1, 0, 0, 0]
    c = compare(_prompts(a), _prompts(b), perplexity=False)
    estimate, low, high = paired_difference(a, b)
    assert (c.estimate, c.low, c.high) == pytest.approx((100 * estimate, 100 * low, 100 * high))
    assert c.estimate == pytest.approx(50.0) and c.low < 0 < c.high  # 3 of 3 discordant prompts: not sure
    # no discordant prompt: an open interval, never [0, 0] (the old exact conditional one)
    tie = compare(_prompts([1, 0, 1, 1]), _prompts([1, 0, 1, 1]), perplexity=False)
    assert tie.estimate == 0.0 and tie.low < 0 < tie.high and tie.p == 1.0


def test_units_from_records():
    ppl = [{"id": "essays-8", "task": "perplexity", "meta": {"length": 8, "nll_sum": 5.0, "num_tokens": 8,
                                                              "blocks": [[2.0, 4], [3.0, 4]]}}]
    units = perplexity_units(ppl)["8"]
    assert units.kind == "blocks" and units.values == {0: (2.0, 4.0), 1: (3.0, 4.0)}
    docs = [{"id": f"d{i}-8", "task": "perplexity", "meta": {"length": 8, "document": f"d{i}", "nll_sum": 5.0 + i,
                                                             "num_tokens": 7, "blocks": [[5.0 + i, 7]]}} for i in range(3)]
    units = perplexity_units(docs)["8"]
    assert units.kind == "documents" and units.values == {"d0": (5.0, 7.0), "d1": (6.0, 7.0), "d2": (7.0, 7.0)}
    scored = [{"id": f"p-{n}-{i}", "task": "passkey", "scores": {"accuracy": float(i % 2)}, "meta": {"length": n}}
              for n in (4, 8) for i in range(2)]
    assert set(score_units(scored)) == {"4", "8", "all"}
    assert set(score_units(scored[:2])) == {"4"}  # one length: no `all` column repeating it
    own_lengths = [{"id": f"q{n}", "task": "qasper", "scores": {"qa_f1": 0.5}, "meta": {"length": n}} for n in (819, 2099)]
    assert set(score_units(own_lengths)) == {"all"}  # each prompt's own length (LongBench): no grid


def test_references_are_declared_not_chosen_by_the_results():
    labels = ["original", "pi", "lampe (mapping_length=1024)", "lampe (mapping_length=4096)"]
    methods = {"original": "original", "pi": "pi", "lampe (mapping_length=1024)": "lampe",
               "lampe (mapping_length=4096)": "lampe"}
    found, notes = resolve_references(labels, methods, ("original", "lampe"))
    assert found == ["original"] and "2 rows" in notes[0]  # a sweep: name the lampe row to compare with
    found, _ = resolve_references(labels, methods, ("original", "lampe (mapping_length=4096)"))
    assert declared(labels, found) == [
        ("pi", "original"), ("lampe (mapping_length=1024)", "original"), ("lampe (mapping_length=4096)", "original"),
        ("pi", "lampe (mapping_length=4096)"), ("lampe (mapping_length=1024)", "lampe (mapping_length=4096)")]


def test_the_best_row_is_no_reference_and_flags_are_holm_adjusted():
    rng = np.random.default_rng(0)
    base = list(rng.normal(20.0, 5.0, 12))
    rows = {"original": {"8": _documents([v + 3.0 for v in base])},  # clearly worse than both others
            "pi": {"8": _documents([v - 0.2 + rng.normal(0, 0.01) for v in base])},  # the best, barely
            "lampe": {"8": _documents(base)}}
    table = paired_frame(rows, perplexity=True)
    assert set(table.frames) == {"original", "lampe"}
    assert list(table.frames["original"].index) == ["pi", "lampe"]
    assert list(table.frames["lampe"].index) == ["pi"]  # lampe vs original is shown once
    assert table.frames["original"].loc["lampe", "8"].endswith("*")
    assert len(table.adjusted) == 3
    key = ("pi", "lampe", "8")
    assert table.adjusted[key] >= table.found[key].p  # adjusted upward for the family of three
    assert "best" not in "".join(table.frames["original"].values.ravel())


def ruler_like(root, method, run_id, scores):
    path = fake_run(root, "smollm2", method, "ruler", run_id, {
        "tasks": {f"t{i}": {"4096": 100.0 * v} for i, v in enumerate(scores)},
        "average_per_length": {"4096": 100.0 * sum(scores) / len(scores)},
        "average": 100.0 * sum(scores) / len(scores), "num_samples": len(scores)})
    lines = [json.dumps({"id": f"t{i}-0", "task": f"t{i}", "scores": {"string_match_all": v}, "meta": {"length": 4096}})
             for i, v in enumerate(scores)]
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")


def test_write_tables_adds_the_declared_paired_table(tmp_path):
    root = tmp_path / "results"
    for run_id, method, values in (("a", "original", [0] * 30), ("b", "lampe", [1] * 24 + [0] * 6),
                                   ("c", "ntk", [1] * 22 + [0] * 8)):
        write_records(fake_run(root, "smollm2", method, "passkey", run_id, passkey_metrics(values)), values)
    written = tables.write_tables(root, tmp_path / "tables")
    assert any(p.name == "passkey_paired.md" for p in written["passkey"])
    text = (tmp_path / "tables" / "passkey_paired.md").read_text()
    assert "against original" in text and "against lampe" in text and "Holm" in text and "best (" not in text
    against_original = text.split("against lampe")[0]
    lampe = next(line for line in against_original.splitlines() if "| lampe" in line)
    estimate, low, high = paired_difference([1] * 24 + [0] * 6, [0] * 30)
    assert lampe.split("|")[2].strip() == f"{100 * estimate:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}] *"
    ntk_vs_lampe = next(line for line in text.split("against lampe")[1].splitlines() if "| ntk" in line)
    assert not ntk_vs_lampe.rstrip(" |").endswith("*")  # 22 vs 24 of 30: not told apart
    import pandas as pd

    csv = pd.read_csv(tmp_path / "tables" / "passkey_paired.csv")
    assert set(csv["reference"]) == {"original", "lampe"} and len(csv) == 3
    assert (csv["p_holm"] >= csv["p"]).all()


def test_graded_rows_of_zeros_compare_without_a_pinned_interval(tmp_path):
    root = tmp_path / "results"
    ruler_like(root, "original", "r1", [0.0] * 8)
    ruler_like(root, "lampe", "r2", [0.0] * 8)
    tables.write_tables(root, tmp_path / "tables")
    text = (tmp_path / "tables" / "ruler_paired.md").read_text()
    line = next(line for line in text.splitlines() if "| lampe" in line)
    assert "+0.0 [-" in line and "*" not in line  # open on both sides: eight ties say little
