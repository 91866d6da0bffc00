"""The feed list: ``feeds.opml`` for readers and tools, ``index.html`` with autodiscovery."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote

from lxml import etree
from support.site import feed_files

from syndicator.feeds.listing import MEDIA_TYPES, ListedFeed, render_index, render_opml


def listed(kind: str, title: str, folder: str) -> ListedFeed:
    base = "https://site.example/feeds/" + folder
    return ListedFeed(
        kind,
        title,
        {"rss": base + "rss.xml", "atom": base + "atom.xml", "json": base + "feed.json"},
    )


FEEDS = [
    listed("site", "测试站", ""),
    listed("category", "测试站: emnews", "categories/emnews/"),
    listed("category", 'A & B <"x">', "categories/a-b/"),
    listed("tag", "测试站: 东财滚动新闻", "tags/%E4%B8%9C/"),
]


class Links(HTMLParser):
    """The ``<link>`` and ``<a>`` elements of a page, as attribute dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self.anchors: list[dict[str, str]] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if tag == "link":
            self.links.append(values)
        elif tag == "a":
            self.anchors.append(values)
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse_page(data: bytes) -> Links:
    parser = Links()
    parser.feed(data.decode("utf-8"))
    return parser


def test_opml_lists_every_feed_with_absolute_xml_url(site_config):
    opml = etree.fromstring(render_opml(FEEDS, site_config()))
    assert opml.tag == "opml" and opml.get("version") == "2.0"
    assert opml.findtext("head/title") == "测试站"
    outlines = opml.findall(".//outline[@xmlUrl]")
    assert [o.get("text") for o in outlines] == [feed.title for feed in FEEDS]
    assert [o.get("xmlUrl") for o in outlines] == [feed.urls["rss"] for feed in FEEDS]
    for outline in outlines:
        assert outline.get("xmlUrl").startswith("https://site.example/feeds/")
        assert outline.get("type") == "rss"
        assert outline.get("htmlUrl") == "https://site.example"
    groups = [o.get("text") for o in opml.find("body")]
    assert groups == ["Site", "Categories", "Tags"]


def test_opml_uses_the_first_configured_format(site_config):
    feed = ListedFeed("site", "x", {"atom": "https://s.example/atom.xml"})
    opml = etree.fromstring(render_opml([feed], site_config()))
    assert opml.find(".//outline[@xmlUrl]").get("xmlUrl") == "https://s.example/atom.xml"


def test_index_has_autodiscovery_links_for_the_site_feeds(site_config):
    page = parse_page(render_index(FEEDS, site_config()))
    alternates = [link for link in page.links if link.get("rel") == "alternate"]
    assert {(link["type"], link["href"]) for link in alternates} == {
        (MEDIA_TYPES[fmt], url) for fmt, url in FEEDS[0].urls.items()
    }
    assert all(link["title"] == "测试站" for link in alternates)
    assert any(link.get("rel") == "outline" for link in page.links)


def test_index_lists_every_feed_in_every_format(site_config):
    page = parse_page(render_index(FEEDS, site_config()))
    hrefs = {anchor["href"] for anchor in page.anchors}
    for feed in FEEDS:
        assert set(feed.urls.values()) <= hrefs


def test_index_escapes_titles(site_config):
    data = render_index(FEEDS, site_config()).decode()
    assert "A &amp; B &lt;&quot;x&quot;&gt;" in data
    assert '<"x">' not in data


def test_listing_of_a_real_build(built_fixture_site):
    """The OPML of the fixture site names every feed written, by its absolute URL."""
    config, _ = built_fixture_site
    files = feed_files(config.feeds.dir)
    opml = etree.fromstring(files["feeds.opml"])
    listed_urls = {o.get("xmlUrl") for o in opml.iter("outline") if o.get("xmlUrl")}
    written = {f"{config.feeds.base_url}/{name}" for name in files if name.endswith("rss.xml")}
    assert len(written) == 19
    assert {unquote(url) for url in listed_urls} == {unquote(url) for url in written}
    page = parse_page(files["index.html"])
    hrefs = {unquote(a["href"]) for a in page.anchors}
    for name in files:
        if name.endswith((".xml", ".json")) and name != "feeds.opml":
            assert unquote(f"{config.feeds.base_url}/{name}") in hrefs
