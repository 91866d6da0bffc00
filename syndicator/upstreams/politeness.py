"""One request at a time per host, and a pause between them: what sites that are not feeds
(an API's detail endpoint, article pages) are owed when every new item costs a request.

A gate belongs to one Fetcher, so every thread fetching through it shares the same turns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

# Hosts remembered before those idle past their pause are forgotten: a feed linking to
# thousands of hosts must not grow the gate for the daemon's whole life.
MAX_HOSTS = 1000


class HostGate:
    """Turns per host: ``turn(url)`` waits until no other request to the URL's host is under
    way and ``delay`` seconds have passed since the last one ended."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self._hosts: dict[str, threading.Lock] = {}
        self._last_end: dict[str, float] = {}

    @contextmanager
    def turn(self, url: str) -> Iterator[None]:
        host = host_of(url)
        with self._lock:
            if host not in self._hosts and len(self._hosts) >= MAX_HOSTS:
                self._forget_idle_hosts()
            host_lock = self._hosts.setdefault(host, threading.Lock())
        with host_lock:
            with self._lock:
                wait = self._last_end.get(host, 0.0) + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                with self._lock:
                    self._last_end[host] = time.monotonic()

    def _forget_idle_hosts(self) -> None:
        """Forget the hosts no request waits for or holds whose pause is over (under _lock)."""
        now = time.monotonic()
        for host, lock in list(self._hosts.items()):
            if not lock.locked() and self._last_end.get(host, 0.0) + self.delay <= now:
                del self._hosts[host]
                self._last_end.pop(host, None)

    def __len__(self) -> int:
        return len(self._hosts)


def host_of(url: str) -> str:
    """The host and port a URL's request goes to ("" when it has none)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or ''}:{parts.port or ''}"
    except ValueError:
        return ""
