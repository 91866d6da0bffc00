"""``poll``: fetch the upstreams that are due, turn their new entries into posts, once each.

Fetching and parsing run in worker threads (network-bound); everything that touches the
state or the post folder runs in the calling thread, one upstream at a time.

Exactly-once across crashes: a new post is first recorded in the state *with its text*,
then written to its file, then marked written.  A kill between the steps leaves a pending
row that the next poll writes out (``recover_pending``), so a post is neither lost nor
written twice, even if the upstream has dropped the entry by then.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from syndicator import __version__
from syndicator.atomic import fsync_folder, remove_stale_temporaries, write_atomic
from syndicator.build import BuildReport, build_site
from syndicator.config import Config, UpstreamConfig
from syndicator.dates import rfc3339
from syndicator.fetch import Fetcher, FetchError, FetchResult
from syndicator.postwriter import PostSource, post_file_name, render_post
from syndicator.state import ImportedEntry, State, UpstreamRow
from syndicator.upstream import NotAFeedError, UpstreamEntry, UpstreamFeed, parse_feed

log = logging.getLogger(__name__)

FETCH_WORKERS = 16
# A hostile or broken feed (100,000 entries, new ids on every poll) is imported at most this
# many entries a poll; the rest wait for the next one.
MAX_NEW_ENTRIES_PER_POLL = 200
RETRY_STATUSES = frozenset({429, 503})


@dataclass
class PollOutcome:
    name: str
    result: str  # imported, unchanged, failed, gone
    written: list[Path] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # a FetchError kind, "http", or "not_a_feed"


@dataclass
class PollReport:
    outcomes: list[PollOutcome] = field(default_factory=list)
    recovered: int = 0

    @property
    def failed(self) -> list[PollOutcome]:
        return [o for o in self.outcomes if o.result == "failed"]

    @property
    def written(self) -> list[Path]:
        return [path for o in self.outcomes for path in o.written]


@dataclass(frozen=True)
class Fetched:
    """What a worker thread brings back: a parsed feed, a bare response, or an error."""

    result: FetchResult | None = None
    feed: UpstreamFeed | None = None
    error: str | None = None
    error_kind: str | None = None


def user_agent(config: Config) -> str:
    return f"syndicator/{__version__} (+{config.site.url})"


def make_fetcher(config: Config) -> Fetcher:
    polling = config.polling
    return Fetcher(
        user_agent=user_agent(config),
        timeout=polling.timeout,
        max_bytes=polling.max_bytes,
        allow_private_addresses=polling.allow_private_addresses,
    )


def due_upstreams(
    config: Config, state: State, now: float, names: Iterable[str] = (), force: bool = False
) -> list[UpstreamConfig]:
    """The upstreams to poll now: the named ones, or all with ``force``, or those due.

    Raises KeyError naming an unknown upstream.
    """
    wanted = list(names)
    known = {u.name: u for u in config.upstreams}
    for name in wanted:
        if name not in known:
            raise KeyError(name)
    if wanted:
        return [known[name] for name in wanted]
    if force:
        return list(config.upstreams)
    return [u for u in config.upstreams if _is_due(state.upstream(u.name), u, now)]


def _is_due(row: UpstreamRow | None, upstream: UpstreamConfig, now: float) -> bool:
    if row is None or row.url != upstream.url:
        return True
    if row.state == "gone":
        return False
    return row.next_poll is None or row.next_poll <= now


def poll_upstreams(
    config: Config,
    state: State,
    upstreams: list[UpstreamConfig],
    fetcher: Fetcher,
    writing: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> PollReport:
    """Fetch in parallel; apply each answer under ``writing`` (the cross-process write lock),
    so another process waits only for the writes, never for the network."""
    with writing():
        report = PollReport(recovered=recover_pending(config, state))
    rows = {u.name: current_row(state, u) for u in upstreams}
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="fetch") as pool:
        futures = {
            u.name: pool.submit(fetch_upstream, fetcher, rows[u.name], config.site.timezone)
            for u in upstreams
        }
        for upstream in upstreams:
            fetched = futures[upstream.name].result()
            with writing():
                outcome = apply_fetched(config, state, upstream, rows[upstream.name], fetched)
            report.outcomes.append(outcome)
    return report


def current_row(state: State, upstream: UpstreamConfig) -> UpstreamRow:
    """The stored row; a fresh one when the config now gives this name another URL."""
    row = state.upstream(upstream.name)
    if row is None or row.url != upstream.url:
        return UpstreamRow(name=upstream.name, url=upstream.url)
    return row


def fetch_upstream(fetcher: Fetcher, row: UpstreamRow, zone: tzinfo) -> Fetched:
    url = row.current_url or row.url
    try:
        result = fetcher.fetch(url, etag=row.etag, last_modified=row.last_modified)
    except FetchError as error:
        return Fetched(error=str(error), error_kind=error.kind)
    if result.status != 200:
        return Fetched(result=result)
    try:
        # The stored URL, not the one a temporary redirect led to: relative ids resolve
        # against it and must resolve the same way on every poll.
        feed = parse_feed(result.body, url, result.headers, zone)
    except NotAFeedError as error:
        return Fetched(result=result, error=str(error), error_kind="not_a_feed")
    return Fetched(result=result, feed=feed)


def apply_fetched(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    row: UpstreamRow,
    fetched: Fetched,
) -> PollOutcome:
    # The daemon recovers at start only: posts a failed write left pending (the disk was
    # full) are written by the next poll, once there is room again, not at the next restart.
    recovered = write_pending(config, state)
    outcome = _apply(config, state, upstream, row, fetched)
    outcome.written[:0] = recovered  # they need the same rebuild
    return outcome


def _apply(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    row: UpstreamRow,
    fetched: Fetched,
) -> PollOutcome:
    now = datetime.now(UTC).timestamp()
    result = fetched.result
    row.last_poll = now
    row.last_status = result.status if result else None
    moved = result is not None and result.status in (200, 304) and result.permanent_url
    if moved and result.permanent_url != row.current_url:
        log.info(
            "%s: moved permanently to %s; polling it from now on",
            upstream.name,
            result.permanent_url,
        )
        row.current_url = result.permanent_url
    if fetched.error or result is None:
        kind = fetched.error_kind
        return _failed(config, state, upstream, row, fetched.error or "no response", kind, None)
    if result.status == 410:
        row.state, row.next_poll, row.last_error = "gone", None, None
        state.save_upstream(row)
        message = f"{result.url} answered 410 Gone: no longer polled; remove it from the config"
        log.warning("%s: %s", upstream.name, message)
        return PollOutcome(upstream.name, "gone", error=message)
    if result.status == 304:
        _succeeded(config, upstream, row, result, None, now)
        state.save_upstream(row)
        return PollOutcome(upstream.name, "unchanged")
    if result.status != 200 or fetched.feed is None:
        message = f"{result.url} answered HTTP {result.status}"
        return _failed(config, state, upstream, row, message, "http", result.retry_after)
    # New: never polled, or every poll so far failed (nothing was ever recorded for it).
    new_upstream = row.state == "never" or not state.has_entries(upstream.name)
    for warning in fetched.feed.warnings:
        log.debug("%s: %s", upstream.name, warning)
    written = import_entries(config, state, upstream, row, fetched.feed, new_upstream)
    _succeeded(config, upstream, row, result, fetched.feed, now)
    state.save_upstream(row)
    return PollOutcome(upstream.name, "imported" if written else "unchanged", written)


def _succeeded(
    config: Config,
    upstream: UpstreamConfig,
    row: UpstreamRow,
    result: FetchResult,
    feed: UpstreamFeed | None,
    now: float,
) -> None:
    row.state, row.last_error, row.consecutive_errors = "ok", None, 0
    if result.status == 200:
        row.etag, row.last_modified = result.etag, result.last_modified
    requested = max(filter(None, (result.max_age, feed.ttl if feed else None)), default=0.0)
    row.next_poll = now + poll_interval(config, upstream, requested)


def poll_interval(config: Config, upstream: UpstreamConfig, requested: float) -> float:
    """Our interval, or the upstream's own pace if slower, kept within the configured bounds."""
    polling = config.polling
    wanted = max(upstream.interval or polling.interval, requested)
    return min(max(wanted, polling.min_interval), polling.max_interval)


