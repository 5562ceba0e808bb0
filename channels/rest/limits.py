"""Rate limits for REST callers from elsewhere, and the pseudonym of a caller's address.

Two token buckets, both must allow a message: one per sender (a visitor cannot flood the model)
and one per client address (fresh sender ids from one machine do not each get a fresh budget).
Loopback callers (a developer, ``make chat``, the tests) are never limited. IPv6 clients count
per /64 network: one subscriber usually holds a whole /64, and per address it would be free to
rotate.

Per instance, in memory (like :mod:`channels.core.ratelimit`, which these buckets reuse): with
several gateway instances behind a load balancer, each allows its own budget.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from channels.core.ratelimit import RateLimiter

MAX_KEYS = 50_000  # beyond this, buckets that have refilled are forgotten
# How the gateway hands the core the pseudonym (believed only with the internal token).
CLIENT_KEY_HEADER = "x-smo-client-key"
CLIENT_KEY = re.compile(r"ck1-[0-9a-f]{32}")


@dataclass
class BoundedRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose memory stays bounded when keys keep changing (a flood of
    fresh addresses): a bucket that has refilled says nothing a new bucket would not."""

    max_keys: int = MAX_KEYS

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self._buckets) >= self.max_keys:
            refill = self.burst * 60 / self.per_minute
            for stale in [k for k, (_, last) in self._buckets.items() if now - last >= refill]:
                del self._buckets[stale]
        return super().allow(key, now)

    @property
    def retry_after(self) -> int:
        """Seconds until one more message is allowed after a refusal (at least 1)."""
        return max(1, math.ceil(60 / self.per_minute))


@dataclass
class RestLimits:
    """Both buckets for REST callers from elsewhere."""

    per_sender: BoundedRateLimiter
    per_client: BoundedRateLimiter

    @classmethod
    def of(cls, sender_per_minute: float, sender_burst: float, client_per_minute: float,
           client_burst: float) -> RestLimits:
        return cls(BoundedRateLimiter(sender_per_minute, sender_burst),
                   BoundedRateLimiter(client_per_minute, client_burst))

    def allow(self, sender: str, address: str, now: float | None = None) -> bool:
        """Take a message from both budgets; False (and nothing taken from the sender's
        budget) when the address has none left."""
        if not self.per_client.allow(client_bucket(address), now):
            return False
        return self.per_sender.allow(sender, now)

    @property
    def retry_after(self) -> int:
        return max(self.per_sender.retry_after, self.per_client.retry_after)


def client_bucket(address: str) -> str:
    """The key an address is counted under: itself (IPv4), its /64 network (IPv6)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_key(secret: str, address: str) -> str:
    """A pseudonym of the caller's address for the core (per-client verification lockout):
    the same caller gets the same key on every instance sharing ``secret``, and the address
    itself (personal data) never leaves the gateway or reaches a transcript."""
    mac = hmac.new(secret.encode(), f"smo-client-key\0{client_bucket(address)}".encode(),
                   hashlib.sha256)
    return "ck1-" + mac.hexdigest()[:32]
