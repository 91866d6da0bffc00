"""Reading posts: every front matter quirk of the fixture site, broken posts, finding files.

PITFALLS.md (python-frontmatter): a BOM hides the front matter; four date types; an unquoted
colon raises ScannerError; ``categories: news updates`` is one string; ``category`` singular.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.site import SITE_TOML, write_post

from syndicator.core.config import load_config
from syndicator.site.files import PostFile, find_post_files, missing_folders
from syndicator.site.posts import PostError, load_post, read_body


@pytest.fixture
def site(fixture_site):
    """(config, site folder) of the fixture site."""
    return load_config(fixture_site), fixture_site.parent


def load(config, path: Path):
    """The Post of ``path`` (or None for an unpublished one)."""
    loaded = load_post(PostFile(path, path.parent, 0, 0), config)
    return None if loaded is None else loaded[0]


def offset_hours(moment: datetime) -> float:
    delta = moment.utcoffset()
    assert delta is not None
    return delta / timedelta(hours=1)


def test_offset_date_string(site):
    config, root = site
    post = load(config, root / "_posts/2022-06-02-offset-date.md")
    assert post.date.isoformat() == "2022-06-02T14:05:33+08:00"
    assert post.title == "加拿大年金计划委员会披露持仓"
    assert post.categories == ("zhongguozhengquanbao",)
    assert post.tags == ("中国证券报新闻",)
    assert post.id == "https://finews.example.com/zhongguozhengquanbao/2022/06/02/offset-date"
    assert post.url == post.id + ".html"
    assert post.markdown is True


def test_naive_date_in_site_zone(site):
    config, root = site
    post = load(config, root / "_posts/2021-12-08-naive-date.md")
    assert post.date.isoformat() == "2021-12-08T10:46:18+08:00"


def test_yaml_date_and_list_categories_and_string_tags(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-02-yaml-date.md")
    assert post.date.isoformat() == "2022-02-02T00:00:00+08:00"
    assert post.categories == ("markets", "Macro Economy")
    assert post.tags == ("快讯", "市场")
    assert post.title == "2022"  # YAML gives an int; the title is its text


def test_aware_datetime_offset_kept(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-03-aware-datetime.md")
    assert offset_hours(post.date) == 9
    assert post.date.isoformat() == "2022-02-03T14:05:33+09:00"


def test_byte_order_mark(site):
    """PITFALLS: a UTF-8 BOM hides the front matter silently unless read as utf-8-sig."""
    config, root = site
    path = root / "_posts/2022-01-05-bom.md"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf---")
    post = load(config, path)
    assert post.title == "带字节顺序标记的文章"
    assert post.date.isoformat() == "2022-01-05T09:00:00+08:00"
    assert "\ufeff" not in read_body(post, config.posts.max_bytes)


def test_blank_line_before_front_matter(site):
    config, root = site
    path = root / "_versions/2021-12-08-blank-line-first.md"
    assert path.read_text(encoding="utf-8").startswith("\n---")
    post = load(config, path)
    assert post.title == "前面有空行"
    assert post.categories == ("emnews",)
    assert "前面有空行的文章" in read_body(post, config.posts.max_bytes)


def test_empty_title_is_empty(tmp_path, site):
    config, _ = site
    path = write_post(tmp_path, "2022-01-01-x.md", 'title: ""\ndate: 2022-01-01 10:00:00 +0800\n')
    assert load(config, path).title == ""


def test_unusable_date_with_dash_file_name(site):
    config, root = site
    path = root / "_posts/-202205260000000001.md"
    with pytest.raises(PostError) as caught:
        load(config, path)
    assert caught.value.path == path
    assert "-202205260000000001.md" in str(caught.value)
    assert "+0800" in caught.value.reason


def test_unquoted_colon_reports_the_line(site):
    """PITFALLS: an unquoted colon in a title raises ScannerError; report file and line."""
    config, root = site
    path = root / "_posts/2022-02-01-colon-title.md"
    with pytest.raises(PostError) as caught:
        load(config, path)
    assert caught.value.path == path
    assert "2022-02-01-colon-title.md" in str(caught.value)
    assert "line 3" in caught.value.reason  # the title is the file's third line


def test_unquoted_colon_line_counts_leading_blank_lines(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-x.md"
    path.write_text("\n\n---\nlayout: post\ntitle: a: b\n---\nbody\n", encoding="utf-8")
    with pytest.raises(PostError, match="line 5"):
        load(config, path)


def test_categories_string_split_on_whitespace(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\ncategories: news  updates\n"
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert post.categories == ("news", "updates")
    assert post.url == "https://finews.example.com/news/updates/2022/01/01/x.html"


def test_categories_split_like_ruby_on_ascii_whitespace_only(tmp_path, site):
    """Jekyll splits with Ruby's String#split: an ideographic space is not a separator."""
    config, _ = site
    front = 'date: 2022-01-01 10:00:00 +0800\ncategories: "财经\u3000新闻\\tmarkets"\n'
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert len(post.categories) == 2
    assert post.categories[1] == "markets"


