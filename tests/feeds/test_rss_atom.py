"""RSS 2.0 and Atom 1.0 through feedgen: each feedgen 1.0.0 pitfall of PITFALLS.md guarded.

Every rendered feed is also run through the validators (tests/support/feedcheck.py).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from lxml import etree
from support.feedcheck import assert_valid_atom, assert_valid_rss
from support.feeds import META, NEWEST_FIRST, SITE, make
from support.site import write_post

from syndicator.feeds.attribution import Attribution
from syndicator.feeds.entries import make_entry
from syndicator.feeds.rss_atom import render_atom, render_rss
from syndicator.site.files import PostFile
from syndicator.site.posts import load_post

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def config(site_config):
    return site_config()


@pytest.fixture
def rss(config) -> etree._Element:
    data = render_rss(META, NEWEST_FIRST, config)
    assert_valid_rss(data)
    return etree.fromstring(data)


@pytest.fixture
def atom(config) -> etree._Element:
    data = render_atom(META, NEWEST_FIRST, config)
    assert_valid_atom(data)
    return etree.fromstring(data)


def atom_entries(atom):
    return atom.findall(f"{ATOM}entry")


def test_entries_in_order_not_reversed(rss, atom):
    """PITFALL: ``add_entry()`` prepends by default: ``order='append'`` keeps newest first."""
    assert [i.findtext("title") for i in rss.iter("item")] == ["第3篇", "第2篇", "第1篇"]
    assert [e.findtext(f"{ATOM}title") for e in atom_entries(atom)] == ["第3篇", "第2篇", "第1篇"]


def test_atom_via_link_keeps_its_rel(atom):
    """PITFALL: feedgen's Atom entry ``<link>`` loses ``rel`` (issue #135): a via link
    would become a second alternate, which is invalid Atom."""
    first = atom_entries(atom)[0]
    links = first.findall(f"{ATOM}link")
    via = [link for link in links if link.get("rel") == "via"]
    assert [link.get("href") for link in via] == ["http://news.example.org/original/1.html"]
    for entry in atom_entries(atom):
        alternates = [
            link
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        assert len(alternates) == 1
        assert alternates[0].get("href").startswith(f"{SITE}/emnews/2022/01/")


def test_rss_channel_link_is_the_site(rss):
    """PITFALL: the RSS channel ``<link>`` is the *last* ``fg.link()``: self first, site last."""
    channel = rss.find("channel")
    assert channel.findtext("link") == SITE
    (self_link,) = channel.findall(f"{ATOM}link")
    assert self_link.get("rel") == "self"
    assert self_link.get("href") == META.urls["rss"]
    assert self_link.get("type") == "application/rss+xml"


def test_atom_self_and_alternate_links(atom):
    links = {link.get("rel"): link for link in atom.findall(f"{ATOM}link")}
    assert links["self"].get("href") == META.urls["atom"]
    assert links["alternate"].get("href") == SITE
    assert atom.findtext(f"{ATOM}id") == META.urls["atom"]


def test_no_cdata_content_type(config):
    """PITFALL: ``content(type='CDATA')`` writes an invalid ``type="CDATA"`` into Atom."""
    data = render_atom(META, NEWEST_FIRST, config)
    assert b'type="CDATA"' not in data
    content = etree.fromstring(data).find(f"{ATOM}entry/{ATOM}content")
    assert content.get("type") == "html"
    assert content.text == "<p>正文3。</p>"


def test_atom_has_summary_and_content(atom):
    """PITFALL: ``description()`` without ``isSummary`` overwrites Atom ``<content>``."""
    for entry in atom_entries(atom):
        assert entry.findtext(f"{ATOM}summary").startswith("正文")
        assert entry.findtext(f"{ATOM}content").startswith("<p>正文")


def test_rss_description_and_content_encoded(rss):
    item = next(rss.iter("item"))
    assert item.findtext("description") == "正文3。"
    assert item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") == "<p>正文3。</p>"


def test_atom_source_has_id_title_link_updated(atom):
    """PITFALL: feedgen's ``source()`` writes only title and link: no id, no updated."""
    source = atom_entries(atom)[0].find(f"{ATOM}source")
    assert source.findtext(f"{ATOM}id") == "https://feeds.example.org/finance/rss.xml"
    assert source.findtext(f"{ATOM}title") == "中国网财经"
    hrefs = {link.get("rel"): link.get("href") for link in source.findall(f"{ATOM}link")}
    assert hrefs["self"] == "https://feeds.example.org/finance/rss.xml"
    assert hrefs["alternate"] == "http://news.example.org/original/1.html"
    assert source.findtext(f"{ATOM}updated") == "2022-01-09T10:00:00+08:00"
    assert atom_entries(atom)[1].find(f"{ATOM}source") is None


def test_atom_entry_author_is_the_source(atom):
    assert atom_entries(atom)[0].findtext(f"{ATOM}author/{ATOM}name") == "中国网财经"
    assert atom.findtext(f"{ATOM}author/{ATOM}name") == "测试站"


def test_rss_source_url(rss):
    """PITFALL: RSS ``<source>`` needs its ``url``."""
    items = list(rss.iter("item"))
    source = items[0].find("source")
    assert source.text == "中国网财经"
    assert source.get("url") == "https://feeds.example.org/finance/rss.xml"
    assert items[1].find("source") is None


