"""The retention purge: delete what is older than the retention period, keep what a case needs.

What goes, past the age (``SMO_RETENTION_DAYS``, default 365):

- **Closed cases** (closed that long ago) with their packets, media references and notes. Open
  cases (queued or claimed) are never purged, whatever their age: someone is still working on them.
- **Transcripts** (tracker events), **channel inbox/outbox rows** (message text, media URLs),
  **channel contacts**, **consents**, **verification attempts** and **channel identities**, each
  by its own timestamp.

What stays, whatever its age:

- Everything of a conversation that still has a case after the purge (open, or closed within the
  period): a case is judged on its transcript, and its health information was collected under the
  consent given in that conversation, so the record, its transcript and its legal basis go together.
  The period therefore runs from a case's closing, not from the first message.
- The policy directory (customers, policies): a copy of the insurer's policy system, replaced by
  each import; its retention is that system's.
- The audit log: it records staff actions and must outlive the cases. It holds ids, staff user
  names and codes (queue, priority, reason, outcome, delivery status), never message text or a
  customer's identifiers (``bot.cases.store.audit``). Once a case is purged its entries point at an
  id nothing resolves; any detail outside those codes is dropped from them as a safeguard.

One year by default: long enough for follow-up questions, complaints and disputes about a second
opinion, short enough that the chat store never becomes a second medical archive (the insurer's
record of a case belongs in its core systems). Each table is purged in short transactions (a live
server is never locked out for long), and the purge can simply be run again: it is idempotent.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Table, and_, delete, func, inspect, select, update
from sqlalchemy.orm.attributes import InstrumentedAttribute

from bot.cases.models import AuditEntry, Case, CaseNote
from bot.db import session
from bot.policies.models import ChannelIdentity, Consent, VerificationAttempt
from bot.records.conversations import chunks, of_channel_row
from bot.records.tracker import TrackerEvents
from channels.core.models import Contact, InboundMessage, OutboundMessage

DEFAULT_RETENTION_DAYS = 365
AUDIT_DETAIL_KEYS = frozenset({"queue", "priority", "reason", "outcome", "delivery", "from", "to"})
"""Audit detail keys that are codes, not personal data (what ``bot.cases.store`` writes today)."""
_BULK = {"execution_options": {"synchronize_session": False}}  # plain SQL; no objects are loaded


class RetentionError(ValueError):
    """The retention setting is malformed; the message names it."""


def retention_days() -> int:
    """``SMO_RETENTION_DAYS`` (whole days, at least 1; default 365, see the module docstring)."""
    raw = os.environ.get("SMO_RETENTION_DAYS", "")
    if raw == "":
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError as exc:
        raise RetentionError(f"SMO_RETENTION_DAYS must be a whole number, got {raw!r}") from exc
    if days < 1:
        raise RetentionError(f"SMO_RETENTION_DAYS must be at least 1, got {days}")
    return days


TRACKER_EVENTS = "tracker events"
TABLES = ("cases", "case_notes", "inbound_messages", "outbound_messages", "channel_contacts",
          "consents", "verification_attempts", "channel_identities", TRACKER_EVENTS)
"""What the purge deletes from, in the order it reports them."""


@dataclass
class PurgeReport:
    """Rows deleted per table (or that would be, in a dry run). Counts only, never content."""

    cutoff: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    media_references: int = 0
    """Media references (provider URLs) that went with the purged cases."""
    audit_scrubbed: int = 0
    """Audit entries of purged cases whose non-code detail was dropped (the entries stay)."""

    def add(self, table: str, count: int) -> None:
        self.counts[table] += count

    @property
    def total(self) -> int:
        """Rows deleted in all tables."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class _AgedTable:
    """A table purged row by row by age, its rows tied to a conversation by (channel, key)."""

    age: InstrumentedAttribute
    channel: InstrumentedAttribute
    key: InstrumentedAttribute
    conversation: Callable[[str, str], str]

    @property
    def table(self) -> Table:
        return self.age.class_.__table__

    @property
    def name(self) -> str:
        return self.table.name


def _external_id(_channel: str, external_id: str) -> str:
    return external_id  # the dialogue's tables key identities by the conversation id itself


AGED_TABLES = (
    _AgedTable(InboundMessage.received_at, InboundMessage.channel, InboundMessage.sender,
               of_channel_row),
    _AgedTable(OutboundMessage.created_at, OutboundMessage.channel, OutboundMessage.recipient,
               of_channel_row),
    _AgedTable(Contact.last_inbound_at, Contact.channel, Contact.sender, of_channel_row),
    _AgedTable(Consent.at, Consent.channel, Consent.external_id, _external_id),
    _AgedTable(VerificationAttempt.at, VerificationAttempt.channel,
               VerificationAttempt.external_id, _external_id),
    _AgedTable(ChannelIdentity.verified_at, ChannelIdentity.channel, ChannelIdentity.external_id,
               _external_id),
)


