"""The engine both messaging channels share: accept → store → process in order → reply → send.

1. A webhook calls :meth:`ChannelRuntime.accept`: the message is written to the durable inbox
   (deduplicated by the provider's id) *before* the webhook answers, and processing is scheduled.
2. Messages of one customer are processed strictly in order (one at a time); different customers
   run concurrently. The Rasa agent answers into a collecting output channel.
3. Replies are rendered (numbered options), split within the channel's limit, and written to the
   durable outbox with a key per inbound message and position, so reprocessing never duplicates.
4. The send loop delivers each customer's replies in order, retrying 429/5xx/timeouts with
   backoff; a crash mid-send is reconciled with the provider on restart before anything is resent.
On start, pending inbox and outbox rows are resumed: a restarted instance loses nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import random
import threading
from collections import defaultdict, deque
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot import metrics, responses
from bot.db import Base, engine, session
from bot.events import EventBus
from channels.core.models import Contact, InboundMessage, OutboundMessage
from channels.core.ratelimit import RateLimiter
from channels.core.text import Outgoing, as_text, choose_option, render, split

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


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

    async def reconcile(self, row: OutboundMessage) -> bool:
        """After a crash mid-send: did the provider already accept this row?"""

    def window_open(self, contact: Contact | None, now: datetime) -> bool:
        """Whether free-form messages may be sent to this contact now."""


def _now() -> datetime:
    return datetime.utcnow()


def notice(response: str, language: str | None) -> Outgoing:
    """A domain response (outside the dialogue) as one bubble, in the conversation's language."""
    return render([responses.message(response, language)], language)[0]


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
        self._sender_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._queues: dict[str, deque[int]] = defaultdict(deque)
        self._workers: dict[str, asyncio.Task] = {}
        self._waiters: dict[int, concurrent.futures.Future] = {}
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
        self._started_at = _now()  # recovery is for what came before; later rows are live
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
        self._call(self._spawn, self._recover_then_send())
        self._call(self._spawn, self._checkpoint_loop())

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
        try:
            with session() as db:
                row = InboundMessage(
                    channel=channel,
                    provider_id=provider_id,
                    sender=sender,
                    kind=kind,
                    text=text or "",
                    payload=payload or {},
                    status="pending",
                    received_at=now,
                )
                db.add(row)
                db.flush()
                inbound_id = row.id
                self._touch_contact(db, channel, sender, now)
        except IntegrityError:
            with session() as db:
                existing = db.execute(
                    select(InboundMessage.id).where(
                        InboundMessage.channel == channel, InboundMessage.provider_id == provider_id
                    )
                ).scalar_one()
            return existing, False
        self._release_held(channel, sender)
        metrics.MESSAGES_IN.labels(channel).inc()
        if want_reply:
            self._waiters[inbound_id] = concurrent.futures.Future()
        if self.limiter.allow(f"{channel}:{sender}"):
            self._call(self._schedule, conversation_id(channel, sender), inbound_id)
        else:
            self._call(self._spawn, self._rate_limited(inbound_id))
        return inbound_id, True

    def _schedule(self, cid: str, inbound_id: int) -> None:
        """Queue for the customer's single worker: strictly one message after another."""
        self._queues[cid].append(inbound_id)
        worker = self._workers.get(cid)
        if worker is None or worker.done():
            self._workers[cid] = self._spawn(self._drain(cid))

    async def _drain(self, cid: str) -> None:
        queue = self._queues[cid]
        while queue:
            await self._process(queue.popleft())
        self._workers.pop(cid, None)

    @staticmethod
    def _touch_contact(db: Any, channel: str, sender: str, now: datetime) -> None:
        contact = db.execute(
            select(Contact).where(Contact.channel == channel, Contact.sender == sender)
        ).scalar_one_or_none()
        if contact is None:
            db.add(Contact(channel=channel, sender=sender, last_inbound_at=now, options=[]))
        else:
            contact.last_inbound_at = now

    def contact(self, channel: str, sender: str) -> Contact | None:
        """Per-contact state (window, options)."""
        with session() as db:
            return db.execute(
                select(Contact).where(Contact.channel == channel, Contact.sender == sender)
            ).scalar_one_or_none()

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

    async def _rate_limited(self, inbound_id: int) -> None:
        """Record the message in the transcript (nothing is lost) and answer politely once."""
        row = self._inbound(inbound_id)
        cid = conversation_id(row.channel, row.sender)
        async with self._sender_locks[cid]:
            try:
                _, language = await self.core.handle(
                    cid, as_text(row.text), row.channel, f"{row.channel}:{row.id}", log_only=True
                )
            except Exception:  # the core is down: keep it pending, the recovery resumes it
                logger.warning("core unavailable; rate-limited message %s stays pending", row.id)
                return
            bubbles: list[Outgoing] = []
            if self.limiter.first_refusal(f"{row.channel}:{row.sender}"):
                bubbles = [notice("utter_rate_limited", language)]
            self._enqueue(row.channel, row.sender, bubbles, f"in:{row.id}")
            self._finish(row.id, "rate_limited")
        self._kick_now()

    def _inbound(self, inbound_id: int) -> InboundMessage:
        with session() as db:
            return db.get(InboundMessage, inbound_id)

    def _finish(self, inbound_id: int, status: str) -> None:
        with session() as db:
            db.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id)
                .values(status=status, processed_at=_now())
            )

    async def _process(self, inbound_id: int) -> None:
        row = self._inbound(inbound_id)
        if row is None or row.status != "pending":
            return
        cid = conversation_id(row.channel, row.sender)
        async with self._sender_locks[cid]:
            row = self._inbound(inbound_id)
            if row.status != "pending":
                return
            try:
                bubbles = await self._answer(row, cid)
            except Exception as exc:  # core down or a bug: retry later, never drop the message
                attempts = self._count_attempt(inbound_id)
                logger.warning(
                    "inbound %s not answered yet (%s); retry %s",
                    inbound_id,
                    type(exc).__name__,
                    attempts,
                )
                self._spawn(self._retry_later(cid, inbound_id, attempts))
                return
            waiter = self._waiters.pop(inbound_id, None)
            adapter = self.adapters[row.channel]
            combined = "\n\n".join(b.text for b in bubbles)
            fits = adapter.measure(combined) <= adapter.limit
            if waiter is not None and not waiter.done() and fits:
                # The webhook is still waiting: the reply goes back passively, in one message.
                self._enqueue(
                    row.channel, row.sender, [Outgoing(combined)], f"in:{row.id}", status="passive"
                )
                waiter.set_result(combined)
            else:
                self._enqueue(row.channel, row.sender, bubbles, f"in:{row.id}")
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            self._finish(row.id, "done")
        await self.bus.publish("message", {"conversation": cid, "channel": row.channel})
        self._kick_now()

    def _count_attempt(self, inbound_id: int) -> int:
        with session() as db:
            db.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id)
                .values(attempts=InboundMessage.attempts + 1)
            )
            return db.get(InboundMessage, inbound_id).attempts

    async def _retry_later(self, cid: str, inbound_id: int, attempts: int) -> None:
        await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempts, 6)))
        self._schedule(cid, inbound_id)

    async def _answer(self, row: InboundMessage, cid: str) -> list[Outgoing]:
        message_id = f"{row.channel}:{row.id}"
        if row.kind in ("media", "location"):
            return await self._answer_attachment(row, cid)
        if row.kind == "event":  # a new follower: the trilingual welcome and menu
            return self._welcome(row)
        contact = self.contact(row.channel, row.sender)
        payload = choose_option(row.text, contact.options if contact else None)
        messages, language = await self.core.handle(
            cid, payload or as_text(row.text), row.channel, message_id, {"kind": row.kind}
        )
        bubbles = render(messages, language)
        self._remember_options(row.channel, row.sender, bubbles, language)
        return bubbles

    def _welcome(self, row: InboundMessage) -> list[Outgoing]:
        bubbles = render([responses.message("utter_welcome_subscribe", None)], None)
        self._remember_options(row.channel, row.sender, bubbles, None)
        return bubbles

    async def _answer_attachment(self, row: InboundMessage, cid: str) -> list[Outgoing]:
        """Media and locations: kept on the case by reference, acknowledged, a text asked for.

        The reference (provider URL and type), never the content, goes on the open case; the
        transcript records that something was sent; a caption is processed as ordinary text.
        """
        from bot.cases import store as cases

        message_id = f"{row.channel}:{row.id}"
        attachments = row.payload.get("media") or []
        if row.kind == "location":
            attachments = [{"type": "location", "coordinates": row.payload.get("location")}]
        for reference in attachments:
            cases.add_media(cid, {**reference, "received_at": row.received_at.isoformat()})
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
        return [notice("utter_media_received", language), *render(messages, language)]

    @staticmethod
    def _remember_options(
        channel: str, sender: str, bubbles: list[Outgoing], language: str | None
    ) -> None:
        options = next((list(map(list, b.options)) for b in reversed(bubbles) if b.options), [])
        with session() as db:
            db.execute(
                update(Contact)
                .where(Contact.channel == channel, Contact.sender == sender)
                .values(options=options, language=language)
            )

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
    ) -> list[int]:
        adapter = self.adapters[channel]
        pieces = [p for b in bubbles for p in split(b.text, adapter.limit, adapter.measure)]
        ids: list[int] = []
        now = _now()
        for index, piece in enumerate(pieces):
            try:
                with session() as db:
                    row = OutboundMessage(
                        channel=channel,
                        recipient=recipient,
                        dedup_key=f"{key}:{index}",
                        kind=kind,
                        text=piece,
                        status=status,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        sent_at=now if status == "passive" else None,
                    )
                    db.add(row)
                    db.flush()
                    ids.append(row.id)
            except IntegrityError:  # already queued by an earlier attempt: never twice
                continue
        return ids

    def enqueue_text(
        self,
        channel: str,
        recipient: str,
        text: str,
        key: str,
        *,
        kind: str = "text",
        held: bool = False,
    ) -> list[int]:
        """Queue a message written outside the dialogue (a nurse's reply, a notice)."""
        ids = self._enqueue(
            channel,
            recipient,
            [Outgoing(text)],
            key,
            status="held" if held else "pending",
            kind=kind,
        )
        self._kick_now()
        return ids

    def _release_held(self, channel: str, sender: str) -> None:
        with session() as db:
            released = db.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.channel == channel,
                    OutboundMessage.recipient == sender,
                    OutboundMessage.status == "held",
                )
                .values(status="pending", next_attempt_at=_now())
            ).rowcount
        if released:
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
        with session() as db:
            rows = (
                db.execute(
                    select(OutboundMessage)
                    .where(OutboundMessage.status == "pending")
                    .order_by(OutboundMessage.id)
                )
                .scalars()
                .all()
            )
        heads: dict[tuple[str, str], OutboundMessage] = {}
        for row in rows:  # the first pending row of each recipient: order per customer is kept
            heads.setdefault((row.channel, row.recipient), row)
        due = [row for row in heads.values() if row.next_attempt_at <= now]
        if due:
            await asyncio.gather(*(self._send_one(row) for row in due))
            self._kick_now()

    async def _send_one(self, row: OutboundMessage) -> None:
        adapter = self.adapters.get(row.channel)
        if adapter is None:
            return
        with session() as db:
            claimed = db.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id == row.id, OutboundMessage.status == "pending")
                .values(status="sending", attempts=OutboundMessage.attempts + 1)
            ).rowcount
        if not claimed:
            return
        try:
            result = await adapter.send(row)
        except Exception as exc:  # a bug or an unexpected client error: retry, do not lose
            logger.exception("send of outbox row %s raised", row.id)
            result = SendResult("retry", error=type(exc).__name__)
        await self._record(row, result)

    async def _record(self, row: OutboundMessage, result: SendResult) -> None:
        now = _now()
        values: dict[str, Any] = {"error": (result.error or "")[:400] or None}
        if result.status != "sent":
            metrics.PROVIDER_ERRORS.labels(row.channel, result.status).inc()
        if result.status == "sent":
            values.update(status="sent", sent_at=now, provider_ref=result.provider_ref)
            metrics.MESSAGES_OUT.labels(row.channel).inc()
            self._observe_latency(row)
        elif result.status == "held":
            values.update(status="held")
            await self.bus.publish(
                "delivery", {"recipient": row.recipient, "status": "held", "error": result.error}
            )
        elif result.status == "retry" and row.attempts + 1 < MAX_ATTEMPTS:
            delay = result.retry_after or min(60.0, 0.5 * 2**row.attempts)
            values.update(
                status="pending",
                next_attempt_at=now + timedelta(seconds=delay * random.uniform(1, 1.2)),
            )
        else:
            values.update(status="failed")
            await self.bus.publish(
                "delivery", {"recipient": row.recipient, "status": "failed", "error": result.error}
            )
        with session() as db:
            db.execute(update(OutboundMessage).where(OutboundMessage.id == row.id).values(**values))

    @staticmethod
    def _observe_latency(row: OutboundMessage) -> None:
        """Reply latency for the first bubble answering an inbound message (key ``in:<id>:0``)."""
        if not row.dedup_key.startswith("in:") or not row.dedup_key.endswith(":0"):
            return
        with session() as db:
            inbound = db.get(InboundMessage, int(row.dedup_key.split(":")[1]))
        if inbound is not None:
            seconds = (_now() - inbound.received_at).total_seconds()
            metrics.LATENCY.labels(row.channel).observe(max(seconds, 0.0))

    def record_delivery_status(self, provider_ref: str, status: str) -> bool:
        """A provider's status callback (sent, delivered, read, failed)."""
        with session() as db:
            return bool(
                db.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.provider_ref == provider_ref)
                    .values(delivery_status=status[:32])
                ).rowcount
            )

    # ---- recovery --------------------------------------------------------------------------
    async def _recover(self) -> None:
        """Resume what a previous run left: sends in flight, then unprocessed messages."""
        with session() as db:
            in_flight = (
                db.execute(select(OutboundMessage).where(OutboundMessage.status == "sending"))
                .scalars()
                .all()
            )
            pending = (
                db.execute(
                    select(InboundMessage.id)
                    .where(
                        InboundMessage.status == "pending",
                        InboundMessage.received_at < self._started_at,
                    )
                    .order_by(InboundMessage.id)
                )
                .scalars()
                .all()
            )
        for row in in_flight:
            adapter = self.adapters.get(row.channel)
            delivered = False
            if adapter is not None:
                try:
                    delivered = await adapter.reconcile(row)
                except Exception:
                    logger.exception("reconciling outbox row %s failed; it will be resent", row.id)
            with session() as db:
                db.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == row.id)
                    .values(status="sent" if delivered else "pending", next_attempt_at=_now())
                )
        for inbound_id in pending:
            row = self._inbound(inbound_id)
            self._schedule(conversation_id(row.channel, row.sender), inbound_id)
        self._kick_now()
