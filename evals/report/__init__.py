"""Reporting: finished runs (`runs.py`) as tables with 95% intervals (`frames.py`, `formats.py`,
`cell_intervals.py`, `intervals.py`), paired comparisons, the cross-benchmark summary and
figures; `tables.py` writes them all (`make table`)."""
