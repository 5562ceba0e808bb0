"""The channel runtime's SQL: the durable inbox, the outbox and per-contact state.

Every statement the runtime runs is here, one function each; the rest of the runtime says when
to run them. The statements on the acknowledgement, answering and sending paths are built once,
at import: SQLAlchemy memoises a statement's cache key on the statement object, so re-using it
skips rebuilding the key each time (building them anew was a third of the gateway's time per
message). Those paths read rows, not ORM objects: loading the objects cost more than the
queries. Functions taking ``db`` run inside the caller's transaction, so what one step changes
is written together.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy import func as sa_func

from bot.db import (
    checkpoint,
    insert_ignoring_duplicates,
    read_connection,
    read_session,
    session,
    transaction,
)
from channels.core.models import Contact, InboundMessage, OutboundMessage

logger = logging.getLogger(__name__)

_INBOX, _OUTBOX, _CONTACTS = (InboundMessage.__table__, OutboundMessage.__table__,
                              Contact.__table__)

# ---- the acknowledgement path -------------------------------------------------------------
_INSERT_INBOUND = _INBOX.insert()
_TOUCH_CONTACT = (update(_CONTACTS)
                  .where(_CONTACTS.c.channel == bindparam("c"),
                         _CONTACTS.c.sender == bindparam("s"))
                  .values(last_inbound_at=bindparam("t")))
_RELEASE_HELD = (update(_OUTBOX)
                 .where(_OUTBOX.c.channel == bindparam("c"), _OUTBOX.c.recipient == bindparam("r"),
                        _OUTBOX.c.status == "held")
                 .values(status="pending", next_attempt_at=bindparam("t")))
_DELIVERY_STATUS = (update(_OUTBOX).where(_OUTBOX.c.provider_ref == bindparam("ref"))
                    .values(delivery_status=bindparam("new_status")))

# ---- the answering path -------------------------------------------------------------------
_OLDEST_UNANSWERED = (select(_INBOX)
                      .where(_INBOX.c.channel == bindparam("c"), _INBOX.c.sender == bindparam("s"),
                             _INBOX.c.status.in_(("pending", "limited")))
                      .order_by(_INBOX.c.id)
                      .limit(1))
_CONTACT_STATE = select(_CONTACTS).where(_CONTACTS.c.channel == bindparam("c"),
                                         _CONTACTS.c.sender == bindparam("s"))
_REMEMBER_OPTIONS = (update(_CONTACTS)
                     .where(_CONTACTS.c.channel == bindparam("c"),
                            _CONTACTS.c.sender == bindparam("s"))
                     .values(options=bindparam("o"), language=bindparam("l")))
_FINISH = (update(_INBOX).where(_INBOX.c.id == bindparam("row_id"))
           .values(status=bindparam("new_status"), processed_at=bindparam("t")))

# ---- the sending path ---------------------------------------------------------------------
# The oldest unsent row of each recipient (order per customer is kept by sending only heads),
# worked out by the database: during a burst hundreds of rows wait, and reading them all on
# every pass held the database lock that acknowledgements wait for.
_HEADS = (select(sa_func.min(_OUTBOX.c.id))
          .where(_OUTBOX.c.status.in_(("pending", "sending")))
          .group_by(_OUTBOX.c.channel, _OUTBOX.c.recipient))
_UNSENT_HEADS = select(_OUTBOX).where(_OUTBOX.c.id.in_(_HEADS.scalar_subquery())).order_by(
    _OUTBOX.c.id)
_CLAIM = (update(_OUTBOX)
          .where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.status == "pending")
          # the claim's expiry: past it, the sweep reconciles a dead sender's row
          .values(status="sending", attempts=_OUTBOX.c.attempts + 1,
                  next_attempt_at=bindparam("expires")))
_RECORD = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id"))  # SET from the parameters
# One customer's oldest unsent row: after a successful send, that customer's next reply leaves at
# once instead of waiting for every other send of the round.
_NEXT_FOR = (select(_OUTBOX)
             .where(_OUTBOX.c.recipient == bindparam("r"), _OUTBOX.c.channel == bindparam("c"),
                    _OUTBOX.c.status.in_(("pending", "sending")))
             .order_by(_OUTBOX.c.id)
             .limit(1))
_RECEIVED_AT = select(_INBOX.c.received_at).where(_INBOX.c.id == bindparam("row_id"))


def utcnow() -> datetime:
    """The runtime's clock: naive UTC, as the tables store it."""
    return datetime.utcnow()


