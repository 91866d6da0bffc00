"""Incremental builds give exactly the bytes a cold build gives, after every kind of change,
and do only the work the change calls for."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator.core.config import Config, load_config
from syndicator.feeds.build import BuildReport, build_site
from syndicator.state.db import State

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def post(folder: Path, name: str, title: str, date: str, category: str, tag: str = "标签") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'---\ntitle: "{title}"\ndate: {date}\ncategories: {category}\ntags: {tag}\n---\n'
        f"<p>{title}的正文。</p><p>（文章来源：示例网）</p>\n\n<http://news.example/{name}>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def site(tmp_path: Path) -> Config:
    (tmp_path / "syndicator.toml").write_text(
        '[site]\ntitle = "测试站"\nurl = "https://site.example"\ntimezone = "Asia/Shanghai"\n'
        '[posts]\ndirs = ["_posts", "old_post"]\n[feeds]\ndir = "feeds"\nmax_items = 3\n'
        '[state]\npath = "var/state.db"\n',
        encoding="utf-8",
    )
    posts = tmp_path / "_posts"
    (tmp_path / "old_post").mkdir()
    for day in range(1, 9):
        category = "alpha" if day % 2 else "beta"
        post(
            posts,
            f"2024-05-0{day}-p{day}.md",
            f"第{day}篇",
            f"2024-05-0{day} 10:00:00 +0800",
            category,
        )
    return load_config(tmp_path / "syndicator.toml")


def run(config: Config, now: datetime = NOW, full: bool = False) -> BuildReport:
    with State.open(config.state.path) as state:
        return build_site(config, state, now=now, full=full)


def feed_bytes(config: Config) -> dict[str, bytes]:
    root = config.feeds.dir
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def cold_bytes(config: Config, tmp_path: Path, now: datetime = NOW) -> dict[str, bytes]:
    """What a cold build of the same posts writes: a fresh state and output folder."""
    fresh_root = tmp_path / "cold"
    shutil.rmtree(fresh_root, ignore_errors=True)
    text = config.path.read_text(encoding="utf-8")
    text = text.replace('dir = "feeds"', f'dir = "{fresh_root / "feeds"}"')
    text = text.replace('path = "var/state.db"', f'path = "{fresh_root / "state.db"}"')
    fresh_root.mkdir()
    (fresh_root / "syndicator.toml").write_text(
        text.replace(
            'dirs = ["_posts", "old_post"]',
            f'dirs = ["{config.path.parent / "_posts"}", "{config.path.parent / "old_post"}"]',
        ),
        encoding="utf-8",
    )
    fresh = load_config(fresh_root / "syndicator.toml")
    run(fresh, now)
    return feed_bytes(fresh)


def touch_later(path: Path) -> None:
    """Move the mtime on, so the change is seen even on a coarse-grained file system."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))


