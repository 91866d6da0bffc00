"""Upstreams for the poll tests: feed documents (RSS 2.0, Atom 1.0) made from items, a
scriptable upstream on pytest-httpserver, a raw threaded HTTP server for hostile and daemon
cases, the configs that poll them, polls, and what a poll left behind (state rows, post files,
snapshots)."""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from werkzeug import Request, Response

from support.site import CST, FIXTURES, SITE_TOML, make_post_folders
from syndicator import refresh
from syndicator.core.config import Config, load_config
from syndicator.feeds.build import BuildReport
from syndicator.site.files import find_post_files
from syndicator.site.posts import Post, load_post
from syndicator.state.db import State, UpstreamRow
from syndicator.upstreams.poll import PollReport, due_upstreams, make_fetcher

UPSTREAM_FIXTURES = FIXTURES / "upstream"  # feed documents (and a page) as upstreams serve them
BASE_DATE = datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)

# --- feed documents --------------------------------------------------------------------------


@dataclass
class Item:
    """One upstream entry, rendered into RSS 2.0 or Atom 1.0 by the functions below."""

    n: int
    title: str | None = None
    link: str | None = None
    guid: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    html: str | None = None

    def __post_init__(self) -> None:
        self.title = self.title if self.title is not None else f"Story {self.n}"
        self.link = self.link if self.link is not None else f"http://news.example/{self.n}.html"
        self.guid = self.guid if self.guid is not None else f"story-{self.n}"
        self.published = self.published or BASE_DATE + timedelta(minutes=self.n)
        self.html = self.html if self.html is not None else f"<p>Body of story {self.n}.</p>"


def items(count: int, start: int = 1) -> list[Item]:
    return [Item(n) for n in range(start, start + count)]


