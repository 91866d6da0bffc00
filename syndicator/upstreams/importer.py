"""New upstream entries into posts, exactly once across crashes.

A new post is first recorded in the state *with its text*, then written to its file, then
marked written. A kill between the steps leaves a pending row that the next poll writes out
(``recover_pending``), so a post is neither lost nor written twice, even if the upstream has
dropped the entry by then.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from syndicator.core.atomic import fsync_folder, remove_stale_temporaries, write_atomic
from syndicator.core.config import Config, UpstreamConfig
from syndicator.core.dates import rfc3339
from syndicator.core.logs import log_event
from syndicator.state.db import ImportedEntry, State, UpstreamRow
from syndicator.upstreams.parse import UpstreamEntry, UpstreamFeed
from syndicator.upstreams.postwriter import (
    PostSource,
    free_post_name,
    post_name_choices,
    render_post,
)

log = logging.getLogger(__name__)

# A hostile or broken feed (100,000 entries, new ids on every poll) is imported at most this
# many entries a poll; the rest wait for the next one.
MAX_NEW_ENTRIES_PER_POLL = 200
# An entry whose detail request or full text failed waits for later polls this many times
# in all, then is written with what it has (the list's summary).
MAX_ENRICH_ATTEMPTS = 3


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
        entries = newest_entries(entries)
        entries, older = entries[: config.polling.backfill], entries[config.polling.backfill :]
    folder = config.posts.dirs[0]
    source = PostSource(upstream, row.current_url or row.url)
    now = datetime.now(UTC).astimezone(config.site.timezone).replace(microsecond=0)
    # (record, post text); no text: a record alone (the article already has a post here).
    pending: list[tuple[ImportedEntry, str | None]] = []
    seen_keys: set[str] = set()
    planned_urls: dict[str, str] = {}  # original URL → post path, within this poll
    taken: set[str] = set()  # post names given within this poll
    for entry in entries:
        if entry.key in seen_keys:
            continue
        seen_keys.add(entry.key)
        if entry.incomplete and not _waited_enough(state, upstream, entry):
            continue
        planned = _plan_entry(config, state, upstream, source, entry, now, planned_urls, taken)
        if planned is None:
            continue
        if planned[1] is not None and _too_big(config, upstream, entry, planned[1]):
            if state.imported_entry(upstream.key, entry.key) is None:
                pending.append((_seen_only(upstream, entry, now), None))
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
        if entry.key not in seen_keys and state.imported_entry(upstream.key, entry.key) is None:
            seen_keys.add(entry.key)
            pending.append((_seen_only(upstream, entry, now), None))
    with state.transaction():
        for imported, text in pending:
            state.record_entry(imported, pending_text=text)
            if upstream.enriched:  # failed fetches of an entry now recorded are history
                state.forget_enrichment_failures(upstream.key, imported.entry_key)
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
        log_event(
            log,
            logging.INFO,
            "posts_written",
            f"{upstream.name}: {len(written)} posts written",
            upstream=upstream.name,
            posts=len(written),
        )
    return written


def _plan_entry(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    source: PostSource,
    entry: UpstreamEntry,
    now: datetime,
    planned_urls: dict[str, str],
    taken: set[str],
) -> tuple[ImportedEntry, str | None] | None:
    """The record and post text for an entry that needs writing; the record alone for an
    article that already has a post in this category; None when there is nothing to do."""
    updated = rfc3339(entry.updated) if entry.updated else None
    known = state.imported_entry(upstream.key, entry.key)
    if known is not None:
        # An upstream that fetches more per item is not fetched again for an update: the
        # list alone would put its summary in place of the full text.
        if upstream.enriched or not known.post_path or not _is_newer(updated, known.entry_updated):
            return None
        if not known.guid_in_post:
            entry = replace(entry, guid=None)  # the id the post was given stays its id
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
        upstream=upstream.key,
        entry_key=entry.key,
        category=upstream.category,
        original_url=entry.link,
        post_path=duplicate or _free_name(config, state, upstream, entry, date, taken),
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
    if entry.guid and state.key_posted_elsewhere(entry.key, upstream.key):
        # Another upstream's post came from this id: another article (its link differs, or it
        # is in another category), and with the same guid one of the two would be in no feed.
        # This post gets an id of its own (Jekyll's, from its file name).
        entry = replace(entry, guid=None)
        record = replace(record, guid_in_post=False)
    return record, render_post(entry, source, date, config.attribution)


def _too_big(config: Config, upstream: UpstreamConfig, entry: UpstreamEntry, text: str) -> bool:
    """Whether the post would be larger than a build reads (posts.max_bytes): written, it
    would be skipped by every build. Said; the entry is recorded as seen, not imported."""
    size = len(text.encode())
    if size <= config.posts.max_bytes:
        return False
    log.warning(
        "%s: %s would make a post of %s bytes, over posts.max_bytes (%s bytes); not "
        "imported (raise [posts] max_bytes to import such entries)",
        upstream.name,
        entry.link or entry.key,
        f"{size:,}",
        f"{config.posts.max_bytes:,}",
    )
    return True


def _waited_enough(state: State, upstream: UpstreamConfig, entry: UpstreamEntry) -> bool:
    """Count a failed detail or full-text fetch of a new entry: whether it has waited for
    enough polls to be written without it (logged either way)."""
    if state.imported_entry(upstream.key, entry.key) is not None:
        return False
    reason = entry.incomplete or ""
    attempts = state.count_enrichment_failure(upstream.key, entry.key, reason)
    if attempts < MAX_ENRICH_ATTEMPTS:
        log.warning(
            "%s: %s: %s; tried again at the next poll (%d of %d)",
            upstream.name,
            entry.link or entry.key,
            reason,
            attempts,
            MAX_ENRICH_ATTEMPTS,
        )
        return False
    log.warning(
        "%s: %s: %s, %d polls in a row; written with the list's summary",
        upstream.name,
        entry.link or entry.key,
        reason,
        attempts,
    )
    state.forget_enrichment_failures(upstream.key, entry.key)
    return True


def _free_name(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    entry: UpstreamEntry,
    date: datetime,
    taken: set[str],
) -> str:
    """The post's file name, by the upstream's ``post_name`` if it has one: never the name of
    a file that exists, that the state records, or that this poll gave already (then the
    hash is added, or stands alone after the date)."""

    def is_taken(name: str) -> bool:
        return (
            name in taken
            or (config.posts.dirs[0] / name).exists()
            or bool(state.known_post_paths({name}))
        )

    choices = post_name_choices(entry, date, upstream.name, upstream.post_name)
    name = free_post_name(choices, is_taken) if upstream.post_name else choices[0]
    taken.add(name)
    return name


def _seen_only(upstream: UpstreamConfig, entry: UpstreamEntry, now: datetime) -> ImportedEntry:
    """The record of an entry left out by ``backfill``: no post (an empty post path) and no
    original URL, so that it never stands in for the article in another upstream."""
    return ImportedEntry(
        upstream=upstream.key,
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


def newest_entries(entries: list[UpstreamEntry]) -> list[UpstreamEntry]:
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
    if removed := remove_stale_temporaries(folder, state.known_post_paths, recursive=False):
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
