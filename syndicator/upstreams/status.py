"""What ``status`` reports: one row per configured upstream, from the state.

Times are in the site's time zone, with its offset. The next poll is the one the daemon
scheduled (it records each in the state), else when the upstream's answers make it due.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from syndicator.core.config import Config
from syndicator.state.db import State, UpstreamRow
from syndicator.state.websub import PushStore
from syndicator.upstreams.websub_subscriber import push_state


@dataclass(frozen=True)
class UpstreamStatus:
    name: str
    url: str
    current_url: str | None
    state: str
    last_poll: str | None
    next_poll: str | None
    last_status: int | None
    last_error: str | None
    last_warning: str | None
    consecutive_errors: int
    imported: int
    push: str = "none"  # the WebSub subscription's state (none, requested, active, …)

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def upstream_statuses(config: Config, state: State) -> list[UpstreamStatus]:
    rows = {row.key: row for row in state.upstreams()}
    counts = state.imported_counts()
    pushes = {row.upstream: row for row in PushStore(state).all()}
    now = time.time()
    statuses = []
    for upstream in config.upstreams:
        row = rows.get(upstream.key)
        if row is None or row.url != upstream.url:
            row = UpstreamRow(key=upstream.key, url=upstream.url)
        statuses.append(
            UpstreamStatus(
                name=upstream.name,
                url=upstream.url,
                current_url=row.current_url,
                state=row.state,
                last_poll=local_iso(row.last_poll, config.site.timezone),
                next_poll=local_iso(row.next_poll, config.site.timezone),
                last_status=row.last_status,
                last_error=row.last_error,
                last_warning=row.last_warning,
                consecutive_errors=row.consecutive_errors,
                imported=counts.get(upstream.key, 0),
                push=push_state(pushes.get(upstream.key), now),
            )
        )
    return statuses


def local_iso(timestamp: float | None, zone: ZoneInfo) -> str | None:
    """ISO 8601 in the site's time zone, with its offset: ``2026-12-02T13:15:17+08:00``."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, zone).isoformat(timespec="seconds")
