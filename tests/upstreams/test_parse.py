"""Parsing upstream feeds: every format, encodings, identity, dates, and absurd input."""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.site import CST
from support.upstreams import UPSTREAM_FIXTURES

from syndicator.upstreams.parse import NotAFeedError, UpstreamFeed, parse_feed

FEED_URL = "https://feeds.example.com/finance/rss.xml"
RSS = {"Content-Type": "application/rss+xml"}


def parse_fixture(name: str, headers: dict[str, str] | None = None) -> UpstreamFeed:
    return parse_feed(
        (UPSTREAM_FIXTURES / name).read_bytes(), FEED_URL, RSS if headers is None else headers
    )


def rss(channel: str, items: str = "") -> bytes:
    return f'<rss version="2.0"><channel><title>T</title>{channel}{items}</channel></rss>'.encode()


# --- formats ---------------------------------------------------------------------------------


def test_rss20() -> None:
    feed = parse_fixture("rss20.xml")

    assert feed.version == "rss20"
    assert feed.title == "中国网财经"
    assert feed.link == "https://feeds.example.com/finance/"
    assert feed.ttl == 30 * 60
    assert feed.warnings == ()
    first = feed.entries[0]
    assert first.guid == "china-finance-001"
    assert first.link == "https://feeds.example.com/finance/2022/06/02/001.html"
    assert first.title == "A-share markets close higher"
    # content:encoded wins over the description, with its relative href made absolute.
    assert first.content_html == (
        '<p>The <b>full</b> story. <a href="https://feeds.example.com/finance/related.html">'
        "Related</a></p>"
    )
    assert first.published == datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)
    assert first.updated is None


def test_rss_pubdate_keeps_its_offset() -> None:
    published = parse_fixture("rss20.xml").entries[0].published

    assert published is not None
    assert published.utcoffset() == timedelta(hours=8)
    assert published.isoformat() == "2022-06-02T14:05:33+08:00"


def test_rss091_in_latin1() -> None:
    feed = parse_fixture("rss091.xml")

    assert feed.version == "rss091u"
    assert feed.title == "Café Weekly"
    assert [entry.title for entry in feed.entries] == ["Crème brûlée", "Second"]
    assert feed.entries[0].content_html == "Le dessert du jour."


def test_rss10_with_syndication_module() -> None:
    feed = parse_fixture("rss10.xml", {"Content-Type": "application/rdf+xml"})

    assert feed.version == "rss10"
    assert feed.title == "RDF Site Summary"
    assert feed.ttl == 3600 / 2  # hourly, twice
    entry = feed.entries[0]
    assert entry.key == "http://rdf.example.org/1"
    assert entry.updated == datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)
    assert entry.updated.utcoffset() == timedelta(hours=8)
    assert entry.published is None


def test_atom03() -> None:
    feed = parse_fixture("atom03.xml", {"Content-Type": "application/atom+xml"})

    assert feed.version == "atom03"
    assert feed.link == "http://atom03.example.com/"
    entry = feed.entries[0]
    assert entry.key == "tag:atom03.example.com,2004:entry-1"
    assert entry.content_html == "<p>Escaped <em>HTML</em>.</p>"
    assert entry.published == datetime(2004, 1, 1, 10, tzinfo=timezone(timedelta(hours=-5)))
    assert entry.published.utcoffset() == timedelta(hours=-5)
    assert entry.updated == datetime(2004, 1, 1, 12, tzinfo=UTC)


def test_atom10() -> None:
    feed = parse_fixture("atom10.xml", {"Content-Type": "application/atom+xml"})

    assert feed.version == "atom10"
    assert feed.title == "Atom & friends"
    assert feed.link == "https://atom.example.com/"
    rates, plain = feed.entries
    assert rates.title == "Rates rise again"
    assert rates.link == "https://feeds.example.com/finance/posts/rates.html"
    assert rates.content_html == (
        '<p>Rates rose <a href="https://feeds.example.com/about">again</a>.</p>'
    )
    assert rates.published is not None
    assert rates.published.isoformat() == "2024-01-05T09:30:00+01:00"
    assert rates.updated == datetime(2024, 1, 5, 10, tzinfo=UTC)
    # type="text" content is text: escaped so that it stays text as HTML.
    assert plain.content_html == "1 &lt; 2 &amp; 3 &gt; 2"
    assert plain.updated is not None
    assert plain.updated.utcoffset() == timedelta(hours=-5)


