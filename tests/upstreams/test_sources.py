"""JSON APIs and HTML pages read through the config's expressions into the entries the feed
parser gives: fields, cleaning, dates and zones, links, encodings, rules, and messages that
name the expression that matched nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syndicator.core.config import ConfigError, FieldRule, UpstreamConfig, parse_config
from syndicator.upstreams.html_source import decode_html, parse_html_source
from syndicator.upstreams.items import kept, read_date
from syndicator.upstreams.json_source import parse_json_source
from syndicator.upstreams.parse import NotAFeedError

API = "http://api.example/list"
PAGE = "http://news.example/news/list.html"
CHINA = ZoneInfo("Asia/Shanghai")
EIGHT = timezone(timedelta(hours=8))


def json_upstream(**options: object) -> UpstreamConfig:
    fields = {
        "id": FieldRule("id", "^NW"),
        "title": FieldRule("title"),
        "link": FieldRule("url_w"),
        "date": FieldRule("showtime"),
        "summary": FieldRule("digest", r"^\s*【[^】]*】"),
    }
    return UpstreamConfig(
        name="API",
        url=API,
        category="emnews",
        kind="json",
        items=str(options.pop("items", "records")),
        fields=tuple(options.pop("fields", fields).items()),  # type: ignore[attr-defined]
        date_format="%Y-%m-%d %H:%M:%S",
        **options,  # type: ignore[arg-type]
    )


RECORDS = {
    "rc": 1,
    "records": [
        {
            "id": "NW202206022400745178",
            "title": "央行 <开展> 逆回购",
            "digest": "【央行开展逆回购】人民银行今日开展逆回购操作 & 中标。",
            "url_w": "/a/1.html",
            "showtime": "2022-06-02 14:05:33",
        },
        {"id": 7, "title": "数字编号", "digest": "无前缀的摘要", "showtime": "1654149933"},
        "not an object",
    ],
}


def test_a_json_api_becomes_entries() -> None:
    feed = parse_json_source(json.dumps(RECORDS).encode(), API, json_upstream(), CHINA)
    first, second = feed.entries
    assert first.key == first.guid == "202206022400745178"
    assert first.title == "央行 <开展> 逆回购"
    assert first.link == "http://api.example/a/1.html"
    assert first.published == datetime(2022, 6, 2, 14, 5, 33, tzinfo=EIGHT)
    assert first.content_html == "<p>人民银行今日开展逆回购操作 &amp; 中标。</p>"  # text, escaped
    assert second.guid == "7" and second.link is None
    assert second.published == datetime(2022, 6, 2, 6, 5, 33, tzinfo=UTC)  # Unix time
    assert feed.warnings[0] == "1 items that are not objects skipped"
    assert feed.warnings[1].startswith(
        'date_format = "%Y-%m-%d %H:%M:%S" does not match the date of 1 of 2 items, '
        "such as '1654149933'"
    )


def test_dates_without_an_offset_take_the_upstreams_zone() -> None:
    assert read_date("2022-06-02 14:05:33", "", CHINA) == datetime(
        2022, 6, 2, 14, 5, 33, tzinfo=EIGHT
    )
    assert read_date("2022-06-02T14:05:33+00:00", "", CHINA) == datetime(
        2022, 6, 2, 14, 5, 33, tzinfo=UTC
    )
    assert read_date("02/06/2022 14:05", "%d/%m/%Y %H:%M", CHINA) == datetime(
        2022, 6, 2, 14, 5, tzinfo=EIGHT
    )
    assert read_date("Thu, 02 Jun 2022 14:05:33 GMT", "%d/%m/%Y", CHINA) is not None
    assert read_date("not a date", "", CHINA) is None


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("20220602140533", datetime(2022, 6, 2, 14, 5, 33, tzinfo=EIGHT)),  # compact, local
        ("1654149933", datetime(2022, 6, 2, 6, 5, 33, tzinfo=UTC)),  # seconds
        ("1654149933.5", datetime(2022, 6, 2, 6, 5, 33, 500000, tzinfo=UTC)),
        ("1654149933000", datetime(2022, 6, 2, 6, 5, 33, tzinfo=UTC)),  # milliseconds
        ("123456", None),  # no Unix time anyone sends
        ("202206021405331", None),
        ("99999999999999999999", None),
    ],
)
def test_numbers_are_read_as_dates_only_in_the_shapes_that_are_dates(
    text: str, read: datetime | None
) -> None:
    assert read_date(text, "", CHINA) == read


@pytest.mark.parametrize(
    ("items", "said"),
    [("rows", "matched nothing"), ("rc", "matched a int, not a list")],
)
def test_an_items_expression_that_matches_nothing_is_named_with_an_excerpt(
    items: str, said: str
) -> None:
    with pytest.raises(NotAFeedError) as raised:
        parse_json_source(json.dumps(RECORDS).encode(), API, json_upstream(items=items), CHINA)
    message = str(raised.value)
    assert f'items = "{items}" {said}' in message
    assert '{"rc": 1, "records": [{"id": "NW2022' in message  # what it was applied to
    assert "syndicator preview API" in message


def test_a_field_that_matches_in_no_item_is_a_warning_naming_it() -> None:
    fields = {"title": FieldRule("headline"), "link": FieldRule("url_w")}
    feed = parse_json_source(json.dumps(RECORDS).encode(), API, json_upstream(fields=fields), CHINA)
    [warning] = [w for w in feed.warnings if "fields." in w]
    assert warning.startswith('fields.title = "headline" matched nothing in any of the 2 items')
    assert '"title": "央行 <开展> 逆回购"' in warning


def test_deeply_nested_json_is_one_clear_error() -> None:
    body = b'{"records": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(NotAFeedError, match="nested too deeply"):
        parse_json_source(body, API, json_upstream(), CHINA)


def test_hostile_json_values_are_bounded() -> None:
    record = {"title": "标" * 3_000_000, "digest": {"an": "object"}}
    body = json.dumps({"records": [record]}).encode()
    body = body.replace(b'{"title"', b'{"id": ' + b"9" * 5000 + b', "title"')
    [entry] = parse_json_source(body, API, json_upstream(), CHINA).entries
    assert entry.guid == "9" * 2000  # too long a number for Python: its digits, bounded
    assert len(entry.title) == 2000
    assert entry.content_html == ""


def test_invalid_json_says_what_the_answer_starts_with() -> None:
    with pytest.raises(NotAFeedError, match=r"not valid JSON .*it starts: <html>"):
        parse_json_source(b"<html>maintenance</html>", API, json_upstream(), CHINA)


def html_upstream(**fields: str) -> UpstreamConfig:
    return UpstreamConfig(
        name="Page",
        url=PAGE,
        category="news",
        kind="html",
        items="ul.news > li",
        fields=tuple((name, FieldRule(source)) for name, source in fields.items()),
        date_format="%Y年%m月%d日 %H:%M",
    )


LIST_PAGE = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>新闻列表</title></head><body><ul class="news">
<li><a href="../a/1.html" title="完整标题一">标题一</a><span>2022年06月02日 14:05</span>
<p>摘要<b>一</b>，含𠀾字</p></li>
<li><a href="http://other.example/2.html">标题二</a><span>昨天</span></li>
</ul></body></html>"""


