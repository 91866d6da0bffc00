"""The daemon's WebSub subscriber: upstreams whose feeds name a hub are subscribed to, and
what their hubs push is imported at once (``upstreams/websub_subscriber.py`` holds the
protocol; this wires it to the daemon's jobs, lock, rebuilds and metrics).

- After a poll that found a hub, the upstream is subscribed to (or its lease renewed) from
  the poll's own thread.
- A hub's GET on a callback is answered from the state; its POST is acknowledged at once
  and imported in a job of its own under the work lock, then the feeds are rebuilt.
- Every minute, leases near their end are renewed, requests never verified are made again,
  and subscriptions of upstreams no longer configured are ended. At start every subscription
  is renewed: a daemon killed between answering a verification and the hub's hearing of it
  holds "active" for a subscription the hub never made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import parse_qs

from syndicator import refresh
from syndicator.core.config import Config, UpstreamConfig
from syndicator.state.db import State
from syndicator.state.websub import PushStore
from syndicator.upstreams.poll import make_fetcher
from syndicator.upstreams.websub_subscriber import (
    CALLBACK_PATH,
    Discovered,
    answer_verification,
    needs_request,
    push_state,
    relax_schedule,
    renewal_due,
    signed_by,
    subscribe,
    unsubscribe,
)
from syndicator.web.metrics import Metrics

log = logging.getLogger(__name__)

MAINTAIN_EVERY = 60.0  # seconds between looks for leases to renew
PUSH_STATES = ("none", "requested", "active", "expired", "denied", "failed", "unsubscribing")


class PushSubscriber:
    def __init__(
        self,
        config: Callable[[], Config],
        metrics: Metrics,
        writing: Callable[[], AbstractContextManager[object]],
        run_soon: Callable[[Callable[[], None]], None],
        rebuild: Callable[[Collection[Path]], None],
        reschedule: Callable[[UpstreamConfig], None],
    ) -> None:
        """``config()`` is the daemon's current config; ``run_soon(job)`` runs a job in the
        daemon's pool; ``rebuild(paths)`` asks for a rebuild that looks at those posts;
        ``reschedule(upstream)`` moves its next poll to the one the state holds."""
        self.config = config
        self.metrics = metrics
        self.writing = writing
        self.run_soon = run_soon
        self.rebuild = rebuild
        self.reschedule = reschedule
        self.fetcher = make_fetcher(config())

    def _state(self) -> State:
        return State.open(self.config().state.path)

    def found(self, upstream: UpstreamConfig, hub: Discovered | None) -> None:
        """A poll read the upstream's feed: subscribe at the hub it names, when due."""
        if hub is None:
            return
        with self._state() as state:
            store = PushStore(state)
            if needs_request(store.get(upstream.key), hub, time.time()):
                subscribe(self.config(), self.fetcher, store, upstream.key, hub)

    def maintain(self, renew_all: bool = False) -> None:
        """Renew what is due (everything with ``renew_all``); end what no upstream needs;
        count the states for metrics."""
        config = self.config()
        upstreams = {u.key for u in config.upstreams}
        now = time.time()
        with self._state() as state:
            store = PushStore(state)
            rows = store.all()
            for row in rows:
                if row.upstream not in upstreams:
                    if row.state != "unsubscribing" or now - row.requested_at > MAINTAIN_EVERY * 10:
                        unsubscribe(config, self.fetcher, store, row)
                elif renew_all or renewal_due(row, now):
                    subscribe(
                        config, self.fetcher, store, row.upstream, Discovered(row.hub, row.topic)
                    )
            counts = {state_name: 0 for state_name in PUSH_STATES}
            for row in store.all():
                counts[push_state(row, now)] += 1
        for state_name, count in counts.items():
            self.metrics.websub_push_subscriptions.labels(state_name).set(count)

    def knows(self, path: str) -> bool:
        """Whether a callback path is one of our subscriptions' (read before its body)."""
        with self._state() as state:
            return PushStore(state).by_token(path.removeprefix(CALLBACK_PATH)) is not None

    def callback(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, str]:
        """A hub's request to a callback path: a verification (GET) or a delivery (POST)."""
        token = path.removeprefix(CALLBACK_PATH)
        with self._state() as state:
            store = PushStore(state)
            row = store.by_token(token)
            if method == "GET":
                values = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
                answer = answer_verification(store, token, values)
                if row is not None and answer[0] == 200 and values.get("hub.mode") == "subscribe":
                    self.run_soon(lambda: self._relax(row.upstream))
                return answer
        if row is None:
            return 410, "no such subscription"  # WebSub 7: the hub may end it
        upstream = next((u for u in self.config().upstreams if u.key == row.upstream), None)
        if upstream is None:
            return 410, "no such subscription"
        if not signed_by(row, headers, body):
            # WebSub 7.1: acknowledged, so that a forger learns nothing, and ignored.
            log.warning("websub: %s: a delivery without a valid signature ignored", upstream.name)
            self.metrics.websub_pushes.labels(upstream.name, "bad_signature").inc()
            return 202, "accepted"
        self.run_soon(lambda: self._import(upstream, body, dict(headers)))
        return 202, "accepted"

    def _relax(self, key: str) -> None:
        """Pushes will come: poll this upstream only as a safety net from now on."""
        upstream = next((u for u in self.config().upstreams if u.key == key), None)
        if upstream is None:
            return
        with self._state() as state, self.writing():
            relax_schedule(self.config(), state, upstream)
        self.reschedule(upstream)

    def _import(self, upstream: UpstreamConfig, body: bytes, headers: dict[str, str]) -> None:
        config = self.config()
        try:
            with self._state() as state:
                outcome = refresh.push(config, state, upstream, body, headers, self.writing)
        except Exception:
            log.exception("%s: pushed feed not imported (the next poll reads it)", upstream.name)
            self.metrics.websub_pushes.labels(upstream.name, "failed").inc()
            return
        if outcome.error:
            log.warning("%s: pushed feed not imported: %s", upstream.name, outcome.error)
        log.info(
            "%s: pushed, %s%s",
            upstream.name,
            outcome.result,
            f" ({len(outcome.written)} posts)" if outcome.written else "",
        )
        self.metrics.websub_pushes.labels(upstream.name, outcome.result).inc()
        if outcome.written:
            self.metrics.imported.labels(upstream.name).inc(len(outcome.written))
            self.rebuild(outcome.written)
