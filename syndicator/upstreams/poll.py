"""Polling an upstream: what is due, one fetch and parse, and what its answer means for the
upstream's schedule (success, backoff, Retry-After, a permanent move, 410 Gone).

Fetching and parsing (``fetch_upstream``) touch neither the state nor the post folder, so
they run in worker threads; ``apply_fetched`` runs under the write lock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from syndicator import __version__
from syndicator.core.config import Config, UpstreamConfig
from syndicator.core.text import excerpt
from syndicator.state.db import State, UpstreamRow
from syndicator.upstreams.enrich import enrich_entries
from syndicator.upstreams.fetch import Fetcher, FetchError, FetchResult
from syndicator.upstreams.html_source import parse_html_source
from syndicator.upstreams.importer import (
    MAX_NEW_ENTRIES_PER_POLL,
    import_entries,
    newest_entries,
    write_pending,
)
from syndicator.upstreams.items import kept
from syndicator.upstreams.json_source import parse_json_source
from syndicator.upstreams.parse import NotAFeedError, UpstreamFeed, parse_feed
from syndicator.upstreams.websub_subscriber import Discovered, discover

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 503})
# A feed's warnings quote what it holds (an undefined entity, a version string): bounded.
MAX_WARNING_CHARACTERS = 1000


@dataclass
class PollOutcome:
    name: str
    result: str  # imported, unchanged, failed, gone
    written: list[Path] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # a FetchError kind, "http", or "not_a_feed"
    hub: Discovered | None = None  # the WebSub hub the feed names, if any


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
        per_host_delay=polling.per_host_delay,
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
    return [u for u in config.upstreams if _is_due(state.upstream(u.key), u, now)]


def _is_due(row: UpstreamRow | None, upstream: UpstreamConfig, now: float) -> bool:
    if row is None or row.url != upstream.url:
        return True
    if row.state == "gone":
        return False
    return row.next_poll is None or row.next_poll <= now


def adopt_named_rows(config: Config, state: State) -> None:
    """Rows written before upstreams were known by key hold the upstream's name: give them
    its key, so that an upgrade imports nothing again."""
    for upstream in config.upstreams:
        old = state.upstream(upstream.name)
        if (
            upstream.key != upstream.name
            and old is not None
            and old.url == upstream.url
            and state.upstream(upstream.key) is None
        ):
            state.rekey_upstream(upstream.name, upstream.key)


def current_row(state: State, upstream: UpstreamConfig) -> UpstreamRow:
    """The stored row; a fresh one when the config gives this upstream (by its ``id``)
    another URL: its schedule and validators start again, its imported entries stay."""
    row = state.upstream(upstream.key)
    if row is None or row.url != upstream.url:
        return UpstreamRow(key=upstream.key, url=upstream.url)
    return row


def date_zones(config: Config, upstream: UpstreamConfig) -> dict[str, str]:
    """The zone abbreviations the upstream's dates use, and the offsets they stand for: the
    upstream's ``zones`` over ``[polling] zones``."""
    return dict(config.polling.zones) | dict(upstream.zones)


@dataclass(frozen=True)
class Known:
    """What the state knew of an upstream's entries before its fetch began: the fetch
    thread reads no state, and asks this which items are new (to fetch their detail or full
    text). ``keys`` is None for an upstream of which nothing is recorded yet."""

    keys: frozenset[str] | None = None
    backfill: int = 20


def known_entries(config: Config, state: State, upstream: UpstreamConfig) -> Known:
    """The ``Known`` of an upstream; empty for one that fetches nothing per item."""
    if not upstream.enriched or not state.has_entries(upstream.key):
        return Known(None, config.polling.backfill)
    return Known(state.entry_keys(upstream.key), config.polling.backfill)


def fetch_upstream(
    fetcher: Fetcher,
    row: UpstreamRow,
    zone: tzinfo,
    zones: Mapping[str, str] | None = None,
    upstream: UpstreamConfig | None = None,
    known: Known | None = None,
) -> Fetched:
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
        feed = parse_source(result, url, zone, zones, upstream)
    except NotAFeedError as error:
        return Fetched(result=result, error=str(error), error_kind="not_a_feed")
    if upstream is not None:
        feed = _chosen_and_enriched(feed, upstream, fetcher, zone, known or Known())
    return Fetched(result=result, feed=feed)


def parse_source(
    result: FetchResult,
    url: str,
    zone: tzinfo,
    zones: Mapping[str, str] | None,
    upstream: UpstreamConfig | None,
) -> UpstreamFeed:
    """The answer read as the upstream's kind says: a feed, a JSON API, an HTML page."""
    if upstream is not None and upstream.timezone is not None:
        zone = upstream.timezone
    if upstream is None or upstream.kind == "feed":
        return parse_feed(result.body, url, result.headers, zone, zones)
    if upstream.kind == "json":
        return parse_json_source(result.body, url, upstream, zone)
    return parse_html_source(result.body, url, result.headers, upstream, zone)


def _chosen_and_enriched(
    feed: UpstreamFeed, upstream: UpstreamConfig, fetcher: Fetcher, zone: tzinfo, known: Known
) -> UpstreamFeed:
    """The feed with the entries ``keep``/``block`` let through, and the new ones among them
    given their detail and full text: of a new upstream, the newest ``backfill``; of one
    known, at most a poll's worth, the rest left for the next poll."""
    entries = kept(feed.entries, upstream)
    if upstream.enriched:
        if upstream.timezone is not None:
            zone = upstream.timezone
        if known.keys is None:
            wanted = {e.key for e in newest_entries(entries)[: known.backfill]}
        else:
            new = [e for e in entries if e.key not in known.keys]
            wanted = {e.key for e in new[:MAX_NEW_ENTRIES_PER_POLL]}
            waiting = {e.key for e in new[MAX_NEW_ENTRIES_PER_POLL:]}
            entries = [e for e in entries if e.key not in waiting]
        entries = enrich_entries(entries, upstream, fetcher, zone, wanted)
    return replace(feed, entries=tuple(entries))


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
    moved = result.permanent_url if result and result.status in (200, 304) else None
    if moved and moved != row.current_url:
        log.info(
            "%s: moved permanently to %s; polling it from now on",
            upstream.name,
            moved,
        )
        row.current_url = moved
    if fetched.error or result is None:
        kind = fetched.error_kind
        return _failed(config, state, upstream, row, fetched.error or "no response", kind, None)
    if result.status == 410:
        message = f"{result.url} answered 410 Gone: no longer polled; remove it from the config"
        row.state, row.next_poll, row.last_error = "gone", None, message  # status says why
        state.save_upstream(row)
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
    new_upstream = row.state == "never" or not state.has_entries(upstream.key)
    _keep_warnings(upstream, row, fetched.feed.warnings)
    written = import_entries(config, state, upstream, row, fetched.feed, new_upstream)
    _succeeded(config, upstream, row, result, fetched.feed, now)
    state.save_upstream(row)
    hub = discover(result.headers, fetched.feed, result.url)
    return PollOutcome(upstream.name, "imported" if written else "unchanged", written, hub=hub)


def _keep_warnings(upstream: UpstreamConfig, row: UpstreamRow, warnings: tuple[str, ...]) -> None:
    """Remember what the feed had that was read all the same, for ``status``; log it when it
    differs from the last poll's (every poll of an unchanged feed would repeat it)."""
    warning = excerpt("; ".join(warnings), MAX_WARNING_CHARACTERS) or None
    if warning and warning != row.last_warning:
        log.warning("%s: %s", upstream.name, warning)
    row.last_warning = warning


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
