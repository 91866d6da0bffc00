"""JSON, HTML and full-text upstreams polled as feed upstreams are: posts written exactly
once, a detail request and the full text fetched once per new item through the address guard
and robots.txt, failures retried a bounded number of times, hostile answers bounded, and
``preview`` writing and recording nothing."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support.processes import syndicator
from support.site import SITE_TOML, make_post_folders
from support.upstreams import HostileServer, answer, row, run_poll, send

import syndicator.upstreams.importer as importer_module
from syndicator.core.config import Config, UpstreamConfig, load_config
from syndicator.state.db import State
from syndicator.upstreams.enrich import RobotsRules, with_full_text
from syndicator.upstreams.fetch import Fetcher
from syndicator.upstreams.importer import MAX_ENRICH_ATTEMPTS
from syndicator.upstreams.parse import make_entry

MiB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[HostileServer]:
    started = HostileServer()
    yield started
    started.close()


def make_site(folder: Path, blocks: str, polling: str = "") -> Config:
    text = SITE_TOML + (
        '\n[polling]\ninterval = "100s"\nmin_interval = "1s"\ntimeout = "5s"\n'
        f"max_bytes = {10 * MiB}\nallow_private_addresses = true\nper_host_delay = 0\n{polling}\n"
    )
    path = folder / "syndicator.toml"
    path.write_text(text + blocks, encoding="utf-8")
    config = load_config(path)
    make_post_folders(config)
    return config


def api_block(url: str, *, detail: str = "", extra: str = "") -> str:
    block = f"""
