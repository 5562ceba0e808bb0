"""Crash recovery: a restarted instance, or one whose neighbour died, loses nothing.

On start, sends a previous run left in flight are settled with the provider (sent already, or
sent again), then every customer with unanswered messages gets a worker; only then does the send
loop start, so no in-flight row is touched twice. Every few seconds the sweep does the same for
what a dead instance left behind: sends whose claim expired, messages nobody is answering.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from channels.core import store
from channels.core.adapter import ChannelAdapter
from channels.core.inbound import Scheduler

logger = logging.getLogger(__name__)
# Unanswered messages older than this with no worker here are picked up by the sweep (another
# instance died holding them, or this one restarted).
ORPHAN_AFTER_SECONDS = 3.0


class Recovery:
    """Settles interrupted sends and resumes unanswered messages (on the runtime's loop)."""

    def __init__(self, adapters: dict[str, ChannelAdapter], scheduler: Scheduler,
                 kick: Callable[[], None]) -> None:
        self.adapters = adapters
        self.scheduler = scheduler
        self._kick = kick

    async def recover(self) -> None:
        """On start: settle sends a previous run left in flight, then resume unanswered messages.

        Embedded, this instance is the only one, so every "sending" row is its own and is settled
        at once. Shared, only claims past their expiry are (the others belong to live instances).
        """
        from bot import stores

        await self._settle_sends(all_claims=stores.redis_url() is None)
        self._resume_unanswered(min_age=0.0)
        self._kick()

    async def sweep_loop(self) -> None:
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
        in_flight = store.in_flight(None if all_claims else store.utcnow())
        for row in in_flight:
            adapter = self.adapters.get(row.channel)
            ref = None
            if adapter is not None:
                try:
                    ref = await adapter.reconcile(row)
                except Exception:
                    logger.exception("reconciling outbox row %s failed; it will be resent", row.id)
            values: dict[str, Any] = {"status": "pending", "next_attempt_at": store.utcnow()}
            if ref:
                values.update(status="sent", provider_ref=ref, sent_at=store.utcnow())
            store.settle(row.id, values)
        if in_flight:
            self._kick()

    def _resume_unanswered(self, *, min_age: float) -> None:
        """Give every customer with unanswered messages (older than ``min_age``) a worker."""
        cutoff = store.utcnow() - timedelta(seconds=min_age)
        for channel, sender in store.customers_waiting(cutoff):
            if channel in self.adapters and not self.scheduler.has_worker(channel, sender):
                self.scheduler.schedule(channel, sender)
