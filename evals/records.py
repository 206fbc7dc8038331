"""Per-sample records as JSON lines, written as they are produced, so a rerun resumes.

A crash can leave a half-written last line; it is dropped (with a warning) and redone.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path


class RecordFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        kept = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                self.records.append(json.loads(line))
                kept.append(line)
            except json.JSONDecodeError:
                if number != len(lines):
                    raise ValueError(f"{self.path}:{number}: malformed record line") from None
                warnings.warn(f"{self.path}:{number}: dropping a half-written last record (interrupted run)")
        if len(kept) != len([l for l in lines if l.strip()]):
            self.path.write_text("".join(line + "\n" for line in kept))

    @property
    def done_ids(self) -> set[str]:
        return {record["id"] for record in self.records}

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
        self.records.append(record)