[[upstreams]]
name = "API"
kind = "json"
url = "{url}"
category = "emnews"
tags = ["东财滚动新闻"]
items = "records"
post_name = "{{date}}-{{id}}"
{extra}
[upstreams.fields]
id = {{ from = "id", remove = "^NW" }}
title = "title"
link = "url_w"
date = "showtime"
summary = {{ from = "digest", remove = "^【[^】]*】" }}
"""
    if detail:
        block += f'\n[upstreams.detail]\nurl = "{detail}?id={{id}}"\ncontent = "data.content"\n'
    return block


def records(*numbers: int) -> bytes:
    return json.dumps(
        {
            "records": [
                {
                    "id": f"NW2022060224{n:08d}",
                    "title": f"标题{n}",
                    "digest": f"【标题{n}】摘要{n}",
                    "url_w": f"http://finance.example/a/{n}.html",
                    "showtime": f"2022-06-02 10:{n:02d}:00",
                }
                for n in numbers
            ]
        },
        ensure_ascii=False,
    ).encode()


def detail_handler(failing: set[str]) -> object:
    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        item = request.path.partition("id=")[2]
        if item in failing:
            request.send_response(500)
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        body = {"data": {"content": f"<p>正文{item}</p><script>steal()</script>"}}
        send(request, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    return handle


def posts(config: Config) -> dict[str, str]:
    folder = config.posts.dirs[0]
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.md"))}


def test_a_detail_request_per_new_item_once(tmp_path: Path, server: HostileServer) -> None:
    url = server.route("/list", answer(records(1, 2), "application/json"))
    detail = server.route("/detail", detail_handler(set()))  # type: ignore[arg-type]
    config = make_site(tmp_path, api_block(url, detail=detail))

    run_poll(config)
    written = posts(config)
    assert sorted(written) == [
        "2022-06-02-202206022400000001.md",
        "2022-06-02-202206022400000002.md",
    ]
    text = written["2022-06-02-202206022400000001.md"]
    assert "<p>正文202206022400000001</p>" in text and "steal()" not in text  # sanitized
    assert 'title: "标题1"' in text and "date: 2022-06-02 10:01:00 +0800" in text
    assert "（文章来源：API）" in text and "<http://finance.example/a/1.html>" in text

    run_poll(config)  # the same list: nothing new, no detail asked again
    assert posts(config) == written
    assert [r for r in server.requests if r.startswith("/detail")] == [
        "/detail?id=202206022400000001",
        "/detail?id=202206022400000002",
    ]


def test_a_detail_endpoint_answering_500_is_retried_then_the_summary_is_kept(
    tmp_path: Path, server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.route("/list", answer(records(1, 2), "application/json"))
    detail = server.route("/detail", detail_handler({"202206022400000002"}))  # type: ignore[arg-type]
    config = make_site(tmp_path, api_block(url, detail=detail))
    caplog.set_level(logging.WARNING)

    for poll in range(1, MAX_ENRICH_ATTEMPTS):
        run_poll(config)
        assert list(posts(config)) == ["2022-06-02-202206022400000001.md"], poll
        assert row(config, "API").state == "ok"
    assert "answered HTTP 500; tried again at the next poll (1 of 3)" in caplog.text

    run_poll(config)
    text = posts(config)["2022-06-02-202206022400000002.md"]
    assert "<p>摘要2</p>" in text  # the list's digest, without its prefix
    assert "written with the list's summary" in caplog.text
    requested = [r for r in server.requests if r == "/detail?id=202206022400000002"]
    assert len(requested) == MAX_ENRICH_ATTEMPTS
    run_poll(config)
    assert len([r for r in server.requests if r == "/detail?id=202206022400000002"]) == 3


def test_a_post_recorded_but_not_written_is_written_once_without_fetching_again(
    tmp_path: Path, server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.route("/list", answer(records(1), "application/json"))
    detail = server.route("/detail", detail_handler(set()))  # type: ignore[arg-type]
    config = make_site(tmp_path, api_block(url, detail=detail))

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # killed between recording the post and writing its file

    monkeypatch.setattr(importer_module, "write_atomic", crash)
    with pytest.raises(KeyboardInterrupt):
        run_poll(config)
    monkeypatch.undo()
    assert posts(config) == {}
    run_poll(config)
    assert list(posts(config)) == ["2022-06-02-202206022400000001.md"]
    assert "正文202206022400000001" in posts(config)["2022-06-02-202206022400000001.md"]
    assert len([r for r in server.requests if r.startswith("/detail")]) == 1


def test_post_names_never_overwrite(tmp_path: Path, server: HostileServer) -> None:
    listing = json.loads(records(1, 2, 3))
    listing["records"][1]["id"] = "NW2022060224/../00000001"  # unsafe, and the same as 1 cleaned
    listing["records"][2]["id"] = "x" * 500
    url = server.route("/list", answer(json.dumps(listing).encode(), "application/json"))
    config = make_site(tmp_path, api_block(url))
    mine = config.posts.dirs[0] / "2022-06-02-202206022400000003.md"
    listing["records"][2]["id"] = "NW202206022400000003"
    mine.write_text("---\ntitle: mine\n---\nhand-written\n", encoding="utf-8")
    server.route("/list", answer(json.dumps(listing).encode(), "application/json"))

    run_poll(config)
    names = sorted(posts(config))
    assert mine.read_text(encoding="utf-8") == "---\ntitle: mine\n---\nhand-written\n"
    assert len(names) == 4 and "2022-06-02-202206022400000001.md" in names
    clashes = [n for n in names if n not in (mine.name, "2022-06-02-202206022400000001.md")]
    assert all(len(name) < 160 and "/" not in name and ".." not in name for name in names)
    assert all(n.startswith("2022-06-02-") for n in clashes) and len(clashes) == 2


def test_keep_and_block_choose_the_items(tmp_path: Path, server: HostileServer) -> None:
    url = server.route("/list", answer(records(1, 2, 3), "application/json"))
    config = make_site(tmp_path, api_block(url, extra='keep = "摘要[12]"\nblock = "标题2"'))
    run_poll(config)
    assert list(posts(config)) == ["2022-06-02-202206022400000001.md"]


def test_a_mapping_that_matches_nothing_fails_the_poll_naming_it(
    tmp_path: Path, server: HostileServer
) -> None:
    url = server.route("/list", answer(b'{"data": {"rows": []}}', "application/json"))
    config = make_site(tmp_path, api_block(url))
    report, _ = run_poll(config)
    [outcome] = report.outcomes
    assert (outcome.result, outcome.error_kind) == ("failed", "not_a_feed")
    assert 'items = "records" matched nothing' in (outcome.error or "")
    assert '{"data": {"rows": []}}' in (outcome.error or "")
    assert row(config, "API").consecutive_errors == 1  # backoff, as for a feed


def never_ending(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/html")
    request.end_headers()
    request.wfile.write(b"<html><body><ul>")
    while not stop.is_set():
        request.wfile.write(b"<li><a href='/x'>x</a></li>" * 1000)


def sized(prefix: bytes, filler: bytes, total: int, media_type: str) -> object:
    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        request.send_response(200)
        request.send_header("Content-Type", media_type)
        request.send_header("Content-Length", str(total))
        request.end_headers()
        request.wfile.write(prefix)
        chunk = filler * (MiB // len(filler))
        sent = len(prefix)
        while sent < total and not stop.is_set():
            request.wfile.write(chunk[: total - sent])
            sent += len(chunk)

    return handle


def test_huge_and_endless_answers_are_cut_and_the_rest_imported(
    tmp_path: Path, server: HostileServer
) -> None:
    huge_json = server.route(
        "/huge.json",
        sized(b'{"records": [', b'{"id": 1},', 100 * MiB, "application/json"),  # type: ignore[arg-type]
    )
    huge_page = server.route(
        "/huge.html",
        sized(b"<html><body><ul>", b"<li>x</li>", 50 * MiB, "text/html"),  # type: ignore[arg-type]
    )
    endless = server.route("/endless.html", never_ending)
    good = server.route("/list", answer(records(1), "application/json"))
    blocks = api_block(good) + api_block(huge_json).replace('name = "API"', 'name = "huge-json"')
    for name, url in (("huge-page", huge_page), ("endless", endless)):
        blocks += (
            f'\n[[upstreams]]\nname = "{name}"\nkind = "html"\nurl = "{url}"\ncategory = "c"\n'
            'items = "li"\n[upstreams.fields]\ntitle = "a"\nlink = "a@href"\n'
        )
    config = make_site(tmp_path, blocks)
    report, _ = run_poll(config)
    outcomes = {o.name: o for o in report.outcomes}
    for name in ("huge-json", "huge-page", "endless"):
        assert (outcomes[name].result, outcomes[name].error_kind) == ("failed", "too_large"), name
    assert outcomes["API"].result == "imported"
    assert list(posts(config)) == ["2022-06-02-202206022400000001.md"]


def test_deeply_nested_json_fails_the_poll_cleanly(tmp_path: Path, server: HostileServer) -> None:
    nested = b'{"records": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    url = server.route("/list", answer(nested, "application/json"))
    report, _ = run_poll(make_site(tmp_path, api_block(url)))
    [outcome] = report.outcomes
    assert outcome.error_kind == "not_a_feed" and "nested too deeply" in (outcome.error or "")


# --- full text -------------------------------------------------------------------------------

ARTICLE = (
    "<html><body><nav>首页 新闻</nav><article><h1>标题</h1>"
    + "".join(
        f"<p>第{n}段正文，内容足够长，可以被识别为文章的主体部分，而不是导航或广告。</p>"
        for n in range(4)
    )
    + '<p><img data-src="/lazy.jpg" src="data:image/gif;base64,R0lGOD"></p></article>'
    + "<footer>版权所有</footer></body></html>"
).encode()


def summary_feed(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>文章{n}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>摘要{n}</description><pubDate>Thu, 02 Jun 2022 10:0{n}:00 +0800</pubDate></item>"
        for n, link in enumerate(links)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    ).encode()


def fulltext_block(url: str, extra: str = "") -> str:
    return f'\n[[upstreams]]\nname = "Full"\nurl = "{url}"\ncategory = "full"\nfull_text = true\n{extra}\n'


def test_full_text_honours_robots_txt(tmp_path: Path, server: HostileServer) -> None:
    server.route("/robots.txt", answer(b"User-agent: *\nDisallow: /private/\n", "text/plain"))
    server.route("/public/1.html", answer(ARTICLE, "text/html; charset=utf-8"))
    server.route("/private/2.html", answer(ARTICLE, "text/html; charset=utf-8"))
    links = [server.url("/public/1.html"), server.url("/private/2.html")]
    url = server.route("/feed.xml", answer(summary_feed(links)))
    config = make_site(tmp_path, fulltext_block(url))

    run_poll(config)
    texts = {front_title(t): t for t in posts(config).values()}
    assert "第0段正文" in texts["文章0"] and server.url("/lazy.jpg") in texts["文章0"]
    assert "版权所有" not in texts["文章0"] and "首页" not in texts["文章0"]
    assert "摘要1" in texts["文章1"] and "第0段正文" not in texts["文章1"]
    assert "/private/2.html" not in server.requests
    assert server.requests.count("/robots.txt") == 1


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode"])
def test_an_article_page_with_a_hostile_charset_is_read_as_utf8(
    tmp_path: Path, server: HostileServer, charset: str
) -> None:
    server.route("/a/1.html", answer(ARTICLE, f"text/html; charset={charset}"))
    url = server.route("/feed.xml", answer(summary_feed([server.url("/a/1.html")])))
    config = make_site(tmp_path, fulltext_block(url))
    report, _ = run_poll(config)
    assert report.outcomes[0].result != "failed", report
    [text] = posts(config).values()
    assert "第0段正文" in text


def test_an_item_whose_full_text_fails_unexpectedly_leaves_the_others_be(
    tmp_path: Path, server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception no one expected in one item's extraction ended the whole poll: no item
    of the upstream was written, poll after poll."""
    import syndicator.upstreams.enrich as enrich

    real = enrich.extract_article

    def extract(body: bytes, url: str, *args: object) -> object:
        if url.endswith("/bad.html"):
            raise RuntimeError("an extractor's bug")
        return real(body, url, *args)

    monkeypatch.setattr(enrich, "extract_article", extract)
    for name in ("good", "bad"):
        server.route(f"/{name}.html", answer(ARTICLE, "text/html; charset=utf-8"))
    links = [server.url("/good.html"), server.url("/bad.html")]
    url = server.route("/feed.xml", answer(summary_feed(links)))
    config = make_site(tmp_path, fulltext_block(url))

    report, _ = run_poll(config)

    assert report.outcomes[0].result == "imported", report
    [text] = posts(config).values()
    assert front_title(text) == "文章0" and "第0段正文" in text


