"""The engine both messaging channels share: accept → store → process in order → reply → send.

1. A webhook calls :meth:`ChannelRuntime.accept`: the message is written to the durable inbox
   (deduplicated by the provider's id) *before* the webhook answers, and processing is scheduled.
2. Messages of one customer are processed strictly in order (one at a time); different customers
   run concurrently. The Rasa agent answers into a collecting output channel.
3. Replies are rendered (numbered options), split within the channel's limit, and written to the
   durable outbox with a key per inbound message and position, so reprocessing never duplicates.
   A bubble's options row is a "choices" row on a channel that offers taps (its adapter sends
   buttons or a menu, the numbered text as the fallback); a tap chooses the remembered option.
4. The send loop delivers each customer's replies in order, retrying 429/5xx/timeouts with
   backoff; a crash mid-send is reconciled with the provider on restart before anything is resent.
On start, pending inbox and outbox rows are resumed: a restarted instance loses nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import random
import threading
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy import func as sa_func
from sqlalchemy.exc import IntegrityError

from bot import metrics, responses
from bot.db import (
    Base,
    engine,
    insert_ignoring_duplicates,
    read_connection,
    read_session,
    session,
    transaction,
)
from bot.events import EventBus
from channels.core.lease import Leases, LeaseUnavailable, leases_from_env
from channels.core.models import Contact, InboundMessage, OutboundMessage
from channels.core.openings import opening
from channels.core.ratelimit import RateLimiter
from channels.core.text import Outgoing, as_text, chosen_option, render, split, tapped_option
from channels.core.web_first import WebFirst

logger = logging.getLogger(__name__)
# A provider that keeps failing (5xx, 429, timeouts) delays a reply but never loses it: it is
# retried with capped backoff until it is this old, then reported failed to the staff console
# (WhatsApp's own 24-hour window makes an older free-form reply undeliverable anyway).
GIVE_UP_AFTER = timedelta(hours=24)
MAX_BACKOFF_SECONDS = float(os.environ.get("SMO_SEND_MAX_BACKOFF_SECONDS", 30))
# A send claimed this long ago and still "sending" belongs to an instance that died mid-send.
SEND_CLAIM_SECONDS = 15.0
# Unanswered messages older than this with no worker here are picked up by the sweep (another
# instance died holding them, or this one restarted).
ORPHAN_AFTER_SECONDS = 3.0


@dataclass(frozen=True)
class SendResult:
    """What the provider said about one send."""

    status: str  # "sent", "retry", "held", "failed"
    provider_ref: str | None = None
    retry_after: float | None = None
    error: str | None = None


class ChannelAdapter(Protocol):
    """The provider-specific part of a channel."""

    name: str
    limit: int

    def measure(self, text: str) -> int:
        """Length as the provider counts it."""

    async def send(self, row: OutboundMessage) -> SendResult:
        """Deliver one outbox row."""

    async def reconcile(self, row: OutboundMessage) -> str | None:
        """After a crash mid-send: the provider's id for this row if it already accepted it."""

    def window_open(self, contact: Contact | None, now: datetime) -> bool:
        """Whether free-form messages may be sent to this contact now."""


def _now() -> datetime:
    return datetime.utcnow()


def notice(response: str, language: str | None) -> Outgoing:
    """A domain response (outside the dialogue) as one bubble, in the conversation's language."""
    return render([responses.message(response, language)], language)[0]


_INBOX, _OUTBOX, _CONTACTS = (InboundMessage.__table__, OutboundMessage.__table__,
                              Contact.__table__)
# The acknowledgement path's statements, built once: SQLAlchemy memoises a statement's cache key
# on the statement object, so re-using it skips rebuilding the key on every webhook.
_INSERT_INBOUND = _INBOX.insert()
_TOUCH_CONTACT = (update(_CONTACTS)
                  .where(_CONTACTS.c.channel == bindparam("c"),
                         _CONTACTS.c.sender == bindparam("s"))
                  .values(last_inbound_at=bindparam("t")))
