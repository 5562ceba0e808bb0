"""The contract between the channel runtime and a provider channel (WhatsApp, WeChat).

The runtime owns storing, ordering, answering and retrying; an adapter owns only what differs
per provider: how long a message may be, how to send one, and how to ask the provider whether
an interrupted send arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from channels.core.models import Contact, OutboundMessage


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