def backoff_delay(config: Config, upstream: UpstreamConfig, errors: int) -> float:
    """Exponential backoff with jitter, capped at ``polling.max_interval``."""
    base = upstream.interval or config.polling.interval
    ceiling = min(base * 2 ** min(errors - 1, 32), config.polling.max_interval)
    return random.uniform(ceiling / 2, ceiling)


def _failed(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    row: UpstreamRow,
    message: str,
    kind: str | None,
    retry_after: float | None,
) -> PollOutcome:
    row.consecutive_errors += 1
    delay = backoff_delay(config, upstream, row.consecutive_errors)
    row.state = "error"
    if retry_after is not None and row.last_status in RETRY_STATUSES:
        delay, row.state = max(delay, retry_after), "backoff"
    row.last_error = message
    row.next_poll = (row.last_poll or 0) + delay
    state.save_upstream(row)
    log.warning(
        "%s: %s (error %d in a row; next try in %.0f s)",
        upstream.name,
        message,
        row.consecutive_errors,
        delay,
    )
    return PollOutcome(upstream.name, "failed", error=message, error_kind=kind)


def import_entries(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    row: UpstreamRow,
    feed: UpstreamFeed,
    new_upstream: bool,
) -> list[Path]:
    """Write a post for each entry not imported before (and rewrite updated ones).

    A new upstream gets posts for its newest ``backfill`` entries; the older ones are
    recorded as seen, without a post, so that later polls do not import them either.
    """
    entries = list(feed.entries)
    older: list[UpstreamEntry] = []
    if new_upstream:
        entries = _newest(entries)
        entries, older = entries[: config.polling.backfill], entries[config.polling.backfill :]
    folder = config.posts.dirs[0]
    source = PostSource(upstream, row.current_url or row.url)
    now = datetime.now(UTC).astimezone(config.site.timezone).replace(microsecond=0)
    # (record, post text); no text: a record alone (the article already has a post here).
    pending: list[tuple[ImportedEntry, str | None]] = []
    seen_keys: set[str] = set()
    planned_urls: dict[str, str] = {}  # original URL → post path, within this poll
    for entry in entries:
        if entry.key in seen_keys:
            continue
        seen_keys.add(entry.key)
        planned = _plan_entry(config, state, upstream, source, entry, now, planned_urls)
        if planned is None:
            continue
        if len(pending) >= MAX_NEW_ENTRIES_PER_POLL:
            log.warning(
                "%s: more than %d new entries; the rest wait for the next poll",
                upstream.name,
                MAX_NEW_ENTRIES_PER_POLL,
            )
            break
        pending.append(planned)
    for entry in older:
        if entry.key not in seen_keys and state.imported_entry(upstream.name, entry.key) is None:
            seen_keys.add(entry.key)
            pending.append((_seen_only(upstream, entry, now), None))
    with state.transaction():
        for imported, text in pending:
            state.record_entry(imported, pending_text=text)
    posts = [(imported, text) for imported, text in pending if text is not None]
    written = []
    for imported, text in posts:
        path = folder / imported.post_path
        write_atomic(path, text.encode(), sync_folder=False)
        written.append(path)
    if written:
        fsync_folder(folder)  # once for the batch, before the posts count as written
    with state.transaction():
        for imported, _ in posts:
            state.entry_written(imported.upstream, imported.entry_key)
    if written:
        log.info("%s: %d posts written", upstream.name, len(written))
    return written


