"""Verification against the policy directory, the lockout, and remembered channel identities.

Identities are per channel: a customer verified on WhatsApp is a stranger on WeChat until they
verify there too (a phone number and an openid prove different things). Verification never says
which part was wrong; three failures lock the identity for a while.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select

from bot.db import session
from bot.policies.models import ChannelIdentity, Consent, Customer, Policy, VerificationAttempt


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures lock an identity, for how long, and how long a verification lasts."""

    max_failures: int = 3
    lock_minutes: int = 30
    remember_days: int = 30

    @classmethod
    def from_env(cls) -> LockoutPolicy:
        """From SMO_VERIFY_MAX_FAILURES, SMO_VERIFY_LOCK_MINUTES, SMO_VERIFIED_REMEMBER_DAYS."""
        return cls(
            int(os.environ.get("SMO_VERIFY_MAX_FAILURES", 3)),
            int(os.environ.get("SMO_VERIFY_LOCK_MINUTES", 30)),
            int(os.environ.get("SMO_VERIFIED_REMEMBER_DAYS", 30)),
        )


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


def _failure_streak(identity: Identity, rules: LockoutPolicy, now: datetime) -> list[datetime]:
    """Times of the failures since the identity's last success, within the lock window."""
    with session() as db:
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
    return _lock_end(_failure_streak(identity, rules, now), rules)


def verify(
    identity: Identity,
    policy_number: str,
    date_of_birth: date,
    rules: LockoutPolicy | None = None,
    now: datetime | None = None,
) -> VerificationResult:
    """Check the policy number and the insured person's date of birth; record the attempt."""
    rules = rules or LockoutPolicy.from_env()
    now = now or _now()
    if until := locked_until(identity, rules, now):
        return VerificationResult("locked", locked_until=until)
    number = policy_number.strip().upper()
    with session() as db:
        row = db.execute(
            select(Policy, Customer)
            .join(Customer, Policy.insured_id == Customer.id)
            .where(Policy.number == number)
        ).first()
        matched = row is not None and row.Customer.date_of_birth == date_of_birth
        db.add(
            VerificationAttempt(
                channel=identity.channel, external_id=identity.external_id, success=matched, at=now
            )
        )
        if not matched:
            db.flush()
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
    failures = _failure_streak(identity, rules, now)
    if until := _lock_end(failures, rules):
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
