"""``build`` over the fixture site: every feed valid, broken posts reported, determinism,
the ``_posts/`` → ``old_post/`` move, removal of stale feeds, scheduled posts, max_items."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import pytest
from lxml import etree
from support.site import SITE_TOML, assert_feeds_valid, feed_files, run_build, write_post

from syndicator.core.atomic import remove_stale_temporaries, write_atomic, write_if_changed
from syndicator.core.config import load_config
from syndicator.feeds.ownership import MANIFEST

FUTURE = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
ATOM = "{http://www.w3.org/2005/Atom}"
CATEGORIES = {
    "anxinguojizhengquanxianggang-21caijingapp",
    "cailianshe",
    "emnews",
    "macro-economy",
    "markets",
    "quanshangzhongguo",
    "techweb",
    "zhongguowangcaijing",
    "zhongguozhengquanbao",
}
TAGS = {
    "techweb新闻",
    "东财滚动新闻",
    "中国网财经新闻",
    "中国证券报新闻",
    "券商中国新闻",
    "安信国际新闻",
    "市场",
    "快讯",
    "财联社新闻",
}
FORMAT_FILES = ("rss.xml", "atom.xml", "feed.json")


def expected_files() -> set[str]:
    folders = [""] + [f"categories/{c}/" for c in CATEGORIES] + [f"tags/{t}/" for t in TAGS]
    files = {folder + name for folder in folders for name in FORMAT_FILES}
    return files | {"feeds.opml", "index.html"}


def test_every_feed_written_and_valid(built_fixture_site):
    config, report = built_fixture_site
    files = feed_files(config.feeds.dir)
    assert set(files) == expected_files()
    assert assert_feeds_valid(config.feeds.dir) == 3 * (1 + len(CATEGORIES) + len(TAGS))
    assert report.feeds == 1 + len(CATEGORIES) + len(TAGS)
    assert sorted(report.written) == sorted(files)
    assert report.unchanged == 0


def test_techweb_variants_share_one_feed(built_fixture_site):
    config, _ = built_fixture_site
    feed = json.loads((config.feeds.dir / "categories/techweb/feed.json").read_bytes())
    assert [item["title"] for item in feed["items"]] == ["Techweb 分类二", "TechWeb 分类一"]
    assert not (config.feeds.dir / "categories/TechWeb").exists()


def test_unusable_posts_reported_and_the_rest_built(built_fixture_site):
    config, report = built_fixture_site
    problems = {problem.path.name: problem.reason for problem in report.problems}
    assert set(problems) == {"-202205260000000001.md", "2022-02-01-colon-title.md"}
    assert "+0800" in problems["-202205260000000001.md"]
    assert "line 3" in problems["2022-02-01-colon-title.md"]
    site = json.loads((config.feeds.dir / "feed.json").read_bytes())
    # 19 files, 2 broken, 1 unpublished: 16 posts, all within max_items.
    assert report.posts == 16
    assert len(site["items"]) == 16
    titles = {item["title"] for item in site["items"]}
    assert "草稿" not in titles  # published: false


def test_site_feed_newest_first(built_fixture_site):
    config, _ = built_fixture_site
    site = json.loads((config.feeds.dir / "feed.json").read_bytes())
    dates = [datetime.fromisoformat(item["date_published"]) for item in site["items"]]
    assert dates == sorted(dates, reverse=True)
    rss = etree.fromstring((config.feeds.dir / "rss.xml").read_bytes())
    assert rss.findtext("channel/lastBuildDate") == "Thu, 02 Jun 2022 14:05:33 +0800"


def test_attribution_published_in_all_three_formats(built_fixture_site):
    config, _ = built_fixture_site
    folder = config.feeds.dir / "categories/zhongguowangcaijing"
    original = "http://news.example.org/original/123.html"
    upstream_feed = "https://feeds.example.org/finance/rss.xml"
    rss = etree.fromstring((folder / "rss.xml").read_bytes())
    source = rss.find("channel/item/source")
    assert (source.text, source.get("url")) == ("中国网财经", upstream_feed)
    atom = etree.fromstring((folder / "atom.xml").read_bytes())
    entry = atom.find(f"{ATOM}entry")
    via = [link.get("href") for link in entry.findall(f"{ATOM}link") if link.get("rel") == "via"]
    assert via == [original]
    assert entry.findtext(f"{ATOM}source/{ATOM}title") == "中国网财经"
    item = json.loads((folder / "feed.json").read_bytes())["items"][0]
    assert item["external_url"] == original
    assert item["content_html"].count("（文章来源：中国网财经）") == 1


def test_second_build_writes_nothing(built_fixture_site):
    config, first = built_fixture_site
    before = {path: path.stat().st_mtime_ns for path in config.feeds.dir.rglob("*")}
    bytes_before = feed_files(config.feeds.dir)
    again = run_build(config, now=FUTURE + timedelta(days=3))
    assert again.written == []
    assert again.removed == []
    assert again.unchanged == len(first.written)
    assert feed_files(config.feeds.dir) == bytes_before
    assert {path: path.stat().st_mtime_ns for path in config.feeds.dir.rglob("*")} == before


def test_build_at_different_times_gives_the_same_bytes(fixture_site, tmp_path):
    """Feed ``updated``/``lastBuildDate`` come from the entries, never the clock."""
    first = load_config(fixture_site)
    run_build(first, now=FUTURE)
    copy = tmp_path / "copy"
    shutil.copytree(fixture_site.parent, copy, ignore=shutil.ignore_patterns("feeds", "var"))
    second = load_config(copy / "syndicator.toml")
    run_build(second, now=FUTURE + timedelta(days=400))
    assert feed_files(first.feeds.dir) == feed_files(second.feeds.dir)


def test_moving_a_post_to_old_post_changes_no_byte(built_fixture_site):
    config, _ = built_fixture_site
    before = feed_files(config.feeds.dir)
    root = config.path.parent
    for name in ["2022-06-02-offset-date.md", "2021-12-08-naive-date.md", "2022-01-05-bom.md"]:
        shutil.move(root / "_posts" / name, root / "old_post" / name)
    report = run_build(config, now=FUTURE)
    assert report.written == []
    assert feed_files(config.feeds.dir) == before


def test_the_same_post_in_both_folders_is_kept_once(built_fixture_site):
    config, _ = built_fixture_site
    root = config.path.parent
    shutil.copy(root / "old_post/2021-11-30-moved.md", root / "_posts/2021-11-30-moved.md")
    report = run_build(config, now=FUTURE)
    assert report.written == []
    assert len(report.notices) == 1
    assert "2021-11-30-moved.md" in report.notices[0]


def test_deleting_a_category_removes_its_feeds_and_only_ours(built_fixture_site):
    config, _ = built_fixture_site
    root, feeds = config.path.parent, config.feeds.dir
    (feeds / "categories/cailianshe/notes.txt").write_text("mine", encoding="utf-8")
    (feeds / "categories/markets/keep.txt").write_text("mine", encoding="utf-8")
    (root / "_posts/2022-05-31-upstream-html.md").unlink()
    report = run_build(config, now=FUTURE)
    assert sorted(report.removed) == sorted(
        [f"categories/cailianshe/{name}" for name in FORMAT_FILES]
        + [f"tags/财联社新闻/{name}" for name in FORMAT_FILES]
    )
    assert (feeds / "categories/cailianshe/notes.txt").read_text(encoding="utf-8") == "mine"
    assert not (feeds / "tags/财联社新闻").exists()  # emptied folders go too
    assert (feeds / "categories/markets/keep.txt").exists()
    assert "cailianshe" not in (feeds / "feeds.opml").read_text(encoding="utf-8")
    assert "feeds.opml" in report.written
    assert assert_feeds_valid(feeds) > 0


def test_files_we_did_not_write_are_never_removed(fixture_site):
    config = load_config(fixture_site)
    stranger = config.feeds.dir / "categories/someone-elses/rss.xml"
    stranger.parent.mkdir(parents=True)
    stranger.write_bytes(b"<rss/>")
    report = run_build(config, now=FUTURE)
    assert "categories/someone-elses/rss.xml" not in report.removed
    assert stranger.read_bytes() == b"<rss/>"


def test_future_posts_wait_for_their_time(fixture_site):
    config = load_config(fixture_site)
    root = config.path.parent
    write_post(
        root / "_posts",
        "2030-01-01-scheduled.md",
        'title: "定时发布"\ndate: 2030-01-01 09:00:00 +0800\ncategories: scheduled\n',
    )
    before = run_build(config, now=datetime.fromisoformat("2029-12-31T00:00:00+00:00"))
    assert before.scheduled == 1
    assert not (config.feeds.dir / "categories/scheduled").exists()
    assert "定时发布" not in (config.feeds.dir / "feed.json").read_text(encoding="utf-8")
    after = run_build(config, now=datetime.fromisoformat("2030-01-01T01:00:00+00:00"))
    assert after.scheduled == 0
    assert (config.feeds.dir / "categories/scheduled/rss.xml").exists()
    site = json.loads((config.feeds.dir / "feed.json").read_bytes())
    assert site["items"][0]["title"] == "定时发布"


def test_no_temporary_files_left(built_fixture_site):
    config, _ = built_fixture_site
    run_build(config, now=FUTURE)
    hidden = [p.name for p in config.feeds.dir.rglob("*") if p.name.startswith(".")]
    assert hidden == [MANIFEST]  # the list of files syndicator wrote, never served
    assert [p for p in config.feeds.dir.rglob("*.tmp")] == []


@pytest.fixture
def many_posts(tmp_path, config_from):
    """Twelve posts a day apart, written in shuffled order, max_items = 5."""
    for day in [7, 2, 11, 4, 9, 1, 12, 3, 6, 10, 5, 8]:
        write_post(
            tmp_path / "_posts",
            f"2022-03-{day:02d}-p{day}.md",
            f'title: "第{day}天"\ndate: 2022-03-{day:02d} 08:00:00 +0800\ncategories: news\n'
            "tags: daily\n",
        )
    return config_from(SITE_TOML.replace('dir = "feeds"', 'dir = "feeds"\nmax_items = 5'))


def test_max_items_newest_first(many_posts):
    run_build(many_posts, now=FUTURE)
    for folder in ["", "categories/news/", "tags/daily/"]:
        data = (many_posts.feeds.dir / f"{folder}feed.json").read_bytes()
        titles = [item["title"] for item in json.loads(data)["items"]]
        assert titles == ["第12天", "第11天", "第10天", "第9天", "第8天"]
        rss = etree.fromstring((many_posts.feeds.dir / f"{folder}rss.xml").read_bytes())
        assert [i.findtext("title") for i in rss.iter("item")] == titles
    assert assert_feeds_valid(many_posts.feeds.dir) == 9


def test_formats_and_feed_kinds_follow_the_config(tmp_path, config_from):
    write_post(tmp_path / "_posts", "2022-01-01-x.md")
    text = SITE_TOML.replace(
        'dir = "feeds"', 'dir = "feeds"\nformats = ["atom"]\ntags = false\ncategories = true'
    )
    config = config_from(text)
    run_build(config, now=FUTURE)
    assert set(feed_files(config.feeds.dir)) == {
        "atom.xml",
        "categories/news/atom.xml",
        "feeds.opml",
        "index.html",
    }


def test_empty_site_still_gets_valid_site_feeds(tmp_path, config_from):
    config = config_from(SITE_TOML)
    report = run_build(config, now=FUTURE)
    assert report.posts == 0
    assert set(feed_files(config.feeds.dir)) == {
        "rss.xml",
        "atom.xml",
        "feed.json",
        "feeds.opml",
        "index.html",
    }
    assert assert_feeds_valid(config.feeds.dir) == 3


def test_one_posts_bad_bytes_never_break_a_feed(tmp_path, config_from):
    config = config_from(SITE_TOML)
    write_post(tmp_path / "_posts", "2022-01-01-good.md")
    write_post(
        tmp_path / "_posts",
        "2022-01-02-bad.md",
        'title: "坏\\x0b\\x1f"\ndate: 2022-01-02\ncategories: news\n',
        "<p>\x01\x02\x0b</p>\ufffe\n",
    )
    (tmp_path / "_posts/2022-01-03-binary.md").write_bytes(b"\x00\x01\x02")
    report = run_build(config, now=FUTURE)
    assert [p.path.name for p in report.problems] == ["2022-01-03-binary.md"]
    assert report.posts == 2
    assert assert_feeds_valid(config.feeds.dir) == 6


def test_odd_poller_front_matter_keeps_feeds_valid(tmp_path, config_from):
    """Upstream guids that are not IRIs and attribution URLs that are not URLs (or not
    ASCII) must not make any feed invalid."""
    config = config_from(SITE_TOML)
    write_post(
        tmp_path / "_posts",
        "2022-01-01-odd.md",
        'title: "t"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\n'
        "source: 某报\nsource_url: http://例子.cn/新闻\nsource_feed: 见原文\nguid: 12345\n",
    )
    write_post(
        tmp_path / "_posts",
        "2022-01-02-odd.html",
        'title: "t2"\ndate: 2022-01-02 10:00:00 +0800\ncategories: news\nid: 77\n',
        "<p>正文。</p>\n<p>（文章来源：某报）</p>\n\n<http://例子.cn/原文>\n",
    )
    report = run_build(config, now=FUTURE)
    assert report.problems == []
    assert assert_feeds_valid(config.feeds.dir) == 6


def test_write_if_changed_and_atomic_writes(tmp_path):
    target = tmp_path / "feeds/categories/x/rss.xml"
    assert write_if_changed(target, b"one") is True
    stamp = target.stat().st_mtime_ns
    assert write_if_changed(target, b"one") is False
    assert target.stat().st_mtime_ns == stamp
    assert write_if_changed(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rss.xml"]


def test_a_failed_write_leaves_no_temporary(tmp_path):
    blocked = tmp_path / "feeds" / "rss.xml"
    blocked.mkdir(parents=True)  # a folder where the file should go: the rename fails
    (blocked / "child").write_text("x", encoding="utf-8")
    with pytest.raises(OSError):
        write_atomic(blocked, b"data")
    assert sorted(p.name for p in blocked.parent.iterdir()) == ["rss.xml"]


def test_stale_temporaries_removed(tmp_path):
    (tmp_path / "tags/x").mkdir(parents=True)
    (tmp_path / "tags/x/.rss.xml.abc12_yz.tmp").write_bytes(b"partial")
    (tmp_path / ".atom.xml.def45678.tmp").write_bytes(b"partial")
    (tmp_path / ".someone-elses.tmp").write_bytes(b"not ours")  # not write_atomic's shape
    (tmp_path / "tags/x/rss.xml").write_bytes(b"kept")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/.data.csv.abcd1234.tmp").write_bytes(b"another program's")
    ours = {"atom.xml", "tags/x/rss.xml"}

    def our_names(names: set[str]) -> set[str]:
        return names & ours

    assert remove_stale_temporaries(tmp_path, our_names, recursive=False) == 1
    assert remove_stale_temporaries(tmp_path, our_names) == 1
    kept = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert kept == [".data.csv.abcd1234.tmp", ".someone-elses.tmp", "rss.xml"]
