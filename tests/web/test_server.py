"""The HTTP server, over real sockets: ``syndicator serve`` as a subprocess on 127.0.0.1
serving a site built in a temporary folder, spoken to byte by byte where a client library
would tidy the request up. /healthz and /metrics are checked against the same server code run
in this process, wired to a real ``Daemon`` polling a local upstream."""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.processes import free_port, resident_kib, start_syndicator, wait_until
from support.site import SITE_TOML, make_post_folders, write_post
from support.upstreams import send

from syndicator.core.config import load_config
from syndicator.daemon import Daemon
from syndicator.feeds.build import build_site
from syndicator.state.db import State
from syndicator.web.feedstore import FeedStore
from syndicator.web.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.web.server import MAX_CONNECTIONS, FeedApp, make_server

SECRET = "TOP-SECRET-OUTSIDE-THE-FEEDS"
TYPES = {
    "/rss.xml": "application/rss+xml; charset=utf-8",
    "/atom.xml": "application/atom+xml; charset=utf-8",
    "/feed.json": "application/feed+json; charset=utf-8",
    "/categories/news/rss.xml": "application/rss+xml; charset=utf-8",
    "/categories/news/atom.xml": "application/atom+xml; charset=utf-8",
    "/categories/news/feed.json": "application/feed+json; charset=utf-8",
    "/feeds.opml": "text/x-opml; charset=utf-8",
    "/": "text/html; charset=utf-8",
}
TAG_FEED = "/tags/%E5%B8%82%E5%9C%BA/rss.xml"  # tags/市场/rss.xml
TCP_ESTABLISHED = 1  # the first byte of Linux's TCP_INFO: the connection's state


# A client that sends exactly the bytes given.


class Response:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
        self.headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def __repr__(self) -> str:
        return f"<{self.status_line} {self.headers} {self.body[:80]!r}>"


def exchange(port: int, data: bytes, timeout: float = 5) -> Response:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before reading everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return Response(b"".join(chunks))


def request(
    port: int, target: str | bytes, headers: dict[str, str] | None = None, method: str = "GET"
) -> Response:
    if isinstance(target, str):
        target = target.encode("ascii")
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in (headers or {}).items()]
    lines.append(b"Connection: close")
    return exchange(port, b"\r\n".join(lines) + b"\r\n\r\n")


# The site and the server.


POSTS = {
    "2022-01-01-oldest.md": 'title: "最早"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\n',
    "2022-03-05-edited.md": (
        'title: "改过"\ndate: 2022-03-05 08:30:00 +0800\n'
        "last_modified_at: 2022-04-01 12:00:00 +0800\ncategories: news\ntags: 市场\n"
    ),
}


def make_site(root: Path, port: int) -> Path:
    config_path = root / "syndicator.toml"
    config_path.write_text(
        SITE_TOML + f'\n[server]\nport = {port}\nmax_age = "5m"\n', encoding="utf-8"
    )
    for name, front in POSTS.items():
        write_post(root / "_posts", name, front, "正文。" * 200 + "\n")
    config = load_config(config_path)
    with State.open(config.state.path) as state:
        assert build_site(config, state).written
    feeds = config.feeds.dir
    # Things that must never be served: a file beside the feeds, reached by symlinks, by
    # name, or as hidden files inside the folder.
    (root / "secret.txt").write_text(SECRET, encoding="utf-8")
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text(SECRET, encoding="utf-8")
    (feeds / "leak.xml").symlink_to(root / "secret.txt")
    (feeds / "leakdir").symlink_to(root / "outside", target_is_directory=True)
    (feeds / ".state").write_text(SECRET, encoding="utf-8")
    (feeds / "categories" / ".hidden.xml").write_text(SECRET, encoding="utf-8")
    # A folder literally named "%2e%2e": reached by single decoding of %252e%252e.
    (feeds / "%2e%2e").mkdir()
    (feeds / "%2e%2e" / "decoy.txt").write_text("single decoding\n", encoding="utf-8")
    return config_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    config_path = make_site(root, port)
    log = (root / "serve.log").open("wb")
    process = start_syndicator("serve", config=config_path, output=log)
    try:
        wait_until(
            lambda: request(port, "/healthz").status == 200, 15, "server up", ignoring=OSError
        )
        yield {"port": port, "root": root, "feeds": root / "feeds", "process": process}
        assert process.poll() is None, "the server died during the tests"
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()


