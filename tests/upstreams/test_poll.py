"""``poll`` against real HTTP servers on 127.0.0.1: what is imported, what is written, what
is remembered between polls, and how each kind of upstream failure is handled.

The helpers (feed documents, a scriptable upstream, configs, snapshots) are in
support/upstreams.py, shared with test_status.py, test_cli_poll.py and test_poll_crash.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from support.site import FIXTURES, assert_feeds_valid
from support.upstreams import (
    BASE_DATE,
    UPSTREAM_FIXTURES,
    Item,
    atom,
    front_matter_value,
    items,
    loaded_posts,
    make_config,
    post_files,
    posts_folder,
    redirect,
    row,
    rss,
    run_poll,
    serve,
    snapshot,
)

import syndicator.upstreams.importer as importer_module
import syndicator.upstreams.poll as poll_module
from syndicator.core.config import UpstreamConfig
from syndicator.feeds.entries import make_entry
from syndicator.state.db import State, UpstreamRow
from syndicator.upstreams.poll import (
    backoff_delay,
    due_upstreams,
    poll_interval,
)


@pytest.fixture
def feed_url(httpserver) -> Callable[[str], str]:
    return httpserver.url_for


# --- importing -------------------------------------------------------------------------------


def test_new_upstream_imports_only_its_newest_backfill_entries(tmp_path, httpserver):
    # Out of date order in the document: "newest" is by date, not by position.
    entries = [Item(n) for n in (3, 1, 5, 2, 4)]
    serve(httpserver, "/feed.xml", rss(entries))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=2)

    report, build = run_poll(config)

    assert [o.result for o in report.outcomes] == ["imported"]
    assert sorted(post.title for post, _ in loaded_posts(config)) == ["Story 4", "Story 5"]
    assert build is not None and (config.feeds.dir / "rss.xml").exists()


def test_entries_left_out_by_backfill_stay_out(tmp_path, httpserver):
    """The older entries a new upstream skipped are not imported by the next poll either."""
    upstream = serve(httpserver, "/feed.xml", rss(items(5)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=2)
    run_poll(config)
    upstream.body = rss([*items(5), Item(6)])  # one genuinely new entry

    report, _ = run_poll(config)

    assert len(report.written) == 1
    assert sorted(post.title for post, _ in loaded_posts(config)) == [
        "Story 4",
        "Story 5",
        "Story 6",
    ]


def test_backfill_applies_when_the_first_poll_failed(tmp_path, httpserver):
    upstream = serve(httpserver, "/feed.xml", b"down", status=500)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=2)
    run_poll(config)
    assert row(config, "Up").state == "error"
    upstream.status, upstream.body = 200, rss(items(5))

    run_poll(config)

    assert sorted(post.title for post, _ in loaded_posts(config)) == ["Story 4", "Story 5"]


def test_backfill_zero_imports_nothing_then_only_new_entries(tmp_path, httpserver):
    upstream = serve(httpserver, "/feed.xml", rss(items(3)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=0)
    report, _ = run_poll(config)
    assert report.written == []
    upstream.body = rss(items(4))

    run_poll(config)

    assert [post.title for post, _ in loaded_posts(config)] == ["Story 4"]


def test_repeated_poll_without_upstream_change_writes_nothing(tmp_path, httpserver):
    # No validators: the upstream answers 200 with the same document every time, so it is
    # the entry identities that must keep the second poll from writing.
    serve(httpserver, "/a.xml", rss(items(3)))
    serve(httpserver, "/b.xml", atom(items(2, start=10)), content_type="application/atom+xml")
    config = make_config(
        tmp_path,
        [
            ("A", httpserver.url_for("/a.xml"), "alpha", ["ta"]),
            ("B", httpserver.url_for("/b.xml"), "beta", ["tb"]),
        ],
    )
    run_poll(config)
    before = snapshot(posts_folder(config), config.feeds.dir)
    assert len(post_files(config)) == 5
    time.sleep(0.02)  # a rewrite would show in the mtimes

    report, build = run_poll(config)

    assert [o.result for o in report.outcomes] == ["unchanged", "unchanged"]
    assert report.written == [] and build.written == [] and build.regenerated == 0
    assert snapshot(posts_folder(config), config.feeds.dir) == before


def test_validators_are_sent_and_304_is_not_parsed(tmp_path, httpserver, monkeypatch):
    upstream = serve(
        httpserver,
        "/feed.xml",
        rss(items(2)),
        etag='"v1"',
        last_modified="Thu, 02 Jun 2022 06:05:33 GMT",
    )
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    parsed: list[str] = []
    real_parse = poll_module.parse_feed

    def counting_parse(body, url, *args):
        parsed.append(url)
        return real_parse(body, url, *args)

    monkeypatch.setattr(poll_module, "parse_feed", counting_parse)
    before = snapshot(posts_folder(config), config.feeds.dir)

    report, build = run_poll(config)
    run_poll(config)  # the validators survive a 304

    assert "If-None-Match" not in upstream.requests[0]
    for request in upstream.requests[1:]:
        assert request["If-None-Match"] == '"v1"'
        assert request["If-Modified-Since"] == "Thu, 02 Jun 2022 06:05:33 GMT"
    assert parsed == []
    assert report.outcomes[0].result == "unchanged" and build.written == []
    stored = row(config, "Up")
    assert (stored.state, stored.last_status, stored.etag) == ("ok", 304, '"v1"')
    assert snapshot(posts_folder(config), config.feeds.dir) == before
    # A changed document is parsed again.
    upstream.etag, upstream.body = '"v2"', rss(items(3))
    report, _ = run_poll(config)
    assert len(parsed) == 1 and len(report.written) == 1


def test_a_new_entry_writes_one_post_and_rebuilds_only_its_feeds(tmp_path, httpserver):
    alpha = serve(httpserver, "/a.xml", rss(items(2)))
    serve(httpserver, "/b.xml", rss(items(2, start=50)))
    config = make_config(
        tmp_path,
        [
            ("A", httpserver.url_for("/a.xml"), "alpha", ["ta"]),
            ("B", httpserver.url_for("/b.xml"), "beta", ["tb"]),
        ],
    )
    run_poll(config)
    before = snapshot(config.feeds.dir)
    posts_before = set(post_files(config))
    alpha.body = rss(items(3))
    time.sleep(0.02)

    report, build = run_poll(config)

    new_posts = set(post_files(config)) - posts_before
    assert len(new_posts) == 1 and report.written == list(new_posts)
    assert build.regenerated == 3  # the site, category alpha and tag ta: nothing else
    allowed = {"rss.xml", "atom.xml", "feed.json", "feeds.opml", "index.html"}
    allowed |= {
        f"{folder}/{name}" for folder in ("categories/alpha", "tags/ta") for name in allowed
    }
    assert set(build.written) <= allowed
    assert {"rss.xml", "categories/alpha/rss.xml", "tags/ta/atom.xml"} <= set(build.written)
    after = snapshot(config.feeds.dir)
    for path, (data, mtime) in before.items():
        if "/beta/" in path or "/tb/" in path:
            assert after[path] == (data, mtime), f"{path} was rewritten"
    assert b"Story 3" in (config.feeds.dir / "categories/alpha/rss.xml").read_bytes()


def test_an_updated_entry_rewrites_its_post_in_place(tmp_path, httpserver):
    guid = "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    first = Item(1, guid=guid, updated=BASE_DATE + timedelta(hours=1), html="<p>First.</p>")
    upstream = serve(httpserver, "/feed.xml", atom([first]), content_type="application/atom+xml")
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    [path] = post_files(config)
    [(post_before, _)] = loaded_posts(config)
    assert front_matter_value(path, "last_modified_at") is None

    second = Item(1, guid=guid, updated=BASE_DATE + timedelta(hours=2), html="<p>Second.</p>")
    upstream.body = atom([second])
    report, build = run_poll(config)

    assert post_files(config) == [path] and report.written == [path]
    [(post_after, body)] = loaded_posts(config)
    assert "Second." in body and "First." not in body
    assert post_after.id == post_before.id == guid
    assert post_after.date == post_before.date == BASE_DATE + timedelta(minutes=1)
    assert front_matter_value(path, "last_modified_at") == "2022-06-02 16:05:33 +0800"
    assert post_after.updated == BASE_DATE + timedelta(hours=2)
    assert front_matter_value(path, "guid") == f'"{guid}"'
    assert build is not None
    # Polled again unchanged: not rewritten a third time.
    assert run_poll(config)[0].written == []


def test_same_article_through_two_upstreams_into_one_category_is_one_post(tmp_path, httpserver):
    shared = "http://news.example/shared.html"
    serve(httpserver, "/a.xml", rss([Item(1, link=shared, guid="a-1")]))
    serve(httpserver, "/b.xml", rss([Item(1, link=shared, guid="b-77", title="Other title")]))
    config = make_config(
        tmp_path,
        [
            ("A", httpserver.url_for("/a.xml"), "news"),
            ("B", httpserver.url_for("/b.xml"), "news"),
        ],
    )
    run_poll(config)
    run_poll(config)

    [(post, _)] = loaded_posts(config)
    assert post.source_url == shared


def test_same_link_twice_in_one_feed_is_one_post(tmp_path, httpserver):
    """An upstream that gives an edited article a new id, both still listed: one post."""
    shared = "http://news.example/edited.html"
    serve(httpserver, "/a.xml", rss([Item(1, link=shared), Item(2, link=shared)]))
    config = make_config(tmp_path, [("A", httpserver.url_for("/a.xml"), "news")])

    report, _ = run_poll(config)
    run_poll(config)

    assert len(report.written) == 1
    assert len(post_files(config)) == 1


def test_an_article_left_out_by_backfill_can_come_through_another_upstream(tmp_path, httpserver):
    shared = "http://news.example/old-but-wanted.html"
    serve(httpserver, "/a.xml", rss([Item(1, link=shared), *items(2, start=2)]))
    b = serve(httpserver, "/b.xml", rss([]))
    config = make_config(
        tmp_path,
        [("A", httpserver.url_for("/a.xml"), "news"), ("B", httpserver.url_for("/b.xml"), "news")],
        backfill=2,
    )
    run_poll(config)
    assert len(post_files(config)) == 2  # Story 1 left out
    b.body = rss([Item(9, link=shared)])

    run_poll(config)

    assert {post.source_url for post, _ in loaded_posts(config)} >= {shared}


def test_a_flood_of_new_entries_is_imported_a_batch_per_poll(
    tmp_path, httpserver, monkeypatch, caplog
):
    monkeypatch.setattr(importer_module, "MAX_NEW_ENTRIES_PER_POLL", 3)
    upstream = serve(httpserver, "/feed.xml", rss(items(3)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    assert len(run_poll(config)[0].written) == 3
    assert "wait for the next poll" not in caplog.text  # exactly the batch: nothing waits
    upstream.body = rss(items(8))

    first, _ = run_poll(config)
    second, _ = run_poll(config)
    third, _ = run_poll(config)

    assert [len(r.written) for r in (first, second, third)] == [3, 2, 0]
    assert "wait for the next poll" in caplog.text
    assert len(post_files(config)) == 8


@pytest.mark.parametrize(
    "guids", [("a-1", "b-1"), ("same", "same"), ("", ""), ("http://news.example/shared.html",) * 2]
)
def test_same_article_into_two_categories_is_two_posts(tmp_path, httpserver, guids):
    """Whatever the two upstreams use as ids (their own, the same, none: the link), the
    article gets a post in each category, and each category's feed lists it."""
    shared = "http://news.example/shared.html"
    serve(httpserver, "/a.xml", rss([Item(1, link=shared, guid=guids[0])]))
    serve(httpserver, "/b.xml", rss([Item(1, link=shared, guid=guids[1])]))
    config = make_config(
        tmp_path,
        [
            ("A", httpserver.url_for("/a.xml"), "alpha"),
            ("B", httpserver.url_for("/b.xml"), "beta"),
        ],
    )
    run_poll(config)

    posts = loaded_posts(config)
    assert sorted(post.categories for post, _ in posts) == [("alpha",), ("beta",)]
    assert sorted(post.source for post, _ in posts) == ["A", "B"]
    for category in ("alpha", "beta"):
        assert b"Story 1" in (config.feeds.dir / f"categories/{category}/rss.xml").read_bytes()


