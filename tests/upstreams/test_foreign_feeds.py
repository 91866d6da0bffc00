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


# --- dates in ambiguous zone abbreviations ---------------------------------------------------


def cms_feed(site: str) -> bytes:
    """RSS as a Chinese CMS writes it: dates in "CST" meaning China Standard Time, in the
    shapes such sites use."""
    dates = [
        "Thu, 02 Jun 2022 14:05:33 CST",
        "Thu, 2 Jun 2022 15:05:33 CST",
        "02 Jun 2022 16:05:33 CST",
        "Thu Jun 02 17:05:33 CST 2022",
    ]
    items = "".join(
        f"<item><title>快讯 {n}</title><link>{site}{n}.html</link>"
        f"<guid>{site}{n}.html</guid><pubDate>{date}</pubDate>"
        f"<description>正文 {n}</description></item>"
        for n, date in enumerate(dates, 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>财经</title>'
        f"<link>{site}</link>{items}</channel></rss>"
    ).encode()


def post_dates(config, category: str) -> list[str]:
    return sorted(
        post.date.isoformat() for post, _ in loaded_posts(config) if post.categories == (category,)
    )


CHINA_TIMES = [f"2022-06-02T{hour}:05:33+08:00" for hour in (14, 15, 16, 17)]


def test_cst_dates_of_a_chinese_cms_are_china_time_on_a_site_in_china(tmp_path, httpserver):
    serve(httpserver, "/cms.xml", cms_feed("http://cms.example.cn/"))
    config = make_config(tmp_path, [("CMS", httpserver.url_for("/cms.xml"), "cms")])
    assert str(config.site.timezone) == "Asia/Shanghai"  # so [polling] zones has CST

    report, _ = run_poll(config)

    assert not report.failed
    assert post_dates(config, "cms") == CHINA_TIMES


def test_an_upstream_says_what_its_zone_abbreviations_mean(tmp_path, httpserver):
    serve(httpserver, "/us.xml", cms_feed("http://us.example.com/"))
    serve(httpserver, "/cn.xml", cms_feed("http://cms.example.cn/"))
    path = write_config(
        tmp_path,
        [("US", httpserver.url_for("/us.xml"), "us"), ("CN", httpserver.url_for("/cn.xml"), "cn")],
        extra="zones = {}\n",  # in [polling]: no site-wide reading of CST
    )
    with path.open("a", encoding="utf-8") as config_file:
        config_file.write('zones = { CST = "+08:00" }\n')  # in the last upstream, CN
    config = load_config(path)

    report, _ = run_poll(config)

    assert not report.failed
    assert post_dates(config, "cn") == CHINA_TIMES
    assert post_dates(config, "us") == [
        f"2022-06-02T{hour}:05:33-06:00" for hour in (14, 15, 16, 17)
    ]
