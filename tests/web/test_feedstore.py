"""FeedStore: the files the server hands out, looked up safely and cached with validators,
over a site really built by ``build_site`` in a temporary folder."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from support.site import run_build, write_post

from syndicator.core.config import Config
from syndicator.web.feedstore import FeedStore

# (file name, front matter): the newest entry by "updated" is not the newest by "published",
# so a Last-Modified taken from the wrong date shows.
POSTS = {
    "2022-01-01-oldest.md": 'title: "最早"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\n',
    "2022-03-05-edited.md": (
        'title: "改过"\ndate: 2022-03-05 08:30:00 +0800\n'
        "last_modified_at: 2022-04-01 12:00:00 +0800\ncategories: news\ntags: 市场\n"
    ),
    "2022-03-10-latest.md": (
        'title: "最新发布"\ndate: 2022-03-10 08:00:00 +0800\ncategories: other\ntags: 市场\n'
    ),
}
# The newest entry's date in each feed, in UTC (+0800 → -8 h).
NEWEST = {
    "": "Fri, 01 Apr 2022 04:00:00 GMT",
    "categories/news/": "Fri, 01 Apr 2022 04:00:00 GMT",
    "categories/other/": "Thu, 10 Mar 2022 00:00:00 GMT",
    "tags/市场/": "Fri, 01 Apr 2022 04:00:00 GMT",
}
FEED_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}


@pytest.fixture
def built(site_config: Callable[..., Config]) -> tuple[Config, FeedStore]:
    config = site_config()
    for name, front in POSTS.items():
        write_post(config.path.parent / "_posts", name, front)
    report = run_build(config)
    assert not report.problems
    return config, FeedStore(config.feeds.dir)


def url(relative: str) -> str:
    return "/" + quote(relative)


def replace_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def test_every_file_under_the_folder_is_found(built: tuple[Config, FeedStore]) -> None:
    config, store = built
    # Hidden files (the list of files syndicator wrote) are never served.
    files = [p for p in config.feeds.dir.rglob("*") if p.is_file() and not p.name.startswith(".")]
    # The whole-site feeds, each category's and tag's, the OPML and the index at least.
    expected = {folder + name for folder in NEWEST for name in FEED_TYPES}
    expected |= {"feeds.opml", "index.html"}
    assert expected <= {p.relative_to(config.feeds.dir).as_posix() for p in files}
    for path in files:
        relative = path.relative_to(config.feeds.dir).as_posix()
        stored = store.lookup(url(relative))
        assert stored is not None, relative
        assert stored.body == path.read_bytes(), relative
        assert stored.content_type == FEED_TYPES.get(path.name, stored.content_type)
    assert store.lookup("/feeds.opml").content_type == "text/x-opml; charset=utf-8"
    assert store.lookup("/index.html").content_type == "text/html; charset=utf-8"
    # Unencoded and lower-case percent-encoded forms name the same file.
    tag_feed = (config.feeds.dir / "tags/市场/rss.xml").read_bytes()
    assert store.lookup("/tags/市场/rss.xml").body == tag_feed
    assert store.lookup("/tags/%e5%b8%82%e5%9c%ba/rss.xml").body == tag_feed


def test_folders_give_their_index_html_where_present(built: tuple[Config, FeedStore]) -> None:
    config, store = built
    assert store.lookup("/").body == (config.feeds.dir / "index.html").read_bytes()
    assert store.lookup("/categories/news/") is None  # no index.html there
    assert store.lookup("/categories/news") is None  # a folder is not a file
    page = config.feeds.dir / "categories/news/index.html"
    page.write_text("<!doctype html><title>news</title>", encoding="utf-8")
    assert store.lookup("/categories/news/").body == page.read_bytes()
    assert store.lookup("/categories/news/").content_type == "text/html; charset=utf-8"
    assert store.lookup("/categories/nothing/") is None


@pytest.mark.parametrize("name", list(FEED_TYPES))
@pytest.mark.parametrize("folder", list(NEWEST))
def test_last_modified_is_when_the_bytes_last_changed(
    built: tuple[Config, FeedStore], folder: str, name: str
) -> None:
    config, store = built
    stored = store.lookup(url(folder + name))
    changed = datetime.fromtimestamp((config.feeds.dir / folder / name).stat().st_mtime, UTC)
    assert stored.last_modified == changed.replace(microsecond=0)


def test_an_older_entry_added_moves_last_modified_on(built: tuple[Config, FeedStore]) -> None:
    """The newest entry's date would stay put here, and a client asking If-Modified-Since
    would miss the new entry."""
    config, store = built
    before = store.lookup(url("rss.xml"))
    os.utime(config.feeds.dir / "rss.xml", (1_000_000_000, 1_000_000_000))
    write_post(
        config.posts.dirs[0],
        "2020-01-01-older.md",
        'title: "较早的文章"\ndate: 2020-01-01 10:00:00 +0800\ncategories: news\n',
    )
    assert run_build(config).written
    after = store.lookup(url("rss.xml"))
    assert after.etag != before.etag
    assert after.last_modified > datetime.fromtimestamp(1_000_000_000, UTC)


def test_validators_survive_a_rebuild_that_changes_nothing(
    built: tuple[Config, FeedStore],
) -> None:
    config, store = built
    paths = [url(folder + name) for folder in NEWEST for name in FEED_TYPES]
    paths += ["/", "/feeds.opml"]
    before = {p: (store.lookup(p).etag, store.lookup(p).last_modified_http) for p in paths}
    report = run_build(config)
    assert report.written == []
    assert {p: (store.lookup(p).etag, store.lookup(p).last_modified_http) for p in paths} == before
    # A feed rewritten with the same bytes (a new file) keeps its ETag.
    for relative in ("rss.xml", "categories/other/feed.json"):
        path = config.feeds.dir / relative
        replace_atomically(path, path.read_bytes())
        assert store.lookup(url(relative)).etag == before[url(relative)][0]


def test_etag_changes_if_and_only_if_the_bytes_change(built: tuple[Config, FeedStore]) -> None:
    config, store = built
    path = config.feeds.dir / "atom.xml"
    first = store.lookup("/atom.xml")
    assert first.etag.startswith('"') and first.etag.endswith('"') and len(first.etag) > 18
    assert not first.etag.startswith("W/")
    assert first.etag.strip('"') == hashlib.sha256(first.body).hexdigest()[: len(first.etag) - 2]

    replace_atomically(path, first.body)  # same bytes, new inode and mtime
    assert store.lookup("/atom.xml").etag == first.etag

    changed = first.body.replace(b"<title>", b"<title>x", 1)
    replace_atomically(path, changed)
    second = store.lookup("/atom.xml")
    assert second.body == changed and second.etag != first.etag

    # Another file with the same bytes has the same ETag: it is the bytes, not the name.
    (config.feeds.dir / "copy.xml").write_bytes(changed)
    assert store.lookup("/copy.xml").etag == second.etag


def test_an_atomic_replace_is_seen_even_with_the_same_size_and_mtime(
    built: tuple[Config, FeedStore],
) -> None:
    config, store = built
    path = config.feeds.dir / "feed.json"
    old = store.lookup("/feed.json")
    stat = path.stat()
    new = old.body.replace(b'"title": "', b'"title": "X', 1)[:-1]  # one byte in, one out
    assert len(new) == len(old.body) and new != old.body
    replace_atomically(path, new)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    fresh = store.lookup("/feed.json")
    assert fresh.body == new
    assert fresh.etag != old.etag
    assert gzip.decompress(fresh.gzipped) == new


def test_a_deleted_file_is_none_and_a_recreated_one_is_found(
    built: tuple[Config, FeedStore],
) -> None:
    config, store = built
    path = config.feeds.dir / "categories/other/rss.xml"
    data = path.read_bytes()
    assert store.lookup("/categories/other/rss.xml") is not None
    path.unlink()
    assert store.lookup("/categories/other/rss.xml") is None
    path.write_bytes(data)
    assert store.lookup("/categories/other/rss.xml").body == data


def test_gzip_copy_matches_and_tiny_files_have_none(built: tuple[Config, FeedStore]) -> None:
    config, store = built
    stored = store.lookup("/rss.xml")
    assert gzip.decompress(stored.gzipped) == stored.body
    (config.feeds.dir / "tiny.txt").write_bytes(b"ok\n")
    assert store.lookup("/tiny.txt").gzipped is None


@pytest.mark.parametrize(
    "path",
    [
        "/../syndicator.toml",
        "/%2e%2e/syndicator.toml",
        "/%2E%2E/syndicator.toml",
        "/..%2fsyndicator.toml",
        "/categories/..%2f..%2fsyndicator.toml",
        "/%252e%252e/syndicator.toml",
        "/..\\syndicator.toml",
        "/%5c..%5csyndicator.toml",
        "/rss.xml%00",
        "/%00/rss.xml",
        "/%c0%ae%c0%ae/syndicator.toml",
        "/%c0%ae%c0%ae%c0%afsyndicator.toml",
        "/%e0%80%ae%e0%80%ae/syndicator.toml",
        "/%ff",
        "/.secret",
        "/%2esecret",
        "/categories/.secret",
        "rss.xml",
        "",
        "/" + "a" * 5000,
    ],
)
def test_anything_odd_is_none_never_an_exception(
    built: tuple[Config, FeedStore], path: str
) -> None:
    config, store = built
    (config.feeds.dir / ".secret").write_text("hidden", encoding="utf-8")
    (config.feeds.dir / "categories/.secret").write_text("hidden", encoding="utf-8")
    assert store.lookup(path) is None


def test_symlinks_out_of_the_folder_are_none_and_inside_it_are_served(
    built: tuple[Config, FeedStore],
) -> None:
    config, store = built
    outside = config.path.parent / "outside"
    outside.mkdir()
    (outside / "secret.xml").write_text("<secret/>", encoding="utf-8")
    (config.feeds.dir / "leak.xml").symlink_to(outside / "secret.xml")
    (config.feeds.dir / "leakdir").symlink_to(outside, target_is_directory=True)
    (config.feeds.dir / "alias.xml").symlink_to(config.feeds.dir / "rss.xml")
    assert store.lookup("/leak.xml") is None
    assert store.lookup("/leakdir/secret.xml") is None
    assert store.lookup("/alias.xml").body == (config.feeds.dir / "rss.xml").read_bytes()