def purge(
    *,
    older_than_days: int,
    tracker_url: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PurgeReport:
    """Purge everything past ``older_than_days`` (see the module docstring); counts per table."""
    if older_than_days < 1:
        raise RetentionError("the retention period must be at least one day")
    cutoff = (now or datetime.utcnow()) - timedelta(days=older_than_days)
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    with session() as db:
        tables = set(inspect(db.connection()).get_table_names())

    expired, kept_conversations, media = _expired_cases(cutoff)
    _purge_cases(expired, report, dry_run)
    report.media_references = media
    _scrub_audit(expired, report, dry_run)
    for aged in AGED_TABLES:
        if aged.name in tables:  # a channel table appears when the runtime first starts
            _purge_aged(aged, cutoff, kept_conversations, report, dry_run)
    _purge_tracker(tracker_url, cutoff, kept_conversations, report, dry_run)
    return report


def _case_expired(status: str, closed_at: datetime | None, updated_at: datetime,
                  cutoff: datetime) -> bool:
    """Closed before the cutoff (``updated_at`` stands in for a missing close time)."""
    return status == "closed" and (closed_at or updated_at) < cutoff


def _expired_cases(cutoff: datetime) -> tuple[list[int], set[str], int]:
    """Ids of the cases to purge, conversations that keep a case, media references on the former."""
    with session() as db:
        rows = db.execute(
            select(Case.id, Case.conversation_id, Case.status, Case.closed_at, Case.updated_at)
        ).all()
        expired: list[int] = []
        kept: set[str] = set()
        for row in rows:
            if _case_expired(row.status, row.closed_at, row.updated_at, cutoff):
                expired.append(row.id)
            else:
                kept.add(row.conversation_id)
        media = 0
        for batch in chunks(sorted(expired)):
            for references in db.execute(select(Case.media).where(Case.id.in_(batch))).scalars():
                media += len(references or [])
    return sorted(expired), kept, media


def _purge_cases(expired: list[int], report: PurgeReport, dry_run: bool) -> None:
    """Notes first (they reference the case), then the case with its packet and media references.

    Each delete repeats "closed" in its condition: a case is never reopened, but if one ever were
    between listing and deleting, it would stay.
    """
    for batch in chunks(expired):
        closed = select(Case.id).where(Case.id.in_(batch), Case.status == "closed")
        with session() as db:
            if dry_run:
                report.add("cases", len(batch))
                report.add("case_notes", db.execute(
                    select(func.count()).select_from(CaseNote).where(CaseNote.case_id.in_(batch))
                ).scalar_one())
                continue
            notes = db.execute(delete(CaseNote).where(CaseNote.case_id.in_(closed)), **_BULK)
            cases = db.execute(delete(Case).where(Case.id.in_(batch), Case.status == "closed"),
                               **_BULK)
            report.add("case_notes", notes.rowcount)
            report.add("cases", cases.rowcount)


def _scrub_audit(expired: list[int], report: PurgeReport, dry_run: bool) -> None:
    """Audit entries of purged cases keep only code-valued detail (normally already all they have).

    Looks at entries of the cases purged now and at entries whose case is already gone, so a purge
    interrupted halfway is completed by the next run.
    """
    with session() as db:
        orphaned = AuditEntry.case_id.is_not(None) & AuditEntry.case_id.not_in(select(Case.id))
        entries = list(db.execute(select(AuditEntry.id, AuditEntry.detail).where(orphaned)))
        for batch in chunks(expired if dry_run else []):
            entries += db.execute(
                select(AuditEntry.id, AuditEntry.detail).where(AuditEntry.case_id.in_(batch))
            ).all()
        scrubbed = 0
        for entry_id, detail in {entry.id: entry.detail for entry in entries}.items():
            kept = {k: v for k, v in (detail or {}).items() if k in AUDIT_DETAIL_KEYS}
            if kept != (detail or {}):
                scrubbed += 1
                if not dry_run:
                    db.execute(update(AuditEntry).where(AuditEntry.id == entry_id)
                               .values(detail=kept), **_BULK)
    report.audit_scrubbed = scrubbed


def _purge_aged(
    aged: _AgedTable,
    cutoff: datetime,
    kept_conversations: set[str],
    report: PurgeReport,
    dry_run: bool,
) -> None:
    """Rows older than the cutoff, except those of conversations that keep a case."""
    table = aged.table
    with session() as db:
        keys = db.execute(
            select(aged.channel, aged.key).where(aged.age < cutoff).distinct()
        ).all()
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, key in keys:
        if aged.conversation(channel, key) not in kept_conversations:
            by_channel[channel].append(key)
    count = 0
    for channel, channel_keys in sorted(by_channel.items()):
        for batch in chunks(sorted(channel_keys)):
            condition = and_(aged.age < cutoff, aged.channel == channel, aged.key.in_(batch))
            with session() as db:
                if dry_run:
                    count += db.execute(
                        select(func.count()).select_from(table).where(condition)
                    ).scalar_one()
                else:
                    count += db.execute(delete(table).where(condition), **_BULK).rowcount
    report.add(aged.name, count)


def _purge_tracker(
    url: str, cutoff: datetime, kept_conversations: set[str], report: PurgeReport, dry_run: bool
) -> None:
    """Transcript events older than the cutoff, except those of conversations that keep a case.

    Events go by their own age, which in practice means whole old sessions (a session ends after
    an hour of silence). Later sessions still load as before: the domain carries slots over into
    each new session, so no later state depends on a purged event. A session that straddles the
    cutoff loses its start and Rasa loads what remains.
    """
    events = TrackerEvents.open(url)
    if events is None:
        return
    try:
        timestamp = cutoff.replace(tzinfo=timezone.utc).timestamp()
        senders = events.senders_with_events_before(timestamp) - kept_conversations
        report.add(TRACKER_EVENTS, events.purge_before(timestamp, senders, dry_run))
    finally:
        events.close()
