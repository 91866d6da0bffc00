"""Finding a post's source in its body, removing the site's navigation, the closing line."""

from __future__ import annotations

import pytest
from lxml import html as lxml_html

from syndicator.core.config import AttributionConfig
from syndicator.feeds.attribution import (
    Attribution,
    closing_line,
    extract_attribution,
    remove_navigation,
)

CONFIG = AttributionConfig()


def tree(html: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(html, create_parent="div")


def text(root: lxml_html.HtmlElement) -> str:
    return root.text_content()


def markup(root: lxml_html.HtmlElement) -> str:
    return lxml_html.tostring(root, encoding="unicode")


def test_source_line_with_a_span_inside_the_name():
    root = tree(
        "<p>近日，某养老基金披露最新持仓。</p>"
        '<p class="em_media">（文章来源：上海<span id="bk_1"><a href="http://q.example/r">证券</a>'
        '</span><span id="bkquote_1"></span>报）</p>'
    )
    found = extract_attribution(root, CONFIG)
    assert found == Attribution(source="上海证券报")
    assert "文章来源" not in text(root)  # the block held only the source line: dropped
    assert "某养老基金" in text(root)


def test_source_line_ascii_parentheses_and_colon():
    found = extract_attribution(tree("<p>正文。</p><p>(文章来源: 新华社)</p>"), CONFIG)
    assert found.source == "新华社"


def test_the_last_source_line_wins():
    root = tree("<p>（文章来源：甲）正文。</p><p>（文章来源：乙）</p>")
    assert extract_attribution(root, CONFIG).source == "乙"


def test_source_line_inside_text_is_found_but_the_text_kept():
    root = tree("<p>正文（文章来源：新华社）后面还有字。</p>")
    assert extract_attribution(root, CONFIG).source == "新华社"
    assert text(root) == "正文（文章来源：新华社）后面还有字。"


def test_source_line_next_to_an_image_keeps_the_image():
    root = tree('<p>（文章来源：新华社）<img src="http://i.example/a.png"></p>')
    assert extract_attribution(root, CONFIG).source == "新华社"
    assert root.find(".//img") is not None


@pytest.mark.parametrize(
    ("body", "source"),
    [
        ("<p>离岸人民币兑美元走高。（财联社）</p>", "财联社"),
        ("<p>专项整治成效明显。(央视新闻)</p>", "央视新闻"),
        ("<p>数据如下。(东方财富Choice数据)</p>", "东方财富Choice数据"),
        ("<blockquote><p>据悉如此。（上海证券报）</p></blockquote>", "上海证券报"),
    ],
)
def test_closing_credit(body, source):
    assert extract_attribution(tree(body), CONFIG).source == source


@pytest.mark.parametrize(
    "body",
    [
        "<p>（财联社）报道称，市场走高。</p>",  # not closing
        "<p>销量(829万头)。</p>",  # something after it
        "<p>正文。(记者 张三)</p>",  # a space: not a name
        "<p>正文。（完）</p>",  # one character
    ],
)
def test_not_a_closing_credit(body):
    assert extract_attribution(tree(body), CONFIG).source is None


def test_trailing_autolink_is_the_original_url():
    url = "http://finance.example.org/news/1353,202201070000000003.html"
    root = tree(f'<p>正文。（财联社）</p>\n<p><a href="{url}">{url}</a></p>\n')
    found = extract_attribution(root, CONFIG)
    assert found == Attribution(source="财联社", url=url)
    assert "http" not in text(root)  # taken out; the closing line puts it back once


def test_a_link_that_is_not_an_autolink_stays():
    root = tree('<p>正文。</p><p><a href="http://x.example/a">阅读原文</a></p>')
    assert extract_attribution(root, CONFIG).url is None
    assert "阅读原文" in text(root)


def test_an_inline_url_is_not_the_original():
    root = tree('<p>见 <a href="http://x.example/a">http://x.example/a</a> 的说明。</p>')
    assert extract_attribution(root, CONFIG).url is None


def test_only_http_urls_count():
    root = tree('<p><a href="mailto:a@b.example">mailto:a@b.example</a></p>')
    assert extract_attribution(root, CONFIG).url is None


def test_empty_autolink_is_dropped():
    root = tree("<p>正文。</p><p>&lt;&gt;</p>")
    assert extract_attribution(root, CONFIG) == Attribution()
    assert text(root) == "正文。"


def test_navigation_links_removed_with_their_separators():
    root = tree(
        '<p>正文。</p><p><a href="https://s.example/emnews/2021/12/emnews/">返回东财滚动新闻</a>\n'
        '<a href="https://s.example/emnews/2021/12/">返回首页</a></p>'
        '<p><a href="https://s.example/category/x.html">返回券商中国新闻</a>｜'
        '<a href="https://s.example/">返回首页</a></p>'
    )
    remove_navigation(root, CONFIG)
    assert "返回" not in text(root)
    assert len(root) == 1  # both navigation paragraphs gone entirely
    assert markup(root).count("<p>") == 1


def test_navigation_inside_text_keeps_the_text():
    root = tree('<p>正文<a href="/">返回首页</a>继续。</p>')
    remove_navigation(root, CONFIG)
    assert text(root) == "正文继续。"


def test_other_links_are_not_navigation():
    root = tree('<p><a href="http://x.example/">回到顶部返回</a> <a href="/">首页</a></p>')
    remove_navigation(root, CONFIG)
    assert len(root.findall(".//a")) == 2


def test_navigation_pattern_is_configurable():
    config = AttributionConfig(navigation_pattern=r"^\s*Back to")
    root = tree('<p>Text.</p><p><a href="../">Back to news</a> | <a href="/">Home</a></p>')
    remove_navigation(root, config)
    assert "Back to" not in text(root)
    assert "Home" in text(root)


def test_source_patterns_are_configurable():
    config = AttributionConfig(
        source_patterns=(r"Source:\s*(?P<source>[\w ]+?)\s*$",),
        credit_pattern=r"\[(?P<source>\w+)\]\s*$",
        line="Source: {source}",
    )
    root = tree("<p>Body.</p><p>Source: Reuters</p>")
    assert extract_attribution(root, config).source == "Reuters"
    assert extract_attribution(tree("<p>Body. [AP]</p>"), config).source == "AP"


def test_closing_line():
    line = closing_line(Attribution(source="财联社", url="http://x.example/a?b=1&c=2"), CONFIG)
    assert line == (
        '<p class="source">（文章来源：财联社） '
        '<a href="http://x.example/a?b=1&amp;c=2">http://x.example/a?b=1&amp;c=2</a></p>'
    )


def test_closing_line_escapes_the_name():
    line = closing_line(Attribution(source="<b>A&B</b>"), CONFIG)
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in line
    assert "<b>" not in line


def test_closing_line_without_anything_is_empty():
    assert closing_line(Attribution(), CONFIG) == ""
    assert closing_line(Attribution(feed="https://f.example/rss"), CONFIG) == ""


def test_closing_line_does_not_repeat_a_line_the_body_shows():
    attribution = Attribution(source="新华社", url="http://x.example/a")
    line = closing_line(attribution, CONFIG, shown="正文（文章来源：新华社）后面还有字。")
    assert "文章来源" not in line
    assert 'href="http://x.example/a"' in line
    assert closing_line(Attribution(source="新华社"), CONFIG, shown="（文章来源：新华社）") == ""


def test_merged_over_and_truth():
    declared = Attribution(source="中国网财经", feed="https://f.example/rss")
    found = Attribution(source="财联社", url="http://x.example/a")
    assert declared.merged_over(found) == Attribution(
        source="中国网财经", url="http://x.example/a", feed="https://f.example/rss"
    )
    assert not Attribution()
    assert not Attribution(feed="https://f.example/rss")
    assert Attribution(url="http://x.example/a")
