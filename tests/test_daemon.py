"""``syndicator run`` end to end: a real subprocess, a real upstream server on 127.0.0.1, a
real feed reader (newsboat) subscribed to what the daemon serves."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
import pytest
from support.feedcheck import assert_valid_rss
from support.processes import free_port, get, start_syndicator, wait_until
from support.upstreams import send

POLL_INTERVAL = 2.0
# What the issue promises, plus a little for a loaded CI machine.
SLACK = 5.0


class Upstream:
    """A mutable RSS feed served on 127.0.0.1."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[tuple[str, str, datetime]] = []
        self.lock = threading.Lock()

    def add(self, slug: str, title: str, when: datetime) -> None:
        with self.lock:
            self.items.insert(0, (slug, title, when))

    def document(self, base: str) -> bytes:
        with self.lock:
            items = "".join(
                f"<item><title>{title}</title><link>{base}/{slug}.html</link>"
                f"<guid>{base}/{slug}.html</guid><pubDate>{format_datetime(when)}</pubDate>"
                f"<description>&lt;p&gt;{title}的正文。&lt;/p&gt;</description></item>"
                for slug, title, when in self.items
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{self.name}</title><link>{base}/</link><description>d</description>"
            f"{items}</channel></rss>"
        ).encode()


@pytest.fixture
def upstream_server() -> Iterator[tuple[str, dict[str, Upstream]]]:
    feeds: dict[str, Upstream] = {"a": Upstream("上游甲"), "b": Upstream("上游乙")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            key = self.path.strip("/").removesuffix(".xml")
            if key not in feeds:
                self.send_error(404)
                return
            body = feeds[key].document(f"http://{self.headers['Host']}/{key}")
            send(self, body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", feeds
    server.shutdown()
    server.server_close()


def write_config(path: Path, port: int, upstream_url: str, upstreams: list[str]) -> None:
    blocks = "".join(
        f'[[upstreams]]\nname = "上游{key}"\nurl = "{upstream_url}/{key}.xml"\n'
        f'category = "cat{key}"\ntags = ["标签{key}"]\n\n'
        for key in upstreams
    )
    path.write_text(
        f"""
[site]
title = "测试站"
url = "http://127.0.0.1:{port}"
timezone = "Asia/Shanghai"

[posts]
dirs = ["_posts"]
rescan_interval = "30s"

[feeds]
dir = "feeds"
base_url = "http://127.0.0.1:{port}"

[state]
path = "var/state.db"

[polling]
interval = "{POLL_INTERVAL}s"
min_interval = "1s"
timeout = "3s"
allow_private_addresses = true

[server]
port = {port}

{blocks}""",
        encoding="utf-8",
    )


@pytest.fixture
def daemon_site(tmp_path: Path, upstream_server: tuple[str, dict[str, Upstream]]) -> Iterator[dict]:
    base, feeds = upstream_server
    port = free_port()
    config = tmp_path / "syndicator.toml"
    write_config(config, port, base, ["a"])
    (tmp_path / "_posts").mkdir()
    now = datetime.now(UTC).replace(microsecond=0)
    feeds["a"].add("first", "第一条", now - timedelta(hours=2))
    feeds["a"].add("second", "第二条", now - timedelta(hours=1))
    log = (tmp_path / "daemon.log").open("wb")
    process = start_syndicator("run", config=config, output=log)
    site = {
        "root": tmp_path,
        "config": config,
        "url": f"http://127.0.0.1:{port}",
        "port": port,
        "upstream": base,
        "feeds": feeds,
        "process": process,
        "log": tmp_path / "daemon.log",
    }
    try:
        wait_until(
            lambda: get(site["url"] + "/healthz")[0] == 200, 15, "daemon healthy", ignoring=OSError
        )
        yield site
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def feed_titles(url: str) -> list[str]:
    status, _, body = get(url)
    if status != 200:
        return []
    return [entry.title for entry in feedparser.parse(io.BytesIO(body)).entries]


def test_daemon_end_to_end(daemon_site: dict) -> None:
    url, feeds, root = daemon_site["url"], daemon_site["feeds"], daemon_site["root"]
    category = f"{url}/categories/cata/rss.xml"

    # Polled on start: the upstream's items are served in their category feed.
    wait_until(
        lambda: set(feed_titles(category)) == {"第一条", "第二条"},
        POLL_INTERVAL + SLACK,
        "first poll",
        ignoring=OSError,
    )
    status, headers, body = get(category)
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert_valid_rss(body)

    # A new upstream item reaches the served feed within the poll interval plus 5 s.
    feeds["a"].add("third", "第三条", datetime.now(UTC).replace(microsecond=0))
    wait_until(
        lambda: "第三条" in feed_titles(category),
        POLL_INTERVAL + SLACK,
        "new upstream item",
        ignoring=OSError,
    )

    # A post file dropped into the post folder is served within 5 s.
    (root / "_posts" / "2024-03-01-dropped.md").write_text(
        '---\ntitle: "手动放入的文章"\ndate: 2024-03-01 09:00:00 +0800\ncategories: cata\n---\n正文。\n',
        encoding="utf-8",
    )
    wait_until(
        lambda: "手动放入的文章" in feed_titles(category), SLACK, "dropped post", ignoring=OSError
    )

    # Conditional GET: the ETag we got back gives a 304 with no body.
    status, headers, _ = get(category)
    status, again, body = get(category, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    assert again["ETag"] == headers["ETag"]

    # SIGHUP with one more upstream: it is polled without a restart.
    feeds["b"].add("other", "另一个上游", datetime.now(UTC).replace(microsecond=0))
    write_config(daemon_site["config"], daemon_site["port"], daemon_site["upstream"], ["a", "b"])
    daemon_site["process"].send_signal(signal.SIGHUP)
    wait_until(
        lambda: "另一个上游" in feed_titles(f"{url}/categories/catb/rss.xml"),
        POLL_INTERVAL + SLACK,
        "new upstream after SIGHUP",
        ignoring=OSError,
    )

    # SIGTERM: exit 0 within 10 s, no partial file left anywhere.
    started = time.monotonic()
    daemon_site["process"].send_signal(signal.SIGTERM)
    assert daemon_site["process"].wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert list(root.rglob(".*.tmp")) == []


@pytest.mark.skipif(
    shutil.which("newsboat") is None, reason="newsboat not installed (.ci/run installs it)"
)
def test_newsboat_reads_every_entry_and_the_next_one(daemon_site: dict, tmp_path: Path) -> None:
    url, feeds = daemon_site["url"], daemon_site["feeds"]
    category = f"{url}/categories/cata/rss.xml"
    wait_until(
        lambda: len(feed_titles(category)) == 2,
        POLL_INTERVAL + SLACK,
        "first poll",
        ignoring=OSError,
    )
    home = tmp_path / "newsboat"
    home.mkdir()
    (home / "urls").write_text(category + "\n", encoding="utf-8")

    def reload() -> list[tuple[str, str, int]]:
        subprocess.run(
            [
                "newsboat",
                "-u",
                str(home / "urls"),
                "-c",
                str(home / "cache.db"),
                "-C",
                "/dev/null",
                "-x",
                "reload",
            ],
            env={**os.environ, "HOME": str(home)},
            check=True,
            timeout=30,
            capture_output=True,
        )
        with sqlite3.connect(home / "cache.db") as db:
            return db.execute(
                "SELECT title, url, pubDate FROM rss_item ORDER BY pubDate"
            ).fetchall()

    items = reload()
    assert [title for title, _, _ in items] == ["第一条", "第二条"]
    for _, link, published in items:
        assert link.startswith(url + "/cata/")
        assert published > 0

    feeds["a"].add("fourth", "第四条", datetime.now(UTC).replace(microsecond=0))
    wait_until(
        lambda: "第四条" in feed_titles(category),
        POLL_INTERVAL + SLACK,
        "new item served",
        ignoring=OSError,
    )
    assert [title for title, _, _ in reload()] == ["第一条", "第二条", "第四条"]
