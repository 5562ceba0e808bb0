"""Password hashing (argon2id) kept away from the webhooks: off the event loop, few at a time.

One argon2id check costs about 100 ms of CPU and 64 MiB here. Run on the gateway's event loop
(as it once was, inside the database writers' lock) 16 bogus sign-ins pushed WhatsApp
acknowledgements from 4 ms to 2 s. Now every hash runs on a small pool of its own threads
(argon2 releases the interpreter lock), never while a database transaction is open, and the
:class:`HashingGate` admits only ``workers`` hashes plus a short waiting line: anything beyond is
refused at once (503 with ``Retry-After``) instead of queueing without bound.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

T = TypeVar("T")
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi's recommended parameters)."""
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("no such account: checked for equal time")


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; the same cost when there is no account (``None``)."""
    try:
        if stored_hash is None:
            _hasher.verify(_dummy_hash(), password)
            return False
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Busy(Exception):
    """Not admitted: try again after ``retry_after`` seconds (``status``: 503 full, 429 same
    key already being checked)."""

    def __init__(self, status: int, retry_after: int = 1) -> None:
        super().__init__(f"busy ({status})")
        self.status = status
        self.retry_after = retry_after


class HashingGate:
    """At most ``workers`` hashes at once and ``waiting`` more in line; one per key at a time.

    Used from one event loop (the gateway's): its counters change only on that loop's thread.
    """

    def __init__(self, workers: int, waiting: int) -> None:
        self.workers = workers
        self.waiting = waiting
        self._admitted = 0
        self._keys: set[Hashable] = set()
        self._pool: ThreadPoolExecutor | None = None

    @property
    def admitted(self) -> int:
        """Calls running or waiting for a hashing thread now."""
        return self._admitted

    async def run(self, key: Hashable | None, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on a hashing thread; :class:`Busy` when the line is full or ``key``
        (say, an account and address) is already being checked."""
        if key is not None and key in self._keys:
            raise Busy(429)
        if self._admitted >= self.workers + self.waiting:
            raise Busy(503)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2")
        self._admitted += 1
        if key is not None:
            self._keys.add(key)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)
        finally:
            self._admitted -= 1
            self._keys.discard(key)


def _workers() -> int:
    """One hashing thread per two cores (at least one): argon2 uses four lanes of its own, and
    the webhooks must keep a core."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


GATE = HashingGate(workers=_workers(), waiting=8)
