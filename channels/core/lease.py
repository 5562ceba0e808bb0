"""Per-conversation leases: at most one worker, in any instance, answers a customer at a time.

Several instances may receive one customer's messages (a load balancer does not know about
conversations). Each instance's worker takes the customer's lease, answers the *oldest* unanswered
message of that customer in the shared inbox (whoever received it), and lets go; so messages are
answered in arrival order whichever instance got them.

Embedded mode has one instance, so an ``asyncio.Lock`` is the lease. Shared mode uses a Redis lock
(``SET NX PX`` with a token, released only by its holder) that expires on its own if the holder
dies, so a crashed instance never blocks a customer for longer than ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol


class LeaseUnavailable(RuntimeError):
    """Another instance held the lease for longer than we were willing to wait."""


class Leases(Protocol):
    """Hands out one lease per conversation."""

    def hold(self, conversation: str) -> AsyncIterator[None]:
        """``async with leases.hold(cid):`` while answering one message of ``cid``."""


class LocalLeases:
    """One process: an asyncio lock per conversation (created and used on one event loop)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @asynccontextmanager
    async def hold(self, conversation: str) -> AsyncIterator[None]:
        async with self._locks[conversation]:
            yield


class RedisLeases:
    """Shared: a Redis lock per conversation, auto-expiring, plus the local lock (cheap waits)."""

    def __init__(self, url: str, ttl: float = 120.0, wait: float = 60.0) -> None:
        import redis.asyncio as redis_asyncio

        self._redis = redis_asyncio.Redis.from_url(url)
        self._local = LocalLeases()
        self.ttl, self.wait = ttl, wait

    @asynccontextmanager
    async def hold(self, conversation: str) -> AsyncIterator[None]:
        from redis.exceptions import LockError

        async with self._local.hold(conversation):
            lock = self._redis.lock(f"smo:lease:{conversation}", timeout=self.ttl,
                                    sleep=0.01, blocking_timeout=self.wait)
            if not await lock.acquire():
                raise LeaseUnavailable(conversation)
            try:
                yield
            finally:
                # Expired meanwhile (a very slow answer): there is nothing left to release.
                with contextlib.suppress(LockError):
                    await lock.release()


def leases_from_env() -> Leases:
    """Redis leases when a Redis URL is configured (shared stores), else in-process ones."""
    from bot import stores

    url = stores.redis_url()
    return RedisLeases(url) if url else LocalLeases()
