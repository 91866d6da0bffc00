"""Fetching upstream feeds over HTTP, defensively.

Everything an upstream sends is untrusted: the fetch is bounded in time (connect and read
timeouts plus a total deadline) and in size (after decompression), redirects are followed by
hand so each hop is checked, and, unless private addresses are allowed, no connection is made
to loopback, private, link-local or cloud-metadata addresses (SSRF).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import zlib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import LocationParseError, ReadTimeoutError

from syndicator.upstreams.politeness import HostGate, RobotsCache

FetchErrorKind = Literal[
    "dns",
    "connect",
    "tls",
    "timeout",
    "too_large",
    "truncated",
    "redirect_loop",
    "too_many_redirects",
    "bad_scheme",
    "private_address",
    "invalid_url",
    "bad_encoding",
]

# Feeds first; HTML last but accepted, because discovery fetches web pages with the same client.
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.7, text/html;q=0.5, */*;q=0.1"
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})
_CHUNK = 64 * 1024
_DEADLINE_FACTOR = 3
_DELTA_SECONDS = re.compile(r"\d+(?:\.\d+)?", re.ASCII)
_METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# NAT64 maps this prefix onto IPv4: 64:ff9b::a00:1 reaches 10.0.0.1 on an IPv6-only network.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchResult:
    """One upstream answer, after redirects.

    ``body`` is only read for 2xx answers; it is ``b""`` for 304 and for error statuses.
    For a 304 that does not repeat its validators, ``etag`` and ``last_modified`` are the ones
    sent, so the caller can store them back unchanged.
    """

    status: int
    url: str
    permanent_url: str | None
    body: bytes
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    retry_after: float | None
    max_age: float | None


class FetchError(Exception):
    """Transport-level failure; ``str()`` is an operator-readable message naming the URL.

    ``url`` is the URL the fetch was asked for, even when a redirect hop failed.
    """

    def __init__(self, kind: FetchErrorKind, url: str, message: str) -> None:
        super().__init__(message)
        self.kind: FetchErrorKind = kind
        self.url = url


def is_forbidden_address(address: IPAddress) -> bool:
    """True for addresses an upstream must not make us connect to when private ones are refused."""
    if isinstance(address, ipaddress.IPv6Address):
        translated = _translated_ipv4(address)
        if translated is not None:
            return is_forbidden_address(translated)
        if any(is_forbidden_address(inner) for inner in _tunnelled_ipv4(address)):
            return True
        if address.is_site_local:  # fec0::/10: deprecated, but still routed inside some sites
            return True
    return (
        address in _METADATA_ADDRESSES
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # Catches what the flags above miss, such as carrier-grade NAT (100.64.0.0/10).
        or not address.is_global
    )


def _translated_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv4-mapped or NAT64 address reaches, else None. (The deprecated
    IPv4-compatible ::/96 is reserved, and refused whatever it holds.)"""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a 6to4 (2002::/16) or Teredo (2001::/32) address carries: its
    packets go to them. (Teredo's server is bits 32-63; its client is the last 32 bits
    inverted, which ``ipaddress`` undoes.)"""
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    return ()


def _resolve(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class _ForbiddenPeerError(Exception):
    """Raised inside urllib3 when a connection lands on a forbidden address.

    Deliberately not an OSError: urllib3 would wrap and retry those, this must reach fetch().
    """

    def __init__(self, address: IPAddress) -> None:
        super().__init__(str(address))
        self.address = address


class _FetchContext:
    """The state of one fetch() call, seen by the connections it uses.

    Lives in a ContextVar, so threads sharing a Fetcher never see each other's fetch.
    The deadline exists because a read timeout bounds each recv() only: a server sending a byte
    every few seconds never trips it. When the deadline passes, a timer thread shuts down the
    sockets in use, which wakes the read blocked in the fetching thread.
    """

    def __init__(self, *, guard: bool, deadline: float) -> None:
        self.guard = guard
        self.expired = False
        self._handles: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._token = _CONTEXT.set(self)
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        _CONTEXT.reset(self._token)
        with self._lock:
            for handle in self._handles:
                handle.close()

    def watch(self, sock: socket.socket) -> None:
        """Makes ``sock`` one to shut down at the deadline.

        A duplicate descriptor is kept because neither urllib3 nor http.client keeps a reference
        we could reach: once a response is read to the end of the connection, the connection's
        ``sock`` is None and only the response's buffered reader holds the socket. Shutting down
        the duplicate shuts down the connection, whichever object holds it, TLS or not.
        """
        handle = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._handles.append(handle)
            if self.expired:
                _shut_down(handle)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for handle in self._handles:
                _shut_down(handle)


_CONTEXT: ContextVar[_FetchContext | None] = ContextVar("syndicator_fetch", default=None)


def _shut_down(handle: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the peer or urllib3 closed it first: nothing to wake
        handle.shutdown(socket.SHUT_RDWR)


class _CheckedConnectionMixin:
    """Puts new sockets under the fetch's deadline, and checks the address actually connected
    to, so that DNS rebinding cannot slip past the check of the name."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]  # a mixin of urllib3's
        context = _CONTEXT.get()
        if context is None:
            return sock
        if context.guard:
            address = ipaddress.ip_address(sock.getpeername()[0])
            if is_forbidden_address(address):
                sock.close()
                raise _ForbiddenPeerError(address)
        context.watch(sock)
        return sock


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _WatchedPoolMixin:
    """Puts connections reused from the pool under the fetch's deadline (new ones are put there
    as they connect)."""

    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        connection: HTTPConnection = super()._get_conn(timeout)  # type: ignore[misc]  # a mixin
        context = _CONTEXT.get()
        if context is not None and connection.sock is not None:
            context.watch(connection.sock)
        return connection


