"""A post made into a feed entry: rendered, made absolute, cleaned, attributed, summarised."""

from __future__ import annotations

import pytest
from support.site import SITE_TOML, write_post

from syndicator.core.config import load_config
from syndicator.core.sanitize import http_url
from syndicator.feeds.entries import SUMMARY_LENGTH, make_entry
from syndicator.site.files import PostFile
from syndicator.site.posts import load_post

UPSTREAM = """
[attribution.source_feeds]
"中国网财经" = "https://feeds.example.org/finance/rss.xml"

[[upstreams]]
name = "中国证券报"
url = "https://feeds.example.org/cs/rss.xml"
category = "zhongguozhengquanbao"
"""
FRONT = 'title: "标题"\ndate: 2022-01-01 10:00:00 +0800\ncategories: emnews\ntags: 滚动\n'
POST_URL = "https://site.example/emnews/2022/01/01/x.html"


@pytest.fixture
def entry(tmp_path, config_from):
    """``entry(body, front=FRONT, name=...)``: the Entry of a post written with that body."""
    config = config_from(SITE_TOML + UPSTREAM)

    def make(body: str, front: str = FRONT, name: str = "2022-01-01-x.md"):
        path = write_post(tmp_path / "_posts", name, front, body)
        loaded = load_post(PostFile(path, path.parent, 0, 0), config)
        assert loaded is not None
        post, raw = loaded
        return make_entry(post, raw, config)

    return make


def fixture_entry(fixture_site, name: str):
    config = load_config(fixture_site)
    path = fixture_site.parent / name
    post, body = load_post(PostFile(path, path.parent, 0, 0), config)
    return make_entry(post, body, config)


def test_fields(entry):
    made = entry("正文。\n")
    assert made.id == "https://site.example/emnews/2022/01/01/x"
    assert made.link == POST_URL
    assert made.title == "标题"
    assert made.published.isoformat() == "2022-01-01T10:00:00+08:00"
    assert made.updated == made.published
    assert made.categories == ("emnews", "滚动")
    assert made.content_html == "<p>正文。</p>"
    assert made.summary == "正文。"


def test_categories_then_tags_without_repeats(entry):
    made = entry("x\n", "date: 2022-01-01\ncategories: a b\ntags: b c\n")
    assert made.categories == ("a", "b", "c")


def test_markdown_rendered_with_commonmark(entry):
    made = entry("**粗体** 和 <http://x.example/inline>\n\n- 一\n- 二\n")
    assert "<strong>粗体</strong>" in made.content_html
    assert '<a href="http://x.example/inline"' in made.content_html
    assert "<li>一</li>" in made.content_html


def test_html_post_taken_as_html(entry):
    made = entry("<p>**不是粗体**</p>\n\n<http://x.example/original>\n", name="2022-01-01-x.html")
    assert "**不是粗体**" in made.content_html
    assert made.attribution.url == "http://x.example/original"


def test_relative_and_protocol_relative_urls_made_absolute(entry):
    made = entry(
        '[相对](../markets/) [根](/about/) ![图](chart.png)\n\n<img src="//img.example.org/a.png">\n'
    )
    html = made.content_html
    assert 'href="https://site.example/emnews/2022/01/markets/"' in html
    assert 'href="https://site.example/about/"' in html
    assert 'src="https://site.example/emnews/2022/01/01/chart.png"' in html
    assert 'src="https://img.example.org/a.png"' in html
    assert 'href="/' not in html and 'src="/' not in html and '="../' not in html


def test_sanitized(entry):
    made = entry(
        '<p onclick="steal()" style="color:red">文字<script>alert(1)</script></p>\n'
        "<!-- EM_StockImg_Start -->\n"
        '<p><a href="javascript:alert(1)">链接</a><img src="javascript:alert(2)" onerror="x()">'
        '<iframe src="http://evil.example/"></iframe></p>\n'
        "<style>p { display: none }</style>\n"
    )
    html = made.content_html.lower()
    for bad in (
        "<script",
        "alert(",
        "onclick",
        "onerror",
        "javascript:",
        "<!--",
        "<iframe",
        "<style",
    ):
        assert bad not in html, bad
    assert "style=" not in html
    assert "文字" in made.content_html


