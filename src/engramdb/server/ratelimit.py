"""Per-key rate limits: one token bucket per API key, in this process's memory.

A bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; each
request takes one. A request that finds the bucket empty is refused with the
time until a token is back (the HTTP edge sends it as ``Retry-After``). The
buckets are not shared between server processes: run one process per store,
or put a shared limiter in front.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets by key id; ``rate_per_s <= 0`` turns limiting off."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 and rate_per_s > 0:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds until one is back."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s
