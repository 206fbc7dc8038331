"""Where a run finds its data and writes its results, from whichever folder it starts.

Results: a relative `results_dir` resolves against the current folder, so an installed wheel
writes ./results, never into site-packages. Data: a relative path resolves against the current
folder; the configs' defaults name `../shared/data/...` (the shared data folder beside a
checkout), which is also looked up beside this checkout when the run starts elsewhere. When
neither exists, `require_data_path` raises an error naming the option to set.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # evals/
REPO_ROOT = PACKAGE_ROOT.parent
CONF_DIR = PACKAGE_ROOT / "conf"  # the shipped configs (conf/ at the repository root links here)
# A wheel install puts evals/ in site-packages, where no pyproject.toml sits beside it.
CHECKOUT_ROOT = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else None


def resolve_path(path: str | os.PathLike) -> Path:
    """Absolute paths (and `~`) stay as they are; relative ones resolve against the current folder."""
    return Path(os.path.expanduser(str(path))).absolute()


def _candidates(path: str | os.PathLike) -> list[Path]:
    expanded = Path(os.path.expanduser(str(path)))
    if expanded.is_absolute():
        return [expanded]
    found = [(Path.cwd() / expanded).resolve()]
    if CHECKOUT_ROOT is not None and (CHECKOUT_ROOT / expanded).resolve() != found[0]:
        found.append((CHECKOUT_ROOT / expanded).resolve())
    return found


def resolve_data_path(path: str | os.PathLike) -> Path:
    """The first of (current folder, this checkout) where `path` exists; else the current folder's."""
    candidates = _candidates(path)
    return next((c for c in candidates if c.exists()), candidates[0])


def require_data_path(path: str | os.PathLike | None, option: str) -> Path:
    """`resolve_data_path`, or FileNotFoundError naming the option, the value and where it looked."""
    if path is None or str(path).strip() == "":
        raise FileNotFoundError(f"{option} is not set: give the path to the data ({option}=/path/to/data)")
    resolved = resolve_data_path(path)
    if not resolved.exists():
        looked = " and ".join(str(c) for c in _candidates(path))
        raise FileNotFoundError(f"{option}={str(path)!r} not found (looked in {looked}); "
                                f"set {option}=/path/to/data")
    return resolved
