"""Long English text for the synthetic benchmarks: the shared Paul Graham essays, or repeated noise.

The essays folder is the standard haystack of Needle-in-a-Haystack and RULER's essay haystack;
configs name it relative to the repository root. The noise sentence is RULER's and the passkey
test's filler, used where a task asks for it or when no essays are available.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from evals.files.paths import resolve_data_path

DEFAULT_ESSAYS = "../shared/data/paul_graham_essays"
NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

_NOT_TEXT = ("license", "readme")  # files that ship next to the essays but are not essays


def text_files(path: str | Path) -> list[Path]:
    """A .txt file, or every .txt file of a folder in name order (license/readme files skipped)."""
    resolved = resolve_data_path(path)
    if resolved.is_file():
        return [resolved]
    if not resolved.is_dir():
        raise FileNotFoundError(f"Text data '{path}' not found (resolved to {resolved})")
    files = sorted(p for p in resolved.glob("*.txt") if not p.name.lower().startswith(_NOT_TEXT))
    if not files:
        raise ValueError(f"Text data folder '{path}' ({resolved}) holds no .txt files")
    return files


def read_text_file(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"Text file {path} is empty")
    return text


@lru_cache(maxsize=4)
def _load_concatenated(resolved: str) -> str:
    return "".join(read_text_file(p) for p in text_files(resolved))


def load_essays(path: str | Path = DEFAULT_ESSAYS) -> str:
    """All essays concatenated in file-name order (as RULER and the needle harness build them)."""
    return _load_concatenated(str(resolve_data_path(path)))


def essays_available(path: str | Path | None = DEFAULT_ESSAYS) -> bool:
    if path is None:
        return False
    try:
        text_files(path)
    except (FileNotFoundError, ValueError):
        return False
    return True


# A sentence ends at . ! or ? (optionally followed by closing quotes/brackets) before whitespace.
# Our own splitter instead of nltk's punkt, whose model is a separate download: the same text
# must split the same way on every machine for samples to be reproducible.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+")


def split_sentences(text: str) -> list[str]:
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text.strip())) if s]


def words(text: str) -> list[str]:
    """Whitespace-normalised words, RULER's unit for sizing an essay haystack."""
    return re.sub(r"\s+", " ", text).strip().split(" ")
