"""feedcheck.py accepts valid feeds and names every rule a bad one breaks.

Each failing sample is the valid sample with one targeted edit, so a test
fails if a rule stops firing (or fires on the valid feed).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import feedparser
import pytest

from support import feedcheck
from support.feedcheck import (
    assert_valid_atom,
    assert_valid_jsonfeed,
    assert_valid_rss,
    check_atom,
    check_atom_schema,
    check_jsonfeed,
    check_rss,
    is_absolute_iri,
    is_absolute_url,
    is_rfc3339,
    rfc822_problems,
)

needs_xmllint = pytest.mark.skipif(
    feedcheck.xmllint_path() is None,
    reason="xmllint not on PATH (apt-get install libxml2-utils); Atom schema part skipped",
)

VALID_ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:example:ext" xml:lang="zh-CN">
  <title>财经新闻 — 每日速递</title>
  <subtitle>日本語のサブタイトル</subtitle>
  <link rel="self" type="application/atom+xml" href="https://news.example.com/feed.atom"/>
  <link rel="alternate" type="text/html" href="https://news.example.com/"/>
  <id>https://news.example.com/</id>
  <updated>2024-03-01T08:30:00+08:00</updated>
  <author><name>编辑部</name><email>editor@example.com</email></author>
  <generator uri="https://news.example.com/syndicator" version="0.1.0">syndicator</generator>
  <x:build>42</x:build>
  <entry>
    <title>央行宣布降息 25 个基点</title>
    <link rel="alternate" type="text/html" href="https://news.example.com/2024/03/01/rate-cut.html"/>
    <link rel="alternate" type="text/html" hreflang="en" href="https://news.example.com/en/rate-cut.html"/>
    <id>tag:news.example.com,2024-03-01:/rate-cut</id>
    <published>2024-03-01T08:00:00+08:00</published>
    <updated>2024-03-01T08:30:00.250Z</updated>
    <summary>摘要：利率下调</summary>
    <content type="html">&lt;p&gt;正文 &amp;amp; 数据&lt;/p&gt;</content>
    <category term="经济" label="经济"/>
  </entry>
  <entry>
    <title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">한국어 <b>제목</b></div></title>
    <id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id>
    <updated>2024-03-01T09:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>本文</p></div></content>
  </entry>
</feed>
"""

VALID_RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>财经新闻</title>
    <link>https://news.example.com/</link>
    <description>每日财经要闻</description>
    <language>zh-cn</language>
    <atom:link href="https://news.example.com/feed.xml" rel="self" type="application/rss+xml"/>
    <lastBuildDate>Fri, 01 Mar 2024 08:30:00 +0800</lastBuildDate>
    <ttl>60</ttl>
    <image>
      <url>https://news.example.com/logo.png</url>
      <title>财经新闻</title>
      <link>https://news.example.com/</link>
    </image>
    <item>
      <title>央行宣布降息</title>
      <link>https://news.example.com/2024/03/01/rate-cut.html</link>
      <description>&lt;p&gt;正文&lt;/p&gt;</description>
      <author>editor@example.com (编辑部)</author>
      <category>经济</category>
      <guid isPermaLink="true">https://news.example.com/2024/03/01/rate-cut.html</guid>
      <pubDate>Fri, 01 Mar 2024 08:00:00 +0800</pubDate>
      <source url="https://upstream.example.org/rss">上游新闻</source>
      <enclosure url="https://news.example.com/a.mp3" length="12345" type="audio/mpeg"/>
      <dc:creator>张三</dc:creator>
    </item>
    <item>
      <description>只有描述的条目</description>
      <guid isPermaLink="false">news-2024-0002</guid>
      <pubDate>1 Mar 2024 09:00 GMT</pubDate>
    </item>
  </channel>
