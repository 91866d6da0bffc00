"""The HTTP side: feeds served from memory with conditional GET, plus health and metrics.

A raw ASGI application (no framework: it serves files and two status pages) run by uvicorn
with httptools, in the daemon's process. Only GET and HEAD; nothing outside ``feeds.dir``.
"""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from types import FrameType
from typing import Any

import uvicorn
import uvloop
from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from syndicator.core.logs import log_event
from syndicator.web.feedstore import FeedStore, StoredFile

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ALLOWED_METHODS = (b"GET", b"HEAD")
HUB_PATH = b"/websub"  # the WebSub hub, when the daemon is one
MAX_HUB_BODY_BYTES = 64 * 1024
CALLBACK_PREFIX = b"/websub/callback/"  # WebSub subscriptions' callbacks, when we subscribe
MAX_CALLBACK_BODY_BYTES = 10 * 1024 * 1024  # a pushed feed: as large as a polled one may be
# Pushed bodies read at once; one more is answered 503 (its hub delivers it again later).
MAX_CALLBACK_READS = 4

# A callback's handler: (method, path, query string, headers, body) → (status, text).
Callback = Callable[[str, str, str, dict[str, str], bytes], tuple[int, str]]
# Slow or hostile clients: keep-alive is short and requests beyond these sizes are refused.
KEEP_ALIVE_SECONDS = 5
# Connections served at once. One more closes the connection idle the longest (between
# requests, nothing in flight); when none is idle, requests past the limit are answered 503,
# except /healthz. (The process needs a file descriptor for each: see LimitNOFILE.)
MAX_CONNECTIONS = 2048
IDLE_CLOSED_AT_ONCE = MAX_CONNECTIONS // 16
# uvicorn limits neither: a request line and headers must arrive within this time (from the
# connection, or from the previous response) and this size, or the connection is closed.
HEAD_TIMEOUT_SECONDS = 10
MAX_HEAD_BYTES = 64 * 1024
# A pipelining client: requests parsed ahead of their responses. Its later bytes wait unparsed
# (its connection unread) until the queue shrinks, so each connection holds a few KB.
MAX_QUEUED_REQUESTS = 16
# The parser is given this much at a time, so that one read of tiny pipelined requests (18
# bytes is the least) overshoots MAX_QUEUED_REQUESTS by about a hundred at most.
PARSE_SLICE_BYTES = 2048
# A client that reads none of its unsent output for this long is cut off.
STALLED_OUTPUT_SECONDS = 10
# The status page loads nothing: no script, font, style sheet or image beyond its own.
STATUS_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


