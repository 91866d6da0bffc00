"""``build``: bring the feeds up to date with the posts, writing only bytes that change."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from syndicator.atomic import remove_stale_temporaries, write_if_changed
from syndicator.config import Config
from syndicator.entries import Entry, entry_from_json, entry_to_json, make_entry
from syndicator.feeds import CATEGORY, KIND_ORDER, SITE, TAG, FeedSpec
from syndicator.feedwriter import FeedMeta, render_atom, render_rss
from syndicator.jsonfeed import render_json
from syndicator.listing import ListedFeed, render_index, render_opml
from syndicator.postindex import PostIndex
from syndicator.posts import Post, PostError, find_post_files, load_post, read_body
from syndicator.state import State

log = logging.getLogger(__name__)

FILE_NAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}


@dataclass
class PostScan:
    posts: list[Post] = field(default_factory=list)
    problems: list[PostError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    posts: int = 0
    scheduled: int = 0
    feeds: int = 0
    regenerated: int = 0
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    problems: list[PostError] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def scan_posts(config: Config) -> PostScan:
    """Every usable post; unusable ones as problems. The same post id twice (a post being
    moved from ``_posts/`` to ``old_post/``) is kept once, from the first folder listed."""
    scan = PostScan()
    seen: dict[str, Path] = {}
    for file in find_post_files(config):
        try:
            loaded = load_post(file, config)
        except PostError as problem:
            scan.problems.append(problem)
            continue
        if loaded is None:
            continue
        post, _ = loaded
        if post.id in seen:
            scan.notices.append(
                f"{post.path}: same post as {seen[post.id]} (id {post.id}); kept that one"
            )
            continue
        seen[post.id] = post.path
        scan.posts.append(post)
    return scan


def build_site(
    config: Config, state: State, now: datetime | None = None, full: bool = False
) -> BuildReport:
    """Bring the feeds up to date with the posts: re-read only new and changed post files,
    regenerate only the feeds whose entries changed, write only bytes that differ.

    ``full`` forgets the index and every cached entry first (the same bytes result).
    """
    now = now or datetime.now(UTC)
    index = PostIndex(config, state)
    remove_stale_temporaries(config.feeds.dir)
    sync = index.sync(full=full)
    specs = _feed_specs(index.feeds(now), config)
    recorded = state.feed_files()
    last_build = index.last_build()
    touched = sync.touched
    if last_build is not None:
        touched |= index.feeds_dated_between(last_build, now.timestamp())
    expected = {
        spec: [f"{_prefix(spec)}{FILE_NAMES[fmt]}" for fmt in config.feeds.formats]
        for spec in specs
    }
    stale_everything = full or sync.everything or last_build is None
    chosen = [
        spec
        for spec, names in expected.items()
        if stale_everything
        or (spec.kind, spec.slug) in touched
        or any(name not in recorded or not (config.feeds.dir / name).exists() for name in names)
    ]
    published, scheduled = index.counts(now)
    report = BuildReport(
        posts=published,
        scheduled=scheduled,
        feeds=len(specs),
        regenerated=len(chosen),
        problems=index.problems(),
        notices=index.shadowed(),
    )
    files = _render_feeds(chosen, index, config, now, report)
    listed = [_listed(spec, config) for spec in specs]
    files["feeds.opml"] = render_opml(listed, config)
    files["index.html"] = render_index(listed, config)
    wanted = {name for names in expected.values() for name in names} | {"feeds.opml", "index.html"}
    write_files(files, config.feeds.dir, state, report, wanted)
    report.unchanged += len(wanted) - len(files)  # not even regenerated
    index.set_last_build(now)
    return report


def _feed_specs(feeds: dict[tuple[str, str], str], config: Config) -> list[FeedSpec]:
    enabled = {SITE: config.feeds.site, CATEGORY: config.feeds.categories, TAG: config.feeds.tags}
    if config.feeds.site:
        feeds.setdefault((SITE, ""), config.site.title)
    specs = [
        FeedSpec(kind, slug, config.site.title if kind == SITE else name)
        for (kind, slug), name in feeds.items()
        if enabled[kind]
    ]
    return sorted(specs, key=lambda spec: (KIND_ORDER[spec.kind], spec.slug))


def _render_feeds(
    specs: list[FeedSpec], index: PostIndex, config: Config, now: datetime, report: BuildReport
) -> dict[str, bytes]:
    members = {
        spec: index.newest((spec.kind, spec.slug), now, config.feeds.max_items) for spec in specs
    }
    entries = _entries_for(members, index, config, report)
    files: dict[str, bytes] = {}
    for spec, posts in members.items():
        feed_entries = [entries[post.path] for post in posts if post.path in entries]
        meta = feed_meta(spec, config)
        for fmt in config.feeds.formats:
            files[f"{_prefix(spec)}{FILE_NAMES[fmt]}"] = RENDERERS[fmt](meta, feed_entries, config)
    return files


def _listed(spec: FeedSpec, config: Config) -> ListedFeed:
    meta = feed_meta(spec, config)
    return ListedFeed(spec.kind, meta.title, meta.urls)


def _entries_for(
    members: dict[FeedSpec, list[Post]], index: PostIndex, config: Config, report: BuildReport
) -> dict[Path, Entry]:
    """Each post that reaches some feed as an entry: from the cache when its file is the one
    the cached entry was rendered from, else rendered (once, however many feeds hold it)."""
    entries: dict[Path, Entry] = {}
    fresh: list[tuple[Path, str]] = []
    for posts in members.values():
        for post in posts:
            if post.path in entries:
                continue
            cached = index.cached_entry(post.path)
            if cached is not None:
                entries[post.path] = entry_from_json(cached)
                continue
            try:
                entry = make_entry(post, read_body(post), config)
            except PostError as problem:
                report.problems.append(problem)
                continue
            entries[post.path] = entry
            fresh.append((post.path, entry_to_json(entry)))
    index.cache_entries(fresh)
    return entries


def feed_meta(spec: FeedSpec, config: Config) -> FeedMeta:
    base = f"{config.feeds.base_url}/{quote(_prefix(spec))}"
    title = config.site.title if spec.kind == SITE else f"{config.site.title}: {spec.name}"
    return FeedMeta(
        title=title,
        description=config.site.description,
        home_url=config.site.url,
        urls={fmt: base + FILE_NAMES[fmt] for fmt in config.feeds.formats},
        language=config.site.language,
        author=config.site.title,
    )


def _prefix(spec: FeedSpec) -> str:
    return f"{spec.folder}/" if spec.folder else ""


def write_files(
    files: dict[str, bytes], folder: Path, state: State, report: BuildReport, wanted: set[str]
) -> None:
    """Write what changed; remove the files we wrote before that are no longer ``wanted``."""
    recorded = state.feed_files()
    changed: dict[str, tuple[str, int]] = {}
    for relative, data in sorted(files.items()):
        digest = hashlib.sha256(data).hexdigest()
        if write_if_changed(folder / relative, data):
            report.written.append(relative)
        else:
            report.unchanged += 1
        if recorded.get(relative) != digest:
            changed[relative] = (digest, len(data))
    removed = sorted(set(recorded) - wanted)
    for relative in removed:
        _remove_feed(folder, relative)
    report.removed = removed
    state.record_feed_files(changed, removed)


def _remove_feed(folder: Path, relative: str) -> None:
    path = folder / relative
    path.unlink(missing_ok=True)
    for parent in path.parents:
        if parent == folder or not parent.is_relative_to(folder):
            break
        try:
            parent.rmdir()
        except OSError:
            break
