"""``check``'s promise: every readable post is an entry of the feeds it belongs to, or is
named with the reason it is not (``published: false``, dated in the future, shadowed by a
post with the same id). A post older than a feed's newest ``max_items`` is no defect."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from support.processes import syndicator
from support.published import posts_missing_from_feeds
from support.site import SITE_TOML, run_build, write_post

from syndicator.core.config import load_config
from syndicator.site.scan import scan_posts

NOW = datetime(2024, 6, 1, tzinfo=UTC)
GUID = "http://example.org/entry/1"


def front(title: str, date: str = "2022-06-02 14:05:33 +0800", extra: str = "") -> str:
    return f'title: "{title}"\ndate: {date}\ncategories: news\n{extra}'


@pytest.fixture
def site(tmp_path):
    """A site with one post of each kind that no feed shows, and posts every feed shows."""
    text = SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]')
    (tmp_path / "syndicator.toml").write_text(text, encoding="utf-8")
    posts, old = tmp_path / "_posts", tmp_path / "old_post"
    write_post(posts, "2022-06-02-shown.md", front("Shown"))
    write_post(posts, "2022-06-02-draft.md", front("Draft", extra="published: false\n"))
    write_post(posts, "2030-01-01-scheduled.md", front("Later", "2030-01-01 09:00:00 +0800"))
    write_post(posts, "2022-06-02-moved.md", front("Moved"))
    write_post(old, "2022-06-02-moved.md", front("Moved"))  # a copy being moved: the same post
    write_post(posts, "2022-06-02-first.md", front("First", extra=f'guid: "{GUID}"\n'))
    write_post(posts, "2022-06-03-other.md", front("Other", extra=f'guid: "{GUID}"\n'))
    return tmp_path / "syndicator.toml"


def test_every_post_no_feed_shows_is_named_with_the_reason(site):
    folder = site.parent

    scan = scan_posts(load_config(site), now=NOW)

    assert {(item.path.name, item.reason) for item in scan.left_out} == {
        ("2022-06-02-draft.md", "published: false"),
        (
            "2030-01-01-scheduled.md",
            "dated 2030-01-01 09:00 +0800, in the future: in its feeds from then",
        ),
    }
    assert scan.notices == [
        f"{folder / 'old_post/2022-06-02-moved.md'}: same post as "
        f"{folder / '_posts/2022-06-02-moved.md'} (id "
        "https://site.example/news/2022/06/02/moved); kept that one"
    ]
    (lost,) = scan.problems
    assert lost.path == folder / "_posts/2022-06-03-other.md"
    assert lost.reason.startswith(
        f"same id as {folder / '_posts/2022-06-02-first.md'} ({GUID}), so no feed shows this post"
    )


def test_what_a_build_leaves_out_is_what_check_names(site):
    config = load_config(site)
    scan = scan_posts(config)
    named = {item.path for item in scan.left_out} | {problem.path for problem in scan.problems}

    run_build(config)

    missing = set(posts_missing_from_feeds(config))
    assert missing <= named  # the moved copy is shown: it is the same post
    assert config.posts.dirs[0] / "2022-06-03-other.md" in missing  # the shadowed one


def test_a_post_older_than_a_full_feed_is_no_defect(tmp_path):
    path = tmp_path / "syndicator.toml"
    path.write_text(SITE_TOML.replace('dir = "feeds"', 'dir = "feeds"\nmax_items = 2'), "utf-8")
    for day in (1, 2, 3):
        write_post(tmp_path / "_posts", f"2022-06-0{day}-p.md", front(f"P{day}", f"2022-06-0{day}"))
    config = load_config(path)

    run_build(config)

    scan = scan_posts(config)
    assert (scan.problems, scan.left_out) == ([], [])
    assert posts_missing_from_feeds(config) == []


def test_check_lists_the_posts_in_no_feed(site):
    result = syndicator("check", config=site)

    assert result.returncode == 1  # a post lost to every feed is a problem
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("in no feed: ") and line.endswith("2022-06-02-draft.md: published: false")
        for line in lines
    )
    assert any(
        line.startswith("in no feed: ") and "2030-01-01-scheduled.md: dated 2030-01-01" in line
        for line in lines
    )
    assert any("2022-06-03-other.md: same id as " in line for line in lines)
    assert lines[-1].endswith("2 in no feed (listed above)")

    report = json.loads(syndicator("check", "--json", config=site).stdout)

    assert {item["path"].rsplit("/", 1)[1] for item in report["left_out"]} == {
        "2022-06-02-draft.md",
        "2030-01-01-scheduled.md",
    }
    assert [item["path"].rsplit("/", 1)[1] for item in report["problems"]] == [
        "2022-06-03-other.md"
    ]


def test_check_warns_of_a_post_without_a_title(tmp_path) -> None:
    (tmp_path / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    write_post(tmp_path / "_posts", "2022-06-02-untitled.md", "date: 2022-06-02\n")
    write_post(tmp_path / "_posts", "2022-06-02-titled.md", front("Titled"))

    result = syndicator("check", config=tmp_path / "syndicator.toml")

    assert result.returncode == 0, result.stdout  # a warning, not a problem
    [warning] = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert "2022-06-02-untitled.md: no title" in warning and "title:" in warning
    result = syndicator("check", "--json", config=tmp_path / "syndicator.toml")
    [warning] = json.loads(result.stdout)["warnings"]
    assert "untitled" in warning