class _HTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _HTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _Decoder:
    """Undoes gzip or deflate without ever producing more output than asked for.

    Bounding the output of each step is what keeps a gzip bomb (a few kilobytes that inflate to
    gigabytes) from being held in memory before the size cap can see it.
    """

    _WBITS: Mapping[str, int | None] = {
        "": None,
        "identity": None,
        "gzip": 16 + zlib.MAX_WBITS,
        "x-gzip": 16 + zlib.MAX_WBITS,
        "deflate": zlib.MAX_WBITS,
    }

    def __init__(self, encoding: str) -> None:
        self._wbits = self._WBITS[encoding]
        self._inflater = None if self._wbits is None else zlib.decompressobj(self._wbits)
        self._started = False

    @classmethod
    def supports(cls, encoding: str) -> bool:
        return encoding in cls._WBITS

    @property
    def complete(self) -> bool:
        return self._inflater is None or self._inflater.eof

    def decode(self, data: bytes, limit: int) -> bytes:
        """At most ``limit`` bytes of output for ``data``."""
        if self._inflater is None:
            return data
        try:
            return self._inflater.decompress(data, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise
            # Some servers send "deflate" as a raw deflate stream, without the zlib wrapper.
            self._wbits = -zlib.MAX_WBITS
            self._inflater = zlib.decompressobj(self._wbits)
            return self._inflater.decompress(data, limit)
        finally:
            self._started = True


class Fetcher:
    """Fetches upstream URLs with one ``requests.Session``.

    Thread safety: one Fetcher may be shared by several threads, each doing one fetch at a time.
    The session's settings are fixed at construction and never changed by a fetch; the state of a
    fetch (deadline, SSRF guard) lives in a ContextVar, which is per thread; the connection pool
    and cookie jar lock themselves.

    Proxies and other settings from the environment are ignored (``trust_env`` is off): the SSRF
    guard checks the address actually connected to, which behind a proxy would be the proxy's.
    Name resolution happens outside the timeouts (``getaddrinfo`` cannot be interrupted).
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        max_bytes: int,
        allow_private_addresses: bool,
        max_redirects: int = 5,
        per_host_delay: float = 0.0,
        private_key: str = "polling.allow_private_addresses",
        limits_section: str | None = "polling",
    ) -> None:
        """``private_key`` is the config key a refused private address names;
        ``limits_section`` the config section whose ``timeout`` and ``max_bytes`` set this
        fetcher's limits, named in the advice an error gives (None: fixed limits, no
        advice)."""
        self._private_key = private_key
        self._limits_section = limits_section
        # Turns per host for the requests each item costs (detail, full text, robots.txt).
        self.gate = HostGate(per_host_delay)
        # Sites' robots.txt, parsed, for as long as this Fetcher serves polls.
        self.robots = RobotsCache()
        self.user_agent = user_agent
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._guard = not allow_private_addresses
        self._max_redirects = max_redirects
        self._session = requests.Session()
        self._session.trust_env = False
        # As many pooled connections per host as the poller has fetch threads (16), so
        # upstreams on one host don't open and discard connections.
        adapter = _Adapter(max_retries=0, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update(
            {"User-Agent": user_agent, "Accept": _ACCEPT, "Accept-Encoding": "gzip, deflate"}
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET ``url``, following redirects; raises FetchError for transport failures.

        HTTP error statuses are not exceptions: they come back as ``status``.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._fetch(url, headers, etag, last_modified, turns=None)

    def fetch_politely(self, url: str, *, cut_at: int | None = None) -> FetchResult:
        """GET ``url``, each hop (the URL, then each redirect's target) in its host's turn
        (see HostGate); as ``fetch`` otherwise. With ``cut_at``, a body longer than that many
        bytes is cut there (and the rest not read) instead of failing the fetch."""
        with contextlib.ExitStack() as turns:
            return self._fetch(url, {}, None, None, turns=turns, cut_at=cut_at)

    def _fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        etag: str | None,
        last_modified: str | None,
        turns: contextlib.ExitStack | None,
        cut_at: int | None = None,
    ) -> FetchResult:
        with _FetchContext(guard=self._guard, deadline=_DEADLINE_FACTOR * self._timeout) as context:
            response, final_url, permanent = self._follow(url, headers, context, turns)
            body = self._read_body(url, final_url, response, context, cut_at)
        return _result(response, final_url, permanent, body, etag, last_modified)

    def send(
        self, method: str, url: str, *, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> FetchResult:
        """One request (a WebSub hub's or callback's), bounded and guarded like a fetch; a
        redirect is not followed but returned. The answer's body is read for 2xx only."""
        with _FetchContext(guard=self._guard, deadline=_DEADLINE_FACTOR * self._timeout) as context:
            response = self._send(url, url, headers or {}, context, method=method, body=body)
            data = self._read_body(url, url, response, context)
        return _result(response, url, False, data, None, None)

    def _follow(
        self,
        url: str,
        headers: Mapping[str, str],
        context: _FetchContext,
        turns: contextlib.ExitStack | None = None,
    ) -> tuple[requests.Response, str, bool]:
        """The first non-redirect answer, its URL, and whether every hop to it was permanent.
        With ``turns``, each hop waits for its host's turn, and the last hop's turn is held
        (in ``turns``) until the caller has read the body."""
        current = url
        visited = {url}
        permanent = True
        while True:
            hop = contextlib.ExitStack()
            if turns is not None:
                turns.enter_context(hop)
                hop.enter_context(self.gate.turn(current))
            response = self._send(url, current, headers, context)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response, current, permanent and current != url
            response.close()
            hop.close()  # the next hop's host may be this one: its turn comes after the pause
            target = urljoin(current, location.strip())
            if target in visited:
                raise FetchError(
                    "redirect_loop",
                    url,
                    f"{url}: the redirects loop back to {target}; "
                    "the site's redirects are misconfigured, tell its owner",
                )
            if len(visited) > self._max_redirects:
                raise FetchError(
                    "too_many_redirects",
                    url,
                    f"{url}: more than {self._max_redirects} redirects (the last to {target}); "
                    "point the upstream at the final address",
                )
            visited.add(target)
            permanent = permanent and response.status_code in _PERMANENT
            current = target

    def _send(
        self,
        url: str,
        current: str,
        headers: Mapping[str, str],
        context: _FetchContext,
        method: str = "GET",
        body: bytes = b"",
    ) -> requests.Response:
        host, port = _split_url(url, current)
        if self._guard:
            _check_host(url, current, host, port, self._private_key)
        try:
            return self._session.request(
                method,
                current,
                data=body or None,
                headers=headers,
                timeout=(self._timeout, self._timeout),
                stream=True,
                allow_redirects=False,
            )
        except _ForbiddenPeerError as refused:
            raise FetchError(
                "private_address",
                url,
                f"{_where(url, current)}: the connection reached {refused.address}, a private "
                f"or internal address, although {host} first resolved to public ones (DNS "
                "rebinding?); refused",
            ) from None
        except requests.RequestException as error:
            raise self._transport_error(url, current, error, context) from error

    def _transport_error(
        self, url: str, current: str, error: requests.RequestException, context: _FetchContext
    ) -> FetchError:
        if context.expired:
            return self._deadline_error(url, current)
        where = _where(url, current)
        causes = _causes(error)
        if any(isinstance(cause, socket.gaierror) for cause in causes):
            host = urlsplit(current).hostname
            return FetchError(
                "dns",
                url,
                f"{where}: the host name {host} could not be resolved; check the address "
                "(or this machine's DNS)",
            )
        # Not urllib3's TimeoutError: its NewConnectionError (a refusal) subclasses that.
        if isinstance(error, requests.Timeout):
            return FetchError(
                "timeout",
                url,
                f"{where}: no answer within {self._timeout:g} s; the server is down or slow"
                + self._advice("timeout", "if it is merely slow", " — "),
            )
        if isinstance(error, requests.exceptions.SSLError):
            return FetchError(
                "tls",
                url,
                f"{where}: the TLS handshake failed ({_innermost(error)}); the server's "
                "certificate may be invalid, expired or for another name",
            )
        if isinstance(error, requests.exceptions.InvalidURL) or any(
            isinstance(cause, LocationParseError) for cause in causes
        ):
            return FetchError("invalid_url", url, f"{where} is not a valid URL ({error})")
        return FetchError(
            "connect",
            url,
            f"{where}: could not connect ({_innermost(error)}); the server may be down, it will "
            "be tried again",
        )

    def _deadline_error(self, url: str, current: str) -> FetchError:
        deadline = _DEADLINE_FACTOR * self._timeout
        return FetchError(
            "timeout",
            url,
            f"{_where(url, current)}: the download took longer than {deadline:g} s "
            f"({_DEADLINE_FACTOR} × {self._limit_name('timeout')}) and was cut off; the server "
            "is sending too slowly"
            + self._advice("timeout", "if the feed is large and the server merely slow", " — "),
        )

    def _read_body(
        self,
        url: str,
        current: str,
        response: requests.Response,
        context: _FetchContext,
        cut_at: int | None = None,
    ) -> bytes:
        """The decoded body of a 2xx answer, within the size cap and the deadline; else b"".
        With ``cut_at``, at most that many bytes of it, the rest left unread."""
        if cut_at is not None:
            return self._read_head(url, current, response, context, cut_at)
        with response:
            if not 200 <= response.status_code < 300:
                return b""
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            if not _Decoder.supports(encoding):
                raise FetchError(
                    "bad_encoding",
                    url,
                    f"{_where(url, current)}: the body is encoded as {encoding!r}, which was not "
                    "asked for (only gzip and deflate are); the server is misconfigured",
                )
            length = _content_length(response.headers)
            if encoding in ("", "identity") and length is not None and length > self._max_bytes:
                raise self._too_large(url, current)
            decoder = _Decoder(encoding)
            try:
                body, received = self._stream(url, current, response, decoder)
            except (Urllib3Error, OSError) as error:
                raise self._broken_body(url, current, error, context) from error
            except zlib.error as error:
                raise FetchError(
                    "bad_encoding",
                    url,
                    f"{_where(url, current)}: the {encoding} body is corrupt ({error})",
                ) from error
        if context.expired:
            # A shut-down socket reads as a clean end of the body: the deadline, not the server,
            # ended it.
            raise self._deadline_error(url, current)
        # urllib3 2 detects a short body itself; this also covers urllib3 1.26, which does not.
        if (length is not None and received < length) or not decoder.complete:
            raise self._truncated(url, current, received, length)
        return body

    def _read_head(
        self,
        url: str,
        current: str,
        response: requests.Response,
        context: _FetchContext,
        cut_at: int,
    ) -> bytes:
        """The first ``cut_at`` decoded bytes of a 2xx answer's body (all of a shorter one)."""
        with response:
            if not 200 <= response.status_code < 300:
                return b""
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            if not _Decoder.supports(encoding):
                return b""
            decoder = _Decoder(encoding)
            chunks: list[bytes] = []
            size = received = 0
            try:
                while size < cut_at and received <= self._max_bytes:
                    data = response.raw.read(_CHUNK, decode_content=False)
                    if not data:
                        break
                    received += len(data)
                    chunk = decoder.decode(data, cut_at - size)
                    size += len(chunk)
                    chunks.append(chunk)
            except (Urllib3Error, OSError) as error:
                raise self._broken_body(url, current, error, context) from error
            except zlib.error:
                pass  # what decoded before the corruption is kept
        if context.expired:
            raise self._deadline_error(url, current)
        return b"".join(chunks)[:cut_at]

    def _stream(
        self, url: str, current: str, response: requests.Response, decoder: _Decoder
    ) -> tuple[bytes, int]:
        """The decoded body and the number of bytes received on the wire."""
        chunks: list[bytes] = []
        size = 0
        received = 0
        while data := response.raw.read(_CHUNK, decode_content=False):
            received += len(data)
            chunk = decoder.decode(data, self._max_bytes - size + 1)
            size += len(chunk)
            # The wire is capped too: empty deflate blocks inflate to nothing, forever.
            if size > self._max_bytes or received > self._max_bytes:
                raise self._too_large(url, current)
            chunks.append(chunk)
        return b"".join(chunks), received

    def _broken_body(
        self, url: str, current: str, error: BaseException, context: _FetchContext
    ) -> FetchError:
        if context.expired:
            return self._deadline_error(url, current)
        if any(isinstance(cause, ReadTimeoutError | TimeoutError) for cause in _causes(error)):
            return FetchError(
                "timeout",
                url,
                f"{_where(url, current)}: the server stopped sending the body for over "
                f"{self._timeout:g} s" + self._advice("timeout", "if it is merely slow"),
            )
        return FetchError(
            "truncated",
            url,
            f"{_where(url, current)}: the connection broke before the body was complete "
            f"({_innermost(error)}); it will be tried again",
        )

    def _advice(self, key: str, when: str, separator: str = "; ") -> str:
        """ "; raise polling.timeout if …", or nothing where the limit is not the operator's."""
        if self._limits_section is None:
            return ""
        return f"{separator}raise {self._limit_name(key)} {when}"

    def _limit_name(self, key: str) -> str:
        return f"{self._limits_section}.{key}" if self._limits_section else f"the {key}"

    def _too_large(self, url: str, current: str) -> FetchError:
        return FetchError(
            "too_large",
            url,
            f"{_where(url, current)} answered with a body over {self._max_bytes} bytes"
            + self._advice("max_bytes", "if this feed is really that large"),
        )

    def _truncated(self, url: str, current: str, received: int, length: int | None) -> FetchError:
        expected = f"of the {length} announced" if length is not None else "of a compressed body"
        return FetchError(
            "truncated",
            url,
            f"{_where(url, current)}: the body ended after {received} bytes {expected}; the "
            "server or a proxy cut it short, it will be tried again",
        )


def _result(
    response: requests.Response,
    final_url: str,
    permanent: bool,
    body: bytes,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    headers = CaseInsensitiveDict(response.headers)
    not_modified = response.status_code == 304
    return FetchResult(
        status=response.status_code,
        url=final_url,
        permanent_url=final_url if permanent else None,
        body=body,
        headers=headers,
        etag=headers.get("ETag") or (etag if not_modified else None),
        last_modified=headers.get("Last-Modified") or (last_modified if not_modified else None),
        retry_after=_retry_after_seconds(headers.get("Retry-After"), datetime.now(UTC)),
        max_age=_max_age_seconds(headers.get("Cache-Control")),
    )


def _split_url(url: str, current: str) -> tuple[str, int]:
    """The host and port of ``current``, which must be an http(s) URL."""
    where = _where(url, current)
    try:
        parts = urlsplit(current)
        port = parts.port
    except ValueError as error:
        raise FetchError("invalid_url", url, f"{where} is not a valid URL ({error})") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise FetchError(
            "invalid_url", url, f"{where} is not a valid URL: it lacks http:// or https://"
        )
    if scheme not in ("http", "https"):
        raise FetchError(
            "bad_scheme",
            url,
            f"{where}: {scheme}: URLs are not fetched, only http:// and https:// ones",
        )
    if not parts.hostname:
        raise FetchError("invalid_url", url, f"{where} is not a valid URL: it names no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def _check_host(url: str, current: str, host: str, port: int, private_key: str) -> None:
    """Refuses a host any of whose addresses is forbidden, before connecting at all."""
    try:
        addresses = _resolve(host, port)
    except socket.gaierror:
        raise FetchError(
            "dns",
            url,
            f"{_where(url, current)}: the host name {host} could not be resolved; check the "
            "address (or this machine's DNS)",
        ) from None
    except UnicodeError as error:
        raise FetchError(
            "invalid_url", url, f"{_where(url, current)}: bad host name {host!r} ({error})"
        ) from None
    for text in addresses:
        address = ipaddress.ip_address(text)
        if is_forbidden_address(address):
            raise FetchError(
                "private_address",
                url,
                f"{_where(url, current)}: {host} resolves to {address}, a loopback, private or "
                f"otherwise internal address, and fetching it was refused; set {private_key} = "
                "true if it really is on your network",
            )


def _retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value in either form; never negative."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _max_age_seconds(value: str | None) -> float | None:
    """max-age from a Cache-Control value; None when absent or when caching is forbidden."""
    if not value:
        return None
    directives: dict[str, str] = {}
    for part in value.split(","):
        name, _, argument = part.partition("=")
        directives[name.strip().lower()] = argument.strip().strip('"')
    if "no-cache" in directives or "no-store" in directives:
        return None
    try:
        seconds = int(directives["max-age"])
    except (KeyError, ValueError):
        return None
    return float(seconds) if seconds >= 0 else None


def _content_length(headers: Mapping[str, str]) -> int | None:
    try:
        length = int(headers.get("Content-Length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def _where(url: str, current: str) -> str:
    return url if current == url else f"{url} (redirected to {current})"


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps: requests and urllib3 nest the real cause deeply."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        nested = (current.__cause__, current.__context__, getattr(current, "reason", None))
        pending.extend(item for item in (*nested, *current.args) if isinstance(item, BaseException))
    return seen


def _innermost(error: BaseException) -> str:
    """The message of the deepest cause, which is the one that says what happened."""
    innermost = _causes(error)[-1]
    return str(innermost) or type(innermost).__name__