def _plan_entry(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    source: PostSource,
    entry: UpstreamEntry,
    now: datetime,
    planned_urls: dict[str, str],
) -> tuple[ImportedEntry, str | None] | None:
    """The record and post text for an entry that needs writing; the record alone for an
    article that already has a post in this category; None when there is nothing to do."""
    updated = rfc3339(entry.updated) if entry.updated else None
    known = state.imported_entry(upstream.name, entry.key)
    if known is not None:
        if not known.post_path or not _is_newer(updated, known.entry_updated):
            return None
        date = datetime.fromisoformat(known.post_date)
        text = render_post(entry, source, date, config.attribution, last_modified=entry.updated)
        return replace(known, entry_updated=updated), text
    duplicate = None
    if entry.link:
        duplicate = planned_urls.get(entry.link)
        if duplicate is None and (
            found := state.entry_with_original(upstream.category, entry.link)
        ):
            duplicate = found.post_path
    date = entry.published or entry.updated or now
    record = ImportedEntry(
        upstream=upstream.name,
        entry_key=entry.key,
        category=upstream.category,
        original_url=entry.link,
        post_path=duplicate or post_file_name(entry, date, upstream.name),
        post_date=rfc3339(date),
        entry_updated=updated,
        imported_at=now.timestamp(),
    )
    if duplicate:
        # The same article through another upstream (or twice in this one): one post per
        # category is enough.
        return record, None
    if entry.link:
        planned_urls[entry.link] = record.post_path
    if entry.guid and state.key_used_elsewhere(entry.key, upstream.category):
        # The same upstream id already names a post in another category: written again it
        # would give two entries one feed id, so this post keeps its own (Jekyll) id.
        entry = replace(entry, guid=None)
    return record, render_post(entry, source, date, config.attribution)


