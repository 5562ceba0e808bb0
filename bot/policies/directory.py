"""Verification against the policy directory, the lockout, and remembered channel identities.

Identities are per channel: a customer verified on WhatsApp is a stranger on WeChat until they
verify there too (a phone number and an openid prove different things). Verification never says
which part was wrong; three failures lock the identity for a while. Failures are also counted per
policy number and per REST client, whoever sends them, with locks that grow
(:mod:`bot.policies.lockout`): a new sender id per guess buys nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.db import session
from bot.policies import lockout
from bot.policies.models import ChannelIdentity, Consent, Customer, Policy, VerificationAttempt


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures lock an identity, a policy number or a client, for how long, and how
    long a verification lasts.

    An identity's lock is fixed (``lock_minutes``). A policy number's or a client's first lock
    lasts ``lock_minutes`` and doubles with each lock-out that follows within
    ``lock_memory_days``, up to ``max_lock_hours`` (see :mod:`bot.policies.lockout`).
    """

    max_failures: int = 3
    lock_minutes: int = 30
    remember_days: int = 30
    policy_max_failures: int = 5
    client_max_failures: int = 10
    failure_window_hours: int = 24
    max_lock_hours: int = 168
    lock_memory_days: int = 30

    @classmethod
    def from_env(cls) -> LockoutPolicy:
        """From SMO_VERIFY_MAX_FAILURES, SMO_VERIFY_LOCK_MINUTES, SMO_VERIFIED_REMEMBER_DAYS,
        SMO_VERIFY_POLICY_MAX_FAILURES, SMO_VERIFY_CLIENT_MAX_FAILURES,
        SMO_VERIFY_FAILURE_WINDOW_HOURS, SMO_VERIFY_MAX_LOCK_HOURS, SMO_VERIFY_LOCK_MEMORY_DAYS
        (each a whole number, at least 1)."""
        values = {
            name: _positive(variable, default)
            for name, variable, default in (
                ("max_failures", "SMO_VERIFY_MAX_FAILURES", 3),
                ("lock_minutes", "SMO_VERIFY_LOCK_MINUTES", 30),
                ("remember_days", "SMO_VERIFIED_REMEMBER_DAYS", 30),
                ("policy_max_failures", "SMO_VERIFY_POLICY_MAX_FAILURES", 5),
                ("client_max_failures", "SMO_VERIFY_CLIENT_MAX_FAILURES", 10),
                ("failure_window_hours", "SMO_VERIFY_FAILURE_WINDOW_HOURS", 24),
                ("max_lock_hours", "SMO_VERIFY_MAX_LOCK_HOURS", 168),
                ("lock_memory_days", "SMO_VERIFY_LOCK_MEMORY_DAYS", 30),
            )
        }
        return cls(**values)

    @property
    def backoff(self) -> lockout.Backoff:
        """The growing locks of policy numbers and clients."""
        return lockout.Backoff(
            first_lock=timedelta(minutes=self.lock_minutes),
            max_lock=max(timedelta(hours=self.max_lock_hours),
                         timedelta(minutes=self.lock_minutes)),
            window=timedelta(hours=self.failure_window_hours),
            memory=timedelta(days=self.lock_memory_days),
        )


