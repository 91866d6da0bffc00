"""The feeds a post belongs to: the whole site, each of its categories, each of its tags.

A feed is known by its kind and the slug of its label, so ``TechWeb`` and ``Tech-Web`` share
one; the index stores these memberships and the feed side writes a feed for each.
"""

from __future__ import annotations

from collections.abc import Iterator

from syndicator.core.slugs import feed_slug
from syndicator.site.posts import Post

SITE, CATEGORY, TAG = "site", "category", "tag"
KIND_ORDER = {SITE: 0, CATEGORY: 1, TAG: 2}
FeedKey = tuple[str, str]  # (kind, slug); the whole site's slug is ""


def memberships(post: Post) -> Iterator[tuple[str, str, str]]:
    """(kind, slug, label) of every feed the post belongs to."""
    yield SITE, "", ""
    for kind, labels in ((CATEGORY, post.categories), (TAG, post.tags)):
        for label in labels:
            yield kind, feed_slug(label), label