def _seen_only(upstream: UpstreamConfig, entry: UpstreamEntry, now: datetime) -> ImportedEntry:
    """The record of an entry left out by ``backfill``: no post (an empty post path) and no
    original URL, so that it never stands in for the article in another upstream."""
    return ImportedEntry(
        upstream=upstream.name,
        entry_key=entry.key,
        category=upstream.category,
        original_url=None,
        post_path="",
        post_date=rfc3339(entry.published or entry.updated or now),
        entry_updated=rfc3339(entry.updated) if entry.updated else None,
        imported_at=now.timestamp(),
    )


def _is_newer(updated: str | None, recorded: str | None) -> bool:
    if updated is None:
        return False
    if recorded is None:
        return True
    return datetime.fromisoformat(updated) > datetime.fromisoformat(recorded)


def _newest(entries: list[UpstreamEntry]) -> list[UpstreamEntry]:
    """Newest first by date; if some entries have no date, the feed's own order (feeds
    are written newest first)."""
    if not all(e.published or e.updated for e in entries):
        return entries
    return sorted(entries, key=_entry_date, reverse=True)


def _entry_date(entry: UpstreamEntry) -> datetime:
    return entry.published or entry.updated or datetime.min.replace(tzinfo=UTC)


def recover_pending(config: Config, state: State) -> int:
    """Write out the posts a killed poll recorded but may not have written, and remove the
    temporary files such a poll left in the post folder (called under the write lock, so no
    other writer's temporary is there)."""
    folder = config.posts.dirs[0]
    if removed := remove_stale_temporaries(folder, recursive=False):
        log.info("removed %d temporary files an interrupted poll had left in %s", removed, folder)
    return len(write_pending(config, state))


def write_pending(config: Config, state: State) -> list[Path]:
    """Write the posts recorded but not known to be on disk: a killed poll's, or those a
    failed write (a full disk, an unwritable folder) left behind."""
    written = []
    pending = state.pending_posts()
    for _, _, post_path, text in pending:
        path = config.posts.dirs[0] / post_path
        write_atomic(path, text.encode(), sync_folder=False)
        written.append(path)
    if written:
        fsync_folder(config.posts.dirs[0])
    with state.transaction():
        for upstream, key, _, _ in pending:
            state.entry_written(upstream, key)
    if written:
        log.info("wrote %d posts an interrupted poll had left pending", len(written))
    return written


def poll_and_rebuild(
    config: Config,
    state: State,
    upstreams: list[UpstreamConfig],
    fetcher: Fetcher,
    writing: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> tuple[PollReport, BuildReport]:
    """Poll, then bring the feeds up to date. The build runs even when the poll wrote
    nothing: it costs little when nothing changed, and it finishes a build that a killed
    earlier poll left undone."""
    report = poll_upstreams(config, state, upstreams, fetcher, writing)
    with writing():
        return report, build_site(config, state)