def test_json_feed_10() -> None:
    feed = parse_fixture("jsonfeed10.json", {"Content-Type": "application/feed+json"})

    assert feed.version == "json10"
    assert feed.title == "JSON Feed One"
    assert feed.link == "https://json.example.org/"
    assert feed.ttl is None
    second, first = feed.entries
    assert second.key == second.guid == "2"  # a number in the wild, a string for us
    assert second.content_html == "Plain &lt;text&gt; &amp; more"
    assert second.published == datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)
    assert second.published.utcoffset() == timedelta(hours=8)
    assert first.link == "https://feeds.example.com/1"
    assert first.content_html == "<p>First item</p>"
    assert first.updated is not None
    assert first.updated.utcoffset() == timedelta(hours=-4)


def test_json_feed_11() -> None:
    feed = parse_fixture("jsonfeed11.json", {"Content-Type": "application/feed+json"})

    assert feed.version == "json11"
    assert feed.title == "JSON Feed 1.1"
    with_id, with_url, with_neither = feed.entries
    assert with_id.key == "https://json11.example.org/a"
    assert with_url.guid is None
    assert with_url.key == "https://json11.example.org/b"
    assert with_url.content_html == "Only a summary."
    assert with_neither.key.startswith("sha256:")
    assert feed.warnings == ("1 items that are not objects skipped",)


@pytest.mark.parametrize("version", ["1.0", "1.1", " 1.1 "])
def test_json_feed_with_a_bare_version_number_is_read_with_a_warning(version: str) -> None:
    body = (UPSTREAM_FIXTURES / "jsonfeed-bare-version.json").read_bytes()
    body = body.replace(b'"version": "1.1"', f'"version": "{version}"'.encode())

    feed = parse_feed(body, FEED_URL, {"Content-Type": "application/feed+json"})

    assert feed.version == {"1.0": "json10", "1.1": "json11"}[version.strip()]
    assert [entry.title for entry in feed.entries] == [
        "Written by a generator that numbers its version"
    ]
    (warning,) = feed.warnings
    assert f'its version is "{version.strip()}"' in warning
    assert "https://jsonfeed.org/version/1" in warning


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_json_feed_is_recognised_by_its_version_whatever_the_content_type(
    content_type: str,
) -> None:
    body = b'\xef\xbb\xbf\n  {"version": "http://jsonfeed.org/version/1/", "title": "Old", "items": []}'

    feed = parse_feed(body, FEED_URL, {"Content-Type": content_type})

    assert feed.version == "json10"
    assert feed.title == "Old"


@pytest.mark.parametrize(
    "body",
    [
        b'{"foo": 1}',
        b'{"version": "https://example.com/not-json-feed", "items": []}',
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
        b'{"a": ' + b"[" * 100_000,
    ],
    ids=["no-version", "other-version", "malformed", "deeply-nested"],
)
def test_json_that_is_not_a_json_feed(body: bytes) -> None:
    with pytest.raises(NotAFeedError, match=r"feeds\.example\.com"):
        parse_feed(body, FEED_URL, {"Content-Type": "application/json"})


def test_json_feed_strings_lose_characters_xml_forbids() -> None:
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": '
        b'[{"title": "a\\u0000b\\ud800c", "content_html": "x\\u0000y\\udfffz"}]}'
    )

    entry = parse_feed(body, FEED_URL, {}).entries[0]

    assert entry.title == "abc"
    assert entry.content_html == "xyz"
    assert entry.key.startswith("sha256:")


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["application/rss+xml", "text/xml", "application/xml; charset=gbk", ""],
)
def test_feed_declared_gbk_in_its_prolog_reads_correctly(content_type: str) -> None:
    feed = parse_fixture("gbk.xml", {"Content-Type": content_type} if content_type else {})

    assert feed.title == "金融消息"
    entry = feed.entries[0]
    # "€" and "𠀀" exist only in GB18030, which such sites really write.
    assert entry.title == "中国网财经：欧元€走强，𠀀字节"
    assert entry.content_html == "<p>（文章来源：中国网财经）</p>"


