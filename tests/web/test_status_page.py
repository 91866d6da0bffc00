"""``/status``: what it shows (from a real state after real polls and builds), the charts it
draws, who may see it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from lxml import etree
from support.site import SITE_TOML, run_build, write_post
from support.upstreams import items, make_config, rss, run_poll, serve

from syndicator.core.config import load_config
from syndicator.state.db import HISTORY_DAYS, State
from syndicator.web.feedstore import FeedStore
from syndicator.web.server import STATUS_SECURITY_POLICY, FeedApp
from syndicator.web.status_data import gather_status
from syndicator.web.status_page import render_status


@pytest.fixture
def polled(tmp_path: Path, httpserver):
    serve(httpserver, "/fine.xml", rss(items(3)))
    serve(httpserver, "/broken.xml", b"<b>oops</b> & more", status=500)
    config = make_config(
        tmp_path,
        [
            ("Fine <news>", httpserver.url_for("/fine.xml"), "金融消息"),
            ("Broken", httpserver.url_for("/broken.xml"), "news"),
        ],
        extra='\n[feeds.titles]\n"金融消息" = "中国证券报新闻"\n',
    )
    (tmp_path / "_posts" / "2026-01-01-bad.md").write_text("---\ndate: [\n---\nbody\n")
    run_poll(config)
    return config


def page_of(config) -> tuple[str, etree._Element]:
    with State.open(config.state.path) as state:
        html = render_status(gather_status(config, state, time.time())).decode()
    return html, etree.fromstring(html, etree.HTMLParser())


def test_every_upstream_with_its_state_times_in_the_site_zone_and_errors(polled) -> None:
    html, _ = page_of(polled)
    assert "Fine &lt;news&gt;" in html and "Fine <news>" not in html  # escaped
    assert 'class="state ok">ok<' in html
    assert 'class="state bad">error<' in html
    assert "HTTP 500" in html and "HTTP 200" in html
    # Times in Asia/Shanghai, offset shown.
    assert re.search(
        r"<time datetime=\"[^\"]+\+08:00\">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0800", html
    )
    assert "last error: " in html


def test_a_chart_per_upstream_of_imports_per_day_and_of_poll_outcomes(polled) -> None:
    _, tree = page_of(polled)
    charts = tree.findall(".//svg")
    assert len(charts) == 4, [etree.tostring(c)[:80] for c in charts]
    imported = charts[0]
    assert imported.get("role") == "img"
    bars = imported.findall("rect")
    assert [bar.findtext("title").split(": ")[1] for bar in bars] == ["3 imported"]
    polls_fine, polls_broken = charts[1], charts[3]
    assert [b.findtext("title").split(": ")[1] for b in polls_fine.findall("rect")] == [
        "1 imported"
    ]
    assert [b.findtext("title").split(": ")[1] for b in polls_broken.findall("rect")] == [
        "1 failed"
    ]
    assert f"last {HISTORY_DAYS} days" in etree.tostring(tree, encoding=str)


def test_builds_unreadable_posts_and_every_feed_with_its_count(polled) -> None:
    _, tree = page_of(polled)
    builds = tree.findall(".//table[@id='builds']/tr")
    assert len(builds) == 2  # the header and the poll's build
    assert builds[1].findall("td")[4].text == "1"  # the broken post skipped
    problems = tree.find(".//table[@id='problems']")
    assert "2026-01-01-bad.md" in etree.tostring(problems, encoding=str)
    feeds = {
        row.find("td/a").text: int(row.findall("td")[2].text)
        for row in tree.findall(".//table[@id='feeds']/tr")[1:]
    }
    assert feeds["测试站"] == 3
    assert feeds["中国证券报新闻"] == 3  # [feeds.titles]


def test_the_page_loads_nothing_from_elsewhere(polled) -> None:
    html, _ = page_of(polled)
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


def request(app: FeedApp, client: tuple[str, int] | None) -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/status", "headers": [], "client": client}
    asyncio.run(app(scope, receive, send))
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, sent[1]["body"]


def app_for(tmp_path: Path, access: str) -> FeedApp:
    return FeedApp(
        FeedStore(tmp_path),
        max_age=60,
        health=lambda: None,
        status=lambda: b"<!DOCTYPE html><p>page</p>",
        status_access=access,
    )


def test_local_answers_the_loopback_address_only(tmp_path: Path) -> None:
    app = app_for(tmp_path, "local")
    # ::ffff:127.0.0.1: 127.0.0.1 reaching a server that listens on "::" (was refused).
    for loopback in ("127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"):
        status, headers, body = request(app, (loopback, 5000))
        assert status == 200, loopback
        assert headers["content-security-policy"] == STATUS_SECURITY_POLICY
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["cache-control"] == "no-store"
    for outside in ("192.168.1.9", "2001:db8::1", "8.8.8.8", "::ffff:192.168.1.9"):
        status, _, body = request(app, (outside, 5000))
        assert status == 403, outside
        assert b"[server] status" in body
    assert request(app, None)[0] == 403


def test_public_answers_everyone_and_off_serves_nothing(tmp_path: Path) -> None:
    assert request(app_for(tmp_path, "public"), ("192.168.1.9", 5000))[0] == 200
    assert request(app_for(tmp_path, "off"), ("127.0.0.1", 5000))[0] == 404


def test_a_feed_counts_its_posts_once_with_a_shadowed_copy_left_out(tmp_path: Path) -> None:
    (tmp_path / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    front = 'title: "一"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\nguid: "urn:x:1"\n'
    write_post(tmp_path / "_posts", "2022-01-01-a.md", front)
    write_post(tmp_path / "_posts", "2022-01-01-b.md", front)  # same id: shadowed
    write_post(tmp_path / "_posts", "2022-01-02-c.md")
    config = load_config(tmp_path / "syndicator.toml")
    run_build(config)
    _, tree = page_of(config)
    feeds = {
        row.find("td/a").text: int(row.findall("td")[2].text)
        for row in tree.findall(".//table[@id='feeds']/tr")[1:]
    }
    assert feeds == {"测试站": 2, "news": 2}


def test_each_upstream_shows_its_websub_push_state(polled) -> None:
    """What `status` shows of WebSub, the page shows too: none until an upstream's hub is
    subscribed to, then the subscription's state."""
    from syndicator.state.websub import PushRow, PushStore

    [fine, _] = polled.upstreams
    with State.open(polled.state.path) as state:
        row = PushRow(fine.key, "https://hub.example/", fine.url, "t0ken", None, "s3", "active", 0)
        PushStore(state).save(row)
    html, _ = page_of(polled)
    assert html.count("<dt>WebSub push</dt>") == 2
    assert "<dt>WebSub push</dt><dd>active</dd>" in html
    assert "<dt>WebSub push</dt><dd>none</dd>" in html


def test_long_lists_stop_at_max_rows_and_say_where_the_rest_is() -> None:
    """20,000 unreadable posts and 30,000 tag feeds made a 9 MB page on every request."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from syndicator.site.posts import PostError
    from syndicator.web.status_data import FeedRow, StatusData
    from syndicator.web.status_page import MAX_ROWS

    count = MAX_ROWS + 100
    data = StatusData(
        site_title="站",
        zone=ZoneInfo("Asia/Shanghai"),
        now=time.time(),
        days=[],
        upstreams=[],
        last_build=None,
        builds=[],
        problems=[PostError(Path(f"_posts/{n}.md"), "broken") for n in range(count)],
        feeds=[FeedRow("tag", f"t{n}", f"tags/t{n}/rss.xml", 1, None) for n in range(count)],
    )
    html = render_status(data).decode()
    page = etree.fromstring(html, etree.HTMLParser())
    assert len(page.findall(".//table[@id='problems']/tr")) == MAX_ROWS + 1  # and the head
    assert len(page.findall(".//table[@id='feeds']/tr")) == MAX_ROWS + 1
    assert f"The first {MAX_ROWS} of {count} are shown; `syndicator check`" in html
    assert f"The first {MAX_ROWS} of {count} are shown; feeds.opml" in html
