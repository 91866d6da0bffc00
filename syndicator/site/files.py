"""Finding post files: the post folders walked in a stable order, hidden files passed over,
a folder listed inside another read once, names that are not UTF-8 set aside."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syndicator.core.config import Config

# A file name that is not UTF-8 (the bytes a Windows copy or an old archive may leave) cannot
# be stored, logged or shown as it is: such a file is reported under its escaped name.
NOT_UTF8_NAME = "file name is not UTF-8; rename the file (its name is shown with \\x escapes)"


@dataclass(frozen=True)
class PostFile:
    """A file found in a post folder; ``folder`` is the configured folder it was found under."""

    path: Path
    folder: Path
    size: int
    mtime_ns: int


def find_post_files(config: Config, misnamed: list[str] | None = None) -> Iterator[PostFile]:
    """Every file with a post extension under the post folders, recursively, in a stable order.

    Hidden files and folders (editor swap files, our own temporaries) are passed over; names
    that are not UTF-8 are added to ``misnamed`` (see ``post_file_stats``).
    """
    for location, folder, size, mtime_ns in post_file_stats(config, misnamed):
        yield PostFile(Path(location), folder, size, mtime_ns)


def post_file_stats(
    config: Config, misnamed: list[str] | None = None
) -> Iterator[tuple[str, Path, int, int]]:
    """(path, its post folder, size, mtime_ns) of each file ``find_post_files`` lists, as
    plain values: a build with nothing changed stats tens of thousands of them.

    Files whose names are not UTF-8 are left out, and their escaped names added to
    ``misnamed`` when it is given.
    """
    extensions = set(config.posts.extensions)
    seen: set[str] = set()  # a folder listed inside another is read once, as the first
    for folder in config.posts.dirs:
        if not folder.is_dir():
            continue
        for location, stat in _walk(str(folder), extensions):
            if location in seen:
                continue
            seen.add(location)
            if not is_utf8(location):
                if misnamed is not None:
                    misnamed.append(escaped(location))
                continue
            yield location, folder, stat.st_size, stat.st_mtime_ns


def missing_folders(config: Config) -> list[str]:
    """Why post folders cannot be read, one line each: not there (a typo, a volume not
    mounted), or not to be looked at (a folder above closed to this user). Reading them as
    empty would take every post out of the feeds."""
    problems = []
    for folder in config.posts.dirs:
        try:
            if not folder.is_dir():
                problems.append(
                    f"post folder {folder} is missing (posts.dirs): a typo, or a volume not mounted?"
                )
        except OSError as error:
            problems.append(
                f"post folder {folder} cannot be looked at (posts.dirs): {error.strerror} on "
                f"{error.filename}; has a folder above it been closed to this user?"
            )
    return problems


def is_utf8(path: str) -> bool:
    """Whether ``path`` came from a name of valid UTF-8 (Python keeps other bytes as lone
    surrogates, which no UTF-8 text, database or log line can hold)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escaped(path: str) -> str:
    """``path`` printable: bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
            yield entry.path, _stat_of(entry)
        except OSError:
            continue


def _stat_of(entry: os.DirEntry[str]) -> os.stat_result:
    """The file's stat; a link's own when it leads nowhere (or round in a loop), so that the
    post is listed and reading it says so, instead of it being skipped without a word."""
    try:
        return entry.stat()
    except OSError:
        return entry.stat(follow_symlinks=False)


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
            try:
                stat = path.lstat()  # a link that leads nowhere: listed, and reported
            except OSError:
                return None
        # Whatever is there is listed, a FIFO or a device too: reading it reports its kind.
        return PostFile(path, folder, stat.st_size, stat.st_mtime_ns)
    return None
