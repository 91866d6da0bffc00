"""An article's main text from its page, and the turns each host gets."""

from __future__ import annotations

import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler

from support.examples import load_replica
from support.upstreams import HostileServer, answer

from syndicator.upstreams.fetch import Fetcher
from syndicator.upstreams.fulltext import extract_article
from syndicator.upstreams.politeness import HostGate, host_of

replica = load_replica()
URL = "http://news.example/articles/3.html"
BOILERPLATE = ("开户送好礼", "热门文章", "版权所有", "track(", "首页", "window.ads")


def test_the_article_is_found_and_the_rest_left_out() -> None:
    article = extract_article(replica.article_page(3), URL, {})
    assert article is not None
    for paragraph in replica.article_text(3):
        assert f"<p>{paragraph}</p>" in article
    assert 'src="http://news.example/img/3.jpg"' in article  # the lazy image, made absolute
    for boilerplate in BOILERPLATE:
        assert boilerplate not in article


def test_a_gb18030_article_is_read_in_its_encoding() -> None:
    article = extract_article(replica.article_page(4, charset="gb18030"), URL, {})
    assert article is not None and replica.article_text(4)[0] in article


def test_content_selector_takes_that_element_without_scripts_or_ads() -> None:
    page = replica.article_page(5).replace(
        b"</div></article>", b'<script>evil()</script><div class="ad">AD</div></div></article>'
    )
    article = extract_article(page, URL, {}, content_selector="div.article-body")
    assert article is not None
    assert [p for p in replica.article_text(5) if p not in article] == []
    assert 'src="http://news.example/img/5.jpg"' in article
    assert "evil()" not in article and "AD" not in article
    assert extract_article(page, URL, {}, content_selector="div.missing") is None


def test_a_page_without_an_article_yields_nothing() -> None:
    assert extract_article(b"<html><body><nav>Home</nav></body></html>", URL, {}) is None
    assert extract_article(b"", URL, {}) is None
    assert extract_article(b"\x00\xff" * 1000, URL, {}) is None


def test_one_request_at_a_time_per_host_and_a_pause_between() -> None:
    gate = HostGate(delay=0.05)
    under_way: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    ends: list[tuple[str, float, float]] = []
    lock = threading.Lock()

    def request(host: str) -> None:
        with gate.turn(f"http://{host}.example/x"):
            started = time.monotonic()
            with lock:
                under_way[host] += 1
                most[host] = max(most[host], under_way[host])
            time.sleep(0.02)
            with lock:
                under_way[host] -= 1
            ends.append((host, started, time.monotonic()))

    threads = [threading.Thread(target=request, args=(h,)) for h in "ab" * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == {"a": 1, "b": 1}
    for host in "ab":
        spans = sorted((s, e) for h, s, e in ends if h == host)
        gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
        assert len(gaps) == 3 and min(gaps) >= 0.045


def test_another_host_does_not_wait_for_a_busy_one() -> None:
    gate = HostGate(delay=60)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.turn("http://slow.example/a"):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(30)

    def visit() -> None:
        with gate.turn("http://fast.example/b"):
            pass

    other = threading.Thread(target=visit)
    other.start()
    other.join(30)
    assert not other.is_alive()  # got its turn while slow.example's was held
    release.set()
    holder.join(30)


def test_what_is_not_a_page_yields_nothing() -> None:
    page = replica.article_page(3)
    assert extract_article(page, URL, {"Content-Type": "application/pdf"}) is None
    assert extract_article(page, URL, {"Content-Type": "text/html; charset=utf-8"}) is not None


def test_the_gate_forgets_idle_hosts() -> None:
    gate = HostGate(delay=0)
    for n in range(3000):
        with gate.turn(f"http://host{n}.example/"):
            pass
    assert len(gate) <= 1000


def test_spellings_of_one_host_share_its_turns() -> None:
    same = ["127.0.0.1:8000", "127.1:8000", "2130706433:8000", "0x7f.1:8000", "127.0.0.1.:8000"]
    assert {host_of(f"http://{host}/x") for host in same} == {"127.0.0.1:8000"}
    assert host_of("http://LOCALHOST./") == host_of("http://localhost:80/") == "localhost:80"
    assert host_of("http://[0:0::1]/") == host_of("http://[::1]:80/")
    assert host_of("https://Example.COM/") == host_of("https://example.com:443/")
    assert host_of("http://example.com/") != host_of("https://example.com/")


def test_a_redirect_waits_for_its_target_hosts_turn() -> None:
    server = HostileServer()
    target = server.route("/target", answer(b"ok", "text/plain"))

    def moved(request: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        request.send_response(302)
        request.send_header("Location", target)
        request.send_header("Content-Length", "0")
        request.end_headers()

    server.route("/moved", moved)
    fetcher = Fetcher(user_agent="t", timeout=10, max_bytes=1024, allow_private_addresses=True)
    holding, release = threading.Event(), threading.Event()
    results: list[int] = []

    def hold() -> None:
        with fetcher.gate.turn(target):
            holding.set()
            release.wait(30)

    def fetch() -> None:
        results.append(fetcher.fetch_politely(server.url("/moved", host="localhost")).status)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        fetching = threading.Thread(target=fetch)
        fetching.start()
        fetching.join(1.0)
        assert fetching.is_alive()  # the redirect's target host is busy: it waits its turn
        assert "/moved" in server.requests and "/target" not in server.requests
    finally:
        release.set()
        holder.join(30)
    fetching.join(30)
    assert results == [200]
    fetcher.close()
    server.close()