def file_bytes(server: dict, path: str) -> bytes:
    relative = "index.html" if path == "/" else path.lstrip("/")
    return (server["feeds"] / relative).read_bytes()


# GET and HEAD.


@pytest.mark.parametrize("path", list(TYPES))
def test_get_serves_the_file_with_its_validators(server: dict, path: str) -> None:
    response = request(server["port"], path)
    assert response.status == 200
    assert response.body == file_bytes(server, path)
    assert response.headers["content-type"] == TYPES[path]
    assert int(response.headers["content-length"]) == len(response.body)
    assert re.fullmatch(r'"[0-9a-f]{16,}"', response.headers["etag"])  # strong, not W/
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers
    parsedate_to_datetime(response.headers["last-modified"])


def test_last_modified_is_when_the_file_last_changed(server: dict) -> None:
    for path in ("/rss.xml", "/atom.xml", "/feed.json", "/categories/news/feed.json", TAG_FEED):
        response = request(server["port"], path)
        file = server["root"] / "feeds" / unquote(path).lstrip("/")
        changed = datetime.fromtimestamp(int(file.stat().st_mtime), UTC)
        assert parsedate_to_datetime(response.headers["last-modified"]) == changed, path


@pytest.mark.parametrize("path", ["/rss.xml", "/feed.json", "/"])
@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_head_has_the_get_headers_and_no_body(server: dict, path: str, encoding: str) -> None:
    headers = {"Accept-Encoding": encoding} if encoding else {}
    get = request(server["port"], path, headers)
    head = request(server["port"], path, headers, method="HEAD")
    assert head.status == get.status == 200
    assert head.body == b""  # not a byte after the headers, though the server then closed
    del get.headers["date"], head.headers["date"]
    assert head.headers == get.headers
    assert int(head.headers["content-length"]) == len(get.body)


def test_percent_encoded_cjk_paths(server: dict) -> None:
    expected = (server["feeds"] / "tags" / "市场" / "rss.xml").read_bytes()
    for target in (TAG_FEED, TAG_FEED.lower(), "/tags/%E5%B8%82%E5%9C%BA/feed.json"):
        response = request(server["port"], target)
        assert response.status == 200, target
    assert request(server["port"], TAG_FEED).body == expected
    assert request(server["port"], TAG_FEED).headers["content-type"] == TYPES["/rss.xml"]
    # Half a character is no path.
    assert request(server["port"], "/tags/%E5%B8/rss.xml").status == 404


def test_query_strings_and_absolute_form_name_the_same_file(server: dict) -> None:
    expected = file_bytes(server, "/rss.xml")
    assert request(server["port"], "/rss.xml?utm_source=x").body == expected
    assert request(server["port"], f"http://127.0.0.1:{server['port']}/rss.xml").body == expected


# Conditional GET.


def validators(server: dict, path: str = "/rss.xml", gzip_: bool = False) -> tuple[str, str]:
    headers = {"Accept-Encoding": "gzip"} if gzip_ else {}
    response = request(server["port"], path, headers)
    assert response.status == 200
    return response.headers["etag"], response.headers["last-modified"]


def assert_not_modified(response: Response, etag: str) -> None:
    assert response.status == 304, response
    assert response.body == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"
    assert "last-modified" in response.headers


@pytest.mark.parametrize(
    "template",
    ["{etag}", '"nope", {etag}, "other"', '"a",{etag}', "*", "W/{etag}", '"x", W/{etag}'],
)
def test_if_none_match_gives_304(server: dict, template: str) -> None:
    etag, _ = validators(server)
    response = request(server["port"], "/rss.xml", {"If-None-Match": template.format(etag=etag)})
    assert_not_modified(response, etag)
    head = request(
        server["port"], "/rss.xml", {"If-None-Match": template.format(etag=etag)}, "HEAD"
    )
    assert_not_modified(head, etag)


