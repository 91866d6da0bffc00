"""The WebSub subscriber (W3C WebSub, sections 4, 5 and 7, the subscriber's side).

An upstream whose feed names a hub (an HTTP ``Link`` header first, else the document's own
links) is subscribed to at that hub with a fresh secret and a callback of its own: an
unguessable path under ``/websub/callback/`` of ``websub.callback_base_url``. The daemon
answers a hub's verification only for a request it made (the token names the upstream, the
topic must be the one asked for, and a request must be outstanding); it checks the signature
of every delivery (one unsigned or wrongly signed is acknowledged and ignored, as the spec
says); and it imports a pushed body exactly as a polled one. Leases are renewed before they
end; while a subscription is live the upstream is still polled, at ``polling.max_interval``.

The requests to hubs go through the poller's guarded client: a hub is named by an upstream,
so it is as untrusted as the upstream is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

from requests.utils import parse_header_links

from syndicator.core.config import Config, UpstreamConfig
from syndicator.state.db import State, UpstreamRow
from syndicator.state.websub import PushRow, PushStore
from syndicator.upstreams.fetch import Fetcher, FetchError
from syndicator.upstreams.importer import import_entries, write_pending
from syndicator.upstreams.parse import UpstreamFeed

log = logging.getLogger(__name__)

CALLBACK_PATH = "/websub/callback/"
# A lease is renewed when less than this share of it is left (a day's lease: five hours
# before it ends), at the latest an hour before.
RENEW_SHARE = 0.2
RENEW_MARGIN = 3600.0
# A request its hub has not verified within this long is made again; one refused (or whose
# hub could not be reached) is tried again after RETRY_AFTER.
VERIFY_WAIT = 600.0
RETRY_AFTER = 3600.0
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}
_DIGESTS["sha512"] = hashlib.sha512


@dataclass(frozen=True)
class Discovered:
    """The hub an upstream's feed names, and the topic URL to subscribe to there."""

    hub: str
    topic: str


def discover(headers: Mapping[str, str], feed: UpstreamFeed, url: str) -> Discovered | None:
    """The hub and topic of a fetched feed (WebSub 4): the ``Link`` header's ``rel="hub"``
    and ``rel="self"`` when it has them, else the document's; the topic is the URL fetched
    when neither names one."""
    header_hubs, header_self = _header_links(headers.get("Link") or "")
    hubs = header_hubs or feed.hubs
    if not hubs:
        return None
    return Discovered(hubs[0], header_self or feed.self_url or url)


def _header_links(value: str) -> tuple[tuple[str, ...], str | None]:
    hubs: list[str] = []
    self_url = None
    for link in parse_header_links(value) if value else []:
        target = link.get("url", "").strip()
        relations = link.get("rel", "").lower().split()
        if not target.startswith(("http://", "https://")):
            continue
        if "hub" in relations:
            hubs.append(target)
        if "self" in relations and self_url is None:
            self_url = target
    return tuple(dict.fromkeys(hubs)), self_url


def callback_url(config: Config, token: str) -> str:
    return config.websub.callback_base_url + CALLBACK_PATH + token


def needs_request(row: PushRow | None, found: Discovered, now: float) -> bool:
    """Whether to (re)subscribe: new, moved to another hub or topic, a lease near its end, a
    request left unverified, or a refusal old enough to try again."""
    if row is None or (row.hub, row.topic) != (found.hub, found.topic):
        return True
    return renewal_due(row, now)


def renewal_due(row: PushRow, now: float) -> bool:
    if row.state == "active":
        if row.lease_expires is None:
            return now - row.requested_at > 86400
        lease = max(row.lease_expires - row.requested_at, 0.0)
        return row.lease_expires - now < min(RENEW_SHARE * lease, RENEW_MARGIN)
    if row.state == "requested":
        return now - row.requested_at > VERIFY_WAIT
    return now - row.requested_at > RETRY_AFTER  # denied, failed


def subscribe(
    config: Config, fetcher: Fetcher, store: PushStore, upstream: str, found: Discovered
) -> PushRow:
    """Ask the hub for a subscription (or its renewal) with a fresh secret. The request is
    recorded before it is sent: a hub may verify it before it answers."""
    now = time.time()
    row = store.get(upstream)
    same = row is not None and (row.hub, row.topic) == (found.hub, found.topic)
    asked = PushRow(
        upstream,
        found.hub,
        found.topic,
        row.token if row is not None and same else secrets.token_urlsafe(32),
        row.secret if row is not None and same else None,
        secrets.token_hex(32),
        row.state if row is not None and same and row.state == "active" else "requested",
        now,
        row.lease_expires if row is not None and same else None,
        row.last_push if row is not None else None,
    )
    store.save(asked)
    if not same and found.hub.startswith("http://"):
        # WebSub 5.1 wants the secret sent over HTTPS only. It is sent all the same: over
        # plain http the callback's token travels in the clear too, and without a secret
        # anyone holding the callback URL could push. Said once, when the hub is new.
        log.warning(
            "websub: %s: the hub %s is plain http, so the secret that signs its deliveries "
            "travels in the clear; name an https hub if there is one",
            upstream,
            found.hub,
        )
    problem = _ask_hub(config, fetcher, asked, "subscribe")
    if problem is not None:
        # A live subscription whose renewal failed stays live until its lease ends.
        kept = "active" if asked.state == "active" else "failed"
        asked = replace(asked, state=kept, last_error=problem)
        store.save(asked)
        log.warning("websub: subscribing %s at %s failed: %s", upstream, found.hub, problem)
    else:
        log.info("websub: %s: subscription to %s requested at %s", upstream, found.topic, found.hub)
    return asked


