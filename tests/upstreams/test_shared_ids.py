"""Upstreams whose entries share an id (a guid such as ``http://example.org/entry/1``): each
article is written once, and every post written is an entry of its feeds.

A guid becomes the post's feed id; two posts with one id would leave one of them in no feed.
So an entry whose guid another upstream's post came from is the same article when its link
is the same too (in one category: recorded, not written again), and is otherwise written
without the guid, with an id of its own (Jekyll's, from its file name).
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from support.published import feed_entries, posts_missing_from_feeds
from support.upstreams import (
    BASE_DATE,
    Item,
    atom,
    front_matter_value,
    make_config,
    post_files,
    rss,
    run_poll,
    serve,
)

from syndicator.site.scan import scan_posts
from syndicator.state.db import MIGRATIONS, State

SHARED_GUIDS = [f"http://example.org/entry/{n}" for n in (1, 2, 3)]


def shared_guid_items(site: str) -> list[Item]:
    """Entries whose guids every such upstream uses, each with a link of its own site."""
    return [
        Item(n, title=f"{site} story {n}", guid=guid, link=f"http://{site}/{n}.html")
        for n, guid in enumerate(SHARED_GUIDS, 1)
    ]


def serve_sites(httpserver, sites: list[str], category: str = "news") -> list[tuple]:
    for site in sites:
        serve(httpserver, f"/{site}.xml", rss(shared_guid_items(site)))
    return [(site, httpserver.url_for(f"/{site}.xml"), category) for site in sites]


def assert_every_post_shown(config) -> None:
    """What ``check`` finds nothing to say about, and the feeds agree."""
    scan = scan_posts(config)
    assert (scan.problems, scan.left_out, scan.notices) == ([], [], [])
    assert posts_missing_from_feeds(config) == []


def test_upstreams_of_one_category_sharing_guids_in_one_poll_all_reach_the_feed(
    tmp_path, httpserver
):
    sites = ["a.example", "b.example", "c.example"]
    upstreams = serve_sites(httpserver, sites)
    # A mirror of a.example: the same guids and the same links, so the same articles.
    serve(httpserver, "/mirror.xml", rss(shared_guid_items("a.example")))
    upstreams.append(("Mirror", httpserver.url_for("/mirror.xml"), "news"))
    config = make_config(tmp_path, upstreams)

    report, build = run_poll(config)

    assert not report.failed
    assert len(post_files(config)) == 9
    assert_every_post_shown(config)
    assert len(feed_entries(config, "category", "news")) == 9
    guids = [front_matter_value(path, "guid") for path in post_files(config)]
    # The first upstream's posts keep the guids; the others' get ids of their own.
    assert sorted(filter(None, guids)) == sorted(f'"{guid}"' for guid in SHARED_GUIDS)
    assert build is not None and not build.notices
    mirror, first = config.upstreams[3], config.upstreams[0]
    with State.open(config.state.path) as state:
        for guid in SHARED_GUIDS:
            mirrored = state.imported_entry(mirror.key, guid)
            original = state.imported_entry(first.key, guid)
            assert mirrored is not None and original is not None
            assert mirrored.post_path == original.post_path  # recorded, not written again


def test_a_guid_an_earlier_poll_wrote_gets_an_id_of_its_own(tmp_path, httpserver):
    config = make_config(tmp_path, serve_sites(httpserver, ["a.example", "b.example"]))

    run_poll(config, ["a.example"])
    report, _ = run_poll(config, ["b.example"])

    assert len(report.written) == 3
    assert len(post_files(config)) == 6
    assert_every_post_shown(config)
    for path in report.written:
        assert front_matter_value(path, "guid") is None


def test_an_updated_entry_keeps_the_id_its_post_was_given(tmp_path, httpserver):
    first = Item(1, guid=SHARED_GUIDS[0], link="http://a.example/1.html")
    second = Item(1, guid=SHARED_GUIDS[0], link="http://b.example/1.html", html="<p>Old.</p>")
    serve(httpserver, "/a.xml", atom([first]))
    upstream = serve(httpserver, "/b.xml", atom([second]))
    config = make_config(
        tmp_path,
        [("A", httpserver.url_for("/a.xml"), "news"), ("B", httpserver.url_for("/b.xml"), "news")],
    )
    run_poll(config)

    second.html = "<p>Corrected.</p>"
    second.updated = BASE_DATE + timedelta(hours=1)
    upstream.body = atom([second])
    report, _ = run_poll(config, ["B"])

    (rewritten,) = report.written
    assert "Corrected." in rewritten.read_text(encoding="utf-8")
    assert front_matter_value(rewritten, "guid") is None
    assert_every_post_shown(config)


def test_a_state_from_before_keeps_the_guids_its_posts_were_written_without(tmp_path):
    """Earlier versions wrote no guid into a post when a post in another category had come
    from that id first: the migration records so, and later updates keep it."""
    path = tmp_path / "state.db"
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if "guid_in_post" in m))
    with sqlite3.connect(path) as db:
        for script in MIGRATIONS[:before]:
            db.executescript(script)
        db.execute(f"PRAGMA user_version = {before}")
        db.executemany(
            "INSERT INTO imported_entry (upstream, entry_key, category, original_url, post_path, "
            "post_date, imported_at) VALUES (?, ?, ?, ?, ?, '2022-06-02T14:05:33+08:00', ?)",
            [
                ("a", SHARED_GUIDS[0], "news", "http://a.example/1", "a1.md", 100.0),
                ("b", SHARED_GUIDS[0], "sport", "http://a.example/1", "b1.md", 200.0),
                ("c", SHARED_GUIDS[1], "news", "http://c.example/2", "c2.md", 300.0),
            ],
        )
    db.close()

    with State.open(path) as state:
        carried = {
            upstream: state.imported_entry(upstream, key)
            for upstream, key in (("a", SHARED_GUIDS[0]), ("b", SHARED_GUIDS[0]))
        }
        alone = state.imported_entry("c", SHARED_GUIDS[1])

    assert carried["a"] is not None and carried["a"].guid_in_post is True
    assert carried["b"] is not None and carried["b"].guid_in_post is False
    assert alone is not None and alone.guid_in_post is True
