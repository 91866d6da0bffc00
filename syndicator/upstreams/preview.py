"""``syndicator preview NAME``: an upstream fetched once and each item shown as the post it
would become (file name, front matter, the first lines of the body), writing nothing and
recording nothing: the way to get a new JSON or HTML mapping right.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from syndicator.core.config import Config, UpstreamConfig
from syndicator.state.db import UpstreamRow
from syndicator.upstreams.fetch import Fetcher
from syndicator.upstreams.parse import UpstreamEntry
from syndicator.upstreams.poll import Known, date_zones, fetch_upstream
from syndicator.upstreams.postwriter import (
    PostSource,
    free_post_name,
    post_name_choices,
    render_post,
)

# A preview fetches the detail or full text of this many items (the newest), not of all.
ENRICHED_ITEMS = 3
BODY_LINES = 6
BODY_LINE_CHARACTERS = 160


def preview_lines(
    config: Config, upstream: UpstreamConfig, fetcher: Fetcher
) -> tuple[list[str], bool]:
    """The lines to print, and whether the upstream could be read."""
    row = UpstreamRow(key=upstream.key, url=upstream.url)  # no validators: the whole answer
    fetched = fetch_upstream(
        fetcher,
        row,
        config.site.timezone,
        date_zones(config, upstream),
        upstream,
        Known(None, ENRICHED_ITEMS),
    )
    lines = [f"{upstream.name} ({upstream.kind}): {upstream.url}"]
    if fetched.error or fetched.feed is None:
        status = f"HTTP {fetched.result.status}" if fetched.result else "no answer"
        lines.append(f"error: {fetched.error or status}")
        return lines, False
    feed = fetched.feed
    lines.extend(f"warning: {warning}" for warning in feed.warnings)
    lines.append(f"{len(feed.entries)} items (after keep and block)")
    now = datetime.now(UTC).astimezone(config.site.timezone).replace(microsecond=0)
    source = PostSource(upstream, upstream.url)
    named: set[str] = set()
    for entry in feed.entries:
        date = entry.published or entry.updated or now
        lines.append("")
        lines.append(f"== {_name(config, upstream, entry, date, named)}")
        if entry.incomplete:
            lines.append(f"(would wait for a later poll: {entry.incomplete})")
        lines.extend(_shown(render_post(entry, source, date, config.attribution)))
    return lines, True


def _name(
    config: Config, upstream: UpstreamConfig, entry: UpstreamEntry, date: datetime, named: set[str]
) -> str:
    """The name the importer would give, a clash with an existing file or an earlier item
    of this preview included (the state is not read: a preview records nothing)."""
    choices = post_name_choices(entry, date, upstream.name, upstream.post_name)
    name = free_post_name(
        choices, lambda name: name in named or (config.posts.dirs[0] / name).exists()
    )
    named.add(name)
    return name


def _shown(text: str) -> Iterator[str]:
    """The front matter whole, then the body's first lines, each cut to a readable length."""
    front, _, body = text.partition("\n---\n")
    yield from front.splitlines()
    yield "---"
    body_lines = [line for line in body.splitlines() if line.strip()]
    for line in body_lines[:BODY_LINES]:
        yield line if len(line) <= BODY_LINE_CHARACTERS else line[: BODY_LINE_CHARACTERS - 1] + "…"
    if len(body_lines) > BODY_LINES:
        yield f"… ({len(body_lines) - BODY_LINES} more lines)"
