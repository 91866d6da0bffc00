"""The exit codes of the README's table, one test per code and cause; global options after
the command; ``--log-format json`` with everything through it."""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.processes import free_port, syndicator, syndicator_environment
from support.site import SITE_TOML, write_post
from support.upstreams import items, rss, serve, write_config

from syndicator import cli
from syndicator.state.lock import write_lock


@pytest.fixture
def site(tmp_path: Path) -> Path:
    config = tmp_path / "syndicator.toml"
    config.write_text(SITE_TOML, encoding="utf-8")
    write_post(tmp_path / "_posts", "2022-01-01-a.md", front='title: "一"\ndate: 2022-01-01\n')
    return config


def broken_post(config: Path) -> None:
    (config.parent / "_posts" / "2022-01-02-broken.md").write_text("---\ndate: [\n---\nx\n")


# 0: all well


def test_0_when_all_is_well(site: Path) -> None:
    for command in (("build",), ("check",), ("poll",), ("status",)):
        result = syndicator(*command, config=site)
        assert result.returncode == 0, (command, result.stderr)


# 1: done, with problems


def test_1_build_and_check_with_a_post_skipped(site: Path) -> None:
    broken_post(site)
    assert syndicator("build", config=site).returncode == 1
    assert syndicator("check", config=site).returncode == 1


@pytest.mark.parametrize(("answer", "status"), [(b"oops", 500), (b"", 410)])
def test_1_poll_with_an_upstream_failed_or_gone(
    tmp_path: Path, httpserver, answer: bytes, status: int
) -> None:
    serve(httpserver, "/fine.xml", rss(items(1)))
    serve(httpserver, "/bad.xml", answer, status=status)
    config = write_config(
        tmp_path,
        [
            ("Fine", httpserver.url_for("/fine.xml"), "news"),
            ("Bad", httpserver.url_for("/bad.xml"), "news"),
        ],
    )
    result = syndicator("poll", config=config)
    assert result.returncode == 1, result.stderr
    assert "1 with new posts" in result.stdout  # the rest was done


def test_1_poll_with_a_post_skipped(site: Path) -> None:
    broken_post(site)
    assert syndicator("poll", config=site).returncode == 1


def test_1_status_with_an_upstream_in_error(tmp_path: Path, httpserver) -> None:
    serve(httpserver, "/bad.xml", b"oops", status=500)
    config = write_config(tmp_path, [("Bad", httpserver.url_for("/bad.xml"), "news")])
    syndicator("poll", config=config)
    assert syndicator("status", config=config).returncode == 1


@pytest.mark.parametrize(
    ("answer", "headers", "state"),
    [
        (503, {"Retry-After": "3600"}, "backoff"),  # failing, and asking us to wait
        (410, {}, "gone"),
    ],
)
def test_1_status_with_an_upstream_failing_in_backoff_or_gone(
    tmp_path: Path, httpserver, answer: int, headers: dict[str, str], state: str
) -> None:
    """Exit 0 for these hid an upstream failing for ever (a 503 with Retry-After each time)
    or gone from monitoring; and a gone upstream's reason was cleared."""
    httpserver.expect_request("/bad.xml").respond_with_data(b"x", status=answer, headers=headers)
    config = write_config(tmp_path, [("Bad", httpserver.url_for("/bad.xml"), "news")])
    syndicator("poll", config=config)
    result = syndicator("status", config=config)
    assert f"Bad  {state}" in result.stdout
    assert result.returncode == 1, result.stdout
    if state == "gone":
        assert "last error: " in result.stdout and "410 Gone" in result.stdout


# 2: nothing done


def test_2_usage(site: Path) -> None:
    assert syndicator("build", "--no-such-option", config=site).returncode == 2
    assert syndicator("no-such-command", config=site).returncode == 2
    for wrong in (("build", "--no-such-option"), ("no-such-command",)):
        result = syndicator(*wrong, "--log-format", "json", config=site)
        [line] = json_lines(result.stderr)
        assert result.returncode == 2 and line["event"] == "nothing_done", result.stderr


def test_2_config(site: Path) -> None:
    site.write_text(SITE_TOML + "\n[server]\nport = 99999\n", encoding="utf-8")
    result = syndicator("build", config=site)
    assert result.returncode == 2 and "server.port" in result.stderr


