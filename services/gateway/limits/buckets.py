"""Token buckets in process memory: the rate limit's arithmetic, with no I/O, so it is tested with plain numbers.

Each key (a caller) has a bucket of `burst` tokens refilled at `rate` per second; a request
takes one. The buckets live in this process, so with N gateway replicas a caller may make
up to N times the limit (the load balancer spreads a caller's requests, so in practice it
is close to the limit); a shared store would cost a network round trip on every request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the bucket is full again (RateLimit-Reset).
    reset: int
    # Seconds until one request is allowed again (Retry-After); 0 when allowed.
    retry_after: int


class TokenBuckets:
    """Buckets of one policy, keyed by caller; idle buckets are dropped to bound the memory."""

    __slots__ = ("rate", "burst", "max_keys", "_buckets", "_sweep_at")

    def __init__(self, per_minute: int, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_keys = max_keys
        # key -> [tokens, updated_at]; a list so a hit updates in place without a new object.
        self._buckets: dict[str, list[float]] = {}
        self._sweep_at = max_keys

    def take(self, key: str, now: float) -> Decision:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            tokens = float(self.burst)
            bucket = self._buckets[key] = [tokens, now]
        else:
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if tokens >= 1.0:
            tokens -= 1.0
            bucket[0] = tokens
            return Decision(True, self.burst, int(tokens), math.ceil((self.burst - tokens) / self.rate), 0)
        bucket[0] = tokens
        return Decision(
            False, self.burst, 0, math.ceil((self.burst - tokens) / self.rate), max(1, math.ceil((1.0 - tokens) / self.rate))
        )

    def _sweep(self, now: float) -> None:
        # A bucket that has refilled completely is the same as no bucket at all.
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        if len(self._buckets) >= self.max_keys:
            # Still too many live callers (a flood of addresses): forget the oldest half.
            keep = list(self._buckets.items())[len(self._buckets) // 2 :]
            self._buckets = dict(keep)
        self._sweep_at = max(self.max_keys, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)