@pytest.mark.parametrize("value", ['"nope"', '"nope", W/"other"', "{etag_of_atom}", '""'])
def test_if_none_match_otherwise_gives_200(server: dict, value: str) -> None:
    atom, _ = validators(server, "/atom.xml")
    response = request(
        server["port"], "/rss.xml", {"If-None-Match": value.format(etag_of_atom=atom)}
    )
    assert response.status == 200
    assert response.body == file_bytes(server, "/rss.xml")


def test_if_modified_since(server: dict) -> None:
    etag, last_modified = validators(server)
    since = parsedate_to_datetime(last_modified)

    def ims(when: datetime | str) -> Response:
        value = when if isinstance(when, str) else format_datetime(when, usegmt=True)
        return request(server["port"], "/rss.xml", {"If-Modified-Since": value})

    assert_not_modified(ims(last_modified), etag)  # the very value we were given
    assert_not_modified(ims(since + timedelta(days=30)), etag)
    assert_not_modified(ims(since + timedelta(seconds=1)), etag)
    assert ims(since - timedelta(seconds=1)).status == 200
    assert ims(since - timedelta(days=365)).body == file_bytes(server, "/rss.xml")
    assert ims("not a date").status == 200
    assert ims("").status == 200


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 01 Jan 99999999999 00:00:00 GMT",  # past C's int: OverflowError
        "Mon, 01 Jan 99999 00:00:00 GMT",
        "Mon, 31 Feb 2024 00:00:00 GMT",
        "Mon, 01 Jan 2024 25:00:00 GMT",
    ],
)
def test_an_impossible_if_modified_since_is_ignored(server: dict, value: str) -> None:
    """RFC 9110 13.1.3: a date that is not valid is disregarded: the full answer, no 500."""
    response = request(server["port"], "/rss.xml", {"If-Modified-Since": value})
    assert response.status == 200
    assert response.body == file_bytes(server, "/rss.xml")


def test_if_none_match_wins_over_if_modified_since(server: dict) -> None:
    etag, last_modified = validators(server)
    later = format_datetime(parsedate_to_datetime(last_modified) + timedelta(days=1), usegmt=True)
    older = format_datetime(parsedate_to_datetime(last_modified) - timedelta(days=1), usegmt=True)
    stale = request(
        server["port"], "/rss.xml", {"If-None-Match": '"old"', "If-Modified-Since": later}
    )
    assert stale.status == 200 and stale.body == file_bytes(server, "/rss.xml")
    fresh = request(server["port"], "/rss.xml", {"If-None-Match": etag, "If-Modified-Since": older})
    assert_not_modified(fresh, etag)


# gzip.


@pytest.mark.parametrize(
    "accept", ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "GZIP", "*", "*;q=0, gzip"]
)
def test_gzip_when_asked(server: dict, accept: str) -> None:
    plain = request(server["port"], "/atom.xml")
    response = request(server["port"], "/atom.xml", {"Accept-Encoding": accept})
    assert response.status == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"] == TYPES["/atom.xml"]
    assert int(response.headers["content-length"]) == len(response.body) < len(plain.body)
    assert gzip.decompress(response.body) == plain.body
    # A different representation, so a different strong ETag; and the same Last-Modified.
    assert response.headers["etag"] != plain.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', response.headers["etag"])
    assert response.headers["last-modified"] == plain.headers["last-modified"]


@pytest.mark.parametrize(
    "accept", ["gzip;q=0", "gzip; q=0.000", "identity", "br, deflate", "*;q=0", "x-gzip-ish"]
)
def test_no_gzip_unless_acceptable(server: dict, accept: str) -> None:
    response = request(server["port"], "/atom.xml", {"Accept-Encoding": accept})
    assert response.status == 200
    assert "content-encoding" not in response.headers
    assert response.body == file_bytes(server, "/atom.xml")
    assert response.headers["vary"] == "Accept-Encoding"


