"""The fetcher against real HTTP servers on 127.0.0.1 (pytest-httpserver, or raw sockets for
answers no HTTP library will give: short bodies, trickles, silence)."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import syndicator.upstreams.fetch
from syndicator.upstreams.fetch import Fetcher, FetchError, is_forbidden_address

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
USER_AGENT = "syndicator-test/1.0 (+https://finews.example.com)"

Handler = Callable[[socket.socket, threading.Event], None]


def make_fetcher(
    *,
    timeout: float = 2.0,
    max_bytes: int = 1_000_000,
    allow_private_addresses: bool = True,
    max_redirects: int = 5,
) -> Fetcher:
    return Fetcher(
        user_agent=USER_AGENT,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_private_addresses=allow_private_addresses,
        max_redirects=max_redirects,
    )


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with make_fetcher() as instance:
        yield instance


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


class RawServer:
    """A TCP server on 127.0.0.1 handing each connection to ``handle`` in its own thread."""

    def __init__(self, handle: Handler) -> None:
        self._handle = handle
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                _read_request(connection)
                self._handle(connection, self.stop)
            except OSError:
                pass  # the client hung up, which is what most of these tests provoke

    def close(self) -> None:
        self.stop.set()
        self._accepting.join()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()


def _read_request(connection: socket.socket) -> None:
    received = b""
    while b"\r\n\r\n" not in received:
        data = connection.recv(4096)
        if not data:
            return
        received += data


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handle: Handler) -> RawServer:
        servers.append(RawServer(handle))
        return servers[-1]

    yield start
    for started in servers:
        started.close()


def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.url == url
    assert url in str(caught.value)
    return caught.value


def redirect(location: str, status: int) -> Response:
    return Response("", status=status, headers={"Location": location})


# --- plain answers ---------------------------------------------------------------------------


def test_200_returns_body_validators_and_headers(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/feed").respond_with_data(
        FEED,
        content_type="application/rss+xml",
        headers={"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    url = server.url_for("/feed")

    result = fetcher.fetch(url)

    assert result.status == 200
    assert result.body == FEED
    assert result.url == url
    assert result.permanent_url is None
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.retry_after is None
    assert result.max_age is None


def test_sends_user_agent_accept_and_accept_encoding(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/feed").respond_with_data(FEED)

    fetcher.fetch(server.url_for("/feed"))

    request, _ = server.log[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Accept-Encoding"] == "gzip, deflate"
    assert request.headers["Accept"].startswith("application/rss+xml, application/atom+xml")
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_conditional_get_sends_validators_and_returns_304(
    server: HTTPServer, fetcher: Fetcher
) -> None:
    def handle(request: Request) -> Response:
        fresh = (
            request.headers.get("If-None-Match") == '"v1"'
            and request.headers.get("If-Modified-Since") == "Wed, 21 Oct 2015 07:28:00 GMT"
        )
        if fresh:
            return Response(status=304, headers={"ETag": '"v1"'})
        return Response(FEED, headers={"ETag": '"v2"'})

    server.expect_request("/feed").respond_with_handler(handle)

    result = fetcher.fetch(
        server.url_for("/feed"), etag='"v1"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT"
    )

    assert result.status == 304
    assert result.body == b""
    assert result.etag == '"v1"'
    # The server did not repeat Last-Modified: the one sent is kept for the next poll.
    assert result.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_error_statuses_are_returned_without_body(
    server: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    server.expect_request("/feed").respond_with_data("<html>error page</html>", status=status)

    result = fetcher.fetch(server.url_for("/feed"))

    assert result.status == status
    assert result.body == b""


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(server: HTTPServer, fetcher: Fetcher, status: int) -> None:
    server.expect_request("/feed").respond_with_data(
        "", status=status, headers={"Retry-After": "120"}
    )

    assert fetcher.fetch(server.url_for("/feed")).retry_after == 120.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_http_date(server: HTTPServer, fetcher: Fetcher, status: int) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    server.expect_request("/feed").respond_with_data(
        "", status=status, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )

    retry_after = fetcher.fetch(server.url_for("/feed")).retry_after

    assert retry_after is not None
    assert 115 <= retry_after <= 121


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("-5", None), ("", None)],
)
def test_retry_after_is_never_negative_and_ignores_garbage(
    server: HTTPServer, fetcher: Fetcher, value: str, expected: float | None
) -> None:
    server.expect_request("/feed").respond_with_data("", status=429, headers={"Retry-After": value})

    assert fetcher.fetch(server.url_for("/feed")).retry_after == expected


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("public, max-age=300", 300.0),
        ('max-age="60"', 60.0),
        ("no-cache, max-age=300", None),
        ("no-store", None),
        ("public", None),
        ("max-age=soon", None),
    ],
)
def test_max_age_from_cache_control(
    server: HTTPServer, fetcher: Fetcher, cache_control: str, expected: float | None
) -> None:
    server.expect_request("/feed").respond_with_data(FEED, headers={"Cache-Control": cache_control})

    assert fetcher.fetch(server.url_for("/feed")).max_age == expected


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_sets_permanent_url(
    server: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    server.expect_request("/old").respond_with_response(redirect("/new", status))
    server.expect_request("/new").respond_with_data(FEED)

    result = fetcher.fetch(server.url_for("/old"))

    assert result.status == 200
    assert result.body == FEED
    assert result.url == server.url_for("/new")
    assert result.permanent_url == server.url_for("/new")


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_leaves_permanent_url_unset(
    server: HTTPServer, fetcher: Fetcher, status: int
) -> None:
    server.expect_request("/old").respond_with_response(redirect("/new", status))
    server.expect_request("/new").respond_with_data(FEED)

    result = fetcher.fetch(server.url_for("/old"))

    assert result.url == server.url_for("/new")
    assert result.permanent_url is None


def test_chain_of_permanent_redirects_sets_permanent_url(
    server: HTTPServer, fetcher: Fetcher
) -> None:
    server.expect_request("/a").respond_with_response(redirect("/b", 301))
    server.expect_request("/b").respond_with_response(redirect(server.url_for("/c"), 308))
    server.expect_request("/c").respond_with_data(FEED)

    assert fetcher.fetch(server.url_for("/a")).permanent_url == server.url_for("/c")


def test_mixed_redirect_chain_is_not_permanent(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/a").respond_with_response(redirect("/b", 301))
    server.expect_request("/b").respond_with_response(redirect("/c", 302))
    server.expect_request("/c").respond_with_data(FEED)

    result = fetcher.fetch(server.url_for("/a"))

    assert result.url == server.url_for("/c")
    assert result.permanent_url is None


def test_relative_location_is_resolved_against_the_hop(
    server: HTTPServer, fetcher: Fetcher
) -> None:
    server.expect_request("/blog/old/feed").respond_with_response(redirect("../new/feed", 302))
    server.expect_request("/blog/new/feed").respond_with_data(FEED)

    assert fetcher.fetch(server.url_for("/blog/old/feed")).url == server.url_for("/blog/new/feed")


def test_conditional_headers_follow_redirects(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/old").respond_with_response(redirect("/new", 301))
    server.expect_request("/new", headers={"If-None-Match": '"v1"'}).respond_with_data(
        "", status=304
    )

    result = fetcher.fetch(server.url_for("/old"), etag='"v1"')

    assert result.status == 304
    assert result.permanent_url == server.url_for("/new")


def test_redirect_loop(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/a").respond_with_response(redirect("/b", 302))
    server.expect_request("/b").respond_with_response(redirect("/a", 302))

    assert fetch_error(fetcher, server.url_for("/a")).kind == "redirect_loop"


def test_too_many_redirects(server: HTTPServer) -> None:
    for hop in range(4):
        server.expect_request(f"/{hop}").respond_with_response(redirect(f"/{hop + 1}", 302))
    server.expect_request("/4").respond_with_data(FEED)

    with make_fetcher(max_redirects=3) as fetcher:
        error = fetch_error(fetcher, server.url_for("/0"))
    with make_fetcher(max_redirects=4) as fetcher:
        result = fetcher.fetch(server.url_for("/0"))

    assert error.kind == "too_many_redirects"
    assert result.url == server.url_for("/4")


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://example.com/feed.xml", "data:text/plain,hello"]
)
def test_redirect_to_other_schemes_is_refused(
    server: HTTPServer, fetcher: Fetcher, location: str
) -> None:
    server.expect_request("/feed").respond_with_response(redirect(location, 302))

    error = fetch_error(fetcher, server.url_for("/feed"))

    assert error.kind == "bad_scheme"
    assert location in str(error)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("file:///etc/passwd", "bad_scheme"),
        ("example.com/feed", "invalid_url"),
        ("http:///feed", "invalid_url"),
        ("http://example.com:99999/feed", "invalid_url"),
    ],
)
def test_unfetchable_urls(fetcher: Fetcher, url: str, kind: str) -> None:
    assert fetch_error(fetcher, url).kind == kind


# --- bodies ----------------------------------------------------------------------------------


def test_gzip_body_is_decoded(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/feed").respond_with_data(
        gzip.compress(FEED), headers={"Content-Encoding": "gzip"}
    )

    assert fetcher.fetch(server.url_for("/feed")).body == FEED


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_with_or_without_zlib_wrapper(
    server: HTTPServer, fetcher: Fetcher, wbits: int
) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    server.expect_request("/feed").respond_with_data(
        compressor.compress(FEED) + compressor.flush(), headers={"Content-Encoding": "deflate"}
    )

    assert fetcher.fetch(server.url_for("/feed")).body == FEED


def test_body_exactly_at_the_cap_is_accepted(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(b"x" * 1000)

    with make_fetcher(max_bytes=1000) as fetcher:
        assert len(fetcher.fetch(server.url_for("/feed")).body) == 1000


def test_body_over_the_cap_is_too_large(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(b"x" * 1001)

    with make_fetcher(max_bytes=1000) as fetcher:
        error = fetch_error(fetcher, server.url_for("/feed"))

    assert error.kind == "too_large"
    assert "over 1000 bytes; raise polling.max_bytes" in str(error)


def test_a_fetcher_with_fixed_limits_names_no_key_to_raise(server: HTTPServer) -> None:
    """The WebSub hub's and announcer's fetchers have limits of their own: their errors told
    the operator to raise polling.max_bytes or polling.timeout, which changes nothing."""
    server.expect_request("/feed").respond_with_data(b"x" * 1001)
    fixed = Fetcher(
        user_agent=USER_AGENT,
        timeout=2.0,
        max_bytes=1000,
        allow_private_addresses=True,
        limits_section=None,
    )
    with fixed:
        error = fetch_error(fixed, server.url_for("/feed"))

    assert error.kind == "too_large"
    assert str(error).endswith("answered with a body over 1000 bytes")
    assert "polling." not in str(error)


def test_streamed_body_over_the_cap_is_too_large(server: HTTPServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    # A generator response has no Content-Length: only counting while reading can catch it.
    server.expect_request("/feed").respond_with_response(Response(chunks()))

    with make_fetcher(max_bytes=50_000) as fetcher:
        assert fetch_error(fetcher, server.url_for("/feed")).kind == "too_large"


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """200 MB of zeros in about 200 KB of gzip."""
    compressor = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(200)) + compressor.flush()


def test_gzip_bomb_is_too_large_in_bounded_memory(
    raw_server: Callable[[Handler], RawServer], gzip_bomb: bytes
) -> None:
    def bomb(connection: socket.socket, stop: threading.Event) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(gzip_bomb)}\r\n\r\n"
        )
        connection.sendall(head.encode() + gzip_bomb)

    # A raw server, because werkzeug's own handling of the aborted response peaks at ~10 MB.
    server = raw_server(bomb)

    with make_fetcher(max_bytes=1 << 20) as fetcher:
        tracemalloc.start()
        try:
            error = fetch_error(fetcher, server.url())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert len(gzip_bomb) < 1 << 20
    assert error.kind == "too_large"
    assert peak < 4 << 20


def test_compressed_body_inflating_to_nothing_is_still_capped(server: HTTPServer) -> None:
    # 1.5 MB of empty deflate blocks: no output ever, so only the bytes on the wire can tell.
    empty_blocks = (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        + b"\x00\x00\x00\xff\xff" * 300_000
        + b"\x01\x00\x00\xff\xff"
        + struct.pack("<II", 0, 0)
    )
    assert gzip.decompress(empty_blocks) == b""
    server.expect_request("/feed").respond_with_data(
        empty_blocks, headers={"Content-Encoding": "gzip"}
    )

    with make_fetcher(max_bytes=1 << 20) as fetcher:
        assert fetch_error(fetcher, server.url_for("/feed")).kind == "too_large"


def test_unknown_content_encoding_is_refused(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/feed").respond_with_data(
        b"\x1b\x00", headers={"Content-Encoding": "br"}
    )

    assert fetch_error(fetcher, server.url_for("/feed")).kind == "bad_encoding"


def test_corrupt_gzip_is_refused(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/feed").respond_with_data(
        b"\x1f\x8b\x08\x00garbage garbage", headers={"Content-Encoding": "gzip"}
    )

    assert fetch_error(fetcher, server.url_for("/feed")).kind == "bad_encoding"


def test_gzip_stream_cut_short_is_truncated(server: HTTPServer, fetcher: Fetcher) -> None:
    compressed = gzip.compress(FEED * 50)
    server.expect_request("/feed").respond_with_data(
        compressed[: len(compressed) // 2], headers={"Content-Encoding": "gzip"}
    )

    assert fetch_error(fetcher, server.url_for("/feed")).kind == "truncated"


def test_body_shorter_than_content_length_is_truncated(
    raw_server: Callable[[Handler], RawServer], fetcher: Fetcher
) -> None:
    def short_body(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)

    server = raw_server(short_body)

    error = fetch_error(fetcher, server.url())

    assert error.kind == "truncated"


# --- time ------------------------------------------------------------------------------------


def test_silent_server_hits_the_read_timeout(raw_server: Callable[[Handler], RawServer]) -> None:
    def silent(connection: socket.socket, stop: threading.Event) -> None:
        stop.wait(10)

    server = raw_server(silent)

    with make_fetcher(timeout=0.5) as fetcher:
        started = time.monotonic()
        error = fetch_error(fetcher, server.url())
        elapsed = time.monotonic() - started

    assert error.kind == "timeout"
    assert 0.4 < elapsed < 1.4  # the read timeout, not the total deadline


def test_body_stalling_midway_hits_the_read_timeout(
    raw_server: Callable[[Handler], RawServer],
) -> None:
    def stall(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss>")
        stop.wait(10)

    server = raw_server(stall)

    with make_fetcher(timeout=0.5) as fetcher:
        assert fetch_error(fetcher, server.url()).kind == "timeout"


def _trickle(head: bytes) -> Handler:
    def handle(connection: socket.socket, stop: threading.Event) -> None:
        connection.sendall(head)
        # Stops after 10 s, so that a fetcher without a deadline fails the test, not hangs it.
        for _ in range(50):
            if stop.wait(0.2):
                return
            connection.sendall(b"x")

    return handle


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss>",
        b"HTTP/1.1 200 OK\r\nX-Slow: ",
    ],
    ids=["body", "headers"],
)
def test_trickling_server_is_cut_off_by_the_total_deadline(
    raw_server: Callable[[Handler], RawServer], head: bytes
) -> None:
    server = raw_server(_trickle(head))

    with make_fetcher(timeout=0.5) as fetcher:
        started = time.monotonic()
        error = fetch_error(fetcher, server.url())
        elapsed = time.monotonic() - started

    # Every byte arrives well within the 0.5 s read timeout; only the 1.5 s deadline stops it.
    assert error.kind == "timeout"
    assert "longer than 1.5 s" in str(error)
    assert 1.4 < elapsed < 3.0


def test_deadline_does_not_outlive_its_fetch(server: HTTPServer) -> None:
    server.expect_request("/feed").respond_with_data(FEED)

    with make_fetcher(timeout=0.2) as fetcher:
        fetcher.fetch(server.url_for("/feed"))
        time.sleep(0.8)  # past the first fetch's deadline: its timer must not touch the pool
        assert fetcher.fetch(server.url_for("/feed")).body == FEED


# --- transport failures ----------------------------------------------------------------------


def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.

    error = fetch_error(fetcher, f"http://127.0.0.1:{port}/feed")

    assert error.kind == "connect"
    assert "refused" in str(error).lower()


@pytest.mark.parametrize("allow_private", [True, False], ids=["unguarded", "guarded"])
def test_dns_failure(allow_private: bool) -> None:
    with make_fetcher(allow_private_addresses=allow_private) as fetcher:
        error = fetch_error(fetcher, "http://no-such-host.invalid/feed")

    assert error.kind == "dns"
    assert "no-such-host.invalid" in str(error)


def test_tls_failure(server: HTTPServer, fetcher: Fetcher) -> None:
    # A plain-HTTP server answers the TLS ClientHello with garbage: the handshake fails.
    url = f"https://127.0.0.1:{server.port}/feed"

    error = fetch_error(fetcher, url)

    assert error.kind == "tls"
    assert "TLS handshake failed" in str(error)


# --- SSRF guard ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_is_refused_by_ip_and_by_name(server: HTTPServer, host: str) -> None:
    server.expect_request("/feed").respond_with_data(FEED)
    url = f"http://{host}:{server.port}/feed"

    with make_fetcher(allow_private_addresses=False) as fetcher:
        error = fetch_error(fetcher, url)

    assert error.kind == "private_address"
    assert "polling.allow_private_addresses" in str(error)
    assert server.log == []


@pytest.mark.parametrize("address", ["2002:7f00:1::", "2001:0:808:808::80ff:fffe", "fec0::1"])
def test_a_name_resolving_to_an_ipv6_transition_address_of_an_internal_host_is_refused(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setattr(syndicator.upstreams.fetch, "_resolve", lambda host, port: [address])

    with make_fetcher(allow_private_addresses=False) as fetcher:
        error = fetch_error(fetcher, f"http://feeds.example:{server.port}/feed")

    assert error.kind == "private_address"
    assert address in str(error) and "polling.allow_private_addresses" in str(error)
    assert server.log == []


def test_dns_rebinding_is_caught_at_the_connected_address(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.expect_request("/feed").respond_with_data(FEED)
    # The name check sees a public address; the connection then lands on 127.0.0.1, as when a
    # resolver answers differently the second time.
    monkeypatch.setattr(
        syndicator.upstreams.fetch, "_resolve", lambda host, port: ["93.184.216.34"]
    )

    with make_fetcher(allow_private_addresses=False) as fetcher:
        error = fetch_error(fetcher, f"http://localhost:{server.port}/feed")

    assert error.kind == "private_address"
    assert "127.0.0.1" in str(error)
    assert server.log == []


def test_redirect_hops_are_checked_too(server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    metadata = "http://169.254.169.254/latest/meta-data/"
    server.expect_request("/feed").respond_with_response(redirect(metadata, 302))
    # Let the test server's loopback address through so the first hop can happen at all.
    real = is_forbidden_address
    monkeypatch.setattr(
        syndicator.upstreams.fetch,
        "is_forbidden_address",
        lambda address: not address.is_loopback and real(address),
    )

    with make_fetcher(allow_private_addresses=False) as fetcher:
        error = fetch_error(fetcher, server.url_for("/feed"))

    assert error.kind == "private_address"
    assert metadata in str(error)
    assert len(server.log) == 1


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.8.8",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "fd00:ec2::254",
        "fc00::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "240.0.0.1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254, the metadata service
        "2002:a00:1:1::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:101::",  # 6to4 of 192.168.1.1
        "2001:0:7f00:1::1",  # Teredo, server 127.0.0.1
        "2001:0:808:808:0:0:80ff:fffe",  # Teredo, client 127.0.0.1 (inverted: 80ff:fffe)
        "2001:0:808:808:0:0:f5ff:fffe",  # Teredo, client 10.0.0.1
        "fec0::1",  # site-local
        "feff:ffff::1",
    ],
)
def test_internal_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "2002:808:808::"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


# --- sharing ---------------------------------------------------------------------------------


def test_one_fetcher_serves_several_threads(server: HTTPServer, fetcher: Fetcher) -> None:
    for number in range(8):
        server.expect_request(f"/feed/{number}").respond_with_data(f"feed {number}")
    results: dict[int, bytes] = {}

    def poll(number: int) -> None:
        for _ in range(3):
            results[number] = fetcher.fetch(server.url_for(f"/feed/{number}")).body

    threads = [threading.Thread(target=poll, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {number: f"feed {number}".encode() for number in range(8)}
