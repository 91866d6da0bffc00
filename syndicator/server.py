"""The HTTP side: feeds served from memory with conditional GET, plus health and metrics.

A raw ASGI application (no framework: it serves files and two status pages) run by uvicorn
with httptools, in the daemon's process. Only GET and HEAD; nothing outside ``feeds.dir``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

import uvicorn
import uvloop

from syndicator.feedstore import FeedStore, StoredFile

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ALLOWED_METHODS = (b"GET", b"HEAD")
# Slow or hostile clients: keep-alive is short and requests beyond these sizes are refused.
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 2048


class FeedApp:
    def __init__(
        self,
        store: FeedStore,
        *,
        max_age: int,
        healthy: Callable[[], bool] = lambda: True,
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        self.store = store
        self.cache_control = f"public, max-age={max_age}".encode()
        self.healthy = healthy
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"].encode()
        if method not in ALLOWED_METHODS:
            await _respond(send, 405, b"GET and HEAD only\n", [(b"allow", b"GET, HEAD")], method)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        if path == b"/healthz":
            ok = self.healthy()
            await _respond(send, 200 if ok else 503, b"ok\n" if ok else b"stopped\n", [], method)
            return
        if path == b"/metrics" and self.metrics is not None:
            body, content_type = self.metrics()
            await _respond(send, 200, body, [(b"content-type", content_type.encode())], method)
            return
        try:
            stored = self.store.lookup(path.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            stored = None
        if stored is None:
            await _respond(send, 404, b"not found\n", [], method)
            return
        await self.serve_file(stored, _headers(scope), method, send)

    async def serve_file(
        self, stored: StoredFile, headers: dict[bytes, bytes], method: bytes, send: Send
    ) -> None:
        gzipped = stored.gzipped is not None and _accepts_gzip(headers.get(b"accept-encoding", b""))
        etag = stored.etag if not gzipped else stored.etag[:-1] + '-gz"'
        common = [
            (b"etag", etag.encode()),
            (b"last-modified", stored.last_modified_http.encode()),
            (b"cache-control", self.cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        if _not_modified(headers, stored, etag):
            await _respond(send, 304, b"", common, method)
            return
        body = stored.gzipped if gzipped and stored.gzipped is not None else stored.body
        extra = [(b"content-type", stored.content_type.encode())]
        if gzipped:
            extra.append((b"content-encoding", b"gzip"))
        await _respond(send, 200, body, common + extra, method)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


def _accepts_gzip(value: bytes) -> bool:
    for part in value.lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() in (b"gzip", b"*"):
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


def _not_modified(headers: dict[bytes, bytes], stored: StoredFile, etag: str) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since when both are sent."""
    if_none_match = headers.get(b"if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")}
        return b"*" in tags or etag.encode() in tags or stored.etag.encode() in tags
    if_modified_since = headers.get(b"if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return stored.last_modified <= since


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]], method: bytes
) -> None:
    if status != 304 and not any(name == b"content-type" for name, _ in headers):
        headers = [*headers, (b"content-type", b"text/plain; charset=utf-8")]
    if status != 304:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if method == b"HEAD" or status == 304 else body}
    )


def make_server(app: FeedApp, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server that leaves signal handling to the caller (the daemon's own)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=True,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return server


def run_server(server: uvicorn.Server, on_reload: Callable[[], object] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; SIGHUP calls ``on_reload`` in a worker thread."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()

        def stop(name: str) -> None:
            # uvicorn raises the signal again once it has stopped: log the first one only.
            if not server.should_exit:
                log.info("%s received: stopping", name)
            server.should_exit = True

        loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
        if on_reload is not None:
            loop.add_signal_handler(signal.SIGHUP, loop.run_in_executor, None, on_reload)
        await server.serve()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())
    if not server.started:
        raise OSError(f"could not listen on {server.config.host}:{server.config.port}")
