"""The crash harness's WebSub case: ``syndicator run`` as a hub, killed with SIGKILL while
subscribers subscribe and posts change its feeds (``python bench/crash_harness.py --websub``).

Subscribers are callbacks of this process on 127.0.0.1: each answers the hub's verification,
some with a short lease (2 s, so leases end between kills), and some are flaky (they answer a
delivery 500 half the time, so deliveries are owed when the daemon dies). In each life the
harness subscribes new callbacks, drops a post, and kills the daemon at a random moment.

Checked after each kill, while nothing runs: the state passes ``PRAGMA integrity_check``;
every subscription whose verification the subscriber answered at least 2 s before the kill,
and whose lease has not ended, is in the state. After each restart: no subscription of the
state at the kill is gone unless its lease ended, and every delivery owed at the kill is
still owed or was sent after the restart. At the end (every callback healthy, a last post):
every subscriber whose lease is live receives the feed exactly as served; no subscriber
receives anything after its lease ended; the daemon stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIRMED_BEFORE_KILL = 2.0  # a verification answered this long before a kill must be stored
SHORT_LEASE = 2
LONG_LEASE = 3600
FINAL_TIMEOUT = 60.0

CONFIG = """
[site]
title = "crash"
url = "http://127.0.0.1:{port}"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"
base_url = "http://127.0.0.1:{port}"

[state]
path = "var/state.db"

[server]
port = {port}