def test_2_lock_held(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = site.parent / "var" / "state.db"
    monkeypatch.setattr(cli, "write_lock", functools.partial(write_lock, wait=0.5))
    with write_lock(state):
        result = CliRunner().invoke(cli.main, ["--config", str(site), "build"])
    assert result.exit_code == 2, result.output
    assert "another syndicator" in result.output
    assert list((site.parent / "feeds").glob("*.xml")) == []


def test_2_port_in_use_before_daemon_started(site: Path) -> None:
    port = free_port()
    site.write_text(SITE_TOML + f"\n[server]\nport = {port}\n", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        for command in ("run", "serve"):
            result = syndicator(command, config=site)
            assert result.returncode == 2, (command, result.stderr)
            assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
            assert "daemon started" not in result.stderr
    assert not (site.parent / "feeds" / "rss.xml").exists()  # nothing done


# Global options after the command


def test_global_options_after_the_command(site: Path) -> None:
    result = syndicator("check", "--config", str(site), cwd=site.parent.parent)
    assert result.returncode == 0, result.stderr
    result = syndicator("build", "-v", f"--config={site}", "--log-format", "json", cwd=Path("/"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stderr.splitlines()[-1])["event"] == "build"


# --log-format json


def json_lines(stderr: str) -> list[dict]:
    lines = [json.loads(line) for line in stderr.splitlines()]
    for line in lines:
        moment = datetime.fromisoformat(line["time"])
        assert moment.utcoffset() is not None, line
        assert {"time", "level", "event", "message"} <= set(line), line
    return lines


def test_json_mode_puts_every_line_through_the_log(tmp_path: Path, httpserver) -> None:
    serve(httpserver, "/fine.xml", rss(items(2)))
    serve(httpserver, "/bad.xml", b"oops", status=500)
    config = write_config(
        tmp_path,
        [
            ("Fine", httpserver.url_for("/fine.xml"), "news"),
            ("Bad", httpserver.url_for("/bad.xml"), "news"),
        ],
    )
    broken_post(config)
    result = syndicator("poll", "--log-format", "json", config=config)
    assert result.returncode == 1
    assert result.stdout == ""
    events = {line["event"]: line for line in json_lines(result.stderr)}
    assert events["poll"]["imported"] == 1 and events["poll"]["failed"] == 1
    assert events["poll_failed"]["upstream"] == "Bad"
    assert events["post_skipped"]["path"].endswith("2022-01-02-broken.md")
    assert events["build"]["written"] > 0 and events["build"]["skipped"] == 1

    result = syndicator("build", "--log-format", "json", config=config.parent / "missing.toml")
    [line] = json_lines(result.stderr)
    assert result.returncode == 2 and line["event"] == "nothing_done"


def test_json_mode_check_reports_through_the_log(site: Path) -> None:
    broken_post(site)
    result = syndicator("check", "--log-format", "json", config=site)
    assert result.returncode == 1 and result.stdout == ""
    events = {line["event"]: line for line in json_lines(result.stderr)}
    assert events["post_problem"]["path"].endswith("2022-01-02-broken.md")
    assert (events["check"]["posts"], events["check"]["problems"]) == (1, 1)


def test_2_a_global_option_without_its_value_after_the_command(site: Path) -> None:
    """`build --config` (the value forgotten) built the default config's site."""
    for arguments in (("build", "--config"), ("build", "--config", "")):
        result = syndicator(*arguments, cwd=site.parent)
        assert result.returncode == 2, (arguments, result.stdout)
        assert "--config" in result.stderr


def test_the_last_of_a_global_option_given_twice_wins(site: Path) -> None:
    """Before and after the command: the one before used to win."""
    result = syndicator("--config", "/nonexistent.toml", "status", "--config", str(site))
    assert result.returncode == 0, result.stderr


def test_json_mode_errors_before_any_command_and_crashes_are_json(site: Path) -> None:
    result = syndicator("--log-format", "json", "--bogus", "build", config=site)
    [line] = json_lines(result.stderr)
    assert result.returncode == 2 and line["event"] == "nothing_done"

    crash = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, syndicator.refresh as r\n"
            "def broken(*args, **kwargs): raise RuntimeError('a bug')\n"
            "r.build = broken\n"
            "from syndicator.cli import main\n"
            "main(sys.argv[1:])\n",
            "--log-format",
            "json",
            "--config",
            str(site),
            "build",
        ],
        env=syndicator_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = json_lines(crash.stderr)
    assert crash.returncode == 1
    assert [line["event"] for line in lines] == ["crashed"], crash.stderr
    assert "RuntimeError: a bug" in lines[0]["traceback"]