def unsubscribe(config: Config, fetcher: Fetcher, store: PushStore, row: PushRow) -> None:
    """Ask the hub to end a subscription no upstream needs now (its verification then
    removes the row); a hub that cannot be reached lets the lease run out instead."""
    store.save(replace(row, state="unsubscribing", requested_at=time.time()))
    problem = _ask_hub(config, fetcher, row, "unsubscribe")
    if problem is not None:
        log.info(
            "websub: unsubscribing %s at %s failed (%s); forgotten", row.upstream, row.hub, problem
        )
        store.forget(row.upstream)


def _ask_hub(config: Config, fetcher: Fetcher, row: PushRow, mode: str) -> str | None:
    form = {
        "hub.mode": mode,
        "hub.topic": row.topic,
        "hub.callback": callback_url(config, row.token),
    }
    if mode == "subscribe" and row.asked_secret:
        form["hub.secret"] = row.asked_secret
    try:
        answer = fetcher.send(
            "POST",
            row.hub,
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except FetchError as error:
        return str(error)
    if 200 <= answer.status < 300:
        return None
    return f"{row.hub} answered HTTP {answer.status}"


def answer_verification(store: PushStore, token: str, query: Mapping[str, str]) -> tuple[int, str]:
    """The answer to a hub's GET on a callback (WebSub 5.3): the challenge, only when it
    confirms a request we made for that topic; 404 otherwise. A denial is noted."""
    row = store.by_token(token)
    mode = query.get("hub.mode", "")
    if row is None or query.get("hub.topic") != row.topic:
        return 404, "no such subscription"
    if mode == "denied":
        reason = query.get("hub.reason", "")
        store.save(replace(row, state="denied", last_error=f"denied by the hub {reason}".strip()))
        log.warning(
            "websub: %s: the hub %s denied the subscription %s", row.upstream, row.hub, reason
        )
        return 200, ""
    challenge = query.get("hub.challenge", "")
    if not challenge:
        return 404, "no challenge"
    if mode == "subscribe" and row.asked_secret is not None and row.state != "unsubscribing":
        lease = _seconds(query.get("hub.lease_seconds"))
        now = time.time()
        store.save(
            replace(
                row,
                state="active",
                secret=row.asked_secret,
                asked_secret=None,
                requested_at=now,
                lease_expires=now + lease if lease is not None else None,
                last_error=None,
            )
        )
        log.info("websub: %s: subscribed at %s (lease %s s)", row.upstream, row.hub, lease)
        return 200, challenge
    if mode == "unsubscribe" and row.state == "unsubscribing":
        store.forget(row.upstream)
        log.info("websub: %s: unsubscribed at %s", row.upstream, row.hub)
        return 200, challenge
    return 404, "not a request of ours"


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value or "")
    except ValueError:
        return None
    return seconds if 0 < seconds < 10**9 else None


def signed_by(row: PushRow, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether a delivery carries a valid ``X-Hub-Signature`` for the subscription's secret
    (or the one a renewal just sent: the hub uses it once it has verified)."""
    method, _, given = (headers.get("x-hub-signature") or "").partition("=")
    digest = _DIGESTS.get(method.strip().lower())
    if digest is None or not given:
        return False
    for secret in filter(None, (row.secret, row.asked_secret)):
        expected = hmac.new(secret.encode(), body, digest).hexdigest()
        if hmac.compare_digest(expected, given.strip().lower()):
            return True
    return False


def import_pushed(
    config: Config, state: State, upstream: UpstreamConfig, feed: UpstreamFeed
) -> list[Path]:
    """A pushed feed's new entries into posts, through the poll's own import (the same
    dedupe, sanitizing, exactly once); the upstream's poll schedule is left as it is."""
    row = state.upstream(upstream.key) or UpstreamRow(upstream.key, upstream.url)
    written = write_pending(config, state)
    new_upstream = not state.has_entries(upstream.key)
    written += import_entries(config, state, upstream, row, feed, new_upstream)
    store = PushStore(state)
    if (push := store.get(upstream.key)) is not None:
        store.save(replace(push, last_push=time.time()))
    return written


def relax_schedule(config: Config, state: State, upstream: UpstreamConfig) -> None:
    """While pushes come, poll only as a safety net: at ``polling.max_interval``."""
    push = PushStore(state).get(upstream.key)
    row = state.upstream(upstream.key)
    if push is None or row is None or push_state(push, time.time()) != "active":
        return
    if row.state == "ok" and row.last_poll is not None:
        row.next_poll = max(row.next_poll or 0.0, row.last_poll + config.polling.max_interval)
        state.save_upstream(row)


def push_state(row: PushRow | None, now: float) -> str:
    """What ``status`` shows: none, requested, active, expired, denied, failed."""
    if row is None:
        return "none"
    if row.state == "active" and row.lease_expires is not None and row.lease_expires <= now:
        return "expired"
    return row.state
