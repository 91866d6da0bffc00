"""Two processes on one config: the second writer waits for the first, or gives up naming it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.processes import syndicator

from syndicator.state.lock import LockTimeoutError, lock_path, write_lock

HOLDER = """
import sys, time
from pathlib import Path
from syndicator.state.lock import write_lock
with write_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(state: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_second_writer_gives_up_naming_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "var" / "state.db"
    holder = hold_lock(state, 5)
    try:
        with pytest.raises(LockTimeoutError) as raised, write_lock(state, wait=0.3):
            pass
        assert f"pid {holder.pid}" in str(raised.value)
        assert str(lock_path(state)) in str(raised.value)
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    holder = hold_lock(state, 60)
    holder.kill()
    holder.wait()
    with write_lock(state, wait=1):
        assert lock_path(state).read_text().strip() == str(os.getpid())


def test_cli_build_waits_for_the_daemon_to_finish_writing(fixture_site: Path) -> None:
    state = fixture_site.parent / "var" / "syndicator.db"
    holder = hold_lock(state, 1.5)
    started = time.monotonic()
    result = syndicator("build", config=fixture_site)
    waited = time.monotonic() - started
    holder.wait()
    assert result.returncode == 1, result.stderr  # the fixture site has broken posts
    assert waited >= 1.0
    assert (fixture_site.parent / "feeds" / "rss.xml").exists()
