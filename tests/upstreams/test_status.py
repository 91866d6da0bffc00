"""``status``: one row per upstream, from the state (the README lists the fields); times in
the site's time zone with its offset; exit 1 while an upstream is in error."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from support.processes import syndicator
from support.upstreams import items, make_config, rss, run_poll, serve, write_config

from syndicator.state.db import State
from syndicator.upstreams.status import upstream_statuses

FIELDS = [
    "name",
    "url",
    "current_url",
    "state",
    "last_poll",
    "next_poll",
    "last_status",
    "last_error",
    "last_warning",
    "consecutive_errors",
    "imported",
    "push",
]


def status_json(config_path: Path, code: int = 0) -> dict[str, dict]:
    result = syndicator("status", "--json", config=config_path)
    assert result.returncode == code, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    for row in rows:
        assert list(row) == FIELDS
    return {row["name"]: row for row in rows}


def iso(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    return moment


def upstream_set(httpserver) -> list[tuple]:
    return [
        ("Fine", httpserver.url_for("/fine.xml"), "news"),
        ("Broken", httpserver.url_for("/broken.xml"), "news"),
        ("Busy", httpserver.url_for("/busy.xml"), "news"),
        ("Gone", httpserver.url_for("/gone.xml"), "news"),
        ("Moved", httpserver.url_for("/moved.xml"), "news"),
        ("Idle", httpserver.url_for("/idle.xml"), "news"),
    ]


def serve_set(httpserver) -> None:
    serve(httpserver, "/fine.xml", rss(items(3)))
    serve(httpserver, "/broken.xml", b"oops", status=500)
    serve(httpserver, "/busy.xml", b"", status=429, headers={"Retry-After": "7200"})
    serve(httpserver, "/gone.xml", b"", status=410)
    serve(httpserver, "/moved.xml", b"", status=301, headers={"Location": "/here.xml"})
    serve(httpserver, "/here.xml", rss(items(2, start=20)))


def test_status_json_before_any_poll(tmp_path, httpserver):
    config_path = write_config(tmp_path, upstream_set(httpserver))

    rows = status_json(config_path)

    assert list(rows) == ["Fine", "Broken", "Busy", "Gone", "Moved", "Idle"]  # config order
    for name, row in rows.items():
        assert row == {
            "name": name,
            "url": httpserver.url_for(f"/{name.lower()}.xml"),
            "current_url": None,
            "state": "never",
            "last_poll": None,
            "next_poll": None,
            "last_status": None,
            "last_error": None,
            "last_warning": None,
            "consecutive_errors": 0,
            "imported": 0,
            "push": "none",
        }


def test_status_json_after_polls(tmp_path, httpserver):
    serve_set(httpserver)
    config = make_config(tmp_path, upstream_set(httpserver)[:5])
    run_poll(config)
    run_poll(config, names=["Broken"])
    config_path = write_config(tmp_path, upstream_set(httpserver))

    rows = status_json(config_path, code=1)  # Broken is in error

    fine, broken, busy = rows["Fine"], rows["Broken"], rows["Busy"]
    gone, moved, idle = rows["Gone"], rows["Moved"], rows["Idle"]
    assert (fine["state"], fine["last_status"], fine["last_error"]) == ("ok", 200, None)
    assert (fine["consecutive_errors"], fine["imported"], fine["current_url"]) == (0, 3, None)
    # Whole seconds in the output: the interval (100 s) give or take the truncation.
    assert abs((iso(fine["next_poll"]) - iso(fine["last_poll"])).total_seconds() - 100) <= 1

    assert (broken["state"], broken["last_status"], broken["consecutive_errors"]) == (
        "error",
        500,
        2,
    )
    assert "HTTP 500" in broken["last_error"] and broken["imported"] == 0
    assert iso(broken["next_poll"]) > iso(broken["last_poll"])

    assert (busy["state"], busy["last_status"], busy["consecutive_errors"]) == ("backoff", 429, 1)
    assert (iso(busy["next_poll"]) - iso(busy["last_poll"])).total_seconds() >= 7199

    assert (gone["state"], gone["last_status"], gone["next_poll"]) == ("gone", 410, None)
    assert gone["last_poll"] is not None

    assert moved["state"] == "ok" and moved["imported"] == 2
    assert moved["url"] == httpserver.url_for("/moved.xml")
    assert moved["current_url"] == httpserver.url_for("/here.xml")

    assert idle["state"] == "never" and idle["last_poll"] is None


def test_human_status_names_each_upstream_and_what_happened(tmp_path, httpserver):
    serve_set(httpserver)
    config = make_config(tmp_path, upstream_set(httpserver))
    run_poll(config)

    result = syndicator("status", config=config.path)

    assert result.returncode == 1, result.stderr  # Broken is in error
    out = result.stdout
    for name in ("Fine", "Broken", "Busy", "Gone", "Moved", "Idle"):
        assert name in out
    gone_line = next(line for line in out.splitlines() if line.startswith("Gone"))
    assert "gone" in gone_line
    moved_line = next(line for line in out.splitlines() if line.startswith("Moved"))
    assert httpserver.url_for("/here.xml") in moved_line
    assert "HTTP 500" in out and "3 imported" in out


def test_imported_counts_posts_not_entries_left_out_by_backfill(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(5)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")], backfill=2)
    run_poll(config)

    with State.open(config.state.path) as state:
        [row] = upstream_statuses(config, state)

    assert row.imported == 2 and row.state == "ok"


def test_a_changed_config_url_shows_as_never_polled(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/elsewhere.xml"), "news")])

    with State.open(config.state.path) as state:
        [row] = upstream_statuses(config, state)

    assert (row.state, row.url, row.last_poll) == ("never", config.upstreams[0].url, None)


def test_times_are_in_the_site_zone_with_its_offset(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)

    row = status_json(config.path)["Up"]  # all well: exit 0

    assert row["last_poll"].endswith("+08:00") and row["next_poll"].endswith("+08:00")
    assert "+08:00" in syndicator("status", config=config.path).stdout


def test_the_next_poll_is_the_one_the_daemon_scheduled(tmp_path, httpserver):
    serve(httpserver, "/feed.xml", rss(items(1)))
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    scheduled = datetime.fromisoformat("2031-05-06T07:08:09+08:00")
    with State.open(config.state.path) as state:
        state.set_next_poll(config.upstreams[0].key, config.upstreams[0].url, scheduled.timestamp())

    assert iso(status_json(config.path)["Up"]["next_poll"]) == scheduled


def test_exit_1_while_an_upstream_is_in_error_0_once_it_recovers(tmp_path, httpserver):
    upstream = serve(httpserver, "/feed.xml", b"oops", status=500)
    config = make_config(tmp_path, [("Up", httpserver.url_for("/feed.xml"), "news")])
    run_poll(config)
    assert status_json(config.path, code=1)["Up"]["state"] == "error"

    upstream.body, upstream.status = rss(items(1)), 200
    run_poll(config)
    assert status_json(config.path, code=0)["Up"]["state"] == "ok"
