"""Posts the poller writes: the exact format of docs/posts.md, file names that are safe whatever
the upstream sends, hostile HTML kept out, and posts that ``build`` reads back unchanged."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.site import CST

from syndicator.core.config import AttributionConfig, UpstreamConfig
from syndicator.feeds.entries import make_entry
from syndicator.site.files import PostFile
from syndicator.site.posts import load_post, make_post, split_front_matter
from syndicator.upstreams.parse import UpstreamEntry
from syndicator.upstreams.postwriter import PostSource, post_file_name, render_post

DATE = datetime(2022, 6, 2, 14, 5, 33, tzinfo=CST)
LINK = "http://finance.example.cn/2022/06/02/001.html"
FEED = "https://finance.example.cn/rss.xml"
UPSTREAM = UpstreamConfig(
    name="中国网财经", url=FEED, category="zhongguowangcaijing", tags=("中国网财经新闻",)
)
LINE = "（文章来源：中国网财经）"
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_C1_CONTROL = re.compile("[\x80-\x9f]")


def entry(
    title: str = "A-share markets close higher",
    key: str = "china-finance-001",
    guid: str | None = "china-finance-001",
    link: str | None = LINK,
    content_html: str = "<p>The <b>full</b> story.</p>",
    published: datetime | None = DATE,
    updated: datetime | None = None,
) -> UpstreamEntry:
    return UpstreamEntry(
        key=key,
        guid=guid,
        link=link,
        title=title,
        content_html=content_html,
        published=published,
        updated=updated,
    )


def expected_text(text: str) -> str:
    """What a title may lose on the way: characters XML forbids, C1 controls (read as the
    windows-1252 bytes they stand for, or dropped), and runs of whitespace."""
    text = _C1_CONTROL.sub(_as_windows_1252, _XML_ILLEGAL.sub("", text))
    return " ".join(text.split())


def _as_windows_1252(control: re.Match[str]) -> str:
    return bytes([ord(control.group())]).decode("cp1252", errors="ignore")


@pytest.fixture
def config(site_config):
    return site_config()


def write(config, item: UpstreamEntry, upstream: UpstreamConfig = UPSTREAM, date=None) -> Path:
    date = date or item.published or DATE
    folder = config.posts.dirs[0]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / post_file_name(item, date, upstream.name)
    text = render_post(item, PostSource(upstream, upstream.url), date, config.attribution)
    path.write_text(text, encoding="utf-8")
    return path


def load(config, path: Path):
    stat = path.stat()
    loaded = load_post(PostFile(path, config.posts.dirs[0], stat.st_size, stat.st_mtime_ns), config)
    assert loaded is not None
    return loaded


def body_of(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n---\n", 1)[1]


# --- the format ------------------------------------------------------------------------------


def test_post_is_exactly_the_format_of_design_md(config):
    text = render_post(entry(), PostSource(UPSTREAM, FEED), DATE, config.attribution)

    assert text == (
        "---\n"
        "layout: post\n"
        'title: "A-share markets close higher"\n'
        "date: 2022-06-02 14:05:33 +0800\n"
        "categories: zhongguowangcaijing\n"
        "tags: 中国网财经新闻\n"
        'source: "中国网财经"\n'
        f'source_url: "{LINK}"\n'
        f'source_feed: "{FEED}"\n'
        'guid: "china-finance-001"\n'
        "---\n"
        "<p>The <b>full</b> story.</p>\n"
        f'<p class="source">{LINE}</p>\n'
        "\n"
        f"<{LINK}>\n"
    )
    front = yaml.safe_load(text.split("---\n")[1])
    assert list(front) == [
        "layout",
        "title",
        "date",
        "categories",
        "tags",
        "source",
        "source_url",
        "source_feed",
        "guid",
    ]


def test_updated_post_adds_last_modified_at_after_the_guid(config):
    later = DATE + timedelta(hours=3)
    text = render_post(
        entry(), PostSource(UPSTREAM, FEED), DATE, config.attribution, last_modified=later
    )
    front = yaml.safe_load(text.split("---\n")[1])
    assert list(front)[-2:] == ["guid", "last_modified_at"]
    assert "\nlast_modified_at: 2022-06-02 17:05:33 +0800\n" in text
    assert "\ndate: 2022-06-02 14:05:33 +0800\n" in text


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (DATE, "2022-06-02 14:05:33 +0800"),
        (
            datetime(2022, 6, 2, 9, 5, 33, tzinfo=timezone(timedelta(hours=-4, minutes=-30))),
            "2022-06-02 09:05:33 -0430",
        ),
        (datetime(2022, 6, 2, 6, 5, 33, tzinfo=UTC), "2022-06-02 06:05:33 +0000"),
        (
            datetime(2022, 6, 2, 2, 5, 33, tzinfo=ZoneInfo("America/New_York")),
            "2022-06-02 02:05:33 -0400",
        ),
    ],
)
def test_date_keeps_the_entrys_own_offset(config, moment, written):
    path = write(config, entry(published=moment))

    assert f"\ndate: {written}\n" in path.read_text(encoding="utf-8")
    post, _ = load(config, path)
    assert post.date == moment and post.date.utcoffset() == moment.utcoffset()
    assert path.name.startswith(f"{moment:%Y-%m-%d}-")


def test_entry_without_guid_or_link_writes_no_such_keys(config):
    item = entry(key="sha256:" + "ab" * 32, guid=None, link=None)
    text = render_post(item, PostSource(UPSTREAM, FEED), DATE, config.attribution)
    front = yaml.safe_load(text.split("---\n")[1])
    assert "guid" not in front and "source_url" not in front
    assert text.endswith(f'<p class="source">{LINE}</p>\n')


def test_upstream_without_tags_writes_no_tags_key(config):
    bare = UpstreamConfig(name="Src", url=FEED, category="news")
    text = render_post(entry(), PostSource(bare, FEED), DATE, config.attribution)
    assert "\ntags:" not in text and "\ncategories: news\n" in text


# --- round trips -----------------------------------------------------------------------------

HOSTILE_TITLES = [
    "He said \"hi\" and 'bye'",
    "Key: value: more",
    "# not a comment",
    "line one\nline two\r\nthree\tfour",
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "ctrl\x00\x01\x08\x0b\x1b[31m\x7f\x85\x9b\u2028end",
    "emoji 📈🚀 and 中文 and 𠀀",
    "  leading and trailing  ",
    "- starts with a dash",
    "[not a list]",
    "{not: a map}",
    "&anchor *alias !tag |literal >folded @at `tick` %YAML",
    "---",
    "...",
    "null",
    "yes",
    "~",
    "1e3",
    "2022-06-02",
    "back\\slash \\u0041 \\n",
    "\ufeffBOM inside",
    "<script>alert(1)</script>",
    "",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_titles_round_trip_through_load_post(config, title):
    path = write(config, entry(title=title))

    post, _ = load(config, path)

    assert post.title == expected_text(title)
    assert path.parent == config.posts.dirs[0]


def test_five_megabyte_title_round_trips_with_a_bounded_file_name(config):
    title = ('沪深两市 Markets close higher: "涨" #1 ' * 200_000)[:5_000_000]

    path = write(config, entry(title=title))

    assert len(path.name.encode()) <= 255
    # Over the default posts.max_bytes (the poller does not import such an entry): raised.
    roomy = dataclasses.replace(config, posts=dataclasses.replace(config.posts, max_bytes=16 << 20))
    post, _ = load(roomy, path)
    assert post.title == expected_text(title)


LABELS = [
    "with space",
    "yes",
    "null",
    "1e3",
    "~",
    "true",
    "中国 新闻",
    "C++",
    "a:b",
    "#hash",
    "-dash",
    "[x]",
    "0x1F",
    "1_000",
    "2022-01-01",
    "財經(港股)",
    "'q'",
    'say "hi"',
    "tab\there",
]


@pytest.mark.parametrize("label", LABELS)
def test_categories_and_tags_round_trip(config, label):
    upstream = UpstreamConfig(name="Src", url=FEED, category=label, tags=(label, "plain", "no"))

    post, _ = load(config, write(config, entry(), upstream))

    assert post.categories == (expected_text(label),)
    assert post.tags == (expected_text(label), "plain", "no")


def test_plain_labels_are_written_as_the_sites_posts_write_them(config):
    upstream = UpstreamConfig(name="Src", url=FEED, category="财经", tags=("a", "b.c", "d-e"))
    text = render_post(entry(), PostSource(upstream, FEED), DATE, config.attribution)
    assert "\ncategories: 财经\ntags: a b.c d-e\n" in text


# --- file names ------------------------------------------------------------------------------


def assert_safe_name(name: str) -> None:
    assert len(name.encode("utf-8")) <= 255
    assert "/" not in name and "\\" not in name and ".." not in name
    assert not name.startswith(("-", "."))
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name)
    assert " " not in name
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-.+\.md", name)


def test_file_name_is_readable_and_deterministic():
    name = post_file_name(entry(), DATE, "中国网财经")
    assert re.fullmatch(r"2022-06-02-ashare-markets-close-higher-[0-9a-f]{12}\.md", name)
    assert post_file_name(entry(), DATE, "中国网财经") == name
    # A retitled entry keeps nothing but the hash in common: the state, not the name,
    # remembers which file an entry has.
    assert post_file_name(entry(title="Other"), DATE, "中国网财经").endswith(name[-16:])


def test_file_name_differs_per_entry_and_per_upstream():
    names = {
        post_file_name(entry(key="1"), DATE, "A"),
        post_file_name(entry(key="2"), DATE, "A"),
        post_file_name(entry(key="1"), DATE, "B"),
    }
    assert len(names) == 3


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_file_names_from_hostile_titles_are_safe(title):
    assert_safe_name(post_file_name(entry(title=title), DATE, "Up"))


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(max_size=300),
    key=st.text(min_size=1, max_size=200),
    upstream=st.text(min_size=1, max_size=50),
    date=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2999, 12, 31), timezones=st.timezones()
    ),
)
def test_file_names_are_safe_bounded_and_deterministic(title, key, upstream, date):
    item = entry(title=title, key=key)
    name = post_file_name(item, date, upstream)

    assert_safe_name(name)
    assert name == post_file_name(entry(title=title, key=key), date, upstream)
    assert name != post_file_name(entry(title=title, key=key + "x"), date, upstream)
    assert name.startswith(f"{date:%Y-%m-%d}-")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(max_size=200),
    label=st.text(min_size=1, max_size=40).filter(lambda s: expected_text(s)),
    source=st.text(min_size=1, max_size=40).filter(lambda s: expected_text(s)),
    guid=st.text(min_size=1, max_size=80),
)
def test_any_title_label_and_source_round_trip(config, title, label, source, guid):
    upstream = UpstreamConfig(name=source, url=FEED, category=label, tags=(label,))
    text = render_post(
        entry(title=title, guid=guid, key=guid),
        PostSource(upstream, FEED),
        DATE,
        config.attribution,
    )
    path = Path("2022-06-02-x.md")
    metadata, _ = split_front_matter(path, text)
    post = make_post(path, metadata, config)

    assert post.title == expected_text(title)
    assert post.categories == (expected_text(label),)
    assert post.tags == (expected_text(label),)
    assert post.source == expected_text(source)
    assert metadata["guid"] == _XML_ILLEGAL.sub("", guid)
    assert post.date == DATE


# --- the body --------------------------------------------------------------------------------

HOSTILE_HTML = """
<p onclick="steal()">Hi <a href="javascript:alert(1)">js</a> <a href="JaVaScRiPt:alert(2)">j2</a>
<a href=" javascript:alert(3)">j3</a> <a href="vbscript:msgbox(1)">vb</a></p>
<script>alert('xss')</script><img src=x onerror=alert(1)><img src="javascript:alert(1)">
<iframe src="https://evil.example/"></iframe><style>body{display:none}</style>
<p style="position:fixed;top:0">styled</p><object data="x.swf"></object><embed src="x.swf">
<svg onload="alert(1)"><circle r="1"/></svg><form action="https://evil.example/"><input name=q></form>
<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+"><base href="https://evil.example/">
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<math><mi xlink:href="javascript:alert(1)">m</mi></math><!-- <script>alert(1)</script> -->
<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>
<p>Safe <b>bold</b> text with <a href="https://ok.example/">a link</a>.</p>
"""


def test_hostile_html_never_reaches_the_post(config):
    path = write(config, entry(content_html=HOSTILE_HTML))

    body = body_of(path).lower()

    for bad in (
        "<script",
        "alert(",
        "onerror",
        "onclick",
        "onload",
        "javascript:",
        "vbscript:",
        "<iframe",
        "<style",
        "style=",
        "<object",
        "<embed",
        "<svg",
        "<form",
        "<input",
        "data:",
        "<base",
        "<meta",
        "<math",
        "<noscript",
        "<!--",
    ):
        assert bad not in body, bad
    assert "safe <b>bold</b> text" in body
    assert 'href="https://ok.example/"' in body


def test_relative_urls_are_made_absolute_against_the_entry_link(config):
    html = (
        '<p><a href="/finance/related.html">r</a> <img src="img/chart.png" alt="c">'
        ' <a href="//cdn.example/x.html">p</a> <a href="../up.html">u</a>'
        ' <a href="?page=2">q</a> <a href="https://abs.example/">abs</a></p>'
    )
    link = "https://news.example/finance/2022/06/02/001.html"

    body = body_of(write(config, entry(content_html=html, link=link)))

    for url in (
        "https://news.example/finance/related.html",
        "https://news.example/finance/2022/06/02/img/chart.png",
        "https://cdn.example/x.html",
        "https://news.example/finance/2022/06/up.html",
        "https://news.example/finance/2022/06/02/001.html?page=2",
        "https://abs.example/",
    ):
        assert f'="{url}"' in body, url
    assert '="/finance' not in body and '="img/' not in body and '="//' not in body


def test_blank_lines_in_upstream_html_do_not_break_the_html_block(config):
    html = "<div>\n\n<p>one</p>\n\n\n    indented\n\n*not markdown*</div>"
    path = write(config, entry(content_html=html))
    post, body = load(config, path)

    made = make_entry(post, body, config)

    assert "\n\n" not in body_of(path).split(f'<p class="source">{LINE}</p>')[0]
    assert "<em>" not in made.content_html and "<code>" not in made.content_html
    assert "*not markdown*" in made.content_html and "<p>one</p>" in made.content_html


@pytest.mark.parametrize(
    "content",
    [
        "<p>The <b>full</b> story.</p>",
        f"<p>The story.</p><p>{LINE}</p>",  # the upstream names itself already
        "",
    ],
)
def test_body_renders_back_with_attribution_and_one_closing_line(config, content):
    path = write(config, entry(content_html=content))
    post, body = load(config, path)

    made = make_entry(post, body, config)

    assert (made.attribution.source, made.attribution.url, made.attribution.feed) == (
        "中国网财经",
        LINK,
        FEED,
    )
    assert made.content_html.count(LINE) == 1
    assert made.content_html.count('<p class="source">') == 1
    assert made.content_html.count(f'href="{LINK}"') == 1
    assert body_of(path).count(LINE) == 1  # the page the site renders names it once too
    assert made.categories == ("zhongguowangcaijing", "中国网财经新闻")
    assert made.published == DATE


def test_an_author_is_written_quoted() -> None:
    from dataclasses import replace

    text = render_post(
        replace(entry(), author='记者: "张三"'),
        PostSource(UPSTREAM, FEED),
        DATE,
        AttributionConfig(),
    )
    front, _ = split_front_matter(Path("p.md"), text)
    assert front["author"] == '记者: "张三"'


@pytest.mark.parametrize(
    ("template", "guid", "title", "name"),
    [
        ("{date}-{id}", "NW2022/../x y", "t", "2022-06-02-NW2022---x-y.md"),
        ("{date}-{id}", None, "t", None),  # no id: the hash stands in
        ("{date}-{slug}", "g", "Big News Today", "2022-06-02-big-news-today.md"),
        ("{date}-{id}", "." * 300 + "a" * 300, "t", None),
    ],
)
def test_post_name_templates_are_safe_and_bounded(
    template: str, guid: str | None, title: str, name: str | None
) -> None:
    made = post_file_name(entry(guid=guid, title=title), DATE, "up", template)
    if name is not None:
        assert made == name
    assert made.startswith("2022-06-02-") and made.endswith(".md") and "/" not in made
    assert len(made) <= 153 and not re.search(r"[^\w.-]", made)