UNDECLARED = {
    "undeclared-gb2312.xml": ("财经快讯", "央行今日开展逆回购操作"),
    "undeclared-shift-jis.xml": ("経済ニュース", "東京株式市場で日経平均が反発"),
    "undeclared-euc-jp.xml": ("地域ニュース", "政府が新たな経済対策を発表"),
    "undeclared-euc-kr.xml": ("경제 뉴스", "한국은행 기준금리 동결 결정"),
    "undeclared-koi8-r.xml": ("Новости экономики", "Центробанк сохранил ключевую ставку"),
}
C1_CONTROL = re.compile("[\x80-\x9f]")


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml", None])
@pytest.mark.parametrize("name", sorted(UNDECLARED))
def test_feed_in_an_undeclared_encoding_is_detected(name: str, content_type: str | None) -> None:
    # No encoding in the prolog, no charset in the Content-Type (or no Content-Type at all):
    # only a detector tells GB2312 from Shift-JIS from KOI8-R.
    feed = parse_fixture(name, {"Content-Type": content_type} if content_type else {})

    assert (feed.title, feed.entries[0].title) == UNDECLARED[name]
    for title in (feed.title, *(entry.title for entry in feed.entries)):
        assert not C1_CONTROL.search(title), title


def test_c1_controls_never_reach_a_title() -> None:
    # Declared ISO-8859-1 but written in windows-1252 (curly quotes, a dash), and C1
    # controls as character references (XML allows them).
    body = (
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>\x93Quoted\x94 \x96 caf\xe9</title><guid>q</guid></item>"
        b"<item><title>refs&#x85;&#x9d;&#128;</title><guid>r</guid></item>"
        b"</channel></rss>"
    )

    titles = [entry.title for entry in parse_feed(body, FEED_URL, RSS).entries]

    assert titles == ["“Quoted” – café", "refs…€"]


def test_invalid_utf8_does_not_crash() -> None:
    item = b'<item><title>bad \xff\xfe\xc3( bytes</title><guid isPermaLink="false">g</guid></item>'
    body = rss("").replace(b"</channel>", item + b"</channel>")

    feed = parse_feed(body, FEED_URL, RSS)

    assert feed.entries[0].key == "g"
    assert feed.entries[0].title.startswith("bad ")


# --- not feeds, and feeds that look broken ---------------------------------------------------


def test_bozo_but_usable_feed_parses_with_a_warning() -> None:
    feed = parse_fixture("bozo.xml")

    assert feed.title == "Sloppy Feed"  # the no-break space collapsed like any whitespace
    assert [entry.title for entry in feed.entries] == ["Still readable"]
    assert len(feed.warnings) == 1
    assert "undefined entity" in feed.warnings[0]


def test_feed_served_as_html_still_parses() -> None:
    feed = parse_fixture("rss20.xml", {"Content-Type": "text/html; charset=utf-8"})

    assert feed.version == "rss20"
    assert len(feed.entries) == 3


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "text/plain"])
def test_html_page_is_not_a_feed(content_type: str) -> None:
    with pytest.raises(NotAFeedError, match=r"feeds\.example\.com.* is an HTML page"):
        parse_fixture("page.html", {"Content-Type": content_type})


@pytest.mark.parametrize("body", [b"", b"  \r\n\t "])
def test_empty_body_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeedError, match=r"feeds\.example\.com.*empty body"):
        parse_feed(body, FEED_URL, RSS)


def test_garbage_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError, match=r"not an RSS, Atom or JSON feed"):
        parse_feed(b"\x00\x01garbage\xff", FEED_URL, {})


def test_cdf_channel_is_read_with_a_warning() -> None:
    # feedparser reads a Channel Definition Format channel's items but names no version.
    feed = parse_fixture("cdf.xml", {"Content-Type": "application/x-cdf"})

    assert feed.title == "CDF News Channel"
    assert feed.link == "http://cdf.example.com/news/"
    assert [(entry.title, entry.link) for entry in feed.entries] == [
        ("Markets close higher", "http://cdf.example.com/news/2022/06/02/markets.html"),
        ("Central bank holds rates", "http://cdf.example.com/news/2022/06/02/rates.html"),
    ]
    assert feed.entries[0].updated == datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)
    assert feed.entries[0].content_html == "Stocks rose for a second day."
    assert "not RSS or Atom (its root element is <CHANNEL>); read its 2 items" in feed.warnings[-1]


