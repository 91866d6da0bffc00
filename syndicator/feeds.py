"""The feeds there are: the whole site, each category, each tag."""

from __future__ import annotations

from dataclasses import dataclass

SITE, CATEGORY, TAG = "site", "category", "tag"
_FOLDERS = {SITE: "", CATEGORY: "categories", TAG: "tags"}
KIND_ORDER = {SITE: 0, CATEGORY: 1, TAG: 2}
FILE_NAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
LISTING_FILES = ("feeds.opml", "index.html")


@dataclass(frozen=True)
class FeedSpec:
    kind: str
    slug: str
    name: str

    @property
    def folder(self) -> str:
        """The feed's folder under ``feeds.dir``: "" for the whole site."""
        return f"{_FOLDERS[self.kind]}/{self.slug}" if self.slug else ""