def test_respect_robots_false_fetches_all_the_same(tmp_path: Path, server: HostileServer) -> None:
    server.route("/robots.txt", answer(b"User-agent: *\nDisallow: /\n", "text/plain"))
    server.route("/private/2.html", answer(ARTICLE, "text/html; charset=utf-8"))
    url = server.route("/feed.xml", answer(summary_feed([server.url("/private/2.html")])))
    config = make_site(tmp_path, fulltext_block(url, "respect_robots = false"))
    run_poll(config)
    [text] = posts(config).values()
    assert "第0段正文" in text and "/robots.txt" not in server.requests


def test_full_text_pages_that_fail_keep_the_summary_after_bounded_retries(
    tmp_path: Path, server: HostileServer
) -> None:
    server.route("/huge.html", sized(b"<html><body>", b"<p>x</p>", 50 * MiB, "text/html"))  # type: ignore[arg-type]
    server.route("/endless.html", never_ending)
    server.route("/empty.html", answer(b"<html><body><nav>Home</nav></body></html>", "text/html"))
    links = [server.url(p) for p in ("/huge.html", "/endless.html", "/empty.html")]
    url = server.route("/feed.xml", answer(summary_feed(links)))
    config = make_site(tmp_path, fulltext_block(url))
    for _ in range(MAX_ENRICH_ATTEMPTS - 1):
        run_poll(config)
        assert posts(config) == {}
    run_poll(config)
    texts = {front_title(t): t for t in posts(config).values()}
    assert [f"摘要{n}" in texts[f"文章{n}"] for n in range(3)] == [True] * 3
    assert server.requests.count("/empty.html") == MAX_ENRICH_ATTEMPTS