# ---- inbox and contacts -------------------------------------------------------------------
def store_inbound(values: dict[str, Any], now: datetime) -> tuple[int, int]:
    """One short transaction (the acknowledgement waits for it): the message, the contact's
    window, and replies held for this customer released. Returns (inbox id, rows released);
    raises ``IntegrityError`` for a provider id already stored."""
    channel, sender = values["channel"], values["sender"]
    with transaction() as db:
        inbound_id = db.execute(_INSERT_INBOUND, values).inserted_primary_key[0]
        touch_contact(db, channel, sender, now)
        released = db.execute(_RELEASE_HELD, {"c": channel, "r": sender, "t": now}).rowcount
    return inbound_id, released


def inbound_id(channel: str, provider_id: str) -> int:
    """The inbox id of a message already stored (a provider's retry of it)."""
    with read_session() as db:
        return db.execute(
            select(InboundMessage.id).where(
                InboundMessage.channel == channel, InboundMessage.provider_id == provider_id
            )
        ).scalar_one()


def oldest_unanswered(channel: str, sender: str) -> tuple[Any, Any]:
    """The customer's oldest unanswered message and their contact state, in one read (rows
    with the models' attribute names); (None, None) when all are answered."""
    with read_connection() as db:
        row = db.execute(_OLDEST_UNANSWERED, {"c": channel, "s": sender}).first()
        if row is None:
            return None, None
        return row, db.execute(_CONTACT_STATE, {"c": channel, "s": sender}).first()


def touch_contact(db: Any, channel: str, sender: str, now: datetime) -> None:
    """Record when the customer last wrote (their messaging window), creating the contact."""
    touched = db.execute(_TOUCH_CONTACT, {"c": channel, "s": sender, "t": now}).rowcount
    if not touched:
        insert_ignoring_duplicates(db, _CONTACTS, [{
            "channel": channel, "sender": sender, "last_inbound_at": now, "options": [],
            "subscribed": 1}])


def contact(channel: str, sender: str) -> Any:
    """A row with :class:`Contact`'s columns, or None."""
    with read_connection() as db:
        return db.execute(_CONTACT_STATE, {"c": channel, "s": sender}).first()


def set_subscribed(channel: str, sender: str, subscribed: bool) -> None:
    """Record a WeChat follow/unfollow."""
    with session() as db:
        touch_contact(db, channel, sender, utcnow())
        db.flush()
        db.execute(
            update(Contact)
            .where(Contact.channel == channel, Contact.sender == sender)
            .values(subscribed=int(subscribed))
        )


def remember_options(db: Any, channel: str, sender: str, options: list[list[str]],
                     language: str | None) -> None:
    """The numbered options a reply offered (what "1", "2" mean next) and its language."""
    db.execute(_REMEMBER_OPTIONS, {"c": channel, "s": sender, "o": options, "l": language})


def finish(db: Any, inbound_id: int, status: str) -> None:
    """Mark a message answered ("done") or answered politely over the limit."""
    db.execute(_FINISH, {"row_id": inbound_id, "new_status": status, "t": utcnow()})


def count_attempt(inbound_id: int) -> int:
    """One more failed try at answering a message; how many there have been."""
    with session() as db:
        db.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(attempts=InboundMessage.attempts + 1)
        )
        return db.get(InboundMessage, inbound_id).attempts


def customers_waiting(received_before: datetime) -> list[tuple[str, str]]:
    """(channel, sender) of every customer with a message unanswered since before then."""
    with read_session() as db:
        return [tuple(row) for row in db.execute(
            select(InboundMessage.channel, InboundMessage.sender)
            .where(InboundMessage.status.in_(("pending", "limited")),
                   InboundMessage.received_at <= received_before)
            .distinct()
        ).all()]


