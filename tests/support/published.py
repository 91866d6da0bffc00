"""Which posts a build's feeds really show: every readable post file held against the JSON
Feed of each feed it belongs to, as a reader would find it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from syndicator.core.config import Config
from syndicator.feeds.layout import FeedSpec
from syndicator.site.files import find_post_files
from syndicator.site.labels import memberships
from syndicator.site.posts import load_post


def feed_entries(config: Config, kind: str, slug: str) -> dict[str, tuple[str, datetime]]:
    """Each entry of one feed, id → (link, date), from its ``feed.json`` (none if the build
    wrote none)."""
    (name,) = FeedSpec(kind, slug, "").file_names(("json",))
    path = config.feeds.dir / name
    if not path.exists():
        return {}
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    return {
        item["id"]: (item["url"], datetime.fromisoformat(item["date_published"])) for item in items
    }


def posts_missing_from_feeds(config: Config) -> list[Path]:
    """Every readable, published post that some feed it belongs to does not show (an entry with
    its id and its link), unless that feed is full of newer posts (``feeds.max_items`` of
    them: a feed holds the newest only).

    For a config with every kind of feed on; a post dated after the build counts as missing.
    """
    missing = []
    for file in find_post_files(config):
        loaded = load_post(file, config)
        if loaded is None:
            continue
        post, _ = loaded
        for kind, slug, _ in memberships(post):
            entries = feed_entries(config, kind, slug)
            shown = entries.get(post.id, ("", None))[0] == post.url
            crowded_out = len(entries) >= config.feeds.max_items and post.date <= min(
                date for _, date in entries.values()
            )
            if not shown and not crowded_out:
                missing.append(file.path)
                break
    return missing