def _positive(variable: str, default: int) -> int:
    """A whole number of at least 1 from the environment (0 would lock on no failure at all)."""
    raw = os.environ.get(variable, "")
    value = int(raw) if raw.strip() else default
    if value < 1:
        raise ValueError(f"{variable} must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class Identity:
    """Who is writing: a channel and the channel's id for them."""

    channel: str
    external_id: str


@dataclass(frozen=True)
class VerifiedPolicy:
    """A policy the writer proved they are the insured of."""

    number: str
    plan_code: str
    status: str
    effective_date: date
    customer_id: int


@dataclass(frozen=True)
class VerificationResult:
    """``verified`` with the policy, ``failed`` (uniformly) or ``locked`` until a time."""

    outcome: str
    policy: VerifiedPolicy | None = None
    locked_until: datetime | None = None
    failures_left: int = 0


def _now() -> datetime:
    return datetime.utcnow()


def _failure_streak(
    db: Session, identity: Identity, rules: LockoutPolicy, now: datetime
) -> list[datetime]:
    """Times of the failures since the identity's last success, within the lock window."""
    attempts = (
        db.execute(
            select(VerificationAttempt)
            .where(
                VerificationAttempt.channel == identity.channel,
                VerificationAttempt.external_id == identity.external_id,
                VerificationAttempt.at >= now - timedelta(minutes=rules.lock_minutes),
            )
            .order_by(VerificationAttempt.at)
        )
        .scalars()
        .all()
    )
    failures: list[datetime] = []
    for attempt in attempts:
        failures = [] if attempt.success else [*failures, attempt.at]
    return failures


def _lock_end(failures: list[datetime], rules: LockoutPolicy) -> datetime | None:
    if len(failures) >= rules.max_failures:
        return failures[rules.max_failures - 1] + timedelta(minutes=rules.lock_minutes)
    return None


def locked_until(
    identity: Identity, rules: LockoutPolicy, now: datetime | None = None
) -> datetime | None:
    """When the identity's lock ends, if it is locked now."""
    now = now or _now()
    with session() as db:
        return _lock_end(_failure_streak(db, identity, rules, now), rules)


def _latest(ends: list[datetime | None]) -> datetime | None:
    return max((end for end in ends if end), default=None)


def _subjects(number: str, client_key: str | None, rules: LockoutPolicy) -> list[lockout.Subject]:
    """What else an attempt on ``number`` counts against: the number, and the REST client."""
    subjects = [lockout.subject(lockout.POLICY, number, rules.policy_max_failures)]
    if client_key:
        subjects.append(lockout.subject(lockout.CLIENT, client_key, rules.client_max_failures))
    return subjects


def verify(
    identity: Identity,
    policy_number: str,
    date_of_birth: date,
    rules: LockoutPolicy | None = None,
    now: datetime | None = None,
    client_key: str | None = None,
) -> VerificationResult:
    """Check the policy number and the insured person's date of birth; record the attempt.

    Refused as ``locked``, before the number is even looked up, while the identity, the policy
    number or the client (``client_key``: the REST channel's pseudonym for the caller; none on
    WhatsApp and WeChat, whose ids cannot be minted freely) is locked. A refused attempt is not
    recorded, so it neither counts nor extends a lock. The check, the attempt and the count are
    one transaction, and attempts on the same number or from the same client take turns: a
    burst of simultaneous guesses cannot all pass the check before the first is counted.
    """
    rules = rules or LockoutPolicy.from_env()
    now = now or _now()
    number = policy_number.strip().upper()
    subjects = _subjects(number, client_key, rules)
    keys = {counted.scope: counted.key for counted in subjects}
    with session() as db:
        lockout.take_turns(db, subjects)
        until = _latest([_lock_end(_failure_streak(db, identity, rules, now), rules),
                         lockout.locked_until(db, subjects, now)])
        if until:
            return VerificationResult("locked", locked_until=until)
        row = db.execute(
            select(Policy, Customer)
            .join(Customer, Policy.insured_id == Customer.id)
            .where(Policy.number == number)
        ).first()
        matched = row is not None and row.Customer.date_of_birth == date_of_birth
        db.add(
            VerificationAttempt(
                channel=identity.channel,
                external_id=identity.external_id,
                success=matched,
                at=now,
                policy_key=keys[lockout.POLICY],
                client_key=keys.get(lockout.CLIENT),
            )
        )
        if not matched:
            db.flush()
            ends = [lockout.count_failure(db, counted, rules.backoff, now) for counted in subjects]
            failures = _failure_streak(db, identity, rules, now)
            ends.append(_lock_end(failures, rules))
        else:
            policy, customer = row.Policy, row.Customer
            db.execute(
                delete(ChannelIdentity).where(
                    ChannelIdentity.channel == identity.channel,
                    ChannelIdentity.external_id == identity.external_id,
                )
            )
            db.add(
                ChannelIdentity(
                    channel=identity.channel,
                    external_id=identity.external_id,
                    customer_id=customer.id,
                    policy_number=policy.number,
                    verified_at=now,
                )
            )
            return VerificationResult(
                "verified",
                VerifiedPolicy(
                    policy.number,
                    policy.plan_code,
                    policy.status,
                    policy.effective_date,
                    customer.id,
                ),
            )
    if until := _latest(ends):
        return VerificationResult("locked", locked_until=until)
    return VerificationResult("failed", failures_left=max(0, rules.max_failures - len(failures)))


def remembered(
    identity: Identity, rules: LockoutPolicy | None = None, now: datetime | None = None
) -> VerifiedPolicy | None:
    """The policy this identity verified within the remember period, if any."""
    rules = rules or LockoutPolicy.from_env()
    now = now or _now()
    with session() as db:
        row = db.execute(
            select(ChannelIdentity, Policy)
            .join(Policy, ChannelIdentity.policy_number == Policy.number)
            .where(
                ChannelIdentity.channel == identity.channel,
                ChannelIdentity.external_id == identity.external_id,
                ChannelIdentity.verified_at >= now - timedelta(days=rules.remember_days),
            )
        ).first()
        if row is None:
            return None
        policy = row.Policy
        return VerifiedPolicy(
            policy.number,
            policy.plan_code,
            policy.status,
            policy.effective_date,
            row.ChannelIdentity.customer_id,
        )


def record_consent(
    identity: Identity,
    granted: bool,
    wording_version: str,
    language: str,
    now: datetime | None = None,
) -> None:
    """Store a consent answer with the wording version the customer saw."""
    with session() as db:
        db.add(
            Consent(
                channel=identity.channel,
                external_id=identity.external_id,
                wording_version=wording_version,
                language=language,
                granted=granted,
                at=now or _now(),
            )
        )


def has_consent(identity: Identity, wording_version: str) -> bool:
    """True when the latest answer to this wording version was yes."""
    with session() as db:
        latest = (
            db.execute(
                select(Consent.granted)
                .where(
                    Consent.channel == identity.channel,
                    Consent.external_id == identity.external_id,
                    Consent.wording_version == wording_version,
                )
                .order_by(Consent.at.desc(), Consent.id.desc())
            )
            .scalars()
            .first()
        )
    return bool(latest)
