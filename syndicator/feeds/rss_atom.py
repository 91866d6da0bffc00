"""RSS 2.0 and Atom 1.0 through feedgen, with its known bugs worked around.

feedgen's own ``source()`` writes no id or updated and loses link ``rel``, so attribution
is written by a feedgen extension that adds the elements to each entry's lxml tree. The same
extension HTML-escapes RSS ``<description>``: feedgen puts the plain-text summary there, and
readers render it as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from lxml import etree

from syndicator import __version__
from syndicator.core.config import Config
from syndicator.core.dates import feed_moment, rfc3339
from syndicator.feeds.attribution import Attribution
from syndicator.feeds.entries import Entry

ATOM = "http://www.w3.org/2005/Atom"
# An empty feed still needs an updated date, and "now" would change its bytes on every build.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself, whatever its format."""

    title: str
    description: str
    home_url: str
    urls: dict[str, str]  # format name → the absolute URL the feed is served at
    language: str
    author: str
    hubs: tuple[str, ...] = ()  # WebSub hubs the feed names (rel="hub")


def newest_update(entries: list[Entry]) -> datetime:
    return max((e.updated for e in entries), default=EPOCH)


def render_rss(meta: FeedMeta, entries: list[Entry], config: Config) -> bytes:
    generator = _generator(meta, entries, config, meta.urls["rss"], "application/rss+xml")
    data: bytes = generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def render_atom(meta: FeedMeta, entries: list[Entry], config: Config) -> bytes:
    generator = _generator(meta, entries, config, meta.urls["atom"], "application/atom+xml")
    generator.id(meta.urls["atom"])
    data: bytes = generator.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def _generator(
    meta: FeedMeta, entries: list[Entry], config: Config, self_url: str, self_type: str
) -> FeedGenerator:
    generator = FeedGenerator()
    generator.register_extension(
        "attribution", _AttributionFeed, _AttributionEntry, atom=True, rss=True
    )
    generator.id(meta.home_url)
    generator.title(meta.title)
    generator.subtitle(meta.description or meta.title)
    generator.author(name=meta.author, uri=config.site.url)
    # The RSS channel <link> is the last link added: self first, the site last.
    generator.link(href=self_url, rel="self", type=self_type)
    for hub in meta.hubs:
        generator.link(href=hub, rel="hub")
    generator.link(href=meta.home_url, rel="alternate")
    generator.attribution.hubs = meta.hubs
    generator.language(meta.language)
    generator.generator("syndicator", version=__version__)
    updated = _seconds(newest_update(entries))
    generator.updated(updated)
    generator.lastBuildDate(updated)
    for entry in entries:
        _add_entry(generator, entry, config)
    return generator


def _add_entry(generator: FeedGenerator, entry: Entry, config: Config) -> None:
    item: FeedEntry = generator.add_entry(order="append")
    item.guid(entry.id, permalink=entry.id == entry.link)
    item.title(entry.title)
    item.link(href=entry.link, rel="alternate")
    item.published(_seconds(entry.published))
    item.updated(_seconds(entry.updated))
    item.summary(entry.summary)
    if config.feeds.content == "full":
        item.content(entry.content_html, type="html")
    if entry.attribution.source:
        item.author(name=entry.attribution.source)
    if entry.categories:
        # In one call: feedgen rebuilds its RSS list of every category on each call.
        item.category([{"term": term} for term in entry.categories])
    item.attribution.attribution = entry.attribution
    item.attribution.published = _seconds(entry.published)


def _seconds(moment: datetime) -> datetime:
    return feed_moment(moment)


class _AttributionFeed(BaseExtension):
    """The feed side of the extension: it declares no namespace, and writes the WebSub hub
    links of RSS (feedgen writes only the self one of its ``atom:link``s there)."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        channel = rss[0]
        self_link = channel.find(f"{{{ATOM}}}link")
        at = channel.index(self_link) + 1 if self_link is not None else len(channel)
        for offset, hub in enumerate(self.hubs):
            link = etree.Element(f"{{{ATOM}}}link", href=hub, rel="hub")
            channel.insert(at + offset, link)
        return rss


class _AttributionEntry(BaseEntryExtension):
    """Writes RSS ``<source url>`` and Atom ``<link rel="via">`` plus a full ``<source>``."""

    def __init__(self) -> None:
        self.attribution = Attribution()
        self.published = EPOCH

    def extend_rss(self, item: etree._Element) -> etree._Element:
        # feedgen copies the plain-text summary into <description>, which readers take as
        # HTML: the text "<script>" (an escaped one in the post) would become a script.
        description = item.find("description")
        if description is not None and description.text:
            description.text = escape(description.text, quote=False)
        feed_url = self.attribution.feed or self.attribution.url
        if self.attribution.source and feed_url:
            source = etree.SubElement(item, "source", url=feed_url)
            source.text = self.attribution.source
        return item

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        attribution = self.attribution
        if attribution.url:
            etree.SubElement(entry, "link", rel="via", href=attribution.url)
        source_id = attribution.feed or attribution.url
        if attribution.source and source_id:
            source = etree.SubElement(entry, "source")
            etree.SubElement(source, "id").text = source_id
            etree.SubElement(source, "title").text = attribution.source
            if attribution.feed:
                etree.SubElement(source, "link", rel="self", href=attribution.feed)
            if attribution.url:
                etree.SubElement(source, "link", rel="alternate", href=attribution.url)
            etree.SubElement(source, "updated").text = rfc3339(self.published)
        return entry