def test_the_gzip_etag_gives_304_to_gzip_clients_only(server: dict) -> None:
    gz_etag, _ = validators(server, "/atom.xml", gzip_=True)
    plain_etag, _ = validators(server, "/atom.xml")
    assert gz_etag != plain_etag
    again = request(
        server["port"], "/atom.xml", {"Accept-Encoding": "gzip", "If-None-Match": gz_etag}
    )
    assert_not_modified(again, gz_etag)
    # A client that no longer takes gzip cannot use its gzip copy: it gets the plain bytes.
    plain = request(server["port"], "/atom.xml", {"If-None-Match": gz_etag})
    assert plain.status == 200 and plain.body == file_bytes(server, "/atom.xml")
    # A cache holding the plain copy is told that copy is still good, under its own ETag.
    kept = request(
        server["port"], "/atom.xml", {"Accept-Encoding": "gzip", "If-None-Match": plain_etag}
    )
    assert_not_modified(kept, plain_etag)


def test_small_files_are_sent_as_they_are(server: dict) -> None:
    (server["feeds"] / "tiny.txt").write_bytes(b"ok\n")
    response = request(server["port"], "/tiny.txt", {"Accept-Encoding": "gzip"})
    assert response.status == 200 and response.body == b"ok\n"
    assert "content-encoding" not in response.headers


def test_an_atomically_replaced_feed_is_served_fresh(server: dict) -> None:
    path = server["feeds"] / "categories" / "news" / "atom.xml"
    etag, _ = validators(server, "/categories/news/atom.xml")
    old = path.read_bytes()
    new = old.replace(b"<title>", b"<title>new ", 1)
    temporary = path.with_name(".atom.xml.tmp")
    temporary.write_bytes(new)
    try:
        os.replace(temporary, path)
        response = request(server["port"], "/categories/news/atom.xml", {"If-None-Match": etag})
        assert response.status == 200 and response.body == new
        assert response.headers["etag"] != etag
    finally:
        path.write_bytes(old)


# Nothing outside feeds.dir, ever.

TRAVERSALS = [
    b"/../secret.txt",
    b"/../../../../../../etc/passwd",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt",
    b"/%2e%2E/%2e%2e/etc/passwd",
    b"/.%2e/secret.txt",
    b"/%252e%252e/secret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/..%2fsecret.txt",
    b"/..%2Fsecret.txt",
    b"/categories/..%2f..%2fsecret.txt",
    b"/categories/%2f..%2f..%2fsecret.txt",
    b"/%2f../secret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/%5c..%5csecret.txt",
    b"/categories\\..\\..\\secret.txt",
    b"//etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/etc/passwd",
    b"/rss.xml%00",
    b"/rss.xml%00.txt",
    b"/%00/../secret.txt",
    b"/leak.xml",
    b"/leakdir/secret.txt",
    b"/leakdir/../secret.txt",
    b"/.state",
    b"/%2estate",
    b"/categories/.hidden.xml",
    b"/categories/%2ehidden.xml",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%c0%ae%c0%ae%c0%afsecret.txt",
    b"/%e0%80%ae%e0%80%ae/secret.txt",
    b"/%c0%2e%c0%2e/secret.txt",
    b"/%uff0e%uff0e/secret.txt",
    b"/%ef%bc%8e%ef%bc%8e/secret.txt",  # fullwidth full stops
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t.decode("latin-1"))
def test_traversal_is_404(server: dict, target: bytes) -> None:
    for method in ("GET", "HEAD"):
        response = request(server["port"], target, method=method)
        assert response.status == 404, response
        assert SECRET.encode() not in response.body


def test_absolute_file_paths_are_404(server: dict) -> None:
    for path in (server["root"] / "secret.txt", server["feeds"] / "rss.xml"):
        response = request(server["port"], path.as_posix())
        assert response.status == 404, response
        assert SECRET.encode() not in response.body
    for target in (b"file:///etc/passwd", b"secret.txt", b"*"):
        assert request(server["port"], target).status in (400, 404), target


def test_double_encoding_is_decoded_once(server: dict) -> None:
    response = request(server["port"], "/%252e%252e/decoy.txt")
    assert response.status == 200
    assert response.body == b"single decoding\n"


