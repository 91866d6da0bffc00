"""``[posts] max_labels``: a post's categories and tags together are capped, categories
first, whether written as a string or a list; those left out are counted and said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.site import SITE_TOML, write_post

from syndicator.core.config import Config, load_config
from syndicator.site.posts import Post, labels_notice, parse_post

LABELS = [f"标签{number}" for number in range(1000)]


def site_with_max_labels(tmp_path: Path, limit: int | None) -> Config:
    toml = (
        SITE_TOML
        if limit is None
        else SITE_TOML.replace("[posts]\n", f"[posts]\nmax_labels = {limit}\n")
    )
    (tmp_path / "syndicator.toml").write_text(toml, encoding="utf-8")
    return load_config(tmp_path / "syndicator.toml")


def read_post(config: Config, tmp_path: Path, labels: str) -> Post:
    path = write_post(tmp_path / "_posts", "2024-01-01-flood.md", f"title: t\n{labels}")
    parsed = parse_post(path, path.read_text(encoding="utf-8"), config)
    assert parsed is not None
    return parsed[0]


@pytest.mark.parametrize(
    "tags",
    ["tags: " + " ".join(LABELS) + "\n", "tags: " + json.dumps(LABELS, ensure_ascii=False) + "\n"],
    ids=["string", "list"],
)
def test_the_first_max_labels_are_kept_and_the_rest_counted(tmp_path, tags):
    post = read_post(site_with_max_labels(tmp_path, None), tmp_path, tags)

    assert post.tags == tuple(LABELS[:100])
    assert post.labels_left_out == 900


def test_categories_come_first_and_tags_take_what_is_left(tmp_path):
    config = site_with_max_labels(tmp_path, 3)

    post = read_post(config, tmp_path, "categories: a b\ntags: c d e\n")

    assert (post.categories, post.tags, post.labels_left_out) == (("a", "b"), ("c",), 2)


def test_repeats_are_one_label_and_only_new_names_are_left_out(tmp_path):
    config = site_with_max_labels(tmp_path, 2)

    post = read_post(config, tmp_path, "tags: x y x y z y\n")

    assert (post.tags, post.labels_left_out) == (("x", "y"), 1)


def test_a_post_within_the_limit_has_no_notice(tmp_path):
    config = site_with_max_labels(tmp_path, 2)

    post = read_post(config, tmp_path, "categories: a\ntags: b\n")

    assert post.labels_left_out == 0
    assert labels_notice(post, config.posts.max_labels) is None


def test_the_notice_names_the_file_the_count_and_the_key(tmp_path):
    config = site_with_max_labels(tmp_path, None)
    post = read_post(config, tmp_path, "tags: " + " ".join(LABELS) + "\n")

    notice = labels_notice(post, config.posts.max_labels)

    assert notice is not None
    assert str(post.path) in notice and "900" in notice and "posts.max_labels" in notice
