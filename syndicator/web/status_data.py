"""What the status page shows, read from the config and the state (never written)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syndicator.core.config import Config
from syndicator.feeds.build import display_titles
from syndicator.feeds.layout import FeedSpec
from syndicator.site.index import PostIndex
from syndicator.site.labels import KIND_ORDER, SITE
from syndicator.site.posts import PostError
from syndicator.state.db import HISTORY_DAYS, BuildRecord, State
from syndicator.upstreams.status import UpstreamStatus, upstream_statuses

POLL_RESULTS = ("imported", "unchanged", "failed", "gone")


@dataclass(frozen=True)
class UpstreamHistory:
    status: UpstreamStatus
    imported: list[int]  # posts imported per day, oldest first
    polls: dict[str, list[int]]  # poll result → polls per day


@dataclass(frozen=True)
class FeedRow:
    kind: str
    title: str
    path: str  # of its first format's file, relative to feeds.dir
    entries: int  # published posts (the feed shows the newest feeds.max_items)
    changed: float | None  # when its bytes last changed (the file's modification time)


@dataclass(frozen=True)
class StatusData:
    site_title: str
    zone: ZoneInfo
    now: float
    days: list[date]  # the chart's days in the site's time zone, oldest first
    upstreams: list[UpstreamHistory]
    last_build: float | None
    builds: list[BuildRecord]
    problems: list[PostError]
    feeds: list[FeedRow]


def gather_status(config: Config, state: State, now: float) -> StatusData:
    today = datetime.fromtimestamp(now, config.site.timezone).date()
    days = [today - timedelta(days=back) for back in range(HISTORY_DAYS - 1, -1, -1)]
    position = {day.isoformat(): n for n, day in enumerate(days)}
    imported: dict[str, list[int]] = {}
    polls: dict[tuple[str, str], list[int]] = {}
    for key, day, result, count, posts in state.poll_days(days[0].isoformat()):
        if day not in position or result not in POLL_RESULTS:
            continue  # a day ahead of now: the clock went back
        imported.setdefault(key, [0] * len(days))[position[day]] += posts
        polls.setdefault((key, result), [0] * len(days))[position[day]] += count
    histories = [
        UpstreamHistory(
            status=status,
            imported=imported.get(upstream.key, [0] * len(days)),
            polls={r: polls.get((upstream.key, r), [0] * len(days)) for r in POLL_RESULTS},
        )
        for upstream, status in zip(config.upstreams, upstream_statuses(config, state), strict=True)
    ]
    index = PostIndex(config, state)
    return StatusData(
        site_title=config.site.title,
        zone=config.site.timezone,
        now=now,
        days=days,
        upstreams=histories,
        last_build=index.last_build(),
        builds=state.builds(),
        problems=index.problems(),
        feeds=_feed_rows(config, index, now),
    )


def _feed_rows(config: Config, index: PostIndex, now: float) -> list[FeedRow]:
    titles = display_titles(config)
    counts = index.entry_counts(datetime.fromtimestamp(now, config.site.timezone))
    rows = []
    for (kind, slug), name in sorted(
        index.built_feeds().items(), key=lambda item: (KIND_ORDER[item[0][0]], item[0][1])
    ):
        spec = FeedSpec(kind, slug, name)
        path = spec.file_names(config.feeds.formats)[0]
        try:
            changed: float | None = (config.feeds.dir / path).stat().st_mtime
        except OSError:
            changed = None
        title = config.site.title if kind == SITE else titles.get(slug, name)
        rows.append(FeedRow(kind, title, path, counts.get((kind, slug), 0), changed))
    return rows
