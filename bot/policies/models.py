"""Tables of the policy directory (SQLAlchemy 1.4 declarative; Rasa pins SQLAlchemy below 2)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)

from bot.db import Base

POLICY_STATUSES = ("in_force", "lapsed", "terminated")


class Customer(Base):
    """A person: the insured of one or more policies."""

    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    date_of_birth = Column(Date, nullable=False)


class Policy(Base):
    """One policy; the service is for its insured person."""

    __tablename__ = "policies"
    number = Column(String(32), primary_key=True)
    holder_name = Column(String(200), nullable=False)
    insured_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    plan_code = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    effective_date = Column(Date, nullable=False)
    riders = Column(JSON, nullable=False, default=list)


class ChannelIdentity(Base):
    """A WhatsApp number, WeChat openid or REST sender linked to a policy after verification."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    external_id = Column(String(128), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    policy_number = Column(String(32), ForeignKey("policies.number"), nullable=False)
    verified_at = Column(DateTime, nullable=False)


class Consent(Base):
    """A consent answer to collecting health information, with the wording version shown."""

    __tablename__ = "consents"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    external_id = Column(String(128), nullable=False)
    wording_version = Column(String(64), nullable=False)
    language = Column(String(8), nullable=False)
    granted = Column(Boolean, nullable=False)
    at = Column(DateTime, nullable=False)


class VerificationAttempt(Base):
    """One verification attempt, for the lockout: who tried, never the data entered.

    ``policy_key`` and ``client_key`` are keyed hashes (:mod:`bot.policies.lockout`) of the
    policy number tried and of the REST client, so failures are counted per number and per
    client as well as per channel identity. A hash, not the number: the count needs equality
    only, and for a number that does not exist the "number" is whatever an attacker typed.
    """

    __tablename__ = "verification_attempts"
    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False, index=True)
    external_id = Column(String(128), nullable=False, index=True)
    success = Column(Boolean, nullable=False)
    at = Column(DateTime, nullable=False)
    policy_key = Column(String(64), nullable=True, index=True)
    client_key = Column(String(64), nullable=True, index=True)


class VerificationLock(Base):
    """A lock on a policy number or a client, and how many times it has been locked in a row.

    ``level`` grows with each lock-out that follows another within the memory period, and the
    lock's length doubles with it (up to a cap): a brute force gets ever fewer guesses.
    """

    __tablename__ = "verification_locks"
    __table_args__ = (UniqueConstraint("scope", "subject"),)
    id = Column(Integer, primary_key=True)
    scope = Column(String(16), nullable=False)  # "policy" or "client"
    subject = Column(String(64), nullable=False)  # the keyed hash, as on the attempts
    level = Column(Integer, nullable=False)
    locked_until = Column(DateTime, nullable=False)


class VerificationKey(Base):
    """The random key of the hashes above: made once per database, so every instance and every
    restart counts the same number under the same hash."""

    __tablename__ = "verification_keys"
    id = Column(Integer, primary_key=True)
    secret = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