def test_a_gb18030_news_page_becomes_entries() -> None:
    upstream = html_upstream(title="a@title", link="a@href", date="span", summary="p", id="a@href")
    feed = parse_html_source(LIST_PAGE.encode("gb18030"), PAGE, {}, upstream, CHINA)
    first, second = feed.entries
    assert first.title == "完整标题一"  # the attribute, not the text
    assert first.link == "http://news.example/a/1.html"  # resolved against the page
    assert first.published == datetime(2022, 6, 2, 14, 5, tzinfo=EIGHT)
    assert first.content_html == "摘要<b>一</b>，含𠀾字"  # a GB18030-only character survives
    assert second.title == "" and second.link == "http://other.example/2.html"
    assert second.published is None  # "昨天" is no date: the poll's time stands in later
    assert feed.title == "新闻列表"


def test_the_header_charset_wins_and_a_base_element_moves_links() -> None:
    page = '<html><head><base href="http://cdn.example/x/"></head><body><ul class="news">'
    page += '<li><a href="y.html">Ünïcode</a></li></ul></body></html>'
    upstream = html_upstream(title="a", link="a@href")
    headers = {"Content-Type": "text/html; charset=ISO-8859-1"}
    [entry] = parse_html_source(page.encode("latin-1"), PAGE, headers, upstream, CHINA).entries
    assert (entry.title, entry.link) == ("Ünïcode", "http://cdn.example/x/y.html")


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/html; charset=idna"},
        {"Content-Type": "text/html; charset=undefined"},
        {"Content-Type": "text/html; charset=PUNYCODE"},
        {"Content-Type": "text/html; charset=base64"},
        {},  # with <meta charset="idna"> in the page
    ],
)
def test_a_charset_that_is_no_text_codec_counts_as_undeclared(headers: dict[str, str]) -> None:
    page = '<html><head><meta charset="idna"></head><body><ul class="news">'
    page += '<li><a href="y.html">新闻 café</a></li></ul></body></html>'
    upstream = html_upstream(title="a", link="a@href")
    [entry] = parse_html_source(page.encode(), PAGE, headers, upstream, CHINA).entries
    assert entry.title == "新闻 café"


