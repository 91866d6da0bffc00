"""The test site: where things are (this checkout, the tests, their fixtures, the shared
corpus), the standard site config, posts written on the fly, builds run against a real state
file, and every feed of a build checked by the validator for its format."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from support.feedcheck import assert_valid_atom, assert_valid_jsonfeed, assert_valid_rss
from syndicator.core.config import Config
from syndicator.feeds.build import BuildReport, build_site
from syndicator.state.db import State

TESTS = Path(__file__).resolve().parents[1]
REPOSITORY = TESTS.parent
FIXTURES = TESTS / "fixtures"
FIXTURE_SITE = FIXTURES / "site"
CORPUS = REPOSITORY.parent / "shared" / "corpus" / "finews"
CORPUS_MISSING = "../shared/corpus/finews not present (fresh clone without shared/)"

CST = timezone(timedelta(hours=8))  # the test site's offset (Asia/Shanghai)

# A site with every key the tests lean on; each test adds what it needs.
SITE_TOML = """\
[site]
title = "测试站"
url = "https://site.example"
timezone = "Asia/Shanghai"
language = "zh-CN"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"

[state]
path = "var/state.db"
"""

VALIDATORS = {
    "rss.xml": assert_valid_rss,
    "atom.xml": assert_valid_atom,
    "feed.json": assert_valid_jsonfeed,
}


def write_post(
    folder: Path,
    name: str,
    front: str = 'title: "标题"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\n',
    body: str = "正文。\n",
) -> Path:
    """A post file: ``front`` between ``---`` lines, then ``body``."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return path


def make_post_folders(config: Config) -> Config:
    """The config's post folders made (a site has them; a missing one stops every build)."""
    for folder in config.posts.dirs:
        folder.mkdir(parents=True, exist_ok=True)
    return config


def run_build(config: Config, now: datetime | None = None) -> BuildReport:
    """One ``build`` with the config's own state file, closed afterwards."""
    state = State.open(config.state.path)
    try:
        return build_site(config, state, now=now)
    finally:
        state.close()


def feed_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` that a server would publish (relative POSIX path →
    bytes): hidden files, such as the list of files syndicator wrote, are left out."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def assert_feeds_valid(folder: Path) -> int:
    """Run the validator for its format on every feed under ``folder``; how many were checked."""
    checked = 0
    for relative, data in feed_files(folder).items():
        validate = VALIDATORS.get(relative.rsplit("/", 1)[-1])
        if validate is None:
            continue
        try:
            validate(data)
        except AssertionError as error:
            raise AssertionError(f"{relative}: {error}") from None
        checked += 1
    return checked
