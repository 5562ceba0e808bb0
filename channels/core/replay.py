"""A replay cache shared by every instance: has this (timestamp, nonce) been accepted before?

A provider's signature over (token, timestamp, nonce) proves a request came from the provider,
not that it is the first time we see it: anyone who captured one signed request could send it
again, or (WeChat's plain mode, whose signature does not cover the body) send another body under
the same signature. So each accepted (timestamp, nonce) is remembered for as long as its
timestamp would still pass the freshness check, with a fingerprint of what it carried.

One claim per webhook, one round trip: Redis ``SET NX EX`` when a Redis URL is configured
(shared mode), else an insert-if-absent into the product database's ``shared_kv`` table (the
database every instance shares), whose expired rows are purged at most once a minute. The
fingerprint is read back only when the key was already there, which is rare.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import time
from typing import Protocol

from sqlalchemy import and_, delete, select, update

from bot.db import insert_ignoring_duplicates, transaction
from channels.core.kv import KeyValue

KEY_PREFIX = "replay:"
PURGE_EVERY_S = 60.0


class Verdict(enum.Enum):
    """What a claim found."""

    NEW = "new"  # first time: process it
    REPEAT = "repeat"  # seen with the same fingerprint: the provider's retry, or a replay of it
    CONFLICT = "conflict"  # seen with something else: a reused signature


class ReplayCache(Protocol):
    """Remembers claimed keys until they expire."""

    def claim(self, key: str, fingerprint: str, expires_at: float) -> Verdict:
        """Record ``key`` (until ``expires_at``, epoch seconds) unless it is already there."""


def replay_key(scope: str, timestamp: str, nonce: str) -> str:
    """A bounded key for (timestamp, nonce) under ``scope`` (e.g. ``wechat:<app id>``): the
    values are hashed, so a long nonce cannot make a long key."""
    digest = hashlib.sha256(f"{timestamp}\0{nonce}".encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}{scope}:{digest}"


def fingerprint(content: bytes | str) -> str:
    """What a request carried, in 64 hex digits."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def _same(stored: str | bytes | None, wanted: str) -> bool:
    if stored is None:
        return False
    value = stored if isinstance(stored, bytes) else stored.encode()
    return hmac.compare_digest(value, wanted.encode())


class DatabaseReplayCache:
    """``shared_kv`` rows ``replay:<scope>:<hash>`` → fingerprint, with their expiry."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._last_purge = 0.0

    def claim(self, key: str, fingerprint: str, expires_at: float) -> Verdict:
        now = time.time()
        table = KeyValue.__table__
        with transaction(self.url) as db:
            row = {"key": key, "value": fingerprint, "expires_at": expires_at}
            if insert_ignoring_duplicates(db, table, [row]):
                verdict = Verdict.NEW
            else:
                stored = db.execute(select(table.c.value, table.c.expires_at)
                                    .where(table.c.key == key)).one_or_none()
                if stored is not None and stored.expires_at > now:
                    verdict = Verdict.REPEAT if _same(stored.value, fingerprint) \
                        else Verdict.CONFLICT
                else:  # expired but not yet purged: it is free again
                    db.execute(update(table).where(table.c.key == key)
                               .values(value=fingerprint, expires_at=expires_at))
                    verdict = Verdict.NEW
        if now - self._last_purge >= PURGE_EVERY_S:
            self._last_purge = now
            self.purge(now)
        return verdict

    def purge(self, now: float | None = None) -> int:
        """Delete expired replay rows; returns how many."""
        table = KeyValue.__table__
        with transaction(self.url) as db:
            result = db.execute(delete(table).where(and_(
                table.c.key.like(f"{KEY_PREFIX}%"), table.c.expires_at > 0,
                table.c.expires_at <= (time.time() if now is None else now))))
        return max(result.rowcount, 0)


class RedisReplayCache:
    """``SET smo:replay:… fingerprint NX EX ttl``; Redis expires the keys itself."""

    def __init__(self, url: str, client: object | None = None) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.redis = client

    def claim(self, key: str, fingerprint: str, expires_at: float) -> Verdict:
        name = f"smo:{key}"
        ttl = max(1, math.ceil(expires_at - time.time()))
        for _ in range(2):  # the key may expire between SET and GET: then claim again
            if self.redis.set(name, fingerprint, nx=True, ex=ttl):
                return Verdict.NEW
            stored = self.redis.get(name)
            if stored is not None:
                return Verdict.REPEAT if _same(stored, fingerprint) else Verdict.CONFLICT
        return Verdict.CONFLICT  # unreachable in practice; refusing is the safe answer


def replay_cache_from_env() -> ReplayCache:
    """Redis when one is configured (``SMO_REDIS_URL``, or shared mode), else the database."""
    from bot import stores

    url = stores.redis_url()
    return RedisReplayCache(url) if url else DatabaseReplayCache()
