"""The handoff service API: queue, claim, reply, note, transfer, close, transcript.

It runs in the gateway and reaches the conversation through the core's API: the transcript *is*
the Rasa tracker (customer, bot and staff turns; staff turns are bot events with
``metadata.staff``). Claiming pauses the bot (Rasa's ``pause`` event: messages are still
recorded), closing resumes it (``resume``) and the bot says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bot import responses
from bot.cases import store
from bot.cases.models import Case
from bot.events import EventBus
from bot.language import reply_script
from bot.namespaces import WrongChannel, address_in
from bot.outbound import Delivery, Outbound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One line of a transcript."""

    role: str  # "customer", "bot", "staff"
    text: str
    at: datetime
    author: str | None = None


class DeliveryRefused(store.CaseError):
    """The case's conversation is not its channel's: nothing is sent, nothing recorded."""


def bot_event(text: str, **metadata: Any) -> dict[str, Any]:
    """A bot message as a Rasa event (what the transcript shows)."""
    return {"event": "bot", "text": text, "metadata": metadata}


class HandoffService:
    """Everything staff do to a case, with the conversation kept consistent."""

    def __init__(self, core: Any, outbound: Outbound, bus: EventBus) -> None:
        self.core = core  # bot.core_client.CoreClient
        self.outbound = outbound
        self.bus = bus

    async def _say(self, case: Case, response: str, **values: Any) -> Delivery:
        """Send one of the domain's responses in the language the customer writes now (the
        conversation's ``language`` slot; the case's when the core cannot say), and record it."""
        recipient = _recipient(case)
        text = responses.text(response, await self._language_now(case), **values)
        await self.core.append(case.conversation_id, [bot_event(text, response=response)])
        return await self.outbound.deliver(case.channel, recipient, text)

    async def _language_now(self, case: Case) -> str | None:
        try:
            tracker = await self.core.tracker(case.conversation_id, events=False)
        except Exception:  # the core restarting: the case's language is the best we have
            return case.language
        return (tracker.get("slots") or {}).get("language") or case.language

    async def claim(self, case_id: int, user: str) -> Case:
        """One owner; pause the bot for the conversation while the human holds it."""
        case = store.claim(case_id, user)
        await self.core.append(case.conversation_id, [{"event": "pause"}])
        await self.bus.publish("case", {"id": case.id, "status": case.status, "owner": user})
        return case

    async def reply(self, case_id: int, user: str, text: str) -> Delivery:
        """A staff message, out through the customer's channel and into the transcript."""
        text = text.strip()
        if not text:
            raise store.CaseError("a reply cannot be empty")
        case = store.get(case_id)
        if case.status != "claimed" or case.owner != user:
            raise store.CaseError(f"case {case.reference} is not claimed by {user}")
        recipient = _recipient(case)  # before anything is recorded or sent
        await self.core.append(case.conversation_id, [bot_event(text, staff=user, case=case.id)])
        delivery = await self.outbound.deliver(case.channel, recipient, text)
        store.record_reply(case_id, user, delivery=delivery.status)
        await self.bus.publish("case", {"id": case.id, "reply": delivery.status})
        return delivery

    async def note(self, case_id: int, user: str, body: str) -> None:
        """Internal note; never reaches the customer."""
        store.add_note(case_id, user, body)

    async def transfer(self, case_id: int, user: str, queue: str) -> Case:
        """To the other queue; the bot stays paused only while someone holds the case."""
        before = store.get(case_id)
        case = store.transfer(case_id, user, queue)
        if before.status == "claimed":
            await self.core.append(case.conversation_id, [{"event": "resume"}])
        await self.bus.publish("case", {"id": case.id, "queue": queue, "status": case.status})
        return case

    async def close(self, case_id: int, user: str, outcome: str) -> Case:
        """Close with an outcome, resume the bot, and let it say so."""
        case = store.close(case_id, user, outcome)
        await self.core.append(case.conversation_id, [{"event": "resume"}])
        try:
            await self._say(case, "utter_handoff_closed")
        except DeliveryRefused:  # closed all the same; nothing goes to an address not theirs
            logger.warning("case %s closed without its closing notice: its conversation is "
                           "not a %s conversation", case.reference, case.channel)
        await self.bus.publish("case", {"id": case.id, "status": "closed", "outcome": outcome})
        return case

    async def transcript(self, case: Case) -> list[Turn]:
        """Customer, bot and staff turns of the case's conversation, oldest first."""
        tracker = await self.core.tracker(case.conversation_id)
        turns: list[Turn] = []
        for event in tracker.get("events", []):
            at = datetime.fromtimestamp(event.get("timestamp") or 0, tz=timezone.utc)
            text = event.get("text")
            if event.get("event") == "user" and text:
                turns.append(Turn("customer", _as_typed(event, text), at))
            elif event.get("event") == "bot" and text:
                staff = (event.get("metadata") or {}).get("staff")
                turns.append(Turn("staff" if staff else "bot", text, at, staff))
        return turns

    def script_of(self, case: Case) -> str:
        """The reply script staff should write in for this case."""
        return reply_script(case.language)


def _as_typed(event: dict[str, Any], text: str) -> str:
    """What the customer typed: a numbered or titled option shows as "1 → I agree", not as the
    payload it sent to the model ("/affirm")."""
    metadata = event.get("metadata") or {}
    if metadata.get("typed") and metadata.get("option"):
        return f"{metadata['typed'].strip()} → {metadata['option']}"
    return text.lstrip("\u2060")


def _recipient(case: Case) -> str:
    """The channel's own id for the customer, from the conversation id, which must be that
    channel's (``wechat:<openid>`` for a WeChat case): a case whose conversation names another
    channel, or none, is refused, so a reply only ever goes where the customer really wrote
    from (a REST caller once opened a "wechat" case for a stranger's bare openid)."""
    try:
        return address_in(case.channel, case.conversation_id)
    except WrongChannel as exc:
        raise DeliveryRefused(f"case {case.reference}: {exc}; nothing was sent") from None