def test_a_link_to_a_private_address_is_refused(server: HostileServer) -> None:
    page = server.route("/article.html", answer(ARTICLE, "text/html"))
    entry = make_entry(
        guid="g", link=page, title="t", content_html="摘要", published=None, updated=None
    )
    upstream = UpstreamConfig(name="Full", url="http://up.example/", category="c", full_text=True)
    fetcher = Fetcher(user_agent="t", timeout=5, max_bytes=MiB, allow_private_addresses=False)
    with fetcher:
        result = with_full_text(entry, upstream, fetcher, RobotsRules(fetcher))
    assert result.content_html == "摘要"
    assert result.incomplete is not None and "allow_private_addresses" in result.incomplete
    assert server.requests == []  # neither robots.txt nor the page: no connection got through

    unguarded = replace(upstream, respect_robots=False)
    with fetcher:
        result = with_full_text(entry, unguarded, fetcher, RobotsRules(fetcher))
    assert result.incomplete is not None and "allow_private_addresses" in result.incomplete
    assert server.requests == []


def front_title(text: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith("title: "))
    return json.loads(line.removeprefix("title: "))


# --- preview ---------------------------------------------------------------------------------


def test_preview_writes_and_records_nothing(tmp_path: Path, server: HostileServer) -> None:
    url = server.route("/list", answer(records(1, 2), "application/json"))
    config = make_site(tmp_path, api_block(url))
    done = syndicator("preview", "API", config=config.path)
    assert done.returncode == 0, done.stderr
    assert "== 2022-06-02-202206022400000001.md" in done.stdout
    assert 'title: "标题1"' in done.stdout and "<p>摘要1</p>" in done.stdout
    assert posts(config) == {}
    if config.state.path.exists():
        with State.open(config.state.path) as state:
            assert state.upstreams() == [] and not state.has_entries(config.upstreams[0].key)


