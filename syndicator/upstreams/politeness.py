"""One request at a time per host, and a pause between them: what sites that are not feeds
(an API's detail endpoint, article pages) are owed when every new item costs a request.

A gate belongs to one Fetcher, so every thread fetching through it shares the same turns.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

_DEFAULT_PORTS = {"http": 80, "https": 443}
# The shapes of an IPv4 address that C's inet_aton also reads: dotted parts (one to four),
# decimal, octal or hex.
_LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}", re.I)
# RFC 9309 (2.4): a parsed robots.txt is not used for more than a day.
ROBOTS_MAX_AGE = 24 * 3600.0
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


class RobotsCache:
    """Each site's parsed robots.txt, kept a day at most (RFC 9309: no longer than 24 hours),
    less when its answer's ``Cache-Control: max-age`` says so; at most MAX_HOSTS sites,
    the stalest forgotten first. Unreadable ones are not kept: they are asked again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[float, RobotFileParser]] = {}

    def get(self, site: str) -> RobotFileParser | None:
        with self._lock:
            kept = self._rules.get(site)
            if kept is None or kept[0] <= time.monotonic():
                self._rules.pop(site, None)
                return None
            return kept[1]

    def put(self, site: str, rules: RobotFileParser, max_age: float | None) -> None:
        age = ROBOTS_MAX_AGE if max_age is None else min(ROBOTS_MAX_AGE, max_age)
        with self._lock:
            if site not in self._rules and len(self._rules) >= MAX_HOSTS:
                del self._rules[min(self._rules, key=lambda known: self._rules[known][0])]
            self._rules[site] = (time.monotonic() + age, rules)


def host_of(url: str) -> str:
    """The host and port a URL's request goes to ("" when it has none), the same for each
    spelling of one host: lower case, no trailing dot, an IP address in its usual form
    (``127.1`` and ``2130706433`` are ``127.0.0.1``), the scheme's default port written
    out. Names are not resolved: ``localhost`` and ``127.0.0.1`` take turns of their own."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower()) or ""
    except ValueError:
        return ""
    return f"{_normal_host((parts.hostname or '').rstrip('.'))}:{port}"


def _normal_host(host: str) -> str:
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if host and _LEGACY_IPV4.fullmatch(host):
        try:  # inet_aton reads what resolvers read: 127.1, 0x7f.1, a 32-bit number
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            pass
    return host