# Bad methods and bad requests.


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT", "PROPFIND"]
)
def test_other_methods_are_405_with_allow(server: dict, method: str) -> None:
    for target in ("/rss.xml", "/healthz", "/nothing"):
        response = request(server["port"], target, {"Content-Length": "0"}, method)
        assert response.status == 405, (method, target, response)
        assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "data",
    [
        b"FOO /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n",
        b"get /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n",
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
        b"GET /rss.xml HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # a TLS hello
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    ],
    ids=[
        "garbage-method",
        "lower-case",
        "connect-authority",
        "version",
        "tls",
        "header",
        "length",
    ],
)
def test_garbage_gets_a_4xx_and_the_server_stays_up(server: dict, data: bytes) -> None:
    response = exchange(server["port"], data)
    assert 400 <= response.status < 500 or response.status == 0, response
    assert SECRET.encode() not in response.body
    assert request(server["port"], "/rss.xml").status == 200


def test_an_absurdly_long_url_is_4xx(server: dict) -> None:
    for length in (2_000, 100_000):
        response = request(server["port"], "/" + "a" * length)
        assert 400 <= response.status < 500, (length, response.status_line)
    response = request(server["port"], "/rss.xml?" + "q" * 100_000)
    assert 400 <= response.status < 500, response.status_line
    assert request(server["port"], "/rss.xml").status == 200


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_an_absurdly_long_header_is_4xx(server: dict, size: int) -> None:
    response = request(server["port"], "/rss.xml", {"X-Big": "b" * size})
    assert 400 <= response.status < 500, response.status_line
    many = {f"X-H{i}": "v" * 100 for i in range(size // 100)}
    response = request(server["port"], "/rss.xml", many)
    assert 400 <= response.status < 500, response.status_line
    assert request(server["port"], "/rss.xml").status == 200


def test_a_head_that_never_ends_is_cut_off(server: dict) -> None:
    """A client streaming header bytes for ever is stopped long before it has sent 64 MB."""
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=5) as sock:
        sock.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sent = 0
        with pytest.raises(OSError):  # reset, broken pipe, or the send blocks (timeout)
            while sent < 64_000_000:
                sock.sendall(b"z" * 65536)
                sent += 65536
        assert sent < 8_000_000
    assert request(server["port"], "/rss.xml").status == 200


# Slow clients.


def is_closed(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        data = sock.recv(65536)
    except OSError:
        return True
    # The server may say 408 before closing; then the next read sees the end.
    return data == b"" or (data.startswith(b"HTTP/1.1 4") and is_closed_after(sock))


def is_closed_after(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 1)
    try:
        return bool(readable) and sock.recv(65536) == b""
    except OSError:
        return True


def test_slow_clients_neither_block_others_nor_stay_for_ever(server: dict) -> None:
    port = server["port"]
    slow: list[socket.socket] = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 4 == 0:
                sock.sendall(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # head never ends
            elif i % 4 == 1:
                # A keep-alive client answered once, then half a second request.
                sock.sendall(b"GET /feed.json HTTP/1.1\r\nHost: x\r\n\r\n")
                sock.recv(65536)
                sock.sendall(b"GET /rss")
            else:
                sock.sendall(b"GET /rss.xml HT")  # half a request line
            slow.append(sock)

        started = time.monotonic()
        response = request(port, "/rss.xml")
        assert response.status == 200
        assert response.body == file_bytes(server, "/rss.xml")
        assert time.monotonic() - started < 1.5

        # A slow client that keeps sending one byte a second is no better off.
        dripping = socket.create_connection(("127.0.0.1", port), timeout=5)
        slow.append(dripping)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            open_ = [s for s in slow if not is_closed(s)]
            for sock in set(slow) - set(open_):
                sock.close()
            slow = open_
            if not slow:
                break
            if dripping in slow:
                with contextlib.suppress(OSError):
                    dripping.sendall(b"G")
            time.sleep(0.5)
        assert slow == [], f"{len(slow)} slow connections still open after 20 s"
    finally:
        for sock in slow:
            sock.close()
    assert request(port, "/rss.xml").status == 200


# Hostile load: clients that never read, connection floods.


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed or reset the connection, seen without reading from it."""
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
    return state != TCP_ESTABLISHED


def log_text(server: dict) -> str:
    return (server["root"] / "serve.log").read_text(encoding="utf-8", errors="replace")


def timed_health(port: int) -> float:
    started = time.monotonic()
    assert request(port, "/healthz").status == 200
    return time.monotonic() - started


def test_pipelining_clients_that_never_read_are_bounded_and_cut_off(server: dict) -> None:
    """Before, 40 such clients took the server from 30 MB to 1.3 GB, kept their connections
    and each logged a traceback as it closed. Now the requests parsed ahead of their answers
    are bounded (a few KB a connection), /healthz answers, and a client that reads nothing for
    10 s is cut off."""
    port, pid = server["port"], server["process"].pid
    before = resident_kib(pid)
    unsent = {}
    for _ in range(4):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        unsent[sock] = memoryview(b"GET /rss.xml HTTP/1.1\r\nHost: x\r\n\r\n" * 14_000)
    clients = list(unsent)
    try:
        peak, worst_health = before, 0.0
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and not all(map(closed_by_server, clients)):
            for sock, rest in unsent.items():
                with contextlib.suppress(BlockingIOError, OSError):
                    unsent[sock] = rest[sock.send(rest) :]
            peak = max(peak, resident_kib(pid))
            worst_health = max(worst_health, timed_health(port))
            time.sleep(0.1)
        assert all(map(closed_by_server, clients)), "still open 25 s after they stopped reading"
    finally:
        for sock in clients:
            sock.close()
    assert peak - before < 40 * 1024, f"grew {(peak - before) // 1024} MB"
    assert worst_health < 1.0
    wait_until(lambda: request(port, "/rss.xml").status == 200, 5, "served again")
    assert "Traceback" not in log_text(server)


def test_idle_connections_make_room_for_new_clients(server: dict) -> None:
    """Before, 2,049 idle connections made every request, /healthz included, answer 503.
    Now the connection idle the longest is closed for each new one past the limit."""
    port = server["port"]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS + 50)]
    try:
        assert request(port, "/healthz").status == 200
        response = request(port, "/rss.xml")
        assert response.status == 200 and response.body == file_bytes(server, "/rss.xml")
        wait_until(lambda: closed_by_server(idle[0]), 5, "the oldest idle connection closed")
        assert not closed_by_server(idle[-1])
    finally:
        for sock in idle:
            sock.close()


def test_healthz_is_answered_when_every_connection_is_busy(server: dict) -> None:
    """Past the limit with nothing idle to close, requests get 503, but /healthz its answer."""
    port = server["port"]
    # The server closes a connection whose head is not complete within 10 s (slowloris): on
    # a busy machine taking 2,058 connections in can come near that, and the ones closed
    # make room again. So each attempt opens them afresh and looks within 8 s.
    for _attempt in range(3):
        busy = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS + 10)]
        try:
            for sock in busy:
                sock.sendall(b"GET /rss.xml HT")  # half a request line: busy, not idle
            refused = _within(8, lambda: request(port, "/rss.xml").status == 503)
            if refused:
                assert request(port, "/healthz").status == 200
                break
        finally:
            for sock in busy:
                sock.close()
    else:
        raise AssertionError("no 503 past the limit in 3 attempts")
    wait_until(lambda: request(port, "/rss.xml").status == 200, 30, "served again")


def _within(seconds: float, check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


# /healthz and /metrics.


def test_healthz_on_the_served_site(server: dict) -> None:
    response = request(server["port"], "/healthz")
    assert response.status == 200
    assert request(server["port"], "/healthz", method="HEAD").body == b""
    # serve has no metrics: the name is just a missing file.
    assert request(server["port"], "/metrics").status == 404


@pytest.fixture
def in_process() -> Iterator[Callable[[FeedApp], int]]:
    """``start(app)``: ``app`` served by ``make_server`` in a thread; its port."""
    servers: list[tuple[object, threading.Thread]] = []

    def start(app: FeedApp) -> int:
        port = free_port()
        server = make_server(app, "127.0.0.1", port)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        wait_until(lambda: server.started, 10, "in-process server up", ignoring=OSError)
        return port

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


def test_healthz_is_503_with_the_reason_when_not_healthy(
    tmp_path: Path, in_process: Callable
) -> None:
    problem: list[str | None] = [None]
    port = in_process(FeedApp(FeedStore(tmp_path), max_age=60, health=lambda: problem[0]))
    assert request(port, "/healthz").status == 200
    problem[0] = "feeds not rebuilt: the disk is full"
    response = request(port, "/healthz")
    assert response.status == 503
    assert response.body == b"feeds not rebuilt: the disk is full\n"
    assert response.headers["content-type"].startswith("text/plain")
    assert request(port, "/healthz", method="HEAD").status == 503


def callback_app(folder: Path, calls: list[str]) -> FeedApp:
    """A FeedApp whose only subscription callback is /websub/callback/known."""

    def callback(method: str, path: str, query: str, headers: dict, body: bytes) -> tuple:
        calls.append(path)
        return 202, "accepted"

    return FeedApp(
        FeedStore(folder),
        max_age=60,
        health=lambda: None,
        hub=lambda body: (202, "hub"),
        callback=callback,
        callback_known=lambda path: path == "/websub/callback/known",
    )


def post_head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "Content-Type: application/rss+xml\r\nConnection: close\r\n\r\n"
    ).encode()


def test_a_post_to_an_unknown_callback_is_answered_before_its_body_is_read(
    tmp_path: Path, in_process: Callable
) -> None:
    calls: list[str] = []
    port = in_process(callback_app(tmp_path, calls))
    # Ten megabytes announced, a kilobyte sent: the answer comes without the rest.
    response = exchange(port, post_head("/websub/callback/made-up", 10 * 1024 * 1024) + b"x" * 1024)
    assert response.status == 410
    assert calls == []


def test_pushed_bodies_read_at_once_are_bounded(tmp_path: Path, in_process: Callable) -> None:
    calls: list[str] = []
    port = in_process(callback_app(tmp_path, calls))
    held = []
    try:
        for _ in range(4):  # bodies begun and never finished
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(post_head("/websub/callback/known", 1024 * 1024) + b"x" * 1024)
            held.append(sock)
        time.sleep(0.5)
        response = exchange(port, post_head("/websub/callback/known", 3) + b"abc")
        assert response.status == 503 and "retry-after" in response.headers
    finally:
        for sock in held:
            sock.close()
    wait_until(
        lambda: exchange(port, post_head("/websub/callback/known", 3) + b"abc").status == 202,
        20,
        "bodies read again once the held ones are gone",
    )


def test_the_hub_answers_with_or_without_a_trailing_slash(
    tmp_path: Path, in_process: Callable
) -> None:
    port = in_process(callback_app(tmp_path, []))
    for path in ("/websub", "/websub/"):
        response = exchange(port, post_head(path, 3) + b"a=b")
        assert (response.status, response.body) == (202, b"hub\n"), path


class Upstream(ThreadingHTTPServer):
    """One good RSS feed at /good.xml; /gone.xml answers 410, anything else 500."""

    def __init__(self) -> None:
        now = datetime.now(UTC)
        items = "".join(
            f"<item><title>条目{i}</title><link>http://up.example/{i}.html</link>"
            f"<guid>http://up.example/{i}.html</guid>"
            f"<pubDate>{format_datetime(now - timedelta(hours=i))}</pubDate>"
            f"<description>正文{i}</description></item>"
            for i in range(3)
        )
        self.feed = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>上游</title><link>http://up.example/</link><description>d</description>"
            f"{items}</channel></rss>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(handler) -> None:  # noqa: N805
                if handler.path != "/good.xml":
                    handler.send_error(410 if handler.path == "/gone.xml" else 500)
                    return
                send(handler, self.feed)

            def log_message(handler, *args: object) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def metric_samples(text: str) -> dict[str, list]:
    families = {family.name: family for family in text_string_to_metric_families(text)}
    return {name: family.samples for name, family in families.items()}


def test_metrics_after_a_daemon_poll(tmp_path: Path, in_process: Callable) -> None:
    upstream = Upstream()
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{upstream.server_address[1]}"
    dead = free_port()  # nothing listens there: connection refused
    config_path = tmp_path / "syndicator.toml"
    config_path.write_text(
        SITE_TOML
        + '\n[polling]\ninterval = "1h"\ntimeout = "3s"\nallow_private_addresses = true\n\n'
        + f'[[upstreams]]\nname = "好"\nurl = "{base}/good.xml"\ncategory = "good"\n\n'
        + f'[[upstreams]]\nname = "坏"\nurl = "{base}/broken.xml"\ncategory = "bad"\n\n'
        + f'[[upstreams]]\nname = "断"\nurl = "http://127.0.0.1:{dead}/x.xml"\ncategory = "bad"\n\n'
        + f'[[upstreams]]\nname = "去"\nurl = "{base}/gone.xml"\ncategory = "bad"\n',
        encoding="utf-8",
    )
    # The post folder made, as a site has it: a missing one fails the first build (and
    # /healthz with it) whenever that build ends before /healthz is asked.
    daemon = Daemon(make_post_folders(load_config(config_path)))
    config = daemon.config
    port = in_process(
        FeedApp(
            FeedStore(config.feeds.dir),
            max_age=60,
            health=daemon.problem,
            metrics=lambda: (daemon.metrics.render(), METRICS_CONTENT_TYPE),
        )
    )
    assert request(port, "/healthz").status == 503  # not started yet
    started = time.time()
    daemon.start()
    try:
        assert request(port, "/healthz").status == 200

        def polled() -> bool:
            samples = metric_samples(request(port, "/metrics").body.decode())
            polls = [s for s in samples.get("syndicator_polls", []) if s.name.endswith("_total")]
            built = samples.get("syndicator_feed_builds", [])
            return (
                len(polls) >= 4
                and any(s.labels == {"result": "ok"} for s in built)
                and (config.feeds.dir / "categories" / "good" / "rss.xml").exists()
            )

        wait_until(polled, 15, "four polls and a build in /metrics", ignoring=OSError)
    finally:
        daemon.stop()
        upstream.shutdown()
        upstream.server_close()
    assert request(port, "/healthz").status == 503  # stopped

    response = request(port, "/metrics")
    assert response.status == 200
    assert response.headers["content-type"] == METRICS_CONTENT_TYPE
    samples = metric_samples(response.body.decode())

    def value(family: str, name: str, **labels: str) -> float:
        found = [s.value for s in samples[family] if s.name == name and s.labels == labels]
        assert len(found) == 1, (family, name, labels, samples[family])
        return found[0]

    assert (
        value("syndicator_polls", "syndicator_polls_total", upstream="好", result="imported") == 1
    )
    assert value("syndicator_polls", "syndicator_polls_total", upstream="坏", result="failed") == 1
    assert value("syndicator_polls", "syndicator_polls_total", upstream="断", result="failed") == 1
    assert value("syndicator_polls", "syndicator_polls_total", upstream="去", result="gone") == 1
    kinds = {
        s.labels["kind"]: s.value
        for s in samples["syndicator_fetch_errors"]
        if s.name.endswith("_total")
    }
    assert kinds == {"http": 1, "connect": 1}
    assert (
        value("syndicator_entries_imported", "syndicator_entries_imported_total", upstream="好")
        == 3
    )
    assert value("syndicator_feed_builds", "syndicator_feed_builds_total", result="ok") >= 1
    assert (
        value("syndicator_build_duration_seconds", "syndicator_build_duration_seconds_count") >= 1
    )
    assert value("syndicator_build_duration_seconds", "syndicator_build_duration_seconds_sum") > 0
    last = value(
        "syndicator_last_successful_poll_timestamp_seconds",
        "syndicator_last_successful_poll_timestamp_seconds",
        upstream="好",
    )
    assert started <= last <= time.time()
    # Failures and a 410 Gone are no successful poll.
    assert not [
        s
        for s in samples["syndicator_last_successful_poll_timestamp_seconds"]
        if s.labels["upstream"] != "好"
    ]