def test_preview_shows_the_hash_a_clash_adds(tmp_path: Path, server: HostileServer) -> None:
    url = server.route("/list", answer(records(1, 2), "application/json"))
    config = make_site(tmp_path, api_block(url))
    (config.posts.dirs[0] / "2022-06-02-202206022400000001.md").write_text("mine\n")
    done = syndicator("preview", "API", config=config.path)
    assert done.returncode == 0, done.stderr
    assert "== 2022-06-02-202206022400000001.md" not in done.stdout
    assert re.search(r"== 2022-06-02-202206022400000001-[0-9a-f]{12}\.md", done.stdout)
    assert "== 2022-06-02-202206022400000002.md" in done.stdout


def test_preview_names_the_expression_that_matched_nothing(
    tmp_path: Path, server: HostileServer
) -> None:
    url = server.route("/list", answer(b'{"rows": [{"x": 1}]}', "application/json"))
    config = make_site(tmp_path, api_block(url))
    done = syndicator("preview", "API", config=config.path)
    assert done.returncode == 1
    assert 'items = "records" matched nothing' in done.stdout
    assert '{"rows": [{"x": 1}]}' in done.stdout
    assert syndicator("preview", "nope", config=config.path).returncode == 2


def test_a_json_api_is_fetched_with_conditional_get(tmp_path: Path, server: HostileServer) -> None:
    seen: list[str | None] = []

    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            request.send_response(304)
            request.send_header("ETag", '"v1"')
            request.end_headers()
            return
        send(request, records(1), "application/json", {"ETag": '"v1"'})

    url = server.route("/list", handle)
    config = make_site(tmp_path, api_block(url))
    run_poll(config)
    report, _ = run_poll(config)
    assert seen == [None, '"v1"']
    assert report.outcomes[0].result == "unchanged"
    assert list(posts(config)) == ["2022-06-02-202206022400000001.md"]


