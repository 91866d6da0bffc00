"""Feed discovery against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from support.upstreams import UPSTREAM_FIXTURES
from werkzeug import Response

import syndicator.upstreams.fetch
from syndicator.upstreams.discover import (
    DiscoveredFeed,
    DiscoveryError,
    discover_feed,
    propose_upstream,
)
from syndicator.upstreams.fetch import Fetcher
from syndicator.upstreams.parse import UpstreamFeed

RSS = (UPSTREAM_FIXTURES / "rss20.xml").read_bytes()
ATOM = (UPSTREAM_FIXTURES / "atom10.xml").read_bytes()
HTML = "text/html; charset=utf-8"


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(
        user_agent="syndicator-test/1.0",
        timeout=2.0,
        max_bytes=1_000_000,
        allow_private_addresses=True,
    ) as instance:
        yield instance


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> HTTPServer:
    # Unknown paths are "not found", as on a real site (the plugin's default is 500).
    httpserver_ipv4.no_handler_status_code = 404
    return httpserver_ipv4


def page(*links: str) -> str:
    return f"<!DOCTYPE html><html><head><title>Site</title>{''.join(links)}</head><body>Hi</body></html>"


def test_feed_url_is_its_own_feed(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/finance/rss.xml").respond_with_data(
        RSS, content_type="application/rss+xml"
    )
    url = server.url_for("/finance/rss.xml")

    found = discover_feed(fetcher, url)

    assert found.url == url
    assert found.title == "中国网财经"
    assert found.site_url == server.url_for("/finance/")
    assert found.feed.version == "rss20"
    assert len(server.log) == 1


def test_page_with_relative_alternate_link(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/news/").respond_with_data(
        (UPSTREAM_FIXTURES / "page.html").read_bytes(), content_type=HTML
    )
    server.expect_request("/news/feeds/rss.xml").respond_with_data(
        RSS, content_type="application/rss+xml"
    )

    found = discover_feed(fetcher, server.url_for("/news/"))

    assert found.url == server.url_for("/news/feeds/rss.xml")
    assert found.title == "中国网财经"  # from the feed, not the page
    assert found.feed.entries[0].key == "china-finance-001"


def test_first_working_link_is_preferred(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/").respond_with_data(
        page(
            '<link rel="stylesheet" href="/style.css">',
            '<link rel="alternate" type="application/json" href="/wp-json/">',
            '<link rel="alternate" type="application/atom+xml" href="/atom">',
            '<link rel="alternate" type="application/rss+xml" href="/rss">',
        ),
        content_type=HTML,
    )
    server.expect_request("/wp-json/").respond_with_json({"routes": {}})
    server.expect_request("/atom").respond_with_data(ATOM, content_type="application/atom+xml")
    server.expect_request("/rss").respond_with_data(RSS, content_type="application/rss+xml")

    found = discover_feed(fetcher, server.url_for("/"))

    # The JSON link is an API, not a feed: parsing rules it out and the next link wins.
    assert found.url == server.url_for("/atom")
    assert found.feed.version == "atom10"
    assert found.site_url == "https://atom.example.com/"


def test_json_feed_link(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/").respond_with_data(
        page('<link rel="alternate" type="application/feed+json" href="feed.json">'),
        content_type=HTML,
    )
    server.expect_request("/feed.json").respond_with_data(
        (UPSTREAM_FIXTURES / "jsonfeed11.json").read_bytes(), content_type="application/feed+json"
    )

    found = discover_feed(fetcher, server.url_for("/"))

    assert found.url == server.url_for("/feed.json")
    assert found.feed.version == "json11"


def test_page_without_links_but_a_usual_path(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/blog/post.html").respond_with_data(page(), content_type=HTML)
    server.expect_request("/feed.xml").respond_with_data(RSS, content_type="application/rss+xml")

    found = discover_feed(fetcher, server.url_for("/blog/post.html"))

    assert found.url == server.url_for("/feed.xml")
    assert found.title == "中国网财经"


def test_usual_path_answering_html_is_not_taken_for_a_feed(
    server: HTTPServer, fetcher: Fetcher
) -> None:
    server.expect_request("/").respond_with_data(page(), content_type=HTML)
    server.expect_request("/feed").respond_with_data(page(), content_type=HTML)
    server.expect_request("/index.xml").respond_with_data(RSS, content_type="application/xml")

    assert discover_feed(fetcher, server.url_for("/")).url == server.url_for("/index.xml")


def test_permanently_moved_feed_is_found_at_its_new_address(
    server: HTTPServer, fetcher: Fetcher
) -> None:
    server.expect_request("/old.xml").respond_with_response(
        Response(status=301, headers={"Location": "/new.xml"})
    )
    server.expect_request("/new.xml").respond_with_data(RSS, content_type="application/rss+xml")

    assert discover_feed(fetcher, server.url_for("/old.xml")).url == server.url_for("/new.xml")


def test_nothing_found(server: HTTPServer, fetcher: Fetcher) -> None:
    server.expect_request("/").respond_with_data(
        page('<link rel="alternate" type="application/rss+xml" href="/broken.xml">'),
        content_type=HTML,
    )
    url = server.url_for("/")

    with pytest.raises(DiscoveryError) as caught:
        discover_feed(fetcher, url)

    message = str(caught.value)
    assert message.startswith(f"no feed found for {url}")
    assert f"{server.url_for('/broken.xml')} (HTTP 404)" in message
    for path in ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/rss", "/feed.json"):
        assert server.url_for(path) in message


def test_unreachable_page(server: HTTPServer, fetcher: Fetcher) -> None:
    url = server.url_for("/missing")

    with pytest.raises(DiscoveryError, match=r"/missing: it answered HTTP 404"):
        discover_feed(fetcher, url)


def test_discovery_refuses_a_host_behind_a_6to4_address_of_loopback(
    server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``add`` discovers through the same guarded fetcher as polling: 2002:7f00:1:: is
    127.0.0.1 reached through 6to4."""
    server.expect_request("/").respond_with_data(page(), content_type=HTML)
    monkeypatch.setattr(
        syndicator.upstreams.fetch, "_resolve", lambda host, port: ["2002:7f00:1::"]
    )

    with (
        Fetcher(
            user_agent="syndicator-test/1.0",
            timeout=2.0,
            max_bytes=1_000_000,
            allow_private_addresses=False,
        ) as guarded,
        pytest.raises(DiscoveryError) as refused,
    ):
        discover_feed(guarded, f"http://site.example:{server.port}/")

    assert "2002:7f00:1::" in str(refused.value)
    assert "polling.allow_private_addresses" in str(refused.value)
    assert server.log == []


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("Reuters World", "reuters-world"),  # "eu" is inside a word, not a word
        ("EU news", "eu"),
        ("EU-News", "eu"),  # the slug is "eunews"
        ("News of the EU", "eu"),
        ("中国证券报要闻", "中国证券报"),  # no spaces between Chinese words
        ("中国证券报", "中国证券报"),
        ("Europe", "europe"),
    ],
)
def test_a_proposed_category_is_one_the_title_names_as_a_word(title, category):
    feed = UpstreamFeed(title, None, "rss20", (), None, ())
    found = DiscoveredFeed("https://feeds.example/x.xml", title, None, feed)
    assert propose_upstream(found, ["eu", "中国证券报"]).category == category
