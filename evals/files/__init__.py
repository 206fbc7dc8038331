"""The floor under the three rooms: where data and results are (`paths.py`, `layout.py`), atomic
writes that follow no symlink (`safe_io.py`), JSON lines (`jsonl.py`)."""
