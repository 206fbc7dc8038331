"""Which code produced a run: lampe's version and, in a git checkout, its commit and whether tracked
files had uncommitted edits. Written into run.json so a committed result names the code behind it."""
from __future__ import annotations

import subprocess
from functools import lru_cache

import lampe
from evals.files.paths import REPO_ROOT as REPO


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@lru_cache(maxsize=1)
def code_provenance() -> dict:
    """{"version", "commit", "dirty"}; commit and dirty are None outside a git checkout (a wheel)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"version": lampe.__version__, "commit": commit, "dirty": None if status is None else bool(status)}
