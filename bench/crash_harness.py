"""Crash harness: ``syndicator run`` killed with SIGKILL at random moments, restarted each time.

Usage::

    python bench/crash_harness.py --kills 200 --seed 1        # the long run (a tail of 20)
    python bench/crash_harness.py --kills 200 --seed 1 --tail 0
    python bench/crash_harness.py --kills 10 --seed 1 --max-delay 1.5 --tail 0   # CI

The harness serves several upstream feeds (RSS 2.0, Atom 1.0 and JSON Feed in turn) from a
local HTTP server in this process. A thread adds an entry every few hundred milliseconds and
now and then updates an existing Atom or JSON entry (new title, newer ``updated``). Every feed
always lists its whole history, so an entry missing from the posts was lost by syndicator,
never scrolled away. The daemon (a subprocess of this checkout's code, on a temporary config
and a free port) polls every upstream each second, writes posts, rebuilds feeds, and is killed
at one of three kinds of moment, drawn at random:

- before it is up (a quarter of the kills): recovering pending posts, opening the state,
  binding its port;
- a uniformly random moment within ``--max-delay`` seconds after it answered ``/healthz``
  (half): mid-poll, mid-post, mid-build, mid-commit;
- 0.1-0.4 s after a new post appears (a quarter): the poll marking its posts written, the
  rebuild it asked for.

The last ``--tail`` kills come after the upstreams stopped changing: each adds one entry dated
a few seconds back (feeds often list entries late) and kills just after its post appears, so
that a rebuild cut short is not covered up by later changes.

After each kill, while nothing runs: every feed file parses (XML through lxml, JSON through
json) and has the right root; every post loads; no upstream entry has two posts; the SQLite
state passes ``PRAGMA integrity_check``.
After each restart, once healthy: every entry the state records as written has its post
(none lost), and the feeds served over HTTP parse; temporary files a kill left are not served.
At the end the upstreams stop changing, the daemon is started once more and left to catch
up, and then: every entry of the upstreams' full history has exactly one post, with its
latest title; the feeds equal, byte for byte, those of a ``syndicator build`` of a copy of the
posts with a fresh state; the daemon stops cleanly on SIGTERM.

The seed fixes every random choice the harness makes (entries, updates, kill delays); the
interleaving with the daemon's threads is the scheduler's, so two runs with one seed kill
at similar, not identical, moments. Exit status: 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from lxml import etree

REPOSITORY = Path(__file__).resolve().parents[1]
FORMATS = ("rss", "atom", "json")
XML_ROOTS = {
    "rss.xml": "rss",
    "atom.xml": "{http://www.w3.org/2005/Atom}feed",
    "feeds.opml": "opml",
}
HEALTH_TIMEOUT = 20.0
CATCH_UP_TIMEOUT = 120.0  # for the posts, after the upstreams stopped changing
SETTLE_TIMEOUT = 15.0  # for the feeds, once the posts are complete (a rescan is every 2 s)
STOP_TIMEOUT = 30.0
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- the upstreams -----------------------------------------------------------------------------


@dataclass
class Entry:
    upstream: str
    n: int
    published: datetime
    updated: datetime
    version: int = 0

    @property
    def guid(self) -> str:
        return f"urn:harness:{self.upstream}:{self.n}"

    @property
    def link(self) -> str:
        return f"http://news.example/{self.upstream}/{self.n}.html"

    @property
    def title(self) -> str:
        suffix = f" (修订 {self.version})" if self.version else ""
        return f'{self.upstream} 第{self.n}条 <&> "新闻"{suffix}'

    @property
    def content(self) -> str:
        return f"<p>正文 {self.n}，版本 {self.version}。</p><p><b>粗体</b> &amp; 链接</p>"


class Upstreams:
    """The feeds served, with their full history; thread-safe."""

    def __init__(self, count: int) -> None:
        self.formats = {f"up{i}": FORMATS[i % len(FORMATS)] for i in range(count)}
        self.entries: dict[str, list[Entry]] = {name: [] for name in self.formats}
        self.versions = dict.fromkeys(self.formats, 0)
        self.lock = threading.Lock()
        self.requests = 0

    def add(self, name: str, age: float = 0.0) -> None:
        """A new entry, published ``age`` seconds ago (feeds often list entries late)."""
        with self.lock:
            published = _now() - timedelta(seconds=round(age))
            self.entries[name].append(
                Entry(name, len(self.entries[name]) + 1, published, published)
            )
            self.versions[name] += 1

    def update(self, name: str, rng: random.Random) -> bool:
        """A new version of a random entry; only Atom and JSON Feed carry an updated date."""
        with self.lock:
            if self.formats[name] == "rss" or not self.entries[name]:
                return False
            entry = rng.choice(self.entries[name])
            entry.version += 1
            entry.updated = max(_now(), entry.updated)
            self.versions[name] += 1
            return True

    def history(self) -> dict[str, Entry]:
        """guid → entry, every entry ever served."""
        with self.lock:
            return {e.guid: e for entries in self.entries.values() for e in entries}

    def document(self, name: str) -> tuple[bytes, str, str]:
        """(body, ETag, Content-Type) of the feed as it is now."""
        with self.lock:
            entries = list(reversed(self.entries[name]))  # newest first
            snapshot = [(e, e.title, e.content, e.updated) for e in entries]
            etag = f'"{name}-{self.versions[name]}"'
            self.requests += 1
        render = {"rss": _rss, "atom": _atom, "json": _json_feed}[self.formats[name]]
        body, content_type = render(name, snapshot)
        return body, etag, content_type


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _rss(name: str, entries: list[tuple[Entry, str, str, datetime]]) -> tuple[bytes, str]:
    items = "".join(
        f"<item><title>{html.escape(title)}</title><link>{e.link}</link>"
        f'<guid isPermaLink="false">{e.guid}</guid>'
        f"<pubDate>{format_datetime(e.published)}</pubDate>"
        f"<description>{html.escape(content)}</description></item>"
        for e, title, content, _ in entries
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>http://news.example/{name}/</link>"
        f"<description>{name}</description>{items}</channel></rss>"
    )
    return body.encode(), "application/rss+xml; charset=utf-8"


def _atom(name: str, entries: list[tuple[Entry, str, str, datetime]]) -> tuple[bytes, str]:
    items = "".join(
        f"<entry><title>{html.escape(title)}</title><id>{e.guid}</id>"
        f'<link rel="alternate" href="{e.link}"/>'
        f"<published>{e.published.isoformat()}</published>"
        f"<updated>{updated.isoformat()}</updated>"
        f'<content type="html">{html.escape(content)}</content></entry>'
        for e, title, content, updated in entries
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{name}</title><id>urn:harness:{name}</id>"
        f"<updated>2020-01-01T00:00:00Z</updated>{items}</feed>"
    )
    return body.encode(), "application/atom+xml; charset=utf-8"


def _json_feed(name: str, entries: list[tuple[Entry, str, str, datetime]]) -> tuple[bytes, str]:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": name,
        "items": [
            {
                "id": e.guid,
                "url": e.link,
                "title": title,
                "content_html": content,
                "date_published": e.published.isoformat(),
                "date_modified": updated.isoformat(),
            }
            for e, title, content, updated in entries
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode(), "application/feed+json"


class UpstreamServer:
    """The upstreams on 127.0.0.1, answering 304 to a matching If-None-Match."""

    def __init__(self, upstreams: Upstreams) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.strip("/").partition(".")[0]
                if name not in upstreams.formats:
                    self.send_error(404)
                    return
                body, etag, content_type = upstreams.document(name)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mutator(threading.Thread):
    """Adds an entry every few hundred milliseconds; one change in five is an update."""

    def __init__(self, upstreams: Upstreams, rng: random.Random, rate: float) -> None:
        super().__init__(daemon=True)
        self.upstreams = upstreams
        self.rng = rng
        self.mean_delay = 1.0 / rate
        self.stopping = threading.Event()

    def run(self) -> None:
        names = list(self.upstreams.formats)
        while not self.stopping.wait(self.rng.uniform(0.2, 1.8) * self.mean_delay):
            name = self.rng.choice(names)
            if self.rng.random() < 0.2 and self.upstreams.update(name, self.rng):
                continue
            self.upstreams.add(name)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# --- the site and the daemon -----------------------------------------------------------------


CONFIG = """\
[site]
title = "崩溃测试站"
url = "http://127.0.0.1:{port}"
timezone = "Asia/Shanghai"
language = "zh-CN"

