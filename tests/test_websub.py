"""WebSub end to end: ``syndicator run`` as a real process on 127.0.0.1, as a hub for its own
feeds and as a publisher announcing to another hub, with subscribers' callbacks on 127.0.0.1;
subscriptions and owed deliveries across a SIGKILL."""

from __future__ import annotations

import hashlib
import hmac
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import free_port, get, start_syndicator, wait_until
from support.site import write_post
from support.websub import Callback, callback_server, post_form

WAIT = 30.0  # a new post reaches subscribers in about a second; a busy 2-core CI needs more


def write_config(root: Path, port: int, websub: str) -> Path:
    config = root / "syndicator.toml"
    config.write_text(
        f"""
[site]
title = "测试站"
url = "http://127.0.0.1:{port}"
timezone = "Asia/Shanghai"

[posts]
dirs = ["_posts"]

[feeds]
dir = "feeds"
base_url = "http://127.0.0.1:{port}"

[state]
path = "var/state.db"

[server]
port = {port}

[websub]
{websub}
""",
        encoding="utf-8",
    )
    (root / "_posts").mkdir(exist_ok=True)
    return config


class Daemon:
    def __init__(self, root: Path, websub: str) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = write_config(root, self.port, websub)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.root / "daemon.log").open("ab")
        self.process = start_syndicator("run", config=self.config, output=log)
        wait_until(
            lambda: get(self.url + "/healthz")[0] == 200 and get(self.url + "/atom.xml")[0] == 200,
            WAIT,
            "the daemon serving",
            ignoring=OSError,
        )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def post(self, name: str, title: str) -> None:
        front = f'title: "{title}"\ndate: 2022-01-01 10:00:00 +0800\ncategories: news\n'
        write_post(self.root / "_posts", name, front)

    def log(self) -> str:
        return (self.root / "daemon.log").read_text(errors="replace")


@pytest.fixture
def hub_daemon(tmp_path: Path) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path, 'hub = true\nallow_private_callbacks = true\nmin_lease = "1s"\n')
    daemon.post("2022-01-01-first.md", "第一条")
    daemon.start()
    yield daemon
    daemon.stop()


def subscribe(daemon: Daemon, callback: Callback, topic: str, **extra: str) -> None:
    form = {"hub.mode": "subscribe", "hub.callback": callback.url(), "hub.topic": topic}
    form.update({f"hub.{k}": v for k, v in extra.items()})
    status, text = post_form(daemon.url + "/websub", form)
    assert status == 202, text
    wait_until(callback.verifications, WAIT, "the verification of intent")


def test_a_new_post_reaches_a_subscriber_of_the_daemons_hub(hub_daemon):
    topic = hub_daemon.url + "/atom.xml"
    _, headers, body = get(topic)
    assert f'<{hub_daemon.url}/websub>; rel="hub"' in headers["Link"]
    assert f'<{topic}>; rel="self"' in headers["Link"]
    assert f'<link href="{hub_daemon.url}/websub" rel="hub"/>'.encode() in body
    with callback_server() as callback:
        subscribe(hub_daemon, callback, topic, secret="s3cret")
        hub_daemon.post("2022-01-02-second.md", "第二条新闻")
        wait_until(
            lambda: any("第二条新闻".encode() in d.body for d in callback.deliveries()),
            WAIT,
            "the changed feed delivered",
        )
        delivery = callback.deliveries()[-1]
        assert delivery.headers["content-type"].startswith("application/atom+xml")
        expected = hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["x-hub-signature"] == f"sha256={expected}"
    _, _, metrics = get(hub_daemon.url + "/metrics")
    assert b'syndicator_websub_deliveries_total{result="ok"}' in metrics
    assert b"syndicator_websub_subscriptions 1.0" in metrics


def test_the_hub_answers_post_only_and_refuses_other_topics(hub_daemon):
    assert get(hub_daemon.url + "/websub")[0] == 405
    status, text = post_form(
        hub_daemon.url + "/websub",
        {"hub.mode": "subscribe", "hub.callback": "http://127.0.0.1:9/", "hub.topic": "http://a/"},
    )
    assert status == 400 and "not a feed of this hub" in text


def test_the_hub_answers_with_a_trailing_slash_too(hub_daemon):
    status, text = post_form(
        hub_daemon.url + "/websub/",
        {"hub.mode": "subscribe", "hub.callback": "http://127.0.0.1:9/", "hub.topic": "http://a/"},
    )
    assert status == 400 and "not a feed of this hub" in text


def test_serve_tells_subscribers_and_the_operator_that_its_hub_runs_under_run(tmp_path):
    daemon = Daemon(tmp_path, "hub = true\n")
    (tmp_path / "feeds").mkdir()
    with (tmp_path / "daemon.log").open("ab") as log:
        process = start_syndicator("serve", config=daemon.config, output=log)
    try:
        wait_until(
            lambda: get(daemon.url + "/healthz")[0] == 200, WAIT, "serving", ignoring=OSError
        )
        status, text = post_form(
            daemon.url + "/websub",
            {"hub.mode": "subscribe", "hub.callback": "http://a/", "hub.topic": "http://b/"},
        )
        assert status == 503 and "runs under `syndicator run`" in text
        assert "hub = true" in daemon.log() and "POST /websub is answered 503" in daemon.log()
    finally:
        process.terminate()
        process.wait(15)


