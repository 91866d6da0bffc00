"""The state database: one SQLite file, WAL mode, schema versioned and migrated on open.

Posts on disk are the source of truth for content; this file holds what the service must
remember besides: the feeds it wrote, and (for polling) each upstream's state and the
upstream entries already imported.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feed_file (
        path TEXT PRIMARY KEY,      -- relative to feeds.dir, '/'-separated
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    """,
)


class StateError(Exception):
    """The state file cannot be opened or is newer than this version understands."""


class State:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> State:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            state = cls(connection, path)
            state.migrate()
        except sqlite3.DatabaseError as error:
            raise StateError(f"{path}: cannot open the state database: {error}") from None
        return state

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: schema version {version} is newer than this syndicator "
                f"understands ({len(MIGRATIONS)}); upgrade syndicator"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    def feed_files(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT path, sha256 FROM feed_file"))

    def record_feed_files(self, written: dict[str, tuple[str, int]], removed: list[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO feed_file (path, sha256, size) VALUES (?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
                [(path, digest, size) for path, (digest, size) in written.items()],
            )
            db.executemany("DELETE FROM feed_file WHERE path = ?", [(p,) for p in removed])