def test_rss_source_without_a_known_feed_points_at_the_original(config):
    entry = make(1, 7, Attribution(source="财联社", url="http://x.example/a.html"))
    data = render_rss(META, [entry], config)
    assert_valid_rss(data)
    source = etree.fromstring(data).find("channel/item/source")
    assert (source.text, source.get("url")) == ("财联社", "http://x.example/a.html")


def test_updated_is_the_newest_entry_not_now(config):
    """PITFALL: feed ``updated`` and RSS ``lastBuildDate`` default to now: every build
    would change the bytes (and every ETag)."""
    entries = [make(2, 8, updated_day=20), make(1, 7)]
    rss = etree.fromstring(render_rss(META, entries, config))
    atom = etree.fromstring(render_atom(META, entries, config))
    assert rss.findtext("channel/lastBuildDate") == "Thu, 20 Jan 2022 10:00:00 +0800"
    assert atom.findtext(f"{ATOM}updated") == "2022-01-20T10:00:00+08:00"


def test_same_entries_same_bytes(config):
    first = (render_rss(META, NEWEST_FIRST, config), render_atom(META, NEWEST_FIRST, config))
    again = (render_rss(META, NEWEST_FIRST, config), render_atom(META, NEWEST_FIRST, config))
    assert first == again


def test_every_rss_item_has_pubdate(rss):
    """PITFALL: ``updated()`` alone gives RSS no ``pubDate``."""
    dates = [item.findtext("pubDate") for item in rss.iter("item")]
    assert dates == [
        "Sun, 09 Jan 2022 10:00:00 +0800",
        "Sat, 08 Jan 2022 10:00:00 +0800",
        "Fri, 07 Jan 2022 10:00:00 +0800",
    ]


def test_atom_dates_keep_the_offset(atom):
    """PITFALL: naive datetimes raise in feedgen; ours are aware and keep the post's offset."""
    entry = atom_entries(atom)[0]
    assert entry.findtext(f"{ATOM}published") == "2022-01-09T10:00:00+08:00"
    assert entry.findtext(f"{ATOM}updated") == "2022-01-09T10:00:00+08:00"


def test_guid_is_permalink_only_when_id_is_the_link(rss):
    """PITFALL: ``fe.id()`` gives ``isPermaLink="false"``; use ``guid(url, permalink=True)``."""
    guids = [item.find("guid") for item in rss.iter("item")]
    assert [g.get("isPermaLink") for g in guids] == ["false", "false", "true"]
    assert guids[2].text == f"{SITE}/emnews/2022/01/07/post-1.html"


def test_illegal_xml_characters_in_a_title_do_not_break_the_feed(tmp_path, config):
    """PITFALL: characters illegal in XML make lxml raise for the whole feed."""
    path = write_post(
        tmp_path / "_posts",
        "2022-01-01-x.md",
        'title: "坏\\x0b标题\\x1f"\ndate: 2022-01-01 10:00:00 +0800\ncategories: emnews\n',
        "正文\x01\x0c。\n",
    )
    post, body = load_post(PostFile(path, path.parent, 0, 0), config)
    entries = [make_entry(post, body, config), *NEWEST_FIRST]
    rss = render_rss(META, entries, config)
    atom = render_atom(META, entries, config)
    assert_valid_rss(rss)
    assert_valid_atom(atom)
    assert "<title>坏标题</title>" in rss.decode()


def test_empty_feed_is_valid_and_deterministic(config):
    rss, atom = render_rss(META, [], config), render_atom(META, [], config)
    assert_valid_rss(rss)
    assert_valid_atom(atom)
    assert etree.fromstring(atom).findtext(f"{ATOM}updated") == "1970-01-01T00:00:00+00:00"
    assert (rss, atom) == (render_rss(META, [], config), render_atom(META, [], config))


def test_summary_only_feeds_are_valid(config):
    summary_config = replace(config, feeds=replace(config.feeds, content="summary"))
    rss = render_rss(META, NEWEST_FIRST, summary_config)
    atom = render_atom(META, NEWEST_FIRST, summary_config)
    assert_valid_rss(rss)
    assert_valid_atom(atom)
    assert etree.fromstring(atom).find(f"{ATOM}entry/{ATOM}content") is None
    assert b"content:encoded" not in rss


def test_categories_and_language(rss, atom):
    item = next(rss.iter("item"))
    assert [c.text for c in item.findall("category")] == ["emnews", "东财滚动新闻"]
    terms = [c.get("term") for c in atom_entries(atom)[0].findall(f"{ATOM}category")]
    assert terms == ["emnews", "东财滚动新闻"]
    assert rss.findtext("channel/language") == "zh-CN"
    assert atom.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-CN"


def test_hub_links_are_not_silently_promised(rss, atom):
    """PITFALL: RSS output drops ``rel="hub"``: we write no hub link in either format, so
    RSS and Atom advertise the same links."""
    assert not [link for link in rss.iter(f"{ATOM}link") if link.get("rel") == "hub"]
    assert not [link for link in atom.iter(f"{ATOM}link") if link.get("rel") == "hub"]
