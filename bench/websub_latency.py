"""WebSub latency on 127.0.0.1, the two figures of the WebSub issue:

1. hub: a post file dropped (renamed) into daemon A's post folder → the changed feed
   delivered by A's own hub to a subscriber's callback (this script's);
2. subscriber: an upstream's hub (this script's: it serves a feed naming itself as hub,
   verifies daemon B's subscription and pushes signed bodies) pushes a new item to daemon B →
   the item in the feed B serves.

Each is measured ``--rounds`` times (20), one at a time; the median and the worst are printed
(and written as JSON with ``--json``). Usage::

    python bench/websub_latency.py [--rounds 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

REPOSITORY = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0

CONFIG = """
[site]
title = "bench"
url = "http://127.0.0.1:{port}"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"
base_url = "http://127.0.0.1:{port}"
formats = ["atom"]

[state]
path = "var/state.db"

[server]
port = {port}

[polling]
interval = "1h"
timeout = "5s"
allow_private_addresses = true

[websub]
{websub}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_for(
    check: Callable[[], bool], what: str, seconds: float = TIMEOUT, step: float = 0.002
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise SystemExit(f"not within {seconds} s: {what}")


class Daemon:
    def __init__(self, root: Path, websub: str, extra: str = "") -> None:
        self.root = root
        root.mkdir(parents=True)
        (root / "_posts").mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        text = CONFIG.format(port=self.port, websub=websub.format(url=self.url)) + extra
        (root / "syndicator.toml").write_text(text, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        environment.pop("SYNDICATOR_CONFIG", None)
        log = (self.root / "daemon.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", "syndicator.toml", "run"],
            cwd=self.root,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: http(self.url + "/healthz")[0] == 200, "the daemon up", step=0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(15)

    def drop_post(self, name: str, title: str) -> None:
        """A post written beside the folder, then renamed into it: it appears whole."""
        text = (
            f'---\ntitle: "{title}"\ndate: 2022-01-01 10:00:00 +0000\ncategories: news\n---\nbody\n'
        )
        temporary = self.root / f".{name}"
        temporary.write_text(text, encoding="utf-8")
        os.rename(temporary, self.root / "_posts" / name)


class Recorder:
    """An HTTP server of this script's, in a thread: ``handle(request)`` answers."""

    def __init__(self, handle: Callable[[BaseHTTPRequestHandler, str], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handle(self, "GET")

            def do_POST(self) -> None:
                handle(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def answer(
    request: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    request.send_response(status)
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def measure_hub(root: Path, rounds: int) -> list[float]:
    """Post dropped into daemon A → A's hub delivers to our callback."""
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    def callback(request: BaseHTTPRequestHandler, method: str) -> None:
        if method == "GET":
            query = parse_qs(urlsplit(request.path).query)
            answer(request, 200, query["hub.challenge"][0].encode())
            return
        body = request.rfile.read(int(request.headers["Content-Length"]))
        now = time.monotonic()
        answer(request, 204, b"")
        with lock:
            for n in range(rounds):
                title = f"round-{n}-item"
                if title.encode() in body:
                    arrivals.setdefault(title, now)

    subscriber = Recorder(callback)
    daemon = Daemon(root / "a", "hub = true\nallow_private_callbacks = true\n")
    daemon.drop_post("2022-01-01-seed.md", "seed")
    try:
        daemon.start()
        topic = daemon.url + "/atom.xml"
        wait_for(lambda: http(topic)[0] == 200, "A's feed")
        form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": subscriber.url + "/cb"}
        status, _ = http(daemon.url + "/websub", urlencode(form).encode())
        assert status == 202, status
        time.sleep(1)  # the verification, and the first build's own delivery
        latencies = []
        for n in range(rounds):
            title = f"round-{n}-item"
            started = time.monotonic()
            daemon.drop_post(f"2022-01-02-round-{n}.md", title)
            wait_for(lambda title=title: title in arrivals, f"round {n} delivered")
            latencies.append(arrivals[title] - started)
            time.sleep(0.2)
        return latencies
    finally:
        daemon.stop()
        subscriber.close()


class UpstreamHub:
    """An upstream feed that names its own hub, and that hub: it verifies a subscription and
    pushes the feed, signed, to the subscriber's callback."""

    def __init__(self) -> None:
        self.items: list[str] = ["first"]
        self.lock = threading.Lock()
        self.callback: str | None = None
        self.secret = ""
        self.server = Recorder(self.handle)
        self.url = self.server.url
        self.verified = threading.Event()

    def feed(self) -> bytes:
        with self.lock:
            entries = "".join(
                f"<entry><id>urn:item:{title}</id><title>{title}</title>"
                f'<link href="http://news.example/{title}"/><updated>{format_datetime(datetime.now(UTC))}</updated>'
                f'<content type="html">&lt;p&gt;{title}&lt;/p&gt;</content></entry>'
                for title in self.items
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>up</title><id>urn:up</id><updated>2022-01-01T00:00:00Z</updated>"
            f'<link rel="hub" href="{self.url}/hub"/><link rel="self" href="{self.url}/feed.xml"/>'
            f"{entries}</feed>"
        ).encode()

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        if method == "GET":
            answer(request, 200, self.feed(), {"Content-Type": "application/atom+xml"})
            return
        form = parse_qs(request.rfile.read(int(request.headers["Content-Length"])).decode())
        answer(request, 202, b"")
        if form.get("hub.mode") == ["subscribe"]:
            threading.Thread(target=self.verify, args=(form,), daemon=True).start()

    def verify(self, form: dict[str, list[str]]) -> None:
        callback = form["hub.callback"][0]
        query = urlencode(
            {
                "hub.mode": "subscribe",
                "hub.topic": form["hub.topic"][0],
                "hub.challenge": "ch4llenge",
                "hub.lease_seconds": "86400",
            }
        )
        status, body = http(f"{callback}?{query}")
        if status == 200 and body == b"ch4llenge":
            self.callback, self.secret = callback, form["hub.secret"][0]
            self.verified.set()

    def push(self, title: str) -> None:
        with self.lock:
            self.items.insert(0, title)
        body = self.feed()
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        assert self.callback is not None
        status, _ = http(
            self.callback,
            body,
            {"Content-Type": "application/atom+xml", "X-Hub-Signature": f"sha256={signature}"},
        )
        assert 200 <= status < 300, status


def measure_subscriber(root: Path, rounds: int) -> list[float]:
    """The upstream's hub pushes an item to daemon B → the item in B's served feed."""
    upstream = UpstreamHub()
    extra = f'\n[[upstreams]]\nname = "up"\nurl = "{upstream.url}/feed.xml"\ncategory = "news"\n'
    daemon = Daemon(root / "b", 'callback_base_url = "{url}"\n', extra)
    try:
        daemon.start()
        if not upstream.verified.wait(TIMEOUT):
            raise SystemExit("daemon B did not subscribe")
        feed = daemon.url + "/atom.xml"
        wait_for(lambda: b"first" in http(feed)[1], "B's first poll", step=0.05)
        latencies = []
        for n in range(rounds):
            title = f"pushed-{n}"
            started = time.monotonic()
            upstream.push(title)
            wait_for(lambda title=title: title.encode() in http(feed)[1], f"round {n} in B's feed")
            latencies.append(time.monotonic() - started)
            time.sleep(0.2)
        return latencies
    finally:
        daemon.stop()
        upstream.server.close()


def figures(latencies: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(latencies), 3),
        "worst_s": round(max(latencies), 3),
        "best_s": round(min(latencies), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="syndicator-websub-") as folder:
        root = Path(folder)
        results = {
            "hub: post dropped into A -> A's subscriber": figures(measure_hub(root, args.rounds)),
            "subscriber: upstream hub push -> B's served feed": figures(
                measure_subscriber(root, args.rounds)
            ),
        }
    for name, values in results.items():
        print(
            f"{name}: median {values['median_s']:.3f} s, worst {values['worst_s']:.3f} s ({args.rounds} rounds)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if all(v["worst_s"] < 2.0 for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
