"""WebSub in the state: the hub's subscriptions with their leases and the deliveries owed,
and the subscriber's subscription for each upstream.

Kept in the state so that a restart (or a kill) loses neither: a subscription lives until
its lease ends or it is unsubscribed, and a delivery owed is sent after a restart.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from syndicator.state.db import State


@dataclass(frozen=True)
class Subscription:
    topic: str
    callback: str
    host: str
    secret: str | None
    lease_seconds: int
    expires_at: float


@dataclass(frozen=True)
class Delivery:
    """A delivery owed to one subscription: the topic's content as it is when sent."""

    subscription: Subscription
    attempts: int
    next_attempt: float


_COLUMNS = "s.topic, s.callback, s.host, s.secret, s.lease_seconds, s.expires_at"


class SubscriptionStore:
    def __init__(self, state: State) -> None:
        self.db = state.db
        self.state = state

    def subscribe(self, subscription: Subscription) -> None:
        """Make or renew a subscription: a verified request replaces the earlier one's lease
        and secret (WebSub 5.1)."""
        self.db.execute(
            "INSERT INTO websub_subscription "
            "(topic, callback, host, secret, lease_seconds, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (topic, callback) DO UPDATE SET host = excluded.host, "
            "secret = excluded.secret, lease_seconds = excluded.lease_seconds, "
            "expires_at = excluded.expires_at",
            (
                subscription.topic,
                subscription.callback,
                subscription.host,
                subscription.secret,
                subscription.lease_seconds,
                subscription.expires_at,
            ),
        )

    def unsubscribe(self, topic: str, callback: str) -> bool:
        """Forget a subscription and what it was owed; whether there was one."""
        cursor = self.db.execute(
            "DELETE FROM websub_subscription WHERE topic = ? AND callback = ?", (topic, callback)
        )
        return cursor.rowcount > 0

    def count_for_host(self, host: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM websub_subscription WHERE host = ?", (host,)
        ).fetchone()
        return int(row[0])

    def exists(self, topic: str, callback: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM websub_subscription WHERE topic = ? AND callback = ?", (topic, callback)
        ).fetchone()
        return row is not None

    def active(self, now: float) -> list[Subscription]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM websub_subscription AS s WHERE s.expires_at > ? "
            "ORDER BY s.topic, s.callback",
            (now,),
        )
        return [Subscription(*row) for row in rows]

    def expire(self, now: float) -> int:
        """Remove the subscriptions whose lease has ended (and what they were owed)."""
        return self.db.execute(
            "DELETE FROM websub_subscription WHERE expires_at <= ?", (now,)
        ).rowcount

    def owe(self, topics: list[str], now: float) -> int:
        """Owe every live subscriber of these topics a delivery, due now (one already owed is
        made due now and its count of attempts starts again); how many were added or moved."""
        added = 0
        with self.state.transaction() as db:
            for topic in topics:
                added += db.execute(
                    "INSERT INTO websub_delivery (topic, callback, attempts, next_attempt) "
                    "SELECT topic, callback, 0, ? FROM websub_subscription "
                    "WHERE topic = ? AND expires_at > ? "
                    "ON CONFLICT (topic, callback) DO UPDATE SET attempts = 0, "
                    "next_attempt = excluded.next_attempt",
                    (now, topic, now),
                ).rowcount
        return added

    def due(self, now: float, limit: int) -> list[Delivery]:
        rows = self.db.execute(
            f"SELECT {_COLUMNS}, d.attempts, d.next_attempt FROM websub_delivery AS d "
            "JOIN websub_subscription AS s USING (topic, callback) "
            "WHERE d.next_attempt <= ? AND s.expires_at > ? ORDER BY d.next_attempt LIMIT ?",
            (now, now, limit),
        )
        return [Delivery(Subscription(*row[:6]), row[6], row[7]) for row in rows]

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT min(next_attempt) FROM websub_delivery").fetchone()
        return float(row[0]) if row[0] is not None else None

    def delivered(self, delivery: Delivery) -> None:
        """The delivery succeeded or was given up: forget it, unless the topic changed again
        meanwhile (its row was made due again, with attempts started over)."""
        sub = delivery.subscription
        self.db.execute(
            "DELETE FROM websub_delivery WHERE topic = ? AND callback = ? "
            "AND next_attempt = ? AND attempts = ?",
            (sub.topic, sub.callback, delivery.next_attempt, delivery.attempts),
        )

    def retry(self, delivery: Delivery, at: float) -> None:
        sub = delivery.subscription
        self.db.execute(
            "UPDATE websub_delivery SET attempts = attempts + 1, next_attempt = ? "
            "WHERE topic = ? AND callback = ? AND next_attempt = ? AND attempts = ?",
            (at, sub.topic, sub.callback, delivery.next_attempt, delivery.attempts),
        )

    def counts(self, now: float) -> tuple[int, int]:
        """(live subscriptions, deliveries owed)."""
        subscriptions = self.db.execute(
            "SELECT count(*) FROM websub_subscription WHERE expires_at > ?", (now,)
        ).fetchone()[0]
        owed = self.db.execute("SELECT count(*) FROM websub_delivery").fetchone()[0]
        return int(subscriptions), int(owed)


@dataclass
class PushRow:
    """An upstream's subscription at its hub, as the subscriber remembers it."""

    upstream: str
    hub: str
    topic: str
    token: str
    secret: str | None
    asked_secret: str | None
    state: str  # requested, active, denied, failed, unsubscribing
    requested_at: float
    lease_expires: float | None = None
    last_push: float | None = None
    last_error: str | None = None


_PUSH_COLUMNS = ", ".join(f.name for f in fields(PushRow))


class PushStore:
    def __init__(self, state: State) -> None:
        self.db = state.db

    def get(self, upstream: str) -> PushRow | None:
        row = self.db.execute(
            f"SELECT {_PUSH_COLUMNS} FROM websub_push WHERE upstream = ?", (upstream,)
        ).fetchone()
        return PushRow(*row) if row else None

    def by_token(self, token: str) -> PushRow | None:
        row = self.db.execute(
            f"SELECT {_PUSH_COLUMNS} FROM websub_push WHERE token = ?", (token,)
        ).fetchone()
        return PushRow(*row) if row else None

    def all(self) -> list[PushRow]:
        rows = self.db.execute(f"SELECT {_PUSH_COLUMNS} FROM websub_push ORDER BY upstream")
        return [PushRow(*row) for row in rows]

    def save(self, row: PushRow) -> None:
        marks = ", ".join("?" for _ in fields(PushRow))
        self.db.execute(
            f"INSERT OR REPLACE INTO websub_push ({_PUSH_COLUMNS}) VALUES ({marks})", astuple(row)
        )

    def forget(self, upstream: str) -> None:
        self.db.execute("DELETE FROM websub_push WHERE upstream = ?", (upstream,))
