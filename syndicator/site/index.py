"""The index of parsed posts in the state database, so a build re-reads only what changed.

Each post file is known by its path, size and modification time (and a content hash for
files modified so close to their indexing that the time cannot be trusted). A sync stats
every file, re-reads the new and changed ones (in worker processes when there are many),
forgets the deleted ones, and answers which feeds those changes touch. Feeds are then
planned with SQL: a feed's newest entries are one indexed query, whatever the site's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from syndicator import __version__
from syndicator.core.config import Config
from syndicator.site.files import (
    NOT_UTF8_NAME,
    PostFile,
    escaped,
    is_utf8,
    missing_folders,
    post_file_at,
    post_file_stats,
)
from syndicator.site.labels import SITE, FeedKey, memberships
from syndicator.site.posts import (
    Post,
    PostError,
    UnreadablePostError,
    labels_notice,
    parse_post,
    read_text,
)
from syndicator.state.db import State

# Files modified less than this before they were indexed may change again within the same
# mtime tick; they are checked by content hash on the next sync.
RACY_NS = 2_000_000_000
# A file indexed "at time 0" is read again on every sync: one we could not read (its
# permissions may be fixed without touching its modification time).
READ_AGAIN_NS = 0
# A sync that leaves fewer than half of the usable posts the feeds were last built from (and
# more than this many fewer), or none at all, is refused unless asked for: a folder emptied,
# unmounted or mangled by mistake must not empty the feeds.
SHRINK_MINIMUM = 5
# The count a sync is compared with is the highest of the builds of the last day: deletions
# spread over several rebuilds (an `rm -r` while the daemon watches) add up, and a site that
# shrinks a little at a time, each build going through, is measured against its new size a
# day later. A loss of most at once is refused until `build --allow-shrink`, however long.
SHRINK_BASELINE_SECONDS = 86_400.0
PARALLEL_THRESHOLD = 1000
CHUNK = 500


class SyncRefusedError(Exception):
    """The post folders look lost, not edited: the index (and so the feeds) is left as it
    was. The message says what was seen and what to do."""


@dataclass(frozen=True)
class _Parsed:
    """What reading one file gave, ready to store: a post, a problem, or a post marked
    unpublished (no error, no data). Made in worker processes, so plain values only."""

    path: str
    folder_rank: int
    size: int
    mtime_ns: int
    sha256: str
    error: str | None = None
    id: str | None = None
    date_ts: float | None = None
    data: str | None = None
    feeds: tuple[tuple[str, str, str], ...] = ()
    read_again: bool = False  # could not be read: try again on the next sync
    notice: str | None = None  # worth telling, not a problem: labels left out


def config_fingerprint(config: Config) -> str:
    """What a parsed post or a rendered entry depends on besides its file."""
    relevant = {
        "version": __version__,
        "site": repr(config.site),
        "dirs": [str(d) for d in config.posts.dirs],
        "extensions": config.posts.extensions,
        "max_labels": config.posts.max_labels,
        "attribution": repr(config.attribution),
        # Named in every feed: a change rewrites them all.
        "hubs": config.websub.advertised_hubs,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


class PostIndex:
    def __init__(self, config: Config, state: State) -> None:
        self.config = config
        self.db = state.db
        self.state = state
        self.misnamed: list[str] = []  # post files whose names are not UTF-8, escaped
        self.notices: list[str] = []  # about the posts the last sync read
        self._decoded: dict[str, Post] = {}  # by path, as the last sync left them

    # Syncing with the folders

    def sync(
        self,
        full: bool = False,
        paths: Collection[Path] | None = None,
        progress: Callable[[int, int], None] | None = None,
        allow_shrink: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Bring the index up to date with the post folders; with ``paths`` (what a file
        watcher reported), look at those files only instead of walking every folder.

        Raises SyncRefusedError when a post folder is missing (changing nothing), or, unless
        ``allow_shrink``, when most of the usable posts the feeds were built from are gone
        (the index then holds what the folders hold, and every build refuses until the
        posts are back or the shrink is allowed).
        """
        if missing := missing_folders(self.config):
            raise SyncRefusedError(f"{missing[0]} Nothing was removed; fix that or posts.dirs")
        moment = (now or datetime.now(UTC)).timestamp()
        # A state from before baselines were kept: the index as it stands is the measure.
        baseline = self._shrink_baseline() or (self.shown(moment), moment)
        fingerprint = config_fingerprint(self.config)
        if full or self.meta("fingerprint") != fingerprint:
            with self.state.transaction() as db:
                db.execute("DELETE FROM post")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('stale_all', '1')")
            paths = None
        self.misnamed = []
        self.notices = []
        self._decoded = {}
        if paths is None:
            known = self._known(None)
            stats: Iterable[tuple[str, Path, int, int]] = post_file_stats(
                self.config, self.misnamed
            )
        else:
            usable = sorted(p for p in set(paths) if is_utf8(str(p)))
            self.misnamed = sorted(escaped(str(p)) for p in set(paths) if not is_utf8(str(p)))
            known = self._known([str(p) for p in usable])
            found = filter(None, (post_file_at(p, self.config) for p in usable))
            stats = ((str(f.path), f.folder, f.size, f.mtime_ns) for f in found)
        to_read: list[PostFile] = []
        seen: set[str] = set()
        for key, folder, size, mtime_ns in stats:
            seen.add(key)
            row = known.get(key)
            if row is None or row[:2] != (size, mtime_ns) or row[1] >= row[2] - RACY_NS:
                to_read.append(PostFile(Path(key), folder, size, mtime_ns))
        deleted = [path for path in known if path not in seen]
        done = 0
        for parsed in self._read(to_read):
            # Re-read but the same bytes (a touch, or a time we could not trust): refresh the
            # stat only.
            same = [p for p in parsed if _unchanged(p, known.get(p.path))]
            changed = [p for p in parsed if not _unchanged(p, known.get(p.path))]
            self._apply(changed, same, [])
            self.notices += [p.notice for p in changed if p.notice]
            done += len(parsed)
            if progress is not None:
                progress(done, len(to_read))
        self._apply([], [], deleted)
        if not allow_shrink:
            self._refuse_shrinking(baseline[0], moment)

    def _refuse_shrinking(self, before: int, now: float) -> None:
        """Counted after the sync, not from the files it deleted: a full rebuild, posts
        broken, unpublished or dated in the future in bulk, and posts moved to another
        folder are then all judged alike, by the posts shown against those shown before."""
        shown = self.shown(now)
        lost = before - shown
        if (shown == 0 and before > 0) or (lost > SHRINK_MINIMUM and lost * 2 > before):
            problems = len(self.problems())
            raise SyncRefusedError(
                f"{_posts(shown)} to show in {_folders(self.config)}, down from {before} when "
                "the feeds were last built"
                + (
                    f" ({_posts(problems)} with problems: `syndicator check` lists them)"
                    if problems
                    else ""
                )
                + ": posts deleted, moved out, unmounted, broken, unpublished or dated in the "
                "future? The feeds were left as they are; put the posts back, or if that is "
                "what you meant, run `syndicator build --allow-shrink` once"
            )

    def shown(self, now: float) -> int:
        """Posts a feed shows at ``now``: read without a problem, published, dated by then,
        not a copy of another."""
        count: int = self.db.execute(
            "SELECT count(*) FROM post WHERE error IS NULL AND shadowed = 0 "
            "AND data IS NOT NULL AND date_ts <= ?",
            (now,),
        ).fetchone()[0]
        return count

    def _shrink_baseline(self) -> tuple[int, float] | None:
        saved = self.meta("shrink_baseline")
        if saved is None:
            return None
        count, since = json.loads(saved)
        return int(count), float(since)

    def _next_baseline(self, now: float, reset: bool) -> tuple[int, float]:
        """The day's highest count: kept while higher than now, unless a day old or reset."""
        shown = self.shown(now)
        baseline = self._shrink_baseline()
        if reset or baseline is None or shown >= baseline[0]:
            return shown, now
        if now - baseline[1] > SHRINK_BASELINE_SECONDS:
            return shown, now
        return baseline

    def _known(self, paths: list[str] | None) -> dict[str, tuple[int, int, int, str]]:
        """(size, mtime_ns, indexed_ns, sha256) of the indexed posts: all, or those paths."""
        query = "SELECT path, size, mtime_ns, indexed_ns, sha256 FROM post"
        if paths is None:
            rows: Iterable[tuple[str, int, int, int, str]] = self.db.execute(query)
        else:
            rows = [
                row
                for batch in _batches(paths)
                for row in self.db.execute(
                    f"{query} WHERE path IN ({','.join('?' * len(batch))})", batch
                )
            ]
        return {path: (size, mtime, indexed, sha) for path, size, mtime, indexed, sha in rows}

    def _read(self, files: list[PostFile]) -> Iterator[list[_Parsed]]:
        """The files parsed, a chunk at a time (so a cold build never holds them all)."""
        chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
        ranks = {folder: rank for rank, folder in enumerate(self.config.posts.dirs)}
        if len(files) < PARALLEL_THRESHOLD or (os.cpu_count() or 1) < 2:
            for chunk in chunks:
                yield _parse_chunk(chunk, self.config, ranks)
            return
        # fork: the workers start with everything already imported and the config in hand.
        with ProcessPoolExecutor(
            max_workers=os.cpu_count(), mp_context=get_context("fork")
        ) as pool:
            count = len(chunks)
            yield from pool.map(_parse_chunk, chunks, [self.config] * count, [ranks] * count)

    def _apply(
        self,
        changed: list[_Parsed],
        stat_only: list[_Parsed],
        deleted: list[str],
    ) -> None:
        now_ns = time.time_ns()
        old_paths = [p.path for p in changed] + deleted
        if not old_paths and not stat_only:
            return
        with self.state.transaction() as db:
            touched = self._feeds_of(old_paths)
            old_ids = self._ids_of(old_paths)
            db.executemany("DELETE FROM post WHERE path = ?", [(path,) for path in old_paths])
            db.executemany(
                "INSERT INTO post (path, folder_rank, size, mtime_ns, indexed_ns, sha256, error, "
                "id, date_ts, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        p.path,
                        p.folder_rank,
                        p.size,
                        p.mtime_ns,
                        READ_AGAIN_NS if p.read_again else now_ns,
                        p.sha256,
                        p.error,
                        p.id,
                        p.date_ts,
                        p.data,
                    )
                    for p in changed
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO post_feed (kind, slug, label, path, date_ts) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (kind, slug, label, p.path, p.date_ts)
                    for p in changed
                    for kind, slug, label in p.feeds
                ],
            )
            db.executemany(
                "UPDATE post SET size = ?, mtime_ns = ?, indexed_ns = ? WHERE path = ?",
                [(p.size, p.mtime_ns, now_ns, p.path) for p in stat_only],
            )
            touched |= {(kind, slug) for p in changed for kind, slug, _ in p.feeds}
            db.executemany("INSERT OR IGNORE INTO stale_feed VALUES (?, ?)", sorted(touched))
            self._update_shadowing(old_ids | {p.id for p in changed if p.id})

    def _feeds_of(self, paths: list[str]) -> set[FeedKey]:
        touched: set[FeedKey] = set()
        for batch in _batches(paths):
            marks = ",".join("?" * len(batch))
            touched.update(
                self.db.execute(
                    f"SELECT DISTINCT kind, slug FROM post_feed WHERE path IN ({marks})", batch
                )
            )
        return touched

    def _ids_of(self, paths: list[str]) -> set[str]:
        ids: set[str] = set()
        for batch in _batches(paths):
            marks = ",".join("?" * len(batch))
            ids.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT id FROM post WHERE path IN ({marks}) AND id IS NOT NULL", batch
                )
            )
        return ids

    def _update_shadowing(self, ids: set[str]) -> None:
        """The same id in two files (a post mid-move from ``_posts/`` to ``old_post/``):
        the first folder listed wins, then the first path; the other is shadowed."""
        self.db.executemany(
            "UPDATE post SET shadowed = EXISTS (SELECT 1 FROM post AS other WHERE other.id = post.id "
            "AND (other.folder_rank, other.path) < (post.folder_rank, post.path)) WHERE id = ?",
            [(i,) for i in ids],
        )

    # Questions a build asks

    def feeds(self, now: datetime, recheck: set[FeedKey] | None = None) -> dict[FeedKey, str]:
        """Every feed with a published post, with its display name (the commonest label).

        With ``recheck`` (the feeds whose posts changed, or whose posts' dates were passed,
        since the last build) the last build's answer is reused and only those feeds are
        looked at again: over every post, this query is most of a small build's time.
        """
        saved = self.meta("feeds") if recheck is not None else None
        if saved is None:
            found = self._labels(now, None)
        else:
            found = {(kind, slug): name for kind, slug, name in json.loads(saved)}
            for key in recheck or ():
                found.pop(key, None)
                found.update(self._site(now) if key == (SITE, "") else self._labels(now, key))
        self.set_meta("feeds", json.dumps([[*key, name] for key, name in sorted(found.items())]))
        return found

    def _site(self, now: datetime) -> dict[FeedKey, str]:
        """The whole-site feed, if any post is published: it is named after the site, so its
        posts' labels need no counting (over every post, that is most of a small build)."""
        row = self.db.execute(
            "SELECT 1 FROM post_feed f JOIN post p ON p.path = f.path "
            "WHERE f.kind = ? AND f.slug = '' AND f.date_ts <= ? AND p.shadowed = 0 LIMIT 1",
            (SITE, now.timestamp()),
        ).fetchone()
        return {(SITE, ""): ""} if row else {}

    def _labels(self, now: datetime, key: FeedKey | None) -> dict[FeedKey, str]:
        """Display names of every feed, or of the one feed ``key``."""
        where = "" if key is None else " AND f.kind = ? AND f.slug = ?"
        rows = self.db.execute(
            "SELECT f.kind, f.slug, f.label, count(*) FROM post_feed f JOIN post p ON p.path = f.path "
            f"WHERE p.shadowed = 0 AND f.date_ts <= ?{where} GROUP BY f.kind, f.slug, f.label",
            (now.timestamp(), *(key or ())),
        )
        counts: dict[FeedKey, dict[str, int]] = {}
        for kind, slug, label, count in rows:
            counts.setdefault((kind, slug), {})[label] = count
        return {
            feed: min(labels, key=lambda name: (-labels[name], name))
            for feed, labels in counts.items()
        }

    def entry_counts(self, now: datetime) -> dict[FeedKey, int]:
        """Published posts of every feed (a feed shows its newest ``feeds.max_items``)."""
        # Every membership from the (kind, slug, date) index, less the few shadowed posts'
        # (found from the posts first: CROSS JOIN keeps SQLite to that order). A join of
        # every membership with its post costs a third of a second at 50,000 posts.
        counts: dict[FeedKey, int] = {
            (kind, slug): count
            for kind, slug, count in self.db.execute(
                "SELECT kind, slug, count(*) FROM post_feed WHERE date_ts <= ? GROUP BY kind, slug",
                (now.timestamp(),),
            )
        }
        shadowed = self.db.execute(
            "SELECT f.kind, f.slug, count(*) FROM post p CROSS JOIN post_feed f ON f.path = p.path "
            "WHERE p.shadowed = 1 AND f.date_ts <= ? GROUP BY f.kind, f.slug",
            (now.timestamp(),),
        )
        for kind, slug, count in shadowed:
            counts[(kind, slug)] -= count
        return counts

    def built_feeds(self) -> dict[FeedKey, str]:
        """The feeds the last build wrote, with their label names; read only."""
        saved = self.meta("feeds")
        return {(kind, slug): name for kind, slug, name in json.loads(saved or "[]")}

    def labels(self, kind: str) -> list[str]:
        """Every label of this kind (categories or tags) the indexed posts use."""
        rows = self.db.execute(
            "SELECT DISTINCT label FROM post_feed WHERE kind = ? ORDER BY label", (kind,)
        )
        return [label for (label,) in rows]

    def newest(self, key: FeedKey, now: datetime, limit: int) -> list[Post]:
        """The feed's newest published posts, newest first (equal dates in id order)."""
        rows = self.db.execute(
            "SELECT p.path, p.data FROM post_feed f JOIN post p ON p.path = f.path "
            "WHERE f.kind = ? AND f.slug = ? AND f.date_ts <= ? AND p.shadowed = 0 "
            "ORDER BY f.date_ts DESC, p.id LIMIT ?",
            (*key, now.timestamp(), limit),
        )
        return [self._post(path, data) for path, data in rows]

    def _post(self, path: str, data: str) -> Post:
        """The indexed post, decoded once however many feeds hold it (one with 100 tags is
        in 101)."""
        post = self._decoded.get(path)
        if post is None:
            post = self._decoded[path] = _post_from_json(Path(path), data)
        return post

    def feeds_dated_between(self, start: float, end: float) -> set[FeedKey]:
        """Feeds holding posts whose date lies in (start, end]: future posts whose time has come
        since the last build (or, after the clock went back, posts that must wait again)."""
        low, high = min(start, end), max(start, end)
        return set(
            self.db.execute(
                "SELECT DISTINCT kind, slug FROM post_feed WHERE date_ts > ? AND date_ts <= ?",
                (low, high),
            )
        )

    def problems(self) -> list[PostError]:
        """Every post file that cannot be used, with the reason, in path order."""
        rows = self.db.execute("SELECT path, error FROM post WHERE error IS NOT NULL ORDER BY path")
        found = [PostError(Path(path), error) for path, error in rows]
        found += [PostError(Path(name), NOT_UTF8_NAME) for name in self.misnamed]
        return sorted(found, key=lambda problem: str(problem.path))

    def shadowed(self) -> list[str]:
        rows = self.db.execute(
            "SELECT p.path, o.path, p.id FROM post p JOIN post o ON o.id = p.id AND o.shadowed = 0 "
            "WHERE p.shadowed = 1 ORDER BY p.path"
        )
        return [
            f"{path}: same post as {kept} (id {post_id}); kept that one"
            for path, kept, post_id in rows
        ]

    def counts(self, now: datetime) -> tuple[int, int]:
        """(published posts, posts dated in the future)."""
        published, scheduled = self.db.execute(
            "SELECT coalesce(sum(date_ts <= ?), 0), coalesce(sum(date_ts > ?), 0) FROM post "
            "WHERE error IS NULL AND shadowed = 0 AND data IS NOT NULL",
            (now.timestamp(), now.timestamp()),
        ).fetchone()
        return published, scheduled

    def cached_entry(self, path: Path) -> str | None:
        row = self.db.execute(
            "SELECT c.data FROM entry_cache c JOIN post p ON p.path = c.path AND p.sha256 = c.sha256 "
            "WHERE c.path = ?",
            (str(path),),
        ).fetchone()
        return row[0] if row else None

    def cache_entries(self, entries: Iterable[tuple[Path, str]]) -> None:
        with self.state.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO entry_cache (path, sha256, data) "
                "SELECT path, sha256, ? FROM post WHERE path = ?",
                [(data, str(path)) for path, data in entries],
            )

    def stale(self) -> tuple[bool, set[FeedKey]]:
        """(every feed, or these feeds) changed in the index and not yet written by a
        finished build: what an interrupted build left to do."""
        feeds = set(self.db.execute("SELECT kind, slug FROM stale_feed"))
        return self.meta("stale_all") is not None, feeds

    def finished(self, now: datetime, listing: str, allow_shrink: bool = False) -> None:
        """The build at ``now`` wrote everything: nothing is stale any more, and the posts
        it was built from are what later syncs are measured against (from now on, when
        ``allow_shrink`` let it shrink)."""
        baseline = self._next_baseline(now.timestamp(), reset=allow_shrink)
        with self.state.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('shrink_baseline', ?)", (json.dumps(baseline),)
            )
            db.execute("DELETE FROM stale_feed")
            db.execute("DELETE FROM meta WHERE key = 'stale_all'")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('listing', ?)", (listing,))
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('last_build', ?)", (str(now.timestamp()),)
            )

    def last_build(self) -> float | None:
        value = self.meta("last_build")
        return float(value) if value is not None else None

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _parse_chunk(files: list[PostFile], config: Config, ranks: dict[Path, int]) -> list[_Parsed]:
    return [_parse_file(file, config, ranks[file.folder]) for file in files]


