"""Where each feed lives under ``feeds.dir``: the whole site at the root, each category and tag
in a folder of its own, one file per format, and the feed list beside them."""

from __future__ import annotations

from dataclasses import dataclass

from syndicator.site.labels import CATEGORY, SITE, TAG

_FOLDERS = {SITE: "", CATEGORY: "categories", TAG: "tags"}
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

    def file_names(self, formats: tuple[str, ...]) -> list[str]:
        """The feed's files, relative to ``feeds.dir``, one per format."""
        prefix = f"{self.folder}/" if self.folder else ""
        return [prefix + FILE_NAMES[fmt] for fmt in formats]