def test_entry_without_a_date_is_dated_now_in_the_site_time_zone(tmp_path, httpserver):
    body = rss([Item(1)]).replace(b"<pubDate>", b"<!--").replace(b"</pubDate>", b"-->")
    serve(httpserver, "/feed.xml", body)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    before = datetime.now(UTC).replace(microsecond=0)

    run_poll(config)

    [path] = post_files(config)
    date = front_matter_value(path, "date")
    assert date is not None and date.endswith(" +0800")  # Asia/Shanghai, the site's zone
    [(post, _)] = loaded_posts(config)
    assert before <= post.date <= datetime.now(UTC)


def test_entry_offset_is_kept_in_the_post_date(tmp_path, httpserver):
    new_york = timezone(timedelta(hours=-4))
    dated = Item(1, published=datetime(2022, 6, 2, 9, 30, tzinfo=new_york))
    serve(httpserver, "/feed.xml", atom([dated]), content_type="application/atom+xml")
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    [path] = post_files(config)
    assert front_matter_value(path, "date") == "2022-06-02 09:30:00 -0400"
    assert path.name.startswith("2022-06-02-")


def test_entry_date_without_offset_is_read_in_the_site_time_zone(tmp_path, httpserver):
    body = atom([Item(1)]).replace(b"14:06:33+08:00", b"14:06:33")
    serve(httpserver, "/feed.xml", body, content_type="application/atom+xml")
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    [path] = post_files(config)
    assert front_matter_value(path, "date") == "2022-06-02 14:06:33 +0800"


