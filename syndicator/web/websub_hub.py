"""The WebSub hub for our own feeds (W3C WebSub, sections 5 to 7).

A subscriber POSTs ``hub.mode=subscribe`` (or ``unsubscribe``) with ``hub.callback`` and
``hub.topic``; the request is checked at once (4xx with the reason, else 202) and its intent
verified afterwards: a GET to the callback with a challenge it must echo. Only then does the
subscription count (kept in the state, with its lease). When a build changes a feed, every
live subscriber of it is owed a delivery: a POST of the whole feed with its content type,
``Link`` headers and, when the subscriber gave a secret, ``X-Hub-Signature``. A delivery that
fails is retried with backoff; owed deliveries are in the state too, so a restart sends them.

Callbacks are reached through the same guarded client as upstreams (no private addresses
unless ``websub.allow_private_callbacks``); verifications and deliveries each run at most
``websub.delivery_concurrency`` at once, in pools of their own, and one callback host has at
most half of the verifications, so callbacks that never answer hold up neither the server nor
the other subscribers.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from syndicator import __version__
from syndicator.core.config import Config
from syndicator.core.retry import retry_delay
from syndicator.state.db import State
from syndicator.state.websub import Delivery, Subscription, SubscriptionStore
from syndicator.upstreams.fetch import Fetcher, FetchError
from syndicator.web.feedstore import FEED_CONTENT_TYPES
from syndicator.web.metrics import Metrics

log = logging.getLogger(__name__)

# Callbacks are answered quickly or not at all: a slow one costs a worker this long at most
# (times three, the total deadline).
CALLBACK_TIMEOUT = 10.0
CALLBACK_MAX_BYTES = 64 * 1024  # a challenge echoed back is short; more is not read
MAX_SECRET_BYTES = 200  # WebSub 5.1: hub.secret MUST be less than 200 bytes
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 64
# Verifications waiting or running at once (each host is held to its subscription limit too).
MAX_PENDING_VERIFICATIONS = 10_000
# A failed delivery is tried again after RETRY_BASE, doubling, at most RETRY_CAP apart, and
# given up after MAX_ATTEMPTS (about a day); the next change of the feed is owed again.
RETRY_BASE = 10.0
RETRY_CAP = 6 * 3600.0
MAX_ATTEMPTS = 10
# The dispatcher looks for ended leases and due retries at least this often.
IDLE_WAKE = 30.0
# The fetcher's promise to poll again, which a verification does not keep.
_RETRY_PROMISE = re.compile(r"[;,]? *it will be tried again$")


class Answer(NamedTuple):
    """The hub's HTTP answer to a request: its status and plain-text reason."""

    status: int
    text: str


@dataclass(frozen=True)
class _Intent:
    mode: str
    topic: str  # the canonical topic URL: subscriptions are kept and matched under it
    asked_topic: str  # as the subscriber spelled it: the verification names it so
    callback: str
    host: str
    lease_seconds: int
    secret: str | None


def feed_links(config: Config, request_path: str) -> str | None:
    """The ``Link`` header a served feed carries (its hubs and itself), or None for files
    that are not feeds, or when no hub is named."""
    hubs = config.websub.advertised_hubs
    if not hubs or request_path.rpartition("/")[2] not in FEED_CONTENT_TYPES:
        return None
    links = [f'<{hub}>; rel="hub"' for hub in hubs]
    links.append(f'<{config.feeds.base_url}{request_path}>; rel="self"')
    return ", ".join(links)


def topic_url(config: Config, relative: str) -> str:
    """The URL of a feed file written at ``relative`` (as the feeds name themselves)."""
    return f"{config.feeds.base_url}/{quote(relative)}"


def feed_topics(config: Config, written: Iterable[str]) -> list[str]:
    """The topic URLs of the feeds among these written files (not the feed list or index)."""
    return [
        topic_url(config, name) for name in written if name.rpartition("/")[2] in FEED_CONTENT_TYPES
    ]


