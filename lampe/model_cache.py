"""A folder built once and shared by every process: built aside, renamed into place, under a lock.

The embedded model is converted from its GGUF file once (~20 s) into a cache folder that later
runs load in a second. A process killed half-way through `save_pretrained` used to leave a
folder with config.json but no weights, which every later run took for a finished cache; two
processes converting at once (`make study`, torchrun) wrote into the same folder. Here the folder
is built under a temporary name, checked, and renamed into place (a rename is atomic), all while
holding a file lock, so a reader sees either no folder or a complete one. A folder that fails its
check (left by older code, or damaged) is rebuilt. Without a writable cache the caller builds in
memory instead.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no cross-process lock, the rename still protects readers
    fcntl = None

TEMP_MARK = ".building-"


class _FolderLock:
    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "a+")
        if fcntl is not None:
            fcntl.flock(self.handle, fcntl.LOCK_EX)  # wait for another process's build
        return self

    def __exit__(self, *exc):
        self.handle.close()


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _clear_leftovers(final: Path) -> None:
    """Temp and broken folders that a killed build left beside `final` (we hold the lock)."""
    for entry in final.parent.glob(f".{final.name}{TEMP_MARK}*"):
        shutil.rmtree(entry, ignore_errors=True)


def cached_folder(final: Path, build: Callable[[Path], None], valid: Callable[[Path], bool]) -> Path | None:
    """`final` once it passes `valid`, building it with `build(folder)` if needed.

    Returns None when the cache cannot be written (read-only home): the caller builds in memory.
    A build that fails raises; `final` is left as it was and the next call tries again."""
    if valid(final):
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = _FolderLock(final.parent / f".{final.name}.lock")
        lock.__enter__()
    except OSError:
        return None
    try:
        if valid(final):  # another process built it while we waited
            return final
        _clear_leftovers(final)
        temp = final.with_name(f".{final.name}{TEMP_MARK}{os.getpid()}")
        temp.mkdir()
        try:
            build(temp)
            if not valid(temp):
                raise RuntimeError(f"building {final} produced an incomplete folder ({sorted(os.listdir(temp))})")
            if final.exists() or final.is_symlink():  # broken: move it aside, then remove it
                broken = final.with_name(f".{final.name}{TEMP_MARK}broken-{os.getpid()}")
                os.rename(final, broken)
                shutil.rmtree(broken, ignore_errors=True)
            os.rename(temp, final)
            _fsync_folder(final.parent)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return final
    finally:
        lock.__exit__()
