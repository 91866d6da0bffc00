"""What the status page reads from the state: polls counted per day, kept 30 days; the last
builds, kept 20."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from support.site import SITE_TOML, write_post

from syndicator import refresh
from syndicator.core.config import load_config
from syndicator.feeds.build import BuildRefusedError
from syndicator.state.db import BUILDS_KEPT, BuildRecord, State


def test_polls_are_counted_per_day_and_result_and_old_days_go(tmp_path: Path) -> None:
    with State.open(tmp_path / "state.db") as state:
        state.record_poll("a", "2026-10-01", "unchanged", 0, oldest="2026-09-02")
        state.record_poll("b", "2026-10-01", "unchanged", 0, oldest="2026-09-02")
        state.record_poll("a", "2026-11-01", "imported", 3, oldest="2026-10-03")
        state.record_poll("a", "2026-11-01", "imported", 2, oldest="2026-10-03")
        state.record_poll("a", "2026-11-01", "failed", 0, oldest="2026-10-03")

        assert sorted(state.poll_days("2026-01-01")) == [
            ("a", "2026-11-01", "failed", 1, 0),
            ("a", "2026-11-01", "imported", 2, 5),
            ("b", "2026-10-01", "unchanged", 1, 0),  # pruned with b's own next poll
        ]
        assert sorted(state.poll_days("2026-10-02")) == [
            ("a", "2026-11-01", "failed", 1, 0),
            ("a", "2026-11-01", "imported", 2, 5),
        ]


def test_the_newest_builds_are_kept(tmp_path: Path) -> None:
    with State.open(tmp_path / "state.db") as state:
        for n in range(BUILDS_KEPT + 5):
            state.record_build(BuildRecord(float(n), 0.1, n, 0, 0))
        builds = state.builds()
    assert [b.finished for b in builds] == [float(n) for n in range(BUILDS_KEPT + 4, 4, -1)]


def site_config(tmp_path: Path):
    (tmp_path / "syndicator.toml").write_text(SITE_TOML, encoding="utf-8")
    write_post(tmp_path / "_posts", "2022-01-01-a.md")
    return load_config(tmp_path / "syndicator.toml")


def test_a_refusal_is_listed_once_while_it_repeats(tmp_path: Path) -> None:
    config = site_config(tmp_path)
    with State.open(config.state.path) as state:
        refresh.build(config, state)
        refresh.build(config, state)  # nothing changed: not listed
        shutil.rmtree(tmp_path / "_posts")
        for _ in range(3):
            with pytest.raises(BuildRefusedError):
                refresh.build(config, state)
        builds = state.builds()
    assert [b.refused is not None for b in builds] == [True, False]
    assert "_posts" in (builds[0].refused or "")


def test_a_state_that_cannot_take_the_history_costs_the_build_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = site_config(tmp_path)

    def full(*_: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(State, "record_build", full)
    with State.open(config.state.path) as state:
        assert refresh.build(config, state).written