CHANGES: dict[str, Callable[[Path], None]] = {
    "add": lambda root: post(
        root / "_posts", "2024-05-20-new.md", "新文章", "2024-05-20 09:00:00 +0800", "alpha"
    ),
    "add old": lambda root: post(
        root / "_posts", "2023-01-01-old.md", "旧文章", "2023-01-01 09:00:00 +0800", "alpha"
    ),
    "edit": lambda root: (
        (root / "_posts" / "2024-05-07-p7.md").write_text(
            (root / "_posts" / "2024-05-07-p7.md")
            .read_text(encoding="utf-8")
            .replace("第7篇的正文", "改过的正文"),
            encoding="utf-8",
        ),
        touch_later(root / "_posts" / "2024-05-07-p7.md"),
    ),
    "retitle": lambda root: post(
        root / "_posts", "2024-05-08-p8.md", "新标题", "2024-05-08 10:00:00 +0800", "beta"
    ),
    "recategorise": lambda root: post(
        root / "_posts", "2024-05-08-p8.md", "第8篇", "2024-05-08 10:00:00 +0800", "gamma"
    ),
    "delete": lambda root: (root / "_posts" / "2024-05-07-p7.md").unlink(),
    "delete a category": lambda root: [
        (root / "_posts" / f"2024-05-0{day}-p{day}.md").unlink() for day in (2, 4, 6, 8)
    ],
    "move to old_post": lambda root: shutil.move(
        root / "_posts" / "2024-05-08-p8.md", root / "old_post" / "2024-05-08-p8.md"
    ),
    "break a post": lambda root: (root / "_posts" / "2024-05-07-p7.md").write_text(
        "---\ntitle: a: b\n---\n", encoding="utf-8"
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_incremental_equals_cold(site: Config, tmp_path: Path, change: str) -> None:
    run(site)
    CHANGES[change](site.path.parent)
    run(site)
    assert feed_bytes(site) == cold_bytes(site, tmp_path)


def test_nothing_changed_renders_nothing(site: Config) -> None:
    run(site)
    again = run(site)
    assert (again.regenerated, again.written, again.removed) == (0, [], [])


def test_a_new_post_regenerates_only_its_feeds(site: Config) -> None:
    run(site)
    post(
        site.path.parent / "_posts",
        "2024-05-20-new.md",
        "新文章",
        "2024-05-20 09:00:00 +0800",
        "alpha",
        "独有",
    )
    report = run(site)
    # The site feed, category alpha and the new tag 独有; beta and 标签 are not even rendered.
    assert report.regenerated == 3
    assert not any(name.startswith("categories/beta/") for name in report.written)
    assert "tags/独有/rss.xml" in report.written


def test_an_old_post_changes_no_feed(site: Config) -> None:
    run(site)
    post(
        site.path.parent / "_posts",
        "2023-01-01-old.md",
        "旧文章",
        "2023-01-01 09:00:00 +0800",
        "alpha",
    )
    report = run(site)
    assert report.written == []  # regenerated, but beyond max_items: the bytes are the same


def test_a_future_post_appears_when_its_time_comes(site: Config, tmp_path: Path) -> None:
    post(
        site.path.parent / "_posts",
        "2024-07-01-later.md",
        "未来的文章",
        "2024-07-01 09:00:00 +0800",
        "alpha",
    )
    first = run(site)
    assert first.scheduled == 1
    assert "未来的文章".encode() not in (site.feeds.dir / "rss.xml").read_bytes()
    later = NOW + timedelta(days=40)
    report = run(site, now=later)
    assert "rss.xml" in report.written
    assert "未来的文章".encode() in (site.feeds.dir / "rss.xml").read_bytes()
    assert feed_bytes(site) == cold_bytes(site, tmp_path, later)


def test_deleted_feed_files_are_written_again(site: Config) -> None:
    run(site)
    (site.feeds.dir / "categories" / "alpha" / "atom.xml").unlink()
    report = run(site)
    assert report.written == ["categories/alpha/atom.xml"]


def test_full_ignores_the_index_and_gives_the_same_bytes(site: Config) -> None:
    run(site)
    before = feed_bytes(site)
    report = run(site, full=True)
    assert report.regenerated == report.feeds and report.written == []
    assert feed_bytes(site) == before


def test_content_change_with_the_same_size_and_mtime_is_seen(site: Config, tmp_path: Path) -> None:
    """A rewrite within the file system's timestamp granularity: the content hash catches it."""
    path = site.path.parent / "_posts" / "2024-05-07-p7.md"
    run(site)
    stat = path.stat()
    text = path.read_text(encoding="utf-8").replace("第7篇的正文", "第7篇的改文")
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    run(site)
    assert (
        "第7篇的改文".encode() in (site.feeds.dir / "categories" / "alpha" / "rss.xml").read_bytes()
    )
    assert feed_bytes(site) == cold_bytes(site, tmp_path)


def test_sync_of_reported_paths_only(site: Config, tmp_path: Path) -> None:
    """What a file watcher reports is enough: an added, an edited and a deleted post."""
    root = site.path.parent
    run(site)
    added = post(
        root / "_posts", "2024-05-20-new.md", "新文章", "2024-05-20 09:00:00 +0800", "alpha"
    )
    (root / "_posts" / "2024-05-07-p7.md").unlink()
    unrelated = root / "_posts" / "notes.txt"
    unrelated.write_text("not a post", encoding="utf-8")
    with State.open(site.state.path) as state:
        report = build_site(
            site,
            state,
            now=NOW,
            paths=[added, root / "_posts" / "2024-05-07-p7.md", unrelated],
        )
    assert report.posts == 8
    assert feed_bytes(site) == cold_bytes(site, tmp_path)


def test_reported_paths_miss_nothing_the_next_full_walk_finds(site: Config, tmp_path: Path) -> None:
    root = site.path.parent
    run(site)
    post(root / "_posts", "2024-05-20-new.md", "新文章", "2024-05-20 09:00:00 +0800", "alpha")
    with State.open(site.state.path) as state:
        assert build_site(site, state, now=NOW, paths=[]).written == []
    assert run(site).written  # the walk finds what no one reported
    assert feed_bytes(site) == cold_bytes(site, tmp_path)


def test_progress_is_told_of_every_post_read(site: Config) -> None:
    # Files written just now are re-read by the next build (their mtime can't be trusted
    # yet): age them, so the second build has nothing to read.
    for path in site.posts.dirs[0].iterdir():
        os.utime(path, (1_600_000_000, 1_600_000_000))
    seen: list[tuple[int, int]] = []
    with State.open(site.state.path) as state:
        build_site(site, state, now=NOW, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (8, 8)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    seen.clear()
    with State.open(site.state.path) as state:
        build_site(site, state, now=NOW, progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # nothing to read, nothing to show
