"""What ``status`` reports: one row per configured upstream, from the state."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

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
                last_poll=_iso(row.last_poll),
                next_poll=_iso(row.next_poll),
                last_status=row.last_status,
                last_error=row.last_error,
                last_warning=row.last_warning,
                consecutive_errors=row.consecutive_errors,
                imported=counts.get(upstream.key, 0),
                push=push_state(pushes.get(upstream.key), now),
            )
        )
    return statuses


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
