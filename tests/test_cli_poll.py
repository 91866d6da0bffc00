"""``poll`` and ``add`` as a user runs them: ``python -m syndicator``, output, exit codes."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import pytest
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
    assert not any((tmp_path / "_posts").iterdir()) and not (tmp_path / "feeds").exists()


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


# --- upstream edits keep the upstream's identity (issue: nothing lost by a mistake, case 6) --


def test_renaming_and_recategorising_an_upstream_imports_nothing_again(tmp_path, httpserver):
    serve(httpserver, "/a.xml", rss(items(2)))
    url = httpserver.url_for("/a.xml")
    config_path = write_config(tmp_path, [("Old name", url, "alpha", ["t1"])])
    assert syndicator("poll", config=config_path).returncode == 0
    before = post_files(load_config(config_path))
    assert len(before) == 2

    write_config(tmp_path, [("中国证券报", url, "beta", ["t2"])])  # name, category, tags
    result = syndicator("poll", "--force", config=config_path)

    assert result.returncode == 0, result.stderr
    assert "0 with new posts" in result.stdout
    assert post_files(load_config(config_path)) == before
    status = syndicator("status", config=config_path)
    assert "中国证券报  ok" in status.stdout and "2 imported" in status.stdout


def test_an_upstream_with_an_id_keeps_its_entries_when_its_url_changes(tmp_path, httpserver):
    serve(httpserver, "/a.xml", rss(items(2)))
    serve(httpserver, "/moved.xml", rss(items(3)))
    config_path = write_config(tmp_path, [])
    with config_path.open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[[upstreams]]\nid = "cs"\nname = "A"\nurl = "{httpserver.url_for("/a.xml")}"\n'
            'category = "news"\n'
        )
    assert syndicator("poll", config=config_path).returncode == 0
    text = config_path.read_text(encoding="utf-8").replace("/a.xml", "/moved.xml")
    config_path.write_text(text, encoding="utf-8")

    result = syndicator("poll", "--force", config=config_path)

    assert result.returncode == 0, result.stderr
    assert "(1 posts)" in result.stdout  # story 3 only; stories 1 and 2 were imported
    assert len(post_files(load_config(config_path))) == 3


def test_rows_an_earlier_version_kept_by_name_are_adopted(tmp_path, httpserver):
    """A state written when upstreams were known by name: the upgrade imports nothing again."""
    serve(httpserver, "/a.xml", rss(items(2)))
    url = httpserver.url_for("/a.xml")
    config_path = write_config(tmp_path, [("A", url, "news")])
    assert syndicator("poll", config=config_path).returncode == 0
    state = load_config(config_path).state.path
    with sqlite3.connect(state) as db:  # as the previous version left it
        db.execute("UPDATE upstream SET key = 'A' WHERE key = ?", (url,))
        db.execute("UPDATE imported_entry SET upstream = 'A' WHERE upstream = ?", (url,))

    result = syndicator("poll", "--force", config=config_path)

    assert result.returncode == 0, result.stderr
    assert "0 with new posts" in result.stdout
    with sqlite3.connect(state) as db:
        assert db.execute("SELECT key FROM upstream").fetchall() == [(url,)]


# --- add (case 8) ---------------------------------------------------------------------------


def test_add_says_when_a_page_has_no_feed_of_its_own(tmp_path, httpserver):
    serve(
        httpserver, "/cs/", b"<html><title>CS</title><p>news</p></html>", content_type="text/html"
    )
    serve(httpserver, "/rss.xml", rss(items(1), title="The whole site"))
    config_path = write_config(tmp_path, [])

    result = syndicator("add", httpserver.url_for("/cs/"), config=config_path)

    assert result.returncode == 1
    assert f"{httpserver.url_for('/cs/')} has no feed of its own" in result.stderr
    assert "/feed (HTTP 500)" in result.stderr or "/feed (" in result.stderr  # what it tried
    assert "# the site's feed, not the feed of" in result.stdout
    assert tomllib.loads(result.stdout)["upstreams"][0]["url"] == httpserver.url_for("/rss.xml")


def test_add_never_names_a_category_after_an_address(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1), title=""))
    config_path = write_config(tmp_path, [])

    result = syndicator("add", httpserver.url_for("/feed.xml"), config=config_path)

    assert result.returncode == 0, result.stderr
    [upstream] = tomllib.loads(result.stdout)["upstreams"]
    assert "127" not in upstream["category"] and "127" not in upstream["name"]
    assert upstream["category"] == upstream["name"] == "change-me"


def test_add_proposes_an_existing_category_the_title_names(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1), title="中国证券报"))
    config_path = write_config(tmp_path, [("Other", "http://127.0.0.1:9/x.xml", "中国证券报")])

    result = syndicator("add", httpserver.url_for("/feed.xml"), config=config_path)

    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["upstreams"][0]["category"] == "中国证券报"


def test_add_reports_an_already_configured_url(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1), title="Feed"))
    url = httpserver.url_for("/feed.xml")
    config_path = write_config(tmp_path, [("Mine", url, "news")])

    result = syndicator("add", url, config=config_path)

    assert result.returncode == 1
    assert "is already in" in result.stderr and "'Mine'" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "title",
    [
        'say "hi"',
        "back\\slash",
        "new\nline",
        "tab\there",
        "ctl\x01\x1f",
        "del\x7f",
        "ls\u2028",
        "c1\x85",
        "'single'",
        "]]\n[[upstreams]]",
        "emoji 📰",
    ],
)
def test_add_prints_toml_that_parses_whatever_the_title(tmp_path, httpserver, title):
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    body = rss(items(1), title="PLACEHOLDER").replace(b"PLACEHOLDER", escaped.encode())
    serve(httpserver, "/feed.xml", body)
    config_path = write_config(tmp_path, [])

    result = syndicator("add", httpserver.url_for("/feed.xml"), config=config_path)

    assert result.returncode == 0, result.stderr
    check_added_block(config_path, result.stdout)
