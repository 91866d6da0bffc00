"""What the config points at, checked on disk before a command does anything: a post folder
that is not there reads as a site with no posts, and a state that cannot be made fails
halfway through. Each problem is one line naming the key, the path and what to do."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from syndicator.core.config import Config


def post_folder_problems(config: Config) -> list[str]:
    problems = []
    for folder in config.posts.dirs:
        if problem := _unreachable(folder):
            problems.append(f"{config.path}: posts.dirs: {folder}: {problem}")
        elif not folder.exists():
            problems.append(
                f"{config.path}: posts.dirs: {folder} does not exist (a typo? a volume not "
                "mounted?); create it or fix posts.dirs"
            )
        elif not folder.is_dir():
            problems.append(f"{config.path}: posts.dirs: {folder} is a file, not a folder")
    return problems


def state_problems(config: Config) -> list[str]:
    """Whether the state file (and the lock and journal files beside it) can be made and
    written."""
    path = config.state.path
    key = f"{config.path}: state.path: {path}"
    if problem := _unreachable(path):
        return [f"{key}: {problem}"]
    if path.exists():
        if not path.is_file():
            return [f"{key} is not a regular file"]
        if not os.access(path, os.R_OK | os.W_OK):
            return [f"{key}: cannot read and write it (permission denied)"]
    problem = _folder_problem(path.parent)
    return [f"{key}: {problem}"] if problem else []


def feeds_dir_problems(config: Config) -> list[str]:
    folder = config.feeds.dir
    key = f"{config.path}: feeds.dir: {folder}"
    if problem := _unreachable(folder):
        return [f"{key}: {problem}"]
    if folder.exists() and not folder.is_dir():
        return [f"{key} is a file, not a folder"]
    problem = _folder_problem(folder)
    return [f"{key}: {problem}"] if problem else []


def _unreachable(path: Path) -> str | None:
    """Why ``path`` cannot even be looked at (a folder above it closed to this user), or
    None. ``Path.exists`` raises, rather than answers, for such a path."""
    try:
        path.exists()
    except OSError as error:
        where = error.filename or path
        return f"cannot look at {where} ({error.strerror or error}); check the permissions of the folders above it"
    return None


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (made first if missing), or None."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, so the folder cannot be made there"
    if existing != folder:
        if not os.access(existing, os.W_OK | os.X_OK):
            return f"cannot make the folder in {existing} (permission denied)"
        return None
    return _cannot_create_in(folder)


def _cannot_create_in(folder: Path) -> str | None:
    """Try to make (and at once remove) a file in ``folder``: permissions alone do not tell
    (root passes every check, and /proc or a read-only mount refuse anyway)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".syndicator-probe-")
    except OSError as error:
        return f"cannot create files in {folder} ({error.strerror or error})"
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None