OPML = (
    b'<?xml version="1.0"?>\n<!-- a list of feeds -->\n<!DOCTYPE opml>\n<opml version="2.0">'
    b'<head><title>Subscriptions</title></head><body><outline text="a" xmlUrl="http://a/"/>'
    b"</body></opml>"
)


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'<?xml version="1.0"?><note><to>Tove</to></note>', "its root element is <note>"),
        (OPML, "its root element is <opml>"),
        (b"<CHANNEL><TITLE>No items</TITLE></CHANNEL>", "its root element is <CHANNEL>"),
        (
            b"<channel><item><description>Neither title nor link</description></item></channel>",
            "its root element is <channel>",
        ),
        (b"plain text, not markup", "no XML element at its start"),
    ],
    ids=["note", "opml", "cdf-without-items", "items-without-title-or-link", "text"],
)
def test_xml_that_is_not_a_feed_is_refused_saying_what_it_is(body: bytes, found: str) -> None:
    with pytest.raises(NotAFeedError) as refused:
        parse_feed(body, FEED_URL, {"Content-Type": "application/xml"})

    message = str(refused.value)
    assert message.startswith(f"{FEED_URL} is not an RSS, Atom or JSON feed ({found}")
    assert "no item with a title or a link" in message
    assert "root element" not in message.replace(found, "")


def test_body_naming_a_local_file_is_not_read_as_that_file() -> None:
    # Given bytes, feedparser opens them as a path when such a file exists.
    path = str((UPSTREAM_FIXTURES / "rss20.xml").resolve()).encode()

    with pytest.raises(NotAFeedError):
        parse_feed(path, FEED_URL, {})


@pytest.mark.parametrize(
    "prolog",
    [b'<?xml version="1.0" encoding="\xa9utf-8"?>', b'<?xml version="1.0" encoding="ut\x00f-8"?>'],
    ids=["non-ascii-encoding-name", "nul-in-encoding-name"],
)
def test_feedparser_crashes_become_not_a_feed(prolog: bytes) -> None:
    # feedparser 6.0.14 raises UnicodeDecodeError / ValueError on these prologs.
    with pytest.raises(NotAFeedError, match=r"feeds\.example\.com.*parser failed"):
        parse_feed(prolog + rss(""), FEED_URL, RSS)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(path.name for path in UPSTREAM_FIXTURES.iterdir())),
    edits=st.lists(
        st.tuples(st.integers(0, 5000), st.integers(0, 40), st.binary(max_size=8)), max_size=12
    ),
)
def test_mangled_feeds_parse_or_are_refused_never_crash(
    name: str, edits: list[tuple[int, int, bytes]]
) -> None:
    body = bytearray((UPSTREAM_FIXTURES / name).read_bytes())
    for position, length, replacement in edits:
        start = position % (len(body) + 1)
        body[start : start + length] = replacement

    try:
        feed = parse_feed(bytes(body), FEED_URL, {})
    except NotAFeedError:
        return
    assert all(entry.key for entry in feed.entries)


# --- identity and links ----------------------------------------------------------------------


def test_entry_identity_falls_back_from_id_to_link_to_content_hash() -> None:
    with_guid, with_link, with_neither = parse_fixture("rss20.xml").entries

    assert with_guid.key == "china-finance-001"
    assert with_link.guid is None
    assert with_link.key == "https://other.example.net/story?id=2"
    expected = hashlib.sha256(
        b"Neither guid nor link\0Identified by its content alone."
    ).hexdigest()
    assert with_neither.key == f"sha256:{expected}"


def test_content_hash_is_stable_and_follows_the_content() -> None:
    item = "<item><title>Same</title><description>{}</description></item>"
    one = parse_feed(rss("", item.format("Body")), FEED_URL, RSS).entries[0].key
    again = parse_feed(rss("<ttl>5</ttl>", item.format("Body")), FEED_URL, RSS).entries[0].key
    other = parse_feed(rss("", item.format("Body!")), FEED_URL, RSS).entries[0].key

    assert one == again
    assert one != other


