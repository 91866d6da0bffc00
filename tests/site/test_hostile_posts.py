"""Hostile post files: ``build`` never crashes, never writes an invalid feed, and reports every
post it cannot use by its path.

Hypothesis writes sites of a few posts each: front matter made of anything (any Unicode with
control characters, huge values, the wrong types where strings are expected, nested
structures, timestamps of every form and out of range) dumped as YAML, or raw YAML fragments
(anchors and aliases, a billion-laughs bomb, deep nesting, escapes for surrogates and NUL, tags
PyYAML refuses), over bodies of any text, HTML and Markdown. Files are sometimes not UTF-8,
hold NUL bytes or start with a BOM. Every feed written is checked with support/feedcheck.py.

The RELAX NG half of the Atom check runs xmllint (~140 ms a feed): it runs on the site's
atom.xml, which holds every entry; category and tag feeds get every other rule.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from support import feedcheck
from support.feedcheck import assert_valid_atom, assert_valid_jsonfeed, assert_valid_rss
from support.site import REPOSITORY, SITE_TOML

from syndicator.core.config import Config, load_config
from syndicator.feeds.build import BuildReport, build_site
from syndicator.site.files import PostFile
from syndicator.site.posts import PostError, load_post
from syndicator.state.db import State

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"

# --- the site and its checks -------------------------------------------------------------------


@contextlib.contextmanager
def fresh_site() -> Iterator[Config]:
    """A site of its own for each example (hypothesis reuses function-scoped fixtures)."""
    root = Path(tempfile.mkdtemp(prefix="hostile-posts-"))
    try:
        (root / "syndicator.toml").write_text(
            SITE_TOML.replace('dir = "feeds"', 'dir = "feeds"\nmax_items = 1000'),
            encoding="utf-8",
        )
        (root / "_posts").mkdir()
        yield load_config(root / "syndicator.toml")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def build(config: Config) -> BuildReport:
    with State.open(config.state.path) as state:
        return build_site(config, state, now=NOW)


def assert_every_feed_valid(config: Config) -> int:
    checked = 0
    for path in sorted(config.feeds.dir.rglob("*")):
        where = path.relative_to(config.feeds.dir).as_posix()
        try:
            if path.name == "rss.xml":
                assert_valid_rss(path.read_bytes())
            elif path.name == "feed.json":
                assert_valid_jsonfeed(path.read_bytes())
            elif path.name == "atom.xml" and where == "atom.xml":
                assert_valid_atom(path.read_bytes())
            elif path.name == "atom.xml":
                with mock.patch.object(feedcheck, "_atom_schema_if_available", lambda data: []):
                    assert_valid_atom(path.read_bytes())
            else:
                continue
        except AssertionError as error:
            raise AssertionError(f"{where}: {error}") from None
        checked += 1
    return checked


def feed_ids(config: Config) -> set[str]:
    root = etree.fromstring((config.feeds.dir / "atom.xml").read_bytes())
    return {element.text for element in root.iterfind(f"{ATOM}entry/{ATOM}id")}


def assert_every_post_accounted_for(config: Config, paths: list[Path], report: BuildReport):
    """Each post file is reported by path, or published in the site feed, or marked
    ``published: false``, or dated later than NOW, or shadowed by another with its id."""
    reported = {problem.path for problem in report.problems}
    for problem in report.problems:
        assert str(problem).startswith(f"{problem.path}: ") and problem.reason
    published = feed_ids(config)
    notices = "\n".join(report.notices)
    for path in paths:
        file = PostFile(path, config.posts.dirs[0], 0, 0)
        try:
            loaded = load_post(file, config)
        except PostError:
            assert path in reported, f"{path.name} is unusable but not reported"
            continue
        if loaded is None:
            assert path not in reported
            continue
        post, _ = loaded
        assert (
            path in reported
            or post.id in published
            or post.date > NOW
            or f"{path}: same post as" in notices
        ), f"{path.name} (id {post.id}) is in no feed and not reported"


# --- strategies ------------------------------------------------------------------------------

ZONES = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=14)),
     timezone(-timedelta(hours=12)), timezone(timedelta(hours=5, minutes=45))]
)  # fmt: skip
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
HUGE_TEXT = st.sampled_from(["长" * 100_000, "x" * 300_000, "a " * 50_000, "\n" * 10_000])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    ANY_TEXT,
    st.dates(),
    st.datetimes(timezones=ZONES),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
LABELS = st.sampled_from(
    ["news", "财经 新闻", "A (B)", "TechWeb", "techweb", "<&>\"'", "\x01\x1f", "../..", "", " ",
     "%2e%2e", "a/b", "\u202e", "#", "😀"]
)  # fmt: skip
GOOD_DATES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=ZONES
).map(lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S %z").strip())
KNOWN_KEYS = {
    "title": st.one_of(ANY_TEXT, VALUES, HUGE_TEXT),
    "date": st.one_of(GOOD_DATES, VALUES),
    "last_modified_at": st.one_of(GOOD_DATES, VALUES),
    "categories": st.one_of(st.lists(LABELS, max_size=2), LABELS, VALUES),
    "category": st.one_of(LABELS, VALUES),
    "tags": st.one_of(st.lists(LABELS, max_size=2), LABELS),
    "guid": st.one_of(st.just("urn:same"), ANY_TEXT, VALUES),
    "id": st.one_of(st.just("https://site.example/same"), ANY_TEXT),
    "permalink": st.one_of(st.just("/fixed/"), ANY_TEXT, VALUES),
    "slug": st.one_of(ANY_TEXT, VALUES),
    "published": st.one_of(st.booleans(), VALUES),
    "source": st.one_of(ANY_TEXT, VALUES),
    "source_url": st.one_of(st.just("javascript:alert(1)"), ANY_TEXT, VALUES),
    "source_feed": st.one_of(ANY_TEXT, VALUES),
    "layout": VALUES,
}
FRONT_MATTER = st.fixed_dictionaries(
    {}, optional={key: value for key, value in KNOWN_KEYS.items()}
).flatmap(
    lambda known: st.dictionaries(ANY_TEXT, VALUES, max_size=2).map(
        lambda extra: {**extra, **known}
    )
)

BOMB = "\n".join(
    ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
)
RAW_FRAGMENTS = st.sampled_from(
    [
        # timestamps of every form, in and out of range
        "date: 2024-01-05",
        "date: 2024-01-05 10:00:00 +0100",
        "date: 2024-01-05T10:00:00Z",
        "date: 2001-12-14t21:59:43.10-05:00",
        "date: 2001-12-14 21:59:43.10 -5",
        "date: 2024-01-05 10:00",
        "date: 0000-01-01",
        "date: 0001-01-01 00:00:00 +0100",
        "date: 9999-12-31 23:59:59 -1200",
        "date: 99999-01-01",
        "date: 2024-02-30",
        "date: 2024-01-01 25:00:00",
        "date: 1970-01-01 00:00:00 +2400",
        "date: '2024-01-05 10:00:00 +9999'",
        "date:  +0800",
        "date: 1e10",
        "date: -1",
        "last_modified_at: 0000-01-01 00:00:00",
        "last_modified_at: 1900-01-01",
        # anchors, aliases, merges, bombs
        "x: &a [news, sport]\ncategories: *a",
        "base: &b {title: merged}\n<<: *b",
        f"{BOMB}\ncategories: *l8",
        f"{BOMB}\ntitle: *l8",
        f"{BOMB}\ntags: [*l8, *l8]",
        # Deeper (5,000; 200,000) in the plain tests below: each costs ~0.5 s.
        "title: " + "[" * 400 + "]" * 400,
        "tags: " + "{a: " * 400 + "b" + "}" * 400,
        "tags:\n" + "  " + "- " * 400 + "x",
        # escapes and tags
        'title: "\\ud800 lone surrogate"',
        'title: "\\udc80\\ud800"',
        'title: "\\x00 NUL \\x1b ESC \\x7f"',
        'title: "\\u2028\\u2029\\x85 line breaks"',
        "title: !!binary aGVsbG8gd29ybGQ=",
        "title: !!python/object/apply:os.system ['echo pwned']",
        "categories: !!set {a, b}",
        "tags: !!omap [a: 1, b: 2]",
        "date: !!timestamp 2024-01-01",
        "title: !!float 1e400",
        "title: 'unclosed",
        "title: a: b",
        "\ttitle: tab-indented",
        "? [complex, key]\n: value",
        "title: first\ntitle: duplicate",
        "published: false",
        "published: 'false'",
        "...",
    ]
)


@st.composite
def front_matter_text(draw) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(yaml.safe_dump(draw(FRONT_MATTER), allow_unicode=True, width=1 << 30))
    parts.extend(draw(st.lists(RAW_FRAGMENTS, max_size=3)))
    return "\n".join(parts)


BODIES = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(
        [
            "<script>alert(1)</script>正文",
            "[x](javascript:alert(1)) <javascript:alert(1)>",
            "<p>（文章来源：中国网财经）</p>\n\n<http://news.example/a.html>",
            "---\nnot: front matter\n---",
            "\x0b\x1f\x00\ufffe\uffff",
            "返回首页",
            "<" * 10_000,
            "<!-- " * 1000,
        ]
    ),
)
NAMES = st.one_of(
    st.dates(min_value=date(1, 1, 1)).map(lambda day: f"{day:%Y-%m-%d}-post"),
    st.sampled_from(["-leading-dash", "no-date", "2024-13-45-bad-date", "2024-01-01-", "中文"]),
)
EXTENSIONS = st.sampled_from([".md", ".markdown", ".html"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8", "bom", "latin-1", "nul"])


def encode(text: str, encoding: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    if encoding == "bom":
        return b"\xef\xbb\xbf" + data
    if encoding == "latin-1":
        return data + b"\xff\xfe bad bytes"
    if encoding == "nul":
        return data + b"\x00"
    return data


@st.composite
def post_files(draw) -> list[tuple[str, bytes]]:
    files = {}
    for number in range(draw(st.integers(1, 4))):
        name = f"{draw(NAMES)}-{number}{draw(EXTENSIONS)}"
        text = f"---\n{draw(front_matter_text())}\n---\n{draw(BODIES)}\n"
        blank_lines = "\n" * draw(st.integers(0, 1))  # front matter after a blank line
        files[name] = encode(blank_lines + text, draw(ENCODINGS))
    return list(files.items())


# --- the properties --------------------------------------------------------------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files=post_files())
def test_build_never_crashes_writes_valid_feeds_and_reports_what_it_skips(files):
    with fresh_site() as config:
        paths = []
        for name, data in files:
            path = config.posts.dirs[0] / name
            path.write_bytes(data)
            paths.append(path)

        report = build(config)

        assert assert_every_feed_valid(config) >= 3  # the site feeds, at least
        assert_every_post_accounted_for(config, paths, report)
        again = build(config)  # and incrementally: nothing new, the same problems
        assert again.written == [] and {p.path for p in again.problems} == {
            p.path for p in report.problems
        }


# --- the cases hypothesis found, kept as plain tests -------------------------------------------


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("title: a\ndate: 0000-01-01", "year 0 is out of range"),
        ("title: a\ndate: 2024-02-30", "day is out of range for month"),
        ("title: a\ndate: 2024-01-01 25:00:00", "hour must be in 0..23"),
        ("title: a\ndate: 2024-01-01\nlast_modified_at: 0000-01-01 00:00:00", "year 0"),
        (f"{BOMB}\ntitle: x\ndate: 2024-01-01\ncategories: *l8", "YAML aliases are expanded"),
        (f"{BOMB}\ntitle: *l8\ndate: 2024-01-01", "YAML aliases are expanded"),
        (f"{BOMB}\ntitle: x\ndate: 2024-01-01\ntags: *l8", "YAML aliases are expanded"),
        ("title: " + "[" * 5000 + "]" * 5000 + "\ndate: 2024-01-01", "nested"),
        ("title: x\ndate: 99999-01-01", "is not a date"),
        ("title: x\ndate: '2024-01-01 10:00:00 +2400'", "is not a valid date"),
    ],
    ids=[
        "year-0",
        "feb-30",
        "hour-25",
        "updated-year-0",
        "bomb-categories",
        "bomb-title",
        "bomb-tags",
        "nested-5000",
        "year-99999",
        "offset-24h",
    ],
)
def test_an_unusable_post_is_reported_and_the_rest_is_built(front, reason):
    with fresh_site() as config:
        bad = config.posts.dirs[0] / "2024-01-01-bad.md"
        bad.write_text(f"---\n{front}\n---\nbody\n", encoding="utf-8")
        good = config.posts.dirs[0] / "2024-01-02-good.md"
        good.write_text('---\ntitle: "好"\ndate: 2024-01-02\n---\n正文\n', encoding="utf-8")

        report = build(config)

        [problem] = report.problems
        assert problem.path == bad and reason in problem.reason
        assert report.posts == 1
        assert assert_every_feed_valid(config) == 3


NESTED = {
    "flow": "a: " + "[" * 200_000 + "]" * 200_000,
    "mapping": "a: " + "{b: " * 200_000 + "c" + "}" * 200_000,
    "block": "a:\n  " + "- " * 200_000 + "x",
}


@pytest.mark.parametrize("kind", list(NESTED))
def test_deeply_nested_front_matter_does_not_crash_the_process(tmp_path, kind):
    """libyaml's C composer recurses: 200,000 levels crashed the process with SIGSEGV. Run in
    a subprocess, so that a regression fails this test instead of killing the test run."""
    post = tmp_path / "2024-01-01-deep.md"
    post.write_text(f"---\n{NESTED[kind]}\ndate: 2024-01-01\n---\nbody\n", encoding="utf-8")
    script = (
        "import sys; from pathlib import Path\n"
        "from syndicator.site.posts import PostError, split_front_matter\n"
        "path = Path(sys.argv[1])\n"
        "try:\n    split_front_matter(path, path.read_text())\n"
        "except PostError as error:\n    print(error.reason)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(post)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
