"""The example configs of config/examples/, each run against the local replica of its
upstreams: the corpus site's rolling-news import reproduced post for post, and a full-text
source and a news page followed to the feeds the daemon serves."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from support.examples import EXAMPLES, example_config, load_replica
from support.processes import free_port, get, start_syndicator, wait_until
from support.site import CORPUS, CORPUS_MISSING
from support.upstreams import run_poll

from syndicator.core.config import load_config

replica = load_replica()
CHINA = ZoneInfo("Asia/Shanghai")
_FRONT = re.compile(r"\A---\n(.*?)\n---\n(.*)\Z", re.S)
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
_URL_LINE = re.compile(r"^<(https?://[^>]+)>$", re.M)
ATTRIBUTION = '<p class="source">（文章来源：东方财富网）</p>'

Start = Callable[..., tuple[Any, str]]


@pytest.fixture
def start_replica() -> Iterator[Start]:
    """Starts the replica of the examples' upstreams; gives (its data, its base URL)."""
    servers = []

    def start(count: int = 5, corpus: Path | None = None, shape: str = "list") -> tuple[Any, str]:
        data = replica.Replica()
        server = replica.serve(data)
        servers.append(server)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        filled = replica.example_replica(base, count=count, corpus=corpus, shape=shape)
        data.records, data.pages = filled.records, filled.pages
        return data, base

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def front_matter(path: Path) -> tuple[dict[str, str], str]:
    found = _FRONT.match(path.read_text(encoding="utf-8").lstrip())
    assert found, f"{path} has no front matter"
    lines = (line.split(": ", 1) for line in found.group(1).splitlines() if ": " in line)
    return {key: value.strip() for key, value in lines}, found.group(2)


def title_of(front: dict[str, str]) -> str:
    value = front["title"]
    return json.loads(value) if value.startswith('"') else value


def date_of(front: dict[str, str]) -> datetime:
    """The post's date; one written without an offset is China time (the site's zone)."""
    parsed = datetime.strptime(front["date"][:19], "%Y-%m-%d %H:%M:%S")
    offset = front["date"][19:].strip()
    if not offset:
        return parsed.replace(tzinfo=CHINA)
    return datetime.strptime(f"{front['date'][:19]} {offset}", "%Y-%m-%d %H:%M:%S %z")


def test_the_example_configs_load() -> None:
    names = sorted(path.name for path in EXAMPLES.glob("*.toml"))
    assert names == ["emnews.toml", "fulltext.toml", "newspage.toml"]
    for name in names:
        assert load_config(EXAMPLES / name).upstreams


def test_the_rolling_news_example_writes_the_sites_posts(
    tmp_path: Path, start_replica: Start
) -> None:
    _, base = start_replica()
    config = load_config(example_config(tmp_path, "emnews.toml", base))
    run_poll(config)
    folder = config.posts.dirs[0]
    names = sorted(path.name for path in folder.glob("*.md"))
    assert names == [
        "2022-06-01-202206012400700000.md",
        "2022-06-02-202206022400745001.md",
        "2022-06-02-202206022400745178.md",
    ]
    front, body = front_matter(folder / "2022-06-02-202206022400745178.md")
    assert title_of(front) == "央行开展100亿元逆回购操作"
    assert front["date"] == "2022-06-02 14:05:33 +0800"
    assert (front["categories"], front["tags"]) == ("emnews", "东财滚动新闻")
    assert _PARAGRAPH.findall(body)[0] == "人民银行今日开展100亿元7天期逆回购操作，中标利率2.1%。"
    assert "【" not in body and ATTRIBUTION in body
    assert _URL_LINE.findall(body) == ["http://finance.example.com/a/202206022400745178.html"]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)
def test_the_rolling_news_example_reproduces_the_corpus_emnews_posts(
    tmp_path: Path, start_replica: Start
) -> None:
    data, base = start_replica(corpus=CORPUS)
    records = {record["id"].removeprefix("NW") for record in data.records}
    # 61 of the 64: not the broken one (no title, no date) nor the two of the detail shape.
    assert len(records) == 61, "the corpus's emnews posts of the list shape"
    config = load_config(example_config(tmp_path, "emnews.toml", base))
    run_poll(config)
    written = {path.name: path for path in config.posts.dirs[0].glob("*.md")}
    compared = 0
    for original in sorted((CORPUS / "_posts").glob("*.md")):
        item_id = original.stem.split("-", 3)[-1]
        if item_id not in records:
            continue  # not emnews, the detail shape, or the corpus's broken post
        assert original.name in written, f"no post named {original.name}"
        theirs, their_body = front_matter(original)
        ours, our_body = front_matter(written[original.name])
        assert title_of(ours) == title_of(theirs), original.name
        assert date_of(ours) == date_of(theirs), original.name
        assert ours["date"].endswith(" +0800")
        assert (ours["categories"], ours["tags"]) == (theirs["categories"], theirs["tags"])
        digest = next(p.strip() for p in their_body.split("\n\n") if p.strip())
        assert replica.html_unescape(_PARAGRAPH.findall(our_body)[0]) == digest, original.name
        assert ATTRIBUTION in our_body
        assert _URL_LINE.findall(our_body) == _URL_LINE.findall(their_body)
        compared += 1
    assert compared == len(records) == len(written)


