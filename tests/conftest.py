"""Shared fixtures: the fixture site copied to a temporary folder, configs from TOML text,
the fixture site built, and the shared corpus. The helpers they use are in support/site.py."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from support.site import (
    CORPUS,
    CORPUS_MISSING,
    FIXTURE_SITE,
    SITE_TOML,
    make_post_folders,
    run_build,
)

from syndicator.core.config import Config, load_config
from syndicator.feeds.build import BuildReport


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
        return make_post_folders(load_config(path))

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


@pytest.fixture
def built_fixture_site(fixture_site: Path) -> Iterator[tuple[Config, BuildReport]]:
    """The fixture site, built once (now = far in the future, so no post waits)."""
    config = load_config(fixture_site)
    yield config, run_build(config, now=datetime.fromisoformat("2100-01-01T00:00:00+00:00"))