def test_singular_category_taken_whole(site):
    config, root = site
    post = load(config, root / "_posts/2022-01-06-category-space-parens.md")
    assert post.categories == ("anxinguojizhengquan(xianggang) 21caijingAPP",)
    assert post.tags == ("安信国际新闻",)


def test_category_and_categories_together_as_jekyll(tmp_path, site):
    """Jekyll's populate_categories keeps ``categories`` (split) and adds ``category``."""
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\ncategories: a b\ncategory: c d\n"
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert post.categories == ("a", "b", "c d")


def test_singular_tag_wins_and_is_taken_whole(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\ntag: 中国 财经\ntags: x y\n"
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert post.tags == ("中国 财经",)


def test_list_tags_and_nested_lists(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\ntags: [a b, [c], 7, null, a b]\n"
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert post.tags == ("a b", "c", "7")


def test_no_categories(tmp_path, site):
    config, _ = site
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", "date: 2022-01-01\n"))
    assert post.categories == ()
    assert post.tags == ()
    assert post.url == "https://finews.example.com/2022/01/01/x.html"


def test_unpublished_post_is_skipped(site):
    config, root = site
    assert load(config, root / "_posts/2022-02-07-unpublished.md") is None


def test_published_true_and_other_values_are_kept(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\npublished: true\n"
    assert load(config, write_post(tmp_path, "2022-01-01-x.md", front)) is not None


def test_control_characters_dropped_from_title(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-04-control-chars.md")
    assert post.title == "控制字符在标题里"


def test_poller_front_matter_keys(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-06-front-matter-source.md")
    assert post.id == "urn:example:123"
    assert post.url == (
        "https://finews.example.com/zhongguowangcaijing/2022/02/06/front-matter-source.html"
    )
    assert post.source == "中国网财经"
    assert post.source_url == "http://news.example.org/original/123.html"
    assert post.source_feed == "https://feeds.example.org/finance/rss.xml"


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("guid: urn:example:123\n", "urn:example:123"),
        ("guid: http://upstream.example/a/1\n", "http://upstream.example/a/1"),
        ("id: tag:finews.example.com,2022:7\n", "tag:finews.example.com,2022:7"),
        # Not absolute IRIs: an Atom id cannot be these, so the Jekyll id is used.
        ("guid: 12345\n", "https://finews.example.com/news/2022/01/01/x"),
        ("guid: not a url at all\n", "https://finews.example.com/news/2022/01/01/x"),
        ("id: 123\n", "https://finews.example.com/news/2022/01/01/x"),
        ("guid: http:relative\n", "https://finews.example.com/news/2022/01/01/x"),
        ("guid: 12345\nid: urn:x:1\n", "urn:x:1"),
    ],
)
def test_front_matter_guid_or_id(tmp_path, site, front, expected):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\ncategories: news\n" + front
    assert load(config, write_post(tmp_path, "2022-01-01-x.md", front)).id == expected


def test_html_post_is_not_markdown(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-05-html-post.html")
    assert post.markdown is False
    assert post.url.endswith("/markets/2022/02/05/html-post.html")


def test_old_post_folder(site):
    config, root = site
    post = load(config, root / "old_post/2021-11-30-moved.md")
    assert post.id == "https://finews.example.com/emnews/2021/11/30/moved"


def test_last_modified_at_is_updated(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\nlast_modified_at: 2022-01-03 08:00:00 +0800\n"
    post = load(config, write_post(tmp_path, "2022-01-01-x.md", front))
    assert post.updated.isoformat() == "2022-01-03T08:00:00+08:00"
    assert post.date.isoformat() == "2022-01-01T10:00:00+08:00"


def test_updated_never_before_published(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-05 10:00:00 +0800\nlast_modified_at: 2022-01-01\n"
    post = load(config, write_post(tmp_path, "2022-01-05-x.md", front))
    assert post.updated == post.date


def test_bad_last_modified_at(tmp_path, site):
    config, _ = site
    front = "date: 2022-01-01 10:00:00 +0800\nlast_modified_at: soon\n"
    with pytest.raises(PostError, match="soon"):
        load(config, write_post(tmp_path, "2022-01-01-x.md", front))


def test_no_date_key_takes_the_file_name_date(tmp_path, site):
    config, _ = site
    post = load(config, write_post(tmp_path, "2022-03-04-x.md", "title: t\n"))
    assert post.date.isoformat() == "2022-03-04T00:00:00+08:00"


def test_empty_date_takes_the_file_name_date(tmp_path, site):
    config, _ = site
    post = load(config, write_post(tmp_path, "2022-03-04-x.md", "title: t\ndate:\n"))
    assert post.date.isoformat() == "2022-03-04T00:00:00+08:00"


def test_no_date_at_all(tmp_path, site):
    config, _ = site
    path = write_post(tmp_path, "undated.md", "title: t\n")
    with pytest.raises(PostError, match="no date") as caught:
        load(config, path)
    assert caught.value.path == path


def test_undecodable_bytes(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-latin1.md"
    path.write_bytes("---\ntitle: caf\xe9\ndate: 2022-01-01\n---\nbody\n".encode("latin-1"))
    with pytest.raises(PostError) as caught:
        load(config, path)
    assert caught.value.path == path
    assert "UTF-8" in caught.value.reason
    assert "line 2" in caught.value.reason


def test_binary_file(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-image.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    with pytest.raises(PostError, match="binary") as caught:
        load(config, path)
    assert caught.value.path == path


def test_no_front_matter(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-plain.md"
    path.write_text("Just text.\n", encoding="utf-8")
    with pytest.raises(PostError, match="no front matter"):
        load(config, path)


def test_unclosed_front_matter(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-open.md"
    path.write_text("---\ntitle: t\ndate: 2022-01-01\nbody\n", encoding="utf-8")
    with pytest.raises(PostError, match="not closed"):
        load(config, path)


def test_front_matter_that_is_a_list(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-list.md"
    path.write_text("---\n- a\n- b\n---\nbody\n", encoding="utf-8")
    with pytest.raises(PostError, match="not a mapping"):
        load(config, path)


def test_empty_front_matter(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-empty.md"
    path.write_text("---\n---\nbody\n", encoding="utf-8")
    post = load(config, path)
    assert post.title == ""
    assert post.date.isoformat() == "2022-01-01T00:00:00+08:00"


def test_empty_file(tmp_path, site):
    config, _ = site
    path = tmp_path / "2022-01-01-nothing.md"
    path.write_bytes(b"")
    with pytest.raises(PostError, match="no front matter"):
        load(config, path)


def test_read_body_reads_the_body_only(site):
    config, root = site
    post = load(config, root / "_posts/2022-02-06-front-matter-source.md")
    body = read_body(post, config.posts.max_bytes)
    assert "上游正文" in body
    assert "source_feed" not in body


# --- finding post files ------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path, config_from):
    """A post tree with nesting, hidden files, other extensions and an absent folder."""
    posts = tmp_path / "_posts"
    for name in [
        "2022-01-01-a.md",
        "sub/deeper/2022-01-02-b.markdown",
        "2022-01-03-c.HTML",
        ".2022-01-04-hidden.md",
        ".git/2022-01-05-in-hidden-folder.md",
        "notes.txt",
        "2022-01-06-d.md.swp",
        "2022-01-07-e.mkd",
    ]:
        write_post(posts, name)
    write_post(tmp_path / "old_post", "2021-01-01-old.md")
    return config_from(SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]'))


def names(files) -> list[str]:
    return [file.path.name for file in files]


def test_find_post_files_recursive_hidden_skipped_extension_filter(tree, tmp_path):
    files = list(find_post_files(tree))
    assert names(files) == [
        "2022-01-01-a.md",
        "2022-01-03-c.HTML",
        "2022-01-02-b.markdown",
        "2021-01-01-old.md",
    ]
    assert [file.folder.name for file in files] == ["_posts", "_posts", "_posts", "old_post"]
    assert all(file.size > 0 and file.mtime_ns > 0 for file in files)


def test_find_post_files_stable_order(tree):
    assert names(find_post_files(tree)) == names(find_post_files(tree))


def test_find_post_files_configured_extensions(tmp_path, config_from):
    write_post(tmp_path / "_posts", "2022-01-01-a.md")
    write_post(tmp_path / "_posts", "2022-01-02-b.markdown")
    write_post(tmp_path / "_posts", "2022-01-03-c.mkd")
    config = config_from(
        SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts"]\nextensions = [".MKD", ".md"]')
    )
    assert names(find_post_files(config)) == ["2022-01-01-a.md", "2022-01-03-c.mkd"]


def test_a_missing_post_folder_lists_no_files_and_is_named(tmp_path, site_config):
    """Listing files finds none in it; the build refuses to take that for an empty site."""
    config = site_config()
    config.posts.dirs[0].rmdir()
    assert list(find_post_files(config)) == []
    [problem] = missing_folders(config)
    assert problem.startswith(f"post folder {config.posts.dirs[0]} is missing (posts.dirs)")
