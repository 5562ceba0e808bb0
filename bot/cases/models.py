"""Tables of the case store. The transcript itself stays in Rasa's tracker store."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Integer, String, Text

from bot.db import Base

QUEUES = ("nurse", "case_doctor")
PRIORITIES = ("urgent", "normal")
STATUSES = ("queued", "claimed", "closed")
OUTCOMES = ("advised", "referred_to_provider", "not_eligible", "no_response")


class Case(Base):
    """One escalated conversation, from queueing to close."""

    __tablename__ = "cases"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(160), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    language = Column(String(8), nullable=False)
    customer_id = Column(Integer, nullable=True)
    policy_number = Column(String(32), nullable=True)
    queue = Column(String(16), nullable=False, index=True)
    priority = Column(String(8), nullable=False)
    status = Column(String(8), nullable=False, index=True)
    reason = Column(String(32), nullable=False)
    packet = Column(JSON, nullable=False, default=dict)
    eligibility = Column(JSON, nullable=False, default=dict)
    screening = Column(JSON, nullable=False, default=dict)
    media = Column(JSON, nullable=False, default=list)
    owner = Column(String(64), nullable=True)
    outcome = Column(String(32), nullable=True)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    first_response_due = Column(DateTime, nullable=False)
    first_response_at = Column(DateTime, nullable=True)
    claimed_at = Column(DateTime, nullable=True)
    closed_at = Column(DateTime, nullable=True)

    @property
    def reference(self) -> str:
        """What staff and customers call the case."""
        return f"SMO-{self.id:06d}"


class CaseNote(Base):
    """An internal note on a case (never sent to the customer)."""

    __tablename__ = "case_notes"
    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("cases.id"), nullable=False, index=True)
    author = Column(String(64), nullable=False)
    body = Column(Text, nullable=False)
    at = Column(DateTime, nullable=False)


class AuditEntry(Base):
    """Who did what to which case, when: views, claims, replies, transfers, closes."""

    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    actor = Column(String(64), nullable=False)
    action = Column(String(32), nullable=False)
    case_id = Column(Integer, nullable=True, index=True)
    detail = Column(JSON, nullable=False, default=dict)
    at = Column(DateTime, nullable=False)
