"""Answering one stored message: ask the core, render the reply, queue it in the outbox.

The dialogue lives in the core process (``bot.core_client.CoreClient``); what is decided here is
only what surrounds a turn. The domain decides the rules (``bot.intake``): whether a message over
the rate limit is still answered (an emergency is), what a photo or a location does to the open
case, which welcome opens a chat that starts with a follow or a menu click. Everything an answer
changes is written in one transaction: the reply's outbox rows, the numbered options and
language to remember, and the message marked answered. A reply whose webhook is still waiting
(WeChat's passive reply) goes back in the webhook's response instead of through the send loop.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from typing import Any

from bot import intake, metrics, responses
from bot.db import transaction
from bot.events import EventBus
from bot.namespaces import conversation_id
from channels.core import store
from channels.core.adapter import ChannelAdapter
from channels.core.inbound import Outcome, Retry
from channels.core.lease import Leases, LeaseUnavailable
from channels.core.ratelimit import RateLimiter
from channels.core.sending import queue_bubbles
from channels.core.text import Outgoing, as_text, chosen_option, render, tapped_option
from channels.core.web_first import WebFirst

logger = logging.getLogger(__name__)


def notice(response: str, language: str | None) -> Outgoing:
    """A domain response (outside the dialogue) as one bubble, in the conversation's language."""
    return render([responses.message(response, language)], language)[0]


def _options_of(bubbles: list[Outgoing]) -> list[list[str]]:
    """The numbered options of the last bubble that has any (what "1", "2" will mean next)."""
    return next((list(map(list, b.options)) for b in reversed(bubbles) if b.options), [])


class Answerer:
    """Answers a customer's oldest unanswered message (on the runtime's loop); holds the
    futures of webhooks waiting for their reply."""

    def __init__(self, core: Any, bus: EventBus, limiter: RateLimiter, leases: Leases,
                 web_first: WebFirst, adapters: dict[str, ChannelAdapter],
                 kick: Callable[[], None]) -> None:
        self.core = core  # bot.core_client.CoreClient: the model runs in another process
        self.bus = bus
        self.limiter = limiter
        self.leases = leases
        self.web_first = web_first
        self.adapters = adapters
        self._kick = kick  # wakes the send loop
        self._waiters: dict[int, concurrent.futures.Future] = {}

    # ---- webhooks waiting for their reply (web thread) ------------------------------------
    def expect_reply(self, inbound_id: int) -> None:
        self._waiters[inbound_id] = concurrent.futures.Future()

    def reply_future(self, inbound_id: int) -> concurrent.futures.Future | None:
        return self._waiters.get(inbound_id)

    def give_up_waiting(self, inbound_id: int) -> None:
        future = self._waiters.pop(inbound_id, None)
        if future is not None and not future.done():
            future.cancel()

    # ---- answering (runtime loop) ----------------------------------------------------------
    async def process_next(self, channel: str, sender: str) -> Outcome:
        """Answer the customer's oldest unanswered message."""
        cid = conversation_id(channel, sender)
        # Webhooks first here too: the model's work competes with acknowledgements for the CPU
        # (measured: it kept answering through a burst of 300 webhooks and they waited for it).
        await self.web_first.wait()
        try:
            async with self.leases.hold(cid):
                row, contact = store.oldest_unanswered(channel, sender)
                if row is None:
                    return "idle"
                try:
                    if row.status == "limited" and not intake.answered_over_rate_limit(
                            row.kind, row.text):
                        await self._rate_limited(row, cid)
                    else:
                        await self._reply(row, cid, contact)
                except Exception as exc:  # core down or a bug: retry later, never drop it
                    attempts = store.count_attempt(row.id)
                    logger.warning("inbound %s not answered yet (%s); retry %s",
                                   row.id, type(exc).__name__, attempts)
                    return Retry(attempts)
        except LeaseUnavailable:  # another instance is busy with this customer for long
            return Retry(1)
        await self.bus.publish("message", {"conversation": cid, "channel": channel})
        self._kick()
        return "done"

    async def _rate_limited(self, row: Any, cid: str) -> None:
        """Record the message in the transcript (nothing is lost) and answer politely once."""
        _, language = await self.core.handle(
            cid, as_text(row.text), row.channel, f"{row.channel}:{row.id}", log_only=True
        )
        bubbles: list[Outgoing] = []
        if self.limiter.first_refusal(f"{row.channel}:{row.sender}"):
            bubbles = [notice("utter_rate_limited", language)]
        with transaction() as db:
            queue_bubbles(self.adapters[row.channel], row.sender, bubbles, f"in:{row.id}",
                          db=db)
            store.finish(db, row.id, "rate_limited")

    async def _reply(self, row: Any, cid: str, contact: Any) -> None:
        """Answer one message and queue the reply (passively, if its webhook still waits)."""
        bubbles, options, language = await self._answer(row, cid, contact)
        await self.web_first.wait()
        waiter = self._waiters.pop(row.id, None)
        adapter = self.adapters[row.channel]
        combined = "\n\n".join(b.text for b in bubbles)
        fits = adapter.measure(combined) <= adapter.limit
        passive = waiter is not None and not waiter.done() and fits
        with transaction() as db:
            if passive:  # the webhook is still waiting: the reply goes back in its response
                queue_bubbles(adapter, row.sender, [Outgoing(combined)], f"in:{row.id}",
                              status="passive", db=db)
            else:
                queue_bubbles(adapter, row.sender, bubbles, f"in:{row.id}", db=db)
            if options is not None:
                store.remember_options(db, row.channel, row.sender, options, language)
            store.finish(db, row.id, "done")
        if passive:  # it leaves in the webhook's response: count it as the send loop would
            metrics.MESSAGES_OUT.labels(row.channel).inc()
            metrics.LATENCY.labels(row.channel).observe(
                max((store.utcnow() - row.received_at).total_seconds(), 0.0))
        if waiter is not None and not waiter.done():
            waiter.set_result(combined if passive else None)

    async def _answer(self, row: Any, cid: str, contact: Any
                      ) -> tuple[list[Outgoing], list[list[str]] | None, str | None]:
        """The reply's bubbles, the numbered options to remember (None: keep) and language
        (``contact``: the customer's state as read with the message)."""
        message_id = f"{row.channel}:{row.id}"
        if row.kind in ("media", "location"):
            return await self._answer_attachment(row, cid), None, None
        if row.kind == "event":  # a new follower or a menu click: the welcome and the choices
            language = contact.language if contact else None
            welcome = intake.opening(row.payload, language)
            bubbles = render([responses.message(welcome, language)], language)
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
        """Media and locations: kept on the case by reference (``bot.intake.attach``),
        acknowledged, a text asked for; the transcript records that something was sent, and a
        caption is processed as ordinary text."""
        attached = intake.attach(cid, row.kind, row.payload, row.received_at)
        caption = row.text.strip()
        messages, language = await self.core.handle(
            cid,
            as_text(caption) if caption else f"[{attached.label}]",
            row.channel,
            f"{row.channel}:{row.id}",
            {"kind": row.kind},
            log_only=not caption,
        )
        return [notice(attached.response, language), *render(messages, language)]
