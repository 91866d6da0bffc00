"""One writer at a time across processes: a daemon and a cron ``build`` on one config must
never write posts, feeds or state at the same moment. The second waits, then gives up with
a message naming the holder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

WAIT_SECONDS = 60.0
_RETRY = 0.05


class LockTimeoutError(Exception):
    """Another process kept the write lock for longer than we would wait."""


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


@contextlib.contextmanager
def write_lock(state_path: Path, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the exclusive write lock beside the state file for the ``with`` block."""
    path = lock_path(state_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, even after a crash


def _acquire(fd: int, path: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise LockTimeoutError(
                    f"{path}: another syndicator (pid {holder}) has been writing for {wait:.0f} s; "
                    "try again when it is done"
                ) from None
            time.sleep(_RETRY)
