"""The feed list: ``feeds.opml`` for readers and tools, ``index.html`` for people."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from lxml import etree

from syndicator.core.config import Config

FORMAT_LABELS = {"rss": "RSS 2.0", "atom": "Atom 1.0", "json": "JSON Feed 1.1"}
MEDIA_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


@dataclass(frozen=True)
class ListedFeed:
    kind: str
    title: str
    urls: dict[str, str]  # format → absolute URL, in the configured order


def render_opml(feeds: list[ListedFeed], config: Config) -> bytes:
    """One outline per feed, in its first configured format, grouped by kind."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = config.site.title
    body = etree.SubElement(opml, "body")
    groups: dict[str, etree._Element] = {}
    for feed in feeds:
        if feed.kind not in groups:
            groups[feed.kind] = etree.SubElement(body, "outline", text=_KIND_TITLES[feed.kind])
        first = next(iter(feed.urls))
        etree.SubElement(
            groups[feed.kind],
            "outline",
            type="rss",
            text=feed.title,
            title=feed.title,
            xmlUrl=feed.urls[first],
            htmlUrl=config.site.url,
        )
    return etree.tostring(opml, encoding="UTF-8", xml_declaration=True, pretty_print=True)


_KIND_TITLES = {"site": "Site", "category": "Categories", "tag": "Tags"}


def render_index(feeds: list[ListedFeed], config: Config) -> bytes:
    site = [f for f in feeds if f.kind == "site"]
    discovery = "".join(
        f'  <link rel="alternate" type="{MEDIA_TYPES[fmt]}" title="{escape(feed.title)}" '
        f'href="{escape(url)}">\n'
        for feed in site
        for fmt, url in feed.urls.items()
    )
    sections = []
    for kind, heading in _KIND_TITLES.items():
        rows = [_index_row(feed) for feed in feeds if feed.kind == kind]
        if rows:
            sections.append(f"<h2>{heading}</h2>\n<ul>\n{''.join(rows)}</ul>\n")
    title = escape(f"{config.site.title}: feeds")
    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(config.site.language)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n{discovery}"
        f'  <link rel="outline" type="text/x-opml" title="OPML" href="feeds.opml">\n'
        f"</head>\n<body>\n<h1>{title}</h1>\n"
        f'<p><a href="{escape(config.site.url)}">{escape(config.site.url)}</a> · '
        f'<a href="feeds.opml">OPML</a></p>\n{"".join(sections)}</body>\n</html>\n'
    )
    return page.encode()


def _index_row(feed: ListedFeed) -> str:
    links = " · ".join(
        f'<a href="{escape(url)}" type="{MEDIA_TYPES[fmt]}">{FORMAT_LABELS[fmt]}</a>'
        for fmt, url in feed.urls.items()
    )
    return f"<li>{escape(feed.title)}: {links}</li>\n"
