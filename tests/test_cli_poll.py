"""``poll`` and ``add`` as a user runs them: ``python -m syndicator``, output, exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from support.processes import syndicator
from support.upstreams import UPSTREAM_FIXTURES, items, post_files, rss, serve, write_config

from syndicator.core.config import load_config


def test_poll_exits_0_when_every_upstream_is_fine(tmp_path, httpserver):
    serve(httpserver, "/a.xml", rss(items(2)))
    serve(httpserver, "/b.xml", rss(items(3, start=10)))
    config_path = write_config(
        tmp_path,
        [("A", httpserver.url_for("/a.xml"), "alpha"), ("B", httpserver.url_for("/b.xml"), "beta")],
    )

    result = syndicator("poll", config=config_path)

    assert result.returncode == 0, result.stderr
    assert "2 upstreams polled: 2 with new posts (5 posts)" in result.stdout
    assert "0 failed" in result.stdout
    config = load_config(config_path)
    assert len(post_files(config)) == 5
    assert (config.feeds.dir / "categories/beta/atom.xml").exists()


def test_poll_exits_1_when_an_upstream_failed_and_imports_the_rest(tmp_path, httpserver):
    serve(httpserver, "/a.xml", rss(items(2)))
    serve(httpserver, "/broken.xml", b"nope", status=500)
    config_path = write_config(
        tmp_path,
        [
            ("Broken", httpserver.url_for("/broken.xml"), "news"),
            ("A", httpserver.url_for("/a.xml"), "news"),
        ],
    )

    result = syndicator("poll", config=config_path)

    assert result.returncode == 1
    assert "Broken:" in result.stderr and "HTTP 500" in result.stderr
    assert "1 failed" in result.stdout
    config = load_config(config_path)
    assert len(post_files(config)) == 2
    assert b"Story 2" in (config.feeds.dir / "rss.xml").read_bytes()


def test_poll_exits_2_for_an_unknown_upstream_and_does_nothing(tmp_path, httpserver):
    feed = serve(httpserver, "/a.xml", rss(items(2)))
    config_path = write_config(tmp_path, [("A", httpserver.url_for("/a.xml"), "news")])

    result = syndicator("poll", "A", "Nobody", config=config_path)

    assert result.returncode == 2
    assert "Nobody" in result.stderr
    assert feed.requests == []
    assert not (tmp_path / "_posts").exists() and not (tmp_path / "feeds").exists()


def test_poll_name_polls_only_that_upstream(tmp_path, httpserver):
    a = serve(httpserver, "/a.xml", rss(items(2)))
    b = serve(httpserver, "/b.xml", rss(items(1, start=7)))
    config_path = write_config(
        tmp_path,
        [("A", httpserver.url_for("/a.xml"), "alpha"), ("B", httpserver.url_for("/b.xml"), "beta")],
    )

    result = syndicator("poll", "B", config=config_path)

    assert result.returncode == 0, result.stderr
    assert "1 upstreams polled" in result.stdout
    assert (len(a.requests), len(b.requests)) == (0, 1)
    assert len(post_files(load_config(config_path))) == 1


def test_poll_again_polls_only_what_is_due_unless_forced(tmp_path, httpserver):
    a = serve(httpserver, "/a.xml", rss(items(2)))
    config_path = write_config(tmp_path, [("A", httpserver.url_for("/a.xml"), "news")])
    assert syndicator("poll", config=config_path).returncode == 0

    again = syndicator("poll", config=config_path)
    forced = syndicator("poll", "--force", config=config_path)

    assert again.returncode == 0 and "0 upstreams polled" in again.stdout
    assert forced.returncode == 0 and "1 upstreams polled" in forced.stdout
    assert "0 with new posts" in forced.stdout
    assert len(a.requests) == 2


def check_added_block(config_path: Path, block: str) -> dict:
    parsed = tomllib.loads(block)
    [upstream] = parsed["upstreams"]
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + block + "\n")
    checked = syndicator("check", config=config_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert load_config(config_path).upstreams[-1].url == upstream["url"]
    return upstream


def test_add_given_a_feed_url_prints_a_working_upstreams_block(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1), title='中国网"财经" \\ News'))
    config_path = write_config(tmp_path, [])

    result = syndicator("add", httpserver.url_for("/feed.xml"), config=config_path)

    assert result.returncode == 0, result.stderr
    upstream = check_added_block(config_path, result.stdout)
    assert upstream["name"] == '中国网"财经" \\ News'
    assert upstream["url"] == httpserver.url_for("/feed.xml")
    assert upstream["category"]


def test_add_given_a_web_page_finds_its_alternate_feed(tmp_path, httpserver):
    page = (UPSTREAM_FIXTURES / "page.html").read_bytes()
    serve(httpserver, "/site/index.html", page, content_type="text/html; charset=utf-8")
    serve(httpserver, "/site/feeds/rss.xml", rss(items(1), title="Example News"))
    config_path = write_config(tmp_path, [])

    result = syndicator("add", httpserver.url_for("/site/index.html"), config=config_path)

    assert result.returncode == 0, result.stderr
    upstream = check_added_block(config_path, result.stdout)
    assert upstream["url"] == httpserver.url_for("/site/feeds/rss.xml")
    assert upstream["name"] == "Example News"
    assert upstream["category"] == "example-news"
