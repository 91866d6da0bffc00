"""The state database: one SQLite file, WAL mode, schema versioned and migrated on open.

Posts on disk are the source of truth for content; this file holds what the service must
remember besides: the feeds it wrote, and (for polling) each upstream's state and the
upstream entries already imported.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields, replace
from pathlib import Path
from typing import Any

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feed_file (
        path TEXT PRIMARY KEY,      -- relative to feeds.dir, '/'-separated
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE upstream (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,              -- the configured URL this row was made for
        current_url TEXT,               -- where a permanent redirect sent us
        etag TEXT,
        last_modified TEXT,
        state TEXT NOT NULL DEFAULT 'never',
        last_poll REAL,                 -- Unix seconds
        next_poll REAL,
        last_status INTEGER,
        last_error TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE imported_entry (
        upstream TEXT NOT NULL,
        entry_key TEXT NOT NULL,        -- the upstream id, else link, else a content hash
        category TEXT NOT NULL,
        original_url TEXT,
        post_path TEXT NOT NULL,        -- relative to the first post folder
        post_date TEXT NOT NULL,        -- the date written into the post, kept on updates
        entry_updated TEXT,             -- the upstream's updated date when last written
        pending_text TEXT,              -- the post, until its file is known to be on disk
        imported_at REAL NOT NULL,
        PRIMARY KEY (upstream, entry_key)
    );
    CREATE INDEX imported_entry_by_url ON imported_entry (category, original_url);
    CREATE INDEX imported_entry_pending ON imported_entry (upstream) WHERE pending_text IS NOT NULL;
    """,
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE post (
        path TEXT PRIMARY KEY,          -- absolute
        folder_rank INTEGER NOT NULL,   -- position of its folder in posts.dirs
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        indexed_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        error TEXT,                     -- why the post cannot be used
        id TEXT,
        date_ts REAL,
        data TEXT,                      -- the parsed post, JSON; NULL if unusable or unpublished
        shadowed INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX post_by_id ON post (id);
    CREATE TABLE post_feed (
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        label TEXT NOT NULL,            -- the category or tag as the post spells it
        path TEXT NOT NULL REFERENCES post (path) ON DELETE CASCADE,
        date_ts REAL NOT NULL,
        PRIMARY KEY (kind, slug, path)
    );
    CREATE INDEX post_feed_newest ON post_feed (kind, slug, date_ts DESC);
    CREATE INDEX post_feed_by_path ON post_feed (path);
    CREATE INDEX post_feed_by_date ON post_feed (date_ts);
    CREATE TABLE entry_cache (
        path TEXT PRIMARY KEY REFERENCES post (path) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,           -- of the file the entry was rendered from
        data TEXT NOT NULL
    );
    """,
    """
    CREATE INDEX imported_entry_by_key ON imported_entry (entry_key);
    """,
    """
    -- Feeds whose posts changed in the index and that a finished build has not yet written:
    -- recorded with the index change itself, so a build killed in between is finished later.
    CREATE TABLE stale_feed (
        kind TEXT NOT NULL,
        slug TEXT NOT NULL,
        PRIMARY KEY (kind, slug)
    );
    """,
    """
    -- An upstream is known by its key (its configured id, else its URL), not its name, so
    -- that renaming it imports nothing again; imported_entry.upstream holds the key too.
    -- Rows made by earlier versions hold the name until the poller adopts them.
    ALTER TABLE upstream RENAME COLUMN name TO key;
    """,
    """
    -- What the upstream's last feed had that was read all the same (a JSON Feed version
    -- written as a bare number, a format feedparser does not name, malformed XML), for status.
    ALTER TABLE upstream ADD COLUMN last_warning TEXT;
    """,
    """
    -- Whether the post carries its entry's guid, which becomes its feed id: not when another
    -- upstream's post came from that id first, and an update keeps it so. Earlier versions
    -- wrote no guid when a post in another category had the key first (or in the same second).
    ALTER TABLE imported_entry ADD COLUMN guid_in_post INTEGER NOT NULL DEFAULT 1;
    UPDATE imported_entry SET guid_in_post = 0 WHERE EXISTS (
        SELECT 1 FROM imported_entry AS other
        WHERE other.entry_key = imported_entry.entry_key
            AND other.category != imported_entry.category
            AND other.post_path != ''
            AND other.imported_at <= imported_entry.imported_at
    );
    """,
    """
    -- Entries of upstreams that fetch more per item (a detail request, the full text) whose
    -- fetch failed: how many polls tried, so that one is written with what it has at last.
    CREATE TABLE enrichment_attempt (
        upstream TEXT NOT NULL,
        entry_key TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (upstream, entry_key)
    );
    """,
    """
    -- What the status page charts and lists: polls and posts imported per upstream, day
    -- (in the site's time zone) and outcome, kept for HISTORY_DAYS; the last builds (the
    -- newest BUILDS_KEPT). Counted per day, not logged per poll: 500 upstreams polled every
    -- 10 minutes would log two million polls a month.
    CREATE TABLE poll_day (
        upstream TEXT NOT NULL,         -- the upstream's key
        day TEXT NOT NULL,              -- YYYY-MM-DD
        result TEXT NOT NULL,           -- imported, unchanged, failed, gone
        polls INTEGER NOT NULL,
        posts INTEGER NOT NULL,         -- posts written by those polls
        PRIMARY KEY (upstream, day, result)
    );
    CREATE TABLE build_log (
        finished REAL NOT NULL,         -- Unix seconds
        seconds REAL NOT NULL,
        written INTEGER NOT NULL,       -- feed files written
        removed INTEGER NOT NULL,
        problems INTEGER NOT NULL,      -- posts skipped
        refused TEXT                    -- why the build changed nothing, when it was refused
    );
    """,
    """
    -- The WebSub hub: verified subscriptions to our feeds, and the deliveries still owed to
    -- them (one per subscription: a feed changed again before delivery is sent as it is then).
    CREATE TABLE websub_subscription (
        topic TEXT NOT NULL,            -- the feed's URL
        callback TEXT NOT NULL,
        host TEXT NOT NULL,             -- the callback's host, for the limit per host
        secret TEXT,                    -- hub.secret: deliveries are signed with it
        lease_seconds INTEGER NOT NULL,
        expires_at REAL NOT NULL,       -- Unix seconds
        PRIMARY KEY (topic, callback)
    );
    CREATE INDEX websub_subscription_by_host ON websub_subscription (host);
    CREATE INDEX websub_subscription_by_expiry ON websub_subscription (expires_at);
    CREATE TABLE websub_delivery (
        topic TEXT NOT NULL,
        callback TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        FOREIGN KEY (topic, callback) REFERENCES websub_subscription ON DELETE CASCADE,
        PRIMARY KEY (topic, callback)
    );
    CREATE INDEX websub_delivery_due ON websub_delivery (next_attempt);
    -- The WebSub subscriber: each upstream's subscription at the hub its feed names.
    CREATE TABLE websub_push (
        upstream TEXT PRIMARY KEY,      -- the upstream's key
        hub TEXT NOT NULL,
        topic TEXT NOT NULL,
        token TEXT NOT NULL UNIQUE,     -- the unguessable part of the callback's path
        secret TEXT,                    -- the verified subscription's secret
        asked_secret TEXT,              -- the one sent with a request not yet verified
        state TEXT NOT NULL,            -- requested, active, denied, failed, unsubscribing
        requested_at REAL NOT NULL,
        lease_expires REAL,
        last_push REAL,
        last_error TEXT
    );
    """,
)

# How far back the status page looks, and how many builds it lists.
HISTORY_DAYS = 30
BUILDS_KEPT = 20


@dataclass
class UpstreamRow:
    """What we remember of one upstream between polls; ``key`` is ``UpstreamConfig.key``."""

    key: str
    url: str
    current_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    state: str = "never"  # ok, error, backoff, gone, never
    last_poll: float | None = None
    next_poll: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_errors: int = 0
    last_warning: str | None = None


@dataclass(frozen=True)
class BuildRecord:
    finished: float
    seconds: float
    written: int
    removed: int
    problems: int
    refused: str | None = None


@dataclass(frozen=True)
class ImportedEntry:
    upstream: str
    entry_key: str
    category: str
    original_url: str | None
    post_path: str
    post_date: str
    entry_updated: str | None
    imported_at: float
    guid_in_post: bool = True  # the post carries the entry's guid (its feed id)


# How long a connection waits for another process's write before giving up.
BUSY_SECONDS = 30.0

_UPSTREAM_COLUMNS = ", ".join(f.name for f in fields(UpstreamRow))
_IMPORTED_COLUMNS = ", ".join(f.name for f in fields(ImportedEntry))


class StateError(Exception):
    """The state file cannot be opened or is newer than this version understands."""


class State:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> State:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(
                f"{path}: cannot make the state's folder: {error.strerror or error}"
            ) from None
        try:
            connection = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
            _use_wal(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            state = cls(connection, path)
            state.migrate()
        except sqlite3.DatabaseError as error:
            raise StateError(f"{path}: cannot open the state database: {error}") from None
        return state

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        """Bring the schema up to date. Safe to race: the version is read again inside each
        write transaction, so of two processes opening a new state, one creates the tables
        and the other sees them made."""
        if self._version() == len(MIGRATIONS):
            return
        with self.transaction():
            version = self._version()
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    def _version(self) -> int:
        version: int = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StateError(
                f"{self.path}: schema version {version} is newer than this syndicator "
                f"understands ({len(MIGRATIONS)}); upgrade syndicator"
            )
        return version

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

    def upstream(self, key: str) -> UpstreamRow | None:
        row = self.db.execute(
            f"SELECT {_UPSTREAM_COLUMNS} FROM upstream WHERE key = ?", (key,)
        ).fetchone()
        return UpstreamRow(*row) if row else None

    def upstreams(self) -> list[UpstreamRow]:
        rows = self.db.execute(f"SELECT {_UPSTREAM_COLUMNS} FROM upstream ORDER BY key")
        return [UpstreamRow(*row) for row in rows]

    def rekey_upstream(self, old: str, new: str) -> None:
        """Move an upstream's row and its imported entries from key ``old`` to ``new``."""
        with self.transaction() as db:
            db.execute("UPDATE upstream SET key = ? WHERE key = ?", (new, old))
            db.execute("UPDATE imported_entry SET upstream = ? WHERE upstream = ?", (new, old))

    def save_upstream(self, row: UpstreamRow) -> None:
        placeholders = ", ".join("?" for _ in fields(UpstreamRow))
        self.db.execute(
            f"INSERT OR REPLACE INTO upstream ({_UPSTREAM_COLUMNS}) VALUES ({placeholders})",
            astuple(row),
        )

    def imported_entry(self, upstream: str, entry_key: str) -> ImportedEntry | None:
        row = self.db.execute(
            f"SELECT {_IMPORTED_COLUMNS} FROM imported_entry WHERE upstream = ? AND entry_key = ?",
            (upstream, entry_key),
        ).fetchone()
        return _imported_entry(row) if row else None

    def entry_with_original(self, category: str, original_url: str) -> ImportedEntry | None:
        """An entry already imported into ``category`` from the same original article."""
        row = self.db.execute(
            f"SELECT {_IMPORTED_COLUMNS} FROM imported_entry "
            "WHERE category = ? AND original_url = ? ORDER BY imported_at LIMIT 1",
            (category, original_url),
        ).fetchone()
        return _imported_entry(row) if row else None

    def key_posted_elsewhere(self, entry_key: str, upstream: str) -> bool:
        """Whether another upstream's entry with this key became a post (or stands for one),
        in any category: that post may have the key as its feed id."""
        row = self.db.execute(
            "SELECT 1 FROM imported_entry WHERE entry_key = ? AND upstream != ? AND post_path != '' "
            "LIMIT 1",
            (entry_key, upstream),
        ).fetchone()
        return row is not None

    def record_entry(self, entry: ImportedEntry, pending_text: str | None) -> None:
        """Remember an entry; with ``pending_text``, the post that must reach its file."""
        placeholders = ", ".join("?" for _ in fields(ImportedEntry))
        self.db.execute(
            f"INSERT OR REPLACE INTO imported_entry ({_IMPORTED_COLUMNS}, pending_text) "
            f"VALUES ({placeholders}, ?)",
            (*astuple(entry), pending_text),
        )

    def entry_written(self, upstream: str, entry_key: str) -> None:
        self.db.execute(
            "UPDATE imported_entry SET pending_text = NULL WHERE upstream = ? AND entry_key = ?",
            (upstream, entry_key),
        )

    def pending_posts(self) -> list[tuple[str, str, str, str]]:
        """(upstream, entry key, post path, post text) of posts not yet known to be on disk."""
        return list(
            self.db.execute(
                "SELECT upstream, entry_key, post_path, pending_text FROM imported_entry "
                "WHERE pending_text IS NOT NULL ORDER BY imported_at"
            )
        )

    def known_post_paths(self, names: set[str]) -> set[str]:
        """Those of ``names`` that are post files the poller records (written or pending)."""
        found: set[str] = set()
        ordered = sorted(names)
        for start in range(0, len(ordered), 500):
            batch = ordered[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT post_path FROM imported_entry WHERE post_path IN ({marks})", batch
                )
            )
        return found

    def imported_counts(self) -> dict[str, int]:
        """Posts written per upstream (entries ``backfill`` left out have no post path)."""
        return dict(
            self.db.execute(
                "SELECT upstream, count(*) FROM imported_entry WHERE post_path != '' "
                "GROUP BY upstream"
            )
        )

    def recorded_counts(self) -> dict[str, int]:
        """Entries known per upstream, with a post or without (left out by ``backfill``)."""
        return dict(
            self.db.execute("SELECT upstream, count(*) FROM imported_entry GROUP BY upstream")
        )

    def entry_keys(self, upstream: str) -> frozenset[str]:
        """The keys of every entry recorded for ``upstream``."""
        return frozenset(
            row[0]
            for row in self.db.execute(
                "SELECT entry_key FROM imported_entry WHERE upstream = ?", (upstream,)
            )
        )

    def count_enrichment_failure(self, upstream: str, entry_key: str, error: str) -> int:
        """Count one more failed poll for the entry's detail or full text; the count so far."""
        self.db.execute(
            "INSERT INTO enrichment_attempt (upstream, entry_key, attempts, last_error) "
            "VALUES (?, ?, 1, ?) ON CONFLICT (upstream, entry_key) DO UPDATE SET "
            "attempts = attempts + 1, last_error = excluded.last_error",
            (upstream, entry_key, error),
        )
        row = self.db.execute(
            "SELECT attempts FROM enrichment_attempt WHERE upstream = ? AND entry_key = ?",
            (upstream, entry_key),
        ).fetchone()
        return int(row[0])

    def forget_enrichment_failures(self, upstream: str, entry_key: str) -> None:
        self.db.execute(
            "DELETE FROM enrichment_attempt WHERE upstream = ? AND entry_key = ?",
            (upstream, entry_key),
        )

    def set_next_poll(self, key: str, url: str, when: float) -> None:
        """Remember when the daemon has scheduled an upstream's next poll (what ``status``
        shows); a row is made for an upstream never polled yet."""
        self.db.execute(
            "INSERT INTO upstream (key, url, next_poll) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET next_poll = excluded.next_poll",
            (key, url, when),
        )

    def record_poll(self, upstream: str, day: str, result: str, posts: int, oldest: str) -> None:
        """Count one poll (and the posts it wrote) on its day; days before ``oldest`` go."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO poll_day (upstream, day, result, polls, posts) VALUES (?, ?, ?, 1, ?) "
                "ON CONFLICT (upstream, day, result) DO UPDATE SET polls = polls + 1, "
                "posts = posts + excluded.posts",
                (upstream, day, result, posts),
            )
            db.execute("DELETE FROM poll_day WHERE upstream = ? AND day < ?", (upstream, oldest))

    def poll_days(self, oldest: str) -> list[tuple[str, str, str, int, int]]:
        """(upstream key, day, result, polls, posts) of the days from ``oldest`` on."""
        return list(
            self.db.execute(
                "SELECT upstream, day, result, polls, posts FROM poll_day WHERE day >= ?",
                (oldest,),
            )
        )

    def record_build(self, build: BuildRecord) -> None:
        """One build, for the status page; only the newest ``BUILDS_KEPT`` are kept."""
        placeholders = ", ".join("?" for _ in fields(BuildRecord))
        with self.transaction() as db:
            db.execute(f"INSERT INTO build_log VALUES ({placeholders})", astuple(build))
            db.execute(
                "DELETE FROM build_log WHERE rowid NOT IN "
                "(SELECT rowid FROM build_log ORDER BY finished DESC LIMIT ?)",
                (BUILDS_KEPT,),
            )

    def builds(self) -> list[BuildRecord]:
        """The builds kept, newest first."""
        rows = self.db.execute(
            "SELECT finished, seconds, written, removed, problems, refused FROM build_log "
            "ORDER BY finished DESC"
        )
        return [BuildRecord(*row) for row in rows]

    def has_entries(self, upstream: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM imported_entry WHERE upstream = ? LIMIT 1", (upstream,)
        ).fetchone()
        return row is not None


def _imported_entry(row: tuple[Any, ...]) -> ImportedEntry:
    """A row as an ImportedEntry: SQLite gives ``guid_in_post`` as 0 or 1."""
    entry = ImportedEntry(*row)
    return replace(entry, guid_in_post=bool(entry.guid_in_post))


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch a new database to WAL. Two processes creating it at once may find it locked
    (SQLite does not wait on the busy timeout for this): try again until it takes."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _statements(script: str) -> list[str]:
    """A migration's statements, each whole (``sqlite3.complete_statement`` finds the ends),
    so they run inside one transaction with ``execute`` (``executescript`` would commit)."""
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    statements.append(current.strip())  # the last may end without its semicolon
    return [s for s in statements if s.strip(" \n;")]
