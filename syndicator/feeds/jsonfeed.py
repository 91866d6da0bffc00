"""JSON Feed 1.1 (feedgen has none)."""

from __future__ import annotations

import json
from typing import Any

from syndicator.core.config import Config
from syndicator.core.dates import rfc3339
from syndicator.feeds.entries import Entry
from syndicator.feeds.rss_atom import FeedMeta

VERSION = "https://jsonfeed.org/version/1.1"


def render_json(meta: FeedMeta, entries: list[Entry], config: Config) -> bytes:
    document: dict[str, Any] = {
        "version": VERSION,
        "title": meta.title,
        "home_page_url": meta.home_url,
        "feed_url": meta.urls["json"],
        "description": meta.description or meta.title,
        "language": meta.language,
        "authors": [{"name": meta.author, "url": config.site.url}],
        "items": [_item(entry, config) for entry in entries],
    }
    if meta.hubs:
        # JSON Feed 1.1: the feed's WebSub hubs ("type" names the protocol).
        document["hubs"] = [{"type": "WebSub", "url": hub} for hub in meta.hubs]
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode()


def _item(entry: Entry, config: Config) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id, "url": entry.link, "title": entry.title}
    if entry.attribution.url:
        item["external_url"] = entry.attribution.url
    if config.feeds.content == "full":
        item["content_html"] = entry.content_html
    else:
        item["content_text"] = entry.summary
    item["summary"] = entry.summary
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    if entry.attribution.source:
        item["authors"] = [{"name": entry.attribution.source}]
    if entry.categories:
        item["tags"] = list(entry.categories)
    if entry.attribution:
        item["_attribution"] = {
            key: value
            for key, value in (
                ("source", entry.attribution.source),
                ("url", entry.attribution.url),
                ("feed_url", entry.attribution.feed),
            )
            if value
        }
    return item
