"""``build``: read every post, write every feed whose bytes change, and nothing else."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from syndicator.atomic import write_if_changed
from syndicator.config import Config
from syndicator.entries import Entry, make_entry
from syndicator.feeds import SITE, FeedSpec, is_published, plan_feeds
from syndicator.feedwriter import FeedMeta, render_atom, render_rss
from syndicator.jsonfeed import render_json
from syndicator.listing import ListedFeed, render_index, render_opml
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
    config: Config,
    state: State,
    now: datetime | None = None,
    only: set[tuple[str, str]] | None = None,
) -> BuildReport:
    """Write the feeds; with ``only`` ((kind, slug) pairs), just those feeds and the
    whole-site ones, plus the feed list, and remove nothing."""
    scan = scan_posts(config)
    now = now or datetime.now(UTC)
    published = [post for post in scan.posts if is_published(post, now)]
    report = BuildReport(
        posts=len(published),
        scheduled=len(scan.posts) - len(published),
        problems=scan.problems,
        notices=scan.notices,
    )
    plan = plan_feeds(published, config)
    chosen = {
        spec: posts
        for spec, posts in plan.items()
        if only is None or spec.kind == SITE or (spec.kind, spec.slug) in only
    }
    entries = _entries_for(chosen, config, report)
    files: dict[str, bytes] = {}
    for spec, posts in chosen.items():
        feed_entries = [entries[post.path] for post in posts if post.path in entries]
        meta = feed_meta(spec, config)
        for fmt in config.feeds.formats:
            files[f"{_prefix(spec)}{FILE_NAMES[fmt]}"] = RENDERERS[fmt](meta, feed_entries, config)
    listed = [_listed(spec, config) for spec in plan]
    files["feeds.opml"] = render_opml(listed, config)
    files["index.html"] = render_index(listed, config)
    report.feeds = len(chosen)
    write_files(files, config.feeds.dir, state, report, remove_stale=only is None)
    return report


def _listed(spec: FeedSpec, config: Config) -> ListedFeed:
    meta = feed_meta(spec, config)
    return ListedFeed(spec.kind, meta.title, meta.urls)


def _entries_for(
    plan: dict[FeedSpec, list[Post]], config: Config, report: BuildReport
) -> dict[Path, Entry]:
    """Each post that reaches some feed, rendered once however many feeds hold it."""
    entries: dict[Path, Entry] = {}
    for posts in plan.values():
        for post in posts:
            if post.path in entries:
                continue
            try:
                entries[post.path] = make_entry(post, read_body(post), config)
            except PostError as problem:
                report.problems.append(problem)
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
    files: dict[str, bytes], folder: Path, state: State, report: BuildReport, remove_stale: bool
) -> None:
    """Write what changed; remove the feeds we wrote before that no longer exist."""
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
    removed = sorted(set(recorded) - set(files)) if remove_stale else []
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
