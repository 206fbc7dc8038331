"""The cross-benchmark summary (results/tables/summary.*): one headline column per benchmark, cells
identical to the per-benchmark tables' own, bold only for a clear winner, none for one benchmark."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from evals.report import tables
from tests.test_intervals import passkey_metrics, write_records
from tests.test_tables import fake_run


def perplexity_run(root, method: str, nll_per_token: dict[int, list[float]], run_id: str, model: str = "smollm2"):
    """A perplexity run with records: per length, one document of 100 tokens per nll/token value."""
    values, lines = {}, []
    for length, per_token in nll_per_token.items():
        values[str(length)] = math.exp(sum(per_token) / len(per_token))  # equal tokens: token-weighted mean
        lines += [json.dumps({"id": f"{length}-{i}", "task": "perplexity", "scores": {"perplexity": math.exp(x)},
                              "meta": {"length": length, "nll_sum": 100 * x, "num_tokens": 100}})
                  for i, x in enumerate(per_token)]
    path = fake_run(root, model, method, "perplexity", run_id, {
        "perplexity": values, "nll": {}, "num_tokens": {}, "documents": {}, "tasks": {"perplexity": values},
        "num_samples": len(lines)})
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")


def passkey_run(root, method: str, values: list[int], run_id: str, model: str = "smollm2"):
    write_records(fake_run(root, model, method, "passkey", run_id, passkey_metrics(values)), values)


def markdown_rows(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header, {method: cells}) of a one-model Markdown table."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return split[0], {row[1]: row for row in split[2:]}


LOW, HIGH = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95], [3.0, 3.1, 2.9, 3.0, 3.05, 2.95]


@pytest.fixture(params=["clear", "tie"])
def summary(request, tmp_path):
    """One model, three methods: passkey for all, perplexity for two (ntk has none). "clear": lampe
    wins both columns with room to spare; "tie": its intervals overlap the runner-up's."""
    clear = request.param == "clear"
    root = tmp_path / "results"
    passkey_run(root, "original", [0] * 20, "a")
    passkey_run(root, "ntk", [0] * 20 if clear else [1] * 17 + [0] * 3, "b")
    passkey_run(root, "lampe", [1] * 20, "c")
    # at 2048 original is the better one: the summary must read 8192, the longest length
    perplexity_run(root, "original", {2048: [0.5] * 6, 8192: HIGH if clear else [1.0, 1.2, 0.8, 1.1, 1.0, 0.9]}, "p")
    perplexity_run(root, "lampe", {2048: [2.0] * 6, 8192: LOW}, "q")
    written = tables.write_tables(root, tmp_path / "tables")
    return clear, tmp_path / "tables", written


def test_summary_has_a_headline_column_per_benchmark(summary):
    _, out, written = summary
    assert {p.name for p in written["summary"]} == {"summary.md", "summary.tex", "summary.csv",
                                                   "summary_intervals.csv"}
    csv = pd.read_csv(out / "summary.csv", index_col=[0, 1])
    assert list(csv.columns) == ["passkey", "perplexity@8192"]
    assert list(csv.index) == [("smollm2", "original"), ("smollm2", "ntk"), ("smollm2", "lampe")]
    assert csv.loc[("smollm2", "lampe"), "perplexity@8192"] == pytest.approx(math.exp(1.0))  # not 2048's exp(2)
    assert csv.loc[("smollm2", "lampe"), "passkey"] == 100.0
    assert pd.isna(csv.loc[("smollm2", "ntk"), "perplexity@8192"])  # ntk has no perplexity run
    intervals = pd.read_csv(out / "summary_intervals.csv")
    assert set(intervals["column"]) == {"passkey", "perplexity@8192"} and set(intervals["n"]) == {20, 6}


def test_summary_cells_are_the_per_benchmark_tables_cells(summary):
    _, out, _ = summary
    header, rows = markdown_rows((out / "summary.md").read_text())
    assert header == ["model", "method", "passkey", "perplexity@8192"]
    _, passkey = markdown_rows((out / "passkey.md").read_text())
    ppl_header, ppl = markdown_rows((out / "perplexity.md").read_text())
    at_8k = ppl_header.index("8k")
    for method in ("original", "ntk", "lampe"):
        assert rows[method][2] == f"{passkey[method][-2]} (n=20)"  # passkey's average column (then n)
    for method in ("original", "lampe"):
        assert rows[method][3] == f"{ppl[method][at_8k]} (n=6)"
    assert rows["ntk"][3] == "-"
    assert rows["lampe"][2].startswith("100.0 [83.9, 100.0]") or rows["lampe"][2].startswith("**100.0 [83.9, 100.0]**")


def test_summary_bolds_only_a_clear_winner_per_column(summary):
    clear, out, _ = summary
    _, rows = markdown_rows((out / "summary.md").read_text())
    bold = {(method, column) for method, row in rows.items() for column, cell in zip((2, 3), row[2:4])
            if cell.startswith("**")}
    # lampe: 20/20 vs 0/20 (clear) or 17/20 (tie); perplexity e^1 vs e^3 (clear) or about e^1 (tie), lower wins
    assert bold == ({("lampe", 2), ("lampe", 3)} if clear else set())
    latex = (out / "summary.tex").read_text()
    lampe = next(line for line in latex.splitlines() if "& lampe &" in line)
    assert lampe.count(r"\textbf") == (2 if clear else 0)
    assert "lower is better" in (out / "summary.md").read_text()


def test_no_summary_without_a_model_on_two_benchmarks(tmp_path):
    root = tmp_path / "results"
    passkey_run(root, "original", [0] * 4, "a")
    passkey_run(root, "lampe", [1] * 4, "b")
    written = tables.write_tables(root, tmp_path / "tables")
    assert "summary" not in written and not (tmp_path / "tables" / "summary.md").exists()
    # two benchmarks, but each model ran only one of them: nothing to put side by side
    perplexity_run(root, "original", {2048: LOW}, "p", model="llama2")
    written = tables.write_tables(root, tmp_path / "tables2")
    assert "summary" not in written and not (tmp_path / "tables2" / "summary.md").exists()