@pytest.mark.parametrize(
    "selector", ["li:nth-child(2n)", "li:nth-last-child(1)", "li:first-of-type"]
)
def test_structural_pseudo_classes_are_refused_over_a_huge_page(selector: str) -> None:
    page = "<html><body><ul>" + "<li><a href='x'>t</a></li>" * 50_000 + "</ul></body></html>"
    with pytest.raises(NotAFeedError, match="structural pseudo-class"):
        upstream = replace(html_upstream(title="a"), items=selector)
        parse_html_source(page.encode(), PAGE, {}, upstream, CHINA)
    small = "<html><body><ul>" + "<li><a href='x'>t</a></li>" * 10 + "</ul></body></html>"
    upstream = replace(html_upstream(title="li:nth-child(2) a"), items="ul")
    [entry] = parse_html_source(small.encode(), PAGE, {}, upstream, CHINA).entries
    assert entry.title == "t"


def test_without_a_declaration_the_page_is_detected() -> None:
    text = (
        "<html><body><p>"
        + "人民银行今日开展逆回购操作，市场流动性保持合理充裕。" * 30
        + "</p></body></html>"
    )
    assert "人民银行" in decode_html(text.encode("gb18030"), {})
    assert decode_html(text.encode(), {}) == text


def test_a_selector_that_matches_nothing_is_named_with_an_excerpt() -> None:
    upstream = UpstreamConfig(name="Page", url=PAGE, category="n", kind="html", items="div.gone")
    with pytest.raises(NotAFeedError) as raised:
        parse_html_source(LIST_PAGE.encode("gb18030"), PAGE, {}, upstream, CHINA)
    assert 'items = "div.gone" matched nothing on the page' in str(raised.value)
    assert "新闻列表 标题一" in str(raised.value)


def test_keep_and_block_read_the_title_and_the_summary() -> None:
    feed = parse_json_source(json.dumps(RECORDS).encode(), API, json_upstream(), CHINA)
    titles = lambda **rules: [e.title for e in kept(feed.entries, json_upstream(**rules))]  # noqa: E731
    assert titles(keep="逆回购") == ["央行 <开展> 逆回购"]
    assert titles(keep="无前缀") == ["数字编号"]  # in the summary only
    assert titles(block="央行|中标") == ["数字编号"]
    assert titles(keep="摘要|操作", block="数字") == ["央行 <开展> 逆回购"]


# --- the config ------------------------------------------------------------------------------

SITE = {"site": {"url": "https://site.example"}}


def upstream_config(tmp_path: Path, **table: object) -> UpstreamConfig:
    raw = {**SITE, "upstreams": [{"name": "U", "url": API, "category": "c", **table}]}
    return parse_config(raw, tmp_path / "syndicator.toml").upstreams[0]


