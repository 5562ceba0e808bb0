"""How a message written outside the dialogue (a nurse's reply, an emergency answer to a paused
conversation) leaves through the customer's own channel.

Each channel registers a :class:`Deliverer` under its name (``whatsapp``, ``wechat``). The REST
channel cannot push, so its messages wait in a pull outbox (``GET /webhooks/rest/outbox/<sender>``,
which ``make chat`` and the widget poll). A channel that is not running delivers nothing: its
messages never fall into the pull outbox, where a REST visitor of the same id could read them.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """What happened to one outbound message, for the console."""

    status: str  # "sent", "queued", "template" (WhatsApp window closed), "failed"
    detail: str = ""


class Deliverer(Protocol):
    """Sends text to one recipient on one channel."""

    async def deliver(self, recipient: str, text: str) -> Delivery:
        """Send (or durably queue) ``text``; never raise for provider errors."""


@dataclass
class PullOutbox:
    """For channels without push (REST): messages wait until the client fetches them."""

    limit: int = 200
    _messages: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    _next_id: int = 1
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def deliver(self, recipient: str, text: str) -> Delivery:
        async with self._lock:
            queue = self._messages[recipient]
            queue.append({"id": self._next_id, "text": text, "at": datetime.utcnow().isoformat()})
            self._next_id += 1
            while len(queue) > self.limit:
                queue.popleft()
        return Delivery("queued", "waiting for the client to fetch it")

    def fetch(self, recipient: str, after: int = 0) -> list[dict]:
        """Messages for ``recipient`` newer than ``after``."""
        return [m for m in self._messages.get(recipient, ()) if m["id"] > after]


PULL_CHANNEL = "rest"


class Outbound:
    """Registry of deliverers by channel name."""

    def __init__(self) -> None:
        self.pull = PullOutbox()
        self._deliverers: dict[str, Deliverer] = {PULL_CHANNEL: self.pull}

    def register(self, channel: str, deliverer: Deliverer) -> None:
        """Route ``channel``'s messages to ``deliverer``."""
        self._deliverers[channel] = deliverer

    async def deliver(self, channel: str, recipient: str, text: str) -> Delivery:
        """Send through the channel's deliverer ("failed" when the channel is not running)."""
        deliverer = self._deliverers.get(channel)
        if deliverer is None:
            return Delivery("failed", f"the {channel} channel is not running here")
        return await deliverer.deliver(recipient, text)
