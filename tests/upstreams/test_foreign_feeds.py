"""Feeds as other projects' readers meet them, polled from a local server into posts: channels
feedparser reads without naming a format (CDF), encodings no one declared, JSON Feeds with a
bare version number, and dates in ambiguous zone abbreviations."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from support.processes import syndicator
from support.upstreams import (
    UPSTREAM_FIXTURES,
    Handler,
    HostileServer,
    loaded_posts,
    make_config,
    run_poll,
    serve,
    write_config,
)

from syndicator.core.config import load_config

C1_CONTROL = re.compile("[\x80-\x9f]")
# Each fixture: no encoding in its XML declaration; served with no charset.
UNDECLARED = {
    "undeclared-gb2312.xml": ["央行今日开展逆回购操作", "沪深两市成交额突破万亿元"],
    "undeclared-shift-jis.xml": ["東京株式市場で日経平均が反発", "日銀が金融政策決定会合を開催"],
    "undeclared-euc-jp.xml": ["政府が新たな経済対策を発表", "大阪で万博の準備が進む"],
    "undeclared-euc-kr.xml": ["한국은행 기준금리 동결 결정", "코스피 지수 이틀 연속 상승 마감"],
    "undeclared-koi8-r.xml": [
        "Центробанк сохранил ключевую ставку",
        "Рубль укрепился к доллару и евро",
    ],
}


@pytest.fixture
def server() -> Iterator[HostileServer]:
    started = HostileServer()
    yield started
    started.close()


def without_content_type(body: bytes) -> Handler:
    """A route's handler: 200 with ``body`` and no Content-Type header at all."""

    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        request.send_response(200)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def titles_by_category(config) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for post, _ in loaded_posts(config):
        found.setdefault(post.categories[0], set()).add(post.title)
    return found


# --- encodings no one declared ---------------------------------------------------------------


@pytest.mark.parametrize("served", ["without-charset", "without-content-type"])
def test_feeds_in_undeclared_encodings_become_posts_with_readable_titles(
    tmp_path, httpserver, server, served
):
    upstreams = []
    for number, name in enumerate(sorted(UNDECLARED)):
        body = (UPSTREAM_FIXTURES / name).read_bytes()
        if served == "without-charset":
            serve(httpserver, f"/{name}", body, content_type="application/rss+xml")
            url = httpserver.url_for(f"/{name}")
        else:
            url = server.route(f"/{name}", without_content_type(body))
        upstreams.append((name, url, f"c{number}"))
    config = make_config(tmp_path, upstreams)

    report, _ = run_poll(config)

    assert not report.failed
    by_category = titles_by_category(config)
    for number, name in enumerate(sorted(UNDECLARED)):
        assert set(UNDECLARED[name]) <= by_category[f"c{number}"], name
    for path in config.posts.dirs[0].glob("*.md"):
        title_line = path.read_text(encoding="utf-8").splitlines()[2]
        assert title_line.startswith("title: ")
        assert not C1_CONTROL.search(title_line), title_line
        assert "\\u00" not in title_line  # nor escaped into the YAML


# --- formats feedparser reads without naming them --------------------------------------------


def test_cdf_channel_is_polled_into_posts(tmp_path, httpserver):
    serve(httpserver, "/channel.cdf", (UPSTREAM_FIXTURES / "cdf.xml").read_bytes())
    config = make_config(tmp_path, [("CDF", httpserver.url_for("/channel.cdf"), "cdf")])

    report, _ = run_poll(config)

    assert not report.failed, report.failed[0].error
    posts = {post.title: post for post, _ in loaded_posts(config)}
    assert set(posts) == {"Markets close higher", "Central bank holds rates"}
    assert (
        posts["Markets close higher"].source_url
        == "http://cdf.example.com/news/2022/06/02/markets.html"
    )
    assert posts["Markets close higher"].date.isoformat() == "2022-06-02T14:05:33+08:00"


def test_xml_that_is_no_feed_fails_saying_what_it_is(tmp_path, httpserver):
    serve(
        httpserver,
        "/note.xml",
        b'<?xml version="1.0"?><note><to>Tove</to></note>',
        content_type="application/xml",
    )
    config = make_config(tmp_path, [("Note", httpserver.url_for("/note.xml"), "notes")])

    report, _ = run_poll(config)

    (failed,) = report.failed
    assert failed.error_kind == "not_a_feed"
    assert failed.error is not None
    assert "its root element is <note>, and no item with a title or a link" in failed.error
    assert "no RSS or Atom root element" not in failed.error


# --- JSON Feeds with a bare version number ---------------------------------------------------


def test_json_feed_with_a_bare_version_is_imported_and_status_shows_the_warning(
    tmp_path, httpserver, caplog
):
    bare = (UPSTREAM_FIXTURES / "jsonfeed-bare-version.json").read_bytes()
    upstream = serve(httpserver, "/feed.json", bare, content_type="application/feed+json")
    path = write_config(tmp_path, [("Bare", httpserver.url_for("/feed.json"), "bare")])
    config = load_config(path)

    with caplog.at_level(logging.WARNING, logger="syndicator.upstreams.poll"):
        first, _ = run_poll(config)
        run_poll(config)  # the same feed again: the warning is not logged again

    assert not first.failed, first.failed[0].error
    assert [post.title for post, _ in loaded_posts(config)] == [
        "Written by a generator that numbers its version"
    ]
    logged = [record for record in caplog.records if "its version is" in record.getMessage()]
    assert len(logged) == 1
    assert logged[0].getMessage().startswith('Bare: its version is "1.1"')
    shown = syndicator("status", config=path)
    assert shown.returncode == 0, shown.stderr
    assert 'last warning: its version is "1.1", not the URL JSON Feed asks for' in shown.stdout
    (row,) = json.loads(syndicator("status", "--json", config=path).stdout)
    assert "https://jsonfeed.org/version/1.1" in row["last_warning"]

    upstream.body = bare.replace(b'"1.1"', b'"https://jsonfeed.org/version/1.1"')
    run_poll(config)

    (row,) = json.loads(syndicator("status", "--json", config=path).stdout)
    assert row["last_warning"] is None
