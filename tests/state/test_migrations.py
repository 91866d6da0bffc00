"""The state's schema: made and migrated safely however many processes open it at once."""

from __future__ import annotations

import sqlite3
import threading

from syndicator.state.db import MIGRATIONS, State


def test_many_openers_of_a_new_state_at_once_all_succeed(tmp_path):
    """Opening a state that does not exist yet from many connections at the same moment
    (a cron build beside a status, say) creates the schema once; none fails."""
    failures: list[str] = []
    for attempt in range(20):
        path = tmp_path / f"race{attempt}" / "state.db"
        barrier = threading.Barrier(8)

        def open_it(path=path, barrier=barrier) -> None:
            barrier.wait()
            try:
                State.open(path).close()
            except Exception as error:
                failures.append(repr(error))

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_a_migrated_state_has_every_version_and_opens_again(tmp_path):
    path = tmp_path / "state.db"
    State.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = {row[1] for row in db.execute("PRAGMA table_info(upstream)")}
    assert "key" in columns and "name" not in columns
    State.open(path).close()  # nothing left to do, nothing fails


def test_a_migrations_last_statement_runs_without_its_semicolon():
    from syndicator.state.db import _statements

    script = "CREATE TABLE a (x TEXT);\nCREATE TABLE b (y TEXT)\n"
    assert _statements(script) == ["CREATE TABLE a (x TEXT);", "CREATE TABLE b (y TEXT)"]