_RELEASE_HELD = (update(_OUTBOX)
                 .where(_OUTBOX.c.channel == bindparam("c"), _OUTBOX.c.recipient == bindparam("r"),
                        _OUTBOX.c.status == "held")
                 .values(status="pending", next_attempt_at=bindparam("t")))
_GOOD_NEWS = {"delivered": 1, "read": 2}  # statuses written in batches, in the order they rank
_DELIVERY_STATUS = (update(_OUTBOX).where(_OUTBOX.c.provider_ref == bindparam("ref"))
                    .values(delivery_status=bindparam("new_status")))
# The answering and sending paths' statements, built once for the same reason (each message runs
# each of them once or twice; building them anew was a third of the gateway's time per message).
# Rows, not ORM objects, for the answering path's reads (loading the objects cost more than
# the queries).
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
# The oldest unsent row of each recipient (order per customer is kept by sending only heads),
# worked out by the database: during a burst hundreds of rows wait, and reading them all on
# every pass held the database lock that acknowledgements wait for. Rows, not ORM objects: the
# send loop reads them and never changes them.
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


def _options_of(bubbles: list[Outgoing]) -> list[list[str]]:
    """The numbered options of the last bubble that has any (what "1", "2" will mean next)."""
    return next((list(map(list, b.options)) for b in reversed(bubbles) if b.options), [])


def _pieces(bubbles: list[Outgoing], adapter: Any, kind: str, status: str
            ) -> list[tuple[str, str]]:
    """(text, kind) of each outbox row: bubbles split to the channel's limit. The piece that
    ends with a bubble's numbered options is a "choices" row on a channel that can offer taps
    (``offers_choices``): its adapter sends them as buttons, the text being the fallback. (A
    passive reply, in the webhook's response, can only be the text.)"""
    taps = (kind == "text" and status != "passive"
            and getattr(adapter, "offers_choices", False))
    pieces: list[tuple[str, str]] = []
    for bubble in bubbles:
        cut = split(bubble.text, adapter.limit, adapter.measure)
        pieces.extend((piece, kind) for piece in cut[:-1])
        if cut:
            pieces.append((cut[-1], "choices" if taps and bubble.options else kind))
    return pieces


def _is_emergency(row: Any) -> bool:
    """Whether a message describes an emergency: it is answered (999 / 120) even over the rate
    limit. Someone in trouble types fast; the limit protects the model from floods, not from
    them. The same screening the core's emergency guard runs (no model: the lexicons)."""
    from bot.screening import screen

    return row.kind == "text" and screen(row.text or "").category == "emergency"


def conversation_id(channel: str, sender: str) -> str:
    """Rasa's sender id: one conversation per channel identity."""
    return sender if sender.startswith(f"{channel}:") else f"{channel}:{sender}"


