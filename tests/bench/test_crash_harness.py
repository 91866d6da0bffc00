"""The crash harness (bench/crash_harness.py) in its CI setting, and its checks on their own.

The long run (200 kills and more) is run by hand; RELIABILITY.md has its figures and command.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from support.scripts import BENCH, load_script
from support.site import SITE_TOML, feed_files, write_post

import syndicator.feeds.render
from syndicator.core.config import load_config
from syndicator.feeds.build import build_site
from syndicator.state.db import State

SCRIPT = BENCH / "crash_harness.py"
CI_KILLS = 10

harness = load_script("crash_harness.py", "crash_harness")


def test_ten_kills_lose_and_duplicate_nothing(tmp_path):
    """The CI setting: the upstreams change all along (no frozen tail, see
    test_a_build_killed_after_the_index_sync_is_finished_by_the_next_build)."""
    figures_path = tmp_path / "figures.json"
    options = ["--kills", str(CI_KILLS), "--seed", "1", "--max-delay", "1.5", "--tail", "0"]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *options, "--json", str(figures_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    assert figures["kills"] == CI_KILLS and figures["died_on_its_own"] == 0
    assert figures["entries"] > 0 and figures["posts"] == figures["entries"]
    for name in ("lost", "duplicated", "unexpected", "stale", "broken_posts"):
        assert figures[name] == 0, name
    assert figures["invalid_feeds"] == figures["integrity_failures"] == 0
    assert figures["temporaries_served"] == figures["temporaries_at_end"] == 0
    assert figures["final_equals_clean_build"] and figures["clean_stop"]
    assert figures["failures"] == []
    assert "lost:                  0" in result.stdout


def test_the_websub_case_loses_no_subscription_and_no_owed_delivery():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--websub", "--kills", "6", "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "result: OK" in result.stdout and "6 kills" in result.stdout


# --- the checks catch what they must ---------------------------------------------------------


def test_truncated_and_malformed_feed_files_are_caught(tmp_path):
    (tmp_path / "categories" / "x").mkdir(parents=True)
    (tmp_path / "rss.xml").write_bytes(b'<?xml version="1.0"?><rss><channel><item>')
    (tmp_path / "atom.xml").write_bytes(b"<rss/>")
    (tmp_path / "categories" / "x" / "feed.json").write_bytes(b'{"version": "x", "ite')
    (tmp_path / "index.html").write_bytes(b"<html><body>")
    (tmp_path / ".rss.xml.abcd1234.tmp").write_bytes(b"<rss")  # hidden: never served

    problems = harness.feed_problems(tmp_path)

    assert [p.split(":")[0] for p in problems] == [
        "atom.xml",
        "categories/x/feed.json",
        "index.html",
        "rss.xml",
    ]


def test_complete_feed_files_pass(tmp_path):
    (tmp_path / "rss.xml").write_bytes(b"<rss><channel/></rss>")
    (tmp_path / "atom.xml").write_bytes(b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
    (tmp_path / "feed.json").write_bytes(b'{"items": []}')
    (tmp_path / "feeds.opml").write_bytes(b"<opml/>")
    (tmp_path / "index.html").write_bytes(b"<html></html>\n")
    assert harness.feed_problems(tmp_path) == []


def test_a_corrupt_state_is_caught(tmp_path):
    state = tmp_path / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE t (x TEXT)")
        db.execute("CREATE INDEX t_x ON t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [(str(n) * 50,) for n in range(2000)])
    assert harness.integrity_problems(state) == []
    data = bytearray(state.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 4096] = b"\xff" * 4096  # a page scribbled over
    state.write_bytes(bytes(data))

    assert harness.integrity_problems(state)


def test_duplicates_and_broken_posts_are_caught(tmp_path):
    post = '---\ntitle: "t"\nguid: "urn:x:1"\nsource_url: "http://a/1"\n---\nbody\n'
    (tmp_path / "2024-01-01-a.md").write_text(post, encoding="utf-8")
    (tmp_path / "2024-01-01-b.md").write_text(post, encoding="utf-8")
    (tmp_path / "2024-01-01-c.md").write_text("---\ntitle: half", encoding="utf-8")

    posts, problems = harness.PostReader(tmp_path).read()

    assert [len(copies) for copies in harness.posts_by_guid(posts).values()] == [2]
    assert len(problems) == 1 and problems[0].startswith("2024-01-01-c.md")


# --- what the long run finds -------------------------------------------------------------------


def test_a_build_killed_after_the_index_sync_is_finished_by_the_next_build(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    (root / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    config = load_config(root / "syndicator.toml")
    write_post(root / "_posts", "2024-01-01-first.md")
    now = datetime(2024, 6, 1, tzinfo=UTC)
    with State.open(config.state.path) as state:
        build_site(config, state, now=now)
    # An entry the upstream listed late: dated before the build that just finished.
    write_post(
        root / "_posts",
        "2024-05-31-late.md",
        'title: "迟到"\ndate: 2024-05-31 10:00:00 +0800\ncategories: news\n',
    )

    def killed(*args, **kwargs):
        raise SystemExit("SIGKILL")

    monkeypatch.setattr(syndicator.feeds.render, "render_feeds", killed)
    with State.open(config.state.path) as state, pytest.raises(SystemExit):
        build_site(config, state, now=now + timedelta(minutes=1))
    monkeypatch.undo()

    with State.open(config.state.path) as state:
        build_site(config, state, now=now + timedelta(minutes=2))

    cold = tmp_path / "cold"
    shutil.copytree(root / "_posts", cold / "_posts")
    (cold / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    cold_config = load_config(cold / "syndicator.toml")
    with State.open(cold_config.state.path) as state:
        build_site(cold_config, state, now=now + timedelta(minutes=2))
    assert feed_files(config.feeds.dir) == feed_files(cold_config.feeds.dir)
