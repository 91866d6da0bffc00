"""JSON Feed 1.1 (feedgen has none): fields, attribution, order, determinism, validity."""

from __future__ import annotations

import json
from dataclasses import replace

from support.feedcheck import assert_valid_jsonfeed
from support.feeds import ATTRIBUTED, META, NEWEST_FIRST, make

from syndicator.feeds.attribution import Attribution
from syndicator.feeds.jsonfeed import VERSION, render_json


def render(config, entries=NEWEST_FIRST) -> dict:
    data = render_json(META, entries, config)
    assert_valid_jsonfeed(data)
    return json.loads(data)


def test_feed_fields(site_config):
    feed = render(site_config())
    assert feed["version"] == VERSION == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "测试站: emnews"
    assert feed["home_page_url"] == "https://site.example"
    assert feed["feed_url"] == META.urls["json"]
    assert feed["language"] == "zh-CN"
    assert feed["authors"] == [{"name": "测试站", "url": "https://site.example"}]


def test_items_in_order_with_dates_keeping_offsets(site_config):
    items = render(site_config())["items"]
    assert [item["title"] for item in items] == ["第3篇", "第2篇", "第1篇"]
    assert items[0]["date_published"] == "2022-01-09T10:00:00+08:00"
    assert items[0]["date_modified"] == "2022-01-09T10:00:00+08:00"
    assert items[0]["id"] == "https://site.example/emnews/2022/01/09/post-3"
    assert items[0]["url"] == "https://site.example/emnews/2022/01/09/post-3.html"
    assert items[0]["content_html"] == "<p>正文3。</p>"
    assert items[0]["summary"] == "正文3。"
    assert items[0]["tags"] == ["emnews", "东财滚动新闻"]


def test_attribution_in_external_url_authors_and_extension(site_config):
    first, second, _ = render(site_config())["items"]
    assert first["external_url"] == ATTRIBUTED.url
    assert first["authors"] == [{"name": "中国网财经"}]
    assert first["_attribution"] == {
        "source": "中国网财经",
        "url": ATTRIBUTED.url,
        "feed_url": ATTRIBUTED.feed,
    }
    assert "external_url" not in second
    assert "authors" not in second
    assert "_attribution" not in second


def test_source_without_url(site_config):
    (item,) = render(site_config(), [make(1, 7, Attribution(source="新华社"))])["items"]
    assert "external_url" not in item
    assert item["_attribution"] == {"source": "新华社"}


def test_summary_mode_uses_content_text(site_config):
    config = site_config()
    config = replace(config, feeds=replace(config.feeds, content="summary"))
    item = render(config)["items"][0]
    assert "content_html" not in item
    assert item["content_text"] == "正文3。"


def test_utf8_not_escaped_and_deterministic(site_config):
    config = site_config()
    data = render_json(META, NEWEST_FIRST, config)
    assert "中国网财经".encode() in data
    assert data == render_json(META, NEWEST_FIRST, config)
    assert data.endswith(b"\n")


def test_empty_feed_valid(site_config):
    assert render(site_config(), [])["items"] == []
