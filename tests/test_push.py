"""The WebSub subscriber's conformance points: discovery from headers and from the document,
the subscription request, verification of intent answered only for our own requests, signed,
unsigned and wrongly signed deliveries, unsubscription, lease renewal, exactly-once import.
A recording hub on 127.0.0.1 plays the hub; ``PushSubscriber`` is the daemon's own."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from support.upstreams import Item, atom, make_config, post_files, rss, run_poll
from support.websub import Callback, callback_server

from syndicator.core.config import Config
from syndicator.push import PushSubscriber
from syndicator.state.db import State
from syndicator.state.websub import PushRow, PushStore
from syndicator.upstreams.parse import parse_feed
from syndicator.upstreams.websub_subscriber import (
    CALLBACK_PATH,
    Discovered,
    discover,
    needs_request,
    renewal_due,
)
from syndicator.web.metrics import Metrics

FEED_URL = "http://news.example/feed.xml"


# --- discovery (WebSub 4) ---------------------------------------------------------------------


def test_discovery_from_the_link_header_wins_over_the_document():
    body = atom([Item(1)]).replace(
        b"<title>", b'<link rel="hub" href="http://doc-hub.example/"/><title>', 1
    )
    feed = parse_feed(body, FEED_URL, {})
    headers = {"Link": '<http://hub.example/>; rel="hub", <http://news.example/self>; rel="self"'}
    assert discover(headers, feed, FEED_URL) == Discovered(
        "http://hub.example/", "http://news.example/self"
    )
    assert discover({}, feed, FEED_URL) == Discovered("http://doc-hub.example/", FEED_URL)


def test_discovery_from_an_rss_atom_link_and_a_json_feed():
    body = rss([Item(1)]).replace(
        b"<channel>",
        b'<channel><atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" '
        b'href="http://hub.example/h"/><atom:link xmlns:atom="http://www.w3.org/2005/Atom" '
        b'rel="self" href="http://news.example/rss"/>',
        1,
    )
    assert discover({}, parse_feed(body, FEED_URL, {}), FEED_URL) == Discovered(
        "http://hub.example/h", "http://news.example/rss"
    )
    json_feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", '
        b'"feed_url": "http://news.example/feed.json", '
        b'"hubs": [{"type": "rssCloud", "url": "http://cloud/"}, '
        b'{"type": "WebSub", "url": "http://hub.example/j"}], "items": []}'
    )
    assert discover({}, parse_feed(json_feed, FEED_URL, {}), FEED_URL) == Discovered(
        "http://hub.example/j", "http://news.example/feed.json"
    )


def test_a_link_header_with_several_relations_and_no_hub():
    feed = parse_feed(rss([Item(1)]), FEED_URL, {})
    both = {"Link": '<http://hub.example/>; rel="hub self"'}
    assert discover(both, feed, FEED_URL) == Discovered(
        "http://hub.example/", "http://hub.example/"
    )
    assert discover({"Link": '<http://x/>; rel="next"'}, feed, FEED_URL) is None


# --- subscribing, verification, deliveries ---------------------------------------------------


class World:
    """A config with one upstream, a recording hub, and the subscriber wired as the daemon
    wires it (jobs run at once here)."""

    def __init__(self, tmp_path: Path, hub: Callback, feed_url: str = FEED_URL) -> None:
        self.hub = hub
        self.feed_url = feed_url
        extra = '\n[websub]\ncallback_base_url = "http://me.example"\n'
        self.config: Config = make_config(tmp_path, [("上游", feed_url, "news", ())], extra=extra)
        self.rebuilt: list[Collection[Path]] = []
        self.rescheduled: list[str] = []
        self.metrics = Metrics()
        self.subscriber = PushSubscriber(
            lambda: self.config,
            self.metrics,
            nullcontext,
            self.run,
            self.rebuilt.append,
            lambda upstream: self.rescheduled.append(upstream.key),
        )

    @staticmethod
    def run(job: Callable[[], None]) -> None:
        job()

    @property
    def upstream(self):
        return self.config.upstreams[0]

    def row(self) -> PushRow | None:
        with State.open(self.config.state.path) as state:
            return PushStore(state).get(self.upstream.key)

    def found(self) -> PushRow:
        self.subscriber.found(self.upstream, Discovered(self.hub.url("/hub"), self.feed_url))
        row = self.row()
        assert row is not None
        return row

    def requests(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(r.body.decode()).items()} for r in self.hub.deliveries()
        ]

    def verify(self, row: PushRow, **query: str) -> tuple[int, str]:
        values = {"hub.topic": row.topic, "hub.challenge": "c" * 40, **query}
        return self.subscriber.callback(
            "GET", CALLBACK_PATH + row.token, urlencode(values), {}, b""
        )

    def deliver(self, row: PushRow, body: bytes, signature: str | None) -> tuple[int, str]:
        headers = {"content-type": "application/rss+xml"}
        if signature is not None:
            headers["x-hub-signature"] = signature
        return self.subscriber.callback("POST", CALLBACK_PATH + row.token, "", headers, body)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with callback_server() as hub:
        yield World(tmp_path, hub)


def signed(secret: str, body: bytes, method: str = "sha256") -> str:
    return f"{method}={hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()}"


def active(world: World) -> PushRow:
    row = world.found()
    assert world.verify(row, **{"hub.mode": "subscribe", "hub.lease_seconds": "86400"})[0] == 200
    made = world.row()
    assert made is not None and made.state == "active"
    return made


def test_the_subscription_request_names_an_unguessable_callback_and_a_fresh_secret(world):
    row = world.found()
    (asked,) = world.requests()
    assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == FEED_URL
    assert asked["hub.callback"] == f"http://me.example{CALLBACK_PATH}{row.token}"
    assert len(row.token) >= 40 and len(asked["hub.secret"]) == 64
    assert row.state == "requested" and row.asked_secret == asked["hub.secret"]
    assert world.hub.deliveries()[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_plain_http_hub_is_warned_of_once_per_upstream(world, caplog):
    caplog.set_level(logging.WARNING, "syndicator.upstreams.websub_subscriber")
    row = active(world)
    assert caplog.text.count("is plain http") == 1
    near = replace(row, lease_expires=time.time() + 60, requested_at=time.time() - 86340)
    with State.open(world.config.state.path) as state:
        PushStore(state).save(near)
    world.found()
    assert len(world.requests()) == 2  # renewed, with a secret, and not warned of again
    assert "hub.secret" in world.requests()[-1]
    assert caplog.text.count("is plain http") == 1


def test_the_verification_of_our_request_is_answered_with_the_challenge(world):
    row = world.found()
    status, body = world.verify(row, **{"hub.mode": "subscribe", "hub.lease_seconds": "3600"})
    assert (status, body) == (200, "c" * 40)
    made = world.row()
    assert made.state == "active" and made.secret == row.asked_secret and made.asked_secret is None
    assert 3590 < made.lease_expires - time.time() <= 3600
    assert world.rescheduled == [world.upstream.key]  # polls slow down to the safety net


@pytest.mark.parametrize(
    "change",
    [
        {"hub.topic": "http://news.example/other.xml"},
        {"hub.mode": "unsubscribe"},
        {"hub.challenge": ""},
    ],
)
def test_a_verification_we_did_not_ask_for_is_refused(world, change):
    row = world.found()
    assert world.verify(row, **{"hub.mode": "subscribe", **change})[0] == 404
    assert world.row().state == "requested"


def test_an_unknown_callback_or_a_second_unasked_verification_is_refused(world):
    row = world.found()
    assert world.verify(replace(row, token="guess"), **{"hub.mode": "subscribe"})[0] == 404
    assert world.verify(row, **{"hub.mode": "subscribe"})[0] == 200
    # Verified once; a hub (or anyone) asking again without a new request is refused.
    assert world.verify(row, **{"hub.mode": "subscribe"})[0] == 404


def test_a_denial_is_noted(world):
    row = world.found()
    assert world.verify(row, **{"hub.mode": "denied", "hub.reason": "no thanks"})[0] == 200
    assert world.row().state == "denied" and "no thanks" in world.row().last_error


def test_a_signed_delivery_is_imported_exactly_once(world):
    row = active(world)
    body = rss([Item(1), Item(2)])
    for _ in range(2):
        assert world.deliver(row, body, signed(row.secret, body))[0] == 202
    assert len(post_files(world.config)) == 2
    assert len(world.rebuilt) == 1 and len(world.rebuilt[0]) == 2
    # A poll of the same items afterwards writes nothing again.
    world.hub.delivery_status = 200
    assert world.deliver(row, body, signed(row.secret, body, "sha512"))[0] == 202
    assert len(post_files(world.config)) == 2


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha256=", "md5=abc", "sha256", "garbage"],
)
def test_an_unsigned_or_wrongly_signed_delivery_is_acknowledged_and_ignored(world, signature):
    row = active(world)
    body = rss([Item(1)])
    assert world.deliver(row, body, signature)[0] == 202
    assert post_files(world.config) == []
    counted = world.metrics.websub_pushes.labels("上游", "bad_signature")._value.get()
    assert counted == 1


def test_a_delivery_signed_with_another_secret_is_ignored(world):
    row = active(world)
    body = rss([Item(1)])
    assert world.deliver(row, body, signed("not-ours", body))[0] == 202
    assert post_files(world.config) == []


def test_a_delivery_to_an_unknown_callback_is_answered_gone(world):
    row = active(world)
    body = rss([Item(1)])
    assert world.deliver(replace(row, token="nope"), body, signed(row.secret, body))[0] == 410


def test_the_server_can_tell_our_callbacks_before_reading_a_body(world):
    row = active(world)
    assert world.subscriber.knows(CALLBACK_PATH + row.token)
    assert not world.subscriber.knows(CALLBACK_PATH + "made-up")


def test_a_push_and_a_poll_of_the_same_entries_make_one_post_each(tmp_path, httpserver):
    body = rss([Item(1), Item(2)])
    httpserver.expect_request("/feed.xml").respond_with_data(
        body, content_type="application/rss+xml"
    )
    with callback_server() as hub:
        world = World(tmp_path, hub, httpserver.url_for("/feed.xml"))
        row = active(world)
        world.deliver(row, rss([Item(1)]), signed(row.secret, rss([Item(1)])))
        assert len(post_files(world.config)) == 1
        report, _ = run_poll(world.config)
        assert [o.result for o in report.outcomes] == ["imported"]
        assert len(post_files(world.config)) == 2  # story 2 only: story 1 came by push


# --- unsubscription and renewal ---------------------------------------------------------------


def test_an_upstream_no_longer_configured_is_unsubscribed(world):
    row = active(world)
    world.config = replace(world.config, upstreams=())
    world.subscriber.maintain()
    asked = world.requests()[-1]
    assert asked["hub.mode"] == "unsubscribe" and asked["hub.topic"] == FEED_URL
    assert world.verify(row, **{"hub.mode": "unsubscribe"}) == (200, "c" * 40)
    with State.open(world.config.state.path) as state:
        assert PushStore(state).all() == []


def test_a_lease_is_renewed_before_it_ends(world):
    row = active(world)
    assert not renewal_due(row, time.time())
    world.subscriber.maintain()
    assert len(world.requests()) == 1
    # Near its end: a new request with a fresh secret, the old one kept until verified.
    near = replace(row, lease_expires=time.time() + 60, requested_at=time.time() - 86340)
    with State.open(world.config.state.path) as state:
        PushStore(state).save(near)
    world.subscriber.maintain()
    renewal = world.requests()[-1]
    assert renewal["hub.mode"] == "subscribe" and renewal["hub.secret"] != row.secret
    renewed = world.row()
    assert renewed.state == "active" and renewed.secret == row.secret
    # Deliveries signed with either secret count until the hub verifies the renewal.
    body = rss([Item(5)])
    assert world.deliver(renewed, body, signed(renewal["hub.secret"], body))[0] == 202
    assert len(post_files(world.config)) == 1
    assert (
        world.verify(renewed, **{"hub.mode": "subscribe", "hub.lease_seconds": "86400"})[0] == 200
    )
    assert world.row().secret == renewal["hub.secret"]


def test_when_to_ask_again():
    now = time.time()
    found = Discovered("http://hub/", FEED_URL)
    row = PushRow("k", "http://hub/", FEED_URL, "t", "s", None, "active", now, now + 86400)
    assert not needs_request(row, found, now)
    assert needs_request(row, Discovered("http://other-hub/", FEED_URL), now)
    assert needs_request(None, found, now)
    assert needs_request(replace(row, state="requested", requested_at=now - 700), found, now)
    assert not needs_request(replace(row, state="failed", requested_at=now - 60), found, now)
    assert needs_request(replace(row, state="failed", requested_at=now - 4000), found, now)


def test_a_hub_that_refuses_the_request_is_tried_again_later(tmp_path):
    with callback_server(Callback(delivery_status=400)) as hub:
        world = World(tmp_path, hub)
        row = world.found()
        assert row.state == "failed" and "HTTP 400" in row.last_error


def test_status_and_metrics_show_the_push_state(world):
    from syndicator.upstreams.status import upstream_statuses

    with State.open(world.config.state.path) as state:
        assert [s.push for s in upstream_statuses(world.config, state)] == ["none"]
    row = world.found()
    with State.open(world.config.state.path) as state:
        assert [s.push for s in upstream_statuses(world.config, state)] == ["requested"]
    world.verify(row, **{"hub.mode": "subscribe", "hub.lease_seconds": "1"})
    world.subscriber.maintain()
    assert world.metrics.websub_push_subscriptions.labels("active")._value.get() == 1
    time.sleep(1.1)
    with State.open(world.config.state.path) as state:
        assert [s.push for s in upstream_statuses(world.config, state)] == ["expired"]


def test_every_subscription_is_asked_for_again_when_the_daemon_starts(world):
    """Killed after answering a verification but before the hub heard the answer, the
    daemon held "active" for a subscription the hub never made, and asked again only when
    its lease was nearly over (ten days): pushes missed meanwhile."""
    active(world)
    world.subscriber.maintain()
    assert len(world.requests()) == 1  # not due: nothing asked
    world.subscriber.maintain(renew_all=True)  # what the daemon runs at start
    again = world.requests()[-1]
    assert len(world.requests()) == 2
    assert again["hub.mode"] == "subscribe" and again["hub.topic"] == FEED_URL
