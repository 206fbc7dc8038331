"""One writer per run directory: an OS file lock that dies with its process.

Two processes running the same config (or `rerun=true` while it runs) would otherwise append
the same samples to one records.jsonl. The lock file sits outside the run directory, under
`<results_dir>/.locks/` (mirroring the run's path), so moving the directory aside cannot move
the lock with it and listings of the results folders see no extra entries.
`fcntl.flock` is released by the kernel when the holder exits, even on SIGKILL: no stale locks.
Removing the lock file cannot let a second writer in: the run's records file is locked too
(`evals.run.records.RecordFile.writer`).
Shards of one run each lock their own file and share the run's lock, so a plain run of the same
config still waits for (or is refused by) them.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from evals.files import safe_io


class RunLocked(RuntimeError):
    """Another live process holds this run."""


class RunLock:
    def __init__(self, run_dir: Path, shard: tuple[int, int] = (0, 1), root: Path | None = None):
        """`root`: the results folder (locks go to root/.locks/...); default: beside run_dir."""
        self.run_dir = Path(run_dir)
        self.shard = shard
        if root is None:
            self.lock_dir = self.run_dir.parent / ".locks"
        else:
            self.lock_dir = Path(root) / ".locks" / self.run_dir.parent.relative_to(root)
        self._handles: list = []

    def _paths(self) -> list[tuple[Path, int]]:
        """(lock file, mode): the run's lock (exclusive, shared by shards) and a shard's own."""
        base = self.lock_dir / f"{self.run_dir.name}.lock"
        index, count = self.shard
        if count == 1:
            return [(base, fcntl.LOCK_EX)]
        return [(base, fcntl.LOCK_SH), (base.with_name(f"{self.run_dir.name}.shard{index}.lock"), fcntl.LOCK_EX)]

    def acquire(self, wait: bool = False) -> "RunLock":
        """Take the lock(s); RunLocked naming the holder unless `wait` (then block until free)."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        for path, mode in self._paths():
            handle = os.fdopen(safe_io.open_fd(path, os.O_RDWR | os.O_CREAT), "r+")  # never through a symlink
            try:
                fcntl.flock(handle, mode | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "(the shards of this run)"
                handle.close()
                self.release()
                raise RunLocked(
                    f"{self.run_dir} is being written by another process: {holder}. Wait for it to finish, "
                    f"stop it, or run with wait=true to queue behind it") from None
            if mode == fcntl.LOCK_EX:  # only the exclusive holder describes itself
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                         "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                                         "command": " ".join(sys.argv)[:300]}))
                handle.flush()
            self._handles.append(handle)
        return self

    def release(self) -> None:
        for handle in reversed(self._handles):
            handle.close()  # closing the descriptor drops the flock
        self._handles.clear()

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
