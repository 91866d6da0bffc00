"""The retry delay the WebSub hub and announcer share."""

from __future__ import annotations

from syndicator.core.retry import retry_delay


def test_the_delay_doubles_within_a_fifth_and_stops_at_the_cap() -> None:
    for attempts, middle in ((0, 5.0), (1, 10.0), (3, 40.0)):
        delays = [retry_delay(5.0, attempts, 3600.0) for _ in range(200)]
        assert all(0.8 * middle <= d <= 1.2 * middle for d in delays)
        assert max(delays) - min(delays) > 0.1 * middle  # jittered, not all alike
    assert all(retry_delay(5.0, 30, 3600.0) <= 1.2 * 3600.0 for _ in range(100))
    assert all(retry_delay(5.0, 30, 3600.0) >= 0.8 * 3600.0 for _ in range(100))
