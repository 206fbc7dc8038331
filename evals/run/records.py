"""Per-sample records as JSON lines, written as they are produced, so a rerun resumes.

Reading never changes the file (`RecordFile(path)`): the study's ETA, the tables and scripts read
records while a run may be appending to them. Only the run's writer (`RecordFile.writer`) repairs
and appends, and it holds an exclusive lock on the file it appends to for the whole run: a second
process on the same run is refused at once, even when the lock file under `.locks/` was removed.

A crash can leave a half-written last line; the writer drops it (with a warning) by rewriting the
file atomically (temp file, fsync, rename: `evals.files.safe_io`), so a kill during the repair leaves
the old file, never an empty one. A complete last record that only lacks its newline is kept,
and appending always starts on a new line. An id recorded twice means two writers shared the
file: an error, never counted twice.
"""
from __future__ import annotations

import fcntl
import json
import os
import warnings
from pathlib import Path

from evals.files import safe_io


class DuplicateRecord(ValueError):
    """A records file holds one sample id twice."""


class RecordsBusy(RuntimeError):
    """Another live process is appending to this records file."""


def _parse(raw: bytes):
    """A record line's value; ValueError for bytes that are not one JSON value."""
    return json.loads(raw.decode("utf-8"))


class RecordFile:
    def __init__(self, path: str | Path):
        """The records at `path`, read once (a symlink is refused); nothing is written."""
        self.path = Path(path)
        self.records: list[dict] = []
        self.lines: list[bytes] = []  # the kept lines, as they are in the file
        self.torn = False  # a half-written last line was dropped
        self._fd: int | None = None
        self._inode = None
        if self.path.exists() or self.path.is_symlink():
            self._load(safe_io.read_bytes(self.path))

    def _load(self, data: bytes) -> None:
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = _parse(line)
            except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
                if number != len(lines):
                    raise ValueError(f"{self.path}:{number}: malformed record line") from None
                self.torn = True
                continue
            if not isinstance(record, dict) or "id" not in record:
                raise ValueError(f"{self.path}:{number}: a record must be a JSON object with an 'id', "
                                 f"got {type(record).__name__}")
            if record["id"] in seen:
                raise DuplicateRecord(
                    f"{self.path}:{number}: sample id {record['id']!r} is already recorded at line "
                    f"{seen[record['id']]} (two processes wrote this run?); run with rerun=true to redo it")
            seen[record["id"]] = number
            self.records.append(record)
            self.lines.append(line)

    @property
    def done_ids(self) -> set[str]:
        return {record["id"] for record in self.records}

    # ---- the writer ------------------------------------------------------------------------

    @classmethod
    def writer(cls, path: str | Path) -> "RecordFile":
        """The one appender of `path`: locks it (RecordsBusy if another process holds it), then
        reads it and drops a torn last line. Call `close()` when done (or let the process end)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock(path)
        try:
            self = cls(path)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._inode = fd, os.fstat(fd).st_ino
        if self.torn:
            warnings.warn(f"{path}: dropping a half-written last record (interrupted run)")
            self._rewrite()
        return self

    def _rewrite(self) -> None:
        """Replace the file by its kept lines (atomically), then lock the new file."""
        safe_io.write_atomic(self.path, b"".join(line + b"\n" for line in self.lines))
        old = self._fd
        self._fd = _lock(self.path)  # the new inode; nobody else can hold it yet but a newcomer
        self._inode = os.fstat(self._fd).st_ino
        os.close(old)
        self.torn = False

    def _check_still_ours(self) -> None:
        """The path still names the file we lock: nobody replaced or removed it under us."""
        try:
            current = os.lstat(self.path).st_ino
        except FileNotFoundError:
            current = None
        if current != self._inode:
            raise RecordsBusy(f"{self.path} was replaced or removed while this run was writing it; "
                              f"stopping so that no record is lost (run again to resume)")

    def append(self, record: dict) -> None:
        if self._fd is None:
            raise RuntimeError(f"{self.path}: open it with RecordFile.writer() to append")
        self._check_still_ours()
        line = json.dumps(record, ensure_ascii=False).encode("utf-8")
        size = os.fstat(self._fd).st_size
        if size > 0 and os.pread(self._fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a last record without its newline: keep it whole
        safe_io.append_line(self._fd, line + b"\n")
        self.records.append(record)
        self.lines.append(line.lstrip(b"\n"))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> "RecordFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _lock(path: Path) -> int:
    """An append descriptor on `path` holding its exclusive lock (RecordsBusy when taken)."""
    fd = safe_io.open_append(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RecordsBusy(f"{path} is being written by another live process (its lock file under .locks/ "
                          f"was removed or is on another file system?); wait for it to finish or stop it") from None
    return fd