def test_gb18030_feed_gives_correct_cjk_posts(tmp_path, httpserver):
    document = (FIXTURES / "poll" / "gb18030.xml").read_bytes()
    assert b'encoding="GB18030"' in document
    serve(httpserver, "/gb.xml", document, content_type="text/xml")  # no charset: the prolog
    config = make_config(tmp_path, [("中国网财经", httpserver.url_for("/gb.xml"), "财经")])

    run_poll(config)

    posts = {post.title: body for post, body in loaded_posts(config)}
    assert set(posts) == {"中国网财经：欧元€走强，𠀀字节与㐀", "沪深两市收涨 A股成交额破万亿"}
    body = posts["沪深两市收涨 A股成交额破万亿"]
    assert "上证指数收涨1.2%，深证成指涨𠀀" in body
    assert "（文章来源：中国网财经）" in body
    for path in post_files(config):
        path.read_bytes().decode("utf-8")  # written as UTF-8, whatever the upstream used


def test_hostile_upstream_cannot_escape_the_post_folder_or_inject_html(tmp_path, httpserver):
    serve(httpserver, "/t.xml", (UPSTREAM_FIXTURES / "traversal.xml").read_bytes())
    serve(httpserver, "/h.xml", (UPSTREAM_FIXTURES / "hostile.xml").read_bytes())
    config = make_config(
        tmp_path,
        [
            ("T", httpserver.url_for("/t.xml"), "news"),
            ("H", httpserver.url_for("/h.xml"), "news"),
        ],
    )

    report, _ = run_poll(config)

    assert not report.failed
    written = {path.resolve() for path in report.written}
    assert len(written) == 2
    assert all(path.parent == posts_folder(config).resolve() for path in written)
    assert set(tmp_path.rglob("passwd")) == set() and not (tmp_path.parent / "outside").exists()
    titles = {post.title for post, _ in loaded_posts(config)}
    assert "../../etc/passwd and more lines tabbed" in titles
    for path in written:
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[1].lower()
        for bad in ("<script", "onclick", "javascript:", "<iframe"):
            assert bad not in body