[posts]
dirs = ["_posts"]
rescan_interval = "2s"

[feeds]
dir = "feeds"
base_url = "http://127.0.0.1:{port}"
max_items = 50

[state]
path = "var/state.db"

[polling]
interval = "1s"
min_interval = "1s"
max_interval = "5s"
timeout = "3s"
backfill = 1000000
allow_private_addresses = true

[server]
port = {port}
"""

UPSTREAM = """
[[upstreams]]
name = "{name}"
url = "{url}/{name}.feed"
category = "cat-{name}"
tags = ["标签 {name}", "all"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Site:
    """A temporary site: config, posts, feeds and state, and the daemon running on it."""

    def __init__(self, root: Path, upstreams: Upstreams, upstream_url: str) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "syndicator.toml"
        text = CONFIG.format(port=self.port)
        text += "".join(UPSTREAM.format(name=n, url=upstream_url) for n in upstreams.formats)
        self.config.write_text(text, encoding="utf-8")
        self.posts = root / "_posts"
        self.posts.mkdir()
        self.feeds = root / "feeds"
        self.state = root / "var" / "state.db"
        self.log_path = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "syndicator", "--config", str(self.config), "run"],
                cwd=self.root,
                env=syndicator_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> int | None:
        """SIGKILL; the exit status if it had died on its own before (else None)."""
        assert self.process is not None
        died = self.process.poll()
        if died is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return died

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return -1

    def healthy(self) -> bool:
        status, _ = http_get(self.url + "/healthz")
        return status == 200

    def wait_healthy(self) -> bool:
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            if self.healthy():
                return True
            time.sleep(0.02)
        return False