def test_the_config_reads_every_new_key(tmp_path: Path) -> None:
    upstream = upstream_config(
        tmp_path,
        kind="json",
        items="records",
        fields={"id": "id", "summary": {"from": "digest", "remove": "^【[^】]*】"}},
        detail={"url": "https://api.example/detail?id={id}", "content": "data.content"},
        date_format="%Y-%m-%d %H:%M:%S",
        timezone="Asia/Shanghai",
        full_text=True,
        content_selector="div.article",
        respect_robots=False,
        post_name="{date}-{id}",
        keep="财经",
        block="广告",
    )
    assert upstream.fields == (
        ("id", FieldRule("id")),
        ("summary", FieldRule("digest", "^【[^】]*】")),
    )
    assert upstream.detail is not None
    assert upstream.detail.fields == (("content", FieldRule("data.content")),)
    assert upstream.timezone == CHINA and upstream.enriched and not upstream.respect_robots


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"kind": "rss"}, "kind"),
        ({"kind": "json"}, "items"),
        ({"kind": "json", "items": "records[", "fields": {}}, "items"),
        ({"kind": "json", "items": "r", "fields": {"title": "a[?"}}, "fields.title"),
        ({"kind": "json", "items": "r", "fields": {"body": "a"}}, "fields.body"),
        (
            {"kind": "json", "items": "r", "fields": {"title": {"from": "a", "remove": "("}}},
            "fields.title.remove",
        ),
        ({"kind": "html", "items": "li", "fields": {"link": "a[[@href"}}, "fields.link"),
        ({"kind": "json", "items": "r", "detail": {"url": "https://x/?id={id}"}}, "detail.url"),
        ({"items": "records"}, "items"),
        ({"post_name": "{id}"}, "post_name"),
        ({"post_name": "{date}-{title}"}, "post_name"),
        ({"post_name": "{date}-../{id}"}, "post_name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"block": "[unclosed"}, "block"),
        ({"keep": "(?<=x)y"}, "keep"),
        (
            {"kind": "json", "items": "r", "fields": {"id": {"from": "a", "remove": r"(a)\1"}}},
            "fields.id.remove",
        ),
        ({"content_selector": "div[["}, "content_selector"),
    ],
)
def test_a_wrong_new_key_is_named(tmp_path: Path, table: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"upstreams\[0\] \(U\)\.{key}"):
        upstream_config(tmp_path, **table)


@pytest.mark.parametrize(
    "table",
    [
        {"post_name": "{date}-{id:d}"},
        {"post_name": "{date}-{id:>9999999999999999999}"},
        {"post_name": "{date}-{id!r}"},
        {"post_name": "{date}-{id!s:.3}"},
        {
            "kind": "json",
            "items": "r",
            "fields": {"id": "id"},
            "detail": {"url": "https://x/?id={id:d}"},
        },
        {
            "kind": "json",
            "items": "r",
            "fields": {"id": "id"},
            "detail": {"url": "https://x/?id={id!r}"},
        },
    ],
)
def test_templates_take_bare_placeholders_only(tmp_path: Path, table: dict[str, object]) -> None:
    key = "detail.url" if "detail" in table else "post_name"
    with pytest.raises(ConfigError, match=rf"upstreams\[0\] \(U\)\.{key}: .*bare names"):
        upstream_config(tmp_path, **table)


def test_per_host_delay_defaults_to_a_second_and_may_be_zero(tmp_path: Path) -> None:
    path = tmp_path / "syndicator.toml"
    assert parse_config(dict(SITE), path).polling.per_host_delay == 1.0
    raw = {**SITE, "polling": {"per_host_delay": 0}}
    assert parse_config(raw, path).polling.per_host_delay == 0.0


def test_author_image_and_content_fields() -> None:
    fields = {
        "title": FieldRule("t"),
        "content": FieldRule("body"),
        "author": FieldRule("by.name"),
        "image": FieldRule("pic"),
    }
    record = {"t": "x", "body": "<p>正文</p>", "by": {"name": " 记者\n张三 "}, "pic": "/i.jpg"}
    body = json.dumps({"records": [record]}).encode()
    [entry] = parse_json_source(body, API, json_upstream(fields=fields), CHINA).entries
    assert entry.author == "记者 张三"
    assert entry.content_html == '<p><img src="http://api.example/i.jpg" alt=""></p><p>正文</p>'


@pytest.mark.parametrize(
    ("table", "key"),
    [({"date_format": "%Y"}, "date_format"), ({"content_selector": "div"}, "content_selector")],
)
def test_keys_that_would_do_nothing_are_named(
    tmp_path: Path, table: dict[str, object], key: str
) -> None:
    with pytest.raises(ConfigError, match=rf"\(U\)\.{key}"):
        upstream_config(tmp_path, **table)


def test_an_at_sign_inside_brackets_or_quotes_is_part_of_the_selector() -> None:
    page = (
        '<html><body><ul class="news"><li><a href="/x">no</a>'
        '<a href="mailto:ed@news.example" data-who="ed">Ed</a></li></ul></body></html>'
    )
    upstream = html_upstream(title='a[href*="@"]', author='a[href*="@"]@data-who', link="a@href")
    [entry] = parse_html_source(page.encode(), PAGE, {}, upstream, CHINA).entries
    assert (entry.title, entry.author, entry.link) == ("Ed", "ed", "http://news.example/x")
