"""Failed verifications counted per policy number and per client, with locks that grow.

Counting per channel identity alone let a new sender id per guess (free on REST) make unlimited
date-of-birth guesses. Failures are also counted per policy number, from any channel and sender,
and per REST client. When a number (or a client) reaches its limit within the window it is
locked; after a lock-out a single further failure locks it again, for twice as long, up to a cap,
until a quiet period (the memory) has passed. A brute force gets a handful of guesses, then one
per ever longer lock: with the defaults, about a dozen guesses in the first ten days, then one a
week (or a dozen after each 30 quiet days), so a known birth year (365 dates) takes well over a
year on average instead of the 30 seconds it took.

The lock is decided before the number is looked up, from a keyed hash of what was typed, so a
number that does not exist is counted, locked and answered exactly like one that does. A success
does not clear a number's failures: the real customer's success says nothing about the guesses
others made. While a number is locked even the right date of birth is refused (else the lock
would be an oracle), and the customer is sent to the hotline, which verifies them by phone.

Why hashes: the count needs equality only, a number that does not exist is whatever an attacker
typed, and a number tried is personal data the lockout tables need not hold. The key is random,
made once per database (every instance and restart agrees), so the hashes of a small number
space cannot be enumerated from these tables alone; whoever has the whole database also has the
policies table, so the key guards exports and partial reads, not a full copy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import engine, insert_ignoring_duplicates, session
from bot.policies.models import VerificationAttempt, VerificationKey, VerificationLock

logger = logging.getLogger(__name__)
POLICY = "policy"
CLIENT = "client"
_COUNTED_BY = {POLICY: VerificationAttempt.policy_key, CLIENT: VerificationAttempt.client_key}
_MAX_DOUBLINGS = 32  # beyond this any cap is reached; keeps 2**level small
ADVISORY_SPACE = 0x564552  # "VER": PostgreSQL advisory locks of verification subjects


@dataclass(frozen=True)
class Backoff:
    """How long locks last: the first, the longest, and when earlier failures are forgotten."""

    first_lock: timedelta
    max_lock: timedelta
    window: timedelta  # failures further back do not count towards a first lock
    memory: timedelta  # after a lock ends, one failure within this re-locks it, longer

    def length(self, level: int) -> timedelta:
        """The lock's length at ``level`` (1: the first lock-out): doubling, up to the cap."""
        doublings = min(max(level - 1, 0), _MAX_DOUBLINGS)
        return min(self.first_lock * (2**doublings), self.max_lock)


@dataclass(frozen=True)
class Subject:
    """What failures are counted against: a policy number or a client, by keyed hash."""

    scope: str
    key: str
    max_failures: int


def subject(scope: str, value: str, max_failures: int) -> Subject:
    """The subject for ``value`` (a normalised policy number, a client key) in ``scope``."""
    digest = hmac.new(_secret(), f"{scope}\0{value}".encode(), hashlib.sha256).hexdigest()
    return Subject(scope, digest, max_failures)


def _secret() -> bytes:
    return _secret_of(engine())


@lru_cache(maxsize=8)
def _secret_of(_database: Engine) -> bytes:
    """The hashing key of the database ``engine()`` is now (the argument keys the cache), made
    on first use; instances racing to make it agree, as one row wins."""
    with session() as db:
        insert_ignoring_duplicates(db, VerificationKey.__table__, [
            {"id": 1, "secret": secrets.token_hex(32), "created_at": datetime.utcnow()}])
        stored = db.execute(select(VerificationKey.secret).where(VerificationKey.id == 1))
        return bytes.fromhex(stored.scalar_one())


def take_turns(db: Session, subjects: list[Subject]) -> None:
    """Hold, to the end of ``db``'s transaction, the turn of each subject, so that attempts on
    one number (or from one client) check, record and count one after another. On PostgreSQL
    (several instances) an advisory lock per subject, taken in one order (no deadlock); SQLite
    transactions already take turns (``bot.db``'s writers' turn, and one verifying process)."""
    if db.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({counted.key for counted in subjects}):
        turn = int.from_bytes(bytes.fromhex(key[:8]), "big", signed=True)  # 32 bits of the hash
        db.execute(text("SELECT pg_advisory_xact_lock(:space, :turn)"),
                   {"space": ADVISORY_SPACE, "turn": turn})


def locked_until(db: Session, subjects: list[Subject], now: datetime) -> datetime | None:
    """The latest end of a lock on any of ``subjects`` that is in force at ``now``."""
    if not subjects:
        return None
    ends = db.execute(
        select(VerificationLock.locked_until).where(
            or_(*(and_(VerificationLock.scope == s.scope, VerificationLock.subject == s.key)
                  for s in subjects)),
            VerificationLock.locked_until > now,
        )
    ).scalars().all()
    return max(ends, default=None)


def count_failure(
    db: Session, counted: Subject, backoff: Backoff, now: datetime
) -> datetime | None:
    """After a failed attempt was added (and flushed) in ``db``: lock ``counted`` if this failure
    reaches its limit, or follows a recent lock-out. Returns the lock's end when it is locked."""
    lock = _lock_row(db, counted)
    if lock is not None and now < lock.locked_until:  # only if a caller skipped the check
        return lock.locked_until
    recently_locked = lock is not None and now < lock.locked_until + backoff.memory
    if not recently_locked:
        since = now - backoff.window if lock is None else max(now - backoff.window,
                                                              lock.locked_until)
        column = _COUNTED_BY[counted.scope]
        failures = db.execute(
            select(func.count()).select_from(VerificationAttempt).where(
                column == counted.key,
                VerificationAttempt.success.is_(False),
                VerificationAttempt.at >= since,
            )
        ).scalar_one()
        if failures < counted.max_failures:
            return None
    level = lock.level + 1 if recently_locked and lock is not None else 1
    until = now + backoff.length(level)
    if lock is None:
        insert_ignoring_duplicates(db, VerificationLock.__table__, [
            {"scope": counted.scope, "subject": counted.key, "level": level,
             "locked_until": until}])
    else:
        lock.level, lock.locked_until = level, until
    logger.warning("verification locked: a %s, lock-out %d in a row, for %s",
                   counted.scope, level, backoff.length(level))
    return until


def _lock_row(db: Session, counted: Subject) -> Any:
    """The subject's lock row as stored now (the caller holds the subject's turn)."""
    return db.execute(
        select(VerificationLock)
        .where(VerificationLock.scope == counted.scope, VerificationLock.subject == counted.key)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
