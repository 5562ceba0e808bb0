"""A small in-process publish/subscribe bus: new cases, messages and alerts for the console.

In-process on purpose: the console is served by the same process that receives the messages. With
several instances (scale-out), each instance's console sees its own events plus the shared case
store, which it re-reads on every refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class EventBus:
    """Fan-out of ``(topic, payload)`` to every subscriber's queue; slow subscribers drop events."""

    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: set[asyncio.Queue] = set()
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop subscribers live on; publishers on other threads hand events over to it."""
        self._loop = loop

    def subscribe(self) -> asyncio.Queue:
        """A new queue that receives every later event."""
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        """Stop delivering to ``queue``."""
        self._subscribers.discard(queue)

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Deliver to all subscribers without ever blocking the publisher (from any thread)."""
        if not self._subscribers:
            return  # nobody listening (no console open): no cross-thread wake-up per message
        loop = self._loop
        if loop is not None and asyncio.get_running_loop() is not loop:
            loop.call_soon_threadsafe(self._deliver, topic, payload)
            return
        self._deliver(topic, payload)

    def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait((topic, payload))