# --- where to poll ---------------------------------------------------------------------------


def test_301_is_remembered_and_the_next_poll_goes_to_the_new_url(tmp_path, httpserver):
    old = redirect(httpserver, "/old.xml", httpserver.url_for("/new.xml"), 301)
    new = serve(httpserver, "/new.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/old.xml"), "news")])

    run_poll(config)
    assert row(config, "Up").current_url == httpserver.url_for("/new.xml")
    assert row(config, "Up").url == httpserver.url_for("/old.xml")
    run_poll(config)

    assert len(old) == 1 and len(new.requests) == 2
    [(post, _)] = loaded_posts(config)
    assert post.source_feed == httpserver.url_for("/new.xml")


def test_308_is_remembered_too(tmp_path, httpserver):
    redirect(httpserver, "/old.xml", httpserver.url_for("/new.xml"), 308)
    serve(httpserver, "/new.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/old.xml"), "news")])

    run_poll(config)

    assert row(config, "Up").current_url == httpserver.url_for("/new.xml")


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirect_is_followed_but_not_remembered(tmp_path, httpserver, status):
    old = redirect(httpserver, "/old.xml", httpserver.url_for("/new.xml"), status)
    new = serve(httpserver, "/new.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/old.xml"), "news")])

    run_poll(config)
    run_poll(config)

    assert row(config, "Up").current_url is None
    assert len(old) == 2 and len(new.requests) == 2
    assert len(post_files(config)) == 1


