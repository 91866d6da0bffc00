"""A refresh: poll upstreams, write their new entries as posts, bring the feeds up to date.

The one place where the upstream side meets the feed side (through the post files they
share). ``syndicator poll`` calls ``poll`` then ``build`` (a build runs even when the poll
wrote nothing: it costs little, and it finishes a build a killed earlier poll left undone);
``syndicator build`` calls ``build``; the daemon calls ``recover`` at start, ``poll_one`` for
each scheduled upstream and ``build`` for its coalesced rebuilds.

``writing`` is held around every step that writes posts, feeds or state (the cross-process
write lock; in the daemon, its work lock too), never around the network, so another writer
waits only for writes.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from syndicator.core.config import Config, UpstreamConfig
from syndicator.feeds.build import BuildRefusedError, BuildReport, build_site
from syndicator.state.db import HISTORY_DAYS, BuildRecord, State

if TYPE_CHECKING:
    from syndicator.upstreams.fetch import Fetcher
    from syndicator.upstreams.poll import PollOutcome, PollReport

# The upstream side (requests, feedparser, the detector: ~180 modules) is imported by the
# functions that poll, so a `build` does not pay for loading it.

log = logging.getLogger(__name__)

Writing = Callable[[], AbstractContextManager[object]]
FETCH_WORKERS = 16


def recover(config: Config, state: State, writing: Writing = nullcontext) -> int:
    """Write out the posts a killed poll recorded but may not have written; how many."""
    from syndicator.upstreams.importer import recover_pending
    from syndicator.upstreams.poll import adopt_named_rows

    with writing():
        adopt_named_rows(config, state)
        return recover_pending(config, state)


def poll(
    config: Config,
    state: State,
    upstreams: list[UpstreamConfig],
    fetcher: Fetcher,
    writing: Writing = nullcontext,
) -> PollReport:
    """Fetch every upstream in parallel; apply each answer in the order given."""
    from syndicator.upstreams.poll import (
        PollReport,
        apply_fetched,
        current_row,
        date_zones,
        fetch_upstream,
        known_entries,
    )

    report = PollReport(recovered=recover(config, state, writing))
    with ThreadPoolExecutor(max_workers=FETCH_WORKERS, thread_name_prefix="fetch") as pool:
        futures = {
            u.key: pool.submit(
                fetch_upstream,
                fetcher,
                current_row(state, u),
                config.site.timezone,
                date_zones(config, u),
                u,
                known_entries(config, state, u),
            )
            for u in upstreams
        }
        for upstream in upstreams:
            fetched = futures[upstream.key].result()
            with writing():
                # Read again under the lock: another process may have polled it meanwhile.
                row = current_row(state, upstream)
                outcome = apply_fetched(config, state, upstream, row, fetched)
                _record_poll(config, state, upstream, outcome)
            report.outcomes.append(outcome)
    return report


def poll_one(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    fetcher: Fetcher,
    writing: Writing = nullcontext,
) -> PollOutcome:
    """Fetch one upstream, then apply its answer; the caller rebuilds the feeds for
    ``outcome.written`` (the daemon gathers several polls into one build)."""
    from syndicator.upstreams.poll import (
        apply_fetched,
        current_row,
        date_zones,
        fetch_upstream,
        known_entries,
    )

    fetched = fetch_upstream(
        fetcher,
        current_row(state, upstream),
        config.site.timezone,
        date_zones(config, upstream),
        upstream,
        known_entries(config, state, upstream),
    )
    with writing():
        # Read again under the lock: another process may have polled it meanwhile.
        outcome = apply_fetched(config, state, upstream, current_row(state, upstream), fetched)
        _record_poll(config, state, upstream, outcome)
        if config.websub.callback_base_url:
            from syndicator.upstreams.websub_subscriber import relax_schedule

            relax_schedule(config, state, upstream)
        return outcome


def _record_poll(
    config: Config, state: State, upstream: UpstreamConfig, outcome: PollOutcome
) -> None:
    """Count the poll on today's date in the site's time zone (the status page's charts)."""
    today = datetime.now(config.site.timezone).date()
    with _history_kept(state):
        state.record_poll(
            upstream.key,
            today.isoformat(),
            outcome.result,
            len(outcome.written),
            (today - timedelta(days=HISTORY_DAYS - 1)).isoformat(),
        )


def _record_build(state: State, build: BuildRecord) -> None:
    """Add a build to the status page's list; a refusal only once while it repeats (the
    daemon tries again at every rescan)."""
    with _history_kept(state):
        newest = next(iter(state.builds()), None)
        if build.refused is None or newest is None or newest.refused != build.refused:
            state.record_build(build)


@contextmanager
def _history_kept(state: State) -> Iterator[None]:
    """The status page's history is worth less than the work it tells of: a state that
    cannot take it (a full disk) costs the page a line, never the poll or the build."""
    try:
        yield
    except sqlite3.Error as error:
        log.warning("%s: history for /status not recorded: %s", state.path, error)


def push(
    config: Config,
    state: State,
    upstream: UpstreamConfig,
    body: bytes,
    headers: Mapping[str, str],
    writing: Writing = nullcontext,
) -> PollOutcome:
    """A feed an upstream's WebSub hub pushed, imported as a poll's answer would be (the
    caller rebuilds for ``outcome.written``); the poll schedule is left alone."""
    from syndicator.upstreams.parse import NotAFeedError, parse_feed
    from syndicator.upstreams.poll import PollOutcome, current_row, date_zones
    from syndicator.upstreams.websub_subscriber import import_pushed

    row = current_row(state, upstream)
    zones = date_zones(config, upstream)
    try:
        feed = parse_feed(body, row.current_url or row.url, headers, config.site.timezone, zones)
    except NotAFeedError as error:
        return PollOutcome(upstream.name, "failed", error=str(error), error_kind="not_a_feed")
    with writing():
        written = import_pushed(config, state, upstream, feed)
    return PollOutcome(upstream.name, "imported" if written else "unchanged", written)


def build(
    config: Config,
    state: State,
    writing: Writing = nullcontext,
    *,
    full: bool = False,
    paths: Collection[Path] | None = None,
    progress: Callable[[int, int], None] | None = None,
    allow_shrink: bool = False,
) -> BuildReport:
    """Bring the feeds up to date with the posts (see ``build_site``); the build is
    recorded in the state (the status page lists the last ones)."""
    with writing():
        started = time.perf_counter()
        try:
            report = build_site(
                config, state, full=full, paths=paths, progress=progress, allow_shrink=allow_shrink
            )
        except BuildRefusedError as error:
            _record_build(
                state, BuildRecord(time.time(), time.perf_counter() - started, 0, 0, 0, str(error))
            )
            raise
        if report.written or report.removed:
            # Only builds that changed feeds: the daemon's minutely rescans would push
            # them out of the list.
            _record_build(
                state,
                BuildRecord(
                    finished=time.time(),
                    seconds=time.perf_counter() - started,
                    written=len(report.written),
                    removed=len(report.removed),
                    problems=len(report.problems),
                ),
            )
        return report