def text_of(html: str) -> str:
    """What HTML says, without its tags and whitespace."""
    return re.sub(r"\s+", "", replica.html_unescape(re.sub(r"<[^<>]*>", "", html)))


@pytest.mark.skipif(not CORPUS.is_dir(), reason=CORPUS_MISSING)
def test_with_a_detail_request_the_corpus_posts_of_the_detail_shape_are_reproduced(
    tmp_path: Path, start_replica: Start
) -> None:
    """The site's later emnews posts took their body from a detail request per item: the same
    example with [upstreams.detail] writes them, the article's HTML sanitized."""
    data, base = start_replica(corpus=CORPUS, shape="detail")
    assert len(data.records) == 2
    extra = {
        "upstreams.detail.url": f'"{base}/api/detail?id=NW{{id}}"',
        "upstreams.detail.content": '"data.content"',
    }
    config = load_config(example_config(tmp_path, "emnews.toml", base, extra))
    run_poll(config)
    written = {path.name: path for path in config.posts.dirs[0].glob("*.md")}
    assert len(written) == 2
    for record in data.records:
        name = f"{record['showtime'][:10]}-{record['id'].removeprefix('NW')}.md"
        theirs, their_body = front_matter(CORPUS / "_posts" / name)
        ours, our_body = front_matter(written[name])
        assert (title_of(ours), date_of(ours)) == (title_of(theirs), date_of(theirs))
        assert (ours["categories"], ours["tags"]) == (theirs["categories"], theirs["tags"])
        quote, article = (p.strip() for p in their_body.split("\n\n")[:2])
        assert text_of(quote.removeprefix("> ")) in text_of(our_body)  # the digest's text
        assert text_of(article) in text_of(our_body)  # the article, every word of it
        assert "style=" not in our_body and "<!--" not in our_body  # sanitized
        assert ATTRIBUTION in our_body
        assert _URL_LINE.findall(our_body) == _URL_LINE.findall(their_body)


def served_entries(url: str) -> list[Any]:
    status, _, body = get(url)
    return feedparser.parse(io.BytesIO(body)).entries if status == 200 else []


def run_daemon(tmp_path: Path, name: str, base: str) -> tuple[str, Any]:
    port = free_port()
    config = example_config(
        tmp_path,
        name,
        base,
        {
            "polling.per_host_delay": '"0.1s"',
            "polling.timeout": '"5s"',
            "server.port": str(port),
            "feeds.base_url": f'"http://127.0.0.1:{port}"',
        },
    )
    log = (tmp_path / "daemon.log").open("wb")
    return f"http://127.0.0.1:{port}", (start_syndicator("run", config=config, output=log), log)


@pytest.fixture
def daemon_runs() -> Iterator[list[Any]]:
    running: list[Any] = []
    yield running
    for process, log in running:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)
        log.close()


def test_a_full_text_source_reaches_the_served_feed(
    tmp_path: Path, start_replica: Start, daemon_runs: list[Any]
) -> None:
    data, base = start_replica(count=4)
    url, run = run_daemon(tmp_path, "fulltext.toml", base)
    daemon_runs.append(run)
    feed = f"{url}/categories/fulltext/rss.xml"
    wait_until(lambda: len(served_entries(feed)) == 4, 60, "four entries served", ignoring=OSError)
    for entry in served_entries(feed):
        number = int(entry.title.removeprefix("样本报道"))
        content = entry.content[0].value if "content" in entry else entry.summary
        for paragraph in replica.article_text(number):
            assert paragraph in content, entry.title
        assert f"{base}/img/{number}.jpg" in content  # the lazy image, given its address
        for boilerplate in ("开户送好礼", "热门文章", "版权所有", "track(", "首页"):
            assert boilerplate not in content, (entry.title, boilerplate)
    assert data.max_concurrent == 1
    assert data.requests.count("/robots.txt") >= 1


def test_a_news_page_source_reaches_the_served_feed(
    tmp_path: Path, start_replica: Start, daemon_runs: list[Any]
) -> None:
    _, base = start_replica(count=3)
    url, run = run_daemon(tmp_path, "newspage.toml", base)
    daemon_runs.append(run)
    feed = f"{url}/categories/newspage/rss.xml"
    wait_until(lambda: len(served_entries(feed)) == 3, 60, "three entries served", ignoring=OSError)
    entries = sorted(served_entries(feed), key=lambda entry: entry.title)
    assert [entry.title for entry in entries] == ["样本报道1", "样本报道2", "样本报道3"]
    for number, entry in enumerate(entries, start=1):  # relative links made absolute
        assert f'href="{base}/articles/{number}.html"' in entry.content[0].value
    assert "第1篇报道的<b>摘要</b>。" in entries[0].content[0].value  # GB18030, markup kept
    assert entries[0].published.startswith("Thu, 02 Jun 2022 01:01:00 +0800")