class FeedApp:
    def __init__(
        self,
        store: FeedStore,
        *,
        max_age: int,
        health: Callable[[], str | None],
        metrics: Callable[[], tuple[bytes, str]] | None = None,
        status: Callable[[], bytes] | None = None,
        status_access: str = "local",
        hub: Callable[[bytes], tuple[int, str]] | None = None,
        links: Callable[[str], str | None] | None = None,
        callback: Callback | None = None,
        callback_known: Callable[[str], bool] | None = None,
    ) -> None:
        """``health()`` is None while all is well, else the reason /healthz gives with 503;
        ``status()`` is the /status page, shown to the loopback address only unless
        ``status_access`` is "public" ("off": not at all). ``hub(body)`` answers a POST to
        /websub (status, text); ``links(path)`` is the ``Link`` header of a served file, if
        it has one; ``callback`` answers hubs' requests to /websub/callback/…, whose path
        ``callback_known(path)`` says is one of ours before their body is read."""
        self.store = store
        self.cache_control = f"public, max-age={max_age}".encode()
        self.health = health
        self.metrics = metrics
        self.status = status if status_access != "off" else None
        self.status_public = status_access == "public"
        self.hub = hub
        self.links = links
        self.callback = callback
        self.callback_known = callback_known
        self._callback_reads = 0  # on the event loop only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"].encode()
        path = scope.get("raw_path") or scope["path"].encode()
        if path in (HUB_PATH, HUB_PATH + b"/") and self.hub is not None:
            await self.hub_request(receive, send, method)
            return
        if path.startswith(CALLBACK_PREFIX) and self.callback is not None:
            await self.callback_request(scope, receive, send, method)
            return
        if method not in ALLOWED_METHODS:
            await _respond(send, 405, b"GET and HEAD only\n", [(b"allow", b"GET, HEAD")], method)
            return
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
        if path == b"/status" and self.status is not None:
            await self.serve_status(scope, method, send)
            return
        try:
            stored = self.store.lookup(path.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            stored = None
        if stored is None:
            await _respond(send, 404, b"not found\n", [], method)
            return
        link = self.links(path.decode("ascii")) if self.links is not None else None
        await self.serve_file(stored, _headers(scope), method, send, link)

    async def hub_request(self, receive: Receive, send: Send, method: bytes) -> None:
        """A WebSub subscriber's (or publisher's) POST to the hub."""
        assert self.hub is not None
        if method != b"POST":
            await _respond(send, 405, b"WebSub hub: POST only\n", [(b"allow", b"POST")], method)
            return
        body = await _read_body(receive, MAX_HUB_BODY_BYTES)
        if body is None:
            await _respond(send, 413, b"request too large\n", [], method)
            return
        # The hub reads the state: not on the event loop.
        status, text = await asyncio.get_running_loop().run_in_executor(None, self.hub, body)
        await _respond(send, status, f"{text}\n".encode(), [], method)

    async def callback_request(
        self, scope: Scope, receive: Receive, send: Send, method: bytes
    ) -> None:
        """A hub's verification (GET) or delivery (POST) for one of our subscriptions."""
        assert self.callback is not None
        if method not in (b"GET", b"POST"):
            await _respond(send, 405, b"GET or POST\n", [(b"allow", b"GET, POST")], method)
            return
        loop = asyncio.get_running_loop()
        # A made-up callback costs no body read: its token is looked up (in the state, off
        # the loop) first. WebSub 7: 410 tells a hub to end the subscription.
        if self.callback_known is not None and not await loop.run_in_executor(
            None, self.callback_known, scope["path"]
        ):
            status = 410 if method == b"POST" else 404
            await _respond(send, status, b"no such subscription\n", [], method)
            return
        if method == b"POST" and self._callback_reads >= MAX_CALLBACK_READS:
            await _respond(
                send, 503, b"busy; deliver again later\n", [(b"retry-after", b"5")], method
            )
            return
        self._callback_reads += 1
        try:
            body = await _read_body(receive, MAX_CALLBACK_BODY_BYTES)
        finally:
            self._callback_reads -= 1
        if body is None:
            await _respond(send, 413, b"request too large\n", [], method)
            return
        arguments = (
            method.decode(),
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in _headers(scope).items()
            },
            body,
        )
        status, text = await loop.run_in_executor(None, self.callback, *arguments)
        await _respond(send, status, text.encode(), [], method)

    async def serve_status(self, scope: Scope, method: bytes, send: Send) -> None:
        if not self.status_public and not _from_loopback(scope):
            body = (
                b'the status page answers the loopback address only ([server] status = "local")\n'
            )
            await _respond(send, 403, body, [], method)
            return
        assert self.status is not None
        # It reads the state: off the event loop, so feeds are served meanwhile.
        page = await asyncio.to_thread(self.status)
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"content-security-policy", STATUS_SECURITY_POLICY.encode()),
        ]
        await _respond(send, 200, page, headers, method)

    async def serve_file(
        self,
        stored: StoredFile,
        headers: dict[bytes, bytes],
        method: bytes,
        send: Send,
        link: str | None = None,
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
        if link is not None:
            common.append((b"link", link.encode()))
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
    """uvicorn's httptools protocol, bounded against slow, greedy and idle clients.

    - Each request's head has a deadline and a size cap: without them a client that sends half
      a request line and stalls holds its connection for ever, and an endless header grows
      memory.
    - A pipelining client has at most ``MAX_QUEUED_REQUESTS`` requests parsed ahead of their
      responses, and none while its output is unsent: its bytes wait unparsed, and its
      connection stops being read, until it catches up. (uvicorn alone parses every request a
      read holds, so one that never reads its answers queues as many as it likes.)
    - Output that a client leaves unread for ``STALLED_OUTPUT_SECONDS`` ends its connection.
    - Past ``MAX_CONNECTIONS``, a new connection closes the one idle the longest.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _output_timer: asyncio.TimerHandle | None = None
    _in_head = True  # between two requests, or reading one's request line and headers
    _in_request = False  # a request's bytes have begun and it is not yet complete
    _head_bytes = 0
    _too_big = False
    _running: RequestResponseCycle | None = None  # the request whose response is being sent
    _last_active = 0.0  # the loop's time of the last bytes read or response sent

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._unparsed = bytearray()
        self._last_active = self.loop.time()
        # Nothing is buffered here beyond what the kernel's socket buffer takes: past that a
        # response waits (uvicorn's FlowControl) and the requests after it stay unread.
        transport.set_write_buffer_limits(high=0)
        self._arm_head_timer()
        if len(self.connections) > MAX_CONNECTIONS:
            self._close_longest_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_output_timer()
        self._unparsed.clear()
        self.pipeline.clear()
        # uvicorn marks only the newest request disconnected; the one whose response is being
        # sent would write to the closed transport and log a traceback.
        if self._running is not None and not self._running.response_complete:
            self._running.disconnected = True
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._last_active = self.loop.time()
        self._unset_keepalive_if_required()
        self._unparsed += data
        self._parse_unparsed()

    def _parse_unparsed(self) -> None:
        """Parse what was received, a slice at a time, while the client keeps up with its
        responses; keep the rest, and stop reading, while it does not."""
        while self._unparsed and not self._backlogged() and not self.transport.is_closing():
            piece = bytes(self._unparsed[:PARSE_SLICE_BYTES])
            del self._unparsed[:PARSE_SLICE_BYTES]
            self._parse(piece)
        if self.transport.is_closing():
            self._unparsed.clear()
        elif self._unparsed or self._backlogged():
            self.flow.pause_reading()
        elif not self.pipeline:
            self.flow.resume_reading()

    def _backlogged(self) -> bool:
        return len(self.pipeline) >= MAX_QUEUED_REQUESTS or self.flow.write_paused

    def _parse(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # A head still incomplete after this many bytes is refused. (The bytes of a slice that
        # also completed the previous head are not counted: one slice more at most.)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
            self._too_big = True
            self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._in_request = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._too_big = True
            raise _HeadTooBigError  # the parser stops here; uvicorn calls send_400_response
        # Past the limit, with none idle to make room, uvicorn answers 503 (a limit of 0 is
        # always reached); /healthz is answered all the same.
        health = self.url.partition(b"?")[0] == b"/healthz"
        self.limit_concurrency = 0 if self._over_limit() and not health else None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._in_request = False
        self._head_bytes = 0

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        self._last_active = self.loop.time()
        self._arm_head_timer()
        self._parse_unparsed()

    def pause_writing(self) -> None:
        super().pause_writing()
        self._watch_output(self.transport.get_write_buffer_size())

    def resume_writing(self) -> None:
        self._cancel_output_timer()
        super().resume_writing()
        self._parse_unparsed()

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

    def _is_idle(self) -> bool:
        """Between requests, with nothing in flight, queued, unparsed or unsent."""
        return (
            not self._in_request
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self._unparsed
            and not self.transport.is_closing()
            and self.transport.get_write_buffer_size() == 0
        )

    def _over_limit(self) -> bool:
        """More connections open than the limit; those already closing (the idle ones closed
        to make room, until the loop has let them go) are not counted."""
        if len(self.connections) <= MAX_CONNECTIONS:
            return False
        closing = sum(connection.transport.is_closing() for connection in self.connections)
        return len(self.connections) - closing > MAX_CONNECTIONS

    def _close_longest_idle(self) -> None:
        """Close the connections idle the longest: a batch, so that a flood of new ones costs
        one look over every connection per batch, not one each."""
        idle = [
            connection
            for connection in self.connections
            if isinstance(connection, _GuardedProtocol)
            and connection is not self
            and connection._is_idle()
        ]
        for connection in heapq.nsmallest(
            IDLE_CLOSED_AT_ONCE, idle, key=lambda connection: connection._last_active
        ):
            connection.transport.close()

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

    def _watch_output(self, unsent: int) -> None:
        self._cancel_output_timer()
        self._output_timer = self.loop.call_later(
            STALLED_OUTPUT_SECONDS, self._check_output, unsent
        )

    def _check_output(self, unsent_before: int) -> None:
        """Cut the client off if it read none of its output since the last look."""
        self._output_timer = None
        unsent = self.transport.get_write_buffer_size()
        if unsent >= unsent_before:
            self.transport.abort()  # close() would wait for the client to read it
        elif unsent:
            self._watch_output(unsent)

    def _cancel_output_timer(self) -> None:
        if self._output_timer is not None:
            self._output_timer.cancel()
            self._output_timer = None


def _from_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    # 127.0.0.1 reaching a server on "::" arrives as ::ffff:127.0.0.1, which Python does
    # not call loopback itself.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """A request's body, or None when it is larger than ``limit``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body)


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
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # RFC 9110 13.1.3: a date that is not valid is ignored
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
        limit_concurrency=None,  # _GuardedProtocol applies MAX_CONNECTIONS itself
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound now: a port in use is an OSError before anything
    else starts (the daemon says it started only once it can serve)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(MAX_CONNECTIONS)
    except OSError:
        sock.close()
        raise
    return sock


def _log_stop(signal_name: str) -> None:
    log_event(
        log, logging.INFO, "stop_signal", f"{signal_name} received: stopping", signal=signal_name
    )


def run_server(
    server: uvicorn.Server,
    on_reload: Callable[[], object] | None = None,
    on_stop: Callable[[], object] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT, calling ``on_stop`` at once when one arrives (the
    rest of the process starts stopping while the server finishes its requests); SIGHUP
    calls ``on_reload`` in a thread of its own. With ``sock`` (from ``listen``), on that
    socket."""

    uvicorn_exit = server.handle_exit

    def handle_exit(number: int, frame: FrameType | None) -> None:
        # uvicorn takes SIGTERM and SIGINT with signal.signal while it serves, ahead of the
        # loop's handlers: the rest of the process is told here, at the signal, not after
        # the server's own graceful stop.
        if not server.should_exit:
            _log_stop(signal.Signals(number).name)
            if on_stop is not None:
                on_stop()
        uvicorn_exit(number, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign,assignment]

    async def serve() -> None:
        loop = asyncio.get_running_loop()

        def stop(name: str) -> None:
            # Before and after uvicorn serves (it raises the signal again once it has
            # stopped): the first one counts.
            if not server.should_exit:
                _log_stop(name)
                if on_stop is not None:
                    on_stop()
            server.should_exit = True

        def reload() -> None:
            # Not the loop's executor: the loop waits for that when it closes, and a reload
            # waiting for a stuck write would then hold up the stop.
            threading.Thread(target=on_reload, name="reload", daemon=True).start()

        loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
        if on_reload is not None:
            loop.add_signal_handler(signal.SIGHUP, reload)
        await server.serve(sockets=[sock] if sock is not None else None)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve())
    if not server.started:
        raise OSError(f"could not listen on {server.config.host}:{server.config.port}")
