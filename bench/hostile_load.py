"""Hostile load: ``syndicator run`` on a generated site, attacked from 127.0.0.1, measured.

Usage::

    python bench/hostile_load.py                  # the campaign: 1,000 posts, about a minute
    python bench/hostile_load.py --smoke          # CI: 50 posts, every attack scaled down
    python bench/hostile_load.py --posts 10000 --json figures.json -v

The harness generates a site with ``bench/generate_site.py`` (``--posts`` posts, 30
categories), starts ``syndicator run`` on it (a subprocess of this checkout's code, on a free
port), waits for its first build, and then runs each attack in turn, every one bounded in
count and time, all of it to 127.0.0.1:

- slowloris: connections that send half a request head, then a byte a second;
- request smuggling: conflicting Content-Length and Transfer-Encoding, obfuscated chunked
  encodings, a second request hidden in a body;
- 1 MB headers;
- 2,000 clients at once, each fetching the site's RSS feed;
- path traversal in several encodings, after a secret file was put beside the feed folder;
- an idle connection flood: more connections than the server's limit, none sending a byte;
- pipelining without reading: connections that send 14,000 requests and never read;
- a huge date in If-Modified-Since;
- a label flood: a post whose ``tags:`` string names 99,990 labels (written, built, removed);
- a huge post: a 50 MB body, over ``posts.max_bytes`` (written, reported, removed);
- a post just under ``posts.max_bytes`` (2 MiB), 1.9 MB (written, built, removed).

During each attack a thread asks ``/healthz`` every 100 ms (a new connection each time) and
another samples the daemon's resident memory (VmRSS, /proc) every 50 ms; the daemon's peak
(VmHWM) is reset before each attack and read after it. Each attack reports its peak resident
memory, the worst ``/healthz`` latency, the errors and tracebacks the daemon
logged meanwhile, and its own outcome (statuses, connections the server closed). At the end
the feeds the daemon serves over HTTP are compared, byte for byte, with a clean
``syndicator build --full`` of a copy of the posts in a fresh folder, and the daemon is stopped
with SIGTERM.

Targets: peak resident memory <= 150 MB under every attack, worst /healthz latency <= 1 s,
no traceback, the served feeds equal to the clean build, and each attack's own outcome as
expected. Exit status: 0 when all of them held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 150.0
MAX_HEALTH_SECONDS = 1.0
HEALTH_INTERVAL = 0.1
HEALTH_TIMEOUT = 5.0
MEMORY_INTERVAL = 0.05
START_TIMEOUT = 120.0
REBUILD_TIMEOUT = 120.0
SETTLE_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
SERVER_CONNECTION_LIMIT = 2048  # syndicator/web/server.py's MAX_CONNECTIONS
MAX_LABELS = 100  # [posts] max_labels's default
TCP_ESTABLISHED = 1  # the first byte of Linux's TCP_INFO
SECRET = "HOSTILE-LOAD-SECRET-OUTSIDE-THE-FEEDS"
MiB = 1024 * 1024


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_site", Path(__file__).with_name("generate_site.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Sizes:
    """How hard each attack pushes: the campaign's sizes, or the smoke run's."""

    posts: int
    slowloris: int
    slowloris_seconds: float
    big_headers: int
    clients: int
    idle: int
    idle_seconds: float
    pipelining: int
    pipelined: int
    pipelining_seconds: float
    ims_requests: int
    labels: int
    huge_post_mb: float
    near_cap_mb: float


CAMPAIGN = Sizes(
    posts=1000,
    slowloris=1000,
    slowloris_seconds=15,  # past the server's 10 s head timeout
    big_headers=20,
    clients=2000,
    idle=2500,
    idle_seconds=12,
    pipelining=40,
    pipelined=14_000,
    pipelining_seconds=25,  # past the server's 10 s cut-off for a client that reads nothing
    ims_requests=200,
    labels=99_990,
    huge_post_mb=50,
    near_cap_mb=1.9,
)
SMOKE = Sizes(
    posts=50,
    slowloris=50,
    slowloris_seconds=2,
    big_headers=3,
    clients=200,
    idle=SERVER_CONNECTION_LIMIT + 60,
    idle_seconds=1,
    pipelining=4,
    pipelined=2000,
    pipelining_seconds=2,
    ims_requests=20,
    labels=1000,
    huge_post_mb=11,
    near_cap_mb=1,
)


# --- the daemon --------------------------------------------------------------------------------


class Daemon:
    """``syndicator run`` on the site, its output in daemon.log."""

    def __init__(self, site: Path, port: int) -> None:
        self.site = site
        self.port = port
        self.config = site / "syndicator.toml"
        self.log_path = site.parent / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndicator", "--config", str(self.config), "run"],
                cwd=self.site,
                env=syndicator_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> bool:
        """Until /healthz answers and the first build has written the site feed."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            if health(self.port)[0] == 200 and (self.site / "feeds" / "rss.xml").exists():
                return True
            time.sleep(0.2)
        return False

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -1