def test_a_changed_config_url_starts_afresh(tmp_path, httpserver):
    redirect(httpserver, "/old.xml", httpserver.url_for("/moved.xml"), 301)
    serve(httpserver, "/moved.xml", rss(items(1)))
    other = serve(httpserver, "/other.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/old.xml"), "news")])
    run_poll(config)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/other.xml"), "news")])

    run_poll(config)

    assert len(other.requests) == 1
    assert row(config, "Up").current_url is None


def test_410_marks_the_upstream_gone_and_it_is_not_polled_again(tmp_path, httpserver):
    gone = serve(httpserver, "/gone.xml", b"", status=410)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/gone.xml"), "news")])

    report, _ = run_poll(config)

    assert [o.result for o in report.outcomes] == ["gone"]
    stored = row(config, "Up")
    assert (stored.state, stored.last_status, stored.next_poll) == ("gone", 410, None)
    far_future = time.time() + 10 * 365 * 86400
    with State.open(config.state.path) as state:
        assert due_upstreams(config, state, far_future) == []
    run_poll(config, force=False)
    assert len(gone.requests) == 1


# --- failures and pace -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 503])
def test_errors_back_off_exponentially_capped_and_reset_on_success(tmp_path, httpserver, status):
    upstream = serve(httpserver, "/feed.xml", b"nope", status=status)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    delays = []
    for expected_errors in range(1, 6):
        report, _ = run_poll(config)
        assert report.outcomes[0].result == "failed"
        assert str(status) in (report.outcomes[0].error or "")
        stored = row(config, "Up")
        assert stored.consecutive_errors == expected_errors
        assert stored.state == "error" and stored.last_status == status
        assert stored.last_poll is not None and stored.next_poll is not None
        delays.append(stored.next_poll - stored.last_poll)
    # interval 100 s, doubled each time, capped at max_interval 1000 s; jitter takes up to half.
    for delay, ceiling in zip(delays, (100, 200, 400, 800, 1000), strict=True):
        assert ceiling / 2 <= delay <= ceiling
    upstream.status, upstream.body = 200, rss(items(1))

    run_poll(config)

    stored = row(config, "Up")
    assert (stored.state, stored.consecutive_errors, stored.last_error) == ("ok", 0, None)
    assert stored.next_poll == pytest.approx(stored.last_poll + 100)


