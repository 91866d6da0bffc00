"""WebSub's other parties on 127.0.0.1 for the hub and publisher tests: a subscriber's callback
server that answers verifications (as told) and records deliveries, and a third-party hub that
records publish pings."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Callback:
    """What the callback server does: ``echo`` the challenge (else send a wrong one), answer
    deliveries with ``delivery_status``, take ``delay`` seconds over every answer."""

    echo: bool = True
    verify_status: int = 200
    delivery_status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base: str = ""

    def url(self, path: str = "/cb") -> str:
        return self.base + path

    def verifications(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "GET"]

    def deliveries(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.method == "POST"]


@contextmanager
def callback_server(callback: Callback | None = None) -> Iterator[Callback]:
    """A subscriber's callback on 127.0.0.1, doing what ``callback`` says."""
    behaviour = callback or Callback()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            self._record("GET", query, b"")
            time.sleep(behaviour.delay)
            challenge = query.get("hub.challenge", "")
            body = (challenge if behaviour.echo else challenge[::-1] + "x").encode()
            self._answer(behaviour.verify_status, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._record("POST", {}, self.rfile.read(length))
            time.sleep(behaviour.delay)
            self._answer(behaviour.delivery_status, b"")

        def _record(self, method: str, query: dict[str, str], body: bytes) -> None:
            received = Received(
                method,
                urlsplit(self.path).path,
                query,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                time.monotonic(),
            )
            with behaviour.lock:
                behaviour.received.append(received)

        def _answer(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the hub gave up waiting

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    behaviour.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield behaviour
    finally:
        server.shutdown()
        server.server_close()


def post_form(url: str, form: dict[str, str]) -> tuple[int, str]:
    """A form POST (a subscription request): status and text."""
    request = urllib.request.Request(
        url,
        data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