def syndicator_environment() -> dict[str, str]:
    """This checkout's syndicator, whatever is installed, whatever the working folder."""
    environment = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    paths = [str(REPOSITORY), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""
    except (OSError, urllib.error.URLError):
        return 0, b""


# --- the checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostInfo:
    path: Path
    guid: str | None
    source_url: str | None
    title: str | None


class PostReader:
    """Post files and their front matter, re-read only when a file changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[Path, tuple[tuple[int, int, int], PostInfo]] = {}

    def read(self) -> tuple[list[PostInfo], list[str]]:
        """(every post, problems: files that do not load)."""
        posts: list[PostInfo] = []
        problems: list[str] = []
        for path in sorted(self.folder.glob("*.md")):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            cached = self._cache.get(path)
            if cached is None or cached[0] != signature:
                try:
                    cached = (signature, _load_post(path))
                except ValueError as error:
                    problems.append(f"{path.name}: {error}")
                    continue
                self._cache[path] = cached
            posts.append(cached[1])
        return posts, problems


def _load_post(path: Path) -> PostInfo:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[3:]:
        raise ValueError("no complete front matter")
    front = text[4:].split("\n---\n", 1)[0]
    try:
        meta = yaml.load(front, Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        raise ValueError(f"invalid YAML: {error}") from None
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    return PostInfo(path, meta.get("guid"), meta.get("source_url"), meta.get("title"))


def posts_by_guid(posts: list[PostInfo]) -> dict[str, list[PostInfo]]:
    found: dict[str, list[PostInfo]] = {}
    for post in posts:
        key = post.guid or f"url:{post.source_url}"
        found.setdefault(key, []).append(post)
    return found


def feed_problems(folder: Path) -> list[str]:
    """Every served file under ``folder`` that is not complete, well-formed XML/JSON/HTML."""
    problems = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in relative.split("/")):
            continue  # hidden files (temporaries) are never served
        try:
            problem = _file_problem(path, path.read_bytes())
        except OSError as error:
            problem = str(error)
        if problem:
            problems.append(f"{relative}: {problem}")
    return problems


def _file_problem(path: Path, data: bytes) -> str | None:
    if path.suffix in (".xml", ".opml"):
        try:
            root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False))
        except etree.XMLSyntaxError as error:
            return f"not well-formed XML ({error})"
        expected = XML_ROOTS.get(path.name)
        if expected and root.tag != expected:
            return f"root element {root.tag}, expected {expected}"
        return None
    if path.suffix == ".json":
        try:
            document = json.loads(data)
        except ValueError as error:
            return f"not valid JSON ({error})"
        if not isinstance(document, dict) or "items" not in document:
            return "not a JSON Feed"
        return None
    if path.suffix == ".html":
        return None if data.rstrip().endswith(b"</html>") else "incomplete HTML"
    return f"unexpected file {path.name}"


def integrity_problems(state: Path) -> list[str]:
    if not state.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(state, timeout=30)) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as error:
        return [f"{state}: {error}"]
    return [] if rows == [("ok",)] else [f"{state}: {row[0]}" for row in rows]


def recorded_posts(state: Path) -> dict[str, str]:
    """entry key → post path of every entry the state says is written to its post."""
    if not state.exists():
        return {}
    with contextlib.closing(sqlite3.connect(state, timeout=30)) as db:
        try:
            rows = db.execute(
                "SELECT entry_key, post_path FROM imported_entry "
                "WHERE post_path != '' AND pending_text IS NULL"
            ).fetchall()
        except sqlite3.OperationalError:  # a kill before the schema was made
            return {}
    return dict(rows)


def pending_count(state: Path) -> int:
    with contextlib.closing(sqlite3.connect(state, timeout=30)) as db:
        return db.execute(
            "SELECT count(*) FROM imported_entry WHERE pending_text IS NOT NULL"
        ).fetchone()[0]


def tree(folder: Path) -> dict[str, bytes]:
    """Every non-hidden file under ``folder``: relative path → bytes."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not any(p.startswith(".") for p in relative.split("/")):
            files[relative] = path.read_bytes()
    return files


def hidden_temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp")) if folder.is_dir() else []


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Tally:
    kills: int = 0
    early_kills: int = 0  # before the daemon answered /healthz
    restart_checks: int = 0
    feed_checks: int = 0
    died_on_its_own: int = 0
    entries: int = 0
    updates: int = 0
    posts: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    stale: int = 0
    invalid_feeds: int = 0
    broken_posts: int = 0
    integrity_failures: int = 0
    temporaries_left: int = 0  # distinct temporary files found after kills
    temporaries_served: int = 0
    temporaries_at_end: int = 0  # still there after the final run: never cleaned up
    final_equals_clean_build: bool = False
    clean_stop: bool = False
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr, flush=True)


