"""Rendering the chosen feeds and the feed list: entries from the cache or freshly made."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import quote

from syndicator.core.config import Config
from syndicator.feeds.entries import Entry, entry_from_json, entry_to_json, make_entry
from syndicator.feeds.jsonfeed import render_json
from syndicator.feeds.layout import FILE_NAMES, FeedSpec
from syndicator.feeds.listing import ListedFeed, render_index, render_opml
from syndicator.feeds.rss_atom import FeedMeta, render_atom, render_rss
from syndicator.site.index import PostIndex
from syndicator.site.labels import SITE
from syndicator.site.posts import Post, PostError, read_body

RENDERERS = {"rss": render_rss, "atom": render_atom, "json": render_json}
PARALLEL_ENTRIES = 200
CACHE_BATCH = 200


def render_feeds(
    specs: list[FeedSpec],
    index: PostIndex,
    config: Config,
    now: datetime,
    problems: list[PostError],
) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each chosen feed in each format, one at a time; a post that
    turns out unusable when its entry is rendered is added to ``problems``."""
    members = {
        spec: index.newest((spec.kind, spec.slug), now, config.feeds.max_items) for spec in specs
    }
    entries = _entries_for(members, index, config, problems)
    for spec, posts in members.items():
        feed_entries = [entries[post.path] for post in posts if post.path in entries]
        meta = feed_meta(spec, config)
        formats = config.feeds.formats
        for name, fmt in zip(spec.file_names(formats), formats, strict=True):
            yield name, RENDERERS[fmt](meta, feed_entries, config)


def render_listing(specs: list[FeedSpec], config: Config) -> Iterator[tuple[str, bytes]]:
    listed = [_listed(spec, config) for spec in specs]
    yield "feeds.opml", render_opml(listed, config)
    yield "index.html", render_index(listed, config)


def _listed(spec: FeedSpec, config: Config) -> ListedFeed:
    meta = feed_meta(spec, config)
    return ListedFeed(spec.kind, meta.title, meta.urls)


def _entries_for(
    members: dict[FeedSpec, list[Post]],
    index: PostIndex,
    config: Config,
    problems: list[PostError],
) -> dict[Path, Entry]:
    """Each post that reaches some feed as an entry: from the cache when its file is the one
    the cached entry was rendered from, else rendered (once, however many feeds hold it)."""
    entries: dict[Path, Entry] = {}
    to_render: dict[Path, Post] = {}
    for posts in members.values():
        for post in posts:
            if post.path in entries or post.path in to_render:
                continue
            cached = index.cached_entry(post.path)
            if cached is not None:
                entries[post.path] = entry_from_json(cached)
            else:
                to_render[post.path] = post
    fresh: list[tuple[Path, str]] = []
    for post, (rendered, problem) in zip(
        to_render.values(), _render_entries(list(to_render.values()), config), strict=True
    ):
        if problem is not None:
            problems.append(PostError(post.path, problem))
            continue
        assert rendered is not None
        entries[post.path] = entry_from_json(rendered)
        fresh.append((post.path, rendered))
        if len(fresh) >= CACHE_BATCH:
            index.cache_entries(fresh)
            fresh.clear()
    index.cache_entries(fresh)
    return entries


def _render_entries(posts: list[Post], config: Config) -> Iterator[tuple[str | None, str | None]]:
    """(the entry as JSON, or the problem) for each post, in order; in worker processes when
    there are many (a cold build of a large site renders a few thousand)."""
    if len(posts) < PARALLEL_ENTRIES or (os.cpu_count() or 1) < 2:
        return (_render_entry(post, config) for post in posts)
    # fork: the workers start with everything already imported and the config in hand.
    return _render_in_workers(posts, config)


def _render_in_workers(
    posts: list[Post], config: Config
) -> Iterator[tuple[str | None, str | None]]:
    pool = ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=get_context("fork"))
    with pool:
        yield from pool.map(_render_entry, posts, [config] * len(posts), chunksize=50)


def _render_entry(post: Post, config: Config) -> tuple[str | None, str | None]:
    try:
        return entry_to_json(
            make_entry(post, read_body(post, config.posts.max_bytes), config)
        ), None
    except PostError as problem:
        return None, problem.reason


def feed_meta(spec: FeedSpec, config: Config) -> FeedMeta:
    prefix = f"{spec.folder}/" if spec.folder else ""
    base = f"{config.feeds.base_url}/{quote(prefix)}"
    title = config.site.title if spec.kind == SITE else f"{config.site.title}: {spec.name}"
    return FeedMeta(
        title=title,
        description=config.site.description,
        home_url=config.site.url,
        urls={fmt: base + FILE_NAMES[fmt] for fmt in config.feeds.formats},
        language=config.site.language,
        author=config.site.title,
        hubs=config.websub.advertised_hubs,
    )
