"""The WebSub hub against real callbacks on 127.0.0.1: each conformance point of the spec's
hub side (subscription requests, verification of intent, leases, content distribution,
signatures, unsubscription), and hostile subscribers."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from support.processes import wait_until
from support.site import SITE_TOML, make_post_folders, run_build, write_post
from support.websub import Callback, callback_server

from syndicator.core.config import Config, load_config
from syndicator.state.db import State
from syndicator.state.websub import Subscription, SubscriptionStore
from syndicator.web.websub_hub import Hub, callback_host, feed_links, feed_topics, topic_file

BASE = "http://feeds.example"
TOPIC = f"{BASE}/atom.xml"
WAIT = 20.0  # generous: a busy 2-core machine


def site_config(tmp_path: Path, websub: str = "", private: bool = True) -> Config:
    path = tmp_path / "syndicator.toml"
    path.write_text(
        SITE_TOML.replace('dir = "feeds"', f'dir = "feeds"\nbase_url = "{BASE}"')
        + f"\n[websub]\nhub = true\nallow_private_callbacks = {str(private).lower()}\n"
        + 'min_lease = "1s"\n'
        + websub,
        encoding="utf-8",
    )
    config = make_post_folders(load_config(path))
    write_post(config.posts.dirs[0], "2022-01-01-a.md")
    run_build(config)
    return config


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return site_config(tmp_path)


@pytest.fixture
def hub(config: Config) -> Iterator[Hub]:
    hub = Hub(config, retry_base=0.2, max_attempts=3)
    hub.start()
    yield hub
    hub.stop()


@pytest.fixture
def callback() -> Iterator[Callback]:
    with callback_server() as server:
        yield server


def request(hub: Hub, **form: str | int) -> tuple[int, str]:
    fields = {f"hub.{key}": str(value) for key, value in form.items()}
    return hub.handle(urlencode(fields).encode())


def subscriptions(config: Config) -> list[Subscription]:
    with State.open(config.state.path) as state:
        return SubscriptionStore(state).active(time.time())


def subscribe(
    hub: Hub, callback: Callback, path: str = "/cb", topic_spelling: str = TOPIC, **extra: str | int
) -> None:
    """A subscription made and verified."""
    status, _ = request(
        hub, mode="subscribe", callback=callback.url(path), topic=topic_spelling, **extra
    )
    assert status == 202
    wait_until(
        lambda: any(s.callback == callback.url(path) for s in subscriptions(hub.config)),
        WAIT,
        "the subscription verified",
    )


# --- subscription requests and verification of intent (WebSub 5.1, 5.3) ----------------------


def test_a_subscription_counts_once_the_callback_echoes_the_challenge(hub, callback):
    status, text = request(hub, mode="subscribe", callback=callback.url(), topic=TOPIC)
    assert status == 202, text
    wait_until(lambda: subscriptions(hub.config), WAIT, "subscribed")
    (asked,) = callback.verifications()
    assert asked.query["hub.mode"] == "subscribe"
    assert asked.query["hub.topic"] == TOPIC
    assert len(asked.query["hub.challenge"]) >= 32
    assert int(asked.query["hub.lease_seconds"]) == 10 * 86400  # the default lease
    (made,) = subscriptions(hub.config)
    assert (made.topic, made.callback, made.secret) == (TOPIC, callback.url(), None)


def test_a_wrong_challenge_or_a_refusal_makes_no_subscription(hub):
    with (
        callback_server(Callback(echo=False)) as wrong,
        callback_server(Callback(verify_status=404)) as refusing,
    ):
        for callback in (wrong, refusing):
            assert request(hub, mode="subscribe", callback=callback.url(), topic=TOPIC)[0] == 202
        wait_until(lambda: wrong.verifications() and refusing.verifications(), WAIT, "both asked")
        time.sleep(0.5)  # the answers are applied after they arrive
        assert subscriptions(hub.config) == []


def test_the_callback_query_string_is_kept(hub, callback):
    subscribe(hub, callback, "/cb?user=7")
    (asked,) = callback.verifications()
    assert asked.query["user"] == "7" and asked.query["hub.mode"] == "subscribe"


def test_a_topic_that_is_not_ours_is_refused_and_the_callback_never_called(hub, callback):
    for topic in (
        "http://elsewhere.example/atom.xml",
        f"{BASE}/missing/atom.xml",
        f"{BASE}/index.html",
        f"{BASE}/../atom.xml",
        f"{BASE}/.syndicator-files",
    ):
        status, text = request(hub, mode="subscribe", callback=callback.url(), topic=topic)
        assert status == 400 and "not a feed of this hub" in text
    time.sleep(0.3)
    assert callback.received == []


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"hub.mode": "subscribe", "hub.topic": TOPIC}, "hub.callback and hub.topic"),
        ({"hub.mode": "subscribe", "hub.callback": "http://x.example/"}, "hub.callback and"),
        ({"hub.mode": "watch", "hub.callback": "http://x/", "hub.topic": TOPIC}, "hub.mode"),
        ({"hub.mode": "subscribe", "hub.callback": "ftp://x/", "hub.topic": TOPIC}, "http(s)"),
        (
            {
                "hub.mode": "subscribe",
                "hub.callback": "http://x.example/",
                "hub.topic": TOPIC,
                "hub.secret": "s" * 200,
            },
            "hub.secret",
        ),
    ],
)
def test_a_bad_request_is_answered_4xx_with_the_reason(hub, form, reason):
    status, text = hub.handle(urlencode(form).encode())
    assert status == 400 and reason in text


def test_a_body_that_is_not_a_form_is_refused(hub):
    assert hub.handle(b"\xff\xfe")[0] == 400
    assert hub.handle(b"x" * 70_000)[0] == 413


def test_a_refused_body_is_told_what_is_wrong_with_it(hub):
    status, text = hub.handle(b"&".join(b"f%d=1" % n for n in range(100)))
    assert status == 400 and "more than 64 fields" in text
    status, text = hub.handle(b'{"hub.mode": "subscribe", "hub.topic": "x"}')
    assert status == 400 and "must be a form" in text


def test_a_callback_with_a_fragment_is_refused(hub, callback):
    status, text = request(hub, mode="subscribe", callback=callback.url("/cb#x"), topic=TOPIC)
    assert status == 400 and "#fragment" in text
    time.sleep(0.3)
    assert callback.received == []


def test_a_topic_spelled_with_escapes_is_kept_under_its_canonical_url(hub, callback):
    spelled = f"{BASE}/%61tom.xml"
    subscribe(hub, callback, topic_spelling=spelled)
    assert callback.verifications()[0].query["hub.topic"] == spelled  # as the subscriber asked
    assert [s.topic for s in subscriptions(hub.config)] == [TOPIC]
    hub.publish([TOPIC])
    wait_until(callback.deliveries, WAIT, "delivered")
    status, _ = request(hub, mode="unsubscribe", callback=callback.url(), topic=spelled)
    assert status == 202
    wait_until(lambda: not subscriptions(hub.config), WAIT, "unsubscribed")


@pytest.mark.parametrize(
    ("asked", "granted"), [(None, 864000), (7200, 7200), (10**12, 2592000), (0, 1), ("x", 864000)]
)
def test_the_lease_is_kept_within_bounds_and_told_to_the_subscriber(hub, callback, asked, granted):
    extra = {} if asked is None else {"lease_seconds": asked}
    started = time.time()
    subscribe(hub, callback, **extra)
    (asked_query,) = callback.verifications()
    assert int(asked_query.query["hub.lease_seconds"]) == granted
    (made,) = subscriptions(hub.config)
    assert made.lease_seconds == granted
    assert started + granted - 1 <= made.expires_at <= time.time() + granted


def test_the_lease_runs_from_when_the_verification_was_sent(hub):
    with callback_server(Callback(delay=2)) as slow:
        sent = time.time()
        subscribe(hub, slow, lease_seconds=7200)
        (made,) = subscriptions(hub.config)
        assert made.expires_at < sent + 7200 + 1  # not from the answer, two seconds later


def test_subscribing_again_renews_the_lease_and_replaces_the_secret(hub, callback):
    subscribe(hub, callback, lease_seconds=3600, secret="first")
    first = subscriptions(hub.config)[0]
    status, _ = request(
        hub,
        mode="subscribe",
        callback=callback.url(),
        topic=TOPIC,
        lease_seconds=7200,
        secret="second",
    )
    assert status == 202
    wait_until(lambda: subscriptions(hub.config)[0].secret == "second", WAIT, "renewed")
    (renewed,) = subscriptions(hub.config)
    assert renewed.expires_at > first.expires_at and renewed.lease_seconds == 7200


def test_unsubscribing_is_verified_then_ends_the_deliveries(hub, callback):
    subscribe(hub, callback)
    assert request(hub, mode="unsubscribe", callback=callback.url(), topic=TOPIC)[0] == 202
    wait_until(lambda: not subscriptions(hub.config), WAIT, "unsubscribed")
    assert callback.verifications()[-1].query["hub.mode"] == "unsubscribe"
    assert "hub.lease_seconds" not in callback.verifications()[-1].query
    hub.publish([TOPIC])
    time.sleep(0.5)
    assert callback.deliveries() == []


def test_an_unsubscription_the_callback_denies_keeps_the_subscription(hub):
    behaviour = Callback()
    with callback_server(behaviour) as callback:
        subscribe(hub, callback)
        behaviour.verify_status = 404
        assert request(hub, mode="unsubscribe", callback=callback.url(), topic=TOPIC)[0] == 202
        wait_until(lambda: len(callback.verifications()) == 2, WAIT, "asked")
        time.sleep(0.3)
        assert len(subscriptions(hub.config)) == 1


# --- content distribution (WebSub 7) -------------------------------------------------------


def test_a_changed_feed_is_delivered_whole_with_its_type_and_links(hub, callback, config):
    subscribe(hub, callback)
    hub.publish([TOPIC])
    wait_until(callback.deliveries, WAIT, "delivered")
    (delivery,) = callback.deliveries()
    assert delivery.body == (config.feeds.dir / "atom.xml").read_bytes()
    assert delivery.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert f'<{BASE}/websub>; rel="hub"' in delivery.headers["link"]
    assert f'<{TOPIC}>; rel="self"' in delivery.headers["link"]
    assert "x-hub-signature" not in delivery.headers  # no secret given


def test_a_delivery_is_signed_with_the_subscribers_secret(hub, callback):
    subscribe(hub, callback, secret="sekrit")
    hub.publish([TOPIC])
    wait_until(callback.deliveries, WAIT, "delivered")
    (delivery,) = callback.deliveries()
    expected = hmac.new(b"sekrit", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["x-hub-signature"] == f"sha256={expected}"


def test_only_the_subscribers_of_a_changed_topic_are_sent_it(hub, callback):
    subscribe(hub, callback)
    hub.publish([f"{BASE}/rss.xml"])
    time.sleep(0.5)
    assert callback.deliveries() == []


def test_a_publish_ping_from_outside_is_acknowledged_and_sends_nothing(hub, callback):
    subscribe(hub, callback)
    for _ in range(3):
        assert hub.handle(urlencode({"hub.mode": "publish", "hub.url": TOPIC}).encode())[0] == 202
    time.sleep(1)
    assert callback.deliveries() == []  # the hub knows when its feeds change
    ping = urlencode({"hub.mode": "publish", "hub.url": "http://other.example/feed"}).encode()
    assert hub.handle(ping)[0] == 400


def test_a_failing_callback_is_retried_with_backoff_then_given_up(hub):
    with callback_server(Callback(delivery_status=500)) as failing, callback_server() as healthy:
        subscribe(hub, failing)
        subscribe(hub, healthy)
        hub.publish([TOPIC])
        wait_until(healthy.deliveries, WAIT, "the healthy subscriber served")
        wait_until(lambda: len(failing.deliveries()) == 3, WAIT, "three attempts")
        times = [d.at for d in failing.deliveries()]
        # Backing off: 0.2 s, then 0.4 s (each within the 20 % jitter), at the least.
        assert times[1] - times[0] >= 0.16 and times[2] - times[1] >= 0.32
        wait_until(lambda: owed(hub.config) == 0, WAIT, "given up")
        time.sleep(1)
        assert len(failing.deliveries()) == 3
        assert len(subscriptions(hub.config)) == 2  # still subscribed: the next change is sent


def test_a_callback_that_answers_410_is_unsubscribed(hub):
    with callback_server(Callback(delivery_status=410)) as gone:
        subscribe(hub, gone)
        hub.publish([TOPIC])
        wait_until(lambda: not subscriptions(hub.config), WAIT, "unsubscribed")


def test_a_subscription_ends_with_its_lease(hub, callback):
    subscribe(hub, callback, lease_seconds=1)
    time.sleep(1.2)
    assert subscriptions(hub.config) == []
    hub.publish([TOPIC])
    time.sleep(0.5)
    assert callback.deliveries() == []


def owed(config: Config) -> int:
    with State.open(config.state.path) as state:
        return SubscriptionStore(state).counts(time.time())[1]


# --- hostile subscribers ----------------------------------------------------------------------


def test_a_failed_verification_says_it_is_dropped_not_tried_again(hub, caplog):
    with callback_server() as gone:
        url = gone.url()
    caplog.set_level(logging.INFO, "syndicator.web.websub_hub")
    assert request(hub, mode="subscribe", callback=url, topic=TOPIC)[0] == 202
    wait_until(lambda: "not verified" in caplog.text, WAIT, "the failure logged")
    assert "the subscriber must ask again" in caplog.text
    assert "tried again" not in caplog.text


def test_a_callback_on_a_private_address_is_never_called(tmp_path, callback):
    guarded = Hub(site_config(tmp_path, private=False))
    guarded.start()
    try:
        assert request(guarded, mode="subscribe", callback=callback.url(), topic=TOPIC)[0] == 202
        time.sleep(1)
        assert callback.received == []
        assert subscriptions(guarded.config) == []
        assert guarded.metrics.websub_verifications.labels("subscribe", "failed")._value.get() == 1
    finally:
        guarded.stop()


@pytest.mark.parametrize("delay", [8, 600], ids=["slow", "never"])
def test_a_slow_or_unanswered_verification_holds_up_no_other(hub, delay):
    with callback_server(Callback(delay=delay)) as slow, callback_server() as quick:
        assert request(hub, mode="subscribe", callback=slow.url(), topic=TOPIC)[0] == 202
        wait_until(slow.verifications, WAIT, "the slow one asked")
        subscribe(hub, quick)
        assert [s.callback for s in subscriptions(hub.config)] == [quick.url()]


def test_an_unsubscription_of_nothing_is_declined_without_a_verification(hub):
    with callback_server(Callback(delay=600)) as never:
        for n in range(50):
            status, text = request(
                hub, mode="unsubscribe", callback=never.url(f"/cb{n}"), topic=TOPIC
            )
            assert status == 404 and "is not subscribed" in text
        time.sleep(0.5)
        assert never.received == []


def test_one_host_that_never_answers_holds_up_no_other(hub, callback):
    with callback_server(Callback(delay=600)) as never:
        answers = [
            request(hub, mode="subscribe", callback=never.url(f"/cb{n}"), topic=TOPIC)
            for n in range(30)
        ]
        assert [status for status, _ in answers].count(202) == hub.pending_per_host == 4
        assert "being verified" in answers[-1][1]
        wait_until(lambda: len(never.verifications()) == 4, WAIT, "the four asked")
        # Another host (a name is its own host: names are not resolved) is verified at once.
        other = callback.url().replace("127.0.0.1", "localhost")
        started = time.monotonic()
        assert request(hub, mode="subscribe", callback=other, topic=TOPIC)[0] == 202
        wait_until(lambda: subscriptions(hub.config), WAIT, "the other host verified")
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("spelled", "host"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("[0:0::1]", "::1"),
        ("Example.COM.", "example.com"),
        ("a\x00b", "a\x00b"),
    ],
)
def test_a_callback_host_is_counted_however_it_is_spelled(spelled, host):
    assert callback_host(urlsplit(f"http://{spelled}:80/").hostname or "") == host


def test_subscriptions_per_callback_host_are_limited(tmp_path, callback):
    limited = Hub(site_config(tmp_path, "max_subscriptions_per_host = 3\n"))
    limited.start()
    try:
        for n in range(3):
            subscribe(limited, callback, f"/cb{n}")
        status, text = request(
            limited, mode="subscribe", callback=callback.url("/cb9"), topic=TOPIC
        )
        assert status == 429 and "127.0.0.1" in text
        for spelled in ("127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]"):
            elsewhere = callback.url("/cb9").replace("127.0.0.1", spelled)
            status, text = request(limited, mode="subscribe", callback=elsewhere, topic=TOPIC)
            assert status == 429 and "127.0.0.1" in text, spelled
        # Renewing one already held is no new subscription.
        assert (
            request(limited, mode="subscribe", callback=callback.url("/cb0"), topic=TOPIC)[0] == 202
        )
    finally:
        limited.stop()


def test_ten_thousand_subscriptions_are_owed_and_counted(hub, config):
    now = time.time()
    with State.open(config.state.path) as state:
        store = SubscriptionStore(state)
        with state.transaction():
            for n in range(10_000):
                store.subscribe(
                    Subscription(
                        TOPIC, f"http://h{n}.invalid/cb", f"h{n}.invalid", None, 60, now + 60
                    )
                )
    hub.publish([TOPIC])
    assert owed(config) == 10_000
    with State.open(config.state.path) as state:
        assert SubscriptionStore(state).counts(time.time()) == (10_000, owed(config))


# --- what the feeds and the server say --------------------------------------------------------


def test_feeds_name_the_hub_and_themselves(config):
    atom = (config.feeds.dir / "atom.xml").read_text()
    assert f'<link href="{BASE}/websub" rel="hub"/>' in atom
    assert f'<link href="{TOPIC}" rel="self"' in atom
    rss = (config.feeds.dir / "rss.xml").read_text()
    assert f'<atom:link href="{BASE}/websub" rel="hub"/>' in rss
    json_feed = (config.feeds.dir / "feed.json").read_text()
    assert f'"url": "{BASE}/websub"' in json_feed and '"type": "WebSub"' in json_feed


def test_link_headers_and_topics(config):
    assert feed_links(config, "/categories/news/rss.xml") == (
        f'<{BASE}/websub>; rel="hub", <{BASE}/categories/news/rss.xml>; rel="self"'
    )
    assert feed_links(config, "/index.html") is None
    assert feed_topics(config, ["atom.xml", "feeds.opml", "tags/a b/feed.json"]) == [
        TOPIC,
        f"{BASE}/tags/a%20b/feed.json",
    ]
    assert topic_file(config, TOPIC) == config.feeds.dir / "atom.xml"
