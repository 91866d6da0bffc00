"""The shared real corpus (``../shared/corpus/finews``), where it is present.

Its articles belong to their publishers: the tests read them in place and copy nothing.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html
from support.site import CORPUS, CORPUS_MISSING, assert_feeds_valid, feed_files, run_build

from syndicator.core.config import Config, load_config
from syndicator.core.slugs import feed_slug
from syndicator.site.files import PostFile, find_post_files
from syndicator.site.posts import PostError, load_post, read_body
from syndicator.site.scan import scan_posts

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)

BROKEN = "-202205262391921712.md"
DUPLICATE = "2021-12-08-202112082206672930.md"
FUTURE = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
ATOM = "{http://www.w3.org/2005/Atom}"
NAVIGATION = re.compile(r"^\s*返回")


def corpus_config(folder: Path, corpus: Path, dirs: list[str]) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "syndicator.toml"
    listed = ", ".join(json.dumps(str(corpus / d)) for d in dirs)
    path.write_text(
        '[site]\ntitle = "金融消息"\nurl = "https://finews.example.com"\n'
        'timezone = "Asia/Shanghai"\nlanguage = "zh-CN"\n'
        f"[posts]\ndirs = [{listed}]\n"
        '[feeds]\ndir = "feeds"\nmax_items = 1000\n'
        '[state]\npath = "var/state.db"\n'
        '[attribution.source_feeds]\n"中国网财经" = "https://feeds.example.org/finance/rss.xml"\n'
        '[[upstreams]]\nname = "中国证券报"\nurl = "https://feeds.example.org/cs/rss.xml"\n'
        'category = "zhongguozhengquanbao"\n',
        encoding="utf-8",
    )
    return load_config(path)


@pytest.fixture(scope="module")
def corpus_build(tmp_path_factory):
    """The corpus's ``_posts`` and ``old_post`` built once for the whole module."""
    config = corpus_config(tmp_path_factory.mktemp("corpus"), CORPUS, ["_posts", "old_post"])
    report = run_build(config, now=FUTURE)
    return config, report, feed_files(config.feeds.dir)


def test_corpus_fixture_skips_with_the_reason(corpus_dir):
    assert corpus_dir == CORPUS


def test_every_post_but_the_known_broken_one_loads(tmp_path):
    config = corpus_config(tmp_path, CORPUS, ["_posts", "old_post", "_versions"])
    loaded, broken = [], []
    for file in find_post_files(config):
        try:
            result = load_post(file, config)
        except PostError as problem:
            broken.append(problem)
            continue
        assert result is not None
        loaded.append(result[0])
    assert [problem.path.name for problem in broken] == [BROKEN]
    assert len(loaded) == 74  # 68 in _posts, 6 in old_post, 1 in _versions, 1 broken
    assert all(post.date.utcoffset() is not None for post in loaded)


def test_the_broken_posts_date_error_names_it(tmp_path):
    config = corpus_config(tmp_path, CORPUS, ["_posts"])
    path = CORPUS / "_posts" / BROKEN
    with pytest.raises(PostError) as caught:
        load_post(PostFile(path, path.parent, 0, 0), config)
    assert BROKEN in str(caught.value)
    assert "date" in caught.value.reason
    assert "+0800" in caught.value.reason


def test_the_versions_blank_line_post_loads(tmp_path):
    config = corpus_config(tmp_path, CORPUS, ["_versions"])
    path = CORPUS / "_versions/cfbae48/_posts" / DUPLICATE
    assert path.read_bytes().startswith(b"\n---")
    post, body = load_post(PostFile(path, path.parent, 0, 0), config)
    assert post.title
    assert post.categories == ("emnews",)
    assert post.date.isoformat() == "2021-12-08T10:46:18+08:00"
    assert body.strip()


def test_the_duplicate_in_posts_and_old_post_is_kept_once(tmp_path):
    config = corpus_config(tmp_path, CORPUS, ["_posts", "old_post"])
    scan = scan_posts(config)
    ids = [post.id for post in scan.posts]
    assert len(ids) == len(set(ids))
    kept = [post for post in scan.posts if post.path.name == DUPLICATE]
    assert [post.path.parent.name for post in kept] == ["_posts"]
    assert any(DUPLICATE in notice for notice in scan.notices)
    assert [problem.path.name for problem in scan.problems] == [BROKEN]


def test_build_writes_a_valid_feed_for_every_category_and_tag(corpus_build):
    config, report, files = corpus_build
    assert [problem.path.name for problem in report.problems] == [BROKEN]
    posts = scan_posts(config).posts
    folders = {f"categories/{feed_slug(c)}/" for post in posts for c in post.categories}
    folders |= {f"tags/{feed_slug(t)}/" for post in posts for t in post.tags}
    assert "categories/emnews/" in folders and "tags/东财滚动新闻/" in folders
    for folder in ["", *folders]:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert folder + name in files, folder + name
    assert assert_feeds_valid(config.feeds.dir) == 3 * (1 + len(folders))
    site = json.loads(files["feed.json"])
    assert len(site["items"]) == len(posts)


