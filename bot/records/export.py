"""The export: everything the product holds on one customer, as one JSON document.

A data-access request names a customer by a policy number or by the id a channel knows them by
(a WhatsApp number, a WeChat openid, a REST sender id). From either we find the customer and every
conversation linked to them: channel identities they verified, cases opened for them, and the
conversation asked about. For those conversations we collect the channel inbox/outbox and
contact, consents, verification attempts, cases with notes and audit entries, and the transcript.

Another customer's data never comes along: identities and cases are taken only when they belong to
this customer (or, for cases opened before verification, to no customer), and channel rows are
matched on the exact conversation, not on a shared prefix. An id that could be two different
conversations (an openid that is also someone's REST sender id) is refused as ambiguous.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import false, inspect, or_, select
from sqlalchemy.orm import Session

from bot.cases.models import AuditEntry, Case, CaseNote
from bot.db import session
from bot.policies.models import ChannelIdentity, Consent, Customer, Policy, VerificationAttempt
from bot.privacy import mask_identifier
from bot.records.conversations import candidates, channel_senders, chunks, of_channel_row
from bot.records.tracker import TrackerEvents
from channels.core.models import Contact, InboundMessage, OutboundMessage

FORMAT = "smo-customer-export/1"


class UnknownCustomer(LookupError):
    """Nothing is held under what the operator gave, or it names more than one conversation."""


def export(
    *,
    policy: str | None = None,
    channel_id: str | None = None,
    tracker_url: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The customer named by ``policy`` or ``channel_id`` (exactly one), as a JSON-ready dict."""
    if (policy is None) == (channel_id is None):
        raise ValueError("give exactly one of policy or channel_id")
    tracker = TrackerEvents.open(tracker_url)
    try:
        with session() as db:
            tables = set(inspect(db.connection()).get_table_names())
            if policy is not None:
                customer_id, conversations, numbers = _by_policy(db, policy)
                request = {"policy": policy}
            else:
                customer_id, conversations, numbers = _by_channel_id(
                    db, tables, tracker, channel_id or ""
                )
                request = {"channel_id": channel_id}
            document = _collect(db, tables, tracker, customer_id, conversations, numbers)
    finally:
        if tracker is not None:
            tracker.close()
    generated = (now or datetime.utcnow()).replace(tzinfo=timezone.utc)
    return {"format": FORMAT, "generated_at": generated, "request": request, **document}


def to_json(document: dict[str, Any]) -> str:
    """The document as UTF-8 JSON text (dates ISO 8601; Chinese kept readable, not escaped)."""
    return json.dumps(document, default=_json_default, ensure_ascii=False, indent=2) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ---- who is it ------------------------------------------------------------------------------
def _by_policy(db: Session, number: str) -> tuple[int | None, set[str], set[str]]:
    """The insured of the policy; conversations of their identities and cases."""
    number = "".join(number.split()).upper()
    found = db.get(Policy, number)
    customer_id = found.insured_id if found is not None else None
    conversations = set(
        db.execute(
            select(ChannelIdentity.external_id).where(ChannelIdentity.policy_number == number)
        ).scalars()
    ) | set(db.execute(select(Case.conversation_id).where(Case.policy_number == number)).scalars())
    if customer_id is None and not conversations:
        raise UnknownCustomer(f"no customer or records for policy {mask_identifier(number)}")
    return customer_id, conversations, {number}


def _by_channel_id(
    db: Session, tables: set[str], tracker: TrackerEvents | None, channel_id: str
) -> tuple[int | None, set[str], set[str]]:
    """The one conversation ``channel_id`` names, and the customer verified on it (if any)."""
    channel_id = channel_id.strip()
    held = [c for c in candidates(channel_id) if _holds(db, tables, tracker, c)]
    if not held:
        raise UnknownCustomer(f"no records for channel id {mask_identifier(channel_id)}")
    if len(held) > 1:
        raise UnknownCustomer(
            f"channel id {mask_identifier(channel_id)} matches {len(held)} conversations; "
            "give it with its channel prefix (whatsapp:+852…, wechat:<openid>)"
        )
    conversation = held[0]
    customer_id = db.execute(
        select(ChannelIdentity.customer_id).where(ChannelIdentity.external_id == conversation)
    ).scalars().first()
    if customer_id is None:  # not verified now; a case may still say who it was
        customer_id = db.execute(
            select(Case.customer_id)
            .where(Case.conversation_id == conversation, Case.customer_id.is_not(None))
            .order_by(Case.created_at.desc())
        ).scalars().first()
    return customer_id, {conversation}, set()