def topic_file(config: Config, topic: str) -> Path | None:
    """The feed file a topic URL names, if it is one of ours that exists; else None."""
    parts = _topic_parts(config, topic)
    if parts is None:
        return None
    path = config.feeds.dir.joinpath(*parts)
    return path if path.is_file() and not path.is_symlink() else None


def canonical_topic(config: Config, topic: str) -> str | None:
    """The topic URL of one of our feeds as the feeds and ``publish`` spell it (``%61tom.xml``
    is ``atom.xml``), or None when the topic is not one of our feeds."""
    if topic_file(config, topic) is None:
        return None
    parts = _topic_parts(config, topic)
    return None if parts is None else topic_url(config, "/".join(parts))


def _topic_parts(config: Config, topic: str) -> list[str] | None:
    base = config.feeds.base_url + "/"
    if not topic.startswith(base) or "?" in topic or "#" in topic:
        return None
    parts = unquote(topic[len(base) :]).split("/")
    if any(not part or part.startswith(".") for part in parts):
        return None
    return parts if parts[-1] in FEED_CONTENT_TYPES else None


def callback_host(hostname: str) -> str:
    """The host a callback's limits count: an IP address however it is spelled (``127.1``,
    ``0x7f000001``, ``2130706433``, ``[::ffff:127.0.0.1]`` are all 127.0.0.1), a name
    lower-cased without its trailing dot. Names are not resolved."""
    try:
        address = ipaddress.ip_address(hostname.partition("%")[0])
    except ValueError:
        try:
            # inet_aton reads what the resolver reads: 127.1, 0x7f.1, 2130706433, 0177.0.0.1.
            return str(ipaddress.IPv4Address(socket.inet_aton(hostname)))
        except (OSError, ValueError):  # not an address; ValueError: a NUL in it
            return hostname.lower().rstrip(".")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature``'s value (WebSub 7.1): HMAC-SHA256 of the body, hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Hub:
    def __init__(
        self,
        config: Config,
        metrics: Metrics | None = None,
        *,
        retry_base: float = RETRY_BASE,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.fetcher = Fetcher(
            user_agent=f"syndicator/{__version__} (+{config.site.url}; WebSub hub)",
            timeout=CALLBACK_TIMEOUT,
            max_bytes=CALLBACK_MAX_BYTES,
            allow_private_addresses=config.websub.allow_private_callbacks,
            private_key="websub.allow_private_callbacks",
            limits_section=None,  # fixed limits: no config key to raise
        )
        workers = config.websub.delivery_concurrency
        self._verifiers = ThreadPoolExecutor(workers, thread_name_prefix="websub-verify")
        self._senders = ThreadPoolExecutor(workers, thread_name_prefix="websub-deliver")
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()  # verifications waiting or running, by host
        self._in_flight: set[tuple[str, str]] = set()  # (topic, callback) being delivered
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dispatcher: threading.Thread | None = None

    # Life cycle

    def start(self) -> None:
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="websub-dispatch", daemon=True
        )
        self._dispatcher.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._verifiers.shutdown(wait=False, cancel_futures=True)
        self._senders.shutdown(wait=False, cancel_futures=True)
        self.fetcher.close()

    # Requests (called from the server, in a worker thread: they read the state)

    def handle(self, body: bytes) -> Answer:
        """Answer one POST to the hub: 202 when a subscription request was taken (to be
        verified) or a publish ping named our feeds, else 4xx with the reason."""
        if len(body) > MAX_FORM_BYTES:
            return Answer(413, "the request is too large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Answer(400, "the body must be application/x-www-form-urlencoded UTF-8")
        try:
            form = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            return Answer(400, f"the form has more than {MAX_FORM_FIELDS} fields, this hub's limit")
        mode = _first(form, "hub.mode")
        if "hub.mode" not in form:  # JSON, say, or nothing
            return Answer(
                400,
                "no hub.mode: the body must be a form (application/x-www-form-urlencoded) "
                "such as hub.mode=subscribe&hub.topic=…&hub.callback=…",
            )
        if mode == "publish":
            return self._publish_ping(form.get("hub.url", []) + form.get("hub.topic", []))
        if mode not in ("subscribe", "unsubscribe"):
            return Answer(400, "hub.mode must be subscribe, unsubscribe or publish")
        intent = self._intent(mode, form)
        if isinstance(intent, Answer):
            return intent
        refused = self._reserve(intent)
        if refused is not None:
            return refused
        try:
            self._verifiers.submit(self._verify, intent)
        except RuntimeError:  # stopping
            self._release(intent)
            return Answer(503, "the hub is stopping; try again later")
        return Answer(202, "accepted: the hub will verify the request with the callback")

    def _intent(self, mode: str, form: dict[str, list[str]]) -> _Intent | Answer:
        callback = _first(form, "hub.callback")
        topic = _first(form, "hub.topic")
        if not callback or not topic:
            return Answer(400, "hub.callback and hub.topic are required")
        try:
            parts = urlsplit(callback)
            scheme, host = parts.scheme, (parts.hostname or "").lower()
        except ValueError:
            scheme, host = "", ""
        if scheme not in ("http", "https") or not host:
            return Answer(400, f"hub.callback must be an absolute http(s) URL, not {callback!r}")
        if "#" in callback:
            # The verification's query would land in the fragment, never sent to the callback.
            return Answer(400, f"hub.callback must have no #fragment: {callback!r}")
        canonical = canonical_topic(self.config, topic)
        if canonical is None:
            return Answer(
                400,
                f"hub.topic {topic!r} is not a feed of this hub (its feeds are under "
                f"{self.config.feeds.base_url}/)",
            )
        secret = _first(form, "hub.secret") or None
        if secret is not None and len(secret.encode()) >= MAX_SECRET_BYTES:
            return Answer(400, f"hub.secret must be shorter than {MAX_SECRET_BYTES} bytes")
        return _Intent(
            mode, canonical, topic, callback, callback_host(host), self._lease(form), secret
        )

    def _lease(self, form: dict[str, list[str]]) -> int:
        """The lease asked for, kept within the configured bounds (WebSub 5.1: the hub
        decides, and tells the subscriber in the verification)."""
        websub = self.config.websub
        try:
            asked = float(_first(form, "hub.lease_seconds") or websub.default_lease)
        except ValueError:
            asked = websub.default_lease
        if asked != asked:  # NaN
            asked = websub.default_lease
        return int(min(max(asked, websub.min_lease), websub.max_lease))

    def _reserve(self, intent: _Intent) -> Answer | None:
        """Count a verification against its host's limits; the refusal, or None.

        A host has at most half the verification workers waiting or running for it (either
        mode), so that callbacks that never answer on one host hold up no other host; and an
        unsubscription of nothing is declined at once, without a verification."""
        limit = self.config.websub.max_subscriptions_per_host
        waiting_limit = self.pending_per_host
        with State.open(self.config.state.path) as state:
            store = SubscriptionStore(state)
            known = store.exists(intent.topic, intent.callback)
            held = 0 if known or intent.mode == "unsubscribe" else store.count_for_host(intent.host)
        if intent.mode == "unsubscribe" and not known:
            return Answer(
                404, f"{intent.callback} is not subscribed to {intent.topic}: nothing to end"
            )
        with self._lock:
            if sum(self._pending.values()) >= MAX_PENDING_VERIFICATIONS:
                return Answer(503, "too many subscription requests waiting; try again later")
            if self._pending[intent.host] >= waiting_limit:
                return Answer(
                    429,
                    f"{waiting_limit} requests for callbacks on {intent.host} are being "
                    "verified, this hub's limit; try again once they are answered",
                )
            if (
                intent.mode == "subscribe"
                and not known
                and held + self._pending[intent.host] >= limit
            ):
                return Answer(
                    429, f"{intent.host} already holds {limit} subscriptions, this hub's limit"
                )
            self._pending[intent.host] += 1
        return None

    @property
    def pending_per_host(self) -> int:
        """Verifications one callback host may have waiting or running at once."""
        return max(1, self.config.websub.delivery_concurrency // 2)

    def _release(self, intent: _Intent) -> None:
        with self._lock:
            self._pending[intent.host] -= 1
            if self._pending[intent.host] <= 0:
                del self._pending[intent.host]

    def _publish_ping(self, topics: list[str]) -> Answer:
        """A publisher's ping (hub.mode=publish, hub.url) for our own feeds: acknowledged and
        ignored. The daemon tells the hub itself when a build changed a feed; a ping from
        outside would only make the hub send whole feeds to every subscriber again."""
        if not any(topic_file(self.config, topic) is not None for topic in topics):
            return Answer(400, "hub.url names no feed of this hub")
        return Answer(
            202,
            "noted: this hub sends its own feeds to their subscribers when a build changes them",
        )

    # Verification of intent (WebSub 5.3)

    def _verify(self, intent: _Intent) -> None:
        try:
            asked_at = time.time()
            verified = self._ask_callback(intent)
            if verified:
                self._apply(intent, asked_at)
        except Exception:
            log.exception("websub: verification of %s for %s failed", intent.callback, intent.topic)
            verified = False
        finally:
            self._release(intent)
        self.metrics.websub_verifications.labels(intent.mode, "ok" if verified else "failed").inc()

    def _ask_callback(self, intent: _Intent) -> bool:
        challenge = secrets.token_urlsafe(32)
        query = {
            "hub.mode": intent.mode,
            "hub.topic": intent.asked_topic,
            "hub.challenge": challenge,
        }
        if intent.mode == "subscribe":
            query["hub.lease_seconds"] = str(intent.lease_seconds)
        separator = "&" if urlsplit(intent.callback).query else "?"
        url = intent.callback.rstrip("?&") + separator + urlencode(query)
        try:
            answer = self.fetcher.send("GET", url)
        except FetchError as error:
            # Verifications are not retried: the fetcher's "it will be tried again" is for polls.
            reason = _RETRY_PROMISE.sub("", str(error))
            log.warning(
                "websub: %s not verified (%s); the %s request is dropped, the subscriber must "
                "ask again",
                intent.callback,
                reason,
                intent.mode,
            )
            return False
        if 200 <= answer.status < 300 and answer.body == challenge.encode():
            log.info("websub: %s verified for %s (%s)", intent.callback, intent.topic, intent.mode)
            return True
        why = f"HTTP {answer.status}" if answer.status >= 300 else "the challenge was not echoed"
        log.info(
            "websub: %s did not confirm %s of %s (%s); the request is dropped",
            intent.callback,
            intent.mode,
            intent.topic,
            why,
        )
        return False

    def _apply(self, intent: _Intent, asked_at: float) -> None:
        with State.open(self.config.state.path) as state:
            store = SubscriptionStore(state)
            if intent.mode == "unsubscribe":
                store.unsubscribe(intent.topic, intent.callback)
                return
            # The lease runs from when the verification was sent (WebSub 5.3).
            store.subscribe(
                Subscription(
                    intent.topic,
                    intent.callback,
                    intent.host,
                    intent.secret,
                    intent.lease_seconds,
                    asked_at + intent.lease_seconds,
                )
            )

    # Content distribution (WebSub 7)

    def publish(self, topics: list[str]) -> None:
        """These feeds changed: owe each of their live subscribers a delivery, now."""
        if not topics:
            return
        with State.open(self.config.state.path) as state:
            owed = SubscriptionStore(state).owe(topics, time.time())
        if owed:
            self._wake.set()

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                wait = self._dispatch_due(time.time())
            except Exception:
                log.exception("websub: deliveries not dispatched; trying again")
                wait = IDLE_WAKE
            self._wake.wait(wait)

    def _dispatch_due(self, now: float) -> float:
        """Send what is due and not yet being sent, as workers allow; seconds until the next
        look (sooner when a delivery ends or a feed changes)."""
        workers = self.config.websub.delivery_concurrency
        with State.open(self.config.state.path) as state:
            store = SubscriptionStore(state)
            if expired := store.expire(now):
                log.info("websub: %d subscriptions ended with their lease", expired)
            with self._lock:
                busy = set(self._in_flight)
            due = [
                delivery
                for delivery in store.due(now, workers + len(busy))
                if _key(delivery) not in busy
            ][: max(0, workers - len(busy))]
            next_due = store.next_due()
            subscriptions, owed = store.counts(now)
        self.metrics.websub_subscriptions.set(subscriptions)
        self.metrics.websub_owed.set(owed)
        for delivery in due:
            with self._lock:
                self._in_flight.add(_key(delivery))
            try:
                self._senders.submit(self._deliver, delivery)
            except RuntimeError:  # stopping
                return IDLE_WAKE
        if next_due is None:
            return IDLE_WAKE
        # Due rows already being sent: their end wakes the dispatcher.
        return min(IDLE_WAKE, next_due - now) if next_due > now else 1.0

    def _deliver(self, delivery: Delivery) -> None:
        try:
            result = self._send(delivery.subscription)
            with State.open(self.config.state.path) as state:
                self._record(SubscriptionStore(state), delivery, result)
        except Exception:
            log.exception("websub: delivery to %s failed", delivery.subscription.callback)
        finally:
            with self._lock:
                self._in_flight.discard(_key(delivery))
            self._wake.set()

    def _send(self, subscription: Subscription) -> str:
        """POST the topic's current content to the callback: ok, failed, gone (the callback
        said 410, or the feed is no more) with the reason logged."""
        path = topic_file(self.config, subscription.topic)
        if path is None:
            log.info(
                "websub: %s is no longer a feed; its subscribers are dropped", subscription.topic
            )
            return "gone"
        body = path.read_bytes()
        headers = {
            "Content-Type": FEED_CONTENT_TYPES[path.name],
            "Link": f'<{self.config.websub.hub_url}>; rel="hub", <{subscription.topic}>; rel="self"',
        }
        if subscription.secret:
            headers["X-Hub-Signature"] = signature(subscription.secret, body)
        try:
            answer = self.fetcher.send("POST", subscription.callback, body=body, headers=headers)
        except FetchError as error:
            log.warning("websub: delivery of %s failed: %s", subscription.topic, error)
            return "failed"
        if 200 <= answer.status < 300:
            return "ok"
        if answer.status == 410:  # WebSub 7: the subscriber deleted the subscription
            log.info(
                "websub: %s answered 410; unsubscribed from %s",
                subscription.callback,
                subscription.topic,
            )
            return "gone"
        log.warning(
            "websub: delivery of %s to %s failed: HTTP %d",
            subscription.topic,
            subscription.callback,
            answer.status,
        )
        return "failed"

    def _record(self, store: SubscriptionStore, delivery: Delivery, result: str) -> None:
        subscription = delivery.subscription
        if result == "ok":
            store.delivered(delivery)
        elif result == "gone":
            store.unsubscribe(subscription.topic, subscription.callback)
        elif delivery.attempts + 1 >= self.max_attempts:
            log.warning(
                "websub: delivery of %s to %s given up after %d attempts",
                subscription.topic,
                subscription.callback,
                delivery.attempts + 1,
            )
            store.delivered(delivery)
            result = "given_up"
        else:
            store.retry(delivery, time.time() + self._backoff(delivery.attempts))
        self.metrics.websub_deliveries.labels(result).inc()

    def _backoff(self, attempts: int) -> float:
        return retry_delay(self.retry_base, attempts, RETRY_CAP)


def _first(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key)
    return values[0] if values else ""


def _key(delivery: Delivery) -> tuple[str, str]:
    return delivery.subscription.topic, delivery.subscription.callback
