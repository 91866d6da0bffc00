"""The command line as a user runs it: ``python -m syndicator``, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.processes import syndicator
from support.site import SITE_TOML, assert_feeds_valid, write_post


@pytest.fixture
def clean_site(tmp_path) -> Path:
    text = SITE_TOML.replace('dirs = ["_posts"]', 'dirs = ["_posts", "old_post"]')
    (tmp_path / "syndicator.toml").write_text(text, encoding="utf-8")
    write_post(tmp_path / "_posts", "2022-01-01-a.md")
    write_post(tmp_path / "old_post", "2021-01-01-b.md")
    return tmp_path / "syndicator.toml"


def test_build_clean_site_exits_0(clean_site):
    result = syndicator("--config", str(clean_site), "build", cwd=clean_site.parent)
    assert result.returncode == 0, result.stderr
    assert "2 posts" in result.stdout
    assert "files written" in result.stdout
    assert assert_feeds_valid(clean_site.parent / "feeds") == 6  # site + category news


def test_build_twice_reports_nothing_written(clean_site):
    syndicator("--config", str(clean_site), "build", cwd=clean_site.parent)
    result = syndicator("--config", str(clean_site), "build", cwd=clean_site.parent)
    assert result.returncode == 0
    assert "0 files written" in result.stdout


def test_build_full_renders_everything_again_and_writes_nothing_new(clean_site):
    syndicator("--config", str(clean_site), "build", cwd=clean_site.parent)
    feed = clean_site.parent / "feeds" / "rss.xml"
    before = feed.read_bytes(), feed.stat().st_mtime_ns
    result = syndicator("--config", str(clean_site), "build", "--full", cwd=clean_site.parent)
    assert result.returncode == 0, result.stderr
    assert "0 files written" in result.stdout
    assert (feed.read_bytes(), feed.stat().st_mtime_ns) == before


def test_build_with_broken_posts_exits_1_naming_them(fixture_site):
    result = syndicator("--config", str(fixture_site), "build", cwd=fixture_site.parent)
    assert result.returncode == 1
    assert "-202205260000000001.md" in result.stderr
    assert "2022-02-01-colon-title.md" in result.stderr
    assert (fixture_site.parent / "feeds/rss.xml").exists()  # the rest was built


def test_config_error_exits_2_naming_the_key(clean_site):
    clean_site.write_text(SITE_TOML + "colour = 1\n", encoding="utf-8")
    for command in ("build", "check"):
        result = syndicator("--config", str(clean_site), command, cwd=clean_site.parent)
        assert result.returncode == 2
        assert "state.colour" in result.stderr
    assert not (clean_site.parent / "feeds").exists()


def test_missing_config_exits_2(tmp_path):
    result = syndicator("--config", str(tmp_path / "nope.toml"), "build", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.toml" in result.stderr


def test_config_from_environment(clean_site, tmp_path):
    env = {"SYNDICATOR_CONFIG": str(clean_site)}
    result = syndicator("check", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr


def test_check_clean_site(clean_site):
    result = syndicator("--config", str(clean_site), "check", cwd=clean_site.parent)
    assert result.returncode == 0
    assert "config OK" in result.stdout
    assert not (clean_site.parent / "feeds").exists()


def test_check_lists_problems_and_writes_nothing(fixture_site):
    result = syndicator("--config", str(fixture_site), "check", cwd=fixture_site.parent)
    assert result.returncode == 1
    assert "-202205260000000001.md" in result.stdout
    assert "line 3" in result.stdout
    assert not (fixture_site.parent / "feeds").exists()
    assert not (fixture_site.parent / "var").exists()


def test_check_json(fixture_site):
    result = syndicator("--config", str(fixture_site), "check", "--json", cwd=fixture_site.parent)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["posts"] == 16
    problems = {Path(problem["path"]).name: problem["reason"] for problem in report["problems"]}
    assert set(problems) == {"-202205260000000001.md", "2022-02-01-colon-title.md"}
    assert "+0800" in problems["-202205260000000001.md"]
    assert not (fixture_site.parent / "feeds").exists()


def test_unknown_command_is_a_usage_error(clean_site):
    result = syndicator("--config", str(clean_site), "frobnicate", cwd=clean_site.parent)
    assert result.returncode == 2