def test_subscriptions_and_owed_deliveries_survive_a_sigkill(hub_daemon):
    topic = hub_daemon.url + "/rss.xml"
    behaviour = Callback(delivery_status=500)
    with callback_server(behaviour) as callback:
        subscribe(hub_daemon, callback, topic)
        hub_daemon.post("2022-01-02-second.md", "第二条")
        wait_until(
            lambda: any("第二条".encode() in d.body for d in callback.deliveries()),
            WAIT,
            "a first attempt (refused)",
        )
        hub_daemon.kill()
        behaviour.delivery_status = 200
        seen = len(callback.deliveries())
        hub_daemon.start()
        # The owed delivery is retried after the restart, with no new change to the feed.
        wait_until(lambda: len(callback.deliveries()) > seen, WAIT, "the owed delivery sent")
        assert "第二条".encode() in callback.deliveries()[-1].body
        # The subscription itself is still there: the next change is delivered too.
        hub_daemon.post("2022-01-03-third.md", "第三条")
        wait_until(
            lambda: "第三条".encode() in callback.deliveries()[-1].body, WAIT, "the next change"
        )


def test_changed_feeds_are_announced_to_the_hubs_named(tmp_path):
    behaviour = Callback(delivery_status=503)
    with callback_server(behaviour) as hub:
        daemon = Daemon(tmp_path, f'hubs = ["{hub.url("/hub")}"]\n')
        daemon.post("2022-01-01-first.md", "第一条")
        try:
            daemon.start()
            wait_until(lambda: get(daemon.url + "/feed.json")[0] == 200, WAIT, "the first build")
            _, headers, _ = get(daemon.url + "/feed.json")
            assert f'<{hub.url("/hub")}>; rel="hub"' in headers["Link"]
            wait_until(hub.deliveries, WAIT, "the first announcement")
            behaviour.delivery_status = 204
            pings = hub.deliveries()
            assert all(
                p.headers["content-type"] == "application/x-www-form-urlencoded" for p in pings
            )
            announced = {p.body.decode() for p in pings}
            assert (
                f"hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A{daemon.port}%2Fatom.xml"
                in announced
            )
            assert not any("index.html" in a or "feeds.opml" in a for a in announced)
            # The refused announcements are tried again.
            count = len(pings)
            wait_until(lambda: len(hub.deliveries()) >= 2 * count, WAIT, "announced again")
            _, _, metrics = get(daemon.url + "/metrics")
            assert b'syndicator_websub_announcements_total{result="failed"}' in metrics
            assert b'syndicator_websub_announcements_total{result="ok"}' in metrics
        finally:
            daemon.stop()


# --- two daemons: A the hub and publisher, B subscribed to A's feed ---------------------------


def state_rows(daemon: Daemon, query: str) -> list[tuple]:
    with sqlite3.connect(daemon.root / "var" / "state.db") as db:
        return db.execute(query).fetchall()


@pytest.fixture
def two_daemons(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Daemon(tmp_path / "a", "hub = true\nallow_private_callbacks = true\n")
    a.post("2022-01-01-first.md", "甲的第一条")
    b = Daemon(tmp_path / "b", "")
    b.config.write_text(
        b.config.read_text(encoding="utf-8")
        + f'callback_base_url = "{b.url}"\n\n'
        + '[polling]\ninterval = "1h"\ntimeout = "5s"\nallow_private_addresses = true\n\n'
        + f'[[upstreams]]\nname = "甲站"\nurl = "{a.url}/atom.xml"\ncategory = "jia"\n',
        encoding="utf-8",
    )
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()


def test_a_post_on_daemon_a_reaches_daemon_b_by_push(two_daemons):
    a, b = two_daemons
    wait_until(lambda: "甲的第一条".encode() in get(b.url + "/atom.xml")[2], WAIT, "B's first poll")
    wait_until(
        lambda: state_rows(b, "SELECT state FROM websub_push") == [("active",)],
        WAIT,
        "B subscribed at A's hub",
    )
    (hub, topic, token) = state_rows(b, "SELECT hub, topic, token FROM websub_push")[0]
    assert (hub, topic) == (f"{a.url}/websub", f"{a.url}/atom.xml")
    assert len(token) >= 40
    # Polled only as a safety net now: a day (polling.max_interval) after the last poll.
    wait_until(
        lambda: state_rows(b, "SELECT next_poll - last_poll FROM upstream")[0][0] >= 86400 - 1,
        WAIT,
        "B's polls moved to max_interval",
    )
    a.post("2022-01-02-second.md", "甲的第二条")
    wait_until(lambda: "甲的第二条".encode() in get(b.url + "/atom.xml")[2], WAIT, "pushed to B")
    assert len(list((b.root / "_posts").glob("*.md"))) == 2  # once each
    _, _, metrics = get(b.url + "/metrics")
    pushed = 'syndicator_websub_pushes_total{result="imported",upstream="甲站"} 1.0'
    assert pushed.encode() in metrics


def test_the_subscribing_daemon_keeps_its_subscription_across_a_sigkill(two_daemons):
    a, b = two_daemons
    wait_until(
        lambda: state_rows(b, "SELECT state FROM websub_push") == [("active",)],
        WAIT,
        "B subscribed at A's hub",
    )
    # B records the subscription as it answers the verification: killed before the answer
    # has reached A, A would hold none.
    wait_until(
        lambda: len(state_rows(a, "SELECT callback FROM websub_subscription")) == 1,
        WAIT,
        "A holding B's subscription",
    )
    before = state_rows(b, "SELECT token FROM websub_push")
    b.kill()
    b.start()
    # The same callback (token): A's pushes still land. (At start B asks A again for every
    # subscription, in case A never heard its last answer: a renewal, same callback.)
    assert state_rows(b, "SELECT token FROM websub_push") == before
    a.post("2022-01-02-after.md", "甲在乙重启之后")
    wait_until(
        lambda: "甲在乙重启之后".encode() in get(b.url + "/atom.xml")[2], WAIT, "pushed to B"
    )
    assert len(state_rows(a, "SELECT callback FROM websub_subscription")) == 1
