"""Many local upstream feeds from one HTTP server, with ETags, for timing ``syndicator poll``.

Usage::

    python bench/upstreams.py --port 18901 [--feeds 500] [--entries 50] [--entry-bytes 2000]

Serves ``/feeds/<n>.xml`` for ``n`` in ``0 .. feeds-1``: an RSS 2.0 feed of ``--entries``
items (title, link, guid, pubDate, an HTML description of about ``--entry-bytes`` bytes of
CJK text made by ``generate_site.py``).  Every feed has a *generation*, shared by all
feeds: generation ``g`` holds entries ``g*entries .. g*entries + entries - 1``, so moving to
the next generation gives every feed ``--entries`` new entries at once.

* ``ETag: "u<n>-g<g>"`` and a fixed ``Last-Modified`` per generation; ``If-None-Match``
  (or ``If-Modified-Since``) that still matches gets ``304 Not Modified`` with no body.
* ``POST /_generation/<g>`` switches every feed to generation ``g`` (``204``).
* ``GET /_health`` answers ``200 ok`` once the first two generations are prepared.
* ``GET /_stats`` answers the request counts by status, as JSON.

HTTP/1.1 with keep-alive, one thread per connection (``ThreadingHTTPServer``); bodies are
prepared in memory ahead of time, so the server does as little as it can while measured.
It listens on 127.0.0.1 only and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import signal
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import escape

HERE = Path(__file__).resolve().parent
CST = timezone(timedelta(hours=8))
# Entries are dated from here on, one minute apart per entry number: in the past, and newer
# than every post generate_site.py writes (2020-2022).
FIRST_ENTRY = datetime(2023, 3, 1, tzinfo=CST)
POOL_SIZE = 509


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_site", HERE / "generate_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_site"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def description_pool(entry_bytes: int, size: int = POOL_SIZE) -> list[str]:
    """``size`` HTML descriptions of about ``entry_bytes`` bytes: the first paragraphs of
    generated posts, cut at a paragraph end once past the size."""
    generate_site = _generator()
    rng = random.Random(7)
    pool = []
    for index in range(size):
        _, text = generate_site.make_post(rng, index)
        body = text.split("\n---\n", 1)[1]
        paragraphs = body.split('<p class="em_media">', 1)[0].split("</p>")
        chosen, length = [], 0
        for paragraph in paragraphs:
            if not paragraph:
                continue
            chosen.append(paragraph + "</p>")
            length += len(chosen[-1].encode())
            if length >= entry_bytes:
                break
        pool.append("".join(chosen))
    return pool


class Feeds:
    """The feeds' bodies for each generation, made once and kept."""

    def __init__(self, feeds: int, entries: int, entry_bytes: int) -> None:
        self.feeds = feeds
        self.entries = entries
        self.pool = description_pool(entry_bytes)
        self.generation = 0
        self.lock = threading.Lock()
        self._bodies: dict[int, list[bytes]] = {}
        self.stats: Counter[int] = Counter()

    def bodies(self, generation: int) -> list[bytes]:
        with self.lock:
            made = self._bodies.get(generation)
            if made is None:
                made = [self._feed(n, generation) for n in range(self.feeds)]
                self._bodies[generation] = made
            return made

    @staticmethod
    def etag(feed: int, generation: int) -> str:
        return f'"u{feed}-g{generation}"'

    def newest(self, generation: int) -> datetime:
        return FIRST_ENTRY + timedelta(minutes=(generation + 1) * self.entries - 1)

    def last_modified(self, generation: int) -> str:
        return format_datetime(self.newest(generation).astimezone(UTC), usegmt=True)

    def _feed(self, feed: int, generation: int) -> bytes:
        items = []
        first = generation * self.entries
        for number in range(first + self.entries - 1, first - 1, -1):  # newest first
            link = f"http://upstream{feed}.example.com/news/{number}.html"
            date = FIRST_ENTRY + timedelta(minutes=number, seconds=feed % 60)
            text = self.pool[(feed * 7919 + number) % len(self.pool)]
            items.append(
                "<item>"
                f"<title>上游{feed}号 第{number}条 {escape(text[3:23])}</title>"
                f"<link>{link}</link>"
                f'<guid isPermaLink="true">{link}</guid>'
                f"<pubDate>{format_datetime(date)}</pubDate>"
                f"<description>{escape(text)}</description>"
                "</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0"><channel>'
            f"<title>上游 {feed}</title>"
            f"<link>http://upstream{feed}.example.com/</link>"
            f"<description>Bench upstream {feed}</description>"
            f"<lastBuildDate>{format_datetime(self.newest(generation))}</lastBuildDate>"
            + "".join(items)
            + "</channel></rss>\n"
        ).encode()


def make_handler(feeds: Feeds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bench-upstreams"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304 and self.command != "HEAD":
                self.wfile.write(body)
            feeds.stats[status] += 1

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/_health":
                self._send(200, b"ok\n", {"Content-Type": "text/plain"})
                return
            if path == "/_stats":
                body = json.dumps({str(k): v for k, v in feeds.stats.items()}).encode()
                self._send(200, body, {"Content-Type": "application/json"})
                return
            name = path.removeprefix("/feeds/").removesuffix(".xml")
            if not path.startswith("/feeds/") or not name.isdigit() or int(name) >= feeds.feeds:
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            number, generation = int(name), feeds.generation
            etag = feeds.etag(number, generation)
            last_modified = feeds.last_modified(generation)
            validators = {"ETag": etag, "Last-Modified": last_modified}
            if_none_match = self.headers.get("If-None-Match")
            if_modified_since = self.headers.get("If-Modified-Since")
            fresh = (
                etag in if_none_match.replace("W/", "")
                if if_none_match is not None
                else if_modified_since == last_modified
            )
            if fresh:
                self._send(304, b"", validators)
                return
            body = feeds.bodies(generation)[number]
            self._send(
                200, body, {"Content-Type": "application/rss+xml; charset=utf-8"} | validators
            )

        do_HEAD = do_GET  # noqa: N815 (the name http.server looks up)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            value = self.path.removeprefix("/_generation/")
            if not self.path.startswith("/_generation/") or not value.isdigit():
                self._send(404, b"not found\n", {"Content-Type": "text/plain"})
                return
            feeds.bodies(int(value))
            feeds.generation = int(value)
            self._send(204, b"", {})

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local upstream feeds for poll benchmarks.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--entry-bytes", type=int, default=2000)
    args = parser.parse_args(argv)
    feeds = Feeds(args.feeds, args.entries, args.entry_bytes)
    feeds.bodies(0)
    feeds.bodies(1)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(feeds))
    server.daemon_threads = True
    server.request_queue_size = 1024

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"serving {args.feeds} feeds on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
