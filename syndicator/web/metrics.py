"""The daemon's Prometheus metrics, in a registry of its own (no process-wide state).

It is told plain figures (an upstream's name, a result, counts, seconds), so it depends on
nothing it measures.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "syndicator_polls",
            "Upstream polls, by upstream and result.",
            ["upstream", "result"],
            registry=r,
        )
        self.fetch_errors = Counter(
            "syndicator_fetch_errors",
            "Failed upstream polls, by kind of failure.",
            ["kind"],
            registry=r,
        )
        self.imported = Counter(
            "syndicator_entries_imported",
            "Upstream entries written as posts.",
            ["upstream"],
            registry=r,
        )
        self.last_success = Gauge(
            "syndicator_last_successful_poll_timestamp_seconds",
            "When each upstream was last polled successfully.",
            ["upstream"],
            registry=r,
        )
        self.builds = Counter(
            "syndicator_feed_builds", "Feed builds, by outcome.", ["result"], registry=r
        )
        self.build_duration = Histogram(
            "syndicator_build_duration_seconds",
            "Time a feed build took.",
            buckets=(0.01, 0.05, 0.1, 0.3, 1, 3, 10, 30, 100),
            registry=r,
        )
        self.files_written = Counter(
            "syndicator_feed_files_written", "Feed files rewritten.", registry=r
        )
        self.write_errors = Counter(
            "syndicator_write_errors", "Builds or polls that failed to write a file.", registry=r
        )
        self.websub_announcements = Counter(
            "syndicator_websub_announcements",
            "Changed feeds announced to WebSub hubs (hub.mode=publish), by result.",
            ["result"],
            registry=r,
        )
        self.websub_verifications = Counter(
            "syndicator_websub_verifications",
            "Verifications of intent the hub made, by mode and result.",
            ["mode", "result"],
            registry=r,
        )
        self.websub_deliveries = Counter(
            "syndicator_websub_deliveries",
            "Content deliveries the hub made, by result.",
            ["result"],
            registry=r,
        )
        self.websub_subscriptions = Gauge(
            "syndicator_websub_subscriptions", "Live subscriptions to the hub.", registry=r
        )
        self.websub_pushes = Counter(
            "syndicator_websub_pushes",
            "Feeds upstreams' hubs pushed, by upstream and result (imported, unchanged, "
            "bad_signature, failed).",
            ["upstream", "result"],
            registry=r,
        )
        self.websub_push_subscriptions = Gauge(
            "syndicator_websub_push_subscriptions",
            "Our subscriptions at upstreams' hubs, by state.",
            ["state"],
            registry=r,
        )
        self.websub_owed = Gauge(
            "syndicator_websub_deliveries_owed",
            "Deliveries the hub owes (due now or waiting to be retried).",
            registry=r,
        )

    def record_poll(
        self, upstream: str, result: str, error_kind: str | None, imported: int, now: float
    ) -> None:
        """One poll's ``result``: imported, unchanged, failed (with its ``error_kind``) or gone."""
        self.polls.labels(upstream, result).inc()
        if result == "failed":
            self.fetch_errors.labels(error_kind or "other").inc()
        elif result in ("imported", "unchanged"):  # a 410 Gone is no success
            self.last_success.labels(upstream).set(now)
        if imported:
            self.imported.labels(upstream).inc(imported)

    def record_build(self, problems: int, files_written: int, seconds: float) -> None:
        self.builds.labels("problems" if problems else "ok").inc()
        self.build_duration.observe(seconds)
        self.files_written.inc(files_written)

    def render(self) -> bytes:
        return generate_latest(self.registry)
