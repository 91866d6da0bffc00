"""How long ``/status`` takes to make at a large site's scale.

Usage::

    python bench/status_page.py [--upstreams 500] [--posts 50000] [--rounds 5]

Makes a state in a temporary folder with ``--upstreams`` upstreams, each polled every
10 minutes for 30 days (the daily counts ``/status`` charts, and a real build's feeds over
``--posts`` indexed posts spread over 300 category feeds), then times ``gather_status`` and
``render_status`` (what the daemon runs per request, off the event loop) and prints the median
and the page's size.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syndicator.core.config import load_config
from syndicator.state.db import HISTORY_DAYS, BuildRecord, State
from syndicator.web.status_data import gather_status
from syndicator.web.status_page import render_status

POLLS_PER_DAY = 144  # every 10 minutes


def make_config(folder: Path, upstreams: int) -> Path:
    (folder / "_posts").mkdir()
    lines = [
        '[site]\nurl = "https://www.example.com"\ntitle = "站"\ntimezone = "Asia/Shanghai"\n',
        '[posts]\ndirs = ["_posts"]\n[feeds]\ndir = "feeds"\n[state]\npath = "state.db"\n',
    ]
    lines += [
        f'[[upstreams]]\nname = "源{n}"\nurl = "https://feeds{n}.example.com/rss.xml"\n'
        f'category = "c{n % 300}"\n'
        for n in range(upstreams)
    ]
    path = folder / "syndicator.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fill_state(state: State, keys: list[str], posts: int) -> None:
    """30 days of daily poll counts per upstream, indexed posts in feeds, 20 builds."""
    chance = random.Random(1)
    today = date.today()
    with state.transaction() as db:
        for key in keys:
            for back in range(HISTORY_DAYS):
                day = (today - timedelta(days=back)).isoformat()
                imported = chance.randint(0, 12)
                failed = chance.choice([0, 0, 0, 3])
                rows = [
                    (key, day, "imported", imported, imported * 2),
                    (key, day, "unchanged", POLLS_PER_DAY - imported - failed, 0),
                    (key, day, "failed", failed, 0),
                ]
                db.executemany("INSERT INTO poll_day VALUES (?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO post (path, folder_rank, size, mtime_ns, indexed_ns, sha256, date_ts) "
            "VALUES (?, 0, 1, 1, 1, '', ?)",
            [(f"/p/{n}.md", 1.6e9 + n) for n in range(posts)],
        )
        db.executemany(
            "INSERT INTO post_feed VALUES (?, ?, ?, ?, ?)",
            [("site", "", "", f"/p/{n}.md", 1.6e9 + n) for n in range(posts)]
            + [
                ("category", f"c{n % 300}", f"c{n % 300}", f"/p/{n}.md", 1.6e9 + n)
                for n in range(posts)
            ],
        )
        feeds = [["site", "", ""]] + [["category", f"c{n}", f"c{n}"] for n in range(300)]
        db.execute("INSERT INTO meta VALUES ('feeds', ?)", (str(feeds).replace("'", '"'),))
    for n in range(20):
        state.record_build(BuildRecord(time.time() - n * 600, 0.05, 3, 0, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstreams", type=int, default=500)
    parser.add_argument("--posts", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = load_config(make_config(Path(folder), options.upstreams))
        with State.open(config.state.path) as state:
            fill_state(state, [u.key for u in config.upstreams], options.posts)
            times, size = [], 0
            for _ in range(options.rounds):
                started = time.perf_counter()
                page = render_status(gather_status(config, state, time.time()))
                times.append(time.perf_counter() - started)
                size = len(page)
    print(
        f"/status with {options.upstreams} upstreams (30 days of polls), {options.posts:,} posts "
        f"in 301 feeds: median {statistics.median(times):.3f} s over {options.rounds} rounds, "
        f"{size / 1024:,.0f} KiB"
    )


if __name__ == "__main__":
    main()
