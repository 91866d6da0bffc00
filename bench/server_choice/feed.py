"""Shared, server-independent part of the server-choice benchmark.

Every candidate app (``app_*.py``) serves the same thing through :func:`select`:

* one deterministic ~50 KB RSS document at ``/categories/x/rss.xml``, held in memory as
  bytes plus a precompressed gzip copy (no compression per request);
* a strong ETag per representation (quoted sha256 prefix of the bytes sent; the gzip copy
  has its own ETag, as RFC 9110 requires of strong validators for a different coding);
* ``Last-Modified``, ``Cache-Control: max-age=300``, ``Vary: Accept-Encoding``,
  ``Content-Type: application/rss+xml; charset=utf-8``;
* ``304 Not Modified`` when ``If-None-Match`` matches (weak comparison, ``*`` included) or,
  only when there is no ``If-None-Match``, when ``If-Modified-Since`` is not older than
  ``Last-Modified``;
* the gzip bytes when ``Accept-Encoding`` allows gzip (``gzip;q=0`` does not);
* GET and HEAD; 405 for other methods on the feed; 404 elsewhere.

All headers for every outcome are precomputed, so the apps measure the server library,
not the feed logic. The header-parsing helpers are memoised on the raw header value.

Run ``python feed.py DIR`` to write the same bytes to ``DIR/categories/x/rss.xml`` (and
``rss.xml.gz`` for nginx's ``gzip_static``); it prints the identity ETag.

:func:`start_scheduler` starts an APScheduler 3.x ``BackgroundScheduler`` (worker threads)
with a cheap interval job, so every candidate is measured while running beside scheduler
threads, as the real daemon will.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import sys
import threading
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

FEED_PATH = "/categories/x/rss.xml"
CONTENT_TYPE = "application/rss+xml; charset=utf-8"
TARGET_SIZE = 50 * 1024
# A fixed instant, so the feed bytes, ETags and Last-Modified are identical on every run.
LAST_MODIFIED_TS = 1_709_251_200  # 2024-03-01T00:00:00Z

_CJK = "市场银行利率央行股票基金债券指数收益增长政策经济公司投资风险资金价格交易发布报告数据季度年度预期宏观汇率通胀消费出口"
_ASCII_WORDS = ["rate", "bank", "fund", "chip", "index", "bond", "yield", "quarter", "report"]


def _text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_CJK) for _ in range(n))


def build_feed_bytes(target: int = TARGET_SIZE, seed: int = 1) -> bytes:
    """A deterministic RSS 2.0 document of about ``target`` bytes (UTF-8, CJK-heavy)."""
    rng = random.Random(seed)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        "<title>x</title>\n<link>https://news.example.com/categories/x/</link>\n"
        "<description>Category x</description>\n<language>zh-CN</language>\n"
        '<atom:link href="https://news.example.com/categories/x/rss.xml" rel="self" '
        'type="application/rss+xml"/>\n'
        f"<lastBuildDate>{formatdate(LAST_MODIFIED_TS, usegmt=True)}</lastBuildDate>\n"
    )
    tail = "</channel>\n</rss>\n"
    items: list[str] = []
    size = len(head.encode()) + len(tail.encode())
    i = 0
    while size < target:
        slug = f"NW{rng.randrange(10**17, 10**18)}"
        ts = LAST_MODIFIED_TS - i * 3607
        item = (
            "<item>\n"
            f"<title>{_text(rng, 18)}</title>\n"
            f"<link>https://news.example.com/2024/03/01/{slug}.html</link>\n"
            f'<guid isPermaLink="true">https://news.example.com/2024/03/01/{slug}.html</guid>\n'
            f"<pubDate>{formatdate(ts, usegmt=True)}</pubDate>\n"
            f"<category>{rng.choice(_ASCII_WORDS)}</category>\n"
            f"<description>&lt;p&gt;{_text(rng, 120)}&lt;/p&gt;&lt;p&gt;{_text(rng, 90)}"
            "&lt;/p&gt;</description>\n</item>\n"
        )
        items.append(item)
        size += len(item.encode())
        i += 1
    return (head + "".join(items) + tail).encode("utf-8")


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


class Response:
    """A complete, immutable-by-convention response, with headers ready for each API.

    ``headers`` are (name, value) str pairs including Content-Length where one belongs
    (not on 304; on HEAD it is the length a GET would send); ``headers_b`` are the same as
    lower-case bytes pairs for ASGI.
    """

    __slots__ = ("body", "headers", "headers_b", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        content_length: int | None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.body = body
        if content_length is not None:
            headers = (*headers, ("Content-Length", str(content_length)))
        self.headers = headers
        self.headers_b = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]


class Feed:
    """One feed file: bytes, gzip bytes and every response precomputed."""

    def __init__(self, body: bytes, last_modified: float = LAST_MODIFIED_TS) -> None:
        self.body = body
        self.gz = gzip.compress(body, compresslevel=9, mtime=0)
        self.etag = _etag(body)
        self.etag_gz = _etag(self.gz)
        self.last_modified_ts = int(last_modified)
        self.last_modified = formatdate(self.last_modified_ts, usegmt=True)
        common = (
            ("Last-Modified", self.last_modified),
            ("Cache-Control", "max-age=300"),
            ("Vary", "Accept-Encoding"),
        )
        ident = (("Content-Type", CONTENT_TYPE), ("ETag", self.etag), *common)
        gzh = (
            ("Content-Type", CONTENT_TYPE),
            ("Content-Encoding", "gzip"),
            ("ETag", self.etag_gz),
            *common,
        )
        # 304 carries the validators and cache headers, no body metadata (RFC 9110 15.4.5).
        self.ok = Response(200, "OK", ident, body, len(body))
        self.ok_gz = Response(200, "OK", gzh, self.gz, len(self.gz))
        self.head = Response(200, "OK", ident, b"", len(body))
        self.head_gz = Response(200, "OK", gzh, b"", len(self.gz))
        self.nm = Response(304, "Not Modified", (("ETag", self.etag), *common), b"", None)
        self.nm_gz = Response(304, "Not Modified", (("ETag", self.etag_gz), *common), b"", None)


NOT_FOUND = Response(
    404, "Not Found", (("Content-Type", "text/plain; charset=utf-8"),), b"not found\n", 10
)
NOT_ALLOWED = Response(
    405,
    "Method Not Allowed",
    (("Content-Type", "text/plain; charset=utf-8"), ("Allow", "GET, HEAD")),
    b"method not allowed\n",
    19,
)

# path -> Feed. The scheduler job may swap a value in; a dict item assignment is atomic
# under the GIL, and a Feed is immutable, so request handlers never see a torn feed.
FEEDS: dict[str, Feed] = {FEED_PATH: Feed(build_feed_bytes())}


def _s(v: bytes | str) -> str:
    return v.decode("latin-1") if isinstance(v, bytes) else v


@lru_cache(maxsize=512)
def accepts_gzip(accept_encoding: bytes | str | None) -> bool:
    if not accept_encoding:
        return False
    for part in _s(accept_encoding).split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0:
            return True
    return False


@lru_cache(maxsize=512)
def etag_matches(if_none_match: bytes | str, etag: str) -> bool:
    """Weak comparison, as If-None-Match requires (RFC 9110 13.1.2)."""
    value = _s(if_none_match).strip()
    if value == "*":
        return True
    bare = etag[2:] if etag.startswith("W/") else etag
    for tag in value.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == bare:
            return True
    return False


@lru_cache(maxsize=512)
def not_modified_since(if_modified_since: bytes | str, last_modified_ts: int) -> bool:
    try:
        return parsedate_to_datetime(_s(if_modified_since)).timestamp() >= last_modified_ts
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def select(
    method: str,
    path: str,
    if_none_match: bytes | str | None = None,
    accept_encoding: bytes | str | None = None,
    if_modified_since: bytes | str | None = None,
) -> Response:
    feed = FEEDS.get(path)
    if feed is None:
        return NOT_FOUND
    if method not in ("GET", "HEAD"):
        return NOT_ALLOWED
    gz = accepts_gzip(accept_encoding)
    if if_none_match:
        if etag_matches(if_none_match, feed.etag_gz if gz else feed.etag):
            return feed.nm_gz if gz else feed.nm
    elif if_modified_since and not_modified_since(if_modified_since, feed.last_modified_ts):
        return feed.nm_gz if gz else feed.nm
    if method == "HEAD":
        return feed.head_gz if gz else feed.head
    return feed.ok_gz if gz else feed.ok


# --------------------------------------------------------------------------- scheduler

_scheduler = None
TICKS = {"n": 0}


def _tick() -> None:
    # Stand-in for the daemon's poll/rebuild job: cheap, and proves the thread runs.
    TICKS["n"] += 1
    FEEDS[FEED_PATH] = FEEDS[FEED_PATH]


BUSY = {"runs": 0, "seconds": 0.0}


def _busy_rebuild() -> None:
    """A GIL-heavy job like the daemon's feed rebuild: rebuild the feed several times in
    pure Python, then swap in an (identical, so ETags stay valid) new Feed object."""
    import time

    t0 = time.perf_counter()
    n = int(os.environ.get("SC_BUSY_REPEAT", "40"))
    body = b""
    for _ in range(n):
        body = build_feed_bytes()
    FEEDS[FEED_PATH] = Feed(body)
    BUSY["runs"] += 1
    BUSY["seconds"] += time.perf_counter() - t0


def start_scheduler(interval_s: float = 2.0) -> object | None:
    """Start an APScheduler 3.x BackgroundScheduler beside the server (unless disabled).

    With SC_BUSY_JOB=1 it also runs :func:`_busy_rebuild` every second.
    """
    global _scheduler
    if os.environ.get("SC_NO_SCHEDULER") == "1":
        return None
    from apscheduler.schedulers.background import BackgroundScheduler

    _scheduler = BackgroundScheduler(daemon=True)
    _scheduler.add_job(_tick, "interval", seconds=interval_s, id="tick")
    if os.environ.get("SC_BUSY_JOB") == "1":
        _scheduler.add_job(_busy_rebuild, "interval", seconds=1.0, id="busy")
    _scheduler.start()
    return _scheduler


def stop_scheduler() -> None:
    if _scheduler is not None and _scheduler.running:
        _scheduler.shutdown(wait=False)
    if BUSY["runs"]:
        print(
            f"busy job: {BUSY['runs']} runs, mean {1000 * BUSY['seconds'] / BUSY['runs']:.0f} ms",
            flush=True,
        )


def ready(name: str, port: int) -> None:
    """One line on stdout for the runner: who is serving, and with how many threads."""
    print(
        f"READY {name} pid={os.getpid()} port={port} threads={threading.active_count()}",
        flush=True,
    )


def port_from_argv(default: int = 8089) -> int:
    return int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("SC_PORT", default))


def write_files(out: Path) -> str:
    feed = FEEDS[FEED_PATH]
    d = out / FEED_PATH.lstrip("/").rsplit("/", 1)[0]
    d.mkdir(parents=True, exist_ok=True)
    (d / "rss.xml").write_bytes(feed.body)
    (d / "rss.xml.gz").write_bytes(feed.gz)
    for p in (d / "rss.xml", d / "rss.xml.gz"):
        os.utime(p, (feed.last_modified_ts, feed.last_modified_ts))
    return feed.etag


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python feed.py OUTDIR")
    print(write_files(Path(sys.argv[1])))
