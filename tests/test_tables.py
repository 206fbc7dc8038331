"""`make table` on fabricated results dirs: rows, grouped columns, views, bold best, labels."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from evals.report import formats, tables
from evals.report import frames as report_frames
from evals.report.runs import find_runs

REPO = Path(__file__).resolve().parent.parent


def fake_run(root: Path, model: str, method: str, benchmark: str, run_id: str, metrics: dict,
             method_params: dict | None = None, bench_name: str | None = None) -> Path:
    path = root / model / method / benchmark / run_id
    path.mkdir(parents=True)
    config = {"model": {"name": model}, "method": {"name": method, **(method_params or {})},
              "benchmark": {"name": bench_name or benchmark}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


def longbench_metrics(qasper, hotpotqa, trec):
    return {"tasks": {"trec": {"classification_score": trec}, "qasper": {"qa_f1_score": qasper},
                      "hotpotqa": {"qa_f1_score": hotpotqa}},
            "counts": {"trec": 2, "qasper": 2, "hotpotqa": 2},
            "groups": {"single_doc_qa": qasper, "multi_doc_qa": hotpotqa, "few_shot": trec},
            "average": (qasper + hotpotqa + trec) / 3, "num_samples": 6}


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "results"
    fake_run(root, "llama2", "original", "longbench", "a1", longbench_metrics(10.0, 20.0, 60.0))
    fake_run(root, "llama2", "lampe", "longbench", "a2", longbench_metrics(30.0, 25.0, 40.0), {"preset": "llama2"})
    fake_run(root, "smollm2", "original", "longbench", "a3", longbench_metrics(1.0, 2.0, 3.0))
    # RULER: per task per length, and the per-length average
    for run_id, method, scores in (("r1", "original", (100.0, 20.0)), ("r2", "lampe", (90.0, 70.0))):
        fake_run(root, "smollm2", method, "ruler", run_id, {
            "tasks": {"niah_single_1": {"4096": scores[0], "16384": scores[1]}},
            "average_per_length": {"4096": scores[0], "16384": scores[1]},
            "average": sum(scores) / 2, "num_samples": 4})
    # perplexity: lower is better
    for run_id, method, ppl in (("p1", "original", (8.0, 900.0)), ("p2", "ntk", (9.0, 30.0))):
        values = {"2048": ppl[0], "16384": ppl[1]}
        fake_run(root, "smollm2", method, "perplexity", run_id, {
            "perplexity": values, "nll": {}, "num_tokens": {"2048": 10, "16384": 10}, "documents": {},
            "tasks": {"perplexity": values}, "num_samples": 2})
    # a passkey sweep: default lampe and two fixed mapping lengths; plus things tables must skip
    grid = lambda a, b: {"metric": "accuracy", "grid": {"8192": {"0": a, "100": a}, "16384": {"0": b, "100": b}},  # noqa: E731
                         "lengths": {"8192": a, "16384": b}, "depths": {"0": (a + b) / 2, "100": (a + b) / 2},
                         "average": (a + b) / 2, "metrics": {"accuracy": (a + b) / 2}, "num_samples": 4}
    fake_run(root, "smollm2", "lampe", "passkey", "s0", grid(100.0, 50.0), {"preset": "llama3", "mapping_length": None})
    fake_run(root, "smollm2", "lampe", "passkey", "s1", grid(100.0, 0.0), {"preset": None, "mapping_length": 1024})
    fake_run(root, "smollm2", "lampe", "passkey", "s2", grid(50.0, 100.0), {"preset": None, "mapping_length": 4096})
    fake_run(root, "smollm2", "lampe", "passkey", "s0.old-20250101-000000", grid(0.0, 0.0), {"preset": "llama3"})
    (root / "smollm2" / "original" / "passkey" / "unfinished").mkdir(parents=True)
    return root


def test_find_runs_skips_unfinished_and_moved_aside(results):
    runs = find_runs(results, "passkey")
    assert sorted(r.run_id for r in runs) == ["s0", "s1", "s2"]


def test_longbench_table_groups_tasks_and_bolds_best_per_model(results):
    frames = report_frames.benchmark_frames(find_runs(results, "longbench"))
    main = frames["main"]
    assert list(main.index) == [("llama2", "original"), ("llama2", "lampe"), ("smollm2", "original")]
    # tasks ordered by LongBench's categories, then the category averages, then the average
    assert list(main.columns) == ["qasper", "hotpotqa", "trec", "[single_doc_qa]", "[multi_doc_qa]", "[few_shot]",
                                  "average"]
    assert main.loc[("llama2", "lampe"), "average"] == pytest.approx(95.0 / 3)
    latex = formats.to_latex(main, report_frames.task_groups(find_runs(results, "longbench")))
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"\multicolumn{1}{c}{single\_doc\_qa}" in latex and r"\cmidrule(lr){3-3}" in latex
    lampe_row = next(line for line in latex.splitlines() if line.startswith(" & lampe"))
    original_row = next(line for line in latex.splitlines() if line.startswith("llama2 & original"))
    assert lampe_row.startswith(r" & lampe & \textbf{30.00} & \textbf{25.00} & 40.00")
    assert r"\textbf{60.00}" in original_row
    smollm_row = next(line for line in latex.splitlines() if line.startswith("smollm2"))
    assert r"\textbf" not in smollm_row  # alone in its model block: nothing to beat


def test_ruler_by_length_and_perplexity_lower_is_better(results):
    ruler = report_frames.benchmark_frames(find_runs(results, "ruler"))
    by_length = ruler["by_length"]
    assert list(by_length.columns) == ["4096", "16384", "average"]
    assert by_length.loc[("smollm2", "lampe"), "16384"] == 70.0
    assert ruler["main"].loc[("smollm2", "original"), "niah_single_1"] == 60.0  # task = mean over its lengths
    header = formats.to_markdown(by_length).splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == ["model", "method", "4k", "16k", "average"]

    runs = find_runs(results, "perplexity")
    assert report_frames.lower_is_better(runs)
    ppl = report_frames.benchmark_frames(runs)["main"]  # no average: the per-length table leads
    assert list(ppl.columns) == ["2048", "16384"]
    latex = formats.to_latex(ppl, lower=True)
    ntk_row = next(line for line in latex.splitlines() if "& ntk &" in line)
    assert r"\textbf{30.00}" in ntk_row and r"\textbf{9.00}" not in ntk_row  # 8.00 (original) is best at 2k


def test_sweep_rows_are_labelled_by_the_parameters_that_differ(results):
    runs = find_runs(results, "passkey")
    labels = sorted(report_frames.row_labels(runs))
    assert labels == ["lampe (mapping_length=1024)", "lampe (mapping_length=4096)", "lampe (preset=llama3)"]
    main = report_frames.benchmark_frames(runs)["main"]  # no tasks: the per-length table is the main one
    assert list(main.columns) == ["8192", "16384", "average"]
    assert main.loc[("smollm2", "lampe (mapping_length=4096)"), "16384"] == 100.0


def test_write_tables_makes_markdown_latex_csv(results, tmp_path):
    written = tables.write_tables(results, tmp_path / "tables")
    names = {p.name for paths in written.values() for p in paths}
    for stem in ("longbench", "ruler", "ruler_by_length", "perplexity", "passkey", "passkey_by_depth"):
        assert {f"{stem}.md", f"{stem}.tex", f"{stem}.csv"} <= names
    csv = pd.read_csv(tmp_path / "tables" / "longbench.csv", index_col=[0, 1])
    assert csv.loc[("llama2", "lampe"), "qasper"] == 30.0
    # figures: score/perplexity vs length per model, one heatmap per needle/passkey run
    assert {"ruler_vs_length.png", "perplexity_vs_length.png", "passkey_vs_length.png",
            "passkey_heatmap_smollm2_lampe_mapping_length=1024.png"} <= names
    assert all((tmp_path / "tables" / n).stat().st_size > 1000 for n in names if n.endswith(".png"))
    md = (tmp_path / "tables" / "longbench.md").read_text()
    assert md.startswith("### longbench") and "| llama2  | lampe" in md


def test_run_frame_and_sweep_table(results):
    frame = report_frames.run_frame(longbench_metrics(1.0, 2.0, 3.0))
    assert frame.loc["trec", "classification_score"] == 3.0
    text = tables.sweep_table(sorted((results / "smollm2" / "lampe" / "passkey").glob("s[12]")))
    assert "mapping_length=1024" in text and "mapping_length=4096" in text


def test_benchmark_parameters_label_rows_only_when_method_parameters_do_not(tmp_path):
    root = tmp_path / "results"
    metrics = {"tasks": {"t": {"acc": 1.0}}, "average": 1.0}
    for run_id, lengths, u in (("x1", [4096], 1024), ("x2", [8192], 1024), ("x3", [8192], 2048)):
        path = fake_run(root, "smollm2", "lampe", "passkey", run_id, metrics, {"mapping_length": u})
        config = yaml.safe_load((path / "config.yaml").read_text())
        config["benchmark"]["lengths"] = lengths
        (path / "config.yaml").write_text(yaml.safe_dump(config))
    labels = report_frames.row_labels(find_runs(root))
    assert sorted(labels) == ["lampe (mapping_length=1024, benchmark.lengths=[4096])",
                              "lampe (mapping_length=1024, benchmark.lengths=[8192])",
                              "lampe (mapping_length=2048, benchmark.lengths=[8192])"]


def ruler_run(root: Path, method: str, run_id: str, correct: dict[str, list[int]], length: int = 4096) -> Path:
    """A RULER-like run (tasks scored per length) with its records: task -> 0/1 per sample."""
    tasks = {t: {str(length): 100.0 * sum(v) / len(v)} for t, v in correct.items()}
    average = sum(s[str(length)] for s in tasks.values()) / len(tasks)
    samples = sum(len(v) for v in correct.values())
    path = fake_run(root, "smollm2", method, "ruler", run_id, {
        "tasks": tasks, "average_per_length": {str(length): average}, "average": average, "num_samples": samples})
    lines = [json.dumps({"id": f"{t}-{i}", "task": t, "scores": {"string_match_part": float(v)}, "meta": {"length": length}})
             for t, values in correct.items() for i, v in enumerate(values)]
    (path / "records.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_by_task_figure_has_a_bar_per_method_and_wilson_error_bars(tmp_path, monkeypatch):
    from tests.test_plots import check_png, drawn_error_bars

    drawn = drawn_error_bars(monkeypatch)
    root = tmp_path / "results"
    ruler_run(root, "original", "r1", {"niah_single_1": [1, 0], "vt": [1, 1]})
    ruler_run(root, "lampe", "r2", {"niah_single_1": [1, 1], "vt": [0, 0]})
    written = tables.write_tables(root, tmp_path / "tables")
    names = [p.name for p in written["ruler"]]
    assert "ruler_by_task.png" in names and "ruler_vs_length.png" in names
    check_png(tmp_path / "tables" / "ruler_by_task.png")
    # 1 of 2 correct: Wilson 95% [9.45, 90.55]; 2 of 2: [34.24, 100]; 0 of 2: [0, 65.76]
    bars = sorted(tuple(round(v, 2) for v in bar) for bar in drawn)
    assert bars == [(0.0, 0.0, 65.76), (50.0, 9.45, 90.55), (100.0, 34.24, 100.0), (100.0, 34.24, 100.0)]


def test_by_task_figure_needs_two_tasks(results, tmp_path):
    written = tables.write_tables(results, tmp_path / "tables")
    names = {p.name for paths in written.values() for p in paths}
    assert not any(n.startswith(("ruler_by_task", "perplexity_by_task", "passkey_by_task")) for n in names)
    # LongBench: three tasks, two models -> one figure per model
    assert {"longbench_by_task_llama2.png", "longbench_by_task_smollm2.png"} <= names


# ---- bad runs: skipped with one warning line, the rest rendered ----------------------------------

def passkey_record(i: int) -> dict:
    return {"id": str(i), "task": "passkey", "prompt_tokens": 10, "prediction": "1", "references": ["1"],
            "scores": {"accuracy": float(i % 2)}, "meta": {"length": 4096, "depth": 50}}


def passkey_metrics(n: int) -> dict:
    score = 100.0 * sum(i % 2 for i in range(n)) / n
    return {"metric": "accuracy", "grid": {"4096": {"50": score}}, "lengths": {"4096": score},
            "depths": {"50": score}, "average": score, "metrics": {"accuracy": score}, "num_samples": n}


def passkey_run(root: Path, method: str, n: int = 3) -> Path:
    path = fake_run(root, "smollm2", method, "passkey", "r" + method, passkey_metrics(n))
    (path / "records.jsonl").write_text("".join(json.dumps(passkey_record(i)) + "\n" for i in range(n)))
    return path


@pytest.mark.parametrize("damage, reason", [
    (lambda p: (p / "metrics.json").write_text(""), "metrics.json is not valid JSON"),
    (lambda p: (p / "metrics.json").write_text("[1, 2]"), "metrics.json holds a list, not a JSON object"),
    (lambda p: (p / "metrics.json").write_text('{"tasks": [1]}'), "'tasks' holds a list"),
    (lambda p: (p / "config.yaml").write_text("model: [unclosed"), "config.yaml is not valid YAML"),
    (lambda p: (p / "config.yaml").write_text("- a\n- b\n"), "config.yaml is not a run config"),
    (lambda p: (p / "records.jsonl").write_text("null\n" + json.dumps(passkey_record(0)) + "\n"),
     r"records.jsonl:1 is not a record"),
    (lambda p: (p / "records.jsonl").write_bytes(b"\xff\xfe\x00garbage\n" + json.dumps(passkey_record(0)).encode()
                                                + b"\n"), r"records.jsonl:1 is not a JSON line"),
])
def test_a_bad_run_is_skipped_with_one_warning_and_the_rest_rendered(tmp_path, capsys, damage, reason):
    root = tmp_path / "results"
    passkey_run(root, "original")
    bad = passkey_run(root, "ntk")
    damage(bad)
    written = tables.write_tables(root)
    assert "passkey" in written
    table = (root / "tables" / "passkey.md").read_text()
    assert "original" in table and "ntk" not in table
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(bad) in warnings[0]
    assert __import__("re").search(reason, warnings[0]), warnings[0]


def test_duplicate_record_ids_are_counted_once(tmp_path):
    """Two writers left each sample twice: the table's n is the run's, not double."""
    root = tmp_path / "results"
    path = passkey_run(root, "original", n=3)
    lines = (path / "records.jsonl").read_text()
    (path / "records.jsonl").write_text(lines + lines)
    tables.write_tables(root)
    frame = pd.read_csv(root / "tables" / "passkey_intervals.csv")
    assert set(frame["n"]) == {3}
