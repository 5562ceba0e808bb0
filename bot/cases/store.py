"""The case store: open, list, claim, note, transfer and close cases, with an audit trail.

Pure data operations (no Rasa, no channels): the action server opens cases, the public server's
handoff service and the console change them. Claims are atomic (``UPDATE … WHERE status =
'queued'``), so two nurses clicking at once get one owner and one polite refusal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy import case as sql_case

from bot.cases.models import OUTCOMES, PRIORITIES, QUEUES, AuditEntry, Case, CaseNote
from bot.db import read_session, session
from bot.office_hours import OfficeHours


class CaseError(Exception):
    """A case operation that cannot be done, with a message fit for staff."""


@dataclass(frozen=True)
class SlaPolicy:
    """First-response targets per priority, minutes (``SMO_SLA_URGENT_MINUTES``, ``…NORMAL…``).

    Urgent cases run round the clock (someone may be in danger); normal cases count office
    hours only (``SMO_OFFICE_HOURS``): nobody is on duty to answer a Saturday case before Monday,
    and a target that expired over the weekend would only teach staff to ignore the colours.
    """

    urgent_minutes: int = 5
    normal_minutes: int = 60
    hours: OfficeHours | None = None  # None: SMO_OFFICE_HOURS / SMO_TIMEZONE when needed

    @classmethod
    def from_env(cls) -> SlaPolicy:
        return cls(
            int(os.environ.get("SMO_SLA_URGENT_MINUTES", 5)),
            int(os.environ.get("SMO_SLA_NORMAL_MINUTES", 60)),
            OfficeHours.from_env(),
        )

    def due(self, priority: str, opened: datetime) -> datetime:
        """The first-response due time; naive in, naive out (stored times are naive UTC)."""
        if priority == "urgent":
            return opened + timedelta(minutes=self.urgent_minutes)
        aware = opened if opened.tzinfo else opened.replace(tzinfo=timezone.utc)
        due = (self.hours or OfficeHours.from_env()).after_open_minutes(aware, self.normal_minutes)
        due = due.astimezone(timezone.utc)
        return due if opened.tzinfo else due.replace(tzinfo=None)


def _now() -> datetime:
    return datetime.utcnow()


def audit(actor: str, action: str, case_id: int | None, **detail: Any) -> None:
    """Append to the audit log (never message text or identifiers: ids and outcomes only)."""
    with session() as db:
        db.add(AuditEntry(actor=actor, action=action, case_id=case_id, detail=detail, at=_now()))


def open_case(
    *,
    conversation_id: str,
    channel: str,
    language: str,
    queue: str,
    priority: str = "normal",
    reason: str,
    packet: dict | None = None,
    eligibility: dict | None = None,
    screening: dict | None = None,
    customer_id: int | None = None,
    policy_number: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Queue a case; an open case of the same conversation and queue is updated instead."""
    if queue not in QUEUES or priority not in PRIORITIES:
        raise CaseError(f"unknown queue {queue!r} or priority {priority!r}")
    now = now or _now()
    with session() as db:
        existing = (
            db.execute(
                select(Case).where(
                    Case.conversation_id == conversation_id,
                    Case.queue == queue,
                    Case.status != "closed",
                )
            )
            .scalars()
            .first()
        )
        if existing is not None:
            if priority == "urgent" and existing.priority != "urgent":
                existing.priority = "urgent"
                existing.first_response_due = SlaPolicy.from_env().due("urgent", now)
            existing.reason = reason if priority == "urgent" else existing.reason
            existing.packet = packet or existing.packet
            existing.eligibility = eligibility or existing.eligibility
            existing.screening = screening or existing.screening
            existing.updated_at = now
            db.flush()
            case = existing
        else:
            case = Case(
                conversation_id=conversation_id,
                channel=channel,
                language=language,
                queue=queue,
                priority=priority,
                status="queued",
                reason=reason,
                packet=packet or {},
                eligibility=eligibility or {},
                screening=screening or {},
                media=[],
                customer_id=customer_id,
                policy_number=policy_number,
                created_at=now,
                updated_at=now,
                first_response_due=SlaPolicy.from_env().due(priority, now),
            )
            db.add(case)
            db.flush()
        db.add(
            AuditEntry(
                actor="bot",
                action="open",
                case_id=case.id,
                detail={"queue": queue, "priority": priority, "reason": reason},
                at=now,
            )
        )
        return case


def get(case_id: int) -> Case:
    """One case; :class:`CaseError` if there is none."""
    with session() as db:
        case = db.get(Case, case_id)
        if case is None:
            raise CaseError(f"case {case_id} does not exist")
        return case


def open_cases(queues: tuple[str, ...] = QUEUES) -> list[Case]:
    """Queued and claimed cases, urgent first, then oldest first."""
    urgent_first = sql_case((Case.priority == "urgent", 0), else_=1)
    with session() as db:
        return list(
            db.execute(
                select(Case)
                .where(Case.status != "closed", Case.queue.in_(queues))
                .order_by(urgent_first, Case.created_at)
            ).scalars()
        )