def _parse_file(file: PostFile, config: Config, rank: int) -> _Parsed:
    stat = (str(file.path), rank, file.size, file.mtime_ns)
    try:
        text = read_text(file.path, config.posts.max_bytes)
    except UnreadablePostError as error:
        return _Parsed(*stat, sha256="", error=error.reason, read_again=True)
    except PostError as error:
        return _Parsed(*stat, sha256="", error=error.reason)
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        parsed = parse_post(file.path, text, config)
    except PostError as error:
        return _Parsed(*stat, sha256=digest, error=error.reason)
    if parsed is None:
        return _Parsed(*stat, sha256=digest)  # published: false
    post, _ = parsed
    return _Parsed(
        *stat,
        sha256=digest,
        id=post.id,
        date_ts=post.date.timestamp(),
        data=_post_json(post),
        feeds=tuple(memberships(post)),
        notice=labels_notice(post, config.posts.max_labels),
    )


def _unchanged(parsed: _Parsed, known: tuple[int, int, int, str] | None) -> bool:
    """Whether a file read again holds what its index row was made from (a touch, or a time
    that could not be trusted): then only its stat is refreshed."""
    return (
        known is not None
        and not parsed.read_again
        and parsed.error is None
        and known[3] == parsed.sha256
    )


def _posts(count: int) -> str:
    return f"{count} post" if count == 1 else f"{count} posts"


def _folders(config: Config) -> str:
    return ", ".join(str(folder) for folder in config.posts.dirs)


def _post_json(post: Post) -> str:
    return json.dumps(
        {
            "id": post.id,
            "url": post.url,
            "title": post.title,
            "date": post.date.isoformat(),
            "updated": post.updated.isoformat(),
            "categories": post.categories,
            "tags": post.tags,
            "markdown": post.markdown,
            "source": post.source,
            "source_url": post.source_url,
            "source_feed": post.source_feed,
        },
        ensure_ascii=False,
    )


def _post_from_json(path: Path, text: str) -> Post:
    data = json.loads(text)
    data["date"] = datetime.fromisoformat(data["date"])
    data["updated"] = datetime.fromisoformat(data["updated"])
    data["categories"] = tuple(data["categories"])
    data["tags"] = tuple(data["tags"])
    return Post(path=path, **data)


def _batches(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