def test_attribution_found_and_published_for_every_credited_post(corpus_build):
    config, _, files = corpus_build
    site = json.loads(files["feed.json"])
    items = {item["id"]: item for item in site["items"]}
    rss_items = {
        item.findtext("guid"): item for item in etree.fromstring(files["rss.xml"]).iter("item")
    }
    atom_entries = {
        entry.findtext(f"{ATOM}id"): entry
        for entry in etree.fromstring(files["atom.xml"]).iter(f"{ATOM}entry")
    }
    credited = [
        post
        for post in scan_posts(config).posts
        if "文章来源" in read_body(post, config.posts.max_bytes)
    ]
    assert len(credited) >= 10
    for post in credited:
        item = items[post.id]
        source = item["_attribution"]["source"]
        assert source, post.path.name
        assert item["external_url"].startswith("http"), post.path.name
        assert item["content_html"].count(f"（文章来源：{source}）") == 1, post.path.name
        rss_source = rss_items[post.id].find("source")
        assert rss_source is not None and rss_source.text == source, post.path.name
        assert rss_source.get("url", "").startswith("http")
        vias = [
            link.get("href")
            for link in atom_entries[post.id].findall(f"{ATOM}link")
            if link.get("rel") == "via"
        ]
        assert vias == [item["external_url"]], post.path.name


def test_a_source_listed_in_source_feeds_gets_that_feed(corpus_build):
    _, _, files = corpus_build
    rss = etree.fromstring(files["categories/zhongguowangcaijing/rss.xml"])
    sources = [item.find("source") for item in rss.iter("item")]
    assert sources and all(s.text == "中国网财经" for s in sources)
    assert {s.get("url") for s in sources} == {"https://feeds.example.org/finance/rss.xml"}


def test_hand_written_posts_keep_their_attribution_whatever_the_upstreams(corpus_build):
    """An upstream named 中国证券报 is configured; the site's own 2022 posts credited to
    中国证券报 keep their own source (the article URL), not that upstream's feed."""
    _, _, files = corpus_build
    rss = etree.fromstring(files["categories/zhongguozhengquanbao/rss.xml"])
    sources = [item.find("source") for item in rss.iter("item")]
    credited = [s for s in sources if s is not None and s.text == "中国证券报"]
    assert credited
    assert all(s.get("url") != "https://feeds.example.org/cs/rss.xml" for s in credited)


def test_no_navigation_link_survives(corpus_build):
    _, _, files = corpus_build
    for name, data in files.items():
        assert "返回首页".encode() not in data, name
        if not name.endswith("feed.json"):
            continue
        for item in json.loads(data)["items"]:
            root = lxml_html.fragment_fromstring(item["content_html"] or "<p></p>", "div")
            for link in root.iter("a"):
                assert not NAVIGATION.search(link.text_content()), (name, item["id"])


def test_no_relative_urls_in_content(corpus_build):
    _, _, files = corpus_build
    for item in json.loads(files["feed.json"])["items"]:
        root = lxml_html.fragment_fromstring(item["content_html"] or "<p></p>", "div")
        for element in root.iter("a", "img"):
            url = element.get("href") or element.get("src")
            if url is not None:
                assert url.startswith(("http://", "https://", "mailto:")), (item["id"], url)


def test_rebuild_of_the_corpus_writes_nothing(corpus_build):
    config, _, files = corpus_build
    again = run_build(config, now=FUTURE)
    assert again.written == []
    assert feed_files(config.feeds.dir) == files


def test_the_real_move_from_posts_to_old_post_changes_no_byte(tmp_path):
    """The corpus holds one article in both folders as the site moved it (the old_post copy
    gained an offset and navigation links): the feeds must not change when it moves."""
    site = tmp_path / "site"
    config = corpus_config(site, site, ["_posts", "old_post"])
    (site / "_posts").mkdir()
    (site / "old_post").mkdir()
    shutil.copy(CORPUS / "_posts" / DUPLICATE, site / "_posts" / DUPLICATE)
    run_build(config, now=FUTURE)
    before = feed_files(config.feeds.dir)
    (site / "_posts" / DUPLICATE).unlink()
    shutil.copy(CORPUS / "old_post" / DUPLICATE, site / "old_post" / DUPLICATE)
    report = run_build(config, now=FUTURE)
    assert report.posts == 1
    assert report.written == []
    assert feed_files(config.feeds.dir) == before
