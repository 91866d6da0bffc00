"""The response headers ``deploy/README.md`` documents are the ones ``serve`` sends."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from support.processes import free_port, get, start_syndicator, wait_until
from support.site import REPOSITORY, SITE_TOML, write_post

from syndicator.core.config import load_config
from syndicator.feeds.build import build_site
from syndicator.state.db import State


def documented() -> dict[str, str]:
    """The rows of the table of headers "from the daemon", by header name."""
    text = (REPOSITORY / "deploy" / "README.md").read_text("utf-8")
    table = text.split("| header | from the daemon |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([A-Za-z-]+)` \| (.+) \|$", table, re.MULTILINE)
    return dict(rows)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("documented")
    port = free_port()
    config_path = root / "syndicator.toml"
    config_path.write_text(SITE_TOML + f'\n[server]\nport = {port}\nmax_age = "5m"\n', "utf-8")
    write_post(root / "_posts", "2022-01-01-a.md", body="正文。" * 300 + "\n")
    config = load_config(config_path)
    with State.open(config.state.path) as state:
        build_site(config, state)
    with (root / "serve.log").open("wb") as log:
        process = start_syndicator("serve", config=config_path, output=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: get(url + "/healthz")[0] == 200, 15, "up", ignoring=OSError)
            yield url, config.feeds.dir
        finally:
            process.kill()
            process.wait()


def test_the_documented_headers_are_the_served_ones(served: tuple[str, Path]) -> None:
    url, folder = served
    docs = documented()
    assert set(docs) == {
        "ETag",
        "Last-Modified",
        "Cache-Control",
        "Vary",
        "Content-Type",
        "Content-Encoding",
    }
    body = (folder / "rss.xml").read_bytes()
    _, plain, _ = get(url + "/rss.xml")
    _, zipped, _ = get(url + "/rss.xml", {"Accept-Encoding": "gzip"})

    assert "first 32 hex digits of the SHA-256" in docs["ETag"] and '"…-gz"' in docs["ETag"]
    assert plain["ETag"] == f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    assert zipped["ETag"] == plain["ETag"][:-1] + '-gz"'

    assert "modification time" in docs["Last-Modified"]
    changed = datetime.fromtimestamp((folder / "rss.xml").stat().st_mtime, UTC)
    assert plain["Last-Modified"] == format_datetime(changed.replace(microsecond=0), usegmt=True)

    assert docs["Cache-Control"] == "`public, max-age=<[server] max_age>`"
    assert plain["Cache-Control"] == "public, max-age=300"
    assert docs["Vary"] == "`Accept-Encoding`" and plain["Vary"] == "Accept-Encoding"
    assert (
        "`application/rss+xml`" in docs["Content-Type"] and "charset=utf-8" in docs["Content-Type"]
    )
    assert plain["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert "`gzip`" in docs["Content-Encoding"] and zipped["Content-Encoding"] == "gzip"
    assert plain["Content-Encoding"] is None