class Harness:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.upstreams = Upstreams(args.upstreams)
        self.server = UpstreamServer(self.upstreams)
        self.site = Site(root, self.upstreams, self.server.url)
        self.reader = PostReader(self.site.posts)
        self.tally = Tally()
        self.temporaries: set[Path] = set()  # every temporary file a kill left behind
        self.leftovers: list[Path] = []  # those in the feed folder after the last kill
        # Separate streams, so the entries drawn do not depend on the kill delays.
        self.mutator = Mutator(self.upstreams, random.Random(self.rng.random()), args.rate)

    def run(self) -> Tally:
        started = time.monotonic()
        for _ in range(3):  # something to import from the first start on
            for name in self.upstreams.formats:
                self.upstreams.add(name)
        self.mutator.start()
        try:
            tail = min(self.args.tail, self.args.kills)
            for number in range(1, self.args.kills + 1):
                if number == self.args.kills - tail + 1:
                    self.mutator.stop()
                self.cycle(number, tail=number > self.args.kills - tail)
            if self.mutator.is_alive():
                self.mutator.stop()
            self.finish()
        finally:
            if self.mutator.is_alive():
                self.mutator.stop()
            if self.site.process is not None and self.site.process.poll() is None:
                self.site.kill()
            self.server.close()
        self.tally.seconds = time.monotonic() - started
        return self.tally

    def cycle(self, number: int, tail: bool) -> None:
        """Start the daemon, let it live a random while, SIGKILL it, check what it left.

        Three kinds of life, drawn at random: a short one, ending before ``/healthz`` answers
        (recovery, opening the state, binding the port); one ending a random moment after it
        answered; one ending just after a new post appears (the poll committing, the
        rebuild it asked for). Tail cycles, after the upstreams stopped changing, add one
        entry dated a few seconds back and always end just after its post appears.
        """
        if tail:
            self.upstreams.add(
                self.rng.choice(list(self.upstreams.formats)), self.rng.uniform(3, 10)
            )
        before = self.post_count()
        self.site.start()
        kind = "post" if tail else self.rng.choices(("early", "random", "post"), (1, 2, 1))[0]
        if kind == "early":
            time.sleep(self.rng.uniform(0.0, 0.5))
            self.tally.early_kills += 1
        elif not self.site.wait_healthy():
            self.tally.fail(f"kill {number}: the daemon did not come up (see daemon.log)")
        else:
            self.after_restart(number)
            if kind == "post":
                self.wait_for_posts(before, tail)
                time.sleep(self.rng.uniform(0.1, 0.4))
            else:
                time.sleep(self.rng.uniform(0.0, self.args.max_delay))
        died = self.site.kill()
        self.tally.kills += 1
        if died is not None:
            self.tally.died_on_its_own += 1
            self.tally.fail(f"kill {number}: the daemon had exited by itself with {died}")
        self.after_kill(number)
        if self.args.verbose:
            print(f"kill {number} ({kind}{', tail' if tail else ''}): {self.post_count()} posts")

    def post_count(self) -> int:
        return sum(1 for _ in self.site.posts.glob("*.md"))

    def wait_for_posts(self, before: int, tail: bool) -> None:
        """Until a post more than ``before`` is on disk (a few seconds at most)."""
        deadline = time.monotonic() + (5.0 if tail else self.args.max_delay)
        while time.monotonic() < deadline and self.post_count() <= before:
            time.sleep(0.005)

    def after_kill(self, number: int) -> None:
        """Everything on disk is as the kill left it: it must all be sound already."""
        self.tally.feed_checks += 1
        for problem in feed_problems(self.site.feeds):
            self.tally.invalid_feeds += 1
            self.tally.fail(f"after kill {number}: {problem}")
        for problem in integrity_problems(self.site.state):
            self.tally.integrity_failures += 1
            self.tally.fail(f"after kill {number}: integrity: {problem}")
        posts, problems = self.reader.read()
        for problem in problems:
            self.tally.broken_posts += 1
            self.tally.fail(f"after kill {number}: broken post {problem}")
        for key, copies in posts_by_guid(posts).items():
            if len(copies) > 1:
                self.tally.fail(f"after kill {number}: {key} has {len(copies)} posts")
        self.leftovers = hidden_temporaries(self.site.feeds)
        self.temporaries.update(self.leftovers)
        self.temporaries.update(hidden_temporaries(self.site.posts))

    def after_restart(self, number: int) -> None:
        """Recovery has run: what the state calls written is on disk; served feeds parse."""
        self.tally.restart_checks += 1
        recorded = recorded_posts(self.site.state)
        posts, _ = self.reader.read()
        on_disk = {post.path.name: post for post in posts}
        for key, path in recorded.items():
            post = on_disk.get(path)
            if post is None or post.guid != key:
                self.tally.fail(f"after restart {number}: {key} recorded as {path}, not on disk")
        for name in ("rss.xml", "atom.xml", "feed.json"):
            status, body = http_get(f"{self.site.url}/{name}")
            if status == 200 and (problem := _file_problem(Path(name), body)):
                self.tally.invalid_feeds += 1
                self.tally.fail(f"after restart {number}: served /{name}: {problem}")
        for leftover in self.leftovers:
            relative = leftover.relative_to(self.site.feeds).as_posix()
            status, _ = http_get(f"{self.site.url}/{urllib.request.quote(relative)}")
            if status != 404:
                self.tally.temporaries_served += 1
                self.tally.fail(f"after restart {number}: temporary {relative} served ({status})")

    def finish(self) -> None:
        """Upstreams frozen: let the daemon catch up, then compare everything."""
        self.site.start()
        if not self.site.wait_healthy():
            self.tally.fail("final start: the daemon did not come up")
            return
        history = self.upstreams.history()
        self.tally.entries = len(history)
        self.tally.updates = sum(entry.version for entry in history.values())
        deadline = time.monotonic() + CATCH_UP_TIMEOUT
        while time.monotonic() < deadline and self.missing_or_stale(history):
            time.sleep(0.2)
        expected = self.clean_build()
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline and tree(self.site.feeds) != expected:
            time.sleep(0.2)
        status = self.site.stop()
        self.tally.clean_stop = status == 0
        if status != 0:
            self.tally.fail(f"the daemon exited with {status} on SIGTERM")
        self.final_checks(history, expected)

    def missing_or_stale(self, history: dict[str, Entry]) -> bool:
        posts, _ = self.reader.read()
        found = posts_by_guid(posts)
        return any(
            len(found.get(guid, ())) != 1 or found[guid][0].title != entry.title
            for guid, entry in history.items()
        ) or bool(pending_count(self.site.state))

    def final_checks(self, history: dict[str, Entry], expected: dict[str, bytes]) -> None:
        posts, problems = self.reader.read()
        self.tally.posts = len(posts)
        found = posts_by_guid(posts)
        for problem in problems:
            self.tally.broken_posts += 1
            self.tally.fail(f"final: broken post {problem}")
        for guid, entry in history.items():
            copies = found.get(guid, [])
            if not copies:
                self.tally.lost += 1
                self.tally.fail(f"final: {guid} has no post")
                continue
            if len(copies) > 1:
                self.tally.duplicated += len(copies) - 1
                self.tally.fail(f"final: {guid} has {len(copies)} posts")
            if copies[0].title != entry.title or copies[0].source_url != entry.link:
                self.tally.stale += 1
                self.tally.fail(f"final: {guid} has {copies[0].title!r}, not {entry.title!r}")
        for key in found.keys() - history.keys():
            self.tally.unexpected += 1
            self.tally.fail(f"final: post {key} matches no upstream entry")
        for problem in feed_problems(self.site.feeds):
            self.tally.invalid_feeds += 1
            self.tally.fail(f"final: {problem}")
        self.tally.temporaries_left = len(self.temporaries)
        remaining = hidden_temporaries(self.site.feeds) + hidden_temporaries(self.site.posts)
        self.tally.temporaries_at_end = len(remaining)
        if remaining:
            self.tally.fail(
                f"final: {len(remaining)} temporary files never removed: {remaining[0]}"
            )
        for problem in integrity_problems(self.site.state):
            self.tally.integrity_failures += 1
            self.tally.fail(f"final: integrity: {problem}")
        actual = tree(self.site.feeds)
        self.tally.final_equals_clean_build = actual == expected
        if actual != expected:
            differing = sorted(
                name
                for name in actual.keys() | expected.keys()
                if actual.get(name) != expected.get(name)
            )
            self.tally.fail(
                f"final: the feeds differ from a clean build in {len(differing)} files: "
                + ", ".join(differing[:10])
            )

    def clean_build(self) -> dict[str, bytes]:
        """The feeds of a cold ``syndicator build`` of a copy of the posts."""
        fresh = self.site.root / "clean"
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir()
        shutil.copy(self.site.config, fresh / "syndicator.toml")
        shutil.copytree(self.site.posts, fresh / "_posts", ignore=shutil.ignore_patterns(".*"))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "syndicator",
                "--config",
                str(fresh / "syndicator.toml"),
                "build",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=syndicator_environment(),
        )
        if result.returncode != 0:
            self.tally.fail(f"clean build exited {result.returncode}: {result.stderr.strip()}")
        return tree(fresh / "feeds")