def test_a_paginated_api_is_read_from_its_first_page(tmp_path: Path, server: HostileServer) -> None:
    """The newest items are on the first page, which the upstream's URL names; the pages
    after it are never asked for (a poll is one request for the list)."""

    def handle(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        page = int(parse_qs(urlsplit(request.path).query)["page"][0])
        listing = json.loads(records(2 * page - 1, 2 * page))["records"]
        body = {"data": {"page": page, "pages": 5, "list": listing, "next": f"?page={page + 1}"}}
        send(request, json.dumps(body, ensure_ascii=False).encode(), "application/json")

    url = server.route("/list", handle) + "?page=1&size=2"
    block = api_block(url).replace('items = "records"', 'items = "data.list"')
    config = make_site(tmp_path, block)
    run_poll(config)
    assert list(posts(config)) == [
        "2022-06-02-202206022400000001.md",
        "2022-06-02-202206022400000002.md",
    ]
    assert server.requests == ["/list?page=1&size=2"]


def test_a_detail_that_fails_once_is_fetched_again_and_forgotten(
    tmp_path: Path, server: HostileServer
) -> None:
    failing = {"202206022400000001"}
    url = server.route("/list", answer(records(1), "application/json"))
    detail = server.route("/detail", detail_handler(failing))  # type: ignore[arg-type]
    config = make_site(tmp_path, api_block(url, detail=detail))
    run_poll(config)
    assert posts(config) == {}
    failing.clear()
    run_poll(config)
    [text] = posts(config).values()
    assert "<p>正文202206022400000001</p>" in text
    with State.open(config.state.path) as state:
        assert state.db.execute("SELECT count(*) FROM enrichment_attempt").fetchone() == (0,)


def test_a_news_page_with_a_detail_page_per_item(tmp_path: Path, server: HostileServer) -> None:
    listing = (
        '<html><body><ul><li data-id="7"><a href="/a/7">七</a></li>'
        '<li data-id="8"><a href="/a/8">八</a></li></ul></body></html>'
    ).encode()
    server.route("/list.html", answer(listing, "text/html; charset=utf-8"))
    for n in (7, 8):
        page = f'<html><body><div class="text"><p>第{n}篇的正文</p></div><time>2022-06-0{n - 5}T08:00:00+08:00</time></body></html>'
        server.route(f"/detail/{n}", answer(page.encode(), "text/html; charset=utf-8"))
    block = f"""
[[upstreams]]
name = "Page"
kind = "html"
url = "{server.url("/list.html")}"
category = "page"
items = "li"
[upstreams.fields]
id = "@data-id"
title = "a"
link = "a@href"
[upstreams.detail]
url = "{server.url("/detail/")}{{id}}"
content = "div.text"
date = "time"
"""
    config = make_site(tmp_path, block)
    run_poll(config)
    texts = {front_title(t): t for t in posts(config).values()}
    assert "<p>第7篇的正文</p>" in texts["七"] and "date: 2022-06-02 08:00:00 +0800" in texts["七"]
    assert "<p>第8篇的正文</p>" in texts["八"] and f"<{server.url('/a/8')}>" in texts["八"]


def test_ids_alike_for_80_characters_under_a_long_name_give_two_posts(
    tmp_path: Path, server: HostileServer
) -> None:
    listing = json.loads(records(1, 2))
    listing["records"][0]["id"] = "a" * 80 + "first"
    listing["records"][1]["id"] = "a" * 80 + "second"
    url = server.route("/list", answer(json.dumps(listing).encode(), "application/json"))
    block = api_block(url).replace('"{date}-{id}"', '"{date}-' + "long-words-" * 8 + '{id}"')
    config = make_site(tmp_path, block)
    run_poll(config)
    names = sorted(posts(config))
    assert len(names) == 2, names
    assert {front_title(text) for text in posts(config).values()} == {"标题1", "标题2"}


def test_names_of_wide_characters_stay_within_the_file_system_limit(
    tmp_path: Path, server: HostileServer
) -> None:
    listing = json.loads(records(1, 2))
    listing["records"][0]["id"] = "新闻" * 60 + "1"
    listing["records"][1]["id"] = "新闻" * 60 + "2"  # the same name: the hash is added
    listing["records"][0]["title"] = listing["records"][1]["title"] = "标题" * 40
    url = server.route("/list", answer(json.dumps(listing).encode(), "application/json"))
    block = api_block(url).replace('"{date}-{id}"', '"{date}-{slug}-{id}"')
    config = make_site(tmp_path, block)
    report, _ = run_poll(config)
    names = sorted(posts(config))
    assert len(names) == 2, (names, report)
    assert all(len(name.encode()) <= 255 for name in names)


def test_a_detail_url_that_is_the_link_is_taken_as_a_url(
    tmp_path: Path, server: HostileServer
) -> None:
    listing = '<html><body><ul><li><a href="/pages/7/?from=list&amp;x=a b">七</a></li></ul>'
    server.route("/list.html", answer(listing.encode(), "text/html; charset=utf-8"))
    page = (
        '<html><body><div class="text"><p>第7篇的正文</p><img src="pic.jpg"></div>'
        '<a class="orig" href="../../a/7.html">原文</a></body></html>'
    )
    server.route("/pages/7/", answer(page.encode(), "text/html; charset=utf-8"))
    block = f"""
[[upstreams]]
name = "Page"
kind = "html"
url = "{server.url("/list.html")}"
category = "page"
items = "li"
[upstreams.fields]
title = "a"
link = "a@href"
[upstreams.detail]
url = "{{link}}"
content = "div.text"
link = "a.orig@href"
"""
    config = make_site(tmp_path, block)
    run_poll(config)
    [text] = posts(config).values()
    assert "<p>第7篇的正文</p>" in text
    assert f'src="{server.url("/pages/7/pic.jpg")}"' in text
    assert f"<{server.url('/a/7.html')}>" in text
    assert any(r.startswith("/pages/7/?from=list&x=a") for r in server.requests)


def test_robots_txt_is_kept_across_polls_for_its_max_age(server: HostileServer) -> None:
    server.route("/robots.txt", answer(b"User-agent: *\nDisallow: /private/\n", "text/plain"))
    fetcher = Fetcher(user_agent="t", timeout=5, max_bytes=MiB, allow_private_addresses=True)
    with fetcher:
        for _ in range(3):  # a RobotsRules per poll
            rules = RobotsRules(fetcher)
            assert rules.verdict(server.url("/private/1.html")) == (False, None)
            assert rules.verdict(server.url("/public/1.html", host="127.1")) == (True, None)
    assert server.requests.count("/robots.txt") == 1

    server.requests.clear()
    server.route(
        "/robots.txt",
        answer(
            b"User-agent: *\nDisallow: /private/\n", "text/plain", {"Cache-Control": "max-age=0"}
        ),
    )
    fetcher = Fetcher(user_agent="t", timeout=5, max_bytes=MiB, allow_private_addresses=True)
    with fetcher:
        for _ in range(2):
            assert RobotsRules(fetcher).verdict(server.url("/private/1.html")) == (False, None)
    assert server.requests.count("/robots.txt") == 2


def test_only_the_first_500_kib_of_robots_txt_are_read(server: HostileServer) -> None:
    robots = b"User-agent: *\nDisallow: /private/\n" + b"# filler\n" * 70_000
    robots += b"Disallow: /late/\n"
    server.route("/robots.txt", answer(robots, "text/plain"))
    fetcher = Fetcher(user_agent="t", timeout=5, max_bytes=10 * MiB, allow_private_addresses=True)
    with fetcher:
        rules = RobotsRules(fetcher)
        assert rules.verdict(server.url("/private/1.html")) == (False, None)
        assert rules.verdict(server.url("/late/1.html")) == (True, None)  # beyond the cut
