"""Figures: each writes a PNG of a sensible size from metrics, records or DataFrames."""
from __future__ import annotations

import matplotlib.axes
import pandas as pd
import pytest
from matplotlib.image import imread

from evals.report.plots import _curves, needle_heatmap, perplexity_curve, score_by_task, score_vs_length

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_png(path, min_width=300):
    assert path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5_000
    height, width = imread(path).shape[:2]
    assert width >= min_width and height >= 200
    return imread(path)


NEEDLE_METRICS = {"grid": {"1024": {"0": 100.0, "50": 50.0, "100": 100.0}, "2048": {"0": 0.0, "50": 0.0, "100": 100.0}}}


def test_needle_heatmap_from_metrics_records_and_frame(tmp_path):
    image = check_png(needle_heatmap(NEEDLE_METRICS, tmp_path / "a" / "heat.png", title="demo"))
    assert image[..., :3].std() > 0.05  # not a blank canvas
    records = [{"meta": {"length": n, "depth": d}, "scores": {"keyword_recall": v}}
               for n, d, v in [(1024, 0, 1.0), (1024, 50, 0.0), (2048, 0, 1.0), (2048, 50, 1.0)]]
    check_png(needle_heatmap(records, tmp_path / "records.png"))
    frame = pd.DataFrame({"length": [1024, 2048], "depth": [0, 0], "accuracy": [100.0, 0.0]})
    check_png(needle_heatmap(frame, tmp_path / "frame.png", metric="accuracy"))


def test_heatmap_rejects_what_it_cannot_read(tmp_path):
    with pytest.raises(TypeError):
        needle_heatmap({"average": 3}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="lacks columns"):
        needle_heatmap(pd.DataFrame({"length": [1]}), tmp_path / "x.png")
    with pytest.raises(ValueError, match="no records"):
        needle_heatmap([], tmp_path / "x.png")


def test_perplexity_curve_for_one_or_many_methods(tmp_path):
    one = {"perplexity": {"2048": 25.1, "4096": 24.0, "8192": 23.5, "16384": 880.0}}
    check_png(perplexity_curve(one, tmp_path / "one.png", train_length=8192))
    many = {"original": one, "yarn": {"2048": 25.5, "4096": 24.4, "8192": 23.9, "16384": 23.7}}
    check_png(perplexity_curve(many, tmp_path / "many.png"))
    frame = pd.DataFrame({"method": ["pi", "pi"], "length": [2048, 4096], "perplexity": [26.0, 25.0]})
    check_png(perplexity_curve(frame, tmp_path / "frame.png"))


def test_score_vs_length_reads_each_benchmarks_summary(tmp_path):
    ruler = {"average_per_length": {"4096": 40.0, "8192": 30.0}}
    passkey = {"lengths": {"4096": 100.0, "8192": 50.0}, "depths": {"50": 75.0}}
    assert _curves({"lampe": ruler, "original": passkey}, "score", "t") == {
        "lampe": {4096: 40.0, 8192: 30.0}, "original": {4096: 100.0, 8192: 50.0}}
    check_png(score_vs_length({"lampe": ruler, "original": passkey}, tmp_path / "score.png", ylabel="RULER average"))
    with pytest.raises(ValueError, match="nothing to plot"):
        score_vs_length({}, tmp_path / "empty.png")


def drawn_error_bars(monkeypatch) -> list[tuple[float, float, float]]:
    """Collects (value, low, high) of every error bar drawn, from the yerr given to matplotlib."""
    drawn = []
    original = matplotlib.axes.Axes.errorbar

    def errorbar(self, x, y, yerr=None, **kwargs):
        below, above = yerr
        drawn.extend((v, v - b, v + a) for v, b, a in zip(y, below, above))
        return original(self, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", errorbar)
    return drawn


def test_score_by_task_draws_grouped_bars_with_the_given_intervals(tmp_path, monkeypatch):
    drawn = drawn_error_bars(monkeypatch)
    data = {"original": {"niah_single_1": 50.0, "vt": 100.0}, "lampe": {"niah_single_1": 100.0, "vt": 75.0}}
    errors = {"original": {"niah_single_1": (9.45, 90.55)}, "lampe": {"vt": (30.06, 95.44)}}
    path = score_by_task(data, tmp_path / "t" / "by_task.png", title="ruler by task", errors=errors,
                         counts={"original": 4, "lampe": 4})
    image = check_png(path)
    assert image[..., :3].std() > 0.05
    # only the bars with an interval get one, at the given bounds
    assert drawn == [pytest.approx((50.0, 9.45, 90.55)), pytest.approx((75.0, 30.06, 95.44))]
    drawn.clear()
    check_png(score_by_task({"lampe": {"a": 1.0, "b": 2.0}, "pi": {"a": 3.0}}, tmp_path / "bare.png"))
    assert drawn == []  # no intervals: bare bars; a method without a task has no bar there
    with pytest.raises(ValueError, match="nothing to plot"):
        score_by_task({"lampe": {}}, tmp_path / "empty.png")
