"""How long to wait before trying again: doubling from a base, capped, with jitter so that
many failures at one moment do not all come back at the same moment."""

from __future__ import annotations

import random


def retry_delay(base: float, attempts: int, cap: float) -> float:
    """``base`` doubled ``attempts`` times, at most ``cap``, give or take a fifth."""
    return min(base * 2.0**attempts, cap) * random.uniform(0.8, 1.2)