def syndicator_environment() -> dict[str, str]:
    """This checkout's syndicator, whatever is installed, whatever the working folder."""
    environment = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    paths = [str(REPOSITORY), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resident_mb(pid: int, field: str = "VmRSS") -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def reset_peak(pid: int) -> bool:
    """Set the process's VmHWM back to its VmRSS (Linux's clear_refs); False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def health(port: int) -> tuple[int, float]:
    """(status, seconds) of one GET /healthz on a new connection; status 0 when it failed."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HEALTH_TIMEOUT)
    try:
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        connection.close()
    return status, time.monotonic() - started


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return 0, b""
    finally:
        connection.close()


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed or reset the connection, seen without reading from it."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED
    except OSError:
        return True


def exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send ``data`` on a new connection and read until the server closes it."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    """The status codes of every response in ``raw``."""
    return [
        int(line.split()[1])
        for line in raw.split(b"\r\n")
        if line.startswith(b"HTTP/1.") and len(line.split()) > 1 and line.split()[1].isdigit()
    ]


@contextlib.contextmanager
def connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections to the daemon, closed at the end whatever happened."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        yield opened
    finally:
        for sock in opened:
            sock.close()


# --- measuring an attack ------------------------------------------------------------------------


@dataclass
class AttackResult:
    name: str
    outcome: str = ""
    ok: bool = True
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    worst_health_seconds: float = 0.0
    health_checks: int = 0
    health_failures: int = 0
    errors: int = 0
    tracebacks: int = 0

    def problems(self) -> list[str]:
        found = [] if self.ok else [f"{self.name}: {self.outcome}"]
        if self.peak_rss_mb > MAX_RSS_MB:
            found.append(f"{self.name}: peak RSS {self.peak_rss_mb:.0f} MB > {MAX_RSS_MB:.0f}")
        if self.worst_health_seconds > MAX_HEALTH_SECONDS or self.health_failures:
            found.append(
                f"{self.name}: worst /healthz {self.worst_health_seconds:.2f} s, "
                f"{self.health_failures} failed"
            )
        if self.tracebacks:
            found.append(f"{self.name}: {self.tracebacks} tracebacks in daemon.log")
        return found


class Watch:
    """While an attack runs: /healthz every 100 ms and the daemon's VmRSS every 50 ms; and,
    where the kernel lets its peak (VmHWM) be reset, that peak, which no sampling misses."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.stop = threading.Event()
        self.peak_rss_mb = 0.0
        self.latencies: list[float] = []
        self.failures = 0
        self.threads = [
            threading.Thread(target=self._health, daemon=True),
            threading.Thread(target=self._memory, daemon=True),
        ]

    def __enter__(self) -> Watch:
        self.peak_was_reset = reset_peak(self.daemon.pid)
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()
        if self.peak_was_reset:
            self.peak_rss_mb = max(self.peak_rss_mb, resident_mb(self.daemon.pid, "VmHWM"))

    def _health(self) -> None:
        while not self.stop.is_set():
            status, seconds = health(self.daemon.port)
            self.latencies.append(seconds)
            self.failures += status != 200
            self.stop.wait(max(0.0, HEALTH_INTERVAL - seconds))

    def _memory(self) -> None:
        while not self.stop.is_set():
            self.peak_rss_mb = max(self.peak_rss_mb, resident_mb(self.daemon.pid))
            self.stop.wait(MEMORY_INTERVAL)


def measured(daemon: Daemon, name: str, attack: Callable[[], tuple[bool, str]]) -> AttackResult:
    log_before = len(daemon.log_text())
    started = time.monotonic()
    with Watch(daemon) as watch:
        ok, outcome = attack()
    logged = daemon.log_text()[log_before:]
    return AttackResult(
        name=name,
        outcome=outcome,
        ok=ok,
        seconds=time.monotonic() - started,
        peak_rss_mb=watch.peak_rss_mb,
        worst_health_seconds=max(watch.latencies, default=0.0),
        health_checks=len(watch.latencies),
        health_failures=watch.failures,
        errors=sum(" ERROR " in line for line in logged.splitlines()),
        tracebacks=logged.count("Traceback (most recent call last)"),
    )


# --- the attacks ---------------------------------------------------------------------------------


class Attacks:
    def __init__(self, daemon: Daemon, sizes: Sizes) -> None:
        self.daemon = daemon
        self.port = daemon.port
        self.sizes = sizes
        self.posts = daemon.site / "_posts"

    def all(self) -> list[tuple[str, Callable[[], tuple[bool, str]]]]:
        s = self.sizes
        return [
            (f"slowloris ({s.slowloris} connections)", self.slowloris),
            ("request smuggling", self.smuggling),
            (f"1 MB headers ({s.big_headers} requests)", self.big_headers),
            (f"{s.clients:,} concurrent clients", self.concurrent_clients),
            ("path traversal", self.traversal),
            (f"idle connection flood ({s.idle:,})", self.idle_flood),
            (
                f"pipelining without reading ({s.pipelining} x {s.pipelined:,})",
                self.pipelining,
            ),
            (f"huge If-Modified-Since ({s.ims_requests})", self.huge_if_modified_since),
            (f"huge post ({s.huge_post_mb:g} MB, over max_bytes)", self.huge_post),
            (f"post under max_bytes ({s.near_cap_mb:g} MB)", self.near_cap_post),
            (f"label flood ({s.labels:,} tags)", self.label_flood),
        ]

    def slowloris(self) -> tuple[bool, str]:
        """Half a request head each, then a byte a second; the head timeout ends them."""
        with connections(self.port, self.sizes.slowloris) as slow:
            for sock in slow:
                sock.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            deadline = time.monotonic() + self.sizes.slowloris_seconds
            while time.monotonic() < deadline:
                for sock in slow:
                    if not closed_by_server(sock):
                        with contextlib.suppress(OSError):
                            sock.send(b"z")
                time.sleep(1)
            status, body = get(self.port, "/rss.xml")
            closed = sum(map(closed_by_server, slow))
        ok = status == 200 and bool(body)
        if self.sizes.slowloris_seconds > 11:  # the head timeout is 10 s
            ok = ok and closed == len(slow)
        return ok, f"{closed}/{len(slow)} closed by the server, others served ({status})"

    def smuggling(self) -> tuple[bool, str]:
        """Framing that two servers could read two ways: refused (4xx), or read one way
        with the hidden request (for the feed list) never answered."""
        hidden = b"GET /feeds.opml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        attempts = [
            b"POST /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Length: 4\r\n\r\n5c\r\n" + hidden + b"\r\n0\r\n\r\n",
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n"
            + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
            + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
            + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
            b"0\r\n\r\n" + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + hidden,
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Content-Length : 0\r\n\r\nxxxxx" + hidden,
        ]
        seen: Counter[int] = Counter()
        smuggled = 0
        for attempt in attempts:
            raw = exchange(self.port, attempt, timeout=1.5)  # keep-alive: no close to wait for
            seen.update(statuses(raw))
            smuggled += b"text/x-opml" in raw
        errors = sum(count for status, count in seen.items() if status >= 500)
        summary = ", ".join(f"{count} x {status}" for status, count in sorted(seen.items()))
        outcome = f"{len(attempts)} attempts: {summary}; hidden request answered {smuggled}"
        return smuggled == 0 and errors == 0, outcome

    def big_headers(self) -> tuple[bool, str]:
        seen: Counter[int] = Counter()
        for _ in range(self.sizes.big_headers):
            request = b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * MiB + b"\r\n\r\n"
            seen.update(statuses(exchange(self.port, request)) or [0])
        refused = sum(count for status, count in seen.items() if 400 <= status < 500)
        reset = seen[0]  # refused before all of it was sent: the connection was reset
        summary = ", ".join(f"{count} x {status or 'reset'}" for status, count in seen.items())
        return refused + reset == self.sizes.big_headers, summary

    def concurrent_clients(self) -> tuple[bool, str]:
        """Every client connects, asks for the site feed (gzip, as feed readers do) and reads
        it to the end, all at once."""
        request = (
            b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
            b"Connection: close\r\n\r\n"
        )
        expected = hashlib.sha256(exchange(self.port, request).partition(b"\r\n\r\n")[2])
        selector = selectors.DefaultSelector()
        answers: dict[socket.socket, Answer] = {}
        for _ in range(self.sizes.clients):
            sock = socket.socket()
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                sock.connect(("127.0.0.1", self.port))
            selector.register(sock, selectors.EVENT_WRITE)
            answers[sock] = Answer()
        served = 0
        deadline = time.monotonic() + 60
        try:
            while len(selector.get_map()) and time.monotonic() < deadline:
                for key, events in selector.select(timeout=1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if events & selectors.EVENT_WRITE:
                        with contextlib.suppress(OSError):
                            sock.sendall(request)
                        selector.modify(sock, selectors.EVENT_READ)
                        continue
                    try:
                        chunk = sock.recv(262144)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    answers[sock].add(chunk)
                    if not chunk:
                        selector.unregister(sock)
                        served += answers[sock].body.digest() == expected.digest()
        finally:
            for sock in answers:
                sock.close()
            selector.close()
        return served == len(answers), f"{served}/{len(answers)} got the whole feed"

    def traversal(self) -> tuple[bool, str]:
        (self.daemon.site / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
        targets = [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2e/secret.txt",
            "/%252e%252e/secret.txt",
            "/..%2fsecret.txt",
            "/..%2Fsecret.txt",
            "/..\\secret.txt",
            "/..%5csecret.txt",
            "/%c0%ae%c0%ae/secret.txt",
            "/%u002e%u002e/secret.txt",
            "/．．/secret.txt",
            "/tags/../../secret.txt",
            "/tags/%2e%2e/%2e%2e/secret.txt",
            "/./../secret.txt",
            "//../secret.txt",
            "/%00/../secret.txt",
            "/..;/secret.txt",
            "/rss.xml/../../secret.txt",
            "/" + "../" * 20 + "etc/passwd",
            "/%2e%2e/" * 10 + "etc/passwd",
            "file:///etc/passwd",
            "http://127.0.0.1/../secret.txt",
        ]
        seen: Counter[int] = Counter()
        leaked = 0
        for target in targets:
            raw = exchange(
                self.port,
                b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            seen.update(statuses(raw) or [0])
            leaked += SECRET.encode() in raw or b"root:" in raw
        summary = ", ".join(f"{count} x {status}" for status, count in sorted(seen.items()))
        return leaked == 0 and not seen[200], f"{len(targets)} targets: {summary}"

    def idle_flood(self) -> tuple[bool, str]:
        """More idle connections than the limit: the idle longest make room for new clients."""
        answered: Counter[int] = Counter()
        with connections(self.port, self.sizes.idle) as idle:
            deadline = time.monotonic() + self.sizes.idle_seconds
            while True:
                answered[get(self.port, "/rss.xml")[0]] += 1
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.25)
            closed = sum(map(closed_by_server, idle))
        summary = ", ".join(f"{count} x {status}" for status, count in sorted(answered.items()))
        return set(answered) == {200}, f"feed requests: {summary}; {closed} idle ones closed"

    def pipelining(self) -> tuple[bool, str]:
        """Each connection sends its requests as fast as the server takes them, reads nothing."""
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        with connections(self.port, self.sizes.pipelining) as greedy:
            unsent = {sock: memoryview(request * self.sizes.pipelined) for sock in greedy}
            for sock in greedy:
                sock.setblocking(False)
            deadline = time.monotonic() + self.sizes.pipelining_seconds
            while time.monotonic() < deadline and not all(map(closed_by_server, greedy)):
                for sock, rest in unsent.items():
                    with contextlib.suppress(OSError):
                        unsent[sock] = rest[sock.send(rest) :] if rest else rest
                time.sleep(0.05)
            closed = sum(map(closed_by_server, greedy))
        status, _ = get(self.port, "/rss.xml")
        ok = status == 200
        if self.sizes.pipelining_seconds > 12:  # the cut-off is 10 s without reading
            ok = ok and closed == len(greedy)
        return ok, f"{closed}/{len(greedy)} cut off by the server; then served ({status})"

    def huge_if_modified_since(self) -> tuple[bool, str]:
        seen: Counter[int] = Counter()
        for _ in range(self.sizes.ims_requests):
            status, _ = get(
                self.port, "/rss.xml", {"If-Modified-Since": "Mon, 01 Jan 99999999999 00:00:00 GMT"}
            )
            seen[status] += 1
        summary = ", ".join(f"{count} x {status}" for status, count in sorted(seen.items()))
        return set(seen) == {200}, summary

    def label_flood(self) -> tuple[bool, str]:
        """The post is built with its first posts.max_labels tags, a feed each. It stays: on a
        site this small, removing it would take most of the feed files at once, which the
        build refuses until ``build --allow-shrink`` (the feeds compared at the end are those
        of the posts as they are then)."""
        labels = [f"flood{number}" for number in range(self.sizes.labels)]
        post = self.posts / "2019-06-01-label-flood.md"
        front = f"title: flood\ndate: 2019-06-01 10:00:00 +0800\ntags: {' '.join(labels)}\n"
        last_kept = self.daemon.site / "feeds" / "tags" / labels[MAX_LABELS - 1] / "rss.xml"
        started = time.monotonic()
        post.write_text(f"---\n{front}---\n正文。\n", encoding="utf-8")
        built = wait_for(last_kept.exists, REBUILD_TIMEOUT)
        seconds = time.monotonic() - started
        kept = len(list((self.daemon.site / "feeds" / "tags").glob("flood*")))
        return built and kept == MAX_LABELS, f"built in {seconds:.1f} s with {kept} tag feeds"

    def huge_post(self) -> tuple[bool, str]:
        """Over posts.max_bytes: reported by name and skipped, without reading it whole."""
        post = self.posts / "2019-06-02-huge.md"
        started = time.monotonic()
        write_big_post(post, self.sizes.huge_post_mb)
        reported = wait_for(
            lambda: f"{post.name}: larger than posts.max_bytes" in self.daemon.log_text(),
            REBUILD_TIMEOUT,
        )
        seconds = time.monotonic() - started
        post.unlink()
        time.sleep(2)  # the rebuild that forgets it changes no feed: nothing to wait for
        return reported, f"reported and skipped after {seconds:.1f} s; removed"

    def near_cap_post(self) -> tuple[bool, str]:
        """Under posts.max_bytes: built into the site, category and tag feeds, then removed."""
        post = self.posts / "2022-12-31-near-cap.md"
        feed = self.daemon.site / "feeds" / "tags" / "nearcap" / "rss.xml"
        started = time.monotonic()
        write_big_post(post, self.sizes.near_cap_mb)
        built = wait_for(feed.exists, REBUILD_TIMEOUT)
        seconds = time.monotonic() - started
        size = feed.stat().st_size if built else 0
        post.unlink()
        removed = wait_for(lambda: not feed.exists(), REBUILD_TIMEOUT)
        return built and removed, (
            f"built in {seconds:.1f} s (tag feed {size / MiB:.1f} MB); removed"
        )


class Answer:
    """An HTTP response read a chunk at a time: its head kept, its body only hashed."""

    def __init__(self) -> None:
        self.head = b""
        self.body = hashlib.sha256()
        self.in_body = False

    def add(self, chunk: bytes) -> None:
        if self.in_body:
            self.body.update(chunk)
            return
        self.head += chunk
        if b"\r\n\r\n" in self.head:
            self.head, _, rest = self.head.partition(b"\r\n\r\n")
            self.in_body = True
            self.body.update(rest)


def write_big_post(path: Path, megabytes: float) -> None:
    """A post of about ``megabytes`` MB: news paragraphs, as the generated site's."""
    paragraph = "<p>" + "正文，新闻的一个段落，" * 30 + "<strong>重点</strong>。</p>\n"
    count = int(megabytes * MiB) // len(paragraph.encode())
    front = "title: big\ndate: 2022-12-31 10:00:00 +0800\ncategories: big\ntags: nearcap\n"
    path.write_text(f"---\n{front}---\n" + paragraph * count, encoding="utf-8")


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


# --- the end: served feeds against a clean build -------------------------------------------------


def clean_build(site: Path, into: Path) -> dict[str, bytes]:
    """The feeds of ``syndicator build --full`` of a copy of the posts in a fresh folder."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir()
    shutil.copy(site / "syndicator.toml", into / "syndicator.toml")
    shutil.copytree(site / "_posts", into / "_posts", ignore=shutil.ignore_patterns(".*"))
    config = str(into / "syndicator.toml")
    subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", config, "build", "--full"],
        cwd=into,
        env=syndicator_environment(),
        capture_output=True,
        check=True,
        timeout=600,
    )
    return tree(into / "feeds")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file a server publishes from ``folder`` (hidden ones are not)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def served(port: int, names: list[str]) -> dict[str, bytes]:
    found = {}
    for name in names:
        status, body = get(port, "/" + urllib.parse.quote(name))
        if status == 200:
            found[name] = body
    return found


def differing(daemon: Daemon, expected: dict[str, bytes]) -> list[str]:
    """The files whose served bytes (or whose presence in the feed folder) differ."""
    on_disk = tree(daemon.site / "feeds")
    names = sorted(expected.keys() | on_disk.keys())
    answers = served(daemon.port, names)
    return [name for name in names if answers.get(name) != expected.get(name)]


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Report:
    posts: int
    results: list[AttackResult] = field(default_factory=list)
    baseline_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    feeds_compared: int = 0
    feeds_differing: list[str] = field(default_factory=list)
    clean_stop: bool = False
    tracebacks_total: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr, flush=True)


def run_campaign(sizes: Sizes, root: Path, verbose: bool) -> Report:
    started = time.monotonic()
    report = Report(posts=sizes.posts)
    site = root / "site"
    _load_generator().generate_site(site, sizes.posts, seed=1)
    port = free_port()
    with (site / "syndicator.toml").open("a", encoding="utf-8") as config:
        config.write(f"\n[server]\nport = {port}\n")
    daemon = Daemon(site, port)
    daemon.start()
    try:
        if not daemon.wait_ready():
            report.fail(f"the daemon did not come up within {START_TIMEOUT:.0f} s (daemon.log)")
            return report
        time.sleep(1)  # the first build's last writes
        report.baseline_rss_mb = resident_mb(daemon.pid)
        for name, attack in Attacks(daemon, sizes).all():
            result = measured(daemon, name, attack)
            report.results.append(result)
            for problem in result.problems():
                report.fail(problem)
            if verbose:
                print(row(result), flush=True)
        report.peak_rss_mb = max(result.peak_rss_mb for result in report.results)
        expected = clean_build(site, root / "clean")
        report.feeds_compared = len(expected)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (found := differing(daemon, expected)) and time.monotonic() < deadline:
            time.sleep(1)
        report.feeds_differing = found
        if found:
            report.fail(f"served feeds differ from a clean build: {', '.join(found[:10])}")
    finally:
        status = daemon.stop()
        report.clean_stop = status == 0
        if status != 0:
            report.fail(f"the daemon exited with {status} on SIGTERM")
        report.tracebacks_total = daemon.log_text().count("Traceback (most recent call last)")
        if report.tracebacks_total:
            report.fail(f"{report.tracebacks_total} tracebacks in daemon.log in all")
    report.seconds = time.monotonic() - started
    return report


def row(result: AttackResult) -> str:
    return (
        f"{result.name:<44} {result.peak_rss_mb:6.1f} MB  "
        f"{result.worst_health_seconds * 1000:6.0f} ms  {result.health_failures:3d}  "
        f"{result.errors:3d}  {result.tracebacks:3d}  {'ok ' if result.ok else 'BAD'} "
        f"{result.outcome}"
    )


def summary(report: Report, command: str, root: Path) -> str:
    lines = [
        f"hostile load: {command}",
        f"site: {report.posts} posts; daemon at rest after its first build: "
        f"{report.baseline_rss_mb:.1f} MB resident",
        f"{'attack':<44} {'peak RSS':>9}  {'/healthz':>9}  {'bad':>3}  {'err':>3}  "
        f"{'tb':>3}  outcome",
        *(row(result) for result in report.results),
        f"peak RSS under any attack:            {report.peak_rss_mb:.1f} MB",
        f"worst /healthz latency:               "
        f"{max((r.worst_health_seconds for r in report.results), default=0) * 1000:.0f} ms",
        f"tracebacks in daemon.log:             {report.tracebacks_total}",
        f"served feeds == clean build:          "
        f"{'yes' if report.feeds_compared and not report.feeds_differing else 'NO'} "
        f"({report.feeds_compared} files)",
        f"clean SIGTERM stop:                   {'yes' if report.clean_stop else 'NO'}",
        f"seconds:                              {report.seconds:.1f}",
        f"result:                               "
        f"{'OK' if not report.failures else f'{len(report.failures)} FAILURES'}",
    ]
    if report.failures:
        lines.append(f"site kept in {root} (daemon.log has the daemon's output)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small site, small attacks (CI)")
    parser.add_argument("--posts", type=int, help="posts in the generated site (1000; smoke 50)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary site")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per attack")
    return parser.parse_args(argv)


def raise_open_file_limit(needed: int) -> None:
    """Thousands of connections at once: this process and the daemon (which inherits the
    limit) need a file descriptor for each."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else CAMPAIGN
    if args.posts is not None:
        sizes = Sizes(**{**vars(sizes), "posts": args.posts})
    raise_open_file_limit(max(sizes.idle, sizes.clients, sizes.slowloris) + 1024)
    root = Path(tempfile.mkdtemp(prefix="syndicator-hostile-"))
    command = " ".join(["python", "bench/hostile_load.py", *sys.argv[1:]])
    report = run_campaign(sizes, root, args.verbose)
    print(summary(report, command, root), flush=True)
    if args.json:
        figures = {k: v for k, v in vars(report).items() if k != "results"}
        figures["results"] = [vars(result) for result in report.results]
        figures["command"] = command
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not args.keep and not report.failures:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