def test_backoff_has_jitter_and_a_cap(tmp_path):
    config = make_config(tmp_path, [("Up", "http://127.0.0.1:1/feed.xml", "news")])
    upstream = config.upstreams[0]
    for errors, ceiling in ((1, 100), (3, 400), (5, 1000), (40, 1000), (10_000, 1000)):
        samples = {backoff_delay(config, upstream, errors) for _ in range(50)}
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(samples) > 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_is_honoured(tmp_path, httpserver, status):
    serve(httpserver, "/feed.xml", b"slow down", status=status, headers={"Retry-After": "5000"})
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    stored = row(config, "Up")
    assert stored.state == "backoff" and stored.last_status == status
    assert stored.next_poll >= stored.last_poll + 5000
    assert stored.next_poll <= stored.last_poll + 5000 + 1  # not also the max_interval cap


def test_retry_after_as_an_http_date_is_honoured(tmp_path, httpserver):
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    serve(
        httpserver,
        "/feed.xml",
        b"",
        status=429,
        headers={"Retry-After": format_datetime(when, usegmt=True)},
    )
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    stored = row(config, "Up")
    assert stored.state == "backoff"
    assert stored.next_poll >= when.timestamp() - 1
    with State.open(config.state.path) as state:
        assert due_upstreams(config, state, time.time()) == []


def test_short_retry_after_still_backs_off(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", b"", status=429, headers={"Retry-After": "1"})
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    stored = row(config, "Up")
    assert stored.next_poll - stored.last_poll >= 50  # the backoff, at least half the interval


@pytest.mark.parametrize(
    ("ttl", "cache_control", "expected"),
    [
        (None, None, 100),  # our interval
        (10, None, 600),  # <ttl> 10 minutes: slower than ours, honoured
        (600, None, 1000),  # 10 hours: kept within max_interval
        (1, None, 100),  # faster than ours: ours
        (None, "public, max-age=900", 900),
        (None, "max-age=5", 100),
        (None, "max-age=900, no-cache", 100),
        (5, "max-age=700", 700),  # the slower of the two
        (12, "max-age=300", 720),
    ],
)
def test_upstream_pace_is_respected_within_bounds(
    tmp_path, httpserver, ttl, cache_control, expected
):
    headers = {"Cache-Control": cache_control} if cache_control else {}
    serve(httpserver, "/feed.xml", rss(items(1), ttl=ttl), headers=headers)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    stored = row(config, "Up")
    assert stored.next_poll - stored.last_poll == pytest.approx(expected)


def test_poll_interval_respects_min_and_max_interval(tmp_path):
    config = make_config(tmp_path, [("Up", "http://127.0.0.1:1/feed.xml", "news")])
    fast = UpstreamConfig(name="Fast", url="http://127.0.0.1:1/f", category="x", interval=0.5)
    assert poll_interval(config, fast, 0) == 1  # min_interval
    assert poll_interval(config, fast, 10**9) == 1000  # max_interval


def test_html_page_is_a_recorded_error_and_other_upstreams_still_import(tmp_path, httpserver):
    page = (UPSTREAM_FIXTURES / "page.html").read_bytes()
    serve(httpserver, "/page.html", page, content_type="text/html; charset=utf-8")
    serve(httpserver, "/feed.xml", rss(items(2)))
    serve(httpserver, "/later.xml", rss(items(1, start=9)))
    config = make_config(
        tmp_path,
        [
            ("Feed", httpserver.url_for("/feed.xml"), "news"),
            ("Page", httpserver.url_for("/page.html"), "news"),
            ("Later", httpserver.url_for("/later.xml"), "news"),
        ],
    )

    report, _ = run_poll(config)

    results = {o.name: o.result for o in report.outcomes}
    assert results == {"Feed": "imported", "Page": "failed", "Later": "imported"}
    [failed] = report.failed
    assert failed.error_kind == "not_a_feed" and "HTML page" in (failed.error or "")
    stored = row(config, "Page")
    assert stored.state == "error" and stored.last_status == 200
    assert "HTML page, not a feed" in (stored.last_error or "")
    assert len(post_files(config)) == 3


def test_refused_connection_is_recorded_and_the_rest_goes_on(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1)))
    config = make_config(
        tmp_path,
        [
            ("Dead", "http://127.0.0.1:9/feed.xml", "news"),
            ("Live", httpserver.url_for("/feed.xml"), "news"),
        ],
    )

    report, _ = run_poll(config)

    assert [o.result for o in report.outcomes] == ["failed", "imported"]
    stored = row(config, "Dead")
    assert stored.state == "error" and stored.last_status is None
    assert "could not connect" in (stored.last_error or "")


