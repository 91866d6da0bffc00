"""The files the server hands out: looked up safely, held in memory with their validators.

A file is read once and kept with its gzip copy, strong ETag and Last-Modified until its
size, mtime or inode change (feeds are replaced by rename, so a new file is a new inode).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote

CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
FEED_CONTENT_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
MAX_PATH_LENGTH = 1024
MAX_RESOLVED = 10_000
_GZIP_MIN_SIZE = 256


@dataclass(frozen=True)
class StoredFile:
    body: bytes
    gzipped: bytes | None
    etag: str
    last_modified: datetime
    content_type: str

    @cached_property
    def last_modified_http(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)

    @cached_property
    def gzip_etag(self) -> str:
        """The gzip copy is another representation, so it has an ETag of its own."""
        return self.etag[:-1] + '-gz"'


class FeedStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[str, tuple[tuple[int, int, int], StoredFile]] = {}
        # Request path -> the real file it resolved to (always inside the folder): resolving
        # (realpath) costs more than the rest of a request, and the paths asked for are few.
        self._resolved: dict[str, str] = {}

    def lookup(self, raw_path: str) -> StoredFile | None:
        """The file for a request path (percent-encoded as sent), or None: for anything
        missing, hidden, outside the folder (``..``, encoded or not, symlinks out), or odd."""
        key = self._resolved.get(raw_path)
        if key is None:
            path = self.resolve(raw_path)
            if path is None:
                return None
            key = str(path)
            if len(self._resolved) >= MAX_RESOLVED:
                self._resolved.clear()
            self._resolved[raw_path] = key
        try:
            stat = os.stat(key)
        except OSError:
            self._cache.pop(key, None)
            self._resolved.pop(raw_path, None)
            return None
        signature = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            stored = load_file(Path(key))
        except OSError:
            return None
        self._cache[key] = (signature, stored)
        return stored

    def resolve(self, raw_path: str) -> Path | None:
        if len(raw_path) > MAX_PATH_LENGTH or "\\" in raw_path:
            return None
        try:
            # Invalid UTF-8 (overlong "%c0%ae" and the like) is refused, not replaced.
            decoded = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
        except UnicodeDecodeError:
            return None
        if "\x00" in decoded or not decoded.startswith("/"):
            return None
        parts = [p for p in decoded.split("/") if p]
        if any(p in (".", "..") or p.startswith(".") for p in parts):
            return None
        if not parts or decoded.endswith("/"):
            parts.append("index.html")
        root = self.root.resolve()
        candidate = root.joinpath(*parts)
        try:
            real = Path(os.path.realpath(candidate))
        except (OSError, ValueError):
            return None
        if not real.is_relative_to(root) or not real.is_file():
            return None
        return real


def load_file(path: Path) -> StoredFile:
    body = path.read_bytes()
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= _GZIP_MIN_SIZE else None
    digest = hashlib.sha256(body).hexdigest()[:32]
    return StoredFile(
        body=body,
        gzipped=gzipped if gzipped is not None and len(gzipped) < len(body) else None,
        etag=f'"{digest}"',
        last_modified=changed_at(path),
        content_type=content_type(path),
    )


def content_type(path: Path) -> str:
    return FEED_CONTENT_TYPES.get(path.name) or CONTENT_TYPES.get(
        path.suffix.lower(), "application/octet-stream"
    )


def changed_at(path: Path) -> datetime:
    """Last-Modified: when the file's bytes last changed. Feeds are rewritten only when
    their bytes change, so that is the file's modification time. (Not the newest entry's
    date: an entry dated earlier can still be added, and a client asking If-Modified-Since
    would then be told, wrongly, that nothing changed.)"""
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