def _holds(db: Session, tables: set[str], tracker: TrackerEvents | None, conversation: str) -> bool:
    """Whether anything at all is held under this conversation id."""
    keyed = (
        ChannelIdentity.external_id,
        Consent.external_id,
        VerificationAttempt.external_id,
        Case.conversation_id,
    )
    for column in keyed:
        if db.execute(select(column).where(column == conversation).limit(1)).first():
            return True
    for model, key in _CHANNEL_TABLES.values():
        if _channel_rows(db, tables, model, key, {conversation}):
            return True
    return tracker is not None and tracker.has_sender(conversation)


# ---- what is held ---------------------------------------------------------------------------
_CHANNEL_TABLES = {
    "channel_contacts": (Contact, Contact.sender),
    "inbound_messages": (InboundMessage, InboundMessage.sender),
    "outbound_messages": (OutboundMessage, OutboundMessage.recipient),
}


def _channel_rows(
    db: Session, tables: set[str], model: Any, key: Any, conversations: set[str]
) -> list[Any]:
    """Rows of a channel table that belong to exactly these conversations, oldest first."""
    if model.__tablename__ not in tables:
        return []
    senders = set().union(*(channel_senders(c) for c in conversations)) if conversations else set()
    rows: list[Any] = []
    for batch in chunks(sorted(senders)):
        rows += db.execute(select(model).where(key.in_(batch))).scalars().all()
    return sorted(
        (r for r in rows if of_channel_row(r.channel, getattr(r, key.key)) in conversations),
        key=lambda r: r.id,
    )


def _where_in(column: Any, values: set[str]) -> Any:
    """``column IN values``, chunked; never true for no values."""
    return or_(*(column.in_(batch) for batch in chunks(sorted(values)))) if values else false()


def _collect(
    db: Session,
    tables: set[str],
    tracker: TrackerEvents | None,
    customer_id: int | None,
    conversations: set[str],
    numbers: set[str],
) -> dict[str, Any]:
    customer = db.get(Customer, customer_id) if customer_id is not None else None
    policies: list[Policy] = []
    identities: list[ChannelIdentity] = []
    if customer is not None:
        policies = list(
            db.execute(select(Policy).where(Policy.insured_id == customer.id)).scalars()
        )
        numbers = numbers | {p.number for p in policies}
        identities = list(
            db.execute(
                select(ChannelIdentity).where(ChannelIdentity.customer_id == customer.id)
            ).scalars()
        )
    else:  # no customer: identities of these conversations or policies (there may be none)
        identities = list(
            db.execute(
                select(ChannelIdentity).where(
                    or_(
                        _where_in(ChannelIdentity.external_id, conversations),
                        _where_in(ChannelIdentity.policy_number, numbers),
                    )
                )
            ).scalars()
        )
    conversations = conversations | {i.external_id for i in identities}

    mine = [_where_in(Case.policy_number, numbers)]
    if customer is not None:
        mine.append(Case.customer_id == customer.id)
    cases = list(db.execute(select(Case).where(or_(*mine))).scalars())
    unattributed = db.execute(
        select(Case).where(_where_in(Case.conversation_id, conversations),
                           Case.customer_id.is_(None))
    ).scalars()
    cases = sorted({c.id: c for c in [*cases, *unattributed]}.values(), key=lambda c: c.id)
    conversations = conversations | {c.conversation_id for c in cases}

    def keyed(model: Any) -> list[Any]:
        return list(
            db.execute(
                select(model).where(_where_in(model.external_id, conversations)).order_by(model.id)
            ).scalars()
        )

    return {
        "customer": _row(customer) if customer is not None else None,
        "policies": [_row(p) for p in sorted(policies, key=lambda p: p.number)],
        "conversations": sorted(conversations),
        "channel_identities": [_row(i) for i in sorted(identities, key=lambda i: i.id)],
        "consents": [_row(c) for c in keyed(Consent)],
        "verification_attempts": [_row(a) for a in keyed(VerificationAttempt)],
        **{
            name: [_row(r) for r in _channel_rows(db, tables, model, key, conversations)]
            for name, (model, key) in _CHANNEL_TABLES.items()
        },
        "cases": [_case(db, c) for c in cases],
        "tracker_events": tracker.events_of(conversations) if tracker is not None else [],
    }


def _case(db: Session, case: Case) -> dict[str, Any]:
    notes = db.execute(
        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.at, CaseNote.id)
    ).scalars()
    audit = db.execute(
        select(AuditEntry).where(AuditEntry.case_id == case.id).order_by(AuditEntry.at,
                                                                         AuditEntry.id)
    ).scalars()
    return {
        "reference": case.reference,
        **_row(case),
        "notes": [_row(n) for n in notes],
        "audit": [_row(a) for a in audit],
    }


def _row(entity: Any) -> dict[str, Any]:
    """Every column of a mapped row, by column name."""
    return {column.key: getattr(entity, column.key) for column in entity.__table__.columns}
