"""``/status`` rendered by a real browser (Debian's chromium, headless) from a running daemon:
no console message (the page runs no script, so any would be an error or a blocked load), the
charts drawn, a screenshot made."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import free_port, get, start_syndicator, wait_until
from support.upstreams import items, rss, serve, write_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (.ci/run installs it)"
)


@pytest.fixture
def status_url(tmp_path: Path, httpserver) -> Iterator[str]:
    serve(httpserver, "/fine.xml", rss(items(5)))
    serve(httpserver, "/broken.xml", b"oops", status=500)
    port = free_port()
    config = write_config(
        tmp_path,
        [
            ("Fine", httpserver.url_for("/fine.xml"), "金融消息"),
            ("Broken", httpserver.url_for("/broken.xml"), "news"),
        ],
        extra=f'\n[server]\nport = {port}\n\n[feeds.titles]\n"金融消息" = "中国证券报新闻"\n',
    )
    (tmp_path / "_posts" / "2026-01-01-bad.md").write_text("---\ndate: [\n---\nbody\n")
    with (tmp_path / "daemon.log").open("wb") as log:
        process = start_syndicator("run", config=config, output=log)
        url = f"http://127.0.0.1:{port}/status"
        try:
            wait_until(
                lambda: all(
                    text in get(url)[2] for text in (b"HTTP 200", b"HTTP 500", b"files written")
                ),
                30,
                "both upstreams polled and the feeds built",
                ignoring=OSError,
            )
            yield url
        finally:
            process.kill()
            process.wait()


def chromium(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # the tests may run as root, where the sandbox refuses to start
            "--disable-gpu",
            f"--user-data-dir={cwd / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_page_renders_with_its_charts_and_no_console_message(
    status_url: str, tmp_path: Path
) -> None:
    result = chromium("--dump-dom", status_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_lines(result.stderr) == []
    dom = result.stdout
    assert dom.count('<svg class="chart"') == 4  # two upstreams, two charts each
    assert "中国证券报新闻" in dom and "2026-01-01-bad.md" in dom

    screenshot = Path(os.environ.get("SYNDICATOR_STATUS_SCREENSHOT", tmp_path / "status.png"))
    result = chromium(
        f"--screenshot={screenshot}", "--window-size=1000,1500", status_url, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_lines(result.stderr) == []
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_blocked_load_would_show_in_the_console(tmp_path: Path) -> None:
    """The check above can fail: a page that loads something from elsewhere logs it."""
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src '
        '\'none\'"><img src="http://127.0.0.1:9/x.png">'
    )
    result = chromium("--dump-dom", page.as_uri(), cwd=tmp_path)
    assert console_lines(result.stderr), result.stderr[-2000:]
