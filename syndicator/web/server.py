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
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from syndicator.web.feedstore import FeedStore, StoredFile

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ALLOWED_METHODS = (b"GET", b"HEAD")
# Slow or hostile clients: keep-alive is short and requests beyond these sizes are refused.
KEEP_ALIVE_SECONDS = 5
MAX_CONNECTIONS = 2048
# uvicorn limits neither: a request line and headers must arrive within this time (from the
# connection, or from the previous response) and this size, or the connection is closed.
HEAD_TIMEOUT_SECONDS = 10
MAX_HEAD_BYTES = 64 * 1024


class FeedApp:
    def __init__(
        self,
        store: FeedStore,
        *,
        max_age: int,
        health: Callable[[], str | None],
        metrics: Callable[[], tuple[bytes, str]] | None = None,
    ) -> None:
        """``health()`` is None while all is well, else the reason /healthz gives with 503."""
        self.store = store
        self.cache_control = f"public, max-age={max_age}".encode()
        self.health = health
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
            problem = self.health()
            if problem is None:
                await _respond(send, 200, b"ok\n", [], method)
            else:
                await _respond(send, 503, f"{problem}\n".encode(), [], method)
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
        etag = stored.gzip_etag if gzipped else stored.etag
        # A client holding the plain copy may keep it even when it would now take gzip.
        valid = (etag, stored.etag) if gzipped else (etag,)
        matched = _not_modified(headers, stored, valid)
        common = [
            (b"etag", (matched or etag).encode()),
            (b"last-modified", stored.last_modified_http.encode()),
            (b"cache-control", self.cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        if matched is not None:
            await _respond(send, 304, b"", common, method)
            return
        body = stored.gzipped if gzipped and stored.gzipped is not None else stored.body
        extra = [(b"content-type", stored.content_type.encode())]
        if gzipped:
            extra.append((b"content-encoding", b"gzip"))
        await _respond(send, 200, body, common + extra, method)


class _HeadTooBigError(Exception):
    pass


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size cap on each request's head.

    Without them a client that sends half a request line and stalls holds its connection
    (and a slot of ``limit_concurrency``) for ever, and an endless header grows memory.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _in_head = True  # between two requests, or reading one's request line and headers
    _head_bytes = 0
    _too_big = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # A head still incomplete after this many bytes is refused. (The bytes of a read that
        # also completed the previous head are not counted: one read more at most.)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._too_big = True
            self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._too_big = True
            raise _HeadTooBigError  # the parser stops here; uvicorn calls send_400_response
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        if not self._too_big:
            super().send_400_response(msg)
        elif not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\n"
                b"connection: close\r\n\r\nrequest head too big\n"
            )
            self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.pipeline and not self.transport.is_closing():
            self.transport.close()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope["headers"]}


def _accepts_gzip(value: bytes) -> bool:
    """RFC 9110 12.5.3: gzip when named, else when ``*`` is, with a q-value above zero."""
    qualities: dict[bytes, float] = {}
    for part in value.lower().split(b","):
        coding, _, params = part.partition(b";")
        quality = 1.0
        name, _, q = params.replace(b" ", b"").partition(b"=")
        if name == b"q":
            try:
                quality = float(q)
            except ValueError:
                quality = 0.0
        qualities.setdefault(coding.strip(), quality)
    quality = qualities.get(b"gzip", qualities.get(b"*", 0.0))
    return quality > 0


def _not_modified(
    headers: dict[bytes, bytes], stored: StoredFile, etags: tuple[str, ...]
) -> str | None:
    """The ETag the client's copy still matches (``etags[0]`` for a date), or None.

    RFC 9110: If-None-Match (weak comparison) wins over If-Modified-Since when both are sent.
    """
    if_none_match = headers.get(b"if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix(b"W/") for t in if_none_match.split(b",")}
        if b"*" in tags:
            return etags[0]
        return next((etag for etag in etags if etag.encode() in tags), None)
    if_modified_since = headers.get(b"if-modified-since")
    if if_modified_since is None:
        return None
    try:
        since = parsedate_to_datetime(if_modified_since.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    if since.tzinfo is None:
        return None
    return etags[0] if stored.last_modified <= since else None


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
    """A uvicorn server for ``app``. While it serves, uvicorn's own handlers turn SIGTERM
    and SIGINT into a graceful stop; ``run_server``'s handlers take the signal it raises
    again once stopped, so the process carries on to its own shutdown."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=False,  # no client addresses are used: skip the middleware per request
        http=_GuardedProtocol,
        lifespan="off",
        access_log=False,
        log_config=None,
        server_header=False,
        date_header=True,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


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
