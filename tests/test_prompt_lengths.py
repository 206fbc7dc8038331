"""Every table cell's prompt lengths: median [min-max] of its records' prompt_tokens, cells inside
the trained window marked; and tables keep dev runs out of the scores."""
from __future__ import annotations

import pytest

from evals.report import tables
from evals.report.prompt_lengths import INSIDE_MARK, span_of
from tests.test_effective_length import passkey_like


def test_span_is_the_median_and_range_and_marks_a_cell_inside_the_window():
    records = [{"prompt_tokens": n} for n in (9000, 7000, 12000, 8000)]
    span = span_of(records, window=8192)
    assert (span.median, span.low, span.high, span.n, span.inside) == (8500, 7000, 12000, 4, False)
    assert span.text() == "8500 [7000-12000]"
    inside = span_of([{"meta": {"prompt_tokens": 4000}}, {"prompt_tokens": 5001}], window=8192)  # older records: meta
    assert inside.text() == f"4500.5 [4000-5001] {INSIDE_MARK}"
    assert span_of([{"prompt_tokens": 100}], window=None).inside is False  # no window: no claim
    assert span_of([{"id": 1}], window=8192) is None


def test_every_cell_of_a_table_shows_its_prompt_lengths(tmp_path):
    root = tmp_path / "results"
    passkey_like(root, "original", {4096: [1, 1, 0], 12288: [0, 0, 0]})
    tables.write_tables(root, tmp_path / "tables")
    text = (tmp_path / "tables" / "passkey.md").read_text()
    # prompt_tokens are n - 20 - i: 4076, 4075, 4074 and 12268, 12267, 12266
    assert f"| smollm2 | original | 4075 [4074-4076] {INSIDE_MARK} | 12267 [12266-12268] |" in text
    csv = (tmp_path / "tables" / "passkey_prompt_tokens.csv").read_text().splitlines()
    assert csv[0] == "model,method,column,median,min,max,n,inside_window"
    assert "smollm2,original,4096,4075.0,4074,4076,3,True" in csv


def test_dev_runs_never_reach_the_score_tables(tmp_path):
    root = tmp_path / "results"
    passkey_like(root, "original", {4096: [1, 1]})
    passkey_like(root, "lampe", {4096: [0, 0]})
    metrics = root / "smollm2" / "lampe" / "passkey" / "rlampe" / "metrics.json"
    metrics.write_text(metrics.read_text()[:-1] + ', "split": "dev"}')
    tables.write_tables(root, tmp_path / "test")
    assert "lampe" not in (tmp_path / "test" / "passkey.md").read_text()
    tables.write_tables(root, tmp_path / "dev", split="dev")
    assert "original" not in (tmp_path / "dev" / "passkey.md").read_text()
    with pytest.raises(ValueError, match="Invalid split='train': choose one of test, dev"):
        tables.write_tables(root, tmp_path / "x", split="train")