# Asked on every incoming message (the emergency guard): built once.
_ACTIVE_CASE = select(Case).where(Case.conversation_id == bindparam("cid"),
                                  Case.status == "claimed")


def active_case_for(conversation_id: str) -> Case | None:
    """The claimed case of a conversation, if a human holds it (a read: no writers' turn)."""
    with read_session() as db:
        return db.execute(_ACTIVE_CASE, {"cid": conversation_id}).scalars().first()


def claim(case_id: int, user: str, now: datetime | None = None) -> Case:
    """Make ``user`` the owner; fails politely if someone else was first."""
    now = now or _now()
    with session() as db:
        result = db.execute(
            update(Case)
            .where(Case.id == case_id, Case.status == "queued")
            .values(status="claimed", owner=user, claimed_at=now, updated_at=now)
        )
        if result.rowcount != 1:
            current = db.get(Case, case_id)
            if current is None:
                raise CaseError(f"case {case_id} does not exist")
            if current.owner == user and current.status == "claimed":
                return current
            raise CaseError(
                f"case {current.reference} is already {current.status}"
                + (f" by {current.owner}" if current.owner else "")
            )
        db.add(AuditEntry(actor=user, action="claim", case_id=case_id, detail={}, at=now))
    return get(case_id)


def _owned(db, case_id: int, user: str) -> Case:  # noqa: ANN001 - Session
    case = db.get(Case, case_id)
    if case is None:
        raise CaseError(f"case {case_id} does not exist")
    if case.status != "claimed" or case.owner != user:
        raise CaseError(f"case {case.reference} is not claimed by {user}")
    return case


def record_reply(case_id: int, user: str, now: datetime | None = None, **detail: Any) -> Case:
    """Note that staff replied (first response time, audit)."""
    now = now or _now()
    with session() as db:
        case = _owned(db, case_id, user)
        case.first_response_at = case.first_response_at or now
        case.updated_at = now
        db.add(AuditEntry(actor=user, action="reply", case_id=case_id, detail=detail, at=now))
        return case


def set_language(case_id: int, language: str) -> None:
    """The customer now writes in another language: staff should answer in it (the console
    shows the case's language and script)."""
    with session() as db:
        db.execute(update(Case).where(Case.id == case_id, Case.language != language)
                   .values(language=language))


def add_note(case_id: int, user: str, body: str, now: datetime | None = None) -> CaseNote:
    """An internal note; never sent to the customer."""
    if not body.strip():
        raise CaseError("a note cannot be empty")
    now = now or _now()
    with session() as db:
        if db.get(Case, case_id) is None:
            raise CaseError(f"case {case_id} does not exist")
        note = CaseNote(case_id=case_id, author=user, body=body.strip(), at=now)
        db.add(note)
        db.add(AuditEntry(actor=user, action="note", case_id=case_id, detail={}, at=now))
        return note


def notes(case_id: int) -> list[CaseNote]:
    """A case's notes, oldest first."""
    with session() as db:
        return list(
            db.execute(
                select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.at)
            ).scalars()
        )


def transfer(case_id: int, user: str, queue: str, now: datetime | None = None) -> Case:
    """Move a case to the other queue, unclaimed, so the right team picks it up."""
    if queue not in QUEUES:
        raise CaseError(f"unknown queue {queue!r}")
    now = now or _now()
    with session() as db:
        case = db.get(Case, case_id)
        if case is None or case.status == "closed":
            raise CaseError(f"case {case_id} is not open")
        if case.status == "claimed" and case.owner != user:
            raise CaseError(f"case {case.reference} is claimed by {case.owner}")
        previous = case.queue
        case.queue, case.status, case.owner, case.updated_at = queue, "queued", None, now
        db.add(
            AuditEntry(
                actor=user,
                action="transfer",
                case_id=case_id,
                detail={"from": previous, "to": queue},
                at=now,
            )
        )
        return case


def close(case_id: int, user: str, outcome: str, now: datetime | None = None) -> Case:
    """Close with an outcome; the caller resumes the bot."""
    if outcome not in OUTCOMES:
        raise CaseError(f"outcome must be one of {', '.join(OUTCOMES)}")
    now = now or _now()
    with session() as db:
        case = _owned(db, case_id, user)
        case.status, case.outcome, case.closed_at, case.updated_at = "closed", outcome, now, now
        db.add(
            AuditEntry(
                actor=user, action="close", case_id=case_id, detail={"outcome": outcome}, at=now
            )
        )
        return case


def add_media(conversation_id: str, reference: dict[str, Any]) -> Case | None:
    """Attach a media reference (URL and type, not the content) to the open case."""
    with session() as db:
        case = (
            db.execute(
                select(Case)
                .where(Case.conversation_id == conversation_id, Case.status != "closed")
                .order_by(Case.created_at.desc())
            )
            .scalars()
            .first()
        )
        if case is None:
            return None
        case.media = [*(case.media or []), reference]
        return case


def audit_log(case_id: int | None = None) -> list[AuditEntry]:
    """Audit entries, oldest first (all, or one case's)."""
    with session() as db:
        query = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id)
        if case_id is not None:
            query = query.where(AuditEntry.case_id == case_id)
        return list(db.execute(query).scalars())
