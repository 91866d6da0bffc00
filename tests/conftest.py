"""Shared fixtures: the fixture site copied to a temporary folder, configs from TOML text,
posts written on the fly, builds run against a real state file, and the shared corpus."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from feedcheck import assert_valid_atom, assert_valid_jsonfeed, assert_valid_rss

from syndicator.core.config import Config, load_config
from syndicator.feeds.build import BuildReport, build_site
from syndicator.state.db import State

TESTS = Path(__file__).resolve().parent
FIXTURE_SITE = TESTS / "fixtures" / "site"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "finews"
CORPUS_MISSING = "../shared/corpus/finews not present (fresh clone without shared/)"

# A site with every key the tests lean on; each test adds what it needs.
SITE_TOML = """\
[site]
title = "测试站"
url = "https://site.example"
timezone = "Asia/Shanghai"
language = "zh-CN"

[posts]
dirs = ["_posts", "old_post"]

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


@pytest.fixture
def fixture_site(tmp_path: Path) -> Path:
    """A private copy of tests/fixtures/site; returns its config file."""
    site = tmp_path / "site"
    shutil.copytree(FIXTURE_SITE, site)
    return site / "syndicator.toml"


@pytest.fixture
def config_from(tmp_path: Path) -> Callable[..., Config]:
    """``config_from(toml_text)``: the text written to tmp_path/syndicator.toml, loaded."""

    def load(text: str, name: str = "syndicator.toml") -> Config:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return load


@pytest.fixture
def site_config(config_from: Callable[..., Config]) -> Callable[..., Config]:
    """``site_config(extra_toml="")``: the standard test site config plus ``extra_toml``."""

    def load(extra: str = "") -> Config:
        return config_from(SITE_TOML + extra)

    return load


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS


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


def run_build(config: Config, now: datetime | None = None) -> BuildReport:
    """One ``build`` with the config's own state file, closed afterwards."""
    state = State.open(config.state.path)
    try:
        return build_site(config, state, now=now)
    finally:
        state.close()


def feed_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative POSIX path → bytes)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
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


@pytest.fixture
def built_fixture_site(fixture_site: Path) -> Iterator[tuple[Config, BuildReport]]:
    """The fixture site, built once (now = far in the future, so no post waits)."""
    config = load_config(fixture_site)
    yield config, run_build(config, now=datetime.fromisoformat("2100-01-01T00:00:00+00:00"))
