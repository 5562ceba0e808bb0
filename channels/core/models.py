"""Durable inbox, outbox and per-contact state (SQLAlchemy, same database as the case store)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, Integer, String, Text, UniqueConstraint

from bot.db import Base

INBOUND_STATUSES = ("pending", "done", "rate_limited", "failed")
OUTBOUND_STATUSES = ("pending", "sending", "sent", "held", "failed", "passive")


class InboundMessage(Base):
    """A provider message, stored before the webhook answers (dedup key: the provider's id)."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        # A customer's unanswered messages, found without reading the customer's whole history
        # (SQLite used a sender-only index and read every earlier message of the customer for
        # each answer); sender first, so it serves lookups by customer too.
        Index("ix_inbound_messages_unanswered", "sender", "status", "channel"),
    )
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    provider_id = Column(String(128), nullable=False)
    sender = Column(String(128), nullable=False)
    kind = Column(String(16), nullable=False)  # text, media, location, event
    text = Column(Text, nullable=False, default="")
    payload = Column(JSON, nullable=False, default=dict)
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    received_at = Column(DateTime, nullable=False)
    processed_at = Column(DateTime, nullable=True)


class OutboundMessage(Base):
    """A reply waiting to leave, sent at most once (dedup key per inbound message and position)."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "dedup_key"),
        # A customer's unsent replies (the next to send, the held to release), found without
        # reading every reply the customer ever got; recipient first, so it serves lookups by
        # customer too.
        Index("ix_outbound_messages_unsent", "recipient", "status", "channel"),
    )
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    recipient = Column(String(128), nullable=False)
    dedup_key = Column(String(160), nullable=False)
    kind = Column(String(16), nullable=False, default="text")  # text, template
    text = Column(Text, nullable=False)
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False)
    provider_ref = Column(String(128), nullable=True, index=True)
    delivery_status = Column(String(32), nullable=True)
    error = Column(String(400), nullable=True)
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime, nullable=True)


class Contact(Base):
    """Per customer and channel: messaging window, last numbered options, subscription."""

    __tablename__ = "channel_contacts"
    __table_args__ = (UniqueConstraint("channel", "sender"),)
    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    sender = Column(String(128), nullable=False)
    last_inbound_at = Column(DateTime, nullable=True)
    options = Column(JSON, nullable=False, default=list)  # [[title, payload], ...]
    subscribed = Column(Integer, nullable=False, default=1)
    language = Column(String(8), nullable=True)
