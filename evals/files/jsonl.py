"""Reading released JSON-lines data files: every bad line is reported as source:line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


def parse_jsonl(lines: Iterable[str], source: str, what: str = "samples") -> list[dict]:
    """JSON objects of `lines`, each tagged `_where` = source:line; empty input is an error."""
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}:{number}: malformed JSON line ({err.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{source}:{number}: expected a JSON object, got {type(row).__name__}")
        row["_where"] = f"{source}:{number}"
        rows.append(row)
    if not rows:
        raise ValueError(f"{source} holds no {what}")
    return rows


def read_jsonl(path: Path, what: str = "samples") -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return parse_jsonl(handle, str(path), what)
