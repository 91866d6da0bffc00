"""What the status page reads from the state: polls counted per day, kept 30 days; the last
builds, kept 20."""

from __future__ import annotations

from pathlib import Path

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
