"""Where a released task file came from (`Source`: a data_dir, the checkout's shared files, or
the hub) and whether the hub may be asked (`offline`). Shared by LongBench and InfiniteBench."""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from evals.files.jsonl import parse_jsonl, read_jsonl

OFFLINE_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclass(frozen=True)
class Source:
    """One task file's origin: kind is data_dir, release (checkout), first_record or hub."""

    kind: str
    path: Path  # the .jsonl file, or data.zip for the hub
    member: str | None = None  # the file inside data.zip

    def rows(self) -> list[dict]:
        if self.member is None:
            return read_jsonl(self.path)
        with zipfile.ZipFile(self.path) as zipped:
            text = zipped.read(self.member).decode("utf-8")
        return parse_jsonl(text.splitlines(), f"{self.path}!{self.member}")


def offline() -> bool:
    return any(os.environ.get(flag, "").strip().lower() in ("1", "true", "yes", "on") for flag in OFFLINE_FLAGS)