def test_relative_ids_resolve_against_the_feed_url_whatever_the_headers() -> None:
    plain = parse_fixture("gbk.xml")
    moved = parse_fixture(
        "gbk.xml",
        {"Content-Type": "application/rss+xml", "Content-Location": "https://mirror.example/x/"},
    )

    # A permalink guid is a URL: feedparser resolves the relative one against the feed's URL.
    assert plain.entries[0].key == "https://feeds.example.com/finance/gbk-1"
    assert moved.entries[0].key == plain.entries[0].key


def test_links_resolve_against_the_feed_url() -> None:
    body = rss("<link>../</link>", "<item><link>2024/story.html</link></item>")

    feed = parse_feed(body, "https://example.org/news/feeds/rss.xml", RSS)

    assert feed.link == "https://example.org/news/"
    assert feed.entries[0].link == "https://example.org/news/feeds/2024/story.html"


# --- hostile input ---------------------------------------------------------------------------


def test_hostile_html_is_left_for_the_caller_to_sanitize() -> None:
    feed = parse_fixture("hostile.xml")
    entry = feed.entries[0]

    # Raw on purpose: the poller sanitizes with nh3; feedparser's own sanitizer is not relied on.
    assert "<script>" in entry.content_html
    assert 'onclick="steal()"' in entry.content_html
    # Titles are text: markup in them is kept as inert characters.
    assert entry.title == "Click <img src=x onerror=alert(1)> here"
    # javascript: is not a link.
    assert entry.link is None
    assert feed.link is None


def test_title_like_a_path_with_newlines_is_one_line_of_text() -> None:
    entry = parse_fixture("traversal.xml").entries[0]

    assert entry.title == "../../etc/passwd and more lines tabbed"
    assert "\n" not in entry.title
    assert entry.guid == "../../../outside"


def test_many_entries_parse_in_linear_time() -> None:
    """Ten times the entries take about ten times as long, not a hundred: feedparser spends
    ~40 µs on each (a 100,000-entry feed is in tests/upstreams/test_hostile_upstreams.py)."""

    def timed(count: int) -> tuple[float, UpstreamFeed]:
        items = "".join(f"<item><title>Item {n}</title></item>" for n in range(count))
        body = rss("", items)
        started = time.perf_counter()
        feed = parse_feed(body, FEED_URL, RSS)
        return time.perf_counter() - started, feed

    small, _ = timed(2_000)
    large, feed = timed(20_000)

    assert len(feed.entries) == 20_000
    assert feed.entries[0].title == "Item 0"
    assert feed.entries[-1].title == "Item 19999"
    assert len({entry.key for entry in feed.entries}) == 20_000
    assert large < 25 * small  # ten times the entries; quadratic work would take ~100 times


def test_five_megabyte_title() -> None:
    title = "长" * 5_000_000
    body = rss("", f"<item><title>{title}</title><guid>g</guid></item>")

    started = time.perf_counter()
    feed = parse_feed(body, FEED_URL, RSS)

    assert time.perf_counter() - started < 10
    assert feed.entries[0].title == title


def test_html_title_full_of_unclosed_tags_takes_linear_time() -> None:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry>'
        '<title type="html">' + "&lt;" * 200_000 + "</title><id>x</id></entry></feed>"
    ).encode()

    started = time.perf_counter()
    feed = parse_feed(body, FEED_URL, {"Content-Type": "application/atom+xml"})

    assert time.perf_counter() - started < 5
    assert feed.entries[0].title == "<" * 200_000


# --- dates and pace --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Thu, 02 Jun 2022 14:05:33 +0800", "2022-06-02T14:05:33+08:00"),
        ("Thu, 02 Jun 2022 14:05:33 -0330", "2022-06-02T14:05:33-03:30"),
        ("Thu, 02 Jun 2022 14:05:33 GMT", "2022-06-02T14:05:33+00:00"),
        ("Thu, 02 Jun 2022 14:05:33 -0000", "2022-06-02T14:05:33+00:00"),
        ("2022-06-02T14:05:33+08:00", "2022-06-02T14:05:33+08:00"),
        ("2022-06-02T14:05:33", "2022-06-02T14:05:33+00:00"),
    ],
)
def test_entry_dates_keep_their_offset_else_are_utc(date: str, expected: str) -> None:
    body = rss("", f"<item><guid>g</guid><pubDate>{date}</pubDate></item>")

    published = parse_feed(body, FEED_URL, RSS).entries[0].published

    assert published is not None
    assert published.isoformat() == expected


