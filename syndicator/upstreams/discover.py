"""Finding the feed of a site: the URL itself, its HTML's alternate links, or the usual paths."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from syndicator.core.config import UpstreamConfig
from syndicator.core.slugs import feed_slug
from syndicator.core.text import one_line
from syndicator.upstreams.fetch import Fetcher, FetchError, FetchResult
from syndicator.upstreams.parse import NotAFeedError, UpstreamFeed, parse_feed

_FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/feed+json", "application/json"}
)
UNNAMED = "change-me"  # a feed without a title: the operator names it
_COMMON_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/rss", "/feed.json")
# A page may list any number of links; each costs a fetch.
_MAX_LINKS = 10


@dataclass(frozen=True)
class DiscoveredFeed:
    url: str
    title: str
    site_url: str | None
    feed: UpstreamFeed
    # False when the page has no feed of its own and this is the site's, found at one of the
    # usual places on its origin: offered as that, not as the page's feed.
    of_page: bool = True
    tried: tuple[str, ...] = ()


class DiscoveryError(Exception):
    """No feed found; ``str()`` names the URL and what was tried."""


class _MissError(Exception):
    """A candidate that is not a feed; ``str()`` is a short reason."""


def discover_feed(fetcher: Fetcher, url: str) -> DiscoveredFeed:
    """The feed at ``url``, or the one its page points to, confirmed by fetching and parsing it.

    Its ``url`` is the address to subscribe to: the new one after a permanent redirect, the one
    asked for after a temporary one.
    """
    page = _fetch_page(fetcher, url)
    try:
        return _discovered(url, page, parse_feed(page.body, page.url, page.headers), None)
    except NotAFeedError:
        pass  # a web page: look for its feed
    tried: list[str] = []
    linked = _alternate_links(page)[:_MAX_LINKS]
    for candidate in _candidates(page, linked):
        try:
            result, feed = _fetch_feed(fetcher, candidate)
        except _MissError as miss:
            tried.append(f"{candidate} ({miss})")
            continue
        found = _discovered(candidate, result, feed, page.url)
        if candidate in linked or _is_site_root(page.url):
            return found
        return replace(found, of_page=False, tried=tuple(tried))
    raise DiscoveryError(
        f"no feed found for {url}: it is not a feed, it links to none that works, and none of "
        f"the usual places has one; tried {', '.join(tried)}"
    )


def _fetch_page(fetcher: Fetcher, url: str) -> FetchResult:
    try:
        page = fetcher.fetch(url)
    except FetchError as error:
        raise DiscoveryError(f"could not look for a feed at {url}: {error}") from error
    if page.status != 200:
        raise DiscoveryError(
            f"could not look for a feed at {url}: it answered HTTP {page.status}; check the address"
        )
    return page


def _fetch_feed(fetcher: Fetcher, url: str) -> tuple[FetchResult, UpstreamFeed]:
    try:
        result = fetcher.fetch(url)
    except FetchError as error:
        raise _MissError(error.kind) from error
    if result.status != 200:
        raise _MissError(f"HTTP {result.status}")
    try:
        return result, parse_feed(result.body, result.url, result.headers)
    except NotAFeedError:
        raise _MissError("not a feed") from None


def _discovered(
    requested: str, result: FetchResult, feed: UpstreamFeed, page_url: str | None
) -> DiscoveredFeed:
    return DiscoveredFeed(
        url=result.permanent_url or requested,
        title=feed.title,
        site_url=feed.link or page_url,
        feed=feed,
    )


def _is_site_root(url: str) -> bool:
    return urlsplit(url).path in ("", "/")


def _candidates(page: FetchResult, linked: list[str]) -> list[str]:
    """The page's feed links in document order, then the usual paths on its origin."""
    origin = urlsplit(page.url)
    usual = [f"{origin.scheme}://{origin.netloc}{path}" for path in _COMMON_PATHS]
    candidates: list[str] = []
    for candidate in [*linked, *usual]:
        if candidate != page.url and candidate not in candidates:
            candidates.append(candidate)
    return candidates


def _alternate_links(page: FetchResult) -> list[str]:
    try:
        document = lxml.html.document_fromstring(page.body)
    except (etree.ParserError, ValueError):
        return []  # not HTML at all
    base = page.url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(page.url, element.get("href", "").strip())
            break
    links = []
    for link in document.iter("link"):
        relations = (link.get("rel") or "").lower().split()
        media_type = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in relations and media_type in _FEED_TYPES and href:
            links.append(urljoin(base, href))
    return links


def propose_upstream(found: DiscoveredFeed, categories: Iterable[str]) -> UpstreamConfig:
    """The ``[[upstreams]]`` entry ``add`` offers: named after the feed's title, in the site's
    existing category that the title names (else a category named like the feed). Never
    named after an address: a host or an IP says nothing a reader can use."""
    title = one_line(found.title)
    name = title or UNNAMED
    existing = {feed_slug(label): label for label in categories if label.strip()}
    slug = feed_slug(title) if title else ""
    # The title's Latin words, hyphen-joined: the slug drops hyphens inside a word
    # ("EU-News" is "eunews"), which would hide a category named "EU".
    words = slug + " " + "-".join(re.findall(r"[a-z0-9]+", title.lower()))
    category = existing.get(slug) or next(
        (label for key, label in sorted(existing.items()) if key and _names(words, key)), None
    )
    return UpstreamConfig(name=name, url=found.url, category=category or slug or UNNAMED)


def _names(slug: str, key: str) -> bool:
    """Whether a title's slug names a category: as whole words where the words are Latin
    ("eu" is not in "reuters"), as a run of characters where they are not (中国证券报 is in
    中国证券报要闻, written without spaces)."""
    pattern = re.escape(key)
    if key[0].isascii() and key[0].isalnum():
        pattern = r"(?<![a-z0-9])" + pattern
    if key[-1].isascii() and key[-1].isalnum():
        pattern += r"(?![a-z0-9])"
    return re.search(pattern, slug) is not None