# ---- outbox -------------------------------------------------------------------------------
def queue(channel: str, recipient: str, pieces: list[tuple[str, str]], key: str, *,
          status: str, db: Any = None) -> None:
    """Outbox rows for (text, kind) pieces. Keyed per message and position: a row already
    queued by an earlier attempt is never queued twice."""
    now = utcnow()
    rows = [{"channel": channel, "recipient": recipient, "dedup_key": f"{key}:{index}",
             "kind": piece_kind, "text": piece, "status": status, "attempts": 0,
             "next_attempt_at": now, "created_at": now,
             "sent_at": now if status == "passive" else None}
            for index, (piece, piece_kind) in enumerate(pieces)]
    if db is not None:
        insert_ignoring_duplicates(db, _OUTBOX, rows)
        return
    with transaction() as own:
        insert_ignoring_duplicates(own, _OUTBOX, rows)


def unsent_heads() -> list[Any]:
    """Each recipient's oldest unsent row (pending, or being sent)."""
    with read_session() as db:
        return db.execute(_UNSENT_HEADS).all()


def claim(db: Any, row_id: int, expires: datetime) -> bool:
    """Mark a pending row as being sent by us until ``expires`` (False if another loop or
    instance has it)."""
    return bool(db.execute(_CLAIM, {"row_id": row_id, "expires": expires}).rowcount)


def record(db: Any, row_id: int, values: dict[str, Any]) -> None:
    """Write what the provider said about a send."""
    db.execute(_RECORD, {"row_id": row_id, **values})


def next_for(db: Any, recipient: str, channel: str) -> Any:
    """A customer's oldest unsent row, or None."""
    return db.execute(_NEXT_FOR, {"r": recipient, "c": channel}).first()


def received_at(db: Any, inbound_id: int) -> datetime | None:
    """When an inbound message was stored."""
    return db.execute(_RECEIVED_AT, {"row_id": inbound_id}).scalar_one_or_none()


def known_provider_refs(channel: str, recipient: str) -> set[str]:
    """Provider ids our outbox already owns for a recipient."""
    with read_session() as db:
        return set(db.execute(
            select(OutboundMessage.provider_ref)
            .where(OutboundMessage.channel == channel, OutboundMessage.recipient == recipient,
                   OutboundMessage.provider_ref.is_not(None))
        ).scalars())


def write_delivery_status(provider_ref: str, status: str) -> bool:
    """A provider's status for one sent row (False: no row has that provider id)."""
    with transaction() as db:
        return bool(db.execute(_DELIVERY_STATUS,
                               {"ref": provider_ref, "new_status": status[:32]}).rowcount)


def write_delivery_statuses(statuses: dict[str, str]) -> None:
    """Provider statuses for many rows at once (provider id -> status)."""
    with transaction() as db:
        db.execute(_DELIVERY_STATUS, [{"ref": ref, "new_status": status}
                                      for ref, status in statuses.items()])


def in_flight(claimed_before: datetime | None) -> list[OutboundMessage]:
    """Rows being sent: all, or those whose claim expired before ``claimed_before``."""
    query = select(OutboundMessage).where(OutboundMessage.status == "sending")
    if claimed_before is not None:
        query = query.where(OutboundMessage.next_attempt_at < claimed_before)
    with read_session() as db:
        return list(db.execute(query).scalars().all())


def settle(row_id: int, values: dict[str, Any]) -> None:
    """Resolve an interrupted send (unless someone settled it meanwhile)."""
    with session() as db:
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == row_id, OutboundMessage.status == "sending")
            .values(**values)
        )


async def checkpoint_loop() -> None:
    """Checkpoint the database's write-ahead log every five seconds, off the acknowledgement
    path."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(5)
        try:
            await loop.run_in_executor(None, checkpoint)
        except Exception:  # a busy database: next time
            logger.debug("checkpoint skipped", exc_info=True)
