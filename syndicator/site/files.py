"""Finding post files: the post folders walked in a stable order, hidden files passed over,
a folder listed inside another read once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syndicator.core.config import Config


@dataclass(frozen=True)
class PostFile:
    """A file found in a post folder; ``folder`` is the configured folder it was found under."""

    path: Path
    folder: Path
    size: int
    mtime_ns: int


def find_post_files(config: Config) -> Iterator[PostFile]:
    """Every file with a post extension under the post folders, recursively, in a stable order.

    Hidden files and folders (editor swap files, our own temporaries) are passed over.
    """
    for location, folder, size, mtime_ns in post_file_stats(config):
        yield PostFile(Path(location), folder, size, mtime_ns)


def post_file_stats(config: Config) -> Iterator[tuple[str, Path, int, int]]:
    """(path, its post folder, size, mtime_ns) of each file ``find_post_files`` lists, as
    plain values: a build with nothing changed stats tens of thousands of them."""
    extensions = set(config.posts.extensions)
    seen: set[str] = set()  # a folder listed inside another is read once, as the first
    for folder in config.posts.dirs:
        if not folder.is_dir():
            continue
        for location, stat in _walk(str(folder), extensions):
            if location not in seen:
                seen.add(location)
                yield location, folder, stat.st_size, stat.st_mtime_ns


def _walk(folder: str, extensions: set[str]) -> Iterator[tuple[str, os.stat_result]]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):  # as os.walk: no loops through links
                yield from _walk(entry.path, extensions)
                continue
            if os.path.splitext(entry.name)[1].lower() not in extensions:
                continue
            yield entry.path, entry.stat()
        except OSError:
            continue


def post_file_at(path: Path, config: Config) -> PostFile | None:
    """The post file at ``path`` as ``find_post_files`` would list it, or None if there is
    none (deleted, hidden, another extension, outside the post folders)."""
    if path.suffix.lower() not in config.posts.extensions:
        return None
    for folder in config.posts.dirs:
        if not path.is_relative_to(folder):
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        return PostFile(path, folder, stat.st_size, stat.st_mtime_ns) if path.is_file() else None
    return None
