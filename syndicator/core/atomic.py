"""Atomic file writes: a reader sees the old file or the new one, never a part of either."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

# tempfile.mkstemp's names: the prefix and suffix below around 8 random characters.
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def write_atomic(path: Path, data: bytes, sync_folder: bool = True) -> None:
    """Write to a temporary file in the same folder, fsync it, rename it over ``path``.

    The folder is fsynced too, so the rename itself survives a power cut; a caller writing
    many files into one folder passes ``sync_folder=False`` and calls ``fsync_folder`` once
    after the last, before it relies on them. An OSError (a full
    disk, a read-only or unwritable folder) names ``path``, whichever step failed: the
    operator learns which file could not be written, not only that something could not.
    """
    try:
        _write_atomic(path, data, sync_folder)
    except OSError as error:
        if error.filename == str(path):
            raise
        # OSError(errno, …) gives the matching subclass (PermissionError for EACCES, …).
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error


def _write_atomic(path: Path, data: bytes, sync_folder: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    if sync_folder:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` unless ``path`` already holds exactly these bytes; True if written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data)
    return True


def remove_stale_temporaries(
    folder: Path, targets: Callable[[set[str]], set[str]], recursive: bool = True
) -> int:
    """Delete the temporary files ``write_atomic`` left in ``folder`` (and, with
    ``recursive``, below it) when a killed process could not rename them; returns how many.

    A file is removed only if it is named the way ``write_atomic`` names them
    (``.<name>.<8 random characters>.tmp``) and ``targets`` (given the candidate names,
    relative to ``folder``) says ``<name>`` is a file we write: another program's
    temporaries in the same folder are left alone. Call it under the write lock, so no
    other writer's temporary is there.
    """
    if not folder.is_dir():
        return 0
    found = folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")
    leftovers: dict[str, Path] = {}
    for leftover in found:
        match = _TEMPORARY.fullmatch(leftover.name)
        if match and leftover.is_file():
            target = leftover.parent.relative_to(folder) / match.group("name")
            leftovers[target.as_posix()] = leftover
    ours = targets(set(leftovers))
    removed = 0
    for name in sorted(ours & set(leftovers)):
        with contextlib.suppress(FileNotFoundError):
            leftovers[name].unlink()
            removed += 1
    return removed
