"""Per-customer rate limit: a token bucket per (channel, sender), in memory.

In memory on purpose: it protects this instance's model from one flooding sender; across instances
the Redis lock store already serialises a conversation. ``SMO_RATE_LIMIT_PER_MINUTE`` (default 20)
and ``SMO_RATE_LIMIT_BURST`` (default 8).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """Allows ``burst`` messages at once, refilling ``per_minute`` per minute."""

    per_minute: float = 20
    burst: float = 8
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    @classmethod
    def from_env(cls) -> RateLimiter:
        return cls(
            float(os.environ.get("SMO_RATE_LIMIT_PER_MINUTE", 20)),
            float(os.environ.get("SMO_RATE_LIMIT_BURST", 8)),
        )

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take a token for ``key``; False when the bucket is empty."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.per_minute / 60)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        self._warned.discard(key)
        return True

    def first_refusal(self, key: str) -> bool:
        """True once per run of refusals, so the polite answer is sent once, not per message."""
        if key in self._warned:
            return False
        self._warned.add(key)
        return True
