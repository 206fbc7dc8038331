"""Data paths in configs are relative to the repository root, not the cwd (Hydra changes the cwd).

`../shared/data/...` in a config therefore means the shared data folder next to the checkout,
whichever directory the run starts from.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def resolve_data_path(path: str | os.PathLike) -> Path:
    """Absolute paths (and `~`) stay as they are; relative ones resolve against the repo root."""
    path = Path(os.path.expanduser(str(path)))
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()