# Dates as Chinese CMSs write them: "CST" meaning China Standard Time.
CHINESE_CMS_DATES = [
    "Thu, 02 Jun 2022 14:05:33 CST",
    "Thu, 2 Jun 2022 14:05:33 CST",
    "02 Jun 2022 14:05:33 CST",
    "Thu,  02 Jun 2022  14:05:33   CST",
    "Thu,02 Jun 2022 14:05:33 CST",
    "Thu Jun 02 14:05:33 CST 2022",  # Java's Date.toString()
    "2022-06-02 14:05:33 CST",
    "Thu, 02 Jun 2022 14:05:33 cst",
]


def dated_item(date: str) -> bytes:
    return rss("", f"<item><title>CST 新闻</title><guid>g</guid><pubDate>{date}</pubDate></item>")


@pytest.mark.parametrize("date", CHINESE_CMS_DATES)
def test_zone_abbreviations_are_read_as_the_offsets_zones_give(date: str) -> None:
    entry = parse_feed(dated_item(date), FEED_URL, RSS, CST, {"CST": "+08:00"}).entries[0]

    assert entry.published is not None
    assert entry.published.isoformat() == "2022-06-02T14:05:33+08:00"
    assert entry.title == "CST 新闻"  # only dates are read differently


def test_without_zones_cst_is_us_central_time() -> None:
    entry = parse_feed(dated_item(CHINESE_CMS_DATES[0]), FEED_URL, RSS, CST).entries[0]

    assert entry.published is not None
    assert entry.published.isoformat() == "2022-06-02T14:05:33-06:00"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("Thu, 02 Jun 2022 14:05:33 EST", "2022-06-02T14:05:33-05:00"),
        ("Thu, 02 Jun 2022 14:05:33 GMT", "2022-06-02T14:05:33+00:00"),
        ("Thu, 02 Jun 2022 14:05:33 +0900", "2022-06-02T14:05:33+09:00"),
        ("2022-06-02T14:05:33Z", "2022-06-02T14:05:33+00:00"),
    ],
)
def test_zones_leave_other_dates_alone(date: str, expected: str) -> None:
    entry = parse_feed(dated_item(date), FEED_URL, RSS, CST, {"CST": "+08:00"}).entries[0]

    assert entry.published is not None
    assert entry.published.isoformat() == expected


def test_unparseable_date_is_none() -> None:
    body = rss("", "<item><guid>g</guid><pubDate>yesterday-ish</pubDate></item>")

    assert parse_feed(body, FEED_URL, RSS).entries[0].published is None


SY = 'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("<ttl>15</ttl>", 900.0),
        ("<ttl>soon</ttl>", None),
        ("<ttl>0</ttl>", None),
        ("<sy:updatePeriod>daily</sy:updatePeriod>", 86400.0),
        (
            "<sy:updatePeriod>weekly</sy:updatePeriod><sy:updateFrequency>7</sy:updateFrequency>",
            86400.0,
        ),
        ("<sy:updateFrequency>4</sy:updateFrequency>", 21600.0),
        ("<sy:updatePeriod>fortnightly</sy:updatePeriod>", None),
        ("", None),
    ],
)
def test_ttl(channel: str, expected: float | None) -> None:
    body = rss(channel).replace(b'<rss version="2.0">', f'<rss version="2.0" {SY}>'.encode())

    assert parse_feed(body, FEED_URL, RSS).ttl == expected


@pytest.mark.parametrize("charset", ["undefined", "idna", "base64", "no-such-codec"])
def test_a_feed_declaring_a_charset_that_is_no_text_codec_is_read_all_the_same(
    charset: str,
) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>新闻 café</title><link>http://x.example/1</link></item></channel></rss>"
    ).encode()
    headers = {"Content-Type": f"application/rss+xml; charset={charset}"}
    [entry] = parse_feed(body, "http://x.example/feed", headers).entries
    assert entry.title == "新闻 café"