def test_illegal_xml_characters_removed(entry):
    # YAML forbids raw control characters but its double-quoted escapes produce them.
    front = 'title: "标\\x0b题"\ndate: 2022-01-01\ncategories: "a\\x1fb"\n'
    made = entry("正文\x0b里\x1f有\x01。\n", front)
    assert made.categories == ("ab",)
    for text in (made.title, made.content_html, made.summary, *made.categories):
        assert not any(ord(c) < 0x20 and c not in "\t\n\r" for c in text), repr(text)
    assert made.title == "标题"
    assert "正文里有。" in made.content_html


def test_empty_title_falls_back_to_the_text(entry):
    made = entry(
        "据霍尼韦尔官网消息，霍尼韦尔宣布为蔚来提供制冷剂。\n", 'title: ""\ndate: 2022-01-01\n'
    )
    assert made.title == "据霍尼韦尔官网消息，霍尼韦尔宣布为蔚来提供制冷剂。"


def test_empty_title_long_text_is_cut(entry):
    made = entry("长" * 300 + "\n", 'title: ""\ndate: 2022-01-01\n')
    assert made.title.endswith("…")
    assert len(made.title) <= 60


def test_empty_title_and_body_fall_back_to_the_file_name(entry):
    made = entry("", 'title: ""\ndate: 2022-01-01\n', name="2022-01-01-no-words.md")
    assert made.title == "2022-01-01-no-words"


def test_summary_plain_text_and_bounded(entry):
    made = entry("<p><b>加粗</b>文字 &lt;5% 与 <1% 的股</p>\n\n" + "字" * 400 + "\n")
    assert made.summary.startswith("加粗文字 <5% 与 <1% 的股")
    assert "<b>" not in made.summary
    assert len(made.summary) <= SUMMARY_LENGTH
    assert made.summary.endswith("…")


def test_navigation_removed(entry):
    made = entry(
        "正文。\n\n<http://x.example/a.html>\n\n"
        "[返回东财滚动新闻](../emnews/)\n[返回首页](../)\n\n"
        "[返回券商中国新闻](//site.example/category/q.html)｜[返回首页](//site.example/)\n"
    )
    assert "返回" not in made.content_html
    assert "返回" not in made.summary
    assert made.attribution.url == "http://x.example/a.html"


def test_source_line_and_url_become_one_closing_line(entry):
    made = entry(
        '<p>正文。</p><p class="em_media">（文章来源：上海<span>证券</span>报）</p>\n\n'
        "<http://x.example/a.html>\n"
    )
    assert made.attribution.source == "上海证券报"
    assert made.attribution.url == "http://x.example/a.html"
    assert made.content_html == (
        '<p>正文。</p><p class="source">（文章来源：上海证券报） '
        '<a href="http://x.example/a.html">http://x.example/a.html</a></p>'
    )


def test_closing_credit(entry):
    made = entry("离岸人民币走高。（财联社）\n\n<http://x.example/b.html>\n")
    assert made.attribution.source == "财联社"
    assert made.content_html.count('class="source"') == 1


def test_front_matter_attribution_wins(entry):
    front = FRONT + (
        "source: 中国网财经\nsource_url: http://orig.example/1.html\n"
        "source_feed: https://feeds.example.org/other.xml\n"
    )
    made = entry("<p>正文。</p><p>（文章来源：新华社）</p>\n\n<http://x.example/a.html>\n", front)
    assert made.attribution.source == "中国网财经"
    assert made.attribution.url == "http://orig.example/1.html"
    assert made.attribution.feed == "https://feeds.example.org/other.xml"
    assert "新华社" not in made.content_html
    assert "x.example" not in made.content_html


def test_front_matter_urls_that_are_not_http_urls_are_ignored(entry):
    front = FRONT + "source: 某报\nsource_url: 见原文\nsource_feed: javascript:alert(1)\n"
    made = entry("正文。\n\n<http://x.example/from-body.html>\n", front)
    assert made.attribution.source == "某报"
    assert made.attribution.url == "http://x.example/from-body.html"
    assert made.attribution.feed is None
    assert "javascript" not in made.content_html
    assert "见原文" not in made.content_html


