"""Sending: the outbox's rows delivered to the provider, each customer's in order.

Replies are split within the channel's limit and written to the outbox with a key per inbound
message and position, so reprocessing never duplicates (:func:`queue_bubbles`). The send loop
(:class:`Sender`) sends only the oldest unsent row of each customer, so order per customer holds
across instances; a reply of several bubbles leaves in one go. 429, 5xx and timeouts are retried
with backoff (``channels.core.backoff``) until a reply is :data:`GIVE_UP_AFTER` old; a send that
timed out is first reconciled with the provider, so a slow provider never gets a message twice.
Delivery statuses from the provider are recorded here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot import metrics
from bot.db import transaction
from bot.events import EventBus
from channels.core import store
from channels.core.adapter import ChannelAdapter, SendResult
from channels.core.backoff import backoff_seconds
from channels.core.text import Outgoing, split
from channels.core.web_first import WebFirst

logger = logging.getLogger(__name__)
# A provider that keeps failing (5xx, 429, timeouts) delays a reply but never loses it: it is
# retried with capped backoff until it is this old, then reported failed to the staff console
# (WhatsApp's own 24-hour window makes an older free-form reply undeliverable anyway).
GIVE_UP_AFTER = timedelta(hours=24)
# A send claimed this long ago and still "sending" belongs to an instance that died mid-send.
SEND_CLAIM_SECONDS = 15.0
GOOD_NEWS = {"delivered": 1, "read": 2}  # statuses written in batches, in the order they rank


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


def queue_bubbles(adapter: ChannelAdapter, recipient: str, bubbles: list[Outgoing], key: str,
                  *, status: str = "pending", kind: str = "text", db: Any = None) -> None:
    """Outbox rows for the bubbles, split to the channel's limit, keyed ``<key>:<position>``."""
    store.queue(adapter.name, recipient, _pieces(bubbles, adapter, kind, status), key,
                status=status, db=db)


class Sender:
    """The send loop of one runtime (on its loop). ``kick()`` wakes it from any thread."""

    def __init__(self, adapters: dict[str, ChannelAdapter], bus: EventBus, web_first: WebFirst,
                 kick: Callable[[], None], spawn: Callable[[Awaitable[Any]], asyncio.Task]
                 ) -> None:
        self.adapters = adapters
        self.bus = bus
        self.web_first = web_first
        self._kick = kick
        self._spawn = spawn
        self._wake: asyncio.Event | None = None
        self._deliveries: dict[str, str] = {}  # provider ref -> status, written in batches
        self._delivery_flush: asyncio.Task | None = None

    def new_loop(self) -> None:
        """The runtime starts on a new loop: a new wake-up event, bound to it."""
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Wake the send loop (on the runtime's loop; ``kick`` brings it there)."""
        if self._wake is not None:
            self._wake.set()

    async def send_loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()  # before sending: keep later kicks
            try:
                await self._send_due()
            except Exception:  # never let the loop die; rows stay pending and are retried
                logger.exception("send loop iteration failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)

    async def _send_due(self) -> None:
        now = store.utcnow()
        heads = store.unsent_heads()
        # A head being sent (here or by another instance) holds back that customer's next row.
        due = [row for row in heads if row.status == "pending" and row.next_attempt_at <= now]
        if due:
            await asyncio.gather(*(self._send_customer(row) for row in due))
            self._kick()

    async def _send_customer(self, row: Any) -> None:
        """Send ``row``, then the same customer's next rows while each is due at once. Each
        bubble's result is recorded in the transaction that claims the next one."""
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
        return store.claim(db, row.id,
                           store.utcnow() + timedelta(seconds=SEND_CLAIM_SECONDS))

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
        now = store.utcnow()
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
            delay = backoff_seconds(row.attempts, result.retry_after)
            values.update(status="pending", next_attempt_at=now + timedelta(seconds=delay))
        else:
            values.update(status="failed")
            await self.bus.publish(
                "delivery", {"recipient": row.recipient, "status": "failed", "error": result.error}
            )
        with transaction() as db:
            store.record(db, row.id, values)
            if values["status"] != "sent":
                return None
            self._observe_latency(db, row)
            after = store.next_for(db, row.recipient, row.channel)
            if (after is None or after.status != "pending" or after.next_attempt_at > now
                    or not self._claim(db, after)):
                return None
            return after

    @staticmethod
    def _observe_latency(db: Any, row: Any) -> None:
        """Reply latency for the first bubble answering an inbound message (key ``in:<id>:0``)."""
        if not row.dedup_key.startswith("in:") or not row.dedup_key.endswith(":0"):
            return
        received = store.received_at(db, int(row.dedup_key.split(":")[1]))
        if received is not None:
            seconds = (store.utcnow() - received).total_seconds()
            metrics.LATENCY.labels(row.channel).observe(max(seconds, 0.0))

    # ---- delivery statuses ------------------------------------------------------------------
    def note_delivery(self, provider_ref: str, status: str) -> None:
        """Remember a good-news status for the next batch (on the runtime's loop): "delivered"
        and "read" change nothing anyone waits for, so they are written off the webhook's path."""
        known = self._deliveries.get(provider_ref)
        if known is None or GOOD_NEWS[status] >= GOOD_NEWS[known]:
            self._deliveries[provider_ref] = status
        if self._delivery_flush is None or self._delivery_flush.done():
            self._delivery_flush = self._spawn(self._flush_deliveries())

    async def _flush_deliveries(self) -> None:
        await asyncio.sleep(0.5)
        batch, self._deliveries = self._deliveries, {}
        if batch:
            store.write_delivery_statuses(batch)