def summary(tally: Tally, args: argparse.Namespace, root: Path) -> str:
    lines = [
        f"crash harness: --kills {args.kills} --seed {args.seed} --upstreams {args.upstreams} "
        f"--rate {args.rate:g} --max-delay {args.max_delay:g} --tail {args.tail}",
        f"kills survived:        {tally.kills - tally.died_on_its_own}/{tally.kills} "
        f"({tally.early_kills} before /healthz answered)",
        f"checks:                {tally.feed_checks} after a kill, {tally.restart_checks} after "
        "a restart, 1 final",
        f"entries:               {tally.entries} in the upstreams' history "
        f"({tally.updates} updates), {tally.posts} posts",
        f"lost:                  {tally.lost}",
        f"duplicated:            {tally.duplicated}",
        f"unexpected posts:      {tally.unexpected}",
        f"stale updates:         {tally.stale}",
        f"broken posts:          {tally.broken_posts}",
        f"invalid feed files:    {tally.invalid_feeds}",
        f"integrity failures:    {tally.integrity_failures}",
        f"temporaries:           {tally.temporaries_left} left by kills, "
        f"{tally.temporaries_served} served, {tally.temporaries_at_end} left at the end",
        f"final == clean build:  {'yes' if tally.final_equals_clean_build else 'NO'}",
        f"clean SIGTERM stop:    {'yes' if tally.clean_stop else 'NO'}",
        f"seconds:               {tally.seconds:.1f}",
        f"result:                {'OK' if not tally.failures else f'{len(tally.failures)} FAILURES'}",
    ]
    if tally.failures:
        lines.append(f"site kept in {root} (daemon.log has the daemon's output)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="SIGKILLs (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--upstreams", type=int, default=3, help="upstream feeds (default 3)")
    parser.add_argument("--rate", type=float, default=2.0, help="new entries a second (2)")
    parser.add_argument(
        "--max-delay", type=float, default=3.0, help="longest life after /healthz, s (3)"
    )
    parser.add_argument(
        "--tail",
        type=int,
        default=None,
        help="last kills with the upstreams frozen, each just after a late entry's post "
        "appears (default: a tenth of --kills)",
    )
    parser.add_argument(
        "--websub",
        action="store_true",
        help="the WebSub case instead: the daemon as a hub, killed while subscribers "
        "subscribe and deliveries are owed (bench/crash_websub.py)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary site")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.tail is None:
        args.tail = args.kills // 10
    return args


@contextlib.contextmanager
def site_folder(keep: bool) -> Iterator[tuple[Path, list[bool]]]:
    """A temporary folder, removed at the end unless kept (or the run failed)."""
    root = Path(tempfile.mkdtemp(prefix="syndicator-crash-"))
    keep_it = [keep]
    try:
        yield root, keep_it
    finally:
        if not keep_it[0]:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.websub:
        return websub_case(args)
    with site_folder(args.keep) as (root, keep):
        tally = Harness(args, root).run()
        keep[0] = keep[0] or bool(tally.failures)
        print(summary(tally, args, root), flush=True)
        if args.json:
            figures = {k: v for k, v in vars(tally).items() if k != "failures"}
            figures["failures"] = tally.failures
            figures["command"] = " ".join(["python", "bench/crash_harness.py", *sys.argv[1:]])
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if tally.failures else 0


def websub_case(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from crash_websub import WebSubHarness

    with site_folder(args.keep) as (root, keep):
        harness = WebSubHarness(args.kills, args.seed, min(args.max_delay, 1.5), root, args.verbose)
        failures = harness.run()
        keep[0] = keep[0] or bool(failures)
        print(harness.summary(), flush=True)
        if failures:
            print(f"site kept in {root} (daemon.log has the daemon's output)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