def test_attribution_urls_made_ascii(entry):
    front = FRONT + "source: 某报\nsource_url: http://例子.cn/新闻 1.html\n"
    made = entry("正文。\n", front)
    assert made.attribution.url == "http://xn--fsqu00a.cn/%E6%96%B0%E9%97%BB%201.html"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://x.example/a?b=1&c=%20d", "http://x.example/a?b=1&c=%20d"),
        ("HTTPS://x.example/", "https://x.example/"),
        ("http://x.example/50%zz", "http://x.example/50%25zz"),
        ("http://例子.cn/新闻", "http://xn--fsqu00a.cn/%E6%96%B0%E9%97%BB"),
        ("见原文", None),
        ("javascript:alert(1)", None),
        ("//x.example/a", None),
        ("ftp://x.example/a", None),
        ("https://", None),
        ("http://[::1", None),
        (None, None),
    ],
)
def test_http_url(value, expected):
    assert http_url(value) == expected


def test_front_matter_source_listed_in_source_feeds_gets_its_feed(entry):
    made = entry("正文。\n", FRONT + "source: 中国网财经\n")
    assert made.attribution.feed == "https://feeds.example.org/finance/rss.xml"


def test_body_source_listed_in_source_feeds_gets_its_feed(entry):
    made = entry("<p>正文。</p><p>（文章来源：中国网财经）</p>\n")
    assert made.attribution.source == "中国网财经"
    assert made.attribution.feed == "https://feeds.example.org/finance/rss.xml"


def test_a_source_named_like_an_upstream_keeps_its_attribution(entry):
    """A hand-written post credited to 中国证券报 is not re-pointed at an upstream of that
    name: adding an upstream never changes old posts (only [attribution.source_feeds] does)."""
    made = entry("<p>正文。</p><p>（文章来源：中国证券报）</p>\n")
    assert made.attribution.source == "中国证券报"
    assert made.attribution.feed is None


def test_other_sources_get_no_feed(entry):
    assert entry("<p>正文。</p><p>（文章来源：新华社）</p>\n").attribution.feed is None


def test_visible_closing_line_exactly_once_for_poller_posts(fixture_site):
    made = fixture_entry(fixture_site, "_posts/2022-02-06-front-matter-source.md")
    assert made.content_html.count("（文章来源：中国网财经）") == 1
    assert made.content_html.count('class="source"') == 1
    assert made.content_html.count("http://news.example.org/original/123.html") == 2  # href+text


def test_inline_source_line_not_repeated(entry):
    made = entry("正文（文章来源：新华社）后面还有字。\n\n<http://x.example/a.html>\n")
    assert made.attribution.source == "新华社"
    assert made.content_html.count("文章来源：新华社") == 1
    assert 'href="http://x.example/a.html"' in made.content_html


def test_empty_autolink_dropped(entry):
    made = entry("正文。\n\n<>\n\n[返回东财滚动新闻](//site.example/emnews/)\n")
    assert "&lt;&gt;" not in made.content_html
    assert made.content_html == "<p>正文。</p>"


def test_upstream_html_quirks(fixture_site):
    made = fixture_entry(fixture_site, "_posts/2022-05-31-upstream-html.md")
    html = made.content_html
    assert "<!--" not in html
    assert '<img src="https://chart.example.org/GetPic.aspx?nid=90.BK1037&amp;imageType=k"' in html
    assert "&lt;5%" in html and "&lt;1%" in html
    assert "<1%" in made.summary
    assert "style=" not in html
    assert made.attribution.source == "财联社"
    assert (
        made.attribution.url == "http://news.example.org/share.html?infoCode=NW202205310000000004"
    )


def test_same_article_two_categories_two_entries(fixture_site):
    first = fixture_entry(fixture_site, "_posts/2022-01-07-same-article.md")
    second = fixture_entry(fixture_site, "_posts/2022-01-07-NWsame-article.md")
    assert first.id != second.id
    assert first.content_html != second.content_html
    assert first.title == second.title


def test_no_attribution_no_closing_line(entry):
    made = entry("只有正文。\n")
    assert not made.attribution
    assert 'class="source"' not in made.content_html