def rss(entries: Iterable[Item], ttl: int | None = None, title: str = "Upstream") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        f"<channel><title>{html.escape(title)}</title><link>http://news.example/</link>",
        "<description>Test upstream</description>",
    ]
    if ttl is not None:
        parts.append(f"<ttl>{ttl}</ttl>")
    for item in entries:
        parts.append("<item>")
        parts.append(f"<title>{html.escape(item.title or '')}</title>")
        if item.link:
            parts.append(f"<link>{html.escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{html.escape(item.guid)}</guid>')
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        parts.append(f"<content:encoded><![CDATA[{item.html}]]></content:encoded>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode()


def atom(entries: Iterable[Item], title: str = "Upstream") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{html.escape(title)}</title><id>urn:test:feed</id>",
        f"<updated>{BASE_DATE.isoformat()}</updated>",
    ]
    for item in entries:
        parts.append("<entry>")
        parts.append(f"<title>{html.escape(item.title or '')}</title>")
        parts.append(f"<id>{html.escape(item.guid or '')}</id>")
        if item.link:
            parts.append(f'<link rel="alternate" href="{html.escape(item.link)}"/>')
        if item.published:
            parts.append(f"<published>{item.published.isoformat()}</published>")
        updated = item.updated or item.published
        if updated:
            parts.append(f"<updated>{updated.isoformat()}</updated>")
        parts.append(f'<content type="html">{html.escape(item.html or "")}</content>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode()


# --- a scriptable upstream -------------------------------------------------------------------


@dataclass
class Upstream:
    """One path on the test server: what it answers, and the requests it saw.

    With ``etag``/``last_modified`` set, it answers 304 when a request's validators match.
    """

    path: str
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    requests: list[dict[str, str]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        headers = dict(self.headers)
        if self.etag:
            headers["ETag"] = self.etag
        if self.last_modified:
            headers["Last-Modified"] = self.last_modified
        if self.status == 200 and (
            (self.etag and request.headers.get("If-None-Match") == self.etag)
            or (
                self.last_modified
                and not self.etag
                and request.headers.get("If-Modified-Since") == self.last_modified
            )
        ):
            return Response(status=304, headers=headers)
        if self.status != 200:
            return Response(self.body, status=self.status, headers=headers)
        return Response(self.body, status=200, headers=headers, content_type=self.content_type)


def serve(httpserver, path: str, body: bytes = b"", **options) -> Upstream:
    upstream = Upstream(path, body, **options)
    httpserver.expect_request(path).respond_with_handler(upstream.handle)
    return upstream


def redirect(httpserver, path: str, target: str, status: int) -> list[dict[str, str]]:
    seen: list[dict[str, str]] = []

    def handle(request: Request) -> Response:
        seen.append(dict(request.headers))
        return Response(status=status, headers={"Location": target})

    httpserver.expect_request(path).respond_with_handler(handle)
    return seen


# --- configs, polls, snapshots ---------------------------------------------------------------

POLLING = """
[polling]
interval = "100s"
min_interval = "1s"
max_interval = "1000s"
timeout = "5s"
backfill = {backfill}
allow_private_addresses = true
"""


def upstream_toml(name: str, url: str, category: str, tags: Iterable[str] = ()) -> str:
    tag_list = ", ".join(f'"{t}"' for t in tags)
    return (
        f'\n[[upstreams]]\nname = "{name}"\nurl = "{url}"\ncategory = "{category}"\n'
        f"tags = [{tag_list}]\n"
    )


def write_config(
    folder: Path, upstreams: Iterable[tuple], backfill: int = 20, extra: str = ""
) -> Path:
    """tmp config: the standard test site, fast polling, loopback allowed, these upstreams
    (``(name, url, category, tags)`` tuples), and its post folders made."""
    text = SITE_TOML + POLLING.format(backfill=backfill) + extra
    text += "".join(upstream_toml(*u) for u in upstreams)
    path = folder / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    make_post_folders(load_config(path))
    return path


def make_config(folder: Path, upstreams: Iterable[tuple], **options) -> Config:
    return load_config(write_config(folder, upstreams, **options))


def run_poll(
    config: Config, names: Iterable[str] = (), force: bool = True
) -> tuple[PollReport, BuildReport | None]:
    with State.open(config.state.path) as state, make_fetcher(config) as fetcher:
        upstreams = due_upstreams(config, state, time.time(), names, force)
        return refresh.poll(config, state, upstreams, fetcher), refresh.build(config, state)


def row(config: Config, name: str) -> UpstreamRow:
    """The state's row of the upstream configured as ``name``."""
    [upstream] = [u for u in config.upstreams if u.name == name]
    with State.open(config.state.path) as state:
        found = state.upstream(upstream.key)
    assert found is not None, f"no state row for {name}"
    return found


def snapshot(*folders: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under the folders: bytes and mtime (ns)."""
    return {
        str(path): (path.read_bytes(), path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def posts_folder(config: Config) -> Path:
    return config.posts.dirs[0]


def post_files(config: Config) -> list[Path]:
    return sorted(p for p in posts_folder(config).glob("*.md") if not p.name.startswith("."))


def loaded_posts(config: Config) -> list[tuple[Post, str]]:
    """Every post the poller wrote, loaded as ``build`` loads it."""
    loaded = []
    for file in find_post_files(config):
        result = load_post(file, config)
        assert result is not None
        loaded.append(result)
    return loaded


def front_matter_value(path: Path, key: str) -> str | None:
    for line in path.read_text(encoding="utf-8").split("\n---\n", 1)[0].splitlines():
        if line.startswith(f"{key}: "):
            return line.removeprefix(f"{key}: ")
    return None


# --- a raw HTTP server: hostile upstreams, and the daemon's -------------------------------------

# A route's handler: it writes the whole answer itself, and may watch ``stop`` (set on close).
Handler = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class HostileServer:
    """Threaded HTTP/1.0 server: each path answered by a handler writing raw bytes."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[str] = []
        self.stop = threading.Event()
        routes, requests, stop = self.routes, self.requests, self.stop

        class Dispatch(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                handler = routes.get(self.path.split("?")[0])
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
                    if handler is None:
                        self.send_error(404)
                    else:
                        handler(self, stop)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Dispatch)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.port = self.server.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def send(
    request: BaseHTTPRequestHandler,
    body: bytes,
    content_type: str = "application/rss+xml",
    headers: dict[str, str] | None = None,
) -> None:
    """Answer ``request`` 200 with ``body`` (and ``headers``)."""
    request.send_response(200)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def answer(
    body: bytes, content_type: str = "application/rss+xml", headers: dict[str, str] | None = None
) -> Handler:
    """A route's handler: every request answered 200 with ``body``."""

    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        send(request, body, content_type, headers)

    return handle
