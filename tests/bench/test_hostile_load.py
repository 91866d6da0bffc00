"""The hostile-load campaign (bench/hostile_load.py) in its CI setting: every attack, scaled
down, against ``syndicator run`` on a 50-post site.

The full campaign (1,000 posts, 2,000 clients, 40 pipelining connections, a 50 MB post) is
run by hand; RELIABILITY.md has its figures and command.
"""

from __future__ import annotations

import json
import subprocess
import sys

from support.scripts import BENCH

SCRIPT = BENCH / "hostile_load.py"


def test_every_attack_leaves_the_daemon_bounded_healthy_and_its_feeds_right(tmp_path):
    figures_path = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--json", str(figures_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    assert len(figures["results"]) == 11
    for attack in figures["results"]:
        assert attack["ok"], attack
        assert attack["peak_rss_mb"] <= 150, attack
        assert attack["worst_health_seconds"] <= 1.0 and attack["health_failures"] == 0, attack
        assert attack["tracebacks"] == 0, attack
    assert figures["tracebacks_total"] == 0
    assert figures["feeds_compared"] > 0 and figures["feeds_differing"] == []
    assert figures["clean_stop"] and figures["failures"] == []
    assert "served feeds == clean build:          yes" in result.stdout
