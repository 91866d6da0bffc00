"""Announcing changed feeds to the WebSub hubs of ``websub.hubs`` (the publisher's ping).

WebSub leaves the ping to hub and publisher; the convention every public hub accepts is a
form POST of ``hub.mode=publish`` and ``hub.url`` (the feed's URL). Announcements run in a
thread of their own, so a slow or failing hub never delays a build or a request; a failed
one is tried again with backoff, then given up (the hub still learns of the feed at its
subscribers' next change or poll).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from urllib.parse import urlencode

from syndicator import __version__
from syndicator.core.config import Config
from syndicator.core.retry import retry_delay
from syndicator.upstreams.fetch import Fetcher, FetchError
from syndicator.web.metrics import Metrics

log = logging.getLogger(__name__)

HUB_TIMEOUT = 10.0
RETRY_BASE = 5.0
RETRY_CAP = 3600.0
MAX_ATTEMPTS = 8  # about three hours of trying
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Announcer:
    def __init__(
        self,
        config: Config,
        metrics: Metrics | None = None,
        *,
        retry_base: float = RETRY_BASE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.hubs = config.websub.hubs
        self.metrics = metrics or Metrics()
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        # The hubs are the operator's choice, wherever they are: no address guard.
        self.fetcher = Fetcher(
            user_agent=f"syndicator/{__version__} (+{config.site.url})",
            timeout=HUB_TIMEOUT,
            max_bytes=64 * 1024,
            allow_private_addresses=True,
            limits_section=None,  # fixed limits: no config key to raise
        )
        self._lock = threading.Lock()
        self._queue: list[tuple[float, int, str, str]] = []  # (due, attempts, hub, topic)
        self._queued: set[tuple[str, str]] = set()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="websub-announce", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def announce(self, topics: list[str]) -> None:
        """Tell every hub of these changed feeds, soon; one already waiting is not doubled."""
        now = time.time()
        with self._lock:
            for hub in self.hubs:
                for topic in topics:
                    if (hub, topic) not in self._queued:
                        self._queued.add((hub, topic))
                        heapq.heappush(self._queue, (now, 0, hub, topic))
        if self.hubs and topics:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            item = self._take_due(time.time())
            if item is None:
                self._wake.wait(self._wait(time.time()))
                continue
            _, attempts, hub, topic = item
            try:
                self._ping(hub, topic, attempts)
            except Exception:
                log.exception("websub: announcing %s to %s failed", topic, hub)

    def _take_due(self, now: float) -> tuple[float, int, str, str] | None:
        with self._lock:
            if self._queue and self._queue[0][0] <= now:
                item = heapq.heappop(self._queue)
                self._queued.discard((item[2], item[3]))
                return item
        return None

    def _wait(self, now: float) -> float | None:
        with self._lock:
            return max(0.0, self._queue[0][0] - now) if self._queue else None

    def _ping(self, hub: str, topic: str, attempts: int) -> None:
        body = urlencode({"hub.mode": "publish", "hub.url": topic}).encode()
        try:
            answer = self.fetcher.send("POST", hub, body=body, headers=FORM)
            problem = None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        except FetchError as error:
            problem = str(error)
        if problem is None:
            log.info("websub: announced %s to %s", topic, hub)
            self.metrics.websub_announcements.labels("ok").inc()
            return
        if attempts + 1 >= self.max_attempts:
            log.error(
                "websub: %s not announced to %s after %d attempts: %s",
                topic,
                hub,
                attempts + 1,
                problem,
            )
            self.metrics.websub_announcements.labels("given_up").inc()
            return
        delay = retry_delay(self.retry_base, attempts, RETRY_CAP)
        log.warning(
            "websub: announcing %s to %s failed (%s); again in %.0f s", topic, hub, problem, delay
        )
        self.metrics.websub_announcements.labels("failed").inc()
        with self._lock:
            if (hub, topic) not in self._queued:
                self._queued.add((hub, topic))
                heapq.heappush(self._queue, (time.time() + delay, attempts + 1, hub, topic))