</rss>
"""

VALID_JSONFEED: dict[str, Any] = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "财经新闻",
    "home_page_url": "https://news.example.com/",
    "feed_url": "https://news.example.com/feed.json",
    "language": "zh-CN",
    "authors": [{"name": "编辑部", "url": "https://news.example.com/about"}],
    "_syndicator": {"build": 42},
    "items": [
        {
            "id": "https://news.example.com/2024/03/01/rate-cut.html",
            "url": "https://news.example.com/2024/03/01/rate-cut.html",
            "title": "央行宣布降息",
            "content_html": "<p>正文</p>",
            "date_published": "2024-03-01T08:00:00+08:00",
            "date_modified": "2024-03-01T00:30:00Z",
            "tags": ["经济", "利率"],
            "authors": [{"name": "张三"}],
        },
        {
            "id": "news-2024-0002",
            "content_text": "纯文本条目",
            "external_url": "https://upstream.example.org/a",
            "attachments": [
                {
                    "url": "https://news.example.com/a.mp3",
                    "mime_type": "audio/mpeg",
                    "size_in_bytes": 12345,
                }
            ],
            "_source": "upstream",
        },
    ],
}

_RULE = re.compile(r"[a-z0-9.\-]+")


def rules(problems: list[str]) -> set[str]:
    """The rule names of *problems* ("atom.id (line 3): ..." -> "atom.id")."""
    names = set()
    for problem in problems:
        match = _RULE.match(problem)
        assert match, f"problem does not start with a rule name: {problem!r}"
        names.add(match.group())
    return names


def edit(document: str, old: str, new: str) -> bytes:
    """Replace exactly one *old*; a sample edit that matches nothing is a test bug."""
    assert document.count(old) == 1, f"{old!r} occurs {document.count(old)} times"
    return document.replace(old, new).encode("utf-8")


# --------------------------------------------------------------------------
# Valid samples pass
# --------------------------------------------------------------------------


def test_valid_atom_with_cjk_passes() -> None:
    assert check_atom(VALID_ATOM.encode("utf-8")) == []
    assert_valid_atom(VALID_ATOM.encode("utf-8"))


def test_valid_rss_with_cjk_passes() -> None:
    assert check_rss(VALID_RSS.encode("utf-8")) == []
    assert_valid_rss(VALID_RSS.encode("utf-8"))


def test_valid_jsonfeed_with_cjk_passes() -> None:
    data = json.dumps(VALID_JSONFEED, ensure_ascii=False).encode("utf-8")
    assert check_jsonfeed(data) == []
    assert_valid_jsonfeed(data)


def test_atom_feed_without_feed_author_passes_when_every_entry_has_one() -> None:
    feed = VALID_ATOM.replace(
        "<author><name>编辑部</name><email>editor@example.com</email></author>", ""
    )
    feed = feed.replace("</title>\n", "</title><author><name>记者</name></author>\n", 3)
    assert check_atom(feed.encode("utf-8")) == []


def test_atom_relative_self_link_resolves_against_xml_base() -> None:
    data = edit(
        VALID_ATOM,
        'xml:lang="zh-CN"',
        'xml:lang="zh-CN" xml:base="https://news.example.com/"',
    ).decode()
    data = data.replace('href="https://news.example.com/feed.atom"', 'href="feed.atom"')
    assert check_atom(data.encode("utf-8")) == []


# --------------------------------------------------------------------------
# Atom rules
# --------------------------------------------------------------------------

ATOM_CASES = [
    pytest.param(
        "<author><name>编辑部</name><email>editor@example.com</email></author>",
        "",
        "atom.author",
        id="no-author-anywhere",
    ),
    pytest.param(
        "<id>https://news.example.com/</id>", "<id>/feed</id>", "atom.id", id="relative-id"
    ),
    pytest.param(
        "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
        "urn:uuid:not-a-uuid",
        "atom.id",
        id="bad-urn-uuid",
    ),
    pytest.param(
        "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
        "tag:news.example.com,2024-03-01:/rate-cut",
        "atom.id",
        id="duplicate-entry-id",
    ),
    pytest.param(
        "<id>https://news.example.com/</id>",
        "<id>https://news.example.com/a b</id>",
        "atom.id",
        id="id-with-space",
    ),
    pytest.param(
        "<updated>2024-03-01T09:00:00Z</updated>",
        "<updated>2024-03-01T09:00:00</updated>",
        "atom.date",
        id="date-without-zone",
    ),
    pytest.param(
        "<published>2024-03-01T08:00:00+08:00</published>",
        "<published>Fri, 01 Mar 2024 08:00:00 +0800</published>",
        "atom.date",
        id="rfc822-date",
    ),
    pytest.param(
        "<updated>2024-03-01T09:00:00Z</updated>",
        "<updated>2024-02-30T09:00:00Z</updated>",
        "atom.date",
        id="impossible-date",
    ),
    pytest.param(
        'hreflang="en" href="https://news.example.com/en/rate-cut.html"',
        'href="https://news.example.com/again.html"',
        "atom.alternate",
        id="two-alternates-same-type",
    ),
    pytest.param(
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>本文</p></div></content>',
        "",
        "atom.alternate",
        id="no-content-no-alternate",
    ),
    pytest.param(
        '<link rel="self" type="application/atom+xml" href="https://news.example.com/feed.atom"/>',
        "",
        "atom.self",
        id="no-self-link",
    ),
    pytest.param(
        'href="https://news.example.com/feed.atom"',
        'href="feed.atom"',
        "atom.self",
        id="relative-self-link",
    ),
    pytest.param(
        "<summary>摘要：利率下调</summary>",
        '<summary type="CDATA">摘要：利率下调</summary>',
        "atom.cdata",
        id="cdata-type",
    ),
    pytest.param(
        "<summary>摘要：利率下调</summary>",
        '<summary type="text/plain">摘要：利率下调</summary>',
        "atom.text-type",
        id="mime-type-on-text-construct",
    ),
    pytest.param(
        '<content type="html">',
        '<content type="weird">',
        "atom.content-type",
        id="content-type-not-mime",
    ),
    pytest.param(
        '<content type="html">',
        '<content type="multipart/mixed">',
        "atom.content-type",
        id="content-type-composite",
    ),
    pytest.param(
        '<content type="html">&lt;p&gt;正文 &amp;amp; 数据&lt;/p&gt;</content>',
        "<content><x:p>正文</x:p></content>",
        "atom.content-type",
        id="text-content-with-children",
    ),
    pytest.param(
        '<content type="html">&lt;p&gt;正文 &amp;amp; 数据&lt;/p&gt;</content>',
        '<content type="html" src="https://news.example.com/a.html"/>',
        "atom.content-type",
        id="src-with-html-type",
    ),
    pytest.param(
        '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>本文</p></div></content>',
        '<content type="text/html" src="https://news.example.com/b.html"/>',
        "atom.summary",
        id="src-content-without-summary",
    ),
    pytest.param(
        "<email>editor@example.com</email>",
        "<email>editor</email>",
        "atom.email",
        id="bad-email",
    ),
    pytest.param("</feed>", "</feed", "xml", id="not-well-formed"),
    pytest.param("</feed>", "</feed", "feedparser.bozo", id="feedparser-bozo"),
    pytest.param(
        'xmlns="http://www.w3.org/2005/Atom"',
        'xmlns="http://purl.org/atom/ns#"',
        "feedparser.version",
        id="atom-0.3-namespace",
    ),
    pytest.param(
        'xmlns="http://www.w3.org/2005/Atom"',
        'xmlns="http://purl.org/atom/ns#"',
        "atom.root",
        id="not-atom-feed-root",
    ),
]


@pytest.mark.parametrize(("old", "new", "rule"), ATOM_CASES)
def test_atom_rule_is_reported(old: str, new: str, rule: str) -> None:
    problems = check_atom(edit(VALID_ATOM, old, new))
    assert rule in rules(problems), problems


# --------------------------------------------------------------------------
# Atom RELAX NG schema (xmllint)
# --------------------------------------------------------------------------


@needs_xmllint
def test_atom_schema_accepts_valid_feed_with_extensions() -> None:
    assert check_atom_schema(VALID_ATOM.encode("utf-8")) == []


@needs_xmllint
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "<x:build>42</x:build>", "<build>42</build>", "build", id="unknown-atom-element"
        ),
        pytest.param("<title>财经新闻 — 每日速递</title>", "", "title", id="feed-without-title"),
        pytest.param('<category term="经济"', "<category", "category", id="category-without-term"),
        pytest.param(
            "<updated>2024-03-01T09:00:00Z</updated>",
            "<updated>yesterday</updated>",
            "dateTime",
            id="updated-not-a-date",
        ),
        pytest.param(
            'type="text/html" href="https://news.example.com/"',
            'type="text/html" bogus="1" href="https://news.example.com/"',
            "bogus",
            id="undefined-local-attribute",
        ),
    ],
)
def test_atom_schema_rejects(old: str, new: str, expected: str) -> None:
    problems = check_atom(edit(VALID_ATOM, old, new))
    schema_problems = [p for p in problems if p.startswith("atom.schema")]
    assert any(expected in p for p in schema_problems), problems


@needs_xmllint
def test_atom_schema_catches_what_python_rules_do_not() -> None:
    # Only the schema knows atom:build is not an Atom element.
    problems = check_atom(edit(VALID_ATOM, "<x:build>42</x:build>", "<build>42</build>"))
    assert rules(problems) == {"atom.schema"}, problems


def test_atom_without_xmllint_warns_and_still_runs_python_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feedcheck, "xmllint_path", lambda: None)
    data = edit(VALID_ATOM, "<id>https://news.example.com/</id>", "<id>feed</id>")
    with pytest.warns(RuntimeWarning, match="xmllint"):
        problems = check_atom(data)
    assert rules(problems) == {"atom.id"}, problems
    with pytest.raises(FileNotFoundError, match="xmllint"):
        check_atom_schema(data)


# --------------------------------------------------------------------------
# RSS 2.0 rules
# --------------------------------------------------------------------------

RSS_CASES = [
    pytest.param('<rss version="2.0"', '<rss version="0.92"', "rss.root", id="version-0.92"),
    pytest.param('<rss version="2.0"', "<rss", "rss.root", id="no-version"),
    pytest.param("</channel>", "</channel><channel/>", "rss.channel", id="two-channels"),
    pytest.param(
        "<description>每日财经要闻</description>", "", "rss.required", id="no-channel-description"
    ),
    pytest.param("<title>财经新闻</title>\n    <link>", "<link>", "rss.required", id="no-title"),
    pytest.param(
        "<link>https://news.example.com/</link>\n    <description>",
        "<link>/</link>\n    <description>",
        "rss.url",
        id="relative-channel-link",
    ),
    pytest.param(
        "<link>https://news.example.com/2024/03/01/rate-cut.html</link>",
        "<link>https://news.example.com/新闻.html</link>",
        "rss.url",
        id="non-ascii-link",
    ),
    pytest.param(
        "<description>只有描述的条目</description>",
        "",
        "rss.item",
        id="item-no-title-or-description",
    ),
    pytest.param(
        "<pubDate>Fri, 01 Mar 2024 08:00:00 +0800</pubDate>",
        "<pubDate>2024-03-01T08:00:00+08:00</pubDate>",
        "rss.date",
        id="iso-date",
    ),
    pytest.param(
        "<pubDate>Fri, 01 Mar 2024 08:00:00 +0800</pubDate>",
        "<pubDate>Fri, 01 Mar 24 08:00:00 +0800</pubDate>",
        "rss.date",
        id="two-digit-year",
    ),
    pytest.param(
        "<lastBuildDate>Fri, 01 Mar 2024",
        "<lastBuildDate>Sat, 01 Mar 2024",
        "rss.date",
        id="wrong-day-of-week",
    ),
    pytest.param(
        "<pubDate>1 Mar 2024 09:00 GMT</pubDate>",
        "<pubDate>1 Mar 2024 09:00 CET</pubDate>",
        "rss.date",
        id="unknown-zone",
    ),
    pytest.param(
        "<pubDate>1 Mar 2024 09:00 GMT</pubDate>",
        "<pubDate>31 Feb 2024 09:00 GMT</pubDate>",
        "rss.date",
        id="impossible-date",
    ),
    pytest.param(
        '<guid isPermaLink="true">https://news.example.com/2024/03/01/rate-cut.html</guid>',
        '<guid isPermaLink="true">/2024/03/01/rate-cut.html</guid>',
        "rss.guid",
        id="relative-permalink-guid",
    ),
    pytest.param(
        '<guid isPermaLink="false">news-2024-0002</guid>',
        "<guid>news-2024-0002</guid>",
        "rss.guid",
        id="guid-default-permalink-not-url",
    ),
    pytest.param('isPermaLink="false"', 'isPermaLink="no"', "rss.guid", id="guid-bad-ispermalink"),
    pytest.param(
        '<source url="https://upstream.example.org/rss">',
        "<source>",
        "rss.source",
        id="source-without-url",
    ),
    pytest.param(
        '<source url="https://upstream.example.org/rss">',
        '<source url="rss">',
        "rss.source",
        id="source-relative-url",
    ),
    pytest.param(' length="12345"', "", "rss.enclosure", id="enclosure-no-length"),
    pytest.param('type="audio/mpeg"', 'type="mp3"', "rss.enclosure", id="enclosure-bad-type"),
    pytest.param(
        'url="https://news.example.com/a.mp3"', "", "rss.enclosure", id="enclosure-no-url"
    ),
    pytest.param(
        "<category>经济</category>", "<category> </category>", "rss.category", id="empty-category"
    ),
    pytest.param(
        "<ttl>60</ttl>", "<ttl>60</ttl><foo>x</foo>", "rss.unknown", id="unknown-channel-element"
    ),
    pytest.param(
        "<dc:creator>张三</dc:creator>",
        "<creator>张三</creator>",
        "rss.unknown",
        id="unknown-item-element",
    ),
    pytest.param(
        '<atom:link href="https://news.example.com/feed.xml" rel="self" type="application/rss+xml"/>',
        "",
        "rss.self",
        id="no-self-link",
    ),
    pytest.param(' type="application/rss+xml"', "", "rss.self", id="self-link-without-type"),
    pytest.param(
        'href="https://news.example.com/feed.xml"',
        'href="feed.xml"',
        "rss.self",
        id="self-relative",
    ),
    pytest.param(
        "<title>央行宣布降息</title>",
        "<title>央行宣布降息</title><title>again</title>",
        "rss.duplicate",
        id="duplicate-item-title",
    ),
    pytest.param(
        "<title>央行宣布降息</title>",
        "<title><b>央行</b></title>",
        "rss.markup",
        id="markup-in-title",
    ),
    pytest.param(
        "<author>editor@example.com (编辑部)</author>",
        "<author>编辑部</author>",
        "rss.email",
        id="author-not-email",
    ),
    pytest.param(
        "<url>https://news.example.com/logo.png</url>", "", "rss.image", id="image-without-url"
    ),
    pytest.param("<ttl>60</ttl>", "<ttl>soon</ttl>", "rss.ttl", id="ttl-not-number"),
    pytest.param("</rss>", "</rs>", "xml", id="not-well-formed"),
    pytest.param("</rss>", "</rs>", "feedparser.bozo", id="feedparser-bozo"),
    pytest.param(
        '<rss version="2.0"', '<rss version="0.91"', "feedparser.version", id="feedparser-version"
    ),
]


@pytest.mark.parametrize(("old", "new", "rule"), RSS_CASES)
def test_rss_rule_is_reported(old: str, new: str, rule: str) -> None:
    problems = check_rss(edit(VALID_RSS, old, new))
    assert rule in rules(problems), problems


def test_feedparser_bozo_is_reported_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real bozo documents are also malformed XML; fake one that is not, to
    # show the feedparser verdict is reported independently of lxml's.
    real_parse = feedcheck.feedparser.parse

    def bozo_parse(data: bytes) -> Any:
        result = real_parse(data)
        result["bozo"] = 1
        result["bozo_exception"] = feedparser.CharacterEncodingOverride("declared us-ascii")
        return result

    monkeypatch.setattr(feedcheck.feedparser, "parse", bozo_parse)
    for check, document in ((check_rss, VALID_RSS), (check_atom, VALID_ATOM)):
        problems = check(document.encode("utf-8"))
        assert rules(problems) == {"feedparser.bozo"}, problems
        assert "CharacterEncodingOverride" in problems[0]


def test_atom_document_is_not_rss() -> None:
    problems = check_rss(VALID_ATOM.encode("utf-8"))
    assert {"rss.root", "feedparser.version"} <= rules(problems), problems


# --------------------------------------------------------------------------
# JSON Feed 1.1 rules
# --------------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], object]


def _set(path: tuple[str | int, ...], value: Any) -> Edit:
    def apply(feed: dict[str, Any]) -> None:
        target: Any = feed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


def _delete(path: tuple[str | int, ...]) -> Edit:
    def apply(feed: dict[str, Any]) -> None:
        target: Any = feed
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return apply


JSON_CASES = [
    pytest.param(
        _set(("version",), "https://jsonfeed.org/version/1"), "json.version", id="version-1.0"
    ),
    pytest.param(_delete(("title",)), "json.title", id="no-title"),
    pytest.param(_set(("title",), ["财经"]), "json.title", id="title-not-string"),
    pytest.param(_set(("items",), {}), "json.items", id="items-not-list"),
    pytest.param(_set(("items", 0), "item"), "json.items", id="item-not-object"),
    pytest.param(_delete(("items", 1, "id")), "json.id", id="item-without-id"),
    pytest.param(_set(("items", 1, "id"), 2), "json.id", id="item-id-not-string"),
    pytest.param(
        _set(("items", 1, "id"), "https://news.example.com/2024/03/01/rate-cut.html"),
        "json.id",
        id="duplicate-item-id",
    ),
    pytest.param(_delete(("items", 0, "content_html")), "json.content", id="item-without-content"),
    pytest.param(_set(("home_page_url",), "/"), "json.url", id="relative-home-page-url"),
    pytest.param(_set(("feed_url",), "feed.json"), "json.url", id="relative-feed-url"),
    pytest.param(_delete(("feed_url",)), "json.url", id="no-feed-url"),
    pytest.param(_set(("items", 0, "url"), "/2024/a.html"), "json.url", id="relative-item-url"),
    pytest.param(_set(("items", 1, "external_url"), "a"), "json.url", id="relative-external-url"),
    pytest.param(
        _set(("items", 0, "date_published"), "2024-03-01 08:00:00"), "json.date", id="date-space"
    ),
    pytest.param(
        _set(("items", 0, "date_modified"), "Fri, 01 Mar 2024 00:30:00 GMT"),
        "json.date",
        id="date-rfc822",
    ),
    pytest.param(_set(("authors",), {"name": "编辑部"}), "json.type", id="authors-not-list"),
    pytest.param(_set(("items", 0, "authors"), ["张三"]), "json.authors", id="author-not-object"),
    pytest.param(_set(("items", 0, "authors"), [{}]), "json.authors", id="author-empty"),
    pytest.param(_set(("author",), {"name": "编辑部"}), "json.authors", id="deprecated-author"),
    pytest.param(_set(("items", 0, "tags"), ["经济", 7]), "json.tags", id="tag-not-string"),
    pytest.param(_set(("extra",), 1), "json.unknown", id="unknown-top-level-key"),
    pytest.param(_set(("items", 0, "summary_html"), "x"), "json.unknown", id="unknown-item-key"),
    pytest.param(_set(("expired",), "no"), "json.type", id="expired-not-bool"),
    pytest.param(
        _delete(("items", 1, "attachments", 0, "mime_type")),
        "json.attachments",
        id="attachment-without-mime-type",
    ),
    pytest.param(_set(("hubs",), [{"type": "WebSub"}]), "json.hubs", id="hub-without-url"),
]


@pytest.mark.parametrize(("change", "rule"), JSON_CASES)
def test_jsonfeed_rule_is_reported(change: Edit, rule: str) -> None:
    feed = copy.deepcopy(VALID_JSONFEED)
    change(feed)
    problems = check_jsonfeed(json.dumps(feed, ensure_ascii=False).encode("utf-8"))
    assert rule in rules(problems), problems


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"version": ', id="truncated"),
        pytest.param(b"[]", id="top-level-array"),
        pytest.param('{"title": "财经"}'.encode("gb18030"), id="not-utf-8"),
    ],
)
def test_jsonfeed_syntax_is_reported(data: bytes) -> None:
    assert rules(check_jsonfeed(data)) == {"json.syntax"}


# --------------------------------------------------------------------------
# Assertion helpers and value checks
# --------------------------------------------------------------------------


def test_assert_valid_lists_every_problem() -> None:
    data = edit(VALID_RSS, "<ttl>60</ttl>", "<ttl>soon</ttl><foo/>")
    with pytest.raises(AssertionError) as raised:
        assert_valid_rss(data)
    assert "rss.ttl" in str(raised.value)
    assert "rss.unknown" in str(raised.value)


def test_assert_valid_atom_and_jsonfeed_raise() -> None:
    with pytest.raises(AssertionError, match=re.escape("atom.self")):
        assert_valid_atom(edit(VALID_ATOM, 'rel="self"', 'rel="related"'))
    with pytest.raises(AssertionError, match=re.escape("json.version")):
        assert_valid_jsonfeed(b'{"title": "t", "items": []}')


def test_str_input_is_rejected() -> None:
    with pytest.raises(TypeError):
        check_rss(VALID_RSS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2024-03-01T08:00:00Z", True),
        ("2024-03-01T08:00:00.123456+08:00", True),
        ("2016-12-31T23:59:60Z", True),
        ("2024-03-01T08:00:00", False),
        ("2024-03-01t08:00:00z", False),
        ("2024-03-01 08:00:00Z", False),
        ("2024-13-01T08:00:00Z", False),
        ("2024-03-01T08:00:00+24:00", False),
        ("2024-03-01", False),
    ],
)
def test_is_rfc3339(value: str, valid: bool) -> None:
    assert is_rfc3339(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("Fri, 01 Mar 2024 08:00:00 +0800", True),
        ("1 Mar 2024 09:00 GMT", True),
        ("Fri, 01 Mar 2024 08:00:00 EST", True),
        ("Fri, 01 Mar 2024 08:00:00 Z", True),
        ("Fri,01 Mar 2024 08:00:00 +0800", False),
        ("Fri, 01 March 2024 08:00:00 +0800", False),
        ("Fri, 01 Mar 2024 08:00:00", False),
        ("Fri, 01 Mar 2024 08:00:00 +08:00", False),
        ("Fri, 01 Mar 2024 08:00:00 +9900", False),
        ("Fri, 01 Mar 2024 25:00:00 +0800", False),
    ],
)
def test_rfc822_problems(value: str, valid: bool) -> None:
    assert (rfc822_problems(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "iri", "url"),
    [
        ("https://news.example.com/a?b=c#d", True, True),
        ("https://news.example.com/%E6%96%B0", True, True),
        ("https://news.example.com/新闻", True, False),
        ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a", True, True),
        ("tag:news.example.com,2024:/a", True, True),
        ("mailto:editor@example.com", True, True),
        ("/relative/path", False, False),
        ("news.example.com/a", False, False),
        ("https:///no-host", False, False),
        ("https://news.example.com/a b", False, False),
        ("https://news.example.com/%zz", False, False),
        ("tag:news.example.com:/no-date", False, False),
        ("", False, False),
    ],
)
def test_absolute_iri_and_url(value: str, iri: bool, url: bool) -> None:
    assert is_absolute_iri(value) is iri
    assert is_absolute_url(value) is url