# --- which upstreams -------------------------------------------------------------------------


def test_due_upstreams_honours_next_poll_names_force_and_unknown_names(tmp_path):
    config = make_config(
        tmp_path,
        [(name, f"http://127.0.0.1:1/{name}.xml", "news") for name in ("a", "b", "c", "d")],
    )
    now = 1_700_000_000.0
    with State.open(config.state.path) as state:
        state.save_upstream(
            UpstreamRow(config.upstreams[0].key, config.upstreams[0].url, state="ok", next_poll=now)
        )
        state.save_upstream(
            UpstreamRow(
                config.upstreams[1].key, config.upstreams[1].url, state="ok", next_poll=now + 1
            )
        )
        state.save_upstream(
            UpstreamRow(config.upstreams[2].key, config.upstreams[2].url, state="gone")
        )
        # d: never polled

        def names(**options) -> list[str]:
            return [u.name for u in due_upstreams(config, state, now, **options)]

        assert names() == ["a", "d"]
        assert names(names=["b"]) == ["b"]
        assert names(names=["c", "b"]) == ["c", "b"]
        assert names(force=True) == ["a", "b", "c", "d"]
        with pytest.raises(KeyError, match="nope"):
            names(names=["b", "nope"])
        # b becomes due at its next_poll.
        assert [u.name for u in due_upstreams(config, state, now + 1)] == ["a", "b", "d"]


def test_named_poll_polls_only_that_upstream(tmp_path, httpserver):
    a = serve(httpserver, "/a.xml", rss(items(1)))
    b = serve(httpserver, "/b.xml", rss(items(1, start=5)))
    config = make_config(
        tmp_path,
        [("A", httpserver.url_for("/a.xml"), "news"), ("B", httpserver.url_for("/b.xml"), "news")],
    )

    run_poll(config, names=["B"], force=False)

    assert (len(a.requests), len(b.requests)) == (0, 1)
    assert [post.source for post, _ in loaded_posts(config)] == ["B"]


def test_polled_posts_build_into_valid_feeds_with_attribution(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(2)))
    config = make_config(tmp_path, [("中国网财经", httpserver.url_for("/feed.xml"), "news")])

    run_poll(config)

    assert assert_feeds_valid(config.feeds.dir) == 6
    for post, body in loaded_posts(config):
        entry = make_entry(post, body, config)
        assert entry.attribution.source == "中国网财经"
        assert entry.attribution.url == post.source_url
        assert entry.attribution.feed == httpserver.url_for("/feed.xml")


def test_a_poll_applies_its_answer_to_the_row_as_it_is_under_the_lock(tmp_path, httpserver):
    """Another process may poll the same upstream while this one fetches: the answer is
    applied to the row read under the write lock, not to the one read before the fetch (its
    errors in a row were counted from a stale 0)."""
    import contextlib
    import dataclasses

    from syndicator import refresh
    from syndicator.upstreams.poll import due_upstreams, make_fetcher

    serve(httpserver, "/feed.xml", b"nope", status=500)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)  # one failure: the row exists
    with State.open(config.state.path) as state, make_fetcher(config) as fetcher:
        upstreams = due_upstreams(config, state, time.time(), (), True)

        entered: list[int] = []

        @contextlib.contextmanager
        def writing_after_another_poll():
            entered.append(1)
            if len(entered) == 2:  # the first is the recovery's, before the fetch
                stored = state.upstream(upstreams[0].key)
                state.save_upstream(dataclasses.replace(stored, consecutive_errors=4))
            yield

        refresh.poll(config, state, upstreams, fetcher, writing_after_another_poll)
    assert row(config, "Up").consecutive_errors == 5
