"""Which feeds exist and which entries each holds: the whole site, each category, each tag."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from syndicator.config import Config
from syndicator.posts import Post
from syndicator.slugs import feed_slug

SITE, CATEGORY, TAG = "site", "category", "tag"
_FOLDERS = {SITE: "", CATEGORY: "categories", TAG: "tags"}
_KIND_ORDER = {SITE: 0, CATEGORY: 1, TAG: 2}


@dataclass(frozen=True)
class FeedSpec:
    kind: str
    slug: str
    name: str

    @property
    def folder(self) -> str:
        """The feed's folder under ``feeds.dir``: "" for the whole site."""
        return f"{_FOLDERS[self.kind]}/{self.slug}" if self.slug else ""


def newest_first(posts: Iterable[Post]) -> list[Post]:
    """Newest first; equal dates in id order, so the output never depends on read order."""
    return sorted(posts, key=lambda p: (-p.date.timestamp(), p.id))


def is_published(post: Post, now: datetime) -> bool:
    """Posts dated in the future wait for their time, as Jekyll's ``future: false``."""
    return post.date <= now


def plan_feeds(posts: Iterable[Post], config: Config) -> dict[FeedSpec, list[Post]]:
    """Every feed to write, with its newest ``max_items`` posts, newest first."""
    groups: dict[tuple[str, str], list[Post]] = defaultdict(list)
    names: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for post in posts:
        if config.feeds.site:
            groups[SITE, ""].append(post)
        if config.feeds.categories:
            _add(groups, names, CATEGORY, post.categories, post)
        if config.feeds.tags:
            _add(groups, names, TAG, post.tags, post)
    plan = {}
    for (kind, slug), members in groups.items():
        name = _display_name(names[kind, slug]) if slug else config.site.title
        plan[FeedSpec(kind, slug, name)] = newest_first(members)[: config.feeds.max_items]
    if config.feeds.site and (SITE, "") not in groups:
        plan[FeedSpec(SITE, "", config.site.title)] = []
    return dict(sorted(plan.items(), key=lambda item: (_KIND_ORDER[item[0].kind], item[0].slug)))


def _add(
    groups: dict[tuple[str, str], list[Post]],
    names: dict[tuple[str, str], Counter[str]],
    kind: str,
    labels: Iterable[str],
    post: Post,
) -> None:
    seen = set()
    for label in labels:
        slug = feed_slug(label)
        if slug in seen:
            continue
        seen.add(slug)
        groups[kind, slug].append(post)
        names[kind, slug][label] += 1


def _display_name(counts: Counter[str]) -> str:
    """The spelling most posts use; ties go to the first in sort order."""
    return min(counts, key=lambda name: (-counts[name], name))
