"""Nothing polled is lost or duplicated across a kill -9 at any moment.

``python -m syndicator poll`` runs as a real process against a local server with 200 new
entries and is killed with SIGKILL at several points (while starting, while writing posts,
after the last post); another poll then runs to completion.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.processes import start_syndicator
from support.site import assert_feeds_valid
from support.upstreams import (
    BASE_DATE,
    Item,
    items,
    make_config,
    post_files,
    rss,
    run_poll,
    serve,
    write_config,
)

import syndicator.refresh as refresh_module
import syndicator.upstreams.importer as importer_module
from syndicator.core.config import Config, load_config
from syndicator.feeds.build import build_site
from syndicator.site.files import find_post_files
from syndicator.site.posts import load_post
from syndicator.state.db import ImportedEntry, State
from syndicator.upstreams.parse import UpstreamEntry
from syndicator.upstreams.postwriter import PostSource, render_post

ENTRIES = 200


def count_posts(folder: Path) -> int:
    try:
        return sum(1 for e in os.scandir(folder) if e.name.endswith(".md"))
    except FileNotFoundError:
        return 0


def kill_when(process: subprocess.Popen[bytes], ready: Callable[[float], bool]) -> None:
    """SIGKILL ``process`` as soon as ``ready(seconds since it started)`` holds."""
    started = time.monotonic()
    while process.poll() is None and time.monotonic() - started < 30:
        if ready(time.monotonic() - started):
            break
        time.sleep(0.001)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def after_seconds(seconds: float) -> Callable[[Config], Callable[[float], bool]]:
    return lambda config: lambda elapsed: elapsed >= seconds


def after_posts(posts: int) -> Callable[[Config], Callable[[float], bool]]:
    return lambda config: lambda elapsed: count_posts(config.posts.dirs[0]) >= posts


def after_feeds(config: Config) -> Callable[[float], bool]:
    return lambda elapsed: config.feeds.dir.exists()


def assert_exactly_once(config: Config, guids: set[str]) -> None:
    """One post file per upstream entry, each loads, the state is sound and has no debts."""
    found = list(find_post_files(config))
    assert all(not f.path.name.startswith(".") for f in found)
    assert len(found) == len(guids) == len(post_files(config))
    seen = []
    for file in found:
        loaded = load_post(file, config)
        assert loaded is not None
        post, body = loaded
        assert post.title.startswith("Story ") and "Body of story" in body
        text = file.path.read_text(encoding="utf-8")
        seen.append(next(line for line in text.splitlines() if line.startswith("guid: "))[7:-1])
    assert sorted(seen) == sorted(guids)
    with sqlite3.connect(config.state.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute(
            "SELECT count(*) FROM imported_entry WHERE pending_text IS NOT NULL"
        ).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM imported_entry").fetchone() == (len(guids),)


@pytest.mark.parametrize(
    "moment",
    [
        after_seconds(0.05),
        after_seconds(0.3),
        after_posts(1),
        after_posts(60),
        after_posts(150),
        after_posts(ENTRIES),  # the posts are out: marking them written, or the rebuild
        after_feeds,  # the rebuild has begun writing
    ],
    ids=["0.05s", "0.3s", "first-post", "60-posts", "150-posts", "all-posts", "feeds"],
)
def test_kill_9_then_poll_again_gives_exactly_one_post_per_entry(tmp_path, httpserver, moment):
    serve(httpserver, "/feed.xml", rss(items(ENTRIES)))
    config_path = write_config(
        tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=ENTRIES
    )
    config = load_config(config_path)
    process = start_syndicator("poll", config=config_path)

    kill_when(process, moment(config))
    assert process.returncode in (-signal.SIGKILL, 0)
    leftovers = set(config.posts.dirs[0].glob(".*.tmp")) if config.posts.dirs[0].exists() else set()
    report, _ = run_poll(config)

    assert not report.failed
    assert_exactly_once(config, {f"story-{n}" for n in range(1, ENTRIES + 1)})
    assert not leftovers & {file.path for file in find_post_files(config)}
    assert run_poll(config)[0].written == []
    with State.open(config.state.path) as state:
        build_site(config, state)
    assert assert_feeds_valid(config.feeds.dir) == 6


def test_repeated_kills_then_completion(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(ENTRIES)))
    config_path = write_config(
        tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=ENTRIES
    )
    config = load_config(config_path)
    for target in (20, 80, 140):
        kill_when(start_syndicator("poll", config=config_path), after_posts(target)(config))

    process = start_syndicator("poll", config=config_path)
    process.wait(timeout=60)

    assert process.returncode == 0
    assert_exactly_once(config, {f"story-{n}" for n in range(1, ENTRIES + 1)})


def test_interrupted_between_recording_and_writing_loses_and_duplicates_nothing(
    tmp_path, httpserver, monkeypatch
):
    """The same crash, placed exactly: the fourth post write dies."""
    serve(httpserver, "/feed.xml", rss(items(10)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    real_write = importer_module.write_atomic
    writes = []

    def dying_write(path, data, **options):
        if len(writes) == 3:
            raise SystemExit("killed")
        writes.append(path)
        real_write(path, data, **options)

    monkeypatch.setattr(importer_module, "write_atomic", dying_write)
    with pytest.raises(SystemExit):
        run_poll(config)
    monkeypatch.setattr(importer_module, "write_atomic", real_write)
    assert len(post_files(config)) == 3

    report, build = run_poll(config)

    assert report.recovered == 10 and build is not None  # written or not: all rewritten
    assert_exactly_once(config, {f"story-{n}" for n in range(1, 11)})


def pending_post(config: Config, key: str, name: str) -> tuple[ImportedEntry, str]:
    upstream = config.upstreams[0]
    entry = UpstreamEntry(
        key=key,
        guid=key,
        link=f"http://news.example/{key}.html",
        title="Story 999 (only in the state)",
        content_html="<p>Body of story 999.</p>",
        published=BASE_DATE,
        updated=None,
    )
    text = render_post(entry, PostSource(upstream, upstream.url), BASE_DATE, config.attribution)
    record = ImportedEntry(
        upstream=upstream.name,
        entry_key=key,
        category=upstream.category,
        original_url=entry.link,
        post_path=name,
        post_date=BASE_DATE.isoformat(),
        entry_updated=None,
        imported_at=time.time(),
    )
    return record, text


def test_pending_post_is_written_even_if_the_upstream_dropped_the_entry(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(2)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    record, text = pending_post(config, "story-999", "2022-06-02-story-999-pending.md")
    with State.open(config.state.path) as state:
        state.record_entry(record, pending_text=text)
    path = config.posts.dirs[0] / record.post_path
    assert not path.exists()

    report, build = run_poll(config)

    assert report.recovered == 1 and report.written == []
    assert path.read_text(encoding="utf-8") == text
    assert build is not None and b"Story 999" in (config.feeds.dir / "rss.xml").read_bytes()
    assert_exactly_once(config, {"story-1", "story-2", "story-999"})


def test_recover_pending_rewrites_a_stale_file_and_clears_the_debt(tmp_path):
    config = make_config(tmp_path, [("Up", "http://127.0.0.1:9/feed.xml", "news")])
    record, text = pending_post(config, "story-5", "2022-06-02-story-5-x.md")
    path = config.posts.dirs[0] / record.post_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\ntitle: old version\n---\n", encoding="utf-8")
    with State.open(config.state.path) as state:
        state.record_entry(record, pending_text=text)

        assert importer_module.recover_pending(config, state) == 1
        assert importer_module.recover_pending(config, state) == 0
        assert state.pending_posts() == []
        assert state.imported_entry("Up", "story-5") == record

    assert path.read_text(encoding="utf-8") == text


def test_kill_during_the_rebuild_is_repaired_by_the_next_poll(tmp_path, httpserver, monkeypatch):
    serve(httpserver, "/feed.xml", rss([Item(1)]))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])

    def killed(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(refresh_module, "build_site", killed)
    with pytest.raises(SystemExit):
        run_poll(config)
    monkeypatch.undo()

    run_poll(config)

    assert (config.feeds.dir / "rss.xml").exists()
