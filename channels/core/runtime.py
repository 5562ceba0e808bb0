"""The engine both messaging channels share: accept → store → process in order → reply → send.

1. A webhook calls :meth:`ChannelRuntime.accept`: the message is written to the durable inbox
   (deduplicated by the provider's id) *before* the webhook answers, and processing is scheduled.
2. Messages of one customer are processed strictly in order (one at a time); different customers
   run concurrently (``inbound``). The core answers; the domain's rules around a turn live in
   ``bot.intake`` (``answering``).
3. Replies are rendered (numbered options), split within the channel's limit, and written to the
   durable outbox with a key per inbound message and position, so reprocessing never duplicates.
   A bubble's options row is a "choices" row on a channel that offers taps (its adapter sends
   buttons or a menu, the numbered text as the fallback); a tap chooses the remembered option.
4. The send loop delivers each customer's replies in order, retrying 429/5xx/timeouts with
   backoff (``sending``, ``backoff``); a crash mid-send is reconciled with the provider on
   restart before anything is resent (``recovery``).
On start, pending inbox and outbox rows are resumed: a restarted instance loses nothing.

This module composes those parts and is the runtime's public face: the provider channels and the
gateway call only :class:`ChannelRuntime`. Answering and sending run on the runtime's own loop in
a background thread (``loop_thread``); the public methods are the ones called from the web
thread, and they hand work to that loop. Every SQL statement is in ``store``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Coroutine
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot import metrics
from bot.db import Base, engine
from bot.events import EventBus
from bot.namespaces import conversation_id
from channels.core import store
from channels.core.adapter import ChannelAdapter, SendResult
from channels.core.answering import Answerer, notice
from channels.core.inbound import Scheduler
from channels.core.lease import Leases, leases_from_env
from channels.core.loop_thread import LoopThread
from channels.core.ratelimit import RateLimiter
from channels.core.recovery import Recovery
from channels.core.sending import GOOD_NEWS, Sender, queue_bubbles
from channels.core.text import Outgoing
from channels.core.web_first import WebFirst

# What importers have always found here.
__all__ = ["ChannelAdapter", "ChannelRuntime", "SendResult", "conversation_id", "notice"]


class ChannelRuntime:
    """Shared inbox/outbox processing for all provider channels of one server."""

    def __init__(self, core: Any, bus: EventBus, limiter: RateLimiter | None = None) -> None:
        Base.metadata.create_all(engine())
        self.bus = bus
        self.limiter = limiter or RateLimiter.from_env()
        self.adapters: dict[str, ChannelAdapter] = {}  # shared with the parts: register fills it
        self.leases: Leases = leases_from_env()
        # The gateway marks message webhooks open and closed; answering and sending let them
        # finish before each next step (channels/core/web_first.py).
        self.web_first = WebFirst()
        self._thread = LoopThread("channel-runtime")
        self._started = False
        self.answering = Answerer(core, bus, self.limiter, self.leases, self.web_first,
                                  self.adapters, kick=self._kick_now)
        self.scheduler = Scheduler(self.web_first, self.answering.process_next,
                                   run_soon=self._run_soon, spawn=self._spawn)
        self.sending = Sender(self.adapters, bus, self.web_first, kick=self._kick_now,
                              spawn=self._spawn)
        self.recovery = Recovery(self.adapters, self.scheduler, kick=self._kick_now)

    @property
    def core(self) -> Any:
        """``bot.core_client.CoreClient``: the model runs in another process."""
        return self.answering.core

    @core.setter
    def core(self, core: Any) -> None:
        self.answering.core = core

    # ---- lifecycle -------------------------------------------------------------------------
    def register(self, adapter: ChannelAdapter) -> None:
        """Add a provider channel."""
        self.adapters[adapter.name] = adapter

    def start(self) -> None:
        """Start the worker loop, resume unfinished work and the send loop (idempotent)."""
        if self._started:
            return
        self._started = True
        self._thread.start(prepare=self.sending.new_loop)
        self.scheduler.restart()
        self._run_soon(self._recover_then_send())
        self._run_soon(store.checkpoint_loop())
        self._run_soon(self.recovery.sweep_loop())

    def stop(self) -> None:
        """Stop the worker loop (unfinished rows stay durable for the next start)."""
        if not self._thread.running:
            return
        self._thread.stop()
        self._started = False

    async def _recover_then_send(self) -> None:
        """Recovery finishes before the send loop starts, so no in-flight row is touched twice."""
        await self.recovery.recover()
        await self.sending.send_loop()

    def _call(self, function: Any, *args: Any) -> None:
        """Run ``function(*args)`` on the worker loop, from any thread."""
        self._thread.call(function, *args)

    def _run_soon(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Start ``coroutine`` as a task on the worker loop, from any thread."""
        self._call(self._spawn, coroutine)

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task:
        """A task on the worker loop (call on the worker loop)."""
        return self._thread.spawn(coroutine)

    def _kick_now(self) -> None:
        """Wake the send loop (thread-safe)."""
        self._thread.call_if_running(self.sending.wake)

    # ---- inbound (web thread) ----------------------------------------------------------------
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
        now = store.utcnow()
        # Over the rate limit: still stored and logged in the transcript, answered once politely.
        status = "pending" if self.limiter.allow(f"{channel}:{sender}") else "limited"
        values = {
            "channel": channel, "provider_id": provider_id, "sender": sender, "kind": kind,
            # NUL cannot be stored in PostgreSQL text and means nothing in a chat.
            "text": (text or "").replace("\x00", ""), "payload": payload or {},
            "status": status, "attempts": 0, "received_at": now,
        }
        try:
            inbound_id, released = store.store_inbound(values, now)
        except IntegrityError:
            return store.inbound_id(channel, provider_id), False
        if released:
            self._kick_now()
        metrics.MESSAGES_IN.labels(channel).inc()
        if want_reply:
            self.answering.expect_reply(inbound_id)
        self.scheduler.arrived(channel, sender)
        return inbound_id, True

    def reply_future(self, inbound_id: int) -> concurrent.futures.Future | None:
        """The future processing fulfils with the reply text (``accept(want_reply=True)``)."""
        return self.answering.reply_future(inbound_id)

    def give_up_waiting(self, inbound_id: int) -> None:
        """The webhook answered without the reply; it will be sent by the send loop."""
        self.answering.give_up_waiting(inbound_id)

    def contact(self, channel: str, sender: str) -> Any:
        """Per-contact state (window, options): a row with :class:`Contact`'s columns, read as
        the answering path reads it, or None."""
        return store.contact(channel, sender)

    def set_subscribed(self, channel: str, sender: str, subscribed: bool) -> None:
        """Record a WeChat follow/unfollow."""
        store.set_subscribed(channel, sender, subscribed)

    # ---- outbound ------------------------------------------------------------------------------
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
        queue_bubbles(self.adapters[channel], recipient, [Outgoing(text)], key,
                      status="held" if held else "pending", kind=kind)
        self._kick_now()

    def known_provider_refs(self, channel: str, recipient: str) -> set[str]:
        """Provider ids our outbox already owns for a recipient (for reconciliation)."""
        return store.known_provider_refs(channel, recipient)

    def record_delivery_status(self, provider_ref: str, status: str) -> bool:
        """A provider's status callback. Only what the outbox does not know yet is written:
        delivered, read, undelivered, failed ("queued"/"sent" are what our send already
        recorded), so two of every bubble's callbacks cost no database write."""
        if status in ("accepted", "queued", "sending", "sent", "scheduled"):
            return True
        if status in GOOD_NEWS and self._thread.running:
            # "delivered" and "read" change nothing anyone waits for: written in batches by the
            # runtime, off the webhook's path. Failures are written at once (staff see them).
            self._call(self.sending.note_delivery, provider_ref, status)
            return True
        return store.write_delivery_status(provider_ref, status)