class ChannelRuntime:
    """Shared inbox/outbox processing for all provider channels of one server."""

    def __init__(self, core: Any, bus: EventBus, limiter: RateLimiter | None = None) -> None:
        Base.metadata.create_all(engine())
        self.core = core  # bot.core_client.CoreClient: the model runs in another process
        self.bus = bus
        self.limiter = limiter or RateLimiter.from_env()
        self.adapters: dict[str, ChannelAdapter] = {}
        self.leases: Leases = leases_from_env()
        # The gateway marks message webhooks open and closed; answering and sending let them
        # finish before each next step (channels/core/web_first.py).
        self.web_first = WebFirst()
        self._workers: dict[tuple[str, str], asyncio.Task] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._deliveries: dict[str, str] = {}  # provider ref -> status, written in batches
        self._delivery_flush: asyncio.Task | None = None
        self._waiters: dict[int, concurrent.futures.Future] = {}
        # Messages stored by the web thread, waiting to be given a worker (see ``accept``).
        self._arrived: deque[tuple[str, str]] = deque()
        self._taking = False  # a _take_arrivals is scheduled or waiting
        self._kick: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        # Processing and sending run on their own loop in a background thread: the web loop
        # only stores and acknowledges, so a burst of answers never delays an acknowledgement.
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def register(self, adapter: ChannelAdapter) -> None:
        """Add a provider channel."""
        self.adapters[adapter.name] = adapter

    def start(self) -> None:
        """Start the worker loop, resume unfinished work and the send loop (idempotent)."""
        if self._started:
            return
        self._started = True
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            self._kick = asyncio.Event()
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, name="channel-runtime", daemon=True).start()
        ready.wait()
        self._loop = loop
        # A take the last stop cancelled may not have run its cleanup: start afresh, and give
        # what arrived meanwhile its workers (recovery would find those messages too).
        self._taking = bool(self._arrived)
        if self._taking:
            self._call(self._spawn, self._take_arrivals())
        self._call(self._spawn, self._recover_then_send())
        self._call(self._spawn, self._checkpoint_loop())
        self._call(self._spawn, self._sweep_loop())

    def stop(self) -> None:
        """Stop the worker loop (unfinished rows stay durable for the next start)."""
        loop, self._loop = self._loop, None
        if loop is None:
            return

        def halt() -> None:
            for task in list(self._tasks):
                task.cancel()
            loop.stop()

        loop.call_soon_threadsafe(halt)
        self._started = False

    def _call(self, function: Any, *args: Any) -> None:
        """Run ``function(*args)`` on the worker loop, from any thread."""
        assert self._loop is not None, "ChannelRuntime.start() first"
        self._loop.call_soon_threadsafe(function, *args)

    def _kick_now(self) -> None:
        """Wake the send loop (thread-safe)."""
        if self._loop is not None and self._kick is not None:
            self._loop.call_soon_threadsafe(self._kick.set)

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task:
        """A task on the worker loop (call on the worker loop)."""
        task = asyncio.ensure_future(coroutine, loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- inbound ---------------------------------------------------------------------------
    def accept(
        self,
        channel: str,
        provider_id: str,
        sender: str,
        kind: str,
        text: str,
        payload: dict[str, Any] | None = None,
        *,
        want_reply: bool = False,
    ) -> tuple[int, bool]:
        """Store an inbound message durably; (inbox id, False) if it is a retry of one we have.

        ``want_reply``: the webhook will wait for the reply (``reply_future``) to answer passively.
        """
        now = _now()
        # Over the rate limit: still stored and logged in the transcript, answered once politely.
        status = "pending" if self.limiter.allow(f"{channel}:{sender}") else "limited"
        values = {
            "channel": channel, "provider_id": provider_id, "sender": sender, "kind": kind,
            # NUL cannot be stored in PostgreSQL text and means nothing in a chat.
            "text": (text or "").replace("\x00", ""), "payload": payload or {},
            "status": status, "attempts": 0, "received_at": now,
        }
        # One short transaction (the acknowledgement waits for it): the message, the contact's
        # window, and replies held for this customer released.
        try:
            with transaction() as db:
                inbound_id = db.execute(_INSERT_INBOUND, values).inserted_primary_key[0]
                self._touch_contact(db, channel, sender, now)
                released = db.execute(_RELEASE_HELD, {"c": channel, "r": sender, "t": now}
                                      ).rowcount
        except IntegrityError:
            with read_session() as db:
                existing = db.execute(
                    select(InboundMessage.id).where(
                        InboundMessage.channel == channel, InboundMessage.provider_id == provider_id
                    )
                ).scalar_one()
            return existing, False
        if released:
            self._kick_now()
        metrics.MESSAGES_IN.labels(channel).inc()
        if want_reply:
            self._waiters[inbound_id] = concurrent.futures.Future()
        # The runtime's thread is woken once per run of arrivals, not once per message: in a
        # burst each wake-up took the interpreter lock from the web thread (measured: 13 % less
        # gateway CPU per acknowledgement in a burst of 300).
        self._arrived.append((channel, sender))
        if not self._taking:
            self._taking = True
            self._call(self._spawn, self._take_arrivals())
        return inbound_id, True

    async def _take_arrivals(self) -> None:
        """Give this run of arrivals their workers, in arrival order, once webhooks are done
        (on the worker loop). ``_taking`` is cleared before the queue is read: a message stored
        after that wakes us again, one stored before it is in the queue."""
        try:
            await self.web_first.wait()
        finally:  # cancelled (the runtime stopping): the next arrival or start() takes them
            self._taking = False
        while self._arrived:
            self._schedule(*self._arrived.popleft())

    def _schedule(self, channel: str, sender: str) -> None:
        """Make sure this customer has a worker here (call on the worker loop)."""
        key = (channel, sender)
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = self._spawn(self._drain(channel, sender))
        else:
            self._dirty.add(key)  # the running worker looks again before it stops

    async def _drain(self, channel: str, sender: str) -> None:
        """Answer the customer's unanswered messages, oldest first, one at a time."""
        key = (channel, sender)
        try:
            while True:
                self._dirty.discard(key)
                outcome = await self._process_next(channel, sender)
                if outcome == "retry":
                    return  # _retry_later schedules us again; later messages wait their turn
                if outcome == "idle" and key not in self._dirty:
                    return
        finally:
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]

    def _oldest_unanswered(self, channel: str, sender: str) -> tuple[Any, Any]:
        """The customer's oldest unanswered message and their contact state, in one read
        (rows with the models' attribute names)."""
        with read_connection() as db:
            row = db.execute(_OLDEST_UNANSWERED, {"c": channel, "s": sender}).first()
            if row is None:
                return None, None
            return row, db.execute(_CONTACT_STATE, {"c": channel, "s": sender}).first()

    @staticmethod
    def _touch_contact(db: Any, channel: str, sender: str, now: datetime) -> None:
        """Record when the customer last wrote (their messaging window), creating the contact."""
        touched = db.execute(_TOUCH_CONTACT, {"c": channel, "s": sender, "t": now}).rowcount
        if not touched:
            insert_ignoring_duplicates(db, _CONTACTS, [{
                "channel": channel, "sender": sender, "last_inbound_at": now, "options": [],
                "subscribed": 1}])

    def contact(self, channel: str, sender: str) -> Any:
        """Per-contact state (window, options): a row with :class:`Contact`'s columns, read as
        the answering path reads it, or None."""
        with read_connection() as db:
            return db.execute(_CONTACT_STATE, {"c": channel, "s": sender}).first()

    def set_subscribed(self, channel: str, sender: str, subscribed: bool) -> None:
        """Record a WeChat follow/unfollow."""
        with session() as db:
            self._touch_contact(db, channel, sender, _now())
            db.flush()
            db.execute(
                update(Contact)
                .where(Contact.channel == channel, Contact.sender == sender)
                .values(subscribed=int(subscribed))
            )

    def reply_future(self, inbound_id: int) -> concurrent.futures.Future | None:
        """The future processing fulfils with the reply text (``accept(want_reply=True)``)."""
        return self._waiters.get(inbound_id)

    def give_up_waiting(self, inbound_id: int) -> None:
        """The webhook answered without the reply; it will be sent by the send loop."""
        future = self._waiters.pop(inbound_id, None)
        if future is not None and not future.done():
            future.cancel()

    async def _rate_limited(self, row: Any, cid: str) -> None:
        """Record the message in the transcript (nothing is lost) and answer politely once."""
        _, language = await self.core.handle(
            cid, as_text(row.text), row.channel, f"{row.channel}:{row.id}", log_only=True
        )
        bubbles: list[Outgoing] = []
        if self.limiter.first_refusal(f"{row.channel}:{row.sender}"):
            bubbles = [notice("utter_rate_limited", language)]
        with transaction() as db:
            self._enqueue(row.channel, row.sender, bubbles, f"in:{row.id}", db=db)
            self._finish(row.id, "rate_limited", db=db)

    def _finish(self, inbound_id: int, status: str, db: Any = None) -> None:
        values = {"row_id": inbound_id, "new_status": status, "t": _now()}
        if db is not None:
            db.execute(_FINISH, values)
            return
        with transaction() as own:
            own.execute(_FINISH, values)

    async def _process_next(self, channel: str, sender: str) -> str:
        """Answer the customer's oldest unanswered message: "done", "idle" or "retry"."""
        cid = conversation_id(channel, sender)
        # Webhooks first here too: the model's work competes with acknowledgements for the CPU
        # (measured: it kept answering through a burst of 300 webhooks and they waited for it).
        await self.web_first.wait()
        try:
            async with self.leases.hold(cid):
                row, contact = self._oldest_unanswered(channel, sender)
                if row is None:
                    return "idle"
                try:
                    if row.status == "limited" and not _is_emergency(row):
                        await self._rate_limited(row, cid)
                    else:
                        await self._reply(row, cid, contact)
                except Exception as exc:  # core down or a bug: retry later, never drop it
                    attempts = self._count_attempt(row.id)
                    logger.warning("inbound %s not answered yet (%s); retry %s",
                                   row.id, type(exc).__name__, attempts)
                    self._spawn(self._retry_later(channel, sender, attempts))
                    return "retry"
        except LeaseUnavailable:  # another instance is busy with this customer for long
            self._spawn(self._retry_later(channel, sender, 1))
            return "retry"
        await self.bus.publish("message", {"conversation": cid, "channel": channel})
        self._kick_now()
        return "done"

    async def _reply(self, row: Any, cid: str, contact: Any) -> None:
        """Answer one message and queue the reply (passively, if its webhook is still waiting).

        Everything the answer changes is written in one transaction: the reply's outbox rows,
        the numbered options and language to remember, and the message marked answered.
        """
        bubbles, options, language = await self._answer(row, cid, contact)
        await self.web_first.wait()
        waiter = self._waiters.pop(row.id, None)
        adapter = self.adapters[row.channel]
        combined = "\n\n".join(b.text for b in bubbles)
        fits = adapter.measure(combined) <= adapter.limit
        passive = waiter is not None and not waiter.done() and fits
        with transaction() as db:
            if passive:  # the webhook is still waiting: the reply goes back in its response
                self._enqueue(row.channel, row.sender, [Outgoing(combined)], f"in:{row.id}",
                              status="passive", db=db)
            else:
                self._enqueue(row.channel, row.sender, bubbles, f"in:{row.id}", db=db)
            if options is not None:
                db.execute(_REMEMBER_OPTIONS, {"c": row.channel, "s": row.sender, "o": options,
                                               "l": language})
            self._finish(row.id, "done", db=db)
        if passive:  # it leaves in the webhook's response: count it as the send loop would
            metrics.MESSAGES_OUT.labels(row.channel).inc()
            metrics.LATENCY.labels(row.channel).observe(
                max((_now() - row.received_at).total_seconds(), 0.0))
        if waiter is not None and not waiter.done():
            waiter.set_result(combined if passive else None)

    def _count_attempt(self, inbound_id: int) -> int:
        with session() as db:
            db.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id)
                .values(attempts=InboundMessage.attempts + 1)
            )
            return db.get(InboundMessage, inbound_id).attempts

    async def _retry_later(self, channel: str, sender: str, attempts: int) -> None:
        await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempts, 6)))
        self._schedule(channel, sender)

    async def _answer(self, row: Any, cid: str, contact: Any
                      ) -> tuple[list[Outgoing], list[list[str]] | None, str | None]:
        """The reply's bubbles, the numbered options to remember (None: keep) and language
        (``contact``: the customer's state as read with the message)."""
        message_id = f"{row.channel}:{row.id}"
        if row.kind in ("media", "location"):
            return await self._answer_attachment(row, cid), None, None
        if row.kind == "event":  # a new follower or a menu click: the welcome and the choices
            language = contact.language if contact else None
            bubbles = render([responses.message(opening(row.payload, language), language)],
                             language)
            return bubbles, _options_of(bubbles), language
        remembered = contact.options if contact else None
        choice = str((row.payload or {}).get("choice") or "")
        chosen = (tapped_option(choice, row.text, remembered) if choice
                  else chosen_option(row.text, remembered))
        metadata: dict[str, Any] = {"kind": row.kind}
        if chosen:  # the transcript shows staff what was typed and what it chose, not a payload
            metadata.update(typed=row.text, option=chosen[0])
        messages, language = await self.core.handle(
            cid, chosen[1] if chosen else as_text(row.text), row.channel, message_id, metadata
        )
        bubbles = render(messages, language)
        return bubbles, _options_of(bubbles), language

    async def _answer_attachment(self, row: Any, cid: str) -> list[Outgoing]:
        """Media and locations: kept on the case by reference, acknowledged, a text asked for.

        The reference (provider URL and type), never the content, goes on the open case; the
        transcript records that something was sent; a caption is processed as ordinary text.
        """
        from bot.cases import store as cases

        message_id = f"{row.channel}:{row.id}"
        attachments = row.payload.get("media") or []
        if row.kind == "location":
            attachments = [{"type": "location", "coordinates": row.payload.get("location")}]
        attached = [cases.add_media(cid, {**reference, "received_at": row.received_at.isoformat()})
                    for reference in attachments]
        # Only say it is on the case when it is: with no open case no nurse would see it.
        on_case = bool(attached) and all(case is not None for case in attached)
        kind = "location" if row.kind == "location" else "media"
        received = {("media", True): "utter_media_received",
                    ("media", False): "utter_media_received_no_case",
                    ("location", True): "utter_location_received",
                    ("location", False): "utter_location_received_no_case"}[(kind, on_case)]
        label = ", ".join(str(a.get("type") or "file") for a in attachments) or row.kind
        caption = row.text.strip()
        messages, language = await self.core.handle(
            cid,
            as_text(caption) if caption else f"[{label}]",
            row.channel,
            message_id,
            {"kind": row.kind},
            log_only=not caption,
        )
        return [notice(received, language), *render(messages, language)]

    # ---- outbound --------------------------------------------------------------------------
    def _enqueue(
        self,
        channel: str,
        recipient: str,
        bubbles: list[Outgoing],
        key: str,
        *,
        status: str = "pending",
        kind: str = "text",
        db: Any = None,
    ) -> None:
        """Outbox rows for the bubbles, split to the channel's limit. Keyed per message and
        position: a row already queued by an earlier attempt is never queued twice."""
        adapter = self.adapters[channel]
        pieces = _pieces(bubbles, adapter, kind, status)
        now = _now()
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

    def enqueue_text(
        self,
        channel: str,
        recipient: str,
        text: str,
        key: str,
        *,
        kind: str = "text",
        held: bool = False,
    ) -> None:
        """Queue a message written outside the dialogue (a nurse's reply, a notice)."""
        self._enqueue(
            channel,
            recipient,
            [Outgoing(text)],
            key,
            status="held" if held else "pending",
            kind=kind,
        )
        self._kick_now()

    async def _recover_then_send(self) -> None:
        """Recovery finishes before the send loop starts, so no in-flight row is touched twice."""
        await self._recover()
        await self._send_loop()

    async def _checkpoint_loop(self) -> None:
        """Checkpoint the database's write-ahead log off the acknowledgement path."""
        from bot.db import checkpoint

        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(5)
            try:
                await loop.run_in_executor(None, checkpoint)
            except Exception:  # a busy database: next time
                logger.debug("checkpoint skipped", exc_info=True)

    async def _send_loop(self) -> None:
        while True:
            self._kick.clear()  # type: ignore[union-attr]  # before sending: keep later kicks
            try:
                await self._send_due()
            except Exception:  # never let the loop die; rows stay pending and are retried
                logger.exception("send loop iteration failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=0.5)  # type: ignore[union-attr]

    async def _send_due(self) -> None:
        now = _now()
        with read_session() as db:
            heads = db.execute(_UNSENT_HEADS).all()
        # A head being sent (here or by another instance) holds back that customer's next row.
        due = [row for row in heads if row.status == "pending" and row.next_attempt_at <= now]
        if due:
            await asyncio.gather(*(self._send_customer(row) for row in due))
            self._kick_now()

    async def _send_customer(self, row: Any) -> None:
        """Send ``row``, then the same customer's next rows while each is due at once (a reply of
        several bubbles leaves in one go; order per customer is kept, as only heads are sent).
        Each bubble's result is recorded in the transaction that claims the next one."""
        if row.channel not in self.adapters:
            return
        await self.web_first.wait()
        with transaction() as db:
            if not self._claim(db, row):
                return  # another loop or instance has it
        while row is not None:
            row = await self._send_claimed(row)

    @staticmethod
    def _claim(db: Any, row: Any) -> bool:
        """Mark ``row`` as being sent by us (False if another loop or instance has it)."""
        return bool(db.execute(_CLAIM, {
            "row_id": row.id, "expires": _now() + timedelta(seconds=SEND_CLAIM_SECONDS)}
        ).rowcount)

    async def _send_claimed(self, row: Any) -> Any:
        """Send one claimed row and record the result; the customer's next row, claimed, if it
        is due now and this one went out."""
        adapter = self.adapters[row.channel]
        if (row.error or "").startswith("network:"):
            # The last attempt timed out or lost its connection: the provider may have the
            # message already. Ask before sending again, so a slow provider never gets it twice.
            ref = None
            with contextlib.suppress(Exception):
                ref = await adapter.reconcile(row)
            if ref:
                return await self._record(row, SendResult("sent", provider_ref=ref))
        try:
            result = await adapter.send(row)
        except Exception as exc:  # a bug or an unexpected client error: retry, do not lose
            logger.exception("send of outbox row %s raised", row.id)
            result = SendResult("retry", error=type(exc).__name__)
        await self.web_first.wait()
        return await self._record(row, result)

    async def _record(self, row: Any, result: SendResult) -> Any:
        """Write what the provider said; after a successful send, claim and return the same
        customer's next row if it is due now (None otherwise)."""
        now = _now()
        values: dict[str, Any] = {"error": (result.error or "")[:400] or None}
        if result.status != "sent":
            metrics.PROVIDER_ERRORS.labels(row.channel, result.status).inc()
        if result.status == "sent":
            values.update(status="sent", sent_at=now, provider_ref=result.provider_ref)
            metrics.MESSAGES_OUT.labels(row.channel).inc()
        elif result.status == "held":
            values.update(status="held")
            await self.bus.publish(
                "delivery", {"recipient": row.recipient, "status": "held", "error": result.error}
            )
        elif result.status == "retry" and now - row.created_at < GIVE_UP_AFTER:
            delay = result.retry_after or min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(row.attempts, 8))
            values.update(
                status="pending",
                next_attempt_at=now + timedelta(seconds=delay * random.uniform(1, 1.2)),
            )
        else:
            values.update(status="failed")
            await self.bus.publish(
                "delivery", {"recipient": row.recipient, "status": "failed", "error": result.error}
            )
        with transaction() as db:
            db.execute(_RECORD, {"row_id": row.id, **values})
            if values["status"] != "sent":
                return None
            self._observe_latency(db, row)
            after = db.execute(_NEXT_FOR, {"r": row.recipient, "c": row.channel}).first()
            if (after is None or after.status != "pending" or after.next_attempt_at > now
                    or not self._claim(db, after)):
                return None
            return after

    @staticmethod
    def _observe_latency(db: Any, row: OutboundMessage) -> None:
        """Reply latency for the first bubble answering an inbound message (key ``in:<id>:0``)."""
        if not row.dedup_key.startswith("in:") or not row.dedup_key.endswith(":0"):
            return
        received = db.execute(_RECEIVED_AT, {"row_id": int(row.dedup_key.split(":")[1])}
                              ).scalar_one_or_none()
        if received is not None:
            seconds = (_now() - received).total_seconds()
            metrics.LATENCY.labels(row.channel).observe(max(seconds, 0.0))

    def known_provider_refs(self, channel: str, recipient: str) -> set[str]:
        """Provider ids our outbox already owns for a recipient (for reconciliation)."""
        with read_session() as db:
            return set(db.execute(
                select(OutboundMessage.provider_ref)
                .where(OutboundMessage.channel == channel, OutboundMessage.recipient == recipient,
                       OutboundMessage.provider_ref.is_not(None))
            ).scalars())

    def record_delivery_status(self, provider_ref: str, status: str) -> bool:
        """A provider's status callback. Only what the outbox does not know yet is written:
        delivered, read, undelivered, failed ("queued"/"sent" are what our send already
        recorded), so two of every bubble's callbacks cost no database write."""
        if status in ("accepted", "queued", "sending", "sent", "scheduled"):
            return True
        if status in _GOOD_NEWS and self._loop is not None:
            # "delivered" and "read" change nothing anyone waits for: written in batches by the
            # runtime, off the webhook's path. Failures are written at once (staff see them).
            self._call(self._note_delivery, provider_ref, status)
            return True
        with transaction() as db:
            return bool(db.execute(_DELIVERY_STATUS,
                                   {"ref": provider_ref, "new_status": status[:32]}).rowcount)

    def _note_delivery(self, provider_ref: str, status: str) -> None:
        """Remember a good-news status for the next batch (on the worker loop)."""
        known = self._deliveries.get(provider_ref)
        if known is None or _GOOD_NEWS[status] >= _GOOD_NEWS[known]:
            self._deliveries[provider_ref] = status
        if self._delivery_flush is None or self._delivery_flush.done():
            self._delivery_flush = self._spawn(self._flush_deliveries())

    async def _flush_deliveries(self) -> None:
        await asyncio.sleep(0.5)
        batch, self._deliveries = self._deliveries, {}
        if batch:
            with transaction() as db:
                db.execute(_DELIVERY_STATUS, [{"ref": ref, "new_status": status}
                                              for ref, status in batch.items()])

    # ---- recovery ----------------------------------------------------------------------------
    async def _recover(self) -> None:
        """On start: settle sends a previous run left in flight, then resume unanswered messages.

        Embedded, this instance is the only one, so every "sending" row is its own and is settled
        at once. Shared, only claims past their expiry are (the others belong to live instances).
        """
        from bot import stores

        await self._settle_sends(all_claims=stores.redis_url() is None)
        self._resume_unanswered(min_age=0.0)
        self._kick_now()

    async def _sweep_loop(self) -> None:
        """Now and then: take over what a dead instance left (claims expired, messages waiting)."""
        while True:
            await asyncio.sleep(ORPHAN_AFTER_SECONDS)
            try:
                await self._settle_sends(all_claims=False)
                self._resume_unanswered(min_age=ORPHAN_AFTER_SECONDS)
            except Exception:  # the database is briefly unavailable: next time
                logger.warning("sweep failed; retrying", exc_info=True)

    async def _settle_sends(self, *, all_claims: bool) -> None:
        """Ask the provider whether interrupted sends arrived: mark them sent, or send again."""
        query = select(OutboundMessage).where(OutboundMessage.status == "sending")
        if not all_claims:
            query = query.where(OutboundMessage.next_attempt_at < _now())
        with read_session() as db:
            in_flight = db.execute(query).scalars().all()
        for row in in_flight:
            adapter = self.adapters.get(row.channel)
            ref = None
            if adapter is not None:
                try:
                    ref = await adapter.reconcile(row)
                except Exception:
                    logger.exception("reconciling outbox row %s failed; it will be resent", row.id)
            values: dict[str, Any] = {"status": "pending", "next_attempt_at": _now()}
            if ref:
                values.update(status="sent", provider_ref=ref, sent_at=_now())
            with session() as db:
                db.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == row.id, OutboundMessage.status == "sending")
                    .values(**values)
                )
        if in_flight:
            self._kick_now()

    def _resume_unanswered(self, *, min_age: float) -> None:
        """Give every customer with unanswered messages (older than ``min_age``) a worker."""
        cutoff = _now() - timedelta(seconds=min_age)
        with read_session() as db:
            customers = db.execute(
                select(InboundMessage.channel, InboundMessage.sender)
                .where(InboundMessage.status.in_(("pending", "limited")),
                       InboundMessage.received_at <= cutoff)
                .distinct()
            ).all()
        for channel, sender in customers:
            if channel in self.adapters and (channel, sender) not in self._workers:
                self._schedule(channel, sender)
