"""Per-sample records as JSON lines, written as they are produced, so a rerun resumes.

A crash can leave a half-written last line; it is dropped (with a warning) and redone. A
complete last record that only lacks its newline is kept, and appending always starts on a new
line, so one glued line can never break every later resume. An id recorded twice means two
writers shared the file: an error, never counted twice.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path


class DuplicateRecord(ValueError):
    """A records file holds one sample id twice."""


class RecordFile:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        kept = []
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if isinstance(record, dict) and record.get("id") in seen:
                    raise DuplicateRecord(
                        f"{self.path}:{number}: sample id {record['id']!r} is already recorded at line "
                        f"{seen[record['id']]} (two processes wrote this run?); run with rerun=true to redo it")
                if isinstance(record, dict) and "id" in record:
                    seen[record["id"]] = number
                self.records.append(record)
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
        with self.path.open("a+b") as handle:
            handle.seek(0, 2)
            if handle.tell() > 0:
                handle.seek(-1, 2)
                if handle.read(1) != b"\n":  # a last record without its newline: keep it whole
                    handle.write(b"\n")
            handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            handle.flush()
        self.records.append(record)