[websub]
hub = true
allow_private_callbacks = true
min_lease = "1s"
"""


@dataclass
class Subscriber:
    path: str
    topic: str
    lease: int
    flaky: bool
    confirmed_at: float | None = None  # wall clock: when it answered the verification
    deliveries: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def lease_end(self) -> float | None:
        return None if self.confirmed_at is None else self.confirmed_at + self.lease


class Subscribers:
    """The callbacks, one HTTP server: verification answered, deliveries recorded."""

    def __init__(self, rng: random.Random) -> None:
        self.by_path: dict[str, Subscriber] = {}
        self.lock = threading.Lock()
        self.rng = rng
        self.all_healthy = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                with outer.lock:
                    subscriber = outer.by_path.get(urlsplit(self.path).path)
                    if subscriber is not None and query.get("hub.mode") == "subscribe":
                        subscriber.confirmed_at = time.time()
                self._answer(200, query.get("hub.challenge", "").encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    subscriber = outer.by_path.get(self.path)
                    failing = (
                        subscriber is not None
                        and subscriber.flaky
                        and not outer.all_healthy
                        and outer.rng.random() < 0.5
                    )
                    if subscriber is not None and not failing:
                        subscriber.deliveries.append((time.time(), body))
                self._answer(500 if failing else 204, b"")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, topic: str) -> Subscriber:
        with self.lock:
            path = f"/s{len(self.by_path)}"
            subscriber = Subscriber(
                path,
                topic,
                SHORT_LEASE if self.rng.random() < 0.3 else LONG_LEASE,
                self.rng.random() < 0.4,
            )
            self.by_path[path] = subscriber
            return subscriber

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except OSError:
        return 0, b""


class WebSubHarness:
    def __init__(self, kills: int, seed: int, max_delay: float, root: Path, verbose: bool) -> None:
        self.kills = kills
        self.rng = random.Random(seed)
        self.max_delay = max_delay
        self.root = root
        self.verbose = verbose
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (root / "_posts").mkdir(parents=True)
        (root / "syndicator.toml").write_text(CONFIG.format(port=self.port), encoding="utf-8")
        self.state = root / "var" / "state.db"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.subscribers = Subscribers(random.Random(seed + 1))
        self.failures: list[str] = []
        self.posts = 0
        self.figures = {"kills": 0, "subscriptions": 0, "owed_at_kills": 0, "checks": 0}

    # The daemon

    def start(self) -> bool:
        self.started_at = time.time()
        environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        environment.pop("SYNDICATOR_CONFIG", None)
        with (self.root / "daemon.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndicator", "--config", "syndicator.toml", "run"],
                cwd=self.root,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if http(self.url + "/healthz")[0] == 200 and http(self.url + "/atom.xml")[0] == 200:
                return True
            time.sleep(0.02)
        return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.figures["kills"] += 1

    def post(self) -> None:
        self.posts += 1
        name = f"2022-01-01-post-{self.posts}.md"
        text = f'---\ntitle: "post {self.posts}"\ndate: 2022-01-01 10:00:00 +0000\ncategories: news\n---\nbody\n'
        temporary = self.root / f".{name}"
        temporary.write_text(text, encoding="utf-8")
        os.rename(temporary, self.root / "_posts" / name)

    def subscribe(self) -> None:
        topic = self.url + self.rng.choice(["/atom.xml", "/rss.xml", "/feed.json"])
        subscriber = self.subscribers.add(topic)
        form = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": self.subscribers.url + subscriber.path,
            "hub.lease_seconds": str(subscriber.lease),
        }
        status, _ = http(self.url + "/websub", urlencode(form).encode())
        if status != 202:
            self.failures.append(f"subscription request answered {status}")
        self.figures["subscriptions"] += 1

    # The state

    def rows(self, query: str) -> set[tuple[object, ...]]:
        with sqlite3.connect(self.state) as db:
            return set(db.execute(query).fetchall())

    def subscriptions(self) -> dict[str, float]:
        rows = self.rows("SELECT callback, expires_at FROM websub_subscription")
        return {str(callback): float(expires) for callback, expires in rows}  # type: ignore[arg-type]

    def owed(self) -> set[str]:
        return {str(row[0]) for row in self.rows("SELECT callback FROM websub_delivery")}

    # The run

    def run(self) -> list[str]:
        try:
            self._run()
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
            self.subscribers.close()
        return self.failures

    def _run(self) -> None:
        owed_at_kill: set[str] = set()
        subscriptions_at_kill: dict[str, float] = {}
        for life in range(self.kills):
            if not self.start():
                self.failures.append(f"life {life}: the daemon did not come up")
                return
            restarted = self.started_at
            self._check_restart(subscriptions_at_kill, life)
            self._check_owed_kept(owed_at_kill, restarted, life)
            for _ in range(self.rng.randint(0, 2)):
                self.subscribe()
            self.post()
            time.sleep(self.rng.uniform(0, self.max_delay))
            killed = time.time()
            self.kill()
            subscriptions_at_kill, owed_at_kill = self._check_kill(killed, life)
            if self.verbose:
                print(
                    f"life {life}: {len(subscriptions_at_kill)} subscriptions, {len(owed_at_kill)} owed",
                    flush=True,
                )
        self._final()

    def _check_kill(self, killed: float, life: int) -> tuple[dict[str, float], set[str]]:
        self.figures["checks"] += 1
        with sqlite3.connect(self.state) as db:
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                self.failures.append(f"life {life}: the state failed its integrity check")
        subscriptions = self.subscriptions()
        with self.subscribers.lock:
            for subscriber in self.subscribers.by_path.values():
                callback = self.subscribers.url + subscriber.path
                end = subscriber.lease_end
                if (
                    subscriber.confirmed_at is not None
                    and subscriber.confirmed_at < killed - CONFIRMED_BEFORE_KILL
                    and end is not None
                    and end > killed + 1
                    and callback not in subscriptions
                ):
                    self.failures.append(
                        f"life {life}: the verified subscription {callback} was lost"
                    )
        owed = self.owed()
        self.figures["owed_at_kills"] += len(owed)
        return subscriptions, owed

    def _check_restart(self, before: dict[str, float], life: int) -> None:
        """Right after a restart: nothing of the state at the kill dropped but ended leases."""
        now = self.subscriptions()
        for callback, expires in before.items():
            if expires > time.time() + 1 and callback not in now:
                self.failures.append(
                    f"life {life}: the restart dropped the subscription {callback}"
                )

    def _check_owed_kept(self, owed_before: set[str], restarted: float, life: int) -> None:
        """Right after a restart (before any new change): each delivery owed at the kill is
        still owed, or was sent since the restart, or its subscription's lease ended."""
        owed_now = self.owed()
        subscriptions = self.subscriptions()
        for callback in owed_before:
            subscriber = self.subscribers.by_path.get(urlsplit(callback).path)
            if subscriber is None:
                continue
            with self.subscribers.lock:
                sent = any(at >= restarted for at, _ in subscriber.deliveries)
            ended = subscriptions.get(callback, 0.0) <= time.time()
            if not (callback in owed_now or sent or ended):
                self.failures.append(f"life {life}: the delivery owed to {callback} was lost")

    def _final(self) -> None:
        self.subscribers.all_healthy = True
        if not self.start():
            self.failures.append("final: the daemon did not come up")
            return
        self.post()
        deadline = time.monotonic() + FINAL_TIMEOUT
        pending = self._live_without_final_feed()
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
            pending = self._live_without_final_feed()
        for subscriber in pending:
            self.failures.append(f"final: {subscriber.path} never received the feed as served")
        with self.subscribers.lock:
            for subscriber in self.subscribers.by_path.values():
                end = subscriber.lease_end
                late = [at for at, _ in subscriber.deliveries if end is not None and at > end + 2]
                if late:
                    self.failures.append(
                        f"{subscriber.path}: {len(late)} deliveries after its lease ended"
                    )
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(timeout=15) != 0:
            self.failures.append("final: the daemon did not stop cleanly on SIGTERM")

    def _live_without_final_feed(self) -> list[Subscriber]:
        live = self.subscriptions()
        missing = []
        for subscriber in list(self.subscribers.by_path.values()):
            callback = self.subscribers.url + subscriber.path
            if callback not in live or live[callback] <= time.time() + 1:
                continue
            served = http(subscriber.topic)[1]
            with self.subscribers.lock:
                if not any(body == served for _, body in subscriber.deliveries):
                    missing.append(subscriber)
        return missing

    def summary(self) -> str:
        live = sum(1 for s in self.subscribers.by_path.values() if s.confirmed_at is not None)
        lines = [
            f"websub crash case: {self.figures['kills']} kills, {self.figures['subscriptions']} "
            f"subscription requests ({live} verified), {self.posts} posts, "
            f"{self.figures['owed_at_kills']} deliveries owed at kills in all",
            f"result: {'OK' if not self.failures else f'{len(self.failures)} FAILURES'}",
            *self.failures[:20],
        ]
        return "\n".join(lines)
