"""How a run touches its files: whole or not at all, never through a symlink, never outside its root.

A kill, a full disk or a power cut in the middle of a write must leave either the old file or
the new one, never half of one: `write_atomic` writes a temporary file in the same folder,
fsyncs it, renames it over the target (`os.replace`, atomic on POSIX) and fsyncs the folder.
Records are the one file that grows: `append_line` adds one whole line per `write` call with
O_APPEND, so a kill can tear only the last line, which the reader drops and the run redoes.

Results trees are often shared (a Slurm cluster's file system): a symlink planted in a run
folder would make a resume truncate or overwrite whatever it points to. Every file here is
opened with O_NOFOLLOW where the platform has it, and `check_run_folder` refuses a run folder,
or a file in it, that is a symlink or resolves outside the results root.
"""
from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
TEMP_MARK = ".tmp-"  # .<name>.tmp-<pid>-<n>: a write in progress (or a dead writer's leftover)
_counter = [0]


class UnsafePath(ValueError):
    """A run folder or a file in it that is a symlink, not a plain file, or outside the results root."""


def _refuse_link(path: Path, what: str = "file") -> None:
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # nothing there (yet)
        return
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePath(f"{path} is a symbolic link (to {os.readlink(path)}): a run's {what}s must be real "
                         f"{what}s inside results_dir, so that nothing outside it is ever written; "
                         f"replace the link by a real {what} or use another results_dir")
    if what == "file" and not stat.S_ISREG(info.st_mode):
        raise UnsafePath(f"{path} is not a regular file; move it out of the run folder")
    if what == "folder" and not stat.S_ISDIR(info.st_mode):
        raise UnsafePath(f"{path} is not a folder; move it out of the way")


def open_fd(path: str | Path, flags: int, mode: int = 0o666) -> int:
    """os.open with O_NOFOLLOW (and O_CLOEXEC); a symlink is an UnsafePath naming it."""
    try:
        return os.open(path, flags | NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as err:
        if err.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a symlink
            _refuse_link(Path(path))
        raise


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, refusing a symlink."""
    fd = open_fd(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def read_text(path: str | Path) -> str:
    return read_bytes(path).decode("utf-8")


def fsync_folder(folder: str | Path) -> None:
    """Make a rename in `folder` durable (no-op where folders cannot be fsynced)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def temp_name(path: Path) -> Path:
    _counter[0] += 1
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{_counter[0]}")


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Replace `path` by `data` atomically: temp file in the same folder, fsync, rename, fsync folder.

    A symlink at `path` is refused, not followed (nor replaced). On any failure the temp file is
    removed and `path` keeps its old content."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    _refuse_link(path)
    temp = temp_name(path)
    fd = open_fd(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_folder(path.parent)
    return path


def write_figure(fig, path: str | Path, **savefig) -> Path:
    """A matplotlib figure saved atomically (rendered in memory first, format from the suffix)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", **savefig)
    return write_atomic(path, buffer.getvalue())


def open_append(path: str | Path) -> int:
    """A read-write descriptor that appends to `path` (created if missing), refusing a symlink."""
    return open_fd(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)


def append_line(fd: int, line: bytes) -> None:
    """One whole line in one write(2) on an O_APPEND descriptor, then fsync: after a kill the
    file ends with this line, or with part of it (which readers drop), never with a gap."""
    _write_all(fd, line)
    os.fsync(fd)


def remove_stale_temps(folder: Path) -> None:
    """Delete temp files a killed writer left in `folder` (call only while holding its lock)."""
    for entry in folder.iterdir():
        if entry.name.startswith(".") and TEMP_MARK in entry.name and not entry.is_symlink() and entry.is_file():
            entry.unlink(missing_ok=True)


def check_run_folder(root: Path, path: Path) -> None:
    """Refuse a run folder that is (or sits under) a symlink below `root`, that resolves outside
    `root`, or that holds a symlink or another non-regular file (temp files and dot folders aside).

    `root` itself may be a symlink (results -> /scratch/results): that is where the user put it."""
    root_real = Path(os.path.realpath(root))
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        raise UnsafePath(f"the run folder {path} is outside results_dir={root}") from None
    current = root
    for part in parts:
        current = current / part
        _refuse_link(current, "folder")
    real = Path(os.path.realpath(path))
    if real != root_real and root_real not in real.parents:
        raise UnsafePath(f"the run folder {path} resolves to {real}, outside results_dir={root_real}")
    if path.is_dir():
        for entry in path.iterdir():
            if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                _refuse_link(entry)
